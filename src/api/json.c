/* api/json.c — strict field access over jansson. */
#include <stdio.h>
#include <string.h>

#include "api/json.h"
#include "base/str.h"
#include "base/banned.h"

enum bk_err bk_json_parse_object(const char *body, size_t len, json_t **out,
                                 struct bk_errbuf *err)
{
    json_error_t jerr;
    json_t *v;

    *out = NULL;
    if (len == 0) {
        bk_errbuf_code(err, "invalid_json");
        return bk_fail(err, BK_E_MALFORMED,
                       "the request body is empty; a "
                       "JSON object is expected");
    }
    v = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!v) {
        bk_errbuf_code(err, "invalid_json");
        return bk_fail(err, BK_E_MALFORMED,
                       "malformed JSON at line %d column %d: %s", jerr.line,
                       jerr.column, jerr.text);
    }
    if (!json_is_object(v)) {
        json_decref(v);
        bk_errbuf_code(err, "invalid_json");
        return bk_fail(err, BK_E_MALFORMED,
                       "the request body must be a JSON object");
    }
    *out = v;
    return BK_OK;
}

const char *bk_json_path(struct bk_arena *arena, const char *path,
                         const char *key)
{
    if (!path || !*path)
        return key;
    return bk_arena_printf(arena, "%s.%s", path, key);
}

const char *bk_json_index(struct bk_arena *arena, const char *path,
                          size_t index)
{
    return bk_arena_printf(arena, "%s[%zu]", path ? path : "", index);
}

enum bk_err bk_json_only(const json_t *obj, const char *path,
                         const char *const *allowed, struct bk_arena *arena,
                         struct bk_errbuf *err)
{
    const char *key;
    json_t *v;

    json_object_foreach((json_t *)obj, key, v)
    {
        bool ok = false;
        (void)v;
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(*a, key) == 0)
                ok = true;
        if (!ok) {
            /* The key may be hostile: show at most 64 bytes of it. */
            char shown[65];
            bk_strlcpy(shown, key, sizeof(shown));
            for (char *p = shown; *p; p++)
                if ((unsigned char)*p < 0x20)
                    *p = '?';
            return bk_fail_field(err, BK_E_INVALID,
                                 bk_json_path(arena, path, shown),
                                 "unknown field");
        }
    }
    return BK_OK;
}

/* The answer for an absent or null field: fine, or "is required". */
static enum bk_err absent(const char *path, const char *key, bool required,
                          struct bk_arena *arena, struct bk_errbuf *err)
{
    if (required)
        return bk_fail_field(err, BK_E_INVALID, bk_json_path(arena, path, key),
                             "is required");
    return BK_OK;
}

static const json_t *field(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return v && !json_is_null(v) ? v : NULL;
}

enum bk_err bk_json_str(const json_t *obj, const char *path, const char *key,
                        bool required, size_t max_bytes, bool multiline,
                        struct bk_arena *arena, const char **out,
                        struct bk_errbuf *err)
{
    const json_t *v = field(obj, key);
    const char *s;

    *out = NULL;
    if (!v)
        return absent(path, key, required, arena, err);
    if (!json_is_string(v))
        return bk_fail_field(err, BK_E_INVALID, bk_json_path(arena, path, key),
                             "must be a string");
    s = json_string_value(v);
    if (json_string_length(v) > max_bytes)
        return bk_fail_field(err, BK_E_INVALID, bk_json_path(arena, path, key),
                             "must be at most %zu bytes", max_bytes);
    if (!bk_utf8_valid(s, max_bytes, multiline))
        return bk_fail_field(err, BK_E_INVALID, bk_json_path(arena, path, key),
                             "must not contain control characters");
    *out = s;
    return BK_OK;
}

enum bk_err bk_json_int(const json_t *obj, const char *path, const char *key,
                        bool required, int64_t min, int64_t max,
                        struct bk_arena *arena, int64_t *out, bool *present,
                        struct bk_errbuf *err)
{
    const json_t *v = field(obj, key);
    json_int_t i;

    if (present)
        *present = false;
    if (!v)
        return absent(path, key, required, arena, err);
    if (!json_is_integer(v))
        return bk_fail_field(err, BK_E_INVALID, bk_json_path(arena, path, key),
                             "must be an integer");
    i = json_integer_value(v);
    if (i < min || i > max)
        return bk_fail_field(err, BK_E_INVALID, bk_json_path(arena, path, key),
                             "must be between %lld and %lld", (long long)min,
                             (long long)max);
    *out = i;
    if (present)
        *present = true;
    return BK_OK;
}

enum bk_err bk_json_bool(const json_t *obj, const char *path, const char *key,
                         bool required, struct bk_arena *arena, bool *out,
                         bool *present, struct bk_errbuf *err)
{
    const json_t *v = field(obj, key);

    if (present)
        *present = false;
    if (!v)
        return absent(path, key, required, arena, err);
    if (!json_is_boolean(v))
        return bk_fail_field(err, BK_E_INVALID, bk_json_path(arena, path, key),
                             "must be true or false");
    *out = json_is_true(v);
    if (present)
        *present = true;
    return BK_OK;
}

enum bk_err bk_json_object(const json_t *obj, const char *path, const char *key,
                           bool required, struct bk_arena *arena, json_t **out,
                           struct bk_errbuf *err)
{
    const json_t *v = field(obj, key);

    *out = NULL;
    if (!v)
        return absent(path, key, required, arena, err);
    if (!json_is_object(v))
        return bk_fail_field(err, BK_E_INVALID, bk_json_path(arena, path, key),
                             "must be an object");
    *out = (json_t *)v;
    return BK_OK;
}

enum bk_err bk_json_array(const json_t *obj, const char *path, const char *key,
                          bool required, size_t max_items,
                          struct bk_arena *arena, json_t **out,
                          struct bk_errbuf *err)
{
    const json_t *v = field(obj, key);

    *out = NULL;
    if (!v)
        return absent(path, key, required, arena, err);
    if (!json_is_array(v))
        return bk_fail_field(err, BK_E_INVALID, bk_json_path(arena, path, key),
                             "must be an array");
    if (json_array_size(v) > max_items)
        return bk_fail_field(err, BK_E_INVALID, bk_json_path(arena, path, key),
                             "must have at most %zu items", max_items);
    *out = (json_t *)v;
    return BK_OK;
}

char *bk_json_dump(struct bk_arena *arena, const json_t *v, size_t *len)
{
    size_t n = v ? json_dumpb(v, NULL, 0, JSON_COMPACT) : 0;
    char *p;

    if (len)
        *len = 0;
    /* No JSON text is empty: 0 is jansson's failure. */
    if (n == 0)
        return NULL;
    p = bk_arena_alloc(arena, n + 1);
    if (json_dumpb(v, p, n, JSON_COMPACT) != n)
        return NULL;
    p[n] = '\0';
    if (len)
        *len = n;
    return p;
}

json_t *bk_json_str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}
