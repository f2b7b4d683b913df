/* api/json.h — strict JSON field access over jansson.
 * Every getter type-checks, length-checks and validates UTF-8 text, and on
 * failure returns BK_E_INVALID with err->field set to the field's path
 * ("attendee.email", "weekly[2].start") so the caller can answer 422 with
 * details.field. Strings returned are borrowed from the json_t. */
#ifndef BK_API_JSON_H
#define BK_API_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/arena.h"
#include "base/err.h"

/* Parses body (len bytes, UTF-8) as a JSON object, refusing duplicate keys
 * and NUL characters. BK_E_MALFORMED with code "invalid_json" when it is
 * not JSON; BK_E_INVALID when it is JSON but not an object. Returns an
 * owned json_t (json_decref). */
BK_MUST_CHECK enum bk_err bk_json_parse_object(const char *body, size_t len,
                                               json_t **out,
                                               struct bk_errbuf *err);

/* Joins a field path ("" + "email" = "email", "attendee" + "email" =
 * "attendee.email") into the arena. */
const char *bk_json_path(struct bk_arena *arena, const char *path,
                         const char *key);
/* "weekly" + 2 = "weekly[2]". */
const char *bk_json_index(struct bk_arena *arena, const char *path,
                          size_t index);

/* Refuses any key of obj that is not in allowed (NULL-terminated):
 * BK_E_INVALID "unknown field", field = its path. */
BK_MUST_CHECK enum bk_err bk_json_only(const json_t *obj, const char *path,
                                       const char *const *allowed,
                                       struct bk_arena *arena,
                                       struct bk_errbuf *err);

/* A string field of at most max_bytes bytes of UTF-8 without control
 * characters (multiline allows \n \r \t). Absent or null: *out = NULL, and
 * BK_E_INVALID "is required" when required. */
BK_MUST_CHECK enum bk_err bk_json_str(const json_t *obj, const char *path,
                                      const char *key, bool required,
                                      size_t max_bytes, bool multiline,
                                      struct bk_arena *arena, const char **out,
                                      struct bk_errbuf *err);

/* An integer field in [min, max]. Absent or null: *present = false and *out
 * unchanged (BK_E_INVALID when required). present may be NULL. */
BK_MUST_CHECK enum bk_err bk_json_int(const json_t *obj, const char *path,
                                      const char *key, bool required,
                                      int64_t min, int64_t max,
                                      struct bk_arena *arena, int64_t *out,
                                      bool *present, struct bk_errbuf *err);

/* A boolean field; absent or null as for bk_json_int. */
BK_MUST_CHECK enum bk_err bk_json_bool(const json_t *obj, const char *path,
                                       const char *key, bool required,
                                       struct bk_arena *arena, bool *out,
                                       bool *present, struct bk_errbuf *err);

/* An object or array field (borrowed), NULL when absent or null.
 * BK_E_INVALID when present with another type, or absent and required. */
BK_MUST_CHECK enum bk_err bk_json_object(const json_t *obj, const char *path,
                                         const char *key, bool required,
                                         struct bk_arena *arena, json_t **out,
                                         struct bk_errbuf *err);
BK_MUST_CHECK enum bk_err bk_json_array(const json_t *obj, const char *path,
                                        const char *key, bool required,
                                        size_t max_items,
                                        struct bk_arena *arena, json_t **out,
                                        struct bk_errbuf *err);

/* Serializes v compactly into the arena; returns the text and its length,
 * or NULL (and 0) when v is NULL or cannot be serialized. Does not take
 * v. */
char *bk_json_dump(struct bk_arena *arena, const json_t *v, size_t *len);

/* json_string() of an arena-free copy, or json_null() for NULL. */
json_t *bk_json_str_or_null(const char *s);

#endif
