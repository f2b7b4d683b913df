/* api/ops.c — GET /healthz, GET /readyz, GET /api/v1/activity and
 * GET /api/v1/providers. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "api/internal.h"
#include "api/json.h"
#include "api/render.h"
#include "base/buf.h"
#include "base/log.h"
#include "base/str.h"
#include "base/time.h"
#include "jobs/inbox.h"
#include "jobs/jobs.h"
#include "net/limits.h"
#include "base/banned.h"

static enum bk_err healthz(struct bk_api_call *c)
{
    bk_api_reply(c, 200, json_pack("{s:s}", "status", "ok"));
    return BK_OK;
}

/* The reason of the last /readyz that failed for another reason than a
 * full disk (which the store logs), "" after a success; under
 * readyz_mu. */
static pthread_mutex_t readyz_mu = PTHREAD_MUTEX_INITIALIZER;
static char readyz_last[160];

/* Logs why the daemon is not ready once per change of reason, not once per
 * poll (a load balancer polls every few seconds). */
static void readyz_note(const char *why)
{
    bool changed;

    pthread_mutex_lock(&readyz_mu);
    changed = strcmp(readyz_last, why) != 0;
    if (changed)
        bk_strlcpy(readyz_last, why, sizeof(readyz_last));
    pthread_mutex_unlock(&readyz_mu);
    if (changed && why[0])
        bk_log_warn("readyz: not ready: %s", why);
    else if (changed)
        bk_log_info("readyz: ready again");
}

/* GET /readyz: the database (reads and writes), the job workers and the
 * inbox's committer. Each part is "ok" or says what is wrong; any that is
 * not makes the answer 503 with every part in details.checks. */
static enum bk_err readyz(struct bk_api_call *c)
{
    struct bk_jobs_health jh;
    struct bk_inbox_health ih;
    struct bk_errbuf dberr;
    const char *db = "ok", *workers = "ok", *inbox = "ok";
    char why[160] = "";
    size_t n = 0;
    json_t *checks, *failed;
    enum bk_err e, code = BK_E_UNAVAILABLE;

    /* Reads and writes (store.h: a write probe at most once a second). The
     * detail is in the server log; the public answer names the class. */
    bk_errbuf_clear(&dberr);
    e = bk_store_ready(c->api->store, &dberr);
    if (e == BK_E_STORAGE_FULL) {
        db = "storage_full";
        code = e;
    } else if (e) {
        db = "unavailable";
        n += (size_t)snprintf(why, sizeof(why), "database: %s: %s",
                              bk_err_name(e), dberr.msg);
    }
    bk_jobs_health(c->api->jobs, c->api->ready_stall_ms, &jh);
    if (jh.dead)
        workers = "dead";
    else if (jh.stalled)
        workers = "stalled";
    if (jh.dead || jh.stalled)
        n += (size_t)snprintf(
            why + (n < sizeof(why) ? n : sizeof(why) - 1),
            n < sizeof(why) ? sizeof(why) - n : 1,
            "%sworkers: %d of %d dead, %d busy for more than %lld ms",
            n ? "; " : "", jh.dead, jh.workers, jh.stalled,
            (long long)c->api->ready_stall_ms);
    bk_inbox_health(c->api->inbox, c->api->ready_stall_ms, &ih);
    if (ih.stalled) {
        inbox = "stalled";
        snprintf(why + (n < sizeof(why) ? n : sizeof(why) - 1),
                 n < sizeof(why) ? sizeof(why) - n : 1,
                 "%sinbox: one batch has taken %lld ms", n ? "; " : "",
                 (long long)ih.busy_ms);
    }
    readyz_note(why);

    checks = json_pack("{s:s, s:s, s:s}", "database", db, "workers",
                       jh.workers || jh.dead ? workers : "none", "inbox",
                       c->api->inbox ? inbox : "none");
    if (strcmp(db, "ok") == 0 && strcmp(workers, "ok") == 0 &&
        strcmp(inbox, "ok") == 0) {
        bk_api_reply(c, 200,
                     json_pack("{s:s, s:s, s:o}", "status", "ready", "database",
                               bk_store_backend(c->api->store), "checks",
                               checks));
        return BK_OK;
    }
    failed = json_array();
    if (strcmp(db, "ok") != 0)
        json_array_append_new(failed, json_string("database"));
    if (strcmp(workers, "ok") != 0)
        json_array_append_new(failed, json_string("workers"));
    if (strcmp(inbox, "ok") != 0)
        json_array_append_new(failed, json_string("inbox"));
    bk_api_error_extra(
        c, json_pack("{s:o, s:o, s:{s:i, s:i, s:i, s:I}, s:{s:I, s:i}}",
                     "checks", checks, "failed", failed, "workers", "total",
                     jh.workers, "stalled", jh.stalled, "dead", jh.dead,
                     "longest_busy_ms", (json_int_t)jh.longest_busy_ms, "inbox",
                     "busy_ms", (json_int_t)ih.busy_ms, "queued", ih.queued));
    if (code == BK_E_STORAGE_FULL)
        return bk_fail(c->err, code,
                       "the database cannot take writes: no room");
    return bk_fail(c->err, BK_E_UNAVAILABLE, "not ready: %s",
                   strcmp(db, "ok") != 0 ? "the database does not answer"
                   : strcmp(workers, "ok") != 0
                       ? "the job workers are not running"
                       : "the webhook inbox is not committing");
}

