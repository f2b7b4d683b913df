#!/usr/bin/env bash
# Checks the house rules a compiler does not (STYLE.md): the layer a source
# file may include, where third-party headers may appear, that every .c
# under src/ includes base/banned.h last, and /* */ comments only.
set -uo pipefail
cd "$(dirname "$0")/.."
fail=0
say() { echo "check-source: $*"; fail=1; }

# Project layers each directory may include (besides itself).
declare -A allowed=(
    [base]="base"
    [crypto]="base crypto"
    [core]="base core"
    [store]="base core store"
    [ledger]="base crypto core store ledger"
    [pdf]="base core store ledger pdf"
    [jobs]="base crypto core store ledger jobs"
    [mail]="base crypto core store ledger pdf jobs mail"
    [net]="base net"
    [dav]="base net dav"
    [http]="base http"
    [webhooks]="base crypto core store ledger jobs webhooks"
    [api]="base crypto core store ledger pdf jobs mail net dav http webhooks api web"
    [connectors]="base crypto core store ledger jobs net dav api connectors"
    [web]="base web"
    [cli]="base crypto core store ledger pdf jobs mail net dav http webhooks api connectors web cli"
)
# Third-party headers and the only places that may include them.
declare -A third=(
    ["microhttpd.h"]="src/http/server.c"
    ["sqlite3.h"]="src/store/sqlite/"
    ["libpq-fe.h"]="src/store/postgres/"
    ["libical/"]="src/core/tz.c src/core/ics"
    ["openssl/"]="src/crypto/"
    ["libxml/"]="src/dav/xml.c"
    ["cairo"]="src/pdf/"
    ["pango/"]="src/pdf/"
    ["glib"]="src/pdf/"
    ["curl/"]="src/net/ src/connectors/ src/mail/"
    ["jansson.h"]="src/api/ src/webhooks/ src/cli/ src/jobs/ src/ledger/ src/connectors/ src/mail/"
)

while IFS= read -r f; do
    rel=${f#src/}
    layer=${rel%%/*}
    [ "$layer" = "$rel" ] && layer=main
    while IFS= read -r inc; do
        hdr=$(sed -E 's/^#include [<"]([^>"]+)[>"].*/\1/' <<<"$inc")
        if [[ "$inc" == *'"'* ]]; then
            dir=${hdr%%/*}
            [ "$layer" = main ] && continue
            ok=0
            for a in ${allowed[$layer]:-}; do [ "$a" = "$dir" ] && ok=1; done
            [ $ok = 1 ] || say "$f includes \"$hdr\": layer $layer may not depend on $dir"
        else
            for t in "${!third[@]}"; do
                if [[ "$hdr" == "$t"* ]]; then
                    ok=0
                    for place in ${third[$t]}; do [[ "$f" == "$place"* ]] && ok=1; done
                    [ $ok = 1 ] || say "$f includes <$hdr>: only ${third[$t]} may"
                fi
            done
        fi
    done < <(grep -E '^#include ' "$f")
    if [[ "$f" == *.c ]]; then
        last=$(grep -E '^#include ' "$f" | tail -1)
        [ "$last" = '#include "base/banned.h"' ] || say "$f: the last #include must be \"base/banned.h\""
    fi
    if grep -nE '^\s*//' "$f" >/dev/null; then
        say "$f: use /* */ comments ($(grep -nE '^\s*//' "$f" | head -1 | cut -d: -f1))"
    fi
done < <(find src -name '*.[ch]' | sort)

# Every src/ directory has a README (what lives here, may depend on, must not).
for d in src/*/; do
    [ -f "$d/README.md" ] || say "$d has no README.md"
done
[ $fail = 0 ] && echo "check-source: ok"
exit $fail
