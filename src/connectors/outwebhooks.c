/* connectors/outwebhooks.c — outbound webhooks (outwebhooks.h): the
 * fan-out of a ledger event to the endpoints that want it, and the signed
 * send of one message. The rows are store/outbox.c; the HTTP client is
 * net/. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/render.h"
#include "base/log.h"
#include "base/str.h"
#include "base/time.h"
#include "connectors/outwebhooks.h"
#include "crypto/crypto.h"
#include "ledger/ledger.h"
#include "net/net.h"
#include "base/banned.h"

#define FANOUT_KIND "webhooks.fanout"
#define SEND_KIND   "webhooks.send"
/* Bytes of a receiver's answer kept (and read): enough for an error
 * message, not a download. */
#define MAX_ANSWER 4096

const struct bk_ledger_subscriber *bk_outwebhooks_subscriber(void)
{
    static const struct bk_ledger_subscriber s = {
        .name = "outwebhooks",
        .job_kind = FANOUT_KIND,
        .kinds = BK_LEV_BIT(BK_LEV_BOOKING_CREATED) |
                 BK_LEV_BIT(BK_LEV_BOOKING_RESCHEDULED) |
                 BK_LEV_BIT(BK_LEV_BOOKING_CANCELLED) |
                 BK_LEV_BIT(BK_LEV_BOOKING_COMPLETED) |
                 BK_LEV_BIT(BK_LEV_BOOKING_NO_SHOW) |
                 BK_LEV_BIT(BK_LEV_CLIENT_CREATED) |
                 BK_LEV_BIT(BK_LEV_CLIENT_UPDATED) |
                 BK_LEV_BIT(BK_LEV_BOOKING_CONFIRMED) |
                 BK_LEV_BIT(BK_LEV_PAYMENT_COMPLETED) |
                 BK_LEV_BIT(BK_LEV_REFUND_ISSUED) |
                 BK_LEV_BIT(BK_LEV_INVOICE_PAID),
        .max_attempts = 0,
    };
    return &s;
}

enum bk_err bk_outwebhooks_secret(const struct bk_secret_key *key,
                                  const struct bk_wh_endpoint *ep,
                                  struct bk_arena *arena, const char **out,
                                  struct bk_errbuf *err)
{
    char *plain = NULL;
    size_t n = 0;
    enum bk_err e;

    *out = NULL;
    if (!ep->secret || strncmp(ep->secret, "bk1:", 4) != 0) {
        *out = ep->secret;
        return BK_OK;
    }
    if (!key)
        return bk_fail(err, BK_E_CONFIG,
                       "the secret of webhook endpoint %s is sealed and "
                       "BOOKINGD_SECRET_KEY is not set",
                       ep->public_id);
    e = bk_secret_open(key,
                       bk_arena_printf(arena, BK_WH_SECRET_AAD, ep->public_id),
                       ep->secret, arena, &plain, &n, err);
    if (e == BK_OK)
        *out = plain;
    return e;
}

enum bk_err bk_outwebhooks_sign(const char *secret, const char *msg_id,
                                int64_t timestamp_s, const char *body,
                                size_t body_len, char out[64],
                                struct bk_errbuf *err)
{
    unsigned char key[64], mac[BK_SHA256_LEN];
    char ts[24];
    size_t klen = 0;
    struct bk_iov parts[5];

    if (!secret || strncmp(secret, "whsec_", 6) != 0 ||
        bk_base64_decode(secret + 6, true, key, sizeof(key), &klen) != BK_OK ||
        klen == 0)
        return bk_fail(err, BK_E_INVALID,
                       "the endpoint's secret is not "
                       "whsec_ and base64");
    snprintf(ts, sizeof(ts), "%" PRId64, timestamp_s);
    parts[0] = (struct bk_iov){msg_id, strlen(msg_id)};
    parts[1] = (struct bk_iov){".", 1};
    parts[2] = (struct bk_iov){ts, strlen(ts)};
    parts[3] = (struct bk_iov){".", 1};
    parts[4] = (struct bk_iov){body, body_len};
    bk_hmac_sha256(key, klen, parts, 5, mac);
    memcpy(out, "v1,", 3);
    bk_base64_encode(mac, sizeof(mac), out + 3);
    return BK_OK;
}

