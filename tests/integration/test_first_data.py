"""The booking page's first data (docs/booking-page.md "First slots"):
/, /{host} and /{host}/{event_type} carry the active event types, the
chosen event type's host card and its free slots of the first month in a
<script type="application/json" id="first-data"> block, equal to what the
API answers, and hostile text cannot end the block."""
import datetime as dt
import json
import re
from urllib.parse import quote

import pytest

from conftest import standard_catalog

BLOCK = re.compile(
    r'<script type="application/json" id="first-data">(.*?)</script>', re.S)


def first_data(d, path):
    r = d.get(path)
    assert r.status == 200, r
    html = r.body.decode()
    found = BLOCK.findall(html)
    assert len(found) <= 1, "one block at most"
    assert html.count("<script") == len(found) + 1, \
        "no script but book.js and the data block"
    return (json.loads(found[0]) if found else None), html, r


def decode_starts(s):
    """The inlined slots as [(start, end)] UTC datetimes."""
    out, m = [], 0
    for i, v in enumerate(s["starts"]):
        m = v if i == 0 else m + v
        t = dt.datetime.fromtimestamp(m * 60, dt.timezone.utc)
        out.append((t, t + dt.timedelta(minutes=s["minutes"])))
    return out


def api_slots(d, slug, frm, to):
    got = d.slots(slug, frm, to, timezone="UTC")["slots"]
    return [(dt.datetime.fromisoformat(x["start"].replace("Z", "+00:00")),
             dt.datetime.fromisoformat(x["end"].replace("Z", "+00:00")))
            for day in sorted(got) for x in got[day]]


def same_as_api(d, path, slug):
    """The block's slots equal the API's for its range (asked again when a
    slot's start passed in between)."""
    for _ in range(3):
        data, _, _ = first_data(d, path)
        s = data["slots"]
        assert s["event_type"] == slug
        if decode_starts(s) == api_slots(d, slug, s["from"], s["to"]):
            return data
    raise AssertionError(f"{path}: inlined slots differ from the API's")


def test_pages_inline_types_card_and_slots(app):
    app.apply(standard_catalog(event_types=[
        {"slug": "deep", "title": "Deep dive", "duration_minutes": 60}]))
    listed = app.get("/api/v1/event-types").json["data"]
    profile = app.get("/api/v1/hosts/coach/profile").json

    data = same_as_api(app, "/coach/intro", "intro")
    assert data["event_types"] == listed
    assert data["profile"] == profile
    s = data["slots"]
    today = dt.datetime.now(dt.timezone.utc).date()
    frm, to = dt.date.fromisoformat(s["from"]), dt.date.fromisoformat(s["to"])
    assert frm == today - dt.timedelta(days=1)
    # Through the first day after the first month with a free time (a
    # day's margin for the visitor's zone).
    assert to.day == 1 and to > today and (to - today).days <= 63, s
    assert s["minutes"] == 30 and s["starts"]
    assert all(v >= 30 for v in s["starts"][1:]), "sorted, no overlap"

    # /?event= chooses one as well; / alone with two types chooses none.
    data = same_as_api(app, "/?event=deep", "deep")
    assert data["slots"]["minutes"] == 60
    data, _, _ = first_data(app, "/")
    assert data["event_types"] == listed
    assert data["slots"] is None and data["profile"] is None
    data, _, _ = first_data(app, "/coach")
    assert data["slots"] is None and len(data["event_types"]) == 2
    # An unknown ?event= chooses nothing and is not echoed.
    data, html, _ = first_data(app, "/?event=%3C%2Fscript%3Ex")
    assert data["slots"] is None and "</script>x" not in html


def test_a_single_type_is_chosen_and_headers_stay(app):
    data, html, r = first_data(app, "/")
    assert [t["slug"] for t in data["event_types"]] == ["intro"]
    assert data["profile"]["slug"] == "coach" and data["slots"]["starts"]
    csp = r.header("Content-Security-Policy")
    assert "default-src 'self'" in csp and "unsafe-inline" not in csp
    assert r.header("Cache-Control") == "no-cache"
    # The block sits in <head>, before the module script runs.
    assert html.index('id="first-data"') < html.index("</head>")


def test_no_schedule_no_types_and_too_many_slots(make_daemon):
    d = make_daemon()
    data, _, _ = first_data(d, "/")
    assert data == {"event_types": [], "profile": None, "slots": None,
                    "credit_event_types": []}
    # 5-minute slots around the clock: more than the block holds; the
    # page asks the API for them instead.
    cat = standard_catalog(start="00:00", end="24:00")
    cat["event_types"][0]["duration_minutes"] = 5
    d.apply(cat)
    data, _, _ = first_data(d, "/coach/intro")
    assert data["slots"] is None and data["event_types"]
    # A host without a schedule: no slots, the rest is there.
    cat = standard_catalog(host="bare")
    del cat["hosts"][0]["schedule"]
    cat["event_types"][0]["slug"] = "bare-call"
    d.apply(cat)
    data, _, _ = first_data(d, "/bare/bare-call")
    assert data["slots"] is None and data["profile"]["slug"] == "bare"


