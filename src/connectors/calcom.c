/* connectors/calcom.c — Cal.com's API v2 call and the "calcom.push" job.
 * The job reconciles Cal.com with the ledger rather than replaying the
 * change: it reads the booking as it is now, skips changes Cal.com itself
 * reported (their activity's source is "calcom") and bookings from
 * elsewhere, then reads the Cal.com booking (GET /v2/bookings/{uid},
 * following rescheduledToUid to the live one) and sends only what differs:
 * a cancellation (POST .../cancel) when the ledger's booking is cancelled
 * and Cal.com's is not, a reschedule (POST .../reschedule) when the start
 * differs. A repeat after a crash between the call and the job's
 * completion therefore finds Cal.com already changed and sends nothing.
 * A reschedule makes a new Cal.com booking (a new uid): it is linked to
 * the ledger booking, and the old uid marked superseded, in the
 * transaction that finishes the job, so that Cal.com's echo webhook
 * (BOOKING_RESCHEDULED, uid the new one) is recognized as applied. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "connectors/calcom.h"
#include "base/log.h"
#include "base/str.h"
#include "base/time.h"
#include "core/ledger.h"
#include "net/net.h"
#include "store/store.h"
#include "base/banned.h"

#define JOB_KIND    "calcom.push"
#define PROVIDER    "calcom"
#define KIND_UID    "booking_uid"
#define KIND_ID     "booking_id"
#define MAX_ANSWER  (256 * 1024)
#define MAX_UID     200
#define MAX_REASON  1000
#define MAX_HOPS    8
#define MAX_WAIT_MS 3000

/* Until when every call waits (a Retry-After Cal.com gave), ms. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t gate_until_ms;

static enum bk_err wait_gate(struct bk_errbuf *err)
{
    for (;;) {
        int64_t left;
        struct timespec ts;

        pthread_mutex_lock(&gate_lock);
        left = gate_until_ms - bk_now_ms();
        pthread_mutex_unlock(&gate_lock);
        if (left <= 0)
            return BK_OK;
        if (left > MAX_WAIT_MS)
            return bk_fail(err, BK_E_RATE_LIMITED,
                           "Cal.com's rate limit: waiting %" PRId64
                           " s more (Retry-After)",
                           (left + 999) / 1000);
        ts.tv_sec = (time_t)(left / 1000);
        ts.tv_nsec = (long)(left % 1000) * 1000000L;
        nanosleep(&ts, NULL);
    }
}

static void close_gate(int seconds)
{
    int64_t until = bk_now_ms() + (int64_t)(seconds > 0 ? seconds : 1) * 1000;

    pthread_mutex_lock(&gate_lock);
    if (gate_until_ms < until)
        gate_until_ms = until;
    pthread_mutex_unlock(&gate_lock);
}

/* Cal.com's error message ({"error": {"message"}}), or the body's start. */
static const char *error_message(const struct bk_net_response *res,
                                 struct bk_arena *arena)
{
    json_t *j =
        res->body ? json_loadb(res->body, res->body_len, 0, NULL) : NULL;
    const char *m = json_string_value(
        json_object_get(json_object_get(j, "error"), "message"));
    const char *out =
        bk_arena_printf(arena, "%.200s", m ? m : (res->body ? res->body : ""));
    json_decref(j);
    return out;
}