/* Whether an endpoint's events (a JSON array) include type. */
static bool wants(const char *events, const char *type)
{
    json_t *a = json_loads(events ? events : "[]", 0, NULL);
    bool yes = false;
    size_t i;
    json_t *v;

    json_array_foreach(a, i, v)
    {
        const char *s = json_string_value(v);
        if (s && (strcmp(s, "*") == 0 || strcmp(s, type) == 0))
            yes = true;
    }
    json_decref(a);
    return yes;
}

/* The resource of the event as the API renders it, and the subject that
 * orders its messages. Returns an owned json_t. */
static enum bk_err render_data(struct bk_tx *tx, int64_t booking_id,
                               int64_t client_id, struct bk_arena *arena,
                               json_t **data, const char **subject,
                               struct bk_errbuf *err)
{
    char s[48];
    enum bk_err e;

    *data = NULL;
    if (booking_id) {
        struct bk_booking b;
        struct bk_link *links = NULL;
        size_t n = 0;
        if ((e = bk_store_booking_get(tx, booking_id, arena, &b, err)) ||
            (e = bk_store_link_list(tx, BK_LINK_BOOKING, booking_id, arena,
                                    &links, &n, err)))
            return e;
        *data = bk_render_booking(&b, links, n, NULL, true);
        snprintf(s, sizeof(s), "booking:%" PRId64, booking_id);
    } else {
        struct bk_client c;
        if ((e = bk_store_client_get(tx, client_id, arena, &c, err)))
            return e;
        *data = bk_render_client(&c);
        snprintf(s, sizeof(s), "client:%" PRId64, client_id);
    }
    *subject = bk_arena_strdup(arena, s);
    return BK_OK;
}

static int kind_of(const char *name)
{
    for (int k = 0; name && k < BK_LEV_COUNT; k++)
        if (strcmp(bk_ledger_event_name((enum bk_ledger_event_kind)k), name) ==
            0)
            return k;
    return -1;
}

static enum bk_err fanout_run(void *ctx, struct bk_store *store,
                              const struct bk_job *job, struct bk_arena *arena,
                              struct bk_errbuf *err)
{
    struct bk_outwebhooks *ow = ctx;
    struct bk_tx *tx = NULL;
    struct bk_wh_endpoint *eps = NULL;
    json_t *p = NULL, *data = NULL, *msg = NULL;
    json_int_t activity_id = 0, booking_id = 0, client_id = 0;
    const char *event = NULL, *at = NULL, *type, *subject = NULL;
    char *body = NULL;
    int64_t now_ms = bk_now_ms();
    size_t n = 0, sent = 0;
    enum bk_err e;
    int kind;

    p = json_loads(job->payload ? job->payload : "", 0, NULL);
    if (!p ||
        json_unpack(p, "{s:s, s:I, s:I, s:I, s:s}", "event", &event,
                    "activity_id", &activity_id, "booking_id", &booking_id,
                    "client_id", &client_id, "at", &at) != 0) {
        e = bk_fail(err, BK_E_MALFORMED, "not a ledger event payload");
        goto out;
    }
    kind = kind_of(event);
    type = kind < 0
               ? NULL
               : bk_ledger_event_public_name((enum bk_ledger_event_kind)kind);
    if ((e = bk_store_begin(store, BK_TX_WRITE, &tx, err)))
        goto out;
    if (type && (booking_id || client_id)) {
        if ((e = bk_store_wh_endpoint_list(tx, NULL, true, arena, &eps, &n,
                                           err)))
            goto out;
    }
    for (size_t i = 0; i < n; i++) {
        struct bk_wh_message m;
        char public_id[32], key[64], payload[24];
        int64_t id = 0, job_id = 0;
        bool existed = false, jexisted = false;

        if (!wants(eps[i].events, type))
            continue;
        if (!body) {
            if ((e = render_data(tx, booking_id, client_id, arena, &data,
                                 &subject, err)))
                goto out;
            msg = json_pack("{s:s, s:s, s:O}", "type", type, "timestamp", at,
                            "data", data);
            body = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
            if (!body) {
                e = bk_fail(err, BK_E_INTERNAL, "cannot serialize a message");
                goto out;
            }
        }
        memset(&m, 0, sizeof(m));
        bk_ledger_new_public_id("msg_", public_id);
        m.public_id = public_id;
        m.endpoint_id = eps[i].id;
        m.event_type = type;
        m.subject = subject;
        m.activity_id = activity_id;
        m.body = body;
        m.timestamp_s = bk_floordiv(now_ms, 1000);
        m.created_ms = now_ms;
        if ((e = bk_store_wh_message_insert(tx, &m, &id, &existed, err)))
            goto out;
        if (existed) /* this job ran before and lost its lease */
            continue;
        snprintf(key, sizeof(key), SEND_KIND ":%s", public_id);
        snprintf(payload, sizeof(payload), "%" PRId64, id);
        if ((e = bk_store_job_enqueue(tx, SEND_KIND, key, payload, now_ms,
                                      ow->cfg.max_attempts, now_ms, &job_id,
                                      &jexisted, err)))
            goto out;
        m.id = id;
        m.job_id = job_id;
        m.updated_ms = now_ms;
        if ((e = bk_store_wh_message_record(tx, &m, err)))
            goto out;
        sent++;
    }
    if ((e = bk_jobs_finish(tx, job, err)))
        goto out;
    e = bk_store_commit(tx, err);
    tx = NULL;
    if (!e && sent)
        bk_jobs_wake(ow->jobs);
out:
    bk_store_rollback(tx);
    if (body)
        free(body);
    json_decref(msg);
    json_decref(data);
    json_decref(p);
    return e;
}

