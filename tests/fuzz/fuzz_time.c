/* tests/fuzz/fuzz_time.c — RFC 3339, date and time-of-day parsers, and the
 * round trip of what they accept. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/str.h"
#include "base/time.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1), out[BK_RFC3339_MAX];
    int64_t t, t2, days;
    int32_t off;
    int m;

    memcpy(s, data, size);
    s[size] = '\0';
    if (bk_rfc3339_parse(s, &t, &off) == BK_OK && off > -86400 && off < 86400) {
        bk_rfc3339_format_offset(t, off, out);
        if (bk_rfc3339_parse(out, &t2, NULL) != BK_OK || t2 != t)
            abort(); /* what we print must read back the same */
    }
    if (bk_date_parse(s, &days) == BK_OK) {
        char d[11];
        bk_date_format(days, d);
        if (strcmp(d, s) != 0)
            abort();
    }
    (void)bk_hhmm_parse(s, true, &m);
    (void)bk_utf8_valid(s, 1 << 20, true);
    (void)bk_email_valid(s);
    free(s);
    return 0;
}
