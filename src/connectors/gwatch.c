/* connectors/gwatch.c — Google watch channels (gwatch.h). A channel's id
 * is a random UUID, its token the keyed token of that id (crypto.h,
 * BK_TOKEN_GOOGLE_CHANNEL), recomputed by the route that verifies a
 * notification; the rows are google_channels (store.h). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "base/log.h"
#include "base/str.h"
#include "base/time.h"
#include "api/json.h"
#include "connectors/gwatch.h"
#include "crypto/crypto.h"
#include "base/banned.h"

#define WATCH_KIND "calendars.gwatch"
#define PULL_KIND  "calendars.gpull"
/* Requests one run makes at most (the rest waits for the next run). */
#define MAX_CALLS 200

static int64_t period_ms(const struct bk_gwatch_config *cfg)
{
    int64_t p = cfg->ttl_ms / 4;

    if (p > 3600000)
        p = 3600000;
    return p < 1000 ? 1000 : p;
}

static void new_uuid(char out[37])
{
    unsigned char b[16];
    static const char hex[] = "0123456789abcdef";
    size_t k = 0;

    bk_random_bytes(b, sizeof(b));
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[k++] = '-';
        out[k++] = hex[b[i] >> 4];
        out[k++] = hex[b[i] & 15];
    }
    out[k] = '\0';
}

/* Whether conn reads or writes calendar id (busy or write). */
static bool wanted(const struct bk_cal_connection *conn, const char *id)
{
    json_t *cals =
        json_loads(conn->calendars ? conn->calendars : "[]", 0, NULL);
    json_t *c;
    size_t i;
    bool yes = false;

    json_array_foreach(cals, i, c)
    {
        const char *href = json_string_value(json_object_get(c, "href"));
        if (href && strcmp(href, id) == 0 &&
            (json_is_true(json_object_get(c, "busy")) ||
             json_is_true(json_object_get(c, "write"))))
            yes = true;
    }
    json_decref(cals);
    return yes;
}

/* channels.stop; true when the channel is gone (stopped, or unknown to
 * Google, or cannot be stopped: the grant was revoked), false to try
 * again at the next run. */
static bool stop(const struct bk_gwatch_config *cfg, struct bk_store *store,
                 const struct bk_cal_connection *conn,
                 const struct bk_gchannel *ch, struct bk_arena *arena)
{
    struct bk_net_response r;
    const char *error = NULL;
    bool auth_failed = false;
    json_t *body = json_pack("{s:s, s:s}", "id", ch->channel_id, "resourceId",
                             ch->resource_id ? ch->resource_id : "");
    char *text = bk_json_dump(arena, body, NULL);

    json_decref(body);
    if (!bk_calendars_google_call(cfg->cal, store, conn, "POST",
                                  "/channels/stop", text, arena, &r, &error,
                                  &auth_failed)) {
        bk_log_info("calendars: %s: stopping channel %s: %s",
                    ch->connection_public_id, ch->channel_id, error);
        return auth_failed || ch->expiration_ms <= bk_now_ms();
    }
    if (r.status / 100 == 2 || r.status == 404) {
        bk_log_info("calendars: %s: channel %s on %s stopped",
                    ch->connection_public_id, ch->channel_id, ch->calendar_id);
        return true;
    }
    bk_log_warn("calendars: %s: stopping channel %s: %s",
                ch->connection_public_id, ch->channel_id,
                bk_google_error_text(&r, arena));
    return r.status / 100 == 4; /* refused: it will expire */
}

/* events.watch on calendar id; the new channel is stored. */
static enum bk_err watch(const struct bk_gwatch_config *cfg,
                         struct bk_store *store,
                         const struct bk_cal_connection *conn, const char *id,
                         struct bk_arena *arena, struct bk_errbuf *err)
{
    struct bk_net_response r;
    struct bk_gchannel ch;
    struct bk_tx *tx = NULL;
    const char *error = NULL, *rid, *exp_text;
    char uuid[37], token[48];
    bool auth_failed = false;
    int64_t now = bk_now_ms(), exp = now + cfg->ttl_ms, v = 0;
    json_t *body, *ans;
    char *text;
    enum bk_err e;