/* Disables ep for reason and fails its pending messages, in tx. */
static enum bk_err disable(struct bk_tx *tx, struct bk_wh_endpoint *ep,
                           const char *reason, int64_t now_ms,
                           struct bk_errbuf *err)
{
    enum bk_err e;

    ep->status = BK_WH_ENDPOINT_DISABLED;
    ep->disabled_reason = reason;
    ep->updated_ms = now_ms;
    if ((e = bk_store_wh_endpoint_update(tx, ep, err)))
        return e;
    bk_log_warn("outwebhooks: endpoint %s disabled: %s", ep->public_id, reason);
    return bk_store_wh_message_fail_pending(tx, ep->id, reason, now_ms, err);
}

/* The message of a send job (its payload is the row id). */
static enum bk_err job_message(const struct bk_job *job, int64_t *id,
                               struct bk_errbuf *err)
{
    if (!job->payload || bk_parse_i64(job->payload, 1, INT64_MAX, id) != BK_OK)
        return bk_fail(err, BK_E_MALFORMED, "not a message id: %s",
                       job->payload ? job->payload : "(null)");
    return BK_OK;
}

/* Ends the job with the message recorded as m (and ep written when
 * write_ep). */
static enum bk_err settle_once(struct bk_store *store, const struct bk_job *job,
                               struct bk_wh_message *m,
                               struct bk_wh_endpoint *ep, bool write_ep,
                               const char *disable_reason, bool finish,
                               bool posted, struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    int64_t now_ms = bk_now_ms();
    enum bk_err e;

    m->updated_ms = now_ms;
    if ((e = bk_store_begin(store, BK_TX_WRITE, &tx, err)))
        goto out;
    /* Not found (a statement that changed no row; the transaction goes
     * on): the endpoint was deleted meanwhile, with its messages. */
    e = bk_store_wh_message_record(tx, m, err);
    if (e == BK_E_NOT_FOUND) {
        e = finish ? bk_jobs_finish(tx, job, err) : BK_OK;
        goto commit;
    }
    if (e)
        goto out;
    if (posted) {
        /* Every attempt, not only the last (GET .../messages). */
        struct bk_wh_attempt a = {.message_id = m->id,
                                  .attempt = m->attempts,
                                  .at_ms = now_ms,
                                  .status_code = m->last_status_code,
                                  .duration_ms = m->last_duration_ms,
                                  .error = m->last_error};
        if ((e = bk_store_wh_attempt_insert(tx, &a, err)))
            goto out;
    }
    if (disable_reason)
        e = disable(tx, ep, disable_reason, now_ms, err);
    else if (write_ep)
        e = bk_store_wh_endpoint_update(tx, ep, err);
    if (!e && finish)
        e = bk_jobs_finish(tx, job, err);
commit:
    if (e)
        goto out;
    e = bk_store_commit(tx, err);
    tx = NULL;
out:
    bk_store_rollback(tx);
    return e;
}

