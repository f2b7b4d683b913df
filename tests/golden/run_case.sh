#!/usr/bin/env bash
# Runs one golden case through the real binary and compares its output with
# the expected JSON (tests/golden/README.md).
#   run_case.sh BOOKINGD CASE.json CASE.expected.json
# Exit 0 when they match, 1 on a mismatch (a readable diff is printed),
# 2 when the binary fails or prints something that is not JSON.
set -uo pipefail
if [ $# -ne 3 ]; then
    echo "usage: $0 BOOKINGD CASE.json CASE.expected.json" >&2
    exit 2
fi
bin=$1 case_file=$2 expected=$3
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

"$bin" slots --input "$case_file" >"$out" 2>"$err"
rc=$?
if [ $rc -ne 0 ]; then
    echo "run_case: '$bin slots --input $case_file' exited $rc" >&2
    sed 's/^/  stderr: /' "$err" >&2
    exit 2
fi

# Semantic comparison: key order and whitespace do not matter; RFC 3339
# strings compare as (instant, offset), so "Z" equals "+00:00" and
# ".000" fractions are ignored, but a different offset for the same instant
# is a mismatch. Lists (the slots of a day) keep their order.
exec /usr/bin/python3 - "$case_file" "$expected" "$out" <<'PY'
import datetime, difflib, json, re, sys

case_file, expected_file, actual_file = sys.argv[1:4]
STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")

def norm(v):
    if isinstance(v, dict):
        return {k: norm(x) for k, x in v.items()}
    if isinstance(v, list):
        return [norm(x) for x in v]
    if isinstance(v, str) and STAMP.match(v):
        t = datetime.datetime.fromisoformat(v.upper().replace("Z", "+00:00"))
        off = int(t.utcoffset().total_seconds())
        utc = (t - t.utcoffset()).replace(tzinfo=None, microsecond=0)
        local = utc + datetime.timedelta(seconds=off)
        sign = "-" if off < 0 else "+"
        return local.strftime("%Y-%m-%dT%H:%M:%S") + "%s%02d:%02d" % (
            sign, abs(off) // 3600, abs(off) // 60 % 60)
    return v

with open(expected_file) as f:
    expected = json.load(f)
with open(actual_file) as f:
    text = f.read()
try:
    actual = json.loads(text)
except ValueError as e:
    print("run_case: %s: output is not JSON (%s):" % (case_file, e))
    print(text[:2000])
    sys.exit(2)

want, got = norm(expected), norm(actual)
if want == got:
    sys.exit(0)

print("run_case: %s: output differs from %s" % (case_file, expected_file))
try:
    with open(case_file) as f:
        desc = json.load(f).get("description")
    if desc:
        print("  case: " + desc)
except (OSError, ValueError):
    pass
ws = want.get("slots") if isinstance(want, dict) else None
gs = got.get("slots") if isinstance(got, dict) else None
if isinstance(ws, dict) and isinstance(gs, dict):
    def pairs(d):
        return [(day, s.get("start"), s.get("end")) for day in sorted(d)
                for s in (d[day] if isinstance(d[day], list) else [])
                if isinstance(s, dict)]
    w, g = pairs(ws), pairs(gs)
    for p in w:
        if p not in g:
            print("  missing: %s  %s -> %s" % p)
    for p in g:
        if p not in w:
            print("  extra:   %s  %s -> %s" % p)
for k in sorted(set(want) | set(got) if isinstance(want, dict) and isinstance(got, dict) else []):
    if k != "slots" and want.get(k) != got.get(k):
        print("  %s: want %s, got %s" % (k, json.dumps(want.get(k)), json.dumps(got.get(k))))
a = json.dumps(want, indent=1, sort_keys=True).splitlines()
b = json.dumps(got, indent=1, sort_keys=True).splitlines()
print("\n".join(difflib.unified_diff(a, b, "expected", "actual", lineterm="", n=2)))
sys.exit(1)
PY
