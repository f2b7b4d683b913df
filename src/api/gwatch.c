/* api/gwatch.c — POST /webhooks/google: Google Calendar push
 * notifications (docs/calendars.md "Push notifications"). A notification
 * has no body; its headers name the channel (X-Goog-Channel-ID) and carry
 * the token bookingd gave it (X-Goog-Channel-Token), which is the keyed
 * token of the channel id (crypto.h BK_TOKEN_GOOGLE_CHANNEL), compared in
 * constant time. Verified, "sync" (the channel's first message) is only
 * acknowledged, "exists" / "not_exists" enqueue a pull of the connection
 * (job kind "calendars.gpull", connectors/gwatch.c), deduplicated: one per
 * connection and two-second window, due at the window's end. Anything
 * unverified stores and enqueues nothing. */
#include <inttypes.h>
#include <string.h>

#include "api/internal.h"
#include "api/json.h"
#include "base/time.h"
#include "crypto/crypto.h"
#include "jobs/jobs.h"
#include "base/banned.h"

#define CHANNEL_ID_MAX 64
#define TOKEN_MAX      256
#define PULL_KIND      "calendars.gpull"
#define PULL_WINDOW_MS 2000

static bool id_chars(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
            return false;
    return true;
}

/* Enqueues the pull of connection conn at the end of the current
 * PULL_WINDOW_MS window, once per window: a burst of notifications (Google
 * sends one per change) is one pull, run within two windows of the first
 * change. */
static enum bk_err enqueue_pull(struct bk_api_call *c, const char *conn,
                                bool *queued)
{
    int64_t now = bk_now_ms(), window = now / PULL_WINDOW_MS, id = 0;
    const char *key =
        bk_arena_printf(c->arena, PULL_KIND ":%s:%" PRId64, conn, window);
    bool existed = false;
    enum bk_err e;

    e = bk_store_job_enqueue(c->tx, PULL_KIND, key, conn,
                             (window + 1) * PULL_WINDOW_MS, 5, now, &id,
                             &existed, c->err);
    *queued = e == BK_OK && !existed;
    return e;
}

static enum bk_err refuse(struct bk_api_call *c)
{
    /* One answer for unknown, forged and malformed: nothing tells which. */
    return bk_fail(c->err, BK_E_UNAUTHORIZED,
                   "not a notification of a channel bookingd opened");
}

enum bk_err bk_api_google_notify(struct bk_api_call *c)
{
    const char *id = bk_http_header(c->req, "X-Goog-Channel-ID");
    const char *token = bk_http_header(c->req, "X-Goog-Channel-Token");
    const char *state = bk_http_header(c->req, "X-Goog-Resource-State");
    const char *rid = bk_http_header(c->req, "X-Goog-Resource-ID");
    struct bk_gchannel ch;
    char want[48];
    bool queued = false;
    enum bk_err e;

    if (!id || !token || !*id || strlen(id) > CHANNEL_ID_MAX || !id_chars(id) ||
        strlen(token) > TOKEN_MAX)
        return refuse(c);
    bk_keyed_token(c->api->manage_secret, BK_TOKEN_GOOGLE_CHANNEL, id, want);
    if (strlen(token) != strlen(want) ||
        !bk_ct_equal(token, want, strlen(want)))
        return refuse(c);
    if ((e = bk_api_call_read(c)))
        return e;
    e = bk_store_gchannel_find(c->tx, id, c->arena, &ch, c->err);
    bk_api_call_end(c);
    if (e == BK_E_NOT_FOUND)
        return refuse(c);
    if (e)
        return e;
    if (rid && ch.resource_id && strcmp(rid, ch.resource_id) != 0)
        return refuse(c);
    if (!state || (strcmp(state, "sync") != 0 && strcmp(state, "exists") != 0 &&
                   strcmp(state, "not_exists") != 0))
        return bk_fail_field(c->err, BK_E_INVALID, "X-Goog-Resource-State",
                             "must be sync, exists or not_exists");
    if (strcmp(state, "sync") == 0 || !ch.connection_id) {
        bk_api_reply(c, 200, json_pack("{s:s}", "status", "ignored"));
        return BK_OK;
    }
    e = bk_store_begin(c->api->store, BK_TX_QUEUE, &c->tx, c->err);
    if (!e)
        e = enqueue_pull(c, ch.connection_public_id, &queued);
    if (!e) {
        e = bk_store_commit(c->tx, c->err);
        c->tx = NULL;
    }
    bk_api_call_end(c);
    if (e)
        return e;
    if (queued)
        bk_jobs_wake(c->api->jobs);
    bk_api_reply(c, 200,
                 json_pack("{s:s}", "status", queued ? "queued" : "pending"));
    return BK_OK;
}
