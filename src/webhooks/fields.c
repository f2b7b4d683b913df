/* webhooks/fields.c — the providers' shared checks and readers
 * (fields.h). */
#include <inttypes.h>
#include <string.h>

#include "webhooks/fields.h"
#include "base/str.h"
#include "base/banned.h"

enum bk_err bk_webhook_check_time(const char *header, int64_t ts,
                                  int64_t now_utc, int64_t tolerance_s,
                                  struct bk_errbuf *err)
{
    if (ts < now_utc - tolerance_s || ts > now_utc + tolerance_s)
        return bk_fail(err, BK_E_UNAUTHORIZED,
                       "the %s timestamp is more than %" PRId64
                       " s from this server's clock (a replay, or a clock "
                       "out of sync)",
                       header, tolerance_s);
    return BK_OK;
}

const char *bk_webhook_str(const json_t *obj, const char *key, size_t max)
{
    const json_t *v = json_object_get(obj, key);

    if (!json_is_string(v) || json_string_length(v) > max)
        return NULL;
    return json_string_value(v);
}

const char *bk_webhook_copy(struct bk_arena *arena, const json_t *obj,
                            const char *key, size_t max)
{
    const char *s = bk_webhook_str(obj, key, max);

    return s && *s && bk_utf8_valid(s, max, true) ? bk_arena_strdup(arena, s)
                                                  : NULL;
}

bool bk_webhook_event_ok(const char *t, size_t max)
{
    if (!t || !*t || strlen(t) > max)
        return false;
    for (; *t; t++)
        if (!((*t >= 'a' && *t <= 'z') || *t == '_' || *t == '.'))
            return false;
    return true;
}

bool bk_webhook_token_ok(const char *s, size_t max, const char *forbid)
{
    if (!s || !*s || strlen(s) > max)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f ||
            (forbid && *forbid && strchr(forbid, *s)))
            return false;
    return true;
}
