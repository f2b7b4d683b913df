/* tests/fuzz/fuzz_tz.c — time zone names as a public slot query gives them
 * (?timezone=, an attendee's zone), and the conversions of the zones they
 * name. The input's first line is the name; the 8 bytes after it (if any)
 * an instant. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/tz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 1800-01-01 .. 2200-01-01: what a calendar can ask about. */
#define T_MIN  (-5364662400LL)
#define T_SPAN (12623040000LL)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    const uint8_t *nl = memchr(data, '\n', size);
    size_t name_len = nl ? (size_t)(nl - data) : size;
    const struct bk_tz *tz;
    char *name;

    if (!init) {
        bk_tz_init();
        init = 1;
    }
    name = malloc(name_len + 1);
    memcpy(name, data, name_len);
    name[name_len] = '\0';
    tz = bk_tz_get(name);
    free(name);
    if (!tz)
        return 0;
    /* An accepted name has a canonical one, which names the same zone. */
    if (bk_tz_get(bk_tz_name(tz)) != tz)
        abort();
    if (nl && size - name_len - 1 >= 8) {
        uint64_t raw;
        int64_t t, local, back;
        int32_t off;

        memcpy(&raw, nl + 1, 8);
        t = T_MIN + (int64_t)(raw % (uint64_t)T_SPAN);
        off = bk_tz_offset_at(tz, t);
        if (off <= -86400 || off >= 86400)
            abort();
        local = bk_tz_utc_to_local(tz, t);
        if (local != t + off)
            abort();
        /* A local time maps to its first occurrence, or, in a gap, to the
         * instant after it: never later than an instant that shows it. */
        back = bk_tz_local_to_utc(tz, local);
        if (back > t)
            abort();
        if (bk_tz_local_date(tz, t) * 86400 > local ||
            bk_tz_local_date(tz, t) * 86400 + 86400 <= local)
            abort();
    }
    return 0;
}