    new_uuid(uuid);
    bk_keyed_token(cfg->manage_secret, BK_TOKEN_GOOGLE_CHANNEL, uuid, token);
    body = json_pack("{s:s, s:s, s:s, s:s, s:I}", "id", uuid, "type",
                     "web_hook", "address", cfg->address, "token", token,
                     "expiration", (json_int_t)exp);
    text = bk_json_dump(arena, body, NULL);
    json_decref(body);
    if (!bk_calendars_google_call(cfg->cal, store, conn, "POST",
                                  bk_arena_printf(arena,
                                                  "/calendars/%s/events/watch",
                                                  bk_str_qenc(arena, id)),
                                  text, arena, &r, &error, &auth_failed))
        return bk_fail(err, BK_E_IO, "%s", error);
    if (r.status != 200)
        return bk_fail(err, r.status / 100 == 4 ? BK_E_INVALID : BK_E_IO, "%s",
                       bk_google_error_text(&r, arena));
    ans = json_loads(r.body ? r.body : "", 0, NULL);
    rid = json_string_value(json_object_get(ans, "resourceId"));
    exp_text = json_string_value(json_object_get(ans, "expiration"));
    /* Google answers the expiration as a string of ms (int64 in JSON). */
    if (exp_text && bk_parse_i64(exp_text, 0, INT64_MAX, &v) == BK_OK && v)
        exp = v;
    else if (json_is_integer(json_object_get(ans, "expiration")))
        exp = (int64_t)json_integer_value(json_object_get(ans, "expiration"));
    memset(&ch, 0, sizeof(ch));
    ch.channel_id = uuid;
    ch.connection_id = conn->id;
    ch.connection_public_id = conn->public_id;
    ch.calendar_id = id;
    ch.resource_id = rid ? bk_arena_strdup(arena, rid) : NULL;
    ch.expiration_ms = exp;
    ch.created_ms = now;
    json_decref(ans);
    if (!ch.resource_id || strlen(ch.resource_id) > 256) {
        e = bk_fail(err, BK_E_MALFORMED,
                    "the watch answer has no usable resourceId");
        ch.expiration_ms = now; /* stop what Google may have opened */
        (void)stop(cfg, store, conn, &ch, arena);
        return e;
    }
    if (!(e = bk_store_begin(store, BK_TX_WRITE, &tx, err)) &&
        !(e = bk_store_gchannel_insert(tx, &ch, err))) {
        e = bk_store_commit(tx, err);
        tx = NULL;
    }
    bk_store_rollback(tx);
    if (e) { /* not stored: it would be unknown to the route */
        ch.expiration_ms = now;
        (void)stop(cfg, store, conn, &ch, arena);
        return e;
    }
    bk_log_info("calendars: %s: channel %s on %s, until %" PRId64,
                conn->public_id, uuid, id, exp);
    return BK_OK;
}

static enum bk_err forget(struct bk_store *store, int64_t id,
                          struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    enum bk_err e;

    if (!(e = bk_store_begin(store, BK_TX_WRITE, &tx, err)) &&
        !(e = bk_store_gchannel_delete(tx, id, err))) {
        e = bk_store_commit(tx, err);
        tx = NULL;
    }
    bk_store_rollback(tx);
    return e;
}

static const struct bk_cal_connection *
conn_by_id(const struct bk_cal_connection *conns, size_t n, int64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (conns[i].id == id)
            return &conns[i];
    return NULL;
}

/* One pass: stops what is not wanted, opens what is missing, renews
 * what is due. */
static enum bk_err pass(const struct bk_gwatch_config *cfg,
                        struct bk_store *store, struct bk_arena *arena,
                        struct bk_errbuf *err)
{
    struct bk_cal_connection *conns = NULL;
    struct bk_gchannel *chs = NULL;
    struct bk_tx *tx = NULL;
    size_t n_conns = 0, n_chs = 0;
    int64_t now = bk_now_ms();
    int calls = 0;
    bool *live;
    enum bk_err e;