/* GET /api/v1/activity?kind=&booking=&limit=&cursor= — newest first. */
static enum bk_err activity_list(struct bk_api_call *c)
{
    struct bk_activity *rows = NULL;
    struct bk_booking b;
    const char *kind = bk_http_query(c->req, "kind");
    const char *uid = bk_http_query(c->req, "booking");
    const char *next = NULL;
    int64_t before = 0, unused;
    int limit;
    bool has_cursor;
    size_t n = 0;
    json_t *data;
    enum bk_err e;

    if ((e = bk_api_limit(c->req, &limit, c->err)) ||
        (e = bk_api_cursor(c->req, 'a', &before, &unused, &has_cursor, c->err)))
        return e;
    memset(&b, 0, sizeof(b));
    if (uid) {
        e = bk_store_booking_by_uid(c->tx, uid, c->arena, &b, c->err);
        if (e == BK_E_NOT_FOUND) { /* as the bookings list: nothing */
            bk_api_reply_list(c, json_array(), NULL);
            return BK_OK;
        }
        if (e)
            return e;
    }
    if ((e = bk_store_activity_list(c->tx, kind, b.id, before, limit + 1,
                                    c->arena, &rows, &n, c->err)))
        return e;
    if (n > (size_t)limit) {
        n = (size_t)limit;
        next = bk_api_cursor_encode(c->arena, 'a', rows[n - 1].id, 0);
    }
    data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, bk_render_activity(&rows[i]));
    bk_api_reply_list(c, data, next);
    return BK_OK;
}

/* GET /metrics (admin): Prometheus text exposition format 0.0.4. */
static enum bk_err metrics(struct bk_api_call *c)
{
    static const char *const job_status[] = {"pending", "running", "done",
                                             "dead"};
    struct bk_inbox_stats st;
    struct bk_buf b;
    struct bk_job_count *by_kind = NULL;
    size_t n_kinds = 0;
    int64_t counts[4], messages[3];
    enum bk_err e;