enum bk_err bk_calcom_call(const struct bk_calcom_config *cfg,
                           const char *method, const char *path_query,
                           const char *version, const char *body,
                           size_t max_answer, struct bk_arena *arena,
                           int *status, json_t **data, struct bk_errbuf *err)
{
    char auth[600], ver[64];
    const char *headers[3];
    struct bk_net_request r;
    struct bk_net_response res;
    struct bk_errbuf nerr;
    json_error_t jerr;
    json_t *root;
    const char *st;
    enum bk_err e;
    size_t n = 0;

    *status = 0;
    *data = NULL;
    if (!cfg || !cfg->api_key)
        return bk_fail(err, BK_E_UNAVAILABLE, "CALCOM_API_KEY is not set");
    if ((e = wait_gate(err)))
        return e;
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", cfg->api_key);
    headers[n++] = auth;
    headers[n++] = "Accept: application/json";
    if (version) {
        snprintf(ver, sizeof(ver), "cal-api-version: %s", version);
        headers[n++] = ver;
    }
    memset(&r, 0, sizeof(r));
    r.method = method;
    r.url = bk_arena_printf(arena, "%s%s", cfg->api_base, path_query);
    if (body) {
        r.content_type = "application/json";
        r.body = body;
        r.body_len = strlen(body);
    }
    r.headers = headers;
    r.n_headers = n;
    r.connect_timeout_ms = cfg->connect_timeout_ms;
    r.timeout_ms = cfg->timeout_ms;
    r.max_response = max_answer;
    r.allow_private = cfg->allow_private;
    r.allow_private_env = "CALCOM_API_BASE";
    r.provider = PROVIDER;
    bk_errbuf_clear(&nerr);
    if ((e = bk_net_request(&r, arena, &res, &nerr)))
        /* BK_E_RATE_LIMITED: refused before it was sent (net's limiter). */
        return bk_fail(err, e == BK_E_RATE_LIMITED ? e : BK_E_IO, "Cal.com: %s",
                       nerr.msg);
    *status = res.status;
    if (res.status == 429) {
        close_gate(res.retry_after_s);
        return bk_fail(err, BK_E_RATE_LIMITED,
                       "Cal.com answered 429 (rate limited) to %s %s; "
                       "Retry-After %d s",
                       method, path_query,
                       res.retry_after_s > 0 ? res.retry_after_s : 1);
    }
    if (res.status == 401 || res.status == 403)
        return bk_fail(err, BK_E_UNAUTHORIZED,
                       "Cal.com answered %d to %s %s: check CALCOM_API_KEY "
                       "(%s)",
                       res.status, method, path_query,
                       error_message(&res, arena));
    if (res.status == 404)
        return bk_fail(err, BK_E_NOT_FOUND, "Cal.com answered 404 to %s %s",
                       method, path_query);
    if (res.status >= 400 && res.status < 500)
        return bk_fail(err, BK_E_INVALID, "Cal.com answered %d to %s %s: %s",
                       res.status, method, path_query,
                       error_message(&res, arena));
    if (res.status < 200 || res.status > 299)
        return bk_fail(err, BK_E_IO, "Cal.com answered %d to %s %s", res.status,
                       method, path_query);
    if (res.truncated)
        return bk_fail(err, BK_E_TOO_LARGE,
                       "Cal.com's answer to %s %s is over %zu bytes", method,
                       path_query, max_answer);
    root = json_loadb(res.body ? res.body : "", res.body_len,
                      JSON_REJECT_DUPLICATES, &jerr);
    st = json_string_value(json_object_get(root, "status"));
    if (!json_is_object(root) || !st || strcmp(st, "success") != 0 ||
        !json_object_get(root, "data")) {
        json_decref(root);
        return bk_fail(err, BK_E_MALFORMED,
                       "Cal.com's answer to %s %s is not its "
                       "{\"status\": \"success\", \"data\"} envelope",
                       method, path_query);
    }
    *data = json_incref(json_object_get(root, "data"));
    json_decref(root);
    return BK_OK;
}

/* ---- the push job ------------------------------------------------------- */

static struct bk_ledger_subscriber subscriber = {
    .name = "calcom",
    .job_kind = JOB_KIND,
    .kinds = BK_LEV_BIT(BK_LEV_BOOKING_CANCELLED) |
             BK_LEV_BIT(BK_LEV_BOOKING_RESCHEDULED),
};

enum bk_err bk_calcom_subscribe(int max_attempts, struct bk_errbuf *err)
{
    subscriber.max_attempts = max_attempts;
    return bk_ledger_subscribe(&subscriber, err);
}

/* What the ledger wants of Cal.com. */
struct plan {
    const char *skip;   /* nothing to do, because */
    const char *uid;    /* the live Cal.com uid linked to the booking */
    const char *buid;   /* ours */
    int64_t booking_id; /* ours */
    bool cancel;        /* else: be at start_utc */
    const char *reason; /* of the cancellation */
    int64_t start_utc;
    const char *host_email; /* rescheduledBy: the host's auto-confirms */
};

