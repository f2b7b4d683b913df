/* webhooks/fields.h — what the providers' verify, identify and normalize
 * share: the signature's timestamp window and the readers of a parsed
 * body's fields (the API's readers in api/json.h answer field errors for
 * requests; these answer NULL for anything unusable, which a provider
 * turns into its own error or leaves out). Internal to webhooks/. */
#ifndef BK_WEBHOOKS_FIELDS_H
#define BK_WEBHOOKS_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/arena.h"
#include "base/err.h"

/* BK_OK when the signed timestamp ts (Unix seconds) is within tolerance_s
 * of now_utc, either way; otherwise BK_E_UNAUTHORIZED with the one message
 * every provider gives ("the <header> timestamp is more than N s from this
 * server's clock (a replay, or a clock out of sync)"). */
BK_MUST_CHECK enum bk_err bk_webhook_check_time(const char *header, int64_t ts,
                                                int64_t now_utc,
                                                int64_t tolerance_s,
                                                struct bk_errbuf *err);

/* obj's string member key of at most max bytes, or NULL (absent, null,
 * another type, too long). Borrowed from obj. */
const char *bk_webhook_str(const json_t *obj, const char *key, size_t max);

/* As bk_webhook_str, non-empty and valid UTF-8 without controls but
 * newlines, copied into arena; or NULL. */
const char *bk_webhook_copy(struct bk_arena *arena, const json_t *obj,
                            const char *key, size_t max);

/* An event name: 1..max bytes of [a-z_.]. */
bool bk_webhook_event_ok(const char *t, size_t max);

/* An id of 1..max bytes of printable ASCII without spaces, and without any
 * byte of forbid (may be NULL or ""). */
bool bk_webhook_token_ok(const char *s, size_t max, const char *forbid);

#endif
