#!/usr/bin/python3
"""bench/ingest/sign.py — pre-generates signed Cal.com BOOKING_CREATED
deliveries for bench/ingest/run.sh (standard library only).

Each body is tests/fixtures/calcom/booking_created.json with its own uid,
bookingId, createdAt, start time, attendee and organizer, serialized
compactly (one line, no tab), and signed as Cal.com signs it:
X-Cal-Signature-256 = lowercase hex HMAC-SHA256(secret, body).

Output: one delivery per line, "<signature>\\t<body>\\n".

usage: sign.py --secret S --count N --out FILE [--fixture PATH]
"""
import argparse
import datetime as dt
import hashlib
import hmac
import json
import pathlib
import secrets
import sys

HERE = pathlib.Path(__file__).resolve().parent
FIXTURE = HERE.parent.parent / "tests" / "fixtures" / "calcom" / \
    "booking_created.json"

ORGANIZERS = 20      # imported hosts (each with its own event type id)
CLIENTS = 5000       # distinct attendee emails
SLOTS_PER_DAY = 24   # 30-minute bookings, 08:00-20:00 UTC


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--secret", required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--fixture", default=str(FIXTURE))
    a = ap.parse_args()
    if a.count < 1:
        sys.exit("sign.py: --count must be at least 1")

    base = json.loads(pathlib.Path(a.fixture).read_text())
    run = secrets.token_hex(4)
    key = a.secret.encode()
    day0 = dt.datetime.now(dt.timezone.utc).replace(
        hour=8, minute=0, second=0, microsecond=0) + dt.timedelta(days=2)
    created = dt.datetime.now(dt.timezone.utc)
    with open(a.out, "w", encoding="utf-8") as out:
        for i in range(a.count):
            j = json.loads(json.dumps(base))  # a deep copy
            p = j["payload"]
            org, k = i % ORGANIZERS, i // ORGANIZERS
            start = day0 + dt.timedelta(days=k // SLOTS_PER_DAY,
                                        minutes=30 * (k % SLOTS_PER_DAY))
            uid = f"bench{run}{i:08d}"
            p["uid"] = uid
            p["iCalUID"] = uid + "@Cal.com"
            p["bookingId"] = 1000000 + i
            p["startTime"] = start.strftime("%Y-%m-%dT%H:%M:%SZ")
            p["endTime"] = (start + dt.timedelta(minutes=30)) \
                .strftime("%Y-%m-%dT%H:%M:%SZ")
            p["eventTypeId"] = 5000 + org
            p["type"] = f"bench-{org}"
            p["organizer"]["email"] = f"organizer{org}@coach.example"
            p["organizer"]["username"] = f"organizer{org}"
            email = f"client{i % CLIENTS}@client.example"
            p["attendees"][0]["email"] = email
            p["responses"]["email"]["value"] = email
            p["metadata"] = {"videoCallUrl":
                             f"https://app.cal.com/video/{uid}"}
            t = created + dt.timedelta(milliseconds=i)
            j["createdAt"] = t.strftime("%Y-%m-%dT%H:%M:%S.") + \
                f"{t.microsecond // 1000:03d}Z"
            body = json.dumps(j, separators=(",", ":"))
            sig = hmac.new(key, body.encode(), hashlib.sha256).hexdigest()
            out.write(sig + "\t" + body + "\n")


if __name__ == "__main__":
    main()