static enum bk_err make_plan(struct bk_store *store, const char *event,
                             int64_t booking_id, int64_t activity_id,
                             struct bk_arena *arena, struct plan *p,
                             struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    struct bk_booking b;
    struct bk_activity *acts = NULL;
    struct bk_link *links = NULL;
    size_t n_acts = 0, n_links = 0;
    enum bk_err e;

    memset(p, 0, sizeof(*p));
    p->booking_id = booking_id;
    if ((e = bk_store_begin(store, BK_TX_READ, &tx, err)))
        return e;
    e = bk_store_booking_get(tx, booking_id, arena, &b, err);
    if (e == BK_E_NOT_FOUND) {
        p->skip = "the booking no longer exists";
        e = BK_OK;
        goto out;
    }
    if (e)
        goto out;
    p->buid = b.uid;
    if (b.source != BK_SOURCE_CALCOM) {
        p->skip = "not a Cal.com booking";
        goto out;
    }
    /* The change's own activity row says who made it. */
    if ((e = bk_store_activity_list(tx, event, booking_id, activity_id + 1, 1,
                                    arena, &acts, &n_acts, err)))
        goto out;
    if (n_acts && acts[0].id == activity_id && acts[0].source &&
        strcmp(acts[0].source, PROVIDER) == 0) {
        p->skip = "Cal.com reported this change";
        goto out;
    }
    if (b.status == BK_BOOKING_CANCELLED) {
        p->cancel = true;
        p->reason = b.cancellation_reason;
    } else if (b.status == BK_BOOKING_CONFIRMED ||
               b.status == BK_BOOKING_PENDING) {
        struct bk_host h;
        p->start_utc = b.start_utc;
        e = bk_store_host_get(tx, b.host_id, arena, &h, err);
        if (e == BK_E_NOT_FOUND)
            e = BK_OK;
        else if (!e && bk_email_valid(h.email))
            p->host_email = h.email;
        if (e)
            goto out;
    } else {
        p->skip = "the booking is over";
        goto out;
    }
    if ((e = bk_store_link_list(tx, BK_LINK_BOOKING, booking_id, arena, &links,
                                &n_links, err)))
        goto out;
    /* The newest live uid (links come oldest first). */
    for (size_t i = n_links; i-- > 0;)
        if (strcmp(links[i].provider, PROVIDER) == 0 &&
            strcmp(links[i].kind, KIND_UID) == 0 && !links[i].superseded) {
            p->uid = links[i].external_id;
            break;
        }
    if (!p->uid)
        p->skip = "no live Cal.com booking is linked";
out:
    bk_store_rollback(tx);
    return e;
}

/* A Cal.com uid fit for a path segment. */
static bool uid_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;

    if (!n || n > MAX_UID)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
            return false;
    return true;
}

/* Links the new Cal.com booking (uid, numeric id) to ours, the old uid
 * superseded, and finishes the job: one transaction. */
static enum bk_err relink_finish(struct bk_store *store,
                                 const struct bk_job *job, const struct plan *p,
                                 const char *new_uid, const char *new_id,
                                 struct bk_arena *arena, struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    struct bk_link l, got;
    bool existed;
    int64_t now = bk_now_utc();
    enum bk_err e = bk_store_begin(store, BK_TX_WRITE, &tx, err);

    for (int i = 0; !e && i < 2; i++) {
        const char *id = i == 0 ? new_uid : new_id;
        if (!id)
            continue;
        memset(&l, 0, sizeof(l));
        l.entity = BK_LINK_BOOKING;
        l.entity_id = p->booking_id;
        l.provider = PROVIDER;
        l.kind = i == 0 ? KIND_UID : KIND_ID;
        l.external_id = id;
        l.created_utc = now;
        e = bk_store_link_put(tx, &l, arena, &got, &existed, err);
        if (!e && existed && got.entity == BK_LINK_BOOKING &&
            got.entity_id == p->booking_id && got.superseded) {
            got.superseded = false;
            e = bk_store_link_update(tx, &got, err);
        }
    }
    if (!e && strcmp(p->uid, new_uid) != 0) {
        e = bk_store_link_find(tx, PROVIDER, KIND_UID, p->uid, arena, &got,
                               err);
        if (!e && !got.superseded) {
            got.superseded = true;
            e = bk_store_link_update(tx, &got, err);
        }
    }
    if (!e)
        e = bk_jobs_finish(tx, job, err);
    if (!e) {
        e = bk_store_commit(tx, err);
        tx = NULL;
    }
    bk_store_rollback(tx);
    return e;
}

/* A failure of a call as the job's outcome: a refusal before anything was
 * sent (status 0: the Retry-After wait, net's limiter or breaker) is
 * BK_E_RATE_LIMITED, retried without counting the attempt; other transient
 * ones (network, 401/403, 429 answered, 5xx) are retried and counted;
 * another 4xx is permanent. */
