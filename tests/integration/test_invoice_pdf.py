"""The invoice PDF (docs/payments.md "Invoices", issue 9 §2): GET
/api/v1/invoices/{number}.pdf drawn with cairo and pango, read back with
poppler's pdftotext (any script, hostile text printed as text), reachable
by the admin and by the booking's manage token, attached to the paid
confirmation email as it arrives at a real SMTP server (aiosmtpd); a
refunded invoice's PDF says so."""
import datetime as dt
import re
import subprocess

import pytest

from conftest import assert_error
from smtp_server import SmtpServer
from stripe_helpers import StripeFake, new_webhook_secret, wait_for
from test_payments import book, session_of, slot, start, wait_state

GREEK = "\u0391\u03bb\u03ad\u03be\u03b1\u03bd\u03b4\u03c1\u03bf\u03c2 " \
        "\u03a0\u03b1\u03c0\u03b1\u03b4\u03cc\u03c0\u03bf\u03c5\u03bb\u03bf\u03c2"
CHINESE = "\u738b\u5c0f\u660e"
HOSTILE = "<script>alert(1)</script> & %s %n {{name}} ) Tj ET"


@pytest.fixture
def fake(tmp_path):
    f = StripeFake(tmp_path, new_webhook_secret())
    yield f
    f.stop()


def pdf_text(data, tmp_path, name="x.pdf"):
    assert data[:5] == b"%PDF-", data[:40]
    p = tmp_path / name
    p.write_bytes(data)
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", "-layout", str(p),
                          "-"], capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr
    info = subprocess.run(["pdfinfo", str(p)], capture_output=True,
                          timeout=60, text=True)
    assert info.returncode == 0, info
    assert re.search(r"^Pages:\s+1$", info.stdout, re.M), info.stdout
    return out.stdout.decode()


def squash(s):
    return " ".join(s.split())


def pay(d, fake, n, name, email):
    b = d.book("paid", slot(d, n), email=email, name=name).json
    fake.complete(session_of(fake, b["uid"])["id"])
    wait_state(d, b["uid"], ("confirmed", "paid"))
    return b


