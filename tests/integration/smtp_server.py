"""tests/integration/smtp_server.py — a real SMTP server for the mail
tests: aiosmtpd (Debian python3-aiosmtpd) on loopback in the pytest
process, optionally with STARTTLS required (a certificate made here with
the openssl CLI) and AUTH required. It keeps every message it accepted,
refuses the recipients in `reject` with 550, and can be stopped and
started again on the same port (the server down, then up)."""
import email
import asyncio
import email.policy
import pathlib
import subprocess
import threading
import time
import ssl

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from conftest import free_port

USER = "mailer"
PASSWORD = "s3cret-p@ss"


def make_certificate(directory):
    """A self-signed certificate for 127.0.0.1 and localhost; returns
    (cert, key) paths."""
    d = pathlib.Path(directory)
    cert, key = d / "smtp-cert.pem", d / "smtp-key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2",
         "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60)
    return cert, key


class _Handler:
    def __init__(self, server):
        self.server = server

    async def handle_RCPT(self, srv, session, envelope, address, options):
        if address in self.server.reject:
            return "550 5.1.1 <%s>: Recipient address rejected" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, srv, session, envelope):
        if self.server.data_delay_s:
            # A slow server: the client waits for the 250 (tests that kill
            # the client meanwhile).
            await asyncio.sleep(self.server.data_delay_s)
        msg = email.message_from_bytes(envelope.original_content or
                                       envelope.content,
                                       policy=email.policy.default)
        with self.server.lock:
            self.server.received.append(
                {"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                 "raw": envelope.original_content or envelope.content,
                 "msg": msg, "auth": session.authenticated,
                 "session": session, "srv": srv,
                 "tls": session.ssl is not None})
        return "250 2.0.0 Message accepted"


def _authenticate(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and \
        auth_data.login == USER.encode() and \
        auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok)


class SmtpServer:
    """tls=True: STARTTLS and AUTH required (url() has the credentials)."""

    def __init__(self, workdir, tls=False):
        self.tls = tls
        self.port = free_port()
        self.reject = set()
        self.data_delay_s = 0.0
        self.received = []
        self.lock = threading.Lock()
        self.controller = None
        self.cert = None
        if tls:
            self.cert, key = make_certificate(workdir)
            self.ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self.ctx.load_cert_chain(str(self.cert), str(key))

    def url(self):
        if self.tls:
            return f"smtp://{USER}:{PASSWORD.replace('@', '%40')}" \
                   f"@127.0.0.1:{self.port}"
        return f"smtp+insecure://127.0.0.1:{self.port}"

    def env(self):
        e = {"BOOKINGD_SMTP_URL": self.url(),
             "BOOKINGD_MAIL_FROM": '"Studio Ada" <bookings@example.com>'}
        if self.cert:
            e["BOOKINGD_SMTP_CA_FILE"] = str(self.cert)
        return e

    def start(self):
        kw = {}
        if self.tls:
            kw = dict(tls_context=self.ctx, require_starttls=True,
                      auth_required=True, authenticator=_authenticate)
        self.controller = Controller(_Handler(self), hostname="127.0.0.1",
                                     port=self.port, **kw)
        self.controller.start()
        return self

    def sessions(self):
        """How many SMTP connections carried the messages received."""
        with self.lock:
            return len({id(m["session"]) for m in self.received})

    def close_connections(self, timeout=10):
        """Closes every client connection, as a server does with idle
        ones; returns once they are closed."""
        done = threading.Event()
        with self.lock:
            protocols = [m["srv"] for m in self.received]

        def close():
            for p in protocols:
                if p.transport is not None:
                    p.transport.close()
            done.set()
        self.controller.loop.call_soon_threadsafe(close)
        assert done.wait(timeout), "the SMTP server did not close"

    def stop(self):
        if self.controller:
            self.controller.stop()
            self.controller = None

    def messages(self):
        with self.lock:
            return list(self.received)

    def wait_for(self, n, timeout=60):
        """Waits until at least n messages arrived; returns them all."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.messages()
            if len(got) >= n:
                return got
            time.sleep(0.05)
        raise AssertionError(
            f"{len(self.messages())} messages arrived, expected {n}")
