/* connectors/zoom.c — the "zoom.meeting" job: a booking of an event type
 * whose location is Zoom gets a meeting at Zoom that follows it.
 *
 * The job does not replay the event that queued it: it reads the booking
 * and brings its meeting to the booking's state, so jobs that run late or
 * twice converge. A confirmed booking without a live meeting link gets one
 * (POST /users/{user}/meetings); one with a link gets its meeting moved to
 * the booking's times (PATCH /meetings/{id}); a cancelled booking's meeting
 * is deleted (DELETE /meetings/{id}). Pending bookings (awaiting payment)
 * wait for their confirmation; completed and no-show ones are left alone.
 *
 * Idempotent across a crash between Zoom's 201 and the commit of the link:
 * every meeting's agenda carries the marker "bookingd-booking: <uid>", and
 * before creating, the job lists the user's scheduled meetings and adopts
 * the one with the marker. The link (zoom/booking_uid/<meeting id>) and
 * the booking's meeting_url (the join URL, never the host's start URL) are
 * written in the transaction that finishes the job. Jobs are serialized in
 * a process, and across instances (PostgreSQL) by a lease on the booking's
 * meeting (meta "zoom.lease:<uid>", taken under a transaction-scoped
 * singleton lock before the look and released after the commit): a job
 * of another instance finding the lease held is retried later, so the
 * "look then create" window is one instance's at a time. A lease left by
 * a crashed instance ends after its length; should a second meeting still
 * be made then, the instance whose commit finds another meeting linked
 * deletes its own.
 *
 * Auth: Server-to-Server OAuth, POST {ZOOM_OAUTH_BASE}/oauth/token with
 * grant_type=account_credentials, HTTP Basic client id and secret. The
 * token is kept until a minute before its expires_in (there is no refresh
 * token: a new one is asked for) and dropped when the API answers 401.
 * A 429 closes the gate to Zoom until its Retry-After has passed (1 s when
 * absent) for every worker: a job waits for it before its fence when it
 * opens within MAX_WAIT_MS, and is retried later without calling Zoom
 * otherwise. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "connectors/zoom.h"
#include "base/log.h"
#include "base/str.h"
#include "base/time.h"
#include "core/ledger.h"
#include "crypto/crypto.h"
#include "ledger/events.h"
#include "net/net.h"
#include "store/store.h"
#include "base/banned.h"

#define JOB_KIND      "zoom.meeting"
#define PROVIDER      "zoom"
#define LINK_KIND     "booking_uid"
#define MAX_ANSWER    (256 * 1024)
#define MAX_TOKEN     2048
#define MAX_TOPIC     200 /* Zoom's limit */
#define MAX_PAGES     20
#define MARKER_PREFIX "bookingd-booking: "
/* A Retry-After this short is waited out by the job before its fence;
 * a longer one retries the job later. */
#define MAX_WAIT_MS 20000

static struct bk_ledger_subscriber subscriber = {
    .name = "zoom",
    .job_kind = JOB_KIND,
    .kinds = BK_LEV_BIT(BK_LEV_BOOKING_CREATED) |
             BK_LEV_BIT(BK_LEV_BOOKING_CONFIRMED) |
             BK_LEV_BIT(BK_LEV_BOOKING_RESCHEDULED) |
             BK_LEV_BIT(BK_LEV_BOOKING_CANCELLED) |
             BK_LEV_BIT(BK_LEV_BOOKING_SUPERSEDED),
};

/* The token and the rate gate, shared by every worker of the process. */
static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static char token[MAX_TOKEN + 1];
static int64_t token_until_ms;
static int64_t gate_until_ms;
/* One zoom.meeting job at a time in a process (see the head comment). */
static pthread_mutex_t run_lock = PTHREAD_MUTEX_INITIALIZER;

enum bk_err bk_zoom_subscribe(int max_attempts, struct bk_errbuf *err)
{
    subscriber.max_attempts = max_attempts;
    return bk_ledger_subscribe(&subscriber, err);
}

void bk_zoom_marker(const char *booking_uid, char *out, size_t size)
{
    snprintf(out, size, "%s%s", MARKER_PREFIX, booking_uid);
}

static enum bk_err gate_closed(struct bk_errbuf *err)
{
    int64_t now = bk_now_ms(), until;

    pthread_mutex_lock(&state_lock);
    until = gate_until_ms;
    pthread_mutex_unlock(&state_lock);
    if (now < until)
        return bk_fail(err, BK_E_RETRY,
                       "Zoom asked to wait (429): %" PRId64 " ms left",
                       until - now);
    return BK_OK;
}