/* After the POST, the outcome must be recorded: a lost serialization race
 * (PostgreSQL) is run again here, not by failing the job, which would send
 * the message a second time. */
static enum bk_err settle(struct bk_store *store, const struct bk_job *job,
                          struct bk_wh_message *m, struct bk_wh_endpoint *ep,
                          bool write_ep, const char *disable_reason,
                          bool finish, bool posted, struct bk_errbuf *err)
{
    enum bk_err e;

    BK_STORE_RETRY(e, settle_once(store, job, m, ep, write_ep, disable_reason,
                                  finish, posted, err));
    return e;
}

static enum bk_err send_run(void *ctx, struct bk_store *store,
                            const struct bk_job *job, struct bk_arena *arena,
                            struct bk_errbuf *err)
{
    struct bk_outwebhooks *ow = ctx;
    struct bk_tx *tx = NULL;
    struct bk_wh_message m;
    struct bk_wh_endpoint ep;
    struct bk_net_post post;
    struct bk_net_result res;
    struct bk_errbuf nerr;
    const char *earlier = NULL, *headers[3], *secret = NULL;
    char sig[64], h_id[64], h_ts[48], h_sig[96], reason[300];
    int64_t id = 0, now_ms, ts;
    bool found = false;
    enum bk_err e, ne;

    if ((e = job_message(job, &id, err)) ||
        (e = bk_store_begin(store, BK_TX_READ, &tx, err)))
        goto out;
    e = bk_store_wh_message_get(tx, NULL, id, arena, &m, err);
    if (e == BK_E_NOT_FOUND) { /* its endpoint was deleted: nothing to do */
        bk_store_rollback(tx);
        tx = NULL;
        if ((e = bk_store_begin(store, BK_TX_WRITE, &tx, err)) ||
            (e = bk_jobs_finish(tx, job, err)))
            goto out;
        e = bk_store_commit(tx, err);
        tx = NULL;
        goto out;
    }
    if (e ||
        (e = bk_store_wh_endpoint_get(tx, NULL, m.endpoint_id, arena, &ep,
                                      err)) ||
        (e = bk_store_wh_message_earlier(tx, m.endpoint_id, m.subject,
                                         m.activity_id, arena, &found, &earlier,
                                         err)))
        goto out;
    /* An earlier event whose fan-out has not committed yet has no message
     * to wait for: wait for the fan-out (they take milliseconds). */
    if (!found) {
        char key[48];
        int64_t fid = 0;
        bool have = false;
        snprintf(key, sizeof(key), "outwebhooks:%" PRId64, m.activity_id);
        if ((e = bk_store_job_find_key(tx, key, &fid, &have, err)) ||
            (have &&
             (e = bk_store_job_earlier(tx, FANOUT_KIND, fid, &found, err))))
            goto out;
        if (found)
            earlier = "an earlier event's fan-out";
    }
    bk_store_rollback(tx);
    tx = NULL;
    m.attempts = job->attempts;
    m.job_id = job->id;
    if (m.status != BK_WH_MESSAGE_PENDING) /* settled meanwhile */
        return settle(store, job, &m, &ep, false, NULL, true, false, err);
    if (ep.status != BK_WH_ENDPOINT_ENABLED) {
        m.status = BK_WH_MESSAGE_FAILED;
        m.last_error = "the endpoint is disabled";
        return settle(store, job, &m, &ep, false, NULL, true, false, err);
    }
    if (found) /* one resource's messages arrive in order */
        return bk_fail(err, BK_E_RETRY,
                       "waiting for %s, an earlier message "
                       "about the same %s",
                       earlier, m.subject);

