#!/usr/bin/python3
"""bench/claim/race.py — N clients race for one slot, round after round, for
bench/claim/run.sh (standard library only).

Each client is one keep-alive HTTP/1.1 connection to 127.0.0.1 and a
different attendee. In round r every client asks for the same start,
FIRST + r * STEP (POST /api/v1/bookings, no key, as the booking page
does): the requests are written one after the other, as fast as one thread
can, then the answers are read as they come. A round's time runs from the
first write to the last answer. Prints the counts (a benchmark does not
assert: exactly one 201 a round is what should come back) and the round
times; ends after --rounds rounds or --seconds, whichever comes first.

usage: race.py --port P --event-type SLUG --first EPOCH --step S
               --clients N [--rounds R] [--seconds S]
"""
import argparse
import json
import selectors
import socket
import sys
import time

ROUND_TIMEOUT_S = 30


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1,
            max(0, int(round(p / 100.0 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


class Client:
    def __init__(self, port, i):
        self.port = port
        self.i = i
        self.sock = None

    def connect(self):
        self.close()
        self.sock = socket.create_connection(("127.0.0.1", self.port),
                                             timeout=ROUND_TIMEOUT_S)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def request(self, slug, start):
        body = json.dumps({
            "event_type": slug, "start": start,
            "attendee": {"name": f"Racer {self.i}",
                         "email": f"racer{self.i}@example.com",
                         "timezone": "Europe/Berlin"}},
            separators=(",", ":")).encode()
        return (b"POST /api/v1/bookings HTTP/1.1\r\n"
                b"Host: 127.0.0.1:%d\r\n"
                b"Content-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % (self.port, len(body))) + body

    def start_read(self):
        self.buf = b""
        self.need = None  # bytes of the whole answer, once the head is in
        self.status = None

    def feed(self):
        """Reads what is there; returns True once the answer is complete."""
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the server closed the connection")
        self.buf += data
        if self.need is None:
            head_end = self.buf.find(b"\r\n\r\n")
            if head_end < 0:
                return False
            lines = self.buf[:head_end].decode("latin-1").split("\r\n")
            self.status = int(lines[0].split()[1])
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
                elif name.strip().lower() == "transfer-encoding":
                    raise ConnectionError("chunked answers are not read here")
            self.need = head_end + 4 + length
        return len(self.buf) >= self.need


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--event-type", required=True)
    ap.add_argument("--first", type=int, required=True)
    ap.add_argument("--step", type=int, required=True)
    ap.add_argument("--clients", type=int, required=True)
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=20.0)
    a = ap.parse_args()

    clients = [Client(a.port, i) for i in range(a.clients)]
    for c in clients:
        c.connect()
    sel = selectors.DefaultSelector()
    statuses = {}
    created_per_round = {}   # number of 201s -> rounds
    round_ms, winner_ms, failed = [], [], 0
    rounds = 0
    t_begin = time.monotonic()
    while rounds < a.rounds and time.monotonic() - t_begin < a.seconds:
        start = time.strftime("%Y-%m-%dT%H:%M:%SZ",
                              time.gmtime(a.first + rounds * a.step))
        reqs = [c.request(a.event_type, start) for c in clients]
        t0 = time.monotonic()
        for c, req in zip(clients, reqs):
            c.start_read()
            c.sock.sendall(req)
            sel.register(c.sock, selectors.EVENT_READ, c)
        pending, created = len(clients), 0
        deadline = t0 + ROUND_TIMEOUT_S
        while pending:
            events = sel.select(max(0.0, deadline - time.monotonic()))
            if not events:
                break
            for key, _ in events:
                c = key.data
                try:
                    done = c.feed()
                except (OSError, ValueError, IndexError) as e:
                    print(f"race.py: client {c.i}: {e}", file=sys.stderr)
                    c.status, done = "error", True
                if done:
                    sel.unregister(c.sock)
                    pending -= 1
                    statuses[c.status] = statuses.get(c.status, 0) + 1
                    if c.status == 201:
                        created += 1
                        winner_ms.append((time.monotonic() - t0) * 1e3)
                    if c.status == "error":
                        c.connect()
        t1 = time.monotonic()
        if pending:
            failed += 1
            for c in clients:
                if c.sock is not None and c.sock.fileno() in sel.get_map():
                    sel.unregister(c.sock)
                    statuses["timeout"] = statuses.get("timeout", 0) + 1
                    c.connect()
        round_ms.append((t1 - t0) * 1e3)
        created_per_round[created] = created_per_round.get(created, 0) + 1
        rounds += 1
    elapsed = time.monotonic() - t_begin
    for c in clients:
        c.close()

    round_ms.sort()
    winner_ms.sort()
    one = created_per_round.get(1, 0)
    print("%-40s %d in %.1f s (%d clients each)" % ("rounds", rounds,
                                                    elapsed, a.clients))
    print("%-40s %.1f / %.1f / %.1f / %.1f ms" % (
        "round time p50 / p90 / p99 / max", percentile(round_ms, 50),
        percentile(round_ms, 90), percentile(round_ms, 99),
        round_ms[-1] if round_ms else float("nan")))
    print("%-40s %.1f / %.1f ms" % (
        "the 201's answer p50 / p90", percentile(winner_ms, 50),
        percentile(winner_ms, 90)))
    print("%-40s %s" % ("answers", ", ".join(
        f"{k}: {v}" for k, v in sorted(statuses.items(), key=str))))
    print("%-40s %d of %d" % ("rounds with exactly one 201", one, rounds))
    others = {k: v for k, v in created_per_round.items() if k != 1}
    if others:
        print("%-40s %s" % ("rounds with another number of 201s", ", ".join(
            f"{v} round(s) with {k}" for k, v in sorted(others.items()))))
    if failed:
        print("%-40s %d (no answer within %d s)" % ("rounds timed out",
                                                    failed, ROUND_TIMEOUT_S))
    print("RACE won_rounds %d" % sum(v for k, v in created_per_round.items()
                                     if k > 0))
    print("RACE created %d" % statuses.get(201, 0))


if __name__ == "__main__":
    main()