/* Waits (before the fence) until the gate opens, when that is soon. */
static enum bk_err wait_gate(struct bk_errbuf *err)
{
    for (;;) {
        int64_t now = bk_now_ms(), left;
        struct timespec ts;

        pthread_mutex_lock(&state_lock);
        left = gate_until_ms - now;
        pthread_mutex_unlock(&state_lock);
        if (left <= 0)
            return BK_OK;
        if (left > MAX_WAIT_MS)
            return gate_closed(err);
        ts.tv_sec = (time_t)(left / 1000);
        ts.tv_nsec = (long)(left % 1000) * 1000000L;
        nanosleep(&ts, NULL);
    }
}

static enum bk_err rate_limited(const struct bk_net_response *res,
                                const char *what, struct bk_errbuf *err)
{
    int s = res->retry_after_s > 0 ? res->retry_after_s : 1;

    pthread_mutex_lock(&state_lock);
    if (gate_until_ms < bk_now_ms() + (int64_t)s * 1000)
        gate_until_ms = bk_now_ms() + (int64_t)s * 1000;
    pthread_mutex_unlock(&state_lock);
    bk_log_warn("zoom: %s: rate limited (429), waiting %d s", what, s);
    return bk_fail(err, BK_E_RETRY,
                   "Zoom answered 429 to %s: retried after %d s", what, s);
}

static void net_defaults(const struct bk_zoom_config *cfg,
                         struct bk_net_request *r, const char *env)
{
    r->connect_timeout_ms = cfg->connect_timeout_ms;
    r->timeout_ms = cfg->timeout_ms;
    r->max_response = MAX_ANSWER;
    r->allow_private = cfg->allow_private;
    r->allow_private_env = env;
    r->provider = "zoom";
}

/* The cached token, or a new one (account credentials grant) in out. */
static enum bk_err get_token(const struct bk_zoom_config *cfg,
                             struct bk_arena *arena, char out[MAX_TOKEN + 1],
                             struct bk_errbuf *err)
{
    struct bk_net_request r;
    struct bk_net_response res;
    struct bk_errbuf nerr;
    json_t *j;
    const char *tok;
    json_int_t ttl;
    int64_t now = bk_now_ms();
    char body[512];
    enum bk_err e;

    pthread_mutex_lock(&state_lock);
    if (token[0] && now < token_until_ms) {
        memcpy(out, token, sizeof(token));
        pthread_mutex_unlock(&state_lock);
        return BK_OK;
    }
    pthread_mutex_unlock(&state_lock);
    snprintf(body, sizeof(body), "grant_type=account_credentials&account_id=%s",
             bk_str_qenc(arena, cfg->account_id));
    memset(&r, 0, sizeof(r));
    r.method = "POST";
    r.url = bk_arena_printf(arena, "%s/oauth/token", cfg->oauth_base);
    r.content_type = "application/x-www-form-urlencoded";
    r.body = body;
    r.body_len = strlen(body);
    r.username = cfg->client_id;
    r.password = cfg->client_secret;
    net_defaults(cfg, &r, "ZOOM_OAUTH_BASE");
    bk_errbuf_clear(&nerr);
    if ((e = bk_net_request(&r, arena, &res, &nerr)))
        return bk_fail(
            err, e == BK_E_INVALID || e == BK_E_RATE_LIMITED ? e : BK_E_RETRY,
            "Zoom OAuth: %s", nerr.msg);
    if (res.status == 429)
        return rate_limited(&res, "the token request", err);
    if (res.status != 200)
        return bk_fail(err, BK_E_RETRY,
                       "Zoom OAuth answered %d to the account credentials "
                       "grant%s",
                       res.status,
                       res.status == 400 || res.status == 401
                           ? " (check ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and "
                             "ZOOM_CLIENT_SECRET)"
                           : "");
    j = json_loadb(res.body ? res.body : "", res.body_len, 0, NULL);
    tok = json_string_value(json_object_get(j, "access_token"));
    ttl = json_integer_value(json_object_get(j, "expires_in"));
    if (!tok || !*tok || strlen(tok) > MAX_TOKEN ||
        strcspn(tok, " \r\n\t") != strlen(tok) || ttl <= 0) {
        json_decref(j);
        return bk_fail(err, BK_E_RETRY,
                       "Zoom OAuth's answer has no usable access_token and "
                       "expires_in");
    }
    pthread_mutex_lock(&state_lock);
    bk_strlcpy(token, tok, sizeof(token));
    /* A minute early (as Zoom's SDK), or halfway for short-lived ones. */
    token_until_ms = now + (ttl > 120 ? ttl - 60 : ttl / 2) * 1000;
    memcpy(out, token, sizeof(token));
    pthread_mutex_unlock(&state_lock);
    json_decref(j);
    return BK_OK;
}