def test_invoice_pdf(make_daemon, fake, tmp_path):
    smtp = SmtpServer(tmp_path).start()
    try:
        d = start(make_daemon, fake, **smtp.env(),
                  BOOKINGD_BUSINESS_NAME="Studio \u00c5da & <Co>",
                  BOOKINGD_BUSINESS_ADDRESS="1 Main St\n10115 Berlin")
        year = dt.datetime.now(dt.timezone.utc).year
        # The longest name the API takes (200 bytes), without a space to
        # wrap at, in a right-to-left script: still one page.
        longest = "\u05d0" * 100
        names = [f"{GREEK} {CHINESE}", HOSTILE, longest]
        paid = [pay(d, fake, n, name, f"p{n}@example.com")
                for n, name in enumerate(names)]
        numbers = [f"INV-{year}-{k:04d}" for k in (1, 2, 3)]
        for b, number in zip(paid, numbers):
            assert d.get(f"/api/v1/invoices/{number}",
                         admin=True).json["booking"] == b["uid"]

        # The admin's PDF: what pdftotext reads back.
        r = d.get(f"/api/v1/invoices/{numbers[0]}.pdf", admin=True)
        assert r.status == 200, r
        assert r.header("Content-Type") == "application/pdf", r
        assert r.header("Content-Disposition") == \
            f'inline; filename="{numbers[0]}.pdf"', r
        assert r.header("Cache-Control") == "private, no-store", r
        text = pdf_text(r.body, tmp_path)
        flat = squash(text)
        assert numbers[0] in flat, text
        assert GREEK in flat and CHINESE in flat, text
        assert "p0@example.com" in flat, text
        assert "45.00 EUR" in flat, text
        assert "Status: PAID" in flat, text
        assert "Studio \u00c5da & <Co>" in flat and "10115 Berlin" in flat
        assert "Paid session" in flat, text
        inv = d.get(f"/api/v1/invoices/{numbers[0]}", admin=True).json
        assert inv["stripe"]["payment_intent"] in flat, text
        assert inv["stripe"]["checkout_session"] in flat, text
        # Hostile text is printed as it is, nothing interpreted.
        r = d.get(f"/api/v1/invoices/{numbers[1]}.pdf", admin=True)
        assert r.status == 200, r
        assert HOSTILE in squash(pdf_text(r.body, tmp_path)), r
        r = d.get(f"/api/v1/invoices/{numbers[2]}.pdf", admin=True)
        assert r.status == 200, r
        text = pdf_text(r.body, tmp_path)  # checks: one page
        assert text.count("\u05d0") == 100, text
        assert numbers[2] in text, text

        # The manage token of the invoice's booking opens its PDF, and no
        # other; without the admin key a missing invoice is the same 401.
        t0, t1 = paid[0]["manage_token"], paid[1]["manage_token"]
        # The booking names its invoice to whoever may read both.
        r = d.get(f"/api/v1/bookings/{paid[0]['uid']}", query={"token": t0})
        assert r.json["payment"]["invoice"] == numbers[0], r.json
        assert d.get(f"/api/v1/bookings/{paid[0]['uid']}", admin=True).json[
            "payment"]["invoice"] == numbers[0]
        r = d.get(f"/api/v1/invoices/{numbers[0]}.pdf", query={"token": t0})
        assert r.status == 200 and r.body[:5] == b"%PDF-", r
        for q in ({"token": t1}, {"token": "x" * 43}, {"token": ""}, {}):
            assert_error(d.get(f"/api/v1/invoices/{numbers[0]}.pdf",
                               query=q), 401)
        assert_error(d.get(f"/api/v1/invoices/INV-{year}-0999.pdf",
                           query={"token": t0}), 401)
        # A wrong admin key is 401 even with the right token.
        r = d.get(f"/api/v1/invoices/{numbers[0]}.pdf", query={"token": t0},
                  headers={"Authorization": "Bearer wrong"})
        assert_error(r, 401)
        # Missing and malformed numbers.
        for number in (f"INV-{year}-0999", "INV-1999-0001", "x" * 300,
                       "%00", "..", "INV-%E2%80%AE"):
            assert_error(d.get(f"/api/v1/invoices/{number}.pdf",
                               admin=True), 404)
        # Writes are not routes of it.
        assert d.post(f"/api/v1/invoices/{numbers[0]}.pdf", {},
                      admin=True).status == 405

        # The paid confirmation carries the invoice as a PDF attachment.
        def confirmation(to):
            for m in smtp.messages():
                if to in m["to"] and \
                        str(m["msg"]["Subject"]).startswith("Confirmed"):
                    return m["msg"]
            return None
        for n, number in enumerate(numbers[:2]):
            msg = wait_for("the paid confirmation",
                           lambda: confirmation(f"p{n}@example.com"), 90)
            assert msg.get_content_type() == "multipart/mixed", msg
            pdfs = [p for p in msg.iter_attachments()
                    if p.get_content_type() == "application/pdf"]
            assert len(pdfs) == 1, [p.get_content_type()
                                    for p in msg.iter_attachments()]
            assert pdfs[0].get_filename() == f"{number}.pdf"
            assert pdfs[0]["Content-Transfer-Encoding"] == "base64"
            flat = squash(pdf_text(pdfs[0].get_content(), tmp_path,
                                   f"mail{n}.pdf"))
            assert number in flat and "45.00 EUR" in flat, flat
            assert squash(names[n]) in flat, flat
            # The invite is still there.
            assert any(p.get_filename() == "invite.ics"
                       for p in msg.iter_attachments())
        # The host's notice carries no invoice.
        for m in smtp.messages():
            if str(m["msg"]["Subject"]).startswith("New booking"):
                assert not [p for p in m["msg"].iter_attachments()
                            if p.get_content_type() == "application/pdf"]

        # A refunded invoice's PDF says so.
        r = d.post(f"/api/v1/bookings/{paid[0]['uid']}/refund", {},
                   admin=True)
        assert r.status == 202, r
        wait_for("the refund on the invoice", lambda: d.get(
            f"/api/v1/invoices/{numbers[0]}", admin=True).json["status"]
            == "refunded" or None, 90)
        r = d.get(f"/api/v1/invoices/{numbers[0]}.pdf", admin=True)
        flat = squash(pdf_text(r.body, tmp_path))
        assert "Status: REFUNDED" in flat, flat
        assert "Refunded \u221245.00 EUR" in flat, flat
        assert "Net 0.00 EUR" in flat, flat
    finally:
        smtp.stop()
