/* core/tz.c — time zones over libical.
 * libical resolves a local time inside a gap with the offset after it and a
 * repeated local time with its second occurrence; RFC 5545 asks for the
 * opposite, so local-to-UTC is resolved here from UTC offsets alone. */
#include <pthread.h>
#include <string.h>

#include <libical/ical.h>

#include "core/tz.h"
#include "base/time.h"
#include "base/banned.h"

/* libical loads builtin zones into a shared array; loading is serialized
 * here so that concurrent first uses of a zone never race, and each zone's
 * table of changes is expanded once, at load, through 2100 (later lookups
 * then only read it). */
static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;

#define COVERAGE_UTC 4133980800LL /* 2101-01-01T00:00:00Z */

static icaltimezone *zone_of(const struct bk_tz *tz)
{
    return (icaltimezone *)(void *)tz;
}

static bool name_ok(const char *name)
{
    size_t n = 0;

    if (!name || !*name || *name == '/' || *name == '.')
        return false;
    for (const char *p = name; *p; p++, n++) {
        char c = *p;
        if (n >= 64)
            return false;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '/' || c == '_' || c == '+' ||
              c == '-'))
            return false;
        if (c == '/' && (p[1] == '/' || p[1] == '.' || p[1] == '\0'))
            return false;
    }
    return true;
}

static int32_t offset_of_utc(icaltimezone *z, int64_t utc)
{
    struct icaltimetype tt;
    int is_daylight = 0;

    tt = icaltime_from_timet_with_zone((time_t)utc, 0,
                                       icaltimezone_get_utc_timezone());
    return (int32_t)icaltimezone_get_utc_offset_of_utc_time(z, &tt,
                                                            &is_daylight);
}

void bk_tz_init(void)
{
    icalerror_set_errors_are_fatal(0);
}

const struct bk_tz *bk_tz_utc(void)
{
    return (const struct bk_tz *)(void *)icaltimezone_get_utc_timezone();
}

const struct bk_tz *bk_tz_get(const char *name)
{
    icaltimezone *z;

    if (!name_ok(name))
        return NULL;
    if (strcmp(name, "UTC") == 0)
        return bk_tz_utc();
    pthread_mutex_lock(&load_lock);
    z = icaltimezone_get_builtin_timezone(name);
    if (z)
        (void)offset_of_utc(z, COVERAGE_UTC);
    pthread_mutex_unlock(&load_lock);
    return (const struct bk_tz *)(void *)z;
}

const char *bk_tz_name(const struct bk_tz *tz)
{
    icaltimezone *z = zone_of(tz);
    const char *loc;

    if (z == icaltimezone_get_utc_timezone())
        return "UTC";
    loc = icaltimezone_get_location(z);
    return loc ? loc : icaltimezone_get_tzid(z);
}

int32_t bk_tz_offset_at(const struct bk_tz *tz, int64_t utc)
{
    icaltimezone *z = zone_of(tz);

    if (z == icaltimezone_get_utc_timezone())
        return 0;
    return offset_of_utc(z, utc);
}

int64_t bk_tz_local_to_utc(const struct bk_tz *tz, int64_t local)
{
    /* The offsets in force a day before and a day after bound the choices
     * (no zone changes offset twice within two days). A candidate u is a
     * reading of `local` when the offset at u maps u back to `local`. */
    int32_t before = bk_tz_offset_at(tz, local - BK_SECS_PER_DAY);
    int32_t after = bk_tz_offset_at(tz, local + BK_SECS_PER_DAY);
    int64_t u_before = local - before, u_after = local - after;
    bool ok_before = bk_tz_offset_at(tz, u_before) == before;
    bool ok_after = bk_tz_offset_at(tz, u_after) == after;

    if (ok_before && ok_after) /* a repeated hour: the first occurrence */
        return u_before < u_after ? u_before : u_after;
    if (ok_before)
        return u_before;
    if (ok_after)
        return u_after;
    /* A gap: read with the offset in force before it. */
    return u_before;
}

int64_t bk_tz_utc_to_local(const struct bk_tz *tz, int64_t utc)
{
    return utc + bk_tz_offset_at(tz, utc);
}

int64_t bk_tz_local_date(const struct bk_tz *tz, int64_t utc)
{
    return bk_floordiv(bk_tz_utc_to_local(tz, utc), BK_SECS_PER_DAY);
}