static enum bk_err job_error(enum bk_err e, int status)
{
    if (e == BK_E_RATE_LIMITED && status == 0)
        return e;
    if (e == BK_E_INVALID || e == BK_E_MALFORMED)
        return e;
    if (e == BK_E_NOT_FOUND)
        return BK_E_INVALID;
    return BK_E_RETRY;
}

static bool status_is(const json_t *bk, const char *a, const char *b)
{
    const char *s = json_string_value(json_object_get(bk, "status"));
    return s && (strcmp(s, a) == 0 || (b && strcmp(s, b) == 0));
}

/* The live Cal.com booking of uid: GET it, following rescheduledToUid
 * while it is cancelled for a reschedule. *bk owned; NULL when Cal.com no
 * longer has it (404). */
static enum bk_err read_live(const struct bk_calcom_config *cfg,
                             const char *uid, struct bk_arena *arena,
                             json_t **bk, const char **live, int *status,
                             struct bk_errbuf *err)
{
    *bk = NULL;
    *live = uid;
    for (int hop = 0; hop < MAX_HOPS; hop++) {
        json_t *d = NULL;
        const char *next;
        enum bk_err e = bk_calcom_call(
            cfg, "GET", bk_arena_printf(arena, "/bookings/%s", *live),
            BK_CALCOM_VERSION_BOOKINGS, NULL, MAX_ANSWER, arena, status, &d,
            err);

        if (e == BK_E_NOT_FOUND)
            return BK_OK;
        if (e)
            return e;
        if (!json_is_object(d)) {
            json_decref(d);
            return bk_fail(err, BK_E_MALFORMED,
                           "Cal.com's booking %s is not an object", *live);
        }
        next = json_string_value(json_object_get(d, "rescheduledToUid"));
        if (status_is(d, "cancelled", "rejected") && uid_ok(next) &&
            strcmp(next, *live) != 0) {
            *live = bk_arena_strdup(arena, next);
            json_decref(d);
            continue;
        }
        *bk = d;
        return BK_OK;
    }
    return bk_fail(err, BK_E_INVALID,
                   "Cal.com's booking %s was rescheduled more than %d times",
                   uid, MAX_HOPS);
}

static enum bk_err run(void *ctx, struct bk_store *store,
                       const struct bk_job *job, struct bk_arena *arena,
                       struct bk_errbuf *err)
{
    const struct bk_calcom_config *cfg = ctx;
    json_t *p = NULL, *cur = NULL, *body, *d = NULL;
    json_int_t activity_id = 0, booking_id = 0;
    const char *event = NULL, *live, *start;
    char iso[BK_RFC3339_MAX];
    char *text;
    int status;
    int64_t cur_start = 0;
    struct plan plan;
    enum bk_err e;