    if ((e = bk_store_begin(store, BK_TX_READ, &tx, err)) ||
        (e = bk_store_cal_list_host(tx, 0, NULL, arena, &conns, &n_conns,
                                    err)) ||
        (e = bk_store_gchannel_list(tx, arena, &chs, &n_chs, err))) {
        bk_store_rollback(tx);
        return e;
    }
    bk_store_rollback(tx);
    live = bk_arena_alloc(arena, (n_chs ? n_chs : 1) * sizeof(*live));
    /* Which channels stay: a live connection that still wants the
     * calendar, watching allowed, and more than half its life left. */
    for (size_t i = 0; i < n_chs; i++) {
        const struct bk_cal_connection *c =
            conn_by_id(conns, n_conns, chs[i].connection_id);
        live[i] = cfg->address && c && c->status != BK_CAL_NEEDS_AUTH &&
                  strcmp(c->kind, "google") == 0 &&
                  wanted(c, chs[i].calendar_id) &&
                  chs[i].expiration_ms - now > cfg->ttl_ms / 2;
    }
    /* Open what is missing first (a renewal's new channel before the old
     * one stops, so no change falls between them). */
    for (size_t k = 0; cfg->address && k < n_conns; k++) {
        const struct bk_cal_connection *c = &conns[k];
        json_t *cals, *cal;
        size_t j;
        if (strcmp(c->kind, "google") != 0 || c->status == BK_CAL_NEEDS_AUTH)
            continue;
        cals = json_loads(c->calendars ? c->calendars : "[]", 0, NULL);
        json_array_foreach(cals, j, cal)
        {
            const char *id = json_string_value(json_object_get(cal, "href"));
            bool have = false;
            struct bk_errbuf why;
            if (!id || !wanted(c, id))
                continue;
            for (size_t i = 0; i < n_chs && !have; i++)
                have = live[i] && chs[i].connection_id == c->id &&
                       strcmp(chs[i].calendar_id, id) == 0;
            if (have || calls++ >= MAX_CALLS)
                continue;
            bk_errbuf_clear(&why);
            if (watch(cfg, store, c, id, arena, &why))
                bk_log_warn("calendars: %s: cannot watch %s: %s", c->public_id,
                            id, why.msg);
        }
        json_decref(cals);
    }
    /* Then stop what is not live. */
    for (size_t i = 0; i < n_chs; i++) {
        const struct bk_cal_connection *c =
            conn_by_id(conns, n_conns, chs[i].connection_id);
        struct bk_cal_connection gone;
        bool done;
        if (live[i])
            continue;
        if (!c) { /* deleted: its credential was kept in the row */
            memset(&gone, 0, sizeof(gone));
            gone.public_id = chs[i].connection_public_id;
            gone.kind = "google";
            gone.credential = chs[i].stop_credential;
            c = &gone;
        }
        if (chs[i].expiration_ms <= now || !c->credential)
            done = true; /* expired, or nothing can stop it: it expires */
        else if (calls++ >= MAX_CALLS)
            done = false; /* the next run */
        else
            done = stop(cfg, store, c, &chs[i], arena);
        if (done && (e = forget(store, chs[i].id, err)))
            return e;
    }
    return BK_OK;
}

static enum bk_err watch_schedule(void *ctx, struct bk_tx *tx, int64_t now_ms,
                                  struct bk_errbuf *err)
{
    const struct bk_gwatch_config *cfg = ctx;

    if (!cfg->cal->google || !cfg->cal->google->client_id)
        return BK_OK; /* no Google connection can exist */
    return bk_jobs_enqueue_period(tx, WATCH_KIND, period_ms(cfg),
                                  cfg->max_attempts, now_ms, true, -1, err);
}

static enum bk_err watch_run(void *ctx, struct bk_store *store,
                             const struct bk_job *job, struct bk_arena *arena,
                             struct bk_errbuf *err)
{
    const struct bk_gwatch_config *cfg = ctx;
    enum bk_err e;

    if (cfg->cal->secret_key && (e = pass(cfg, store, arena, err)))
        return e;
    /* after: this run's period, so that a backward step of the wall
     * clock does not enqueue a period whose key a run already used (the
     * chain of runs would stop there); -1 for the run a new connection
     * asked for. */
    return bk_jobs_finish_period(store, job, true, period_ms(cfg),
                                 cfg->max_attempts,
                                 bk_jobs_period_of(job, WATCH_KIND), err);
}

void bk_gwatch_kind(const struct bk_gwatch_config *cfg, struct bk_job_kind *out)
{
    memset(out, 0, sizeof(*out));
    out->name = WATCH_KIND;
    out->run = watch_run;
    out->schedule = watch_schedule;
    out->ctx = (void *)cfg;
}

static enum bk_err pull_run(void *ctx, struct bk_store *store,
                            const struct bk_job *job, struct bk_arena *arena,
                            struct bk_errbuf *err)
{
    const struct bk_gwatch_config *cfg = ctx;
    struct bk_sync_summary sum;
    struct bk_calendars_scope scope = {.connection = job->payload};
    struct bk_tx *tx = NULL;
    enum bk_err e;

    e = bk_calendars_sync(cfg->cal, store, &scope, bk_now_utc(), arena, &sum,
                          err);
    if (e == BK_E_NOT_FOUND) /* the connection was deleted meanwhile */
        e = BK_OK;
    if (e)
        return e;
    bk_log_debug("calendars: %s: pulled after a notification (%" PRId64
                 " events, %zu errors)",
                 job->payload, sum.total, sum.n_errors);
    if ((e = bk_store_begin(store, BK_TX_QUEUE, &tx, err)) ||
        (e = bk_jobs_finish(tx, job, err)))
        goto out;
    e = bk_store_commit(tx, err);
    tx = NULL;
out:
    bk_store_rollback(tx);
    return e;
}

void bk_gwatch_pull_kind(const struct bk_gwatch_config *cfg,
                         struct bk_job_kind *out)
{
    memset(out, 0, sizeof(*out));
    out->name = PULL_KIND;
    out->run = pull_run;
    out->ctx = (void *)cfg;
}