static void drop_token(const char *used)
{
    pthread_mutex_lock(&state_lock);
    if (strcmp(token, used) == 0) {
        token[0] = '\0';
        token_until_ms = 0;
    }
    pthread_mutex_unlock(&state_lock);
}

/* method {ZOOM_API_BASE}path with an optional JSON body; *res is the
 * answer for any status but 401 and 429 (retried). */
static enum bk_err api(const struct bk_zoom_config *cfg, const char *method,
                       const char *path, const json_t *body,
                       struct bk_arena *arena, struct bk_net_response *res,
                       struct bk_errbuf *err)
{
    char tok[MAX_TOKEN + 1], *text = NULL;
    const char *headers[2];
    struct bk_net_request r;
    struct bk_net_response tmp;
    struct bk_errbuf nerr;
    enum bk_err e;

    if (!res)
        res = &tmp;
    if ((e = gate_closed(err)) || (e = get_token(cfg, arena, tok, err)))
        return e;
    headers[0] = bk_arena_printf(arena, "Authorization: Bearer %s", tok);
    headers[1] = "Accept: application/json";
    memset(&r, 0, sizeof(r));
    r.method = method;
    r.url = bk_arena_printf(arena, "%s%s", cfg->api_base, path);
    if (body) {
        text = json_dumps(body, JSON_COMPACT);
        if (!text)
            return bk_fail(err, BK_E_INTERNAL, "cannot encode a Zoom request");
        r.content_type = "application/json";
        r.body = bk_arena_strdup(arena, text);
        r.body_len = strlen(text);
        free(text);
    }
    r.headers = headers;
    r.n_headers = 2;
    net_defaults(cfg, &r, "ZOOM_API_BASE");
    bk_errbuf_clear(&nerr);
    if ((e = bk_net_request(&r, arena, res, &nerr)))
        return bk_fail(
            err, e == BK_E_INVALID || e == BK_E_RATE_LIMITED ? e : BK_E_RETRY,
            "Zoom: %s %s: %s", method, path, nerr.msg);
    if (res->status == 401) {
        drop_token(tok);
        return bk_fail(err, BK_E_RETRY,
                       "Zoom answered 401 to %s %s: a new token is asked for",
                       method, path);
    }
    if (res->status == 429)
        return rate_limited(res, path, err);
    if (res->status >= 500 || res->status == 0)
        return bk_fail(err, BK_E_RETRY, "Zoom answered %d to %s %s",
                       res->status, method, path);
    return BK_OK;
}

/* ---- what the booking wants ---------------------------------------------- */

enum want { SKIP, ENSURE, DELETE };

struct plan {
    enum want want;
    const char *skip; /* why nothing is done */
    const char *booking_uid;
    const char *user;       /* the Zoom user hosting the meeting */
    const char *meeting_id; /* the live link's, or NULL */
    int64_t start_utc, end_utc;
    const char *topic;
    char marker[128];
};

static const char *topic_of(struct bk_arena *arena, const struct bk_booking *b,
                            const struct bk_event_type *et)
{
    const char *t =
        b->attendee_name && *b->attendee_name
            ? bk_arena_printf(arena, "%s with %s", et->title, b->attendee_name)
            : et->title;
    size_t n = strlen(t);

    if (n > MAX_TOPIC) { /* cut on a UTF-8 boundary */
        char *c = bk_arena_strdup(arena, t);
        n = MAX_TOPIC;
        while (n > 0 && ((unsigned char)c[n] & 0xC0) == 0x80)
            n--;
        c[n] = '\0';
        t = c;
    }
    return t;
}