    p = json_loads(job->payload ? job->payload : "", 0, NULL);
    if (!p || json_unpack(p, "{s:s, s:I, s:I}", "event", &event, "activity_id",
                          &activity_id, "booking_id", &booking_id) != 0) {
        json_decref(p);
        return bk_fail(err, BK_E_MALFORMED, "not a ledger event payload");
    }
    event = bk_arena_strdup(arena, event);
    json_decref(p);
    if ((e = make_plan(store, event, booking_id, activity_id, arena, &plan,
                       err)))
        return e;
    if (!plan.skip && !uid_ok(plan.uid))
        plan.skip = "the linked Cal.com uid is not one Cal.com makes";
    if (plan.skip) {
        bk_log_debug("calcom: booking %s: %s", plan.buid ? plan.buid : "?",
                     plan.skip);
        return bk_jobs_finish_alone(store, BK_TX_WRITE, job, NULL, NULL, NULL,
                                    err);
    }
    if (!cfg || !cfg->api_key)
        return bk_fail(err, BK_E_INVALID,
                       "CALCOM_API_KEY is not set: booking %s cannot be "
                       "changed at Cal.com",
                       plan.buid);
    if ((e = read_live(cfg, plan.uid, arena, &cur, &live, &status, err)))
        return job_error(e, status);
    if (!cur) {
        bk_log_info("calcom: booking %s: Cal.com no longer has %s", plan.buid,
                    live);
        return bk_jobs_finish_alone(store, BK_TX_WRITE, job, NULL, NULL, NULL,
                                    err);
    }
    start = json_string_value(json_object_get(cur, "start"));
    if (!start || bk_rfc3339_parse(start, &cur_start, NULL) != BK_OK)
        cur_start = 0;
    if (plan.cancel) {
        if (status_is(cur, "cancelled", "rejected")) {
            json_decref(cur);
            return strcmp(live, plan.uid) == 0
                       ? bk_jobs_finish_alone(store, BK_TX_WRITE, job, NULL,
                                              NULL, NULL, err)
                       : relink_finish(store, job, &plan, live, NULL, arena,
                                       err);
        }
        json_decref(cur);
        body = json_object();
        if (plan.reason && *plan.reason) {
            size_t n = strlen(plan.reason);
            json_object_set_new(
                body, "cancellationReason",
                json_stringn(plan.reason, n > MAX_REASON ? MAX_REASON : n));
        }
    } else {
        bool cancelled = status_is(cur, "cancelled", "rejected");
        json_decref(cur);
        if (cancelled) {
            /* Cancelled at Cal.com meanwhile: its webhook (or the sync)
             * cancels ours; there is nothing to move. */
            bk_log_warn("calcom: booking %s: %s is cancelled at Cal.com; "
                        "not rescheduled there",
                        plan.buid, live);
            return bk_jobs_finish_alone(store, BK_TX_WRITE, job, NULL, NULL,
                                        NULL, err);
        }
        if (cur_start == plan.start_utc)
            return strcmp(live, plan.uid) == 0
                       ? bk_jobs_finish_alone(store, BK_TX_WRITE, job, NULL,
                                              NULL, NULL, err)
                       : relink_finish(store, job, &plan, live, NULL, arena,
                                       err);
        bk_rfc3339_format_utc(plan.start_utc, iso);
        /* Made by the business: rescheduled by the host, which Cal.com
         * confirms at once (an attendee's reschedule of an event type that
         * requires confirmation would be pending). */
        body = json_pack("{s:s, s:s}", "start", iso, "reschedulingReason",
                         "Rescheduled in bookingd");
        if (body && plan.host_email)
            json_object_set_new(body, "rescheduledBy",
                                json_string(plan.host_email));
    }
    text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!text)
        return bk_fail(err, BK_E_INTERNAL, "cannot encode the request");
    /* The POST leaves the database: hold the job for a full lease first. */
    if ((e = bk_jobs_fence(store, job, err))) {
        free(text);
        return e;
    }
    e = bk_calcom_call(cfg, "POST",
                       bk_arena_printf(arena, "/bookings/%s/%s", live,
                                       plan.cancel ? "cancel" : "reschedule"),
                       BK_CALCOM_VERSION_BOOKINGS, text, MAX_ANSWER, arena,
                       &status, &d, err);
    free(text);
    if (e == BK_E_INVALID && plan.cancel && strstr(err->msg, "already")) {
        e = BK_OK; /* cancelled meanwhile: done */
    } else if (e) {
        return job_error(e, status);
    }
    if (plan.cancel) {
        json_decref(d);
        bk_log_info("calcom: booking %s: %s cancelled at Cal.com", plan.buid,
                    live);
        return strcmp(live, plan.uid) == 0
                   ? bk_jobs_finish_alone(store, BK_TX_WRITE, job, NULL, NULL,
                                          NULL, err)
                   : relink_finish(store, job, &plan, live, NULL, arena, err);
    }
    {
        const char *nu = json_string_value(json_object_get(d, "uid"));
        json_int_t nid = json_integer_value(json_object_get(d, "id"));
        const char *new_uid = uid_ok(nu) ? bk_arena_strdup(arena, nu) : NULL;
        const char *new_id =
            nid > 0 ? bk_arena_printf(arena, "%" JSON_INTEGER_FORMAT, nid)
                    : NULL;

        json_decref(d);
        if (!new_uid)
            return bk_fail(err, BK_E_RETRY,
                           "Cal.com's reschedule of %s answered no uid; "
                           "the next try reads the booking again",
                           live);
        bk_log_info("calcom: booking %s: %s rescheduled at Cal.com as %s",
                    plan.buid, live, new_uid);
        BK_STORE_RETRY(
            e, relink_finish(store, job, &plan, new_uid, new_id, arena, err));
        return e;
    }
}

void bk_calcom_push_kind(const struct bk_calcom_config *cfg,
                         struct bk_job_kind *out)
{
    memset(out, 0, sizeof(out[0]));
    out->name = JOB_KIND;
    out->run = run;
    out->ctx = (void *)cfg;
}