    /* The POST leaves the database: hold the job for a full lease first,
     * and send nothing if another worker took it (jobs.h). */
    if ((e = bk_outwebhooks_secret(ow->cfg.secret_key, &ep, arena, &secret,
                                   err)) ||
        (e = bk_jobs_fence(store, job, err)))
        goto out;
    ts = bk_now_utc();
    if ((e = bk_outwebhooks_sign(secret, m.public_id, ts, m.body,
                                 strlen(m.body), sig, err)))
        goto out;
    snprintf(h_id, sizeof(h_id), "webhook-id: %s", m.public_id);
    snprintf(h_ts, sizeof(h_ts), "webhook-timestamp: %" PRId64, ts);
    snprintf(h_sig, sizeof(h_sig), "webhook-signature: %s", sig);
    headers[0] = h_id;
    headers[1] = h_ts;
    headers[2] = h_sig;
    memset(&post, 0, sizeof(post));
    post.url = ep.url;
    post.body = m.body;
    post.body_len = strlen(m.body);
    post.headers = headers;
    post.n_headers = 3;
    post.connect_timeout_ms = ow->cfg.connect_timeout_ms;
    post.timeout_ms = ow->cfg.timeout_ms;
    post.max_response = MAX_ANSWER;
    post.allow_private = ow->cfg.allow_private;
    bk_errbuf_clear(&nerr);
    ne = bk_net_post(&post, arena, &res, &nerr);
    now_ms = bk_now_ms();
    m.last_status_code = ne ? 0 : res.status;
    m.last_duration_ms = res.duration_ms;
    if (!ne && res.status >= 200 && res.status < 300) {
        m.status = BK_WH_MESSAGE_DELIVERED;
        m.last_error = NULL;
        m.delivered_ms = now_ms;
        ep.updated_ms = now_ms;
        bool was_failing = ep.failing_since_ms != 0;
        ep.failing_since_ms = 0;
        return settle(store, job, &m, &ep, was_failing, NULL, true, true, err);
    }
    if (!ne && res.status == 410) {
        m.status = BK_WH_MESSAGE_FAILED;
        m.last_error = "410 Gone: the receiver asked to be disabled";
        return settle(store, job, &m, &ep, false,
                      "the receiver answered 410 Gone", true, true, err);
    }
    if (ne)
        snprintf(reason, sizeof(reason), "%s", nerr.msg);
    else
        snprintf(reason, sizeof(reason), "HTTP %d", res.status);
    m.last_error = reason;
    if (!ep.failing_since_ms)
        ep.failing_since_ms = now_ms;
    ep.updated_ms = now_ms;
    if (now_ms - ep.failing_since_ms >= ow->cfg.disable_after_ms) {
        char why[400];
        snprintf(why, sizeof(why), "failing since %" PRId64 " ms (last: %s)",
                 now_ms - ep.failing_since_ms, reason);
        m.status = BK_WH_MESSAGE_FAILED;
        return settle(store, job, &m, &ep, true, bk_arena_strdup(arena, why),
                      true, true, err);
    }
    if ((e = settle(store, job, &m, &ep, true, NULL, false, true, err)))
        return e;
    /* A refused address is permanent (the job goes dead); anything else is
     * retried with the queue's backoff. */
    return bk_fail(err, ne == BK_E_INVALID ? BK_E_INVALID : BK_E_RETRY, "%s",
                   reason);
out:
    bk_store_rollback(tx);
    return e;
}

/* Out of attempts (or refused): the message has failed. */
static enum bk_err send_dead(void *ctx, struct bk_tx *tx,
                             const struct bk_job *job, const char *error,
                             struct bk_errbuf *err)
{
    struct bk_arena arena;
    struct bk_wh_message m;
    int64_t id = 0;
    enum bk_err e;

    (void)ctx;
    if (job_message(job, &id, NULL) != BK_OK)
        return BK_OK;
    bk_arena_init(&arena);
    e = bk_store_wh_message_get(tx, NULL, id, &arena, &m, err);
    if (e == BK_E_NOT_FOUND) { /* its endpoint was deleted */
        e = BK_OK;
        goto out;
    }
    if (e || m.status != BK_WH_MESSAGE_PENDING)
        goto out;
    m.status = BK_WH_MESSAGE_FAILED;
    m.attempts = job->attempts;
    m.last_error = error;
    m.updated_ms = bk_now_ms();
    e = bk_store_wh_message_record(tx, &m, err);
out:
    bk_arena_release(&arena);
    return e;
}

void bk_outwebhooks_fanout_kind(struct bk_outwebhooks *ow,
                                struct bk_job_kind *out)
{
    memset(out, 0, sizeof(*out));
    out->name = FANOUT_KIND;
    out->run = fanout_run;
    out->ctx = ow;
}

void bk_outwebhooks_send_kind(struct bk_outwebhooks *ow,
                              struct bk_job_kind *out)
{
    memset(out, 0, sizeof(*out));
    out->name = SEND_KIND;
    out->run = send_run;
    out->on_dead = send_dead;
    out->ctx = ow;
}