static enum bk_err plan_of(struct bk_store *store, int64_t booking_id,
                           struct bk_arena *arena, struct plan *p,
                           struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    struct bk_booking b;
    struct bk_event_type et;
    struct bk_host h;
    struct bk_link *links = NULL;
    size_t n_links = 0;
    enum bk_err e;

    memset(p, 0, sizeof(*p));
    if ((e = bk_store_begin(store, BK_TX_READ, &tx, err)))
        return e;
    e = bk_store_booking_get(tx, booking_id, arena, &b, err);
    if (e == BK_E_NOT_FOUND) {
        p->skip = "the booking no longer exists";
        e = BK_OK;
        goto out;
    }
    if (e ||
        (e = bk_store_event_type_get(tx, b.event_type_id, arena, &et, err)))
        goto out;
    p->booking_uid = b.uid;
    if (et.location_kind != BK_LOCATION_ZOOM) {
        p->skip = "its event type's location is not Zoom";
        goto out;
    }
    if ((e = bk_store_link_list(tx, BK_LINK_BOOKING, booking_id, arena, &links,
                                &n_links, err)))
        goto out;
    for (size_t i = 0; i < n_links; i++)
        if (strcmp(links[i].provider, PROVIDER) == 0 &&
            strcmp(links[i].kind, LINK_KIND) == 0 && !links[i].superseded)
            p->meeting_id = links[i].external_id;
    if (et.location_value && *et.location_value)
        p->user = et.location_value;
    else if ((e = bk_store_host_get(tx, b.host_id, arena, &h, err)))
        goto out;
    else
        p->user = h.email && *h.email ? h.email : "me";
    p->start_utc = b.start_utc;
    p->end_utc = b.end_utc;
    p->topic = topic_of(arena, &b, &et);
    bk_zoom_marker(b.uid, p->marker, sizeof(p->marker));
    switch (b.status) {
    case BK_BOOKING_CONFIRMED:
        p->want = ENSURE;
        break;
    case BK_BOOKING_CANCELLED:
        p->want = DELETE;
        break;
    case BK_BOOKING_PENDING:
        p->skip = "pending: its meeting is made when it is confirmed";
        break;
    default:
        p->skip = "the booking is over";
        break;
    }
out:
    bk_store_rollback(tx);
    return e;
}

/* The id of the user's scheduled meeting whose agenda has the marker (and
 * its join URL), or *id NULL. */
static enum bk_err find_marked(const struct bk_zoom_config *cfg,
                               const struct plan *p, struct bk_arena *arena,
                               const char **id, const char **join_url,
                               struct bk_errbuf *err)
{
    const char *next = NULL;
    enum bk_err e;

    *id = *join_url = NULL;
    for (int page = 0; page < MAX_PAGES; page++) {
        struct bk_net_response res;
        const char *path = bk_arena_printf(
            arena, "/users/%s/meetings?type=scheduled&page_size=300%s%s",
            bk_str_qenc(arena, p->user), next ? "&next_page_token=" : "",
            next ? bk_str_qenc(arena, next) : "");
        json_t *j, *list, *m;
        size_t i;

        if ((e = api(cfg, "GET", path, NULL, arena, &res, err)))
            return e;
        if (res.status != 200)
            return bk_fail(err, res.status == 404 ? BK_E_INVALID : BK_E_RETRY,
                           "Zoom answered %d listing the meetings of %s: "
                           "%.200s",
                           res.status, p->user, res.body ? res.body : "");
        j = json_loadb(res.body ? res.body : "", res.body_len, 0, NULL);
        list = json_object_get(j, "meetings");
        if (!json_is_array(list)) {
            json_decref(j);
            return bk_fail(err, BK_E_RETRY,
                           "Zoom's list of meetings has no meetings array");
        }
        json_array_foreach(list, i, m)
        {
            const char *agenda =
                json_string_value(json_object_get(m, "agenda"));
            const json_t *mid = json_object_get(m, "id");
            const char *marker;
            size_t ml = strlen(p->marker);
            if (!agenda || !json_is_integer(mid) ||
                !(marker = strstr(agenda, p->marker)) ||
                (marker[ml] != '\0' && marker[ml] != '\n'))
                continue;
            *id = bk_arena_printf(arena, "%" JSON_INTEGER_FORMAT,
                                  json_integer_value(mid));
            if (json_is_string(json_object_get(m, "join_url")))
                *join_url = bk_arena_strdup(
                    arena, json_string_value(json_object_get(m, "join_url")));
            json_decref(j);
            return BK_OK;
        }
        next = json_string_value(json_object_get(j, "next_page_token"));
        next = next && *next ? bk_arena_strdup(arena, next) : NULL;
        json_decref(j);
        if (!next)
            break;
    }
    return BK_OK;
}