    bk_buf_init(&b, 4 * 1024 * 1024);
    memset(&st, 0, sizeof(st));
    if (c->api->inbox)
        bk_inbox_stats(c->api->inbox, &st);
    if ((e = bk_store_job_counts(c->tx, counts, c->err)) ||
        (e = bk_store_job_counts_by_kind(c->tx, c->arena, &by_kind, &n_kinds,
                                         c->err)) ||
        (e = bk_store_wh_message_counts(c->tx, messages, c->err)))
        goto out;
    e = bk_buf_appendf(
        &b,
        "# HELP bookingd_inbox_deliveries_total Webhook deliveries taken in "
        "since start, by outcome.\n"
        "# TYPE bookingd_inbox_deliveries_total counter\n"
        "bookingd_inbox_deliveries_total{outcome=\"stored\"} %llu\n"
        "bookingd_inbox_deliveries_total{outcome=\"duplicate\"} %llu\n"
        "bookingd_inbox_deliveries_total{outcome=\"refused\"} %llu\n"
        "# HELP bookingd_inbox_batches_total Inbox transactions committed "
        "since start (group commit).\n"
        "# TYPE bookingd_inbox_batches_total counter\n"
        "bookingd_inbox_batches_total %llu\n"
        "# HELP bookingd_jobs Jobs in the queue, by status.\n"
        "# TYPE bookingd_jobs gauge\n",
        (unsigned long long)st.stored, (unsigned long long)st.replays,
        (unsigned long long)st.failures, (unsigned long long)st.batches);
    for (int i = 0; !e && i < 4; i++)
        e = bk_buf_appendf(&b, "bookingd_jobs{status=\"%s\"} %lld\n",
                           job_status[i], (long long)counts[i]);
    if (!e)
        e = bk_buf_appendf(&b, "# HELP bookingd_jobs_by_kind Jobs in the "
                               "queue, by kind and state (queued, retrying, "
                               "running, done, dead).\n"
                               "# TYPE bookingd_jobs_by_kind gauge\n");
    /* Kinds are names from the daemon's own table (cli/kinds.c): no
     * label escaping is needed beyond what the names allow. */
    for (size_t i = 0; !e && i < n_kinds; i++)
        e = bk_buf_appendf(
            &b, "bookingd_jobs_by_kind{kind=\"%s\",status=\"%s\"} %lld\n",
            by_kind[i].kind,
            bk_render_job_state(by_kind[i].status, by_kind[i].retrying),
            (long long)by_kind[i].n);
    if (!e)
        e = bk_buf_appendf(
            &b,
            "# HELP bookingd_webhook_messages Outbound webhook messages, by "
            "outcome.\n"
            "# TYPE bookingd_webhook_messages gauge\n"
            "bookingd_webhook_messages{status=\"pending\"} %lld\n"
            "bookingd_webhook_messages{status=\"delivered\"} %lld\n"
            "bookingd_webhook_messages{status=\"failed\"} %lld\n",
            (long long)messages[0], (long long)messages[1],
            (long long)messages[2]);
    if (!e)
        e = bk_api_metrics_render(c->api, &b);
    if (e)
        goto out;
    bk_api_reply_raw(c, 200, "text/plain; version=0.0.4; charset=utf-8",
                     bk_arena_memdup(c->arena, b.data, b.len), b.len);
out:
    bk_buf_release(&b);
    return e;
}

static json_t *instant_ms(int64_t ms)
{
    return ms ? bk_render_instant(bk_floordiv(ms, 1000), NULL) : json_null();
}

/* GET /api/v1/providers: each provider's rate limit and circuit breaker in
 * this process (net/limits.h), by name; only providers configured or
 * called since the start are listed. */
static enum bk_err providers_list(struct bk_api_call *c)
{
    struct bk_net_provider_status *st;
    size_t n;
    json_t *data = json_array();

    st = bk_arena_alloc(c->arena, sizeof(*st) * BK_NET_LIMIT_SLOTS);
    n = bk_net_limiter_status(bk_net_limits(), st, BK_NET_LIMIT_SLOTS);
    for (size_t i = 0; i < n; i++) {
        const struct bk_net_provider_status *p = &st[i];
        json_array_append_new(
            data,
            json_pack(
                "{s:s, s:s, s:i, s:o, s:o, s:o, s:{s:o, s:i, s:f}, "
                "s:{s:i, s:I}, s:{s:I, s:I, s:I, s:I}}",
                "provider", p->provider, "state", p->state,
                "consecutive_failures", p->consecutive_failures, "opened_at",
                instant_ms(p->opened_at_ms), "next_probe_at",
                instant_ms(p->next_probe_ms), "paused_until",
                instant_ms(p->paused_until_ms), "bucket", "rate_per_second",
                p->limit.rate > 0.0 ? json_real(p->limit.rate) : json_null(),
                "burst", p->limit.burst, "tokens", p->tokens, "breaker",
                "failures_to_open", p->limit.failures, "cooldown_seconds",
                (json_int_t)(p->limit.cooldown_ms / 1000), "counts", "requests",
                (json_int_t)p->requests, "waited", (json_int_t)p->waited,
                "refused", (json_int_t)p->refused, "failed",
                (json_int_t)p->failed));
    }
    /* One answer: the table holds at most BK_NET_LIMIT_SLOTS. */
    bk_api_reply(c, 200, json_pack("{s:o}", "data", data));
    return BK_OK;
}

const struct bk_api_route bk_api_ops_routes[] = {
    {"GET", "/metrics", metrics, BK_ROUTE_ADMIN, BK_ROUTE_READ},
    {"GET", "/healthz", healthz, BK_ROUTE_PUBLIC, BK_ROUTE_NONE},
    {"GET", "/readyz", readyz, BK_ROUTE_PUBLIC, BK_ROUTE_NONE},
    {"GET", "/api/v1/activity", activity_list, BK_ROUTE_ADMIN, BK_ROUTE_READ},
    {"GET", "/api/v1/providers", providers_list, BK_ROUTE_ADMIN, BK_ROUTE_NONE},
};
const size_t bk_api_ops_n =
    sizeof(bk_api_ops_routes) / sizeof(bk_api_ops_routes[0]);