@pytest.mark.parametrize("text", [
    "</script><script>alert(1)</script>",
    "</SCRIPT ><img src=x onerror=alert(1)>",
    "<!--<script>",
    "a & b > c \u2028 \u2029 \"quoted\" \\",
])
def test_hostile_text_cannot_leave_the_block(app, text):
    r = app.patch("/api/v1/event-types/intro", {"description": text},
                  admin=True)
    assert r.status == 200, r
    r = app.patch("/api/v1/hosts/coach", {"bio": text.replace("\u2028", "")
                                          .replace("\u2029", "")},
                  admin=True)
    assert r.status == 200, r
    data, html, _ = first_data(app, "/coach/intro")
    block = BLOCK.search(html).group(1)
    assert "<" not in block and ">" not in block and "&" not in block
    assert data["event_types"][0]["description"] == text
    assert data["profile"]["bio"].startswith(text[:5])


# ---- compression of the static files ---------------------------------------

@pytest.mark.parametrize("accept,gz", [
    (None, False),
    ("gzip", True),
    ("GZIP", True),
    ("br, gzip;q=0.5", True),
    ("gzip, deflate, br, zstd", True),
    ("*", True),
    ("identity", False),
    ("gzip;q=0", False),
    ("gzip; q=0.000", False),
    ("gzip;q=0, *", False),
    ("*;q=0", False),
    ("x-gzip", False),
    ("gzipx", False),
    ("deflate, br", False),
    (",,, ;;; ,", False),
    ("gzip" + " " * 1100, False),
])
def test_static_files_are_gzipped_when_accepted(daemon, accept, gz):
    import gzip
    plain = daemon.get("/static/common.js")
    assert plain.status == 200 and plain.header("Content-Encoding") is None
    assert plain.header("Vary") == "Accept-Encoding"
    hdrs = {"Accept-Encoding": accept} if accept is not None else {}
    r = daemon.get("/static/common.js", headers=hdrs)
    assert r.status == 200, r
    assert r.header("Vary") == "Accept-Encoding"
    assert r.header("Content-Type") == "text/javascript; charset=utf-8"
    assert int(r.header("Content-Length")) == len(r.body)
    if gz:
        assert r.header("Content-Encoding") == "gzip"
        assert gzip.decompress(r.body) == plain.body
        assert len(r.body) < len(plain.body) / 2
    else:
        assert r.header("Content-Encoding") is None
        assert r.body == plain.body


def test_pages_are_not_compressed(app):
    for path in ("/", "/coach/intro", "/admin/login"):
        r = app.get(path, headers={"Accept-Encoding": "gzip"})
        assert r.status == 200 and r.header("Content-Encoding") is None, path
        assert r.body.startswith(b"<!doctype html>"), path
    for name in ("uPlot.iife.min.js", "uPlot.min.css", "uPlot.LICENSE.txt",
                 "admin.js", "app.css", "embed.js"):
        r = app.get("/static/" + name, headers={"Accept-Encoding": "gzip"})
        assert r.status == 200 and r.header("Content-Encoding") == "gzip", name


def test_credit_event_types_are_the_active_packages_coverage(make_daemon):
    """The forms that offer "Use a package credit" come inlined: the event
    types the active packages cover (as GET /api/v1/packages lists them),
    each once; an inactive package's are not offered."""
    d = make_daemon()
    cat = standard_catalog()
    second = dict(cat["event_types"][0], slug="second", title="Second")
    third = dict(cat["event_types"][0], slug="third", title="Third")
    cat["event_types"] += [second, third]
    d.apply(cat)
    price = {"amount": 9000, "currency": "EUR"}
    for slug, types, active in (("a", ["intro", "second"], True),
                                ("b", ["second"], True),
                                ("c", ["third"], False)):
        r = d.post("/api/v1/packages", {"slug": slug, "name": slug.upper(),
                                        "event_types": types, "sessions": 2,
                                        "price": price, "active": active},
                   admin=True)
        assert r.status == 201, r
    data, _, _ = first_data(d, "/coach/intro")
    listed = d.get("/api/v1/packages?limit=100").json["data"]
    covered = {t for p in listed for t in p["event_types"]}
    assert sorted(data["credit_event_types"]) == sorted(covered) == \
        ["intro", "second"], data


def test_past_100_packages_the_block_leaves_credits_to_the_api(make_daemon):
    """With more active packages than the page's first request lists (100),
    the block's credit_event_types is null (src/api/pages.c FIRST_PACKAGES):
    the script then reads GET /api/v1/packages page by page (book.js
    loadPackages), and an event type covered only by the 101st package is
    on the second page. At 100 the block still carries them."""
    d = make_daemon()
    cat = standard_catalog()
    cat["event_types"].append(dict(cat["event_types"][0], slug="late",
                                   title="Late"))
    d.apply(cat)
    price = {"amount": 9000, "currency": "EUR"}

    def add(i, types):
        r = d.post("/api/v1/packages", {
            "slug": f"p{i:03d}", "name": f"P{i}", "sessions": 2,
            "event_types": types, "price": price, "active": True},
            admin=True)
        assert r.status == 201, r

    for i in range(100):
        add(i, ["intro"])
    data, _, _ = first_data(d, "/coach/late")
    assert data["credit_event_types"] == ["intro"], data
    add(100, ["late"])
    data, _, _ = first_data(d, "/coach/late")
    assert data["credit_event_types"] is None, data  # not a list: ask
    assert data["slots"]["event_type"] == "late", data  # the rest is there
    pages, path = [], "/api/v1/packages?limit=100"
    while path:
        r = d.get(path)
        assert r.status == 200 and len(pages) < 3, r
        pages.append({t for p in r.json["data"] for t in p["event_types"]})
        cur = r.json["next_cursor"]
        path = cur and "/api/v1/packages?limit=100&cursor=" + quote(cur)
    assert pages == [{"intro"}, {"late"}], pages