static json_t *meeting_body(const struct plan *p, bool with_agenda)
{
    char start[BK_RFC3339_MAX];
    int64_t minutes = (p->end_utc - p->start_utc + 59) / 60;
    json_t *o;

    bk_rfc3339_format_utc(p->start_utc, start);
    o = json_pack("{s:s, s:i, s:s, s:I, s:s}", "topic", p->topic, "type", 2,
                  "start_time", start, "duration",
                  (json_int_t)(minutes > 0 ? minutes : 1), "timezone", "UTC");
    if (o && with_agenda)
        json_object_set_new(
            o, "agenda", json_sprintf("Booked with bookingd.\n%s", p->marker));
    return o;
}

/* Creates the meeting: its id and join URL. */
static enum bk_err create(const struct bk_zoom_config *cfg,
                          const struct plan *p, struct bk_arena *arena,
                          const char **id, const char **join_url,
                          struct bk_errbuf *err)
{
    struct bk_net_response res;
    json_t *body = meeting_body(p, true), *j;
    const json_t *mid;
    const char *url;
    enum bk_err e;

    e = api(cfg, "POST",
            bk_arena_printf(arena, "/users/%s/meetings",
                            bk_str_qenc(arena, p->user)),
            body, arena, &res, err);
    json_decref(body);
    if (e)
        return e;
    if (res.status != 201)
        return bk_fail(err, BK_E_INVALID,
                       "Zoom refused to create the meeting of booking %s: "
                       "HTTP %d %.200s",
                       p->booking_uid, res.status, res.body ? res.body : "");
    j = json_loadb(res.body ? res.body : "", res.body_len, 0, NULL);
    mid = json_object_get(j, "id");
    url = json_string_value(json_object_get(j, "join_url"));
    if (!json_is_integer(mid) || json_integer_value(mid) <= 0 || !url) {
        json_decref(j);
        /* It may exist: the next attempt finds it by its marker. */
        return bk_fail(err, BK_E_RETRY,
                       "Zoom's 201 has no meeting id or join_url");
    }
    *id = bk_arena_printf(arena, "%" JSON_INTEGER_FORMAT,
                          json_integer_value(mid));
    *join_url = bk_arena_strdup(arena, url);
    json_decref(j);
    return BK_OK;
}

/* An http(s) URL without blanks or controls, at most BK_MAX_URL bytes. */
static bool url_ok(const char *s)
{
    if (!s || strlen(s) > BK_MAX_URL ||
        (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0))
        return false;
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f)
            return false;
    return true;
}

/* ---- committing ---------------------------------------------------------- */

struct outcome {
    const char *linked_id; /* a meeting to link (and its join URL) */
    const char *join_url;
    const char *unlink_id; /* a link to mark superseded */
    bool lost;             /* out: another meeting is linked already */
};

/* Enqueues a calendars.push of the booking (connectors/calendars.c), once
 * per meeting, in tx. */
static enum bk_err repush_calendars(struct bk_tx *tx, int64_t booking_id,
                                    const char *meeting_id,
                                    struct bk_errbuf *err)
{
    char key[128], payload[64];
    int64_t id = 0, now = bk_now_ms();
    bool existed = false;

    snprintf(key, sizeof(key), "calendars.push:meeting_url:%" PRId64 ":%.40s",
             booking_id, meeting_id);
    snprintf(payload, sizeof(payload), "{\"booking_id\": %" PRId64 "}",
             booking_id);
    return bk_store_job_enqueue(tx, "calendars.push", key, payload, now, 10,
                                now, &id, &existed, err);
}

static enum bk_err commit_once(struct bk_store *store, const struct bk_job *job,
                               int64_t booking_id, struct outcome *o,
                               struct bk_arena *arena, struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    enum bk_err e = bk_store_begin(store, BK_TX_WRITE, &tx, err);

    o->lost = false;
    if (!e && o->unlink_id) {
        struct bk_link l;
        e = bk_store_link_find(tx, PROVIDER, LINK_KIND, o->unlink_id, arena, &l,
                               err);
        if (!e) {
            l.superseded = true;
            e = bk_store_link_update(tx, &l, err);
        } else if (e == BK_E_NOT_FOUND) {
            e = BK_OK;
        }
    }
    if (!e && o->linked_id) {
        struct bk_link *links = NULL, l, got;
        size_t n = 0;
        bool existed = false;
        struct bk_booking b;

        e = bk_store_link_list(tx, BK_LINK_BOOKING, booking_id, arena, &links,
                               &n, err);
        for (size_t i = 0; !e && i < n; i++)
            if (strcmp(links[i].provider, PROVIDER) == 0 &&
                strcmp(links[i].kind, LINK_KIND) == 0 && !links[i].superseded &&
                strcmp(links[i].external_id, o->linked_id) != 0)
                o->lost = true;
        if (!e && !o->lost) {
            memset(&l, 0, sizeof(l));
            l.entity = BK_LINK_BOOKING;
            l.entity_id = booking_id;
            l.provider = PROVIDER;
            l.kind = LINK_KIND;
            l.external_id = o->linked_id;
            l.created_utc = bk_now_utc();
            e = bk_store_link_put(tx, &l, arena, &got, &existed, err);
            if (!e && existed && got.superseded) {
                got.superseded = false;
                e = bk_store_link_update(tx, &got, err);
            }
            if (!e)
                e = bk_store_booking_get(tx, booking_id, arena, &b, err);
            if (!e && url_ok(o->join_url) &&
                (!b.meeting_url || strcmp(b.meeting_url, o->join_url) != 0)) {
                b.meeting_url = o->join_url;
                b.updated_utc = bk_now_utc();
                e = bk_store_booking_update(tx, &b, err);
                /* The hosts' calendar events carry the join URL: pushed
                 * again now that it is known (the push of the booking's
                 * creation may have gone before it). */
                if (!e)
                    e = repush_calendars(tx, booking_id, o->linked_id, err);
            }
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

static enum bk_err commit(struct bk_store *store, const struct bk_job *job,
                          int64_t booking_id, struct outcome *o,
                          struct bk_arena *arena, struct bk_errbuf *err)
{
    enum bk_err e;

    BK_STORE_RETRY(e, commit_once(store, job, booking_id, o, arena, err));
    return e;
}

static enum bk_err delete_meeting(const struct bk_zoom_config *cfg,
                                  const char *id, struct bk_arena *arena,
                                  struct bk_errbuf *err)
{
    struct bk_net_response res;
    enum bk_err e =
        api(cfg, "DELETE", bk_arena_printf(arena, "/meetings/%s", id), NULL,
            arena, &res, err);

    if (e)
        return e;
    if (res.status == 204 || res.status == 200 || res.status == 404)
        return BK_OK; /* 404: gone already (a repeat after a crash) */
    return bk_fail(err, BK_E_INVALID,
                   "Zoom refused to delete meeting %s: HTTP %d %.200s", id,
                   res.status, res.body ? res.body : "");
}

/* ---- the lease on a booking's meeting ------------------------------------ */

#define LEASE_PREFIX "zoom.lease:"
/* The singleton lock space of the lease's transaction: booking ids are
 * below 2^48. */
#define LEASE_LOCK_BASE ((int64_t)0x5A << 48)

static char lease_holder[17];
static pthread_once_t lease_holder_once = PTHREAD_ONCE_INIT;

static void make_lease_holder(void)
{
    unsigned char b[8];

    bk_random_bytes(b, sizeof(b));
    for (int i = 0; i < 8; i++)
        snprintf(lease_holder + 2 * i, 3, "%02x", b[i]);
}

static enum bk_err lease_once(struct bk_store *store, int64_t booking_id,
                              const char *uid, int64_t until_ms,
                              struct bk_arena *arena, struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    const char *key = bk_arena_printf(arena, LEASE_PREFIX "%s", uid), *v = NULL;
    bool got = false;
    int64_t now = bk_now_ms();
    enum bk_err e = bk_store_begin(store, BK_TX_WRITE, &tx, err);

    if (!e)
        e = bk_store_try_singleton(tx, LEASE_LOCK_BASE | booking_id, &got, err);
    if (!e && !got)
        e = bk_fail(err, BK_E_RETRY,
                    "another instance is taking the lease on the Zoom "
                    "meeting of booking %s",
                    uid);
    if (!e) {
        e = bk_store_meta_get(tx, key, arena, &v, err);
        if (e == BK_E_NOT_FOUND)
            e = BK_OK;
    }
    if (!e && v) {
        json_t *j = json_loads(v, 0, NULL);
        const char *h = json_string_value(json_object_get(j, "holder"));
        int64_t until =
            (int64_t)json_integer_value(json_object_get(j, "until_ms"));
        if (h && strcmp(h, lease_holder) != 0 && until > now)
            e = bk_fail(err, BK_E_RETRY,
                        "another instance holds the lease on the Zoom "
                        "meeting of booking %s for %" PRId64 " ms more",
                        uid, until - now);
        json_decref(j);
    }
    if (!e) {
        json_t *j = json_pack("{s:s, s:I}", "holder", lease_holder, "until_ms",
                              (json_int_t)until_ms);
        char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        e = text ? bk_store_meta_put(tx, key, bk_arena_strdup(arena, text), err)
                 : bk_fail(err, BK_E_INTERNAL, "cannot encode a lease");
        free(text);
    }
    if (!e) {
        e = bk_store_commit(tx, err);
        tx = NULL;
    }
    bk_store_rollback(tx);
    return e;
}

/* Takes the lease on the booking's meeting for about as long as the job's
 * Zoom calls can take. BK_E_RETRY when another instance holds it. */
static enum bk_err lease_take(const struct bk_zoom_config *cfg,
                              struct bk_store *store, int64_t booking_id,
                              const char *uid, struct bk_arena *arena,
                              struct bk_errbuf *err)
{
    int64_t len =
        8 * ((int64_t)cfg->timeout_ms + cfg->connect_timeout_ms) + MAX_WAIT_MS;
    enum bk_err e;

    pthread_once(&lease_holder_once, make_lease_holder);
    BK_STORE_RETRY(
        e, lease_once(store, booking_id, uid, bk_now_ms() + len, arena, err));
    return e;
}

static enum bk_err lease_drop_once(struct bk_store *store, const char *key,
                                   struct bk_arena *arena,
                                   struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    const char *v = NULL;
    enum bk_err e = bk_store_begin(store, BK_TX_WRITE, &tx, err);

    if (!e) {
        e = bk_store_meta_get(tx, key, arena, &v, err);
        if (e == BK_E_NOT_FOUND)
            e = BK_OK;
    }
    if (!e && v) {
        json_t *j = json_loads(v, 0, NULL);
        const char *h = json_string_value(json_object_get(j, "holder"));
        if (h && strcmp(h, lease_holder) == 0)
            e = bk_store_meta_delete(tx, key, err);
        json_decref(j);
    }
    if (!e) {
        e = bk_store_commit(tx, err);
        tx = NULL;
    }
    bk_store_rollback(tx);
    return e;
}

/* Releases our lease (a failure is logged: it ends by itself). */
static void lease_drop(struct bk_store *store, const char *uid,
                       struct bk_arena *arena)
{
    struct bk_errbuf err;
    const char *key = bk_arena_printf(arena, LEASE_PREFIX "%s", uid);
    enum bk_err e;

    bk_errbuf_clear(&err);
    BK_STORE_RETRY(e, lease_drop_once(store, key, arena, &err));
    if (e)
        bk_log_warn("zoom: booking %s: the meeting's lease could not be "
                    "released (it ends by itself): %s",
                    uid, err.msg);
}

static enum bk_err reconcile_leased(const struct bk_zoom_config *cfg,
                                    struct bk_store *store,
                                    const struct bk_job *job,
                                    int64_t booking_id, struct bk_arena *arena,
                                    struct bk_errbuf *err);

static enum bk_err reconcile(const struct bk_zoom_config *cfg,
                             struct bk_store *store, const struct bk_job *job,
                             int64_t booking_id, struct bk_arena *arena,
                             struct bk_errbuf *err)
{
    struct plan p;
    enum bk_err e;

    if ((e = plan_of(store, booking_id, arena, &p, err)))
        return e;
    if (p.want == SKIP || !cfg || !cfg->account_id)
        return reconcile_leased(cfg, store, job, booking_id, arena, err);
    if ((e = lease_take(cfg, store, booking_id, p.booking_uid, arena, err)))
        return e;
    e = reconcile_leased(cfg, store, job, booking_id, arena, err);
    lease_drop(store, p.booking_uid, arena);
    return e;
}

static enum bk_err reconcile_leased(const struct bk_zoom_config *cfg,
                                    struct bk_store *store,
                                    const struct bk_job *job,
                                    int64_t booking_id, struct bk_arena *arena,
                                    struct bk_errbuf *err)
{
    struct plan p;
    struct outcome o;
    const char *id = NULL, *url = NULL;
    enum bk_err e;

    memset(&o, 0, sizeof(o));
    if ((e = plan_of(store, booking_id, arena, &p, err)))
        return e;
    if (p.want == SKIP)
        return commit(store, job, booking_id, &o, arena, err);
    if (!cfg || !cfg->account_id)
        return bk_fail(err, BK_E_INVALID,
                       "ZOOM_ACCOUNT_ID is not set: the Zoom meeting of "
                       "booking %s cannot be made",
                       p.booking_uid);
    /* The calls leave the database: hold the job for a full lease, once
     * Zoom's Retry-After (if any) has passed. */
    if ((e = wait_gate(err)) || (e = bk_jobs_fence(store, job, err)))
        return e;
    if (p.want == DELETE) {
        if (!p.meeting_id) {
            /* A meeting made before a crash and never linked. */
            if ((e = find_marked(cfg, &p, arena, &id, &url, err)))
                return e;
            if (!id)
                return commit(store, job, booking_id, &o, arena, err);
            p.meeting_id = id;
        }
        if ((e = delete_meeting(cfg, p.meeting_id, arena, err)))
            return e;
        bk_log_info("zoom: booking %s: meeting %s deleted", p.booking_uid,
                    p.meeting_id);
        o.unlink_id = p.meeting_id;
        return commit(store, job, booking_id, &o, arena, err);
    }
    if (p.meeting_id) {
        struct bk_net_response res;
        json_t *body = meeting_body(&p, false);
        e = api(cfg, "PATCH",
                bk_arena_printf(arena, "/meetings/%s", p.meeting_id), body,
                arena, &res, err);
        json_decref(body);
        if (e)
            return e;
        if (res.status == 204 || res.status == 200)
            return commit(store, job, booking_id, &o, arena, err);
        if (res.status != 404)
            return bk_fail(err, BK_E_INVALID,
                           "Zoom refused to update meeting %s: HTTP %d "
                           "%.200s",
                           p.meeting_id, res.status, res.body ? res.body : "");
        /* Deleted at Zoom: its link is superseded and a new one made. */
        bk_log_warn("zoom: booking %s: meeting %s is gone at Zoom, making "
                    "another",
                    p.booking_uid, p.meeting_id);
        o.unlink_id = p.meeting_id;
    }
    if ((e = find_marked(cfg, &p, arena, &id, &url, err)))
        return e;
    if (id && o.unlink_id && strcmp(id, o.unlink_id) == 0)
        id = NULL;
    if (id) {
        /* Made by an attempt that did not commit: adopted, and moved to
         * the booking's current times. */
        struct bk_net_response res;
        json_t *body = meeting_body(&p, false);
        e = api(cfg, "PATCH", bk_arena_printf(arena, "/meetings/%s", id), body,
                arena, &res, err);
        json_decref(body);
        if (e)
            return e;
        bk_log_info("zoom: booking %s: meeting %s adopted (made by an "
                    "earlier attempt)",
                    p.booking_uid, id);
    } else if ((e = create(cfg, &p, arena, &id, &url, err))) {
        return e;
    } else {
        bk_log_info("zoom: booking %s: meeting %s made", p.booking_uid, id);
    }
    o.linked_id = id;
    o.join_url = url;
    if ((e = commit(store, job, booking_id, &o, arena, err)))
        return e;
    if (o.lost) {
        /* Another instance linked its meeting first: ours goes. */
        struct bk_errbuf derr;
        bk_errbuf_clear(&derr);
        if (delete_meeting(cfg, id, arena, &derr))
            bk_log_warn("zoom: booking %s: the extra meeting %s could not be "
                        "deleted: %s",
                        p.booking_uid, id, derr.msg);
    }
    return BK_OK;
}

static enum bk_err run(void *ctx, struct bk_store *store,
                       const struct bk_job *job, struct bk_arena *arena,
                       struct bk_errbuf *err)
{
    json_t *p;
    json_int_t booking_id = 0;
    enum bk_err e;

    p = json_loads(job->payload ? job->payload : "", 0, NULL);
    if (!p || json_unpack(p, "{s:I}", "booking_id", &booking_id) != 0 ||
        booking_id <= 0) {
        json_decref(p);
        return bk_fail(err, BK_E_MALFORMED, "not a ledger event payload");
    }
    json_decref(p);
    pthread_mutex_lock(&run_lock);
    e = reconcile(ctx, store, job, (int64_t)booking_id, arena, err);
    pthread_mutex_unlock(&run_lock);
    return e;
}

void bk_zoom_meeting_kind(const struct bk_zoom_config *cfg,
                          struct bk_job_kind *out)
{
    memset(out, 0, sizeof(out[0]));
    out->name = JOB_KIND;
    out->run = run;
    out->ctx = (void *)cfg;
}
