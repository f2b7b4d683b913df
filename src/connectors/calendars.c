/* connectors/calendars.c — the push of bookings into CalDAV calendars
 * (calendars.h). Each run compares the booking's current state with its
 * event in each connection's write calendar and makes one or two requests
 * to bring the event there; running it twice changes nothing more. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "base/log.h"
#include "base/str.h"
#include "base/time.h"
#include "connectors/calendars.h"
#include "core/ics.h"
#include "dav/dav.h"
#include "ledger/ledger.h"
#include "base/banned.h"

#define PUSH_KIND "calendars.push"
/* Connections of one host handled by one job. */
#define MAX_CONNECTIONS 32

const struct bk_ledger_subscriber *bk_calendars_subscriber(void)
{
    static const struct bk_ledger_subscriber s = {
        .name = "calendars",
        .job_kind = PUSH_KIND,
        .kinds = BK_LEV_BIT(BK_LEV_BOOKING_CREATED) |
                 BK_LEV_BIT(BK_LEV_BOOKING_RESCHEDULED) |
                 BK_LEV_BIT(BK_LEV_BOOKING_CANCELLED) |
                 BK_LEV_BIT(BK_LEV_BOOKING_SUPERSEDED),
        .max_attempts = 0,
    };
    return &s;
}

const char *bk_calendars_event_url(const char *collection_url, const char *uid,
                                   struct bk_arena *arena)
{
    size_t n = strlen(collection_url);

    return bk_arena_printf(arena, "%s%sbookingd-%s.ics", collection_url,
                           n && collection_url[n - 1] == '/' ? "" : "/", uid);
}

/* What one run needs, read in one transaction. */
struct state {
    struct bk_booking b;
    struct bk_host host;
    struct bk_client client;
    struct bk_event_type et;
    struct bk_cal_connection *conns;
    size_t n_conns;
    struct bk_link *links;
    size_t n_links;
};

/* The outcome of one connection, written after the requests. */
struct outcome {
    const struct bk_cal_connection *conn;
    bool touched;      /* a request was made */
    bool link_new;     /* insert link (url, etag) */
    bool link_changed; /* update link (etag, superseded) */
    const char *url, *etag, *kind;
    bool superseded;
    const char *error; /* NULL: fine */
    bool auth_failed;
};

static const char *write_calendar(const struct bk_cal_connection *c,
                                  struct bk_arena *arena)
{
    json_t *a = json_loads(c->calendars ? c->calendars : "[]", 0, NULL), *cal;
    const char *href = NULL;
    size_t i;

    json_array_foreach(a, i,
                       cal) if (json_is_true(json_object_get(cal, "write")))
    {
        const char *s = json_string_value(json_object_get(cal, "href"));
        if (s)
            href = bk_arena_strdup(arena, s);
    }
    json_decref(a);
    return href;
}

static const struct bk_link *link_of(const struct state *s, const char *kind)
{
    for (size_t i = 0; i < s->n_links; i++)
        if (strcmp(s->links[i].provider, "caldav") == 0 &&
            strcmp(s->links[i].kind, kind) == 0)
            return &s->links[i];
    return NULL;
}

static enum bk_err read_state(struct bk_store *store, int64_t booking_id,
                              struct bk_arena *arena, struct state *s,
                              struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    enum bk_err e;

    memset(s, 0, sizeof(*s));
    if ((e = bk_store_begin(store, BK_TX_READ, &tx, err)) ||
        (e = bk_store_booking_get(tx, booking_id, arena, &s->b, err)) ||
        (e = bk_store_host_get(tx, s->b.host_id, arena, &s->host, err)) ||
        (e = bk_store_client_get(tx, s->b.client_id, arena, &s->client, err)) ||
        (e = bk_store_event_type_get(tx, s->b.event_type_id, arena, &s->et,
                                     err)) ||
        (e = bk_store_cal_list_host(tx, s->b.host_id, arena, &s->conns,
                                    &s->n_conns, err)) ||
        (e = bk_store_link_list(tx, BK_LINK_BOOKING, booking_id, arena,
                                &s->links, &s->n_links, err)))
        goto out;
out:
    bk_store_rollback(tx);
    return e;
}

static const char *build_ics(const struct bk_calendars_config *cfg,
                             const struct state *s, bool cancelled,
                             struct bk_arena *arena)
{
    struct bk_ics_event ev;
    const char *who =
        s->client.name && *s->client.name ? s->client.name : s->client.email;
    const char *where = s->b.location && *s->b.location ? s->b.location
                        : s->b.meeting_url && *s->b.meeting_url
                            ? s->b.meeting_url
                            : s->et.location_value;

    memset(&ev, 0, sizeof(ev));
    ev.uid = s->b.uid; /* the invites' UID: one event for both */
    ev.sequence = 0;
    ev.cancelled = cancelled;
    ev.start_utc = s->b.start_utc;
    ev.end_utc = s->b.end_utc;
    ev.stamp_utc = bk_now_utc();
    ev.summary = bk_arena_printf(arena, "%s with %s", s->et.title, who);
    ev.description =
        bk_arena_printf(arena, "%s%sBooking: %s/api/v1/bookings/%s",
                        s->b.notes && *s->b.notes ? s->b.notes : "",
                        s->b.notes && *s->b.notes ? "\n\n" : "",
                        cfg->base_url ? cfg->base_url : "", s->b.uid);
    ev.location = where;
    ev.url = s->b.meeting_url;
    ev.organizer_name = s->host.name;
    ev.organizer_email = s->host.email;
    ev.attendee_name = s->client.name;
    ev.attendee_email = s->client.email;
    ev.schedule_agent_client = true;
    return bk_ics_build(&ev, arena);
}

/* Records a failed request in o; a 401/403 marks the credentials. */
static void failed(struct outcome *o, const char *what, int status,
                   const struct bk_errbuf *nerr, struct bk_arena *arena)
{
    if (status) {
        o->error = bk_arena_printf(arena, "%s: HTTP %d", what, status);
        o->auth_failed = status == 401 || status == 403;
    } else {
        o->error = bk_arena_printf(arena, "%s: %s", what, nerr->msg);
    }
}

/* The ETag after a write whose answer had none: read it back. */
static const char *etag_after(const struct bk_dav_client *dc, const char *url,
                              const char *etag, struct bk_arena *arena)
{
    int st = 0;
    const char *body = NULL, *tag = NULL;

    if (etag)
        return etag;
    if (bk_dav_get(dc, url, arena, &st, &body, &tag, NULL) == BK_OK &&
        st == 200)
        return tag;
    return NULL;
}

/* PUT the event: If-Match etag (or If-None-Match when create). A 412
 * means the calendar's copy changed (or a previous attempt created it):
 * the copy is read back and overwritten with the ledger's state, under
 * its new ETag (docs/calendars.md "Conflicts"). */
static void put_event(const struct bk_dav_client *dc, const char *url,
                      const char *ics, bool create, const char *etag,
                      struct bk_arena *arena, struct outcome *o)
{
    struct bk_errbuf nerr;
    const char *new_etag = NULL, *body = NULL, *cur = NULL;
    int st = 0;

    bk_errbuf_clear(&nerr);
    for (int round = 0; round < 3; round++) {
        if (bk_dav_put(dc, url, ics, create, create ? NULL : etag, arena, &st,
                       &new_etag, &nerr) != BK_OK) {
            failed(o, "PUT", 0, &nerr, arena);
            return;
        }
        if (st == 200 || st == 201 || st == 204) {
            o->etag = etag_after(dc, url, new_etag, arena);
            return;
        }
        if (st != 412) {
            failed(o, "PUT", st, &nerr, arena);
            return;
        }
        /* Changed meanwhile: where is it now? */
        if (bk_dav_get(dc, url, arena, &st, &body, &cur, &nerr) != BK_OK) {
            failed(o, "GET after 412", 0, &nerr, arena);
            return;
        }
        if (st == 404) {
            create = true;
        } else if (st == 200 && cur) {
            create = false;
            etag = cur;
        } else {
            failed(o, "GET after 412", st, &nerr, arena);
            return;
        }
        bk_log_info("calendars: %s changed in the calendar meanwhile; "
                    "writing the booking's state over it",
                    url);
    }
    o->error = "PUT: the event kept changing (412 three times)";
}

static void delete_event(const struct bk_dav_client *dc, const char *url,
                         const char *etag, struct bk_arena *arena,
                         struct outcome *o)
{
    struct bk_errbuf nerr;
    int st = 0;

    bk_errbuf_clear(&nerr);
    if (bk_dav_delete(dc, url, etag, arena, &st, &nerr) != BK_OK) {
        failed(o, "DELETE", 0, &nerr, arena);
        return;
    }
    /* 412: edited meanwhile; the booking is cancelled all the same. */
    if (st == 412 && bk_dav_delete(dc, url, NULL, arena, &st, &nerr) != BK_OK) {
        failed(o, "DELETE", 0, &nerr, arena);
        return;
    }
    if (st == 200 || st == 204 || st == 404 || st == 410) {
        o->etag = NULL;
        o->superseded = true;
        return;
    }
    failed(o, "DELETE", st, &nerr, arena);
}

/* Brings one connection's event to the booking's state. */
static void push_one(const struct bk_calendars_config *cfg,
                     const struct state *s,
                     const struct bk_cal_connection *conn,
                     struct bk_arena *arena, struct outcome *o)
{
    const char *kind = bk_arena_printf(arena, "event:%s", conn->public_id);
    const struct bk_link *l = link_of(s, kind);
    bool live = l && !l->superseded;
    bool want = s->b.status == BK_BOOKING_CONFIRMED ||
                s->b.status == BK_BOOKING_COMPLETED ||
                s->b.status == BK_BOOKING_NO_SHOW;
    bool cancelled = s->b.status == BK_BOOKING_CANCELLED;
    const char *cal, *aad, *url;
    char *password = NULL;
    size_t plen = 0;
    struct bk_dav_client dc;
    struct bk_errbuf why;

    memset(o, 0, sizeof(*o));
    o->conn = conn;
    o->kind = kind;
    if (strcmp(conn->kind, "caldav") != 0)
        return;
    if (!want && !(cancelled && live))
        return; /* pending, or cancelled before it had an event */
    cal = write_calendar(conn, arena);
    if (!cal && !live)
        return; /* no write calendar chosen */
    if (!cfg->secret_key) {
        o->error = "BOOKINGD_SECRET_KEY is not set: the credentials "
                   "cannot be read";
        return;
    }
    aad = bk_arena_printf(arena, "calendar_connection:%s:credential",
                          conn->public_id);
    bk_errbuf_clear(&why);
    if (bk_secret_open(cfg->secret_key, aad, conn->credential, arena, &password,
                       &plen, &why) != BK_OK) {
        o->error =
            bk_arena_printf(arena, "the stored credentials: %s", why.msg);
        return;
    }
    memset(&dc, 0, sizeof(dc));
    dc.username = conn->username;
    dc.password = password;
    dc.connect_timeout_ms = cfg->connect_timeout_ms;
    dc.timeout_ms = cfg->timeout_ms;
    dc.max_response = cfg->max_response;
    dc.allow_private = cfg->allow_private;
    o->touched = true;
    url = live ? l->external_id : bk_calendars_event_url(cal, s->b.uid, arena);
    o->url = url;
    if (cancelled && conn->on_cancel == 0) {
        delete_event(&dc, url, l->etag, arena, o);
        o->link_changed = true;
        return;
    }
    put_event(&dc, url, build_ics(cfg, s, cancelled, arena), !live,
              live ? l->etag : NULL, arena, o);
    if (!o->error) {
        o->link_new = !l;
        o->link_changed = l != NULL;
    }
}

static enum bk_err record_once(struct bk_store *store, const struct bk_job *job,
                               const struct state *s, struct outcome *os,
                               size_t n, bool finish, struct bk_arena *arena,
                               struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    int64_t now_ms = bk_now_ms();
    enum bk_err e = BK_OK;

    if ((e = bk_store_begin(store, BK_TX_WRITE, &tx, err)))
        goto out;
    for (size_t i = 0; i < n; i++) {
        struct outcome *o = &os[i];
        struct bk_cal_connection c;
        struct bk_link l, stored;
        bool existed = false;

        if (!o->touched && !o->error)
            continue;
        memset(&l, 0, sizeof(l));
        l.entity = BK_LINK_BOOKING;
        l.entity_id = s->b.id;
        l.provider = "caldav";
        l.kind = o->kind;
        l.external_id = o->url;
        l.etag = o->etag;
        l.superseded = o->superseded;
        l.created_utc = now_ms / 1000;
        if (o->link_new) {
            if ((e = bk_store_link_put(tx, &l, arena, &stored, &existed, err)))
                goto out;
            if (existed && (e = bk_store_link_update(tx, &l, err)))
                goto out;
        } else if (o->link_changed && (e = bk_store_link_update(tx, &l, err))) {
            goto out;
        }
        /* The connection's status: read again, it may have been deleted
         * or changed by an admin meanwhile. */
        e = bk_store_cal_get(tx, NULL, o->conn->id, arena, &c, err);
        if (e == BK_E_NOT_FOUND) {
            e = BK_OK;
            continue;
        }
        if (e)
            goto out;
        c.status = o->error
                       ? (o->auth_failed ? BK_CAL_NEEDS_AUTH : BK_CAL_ERROR)
                       : BK_CAL_ACTIVE;
        c.last_error = o->error;
        c.updated_ms = now_ms;
        if ((e = bk_store_cal_update(tx, &c, err)))
            goto out;
    }
    if (finish && (e = bk_jobs_finish(tx, job, err)))
        goto out;
    e = bk_store_commit(tx, err);
    tx = NULL;
out:
    bk_store_rollback(tx);
    return e;
}

static enum bk_err push_run(void *ctx, struct bk_store *store,
                            const struct bk_job *job, struct bk_arena *arena,
                            struct bk_errbuf *err)
{
    const struct bk_calendars_config *cfg = ctx;
    struct outcome os[MAX_CONNECTIONS];
    struct state s;
    json_t *p = NULL;
    json_int_t booking_id = 0;
    const char *first_error = NULL;
    size_t n;
    enum bk_err e;

    p = json_loads(job->payload ? job->payload : "", 0, NULL);
    if (!p || json_unpack(p, "{s:I}", "booking_id", &booking_id) != 0 ||
        booking_id <= 0) {
        json_decref(p);
        return bk_fail(err, BK_E_MALFORMED, "not a ledger event payload");
    }
    json_decref(p);
    e = read_state(store, booking_id, arena, &s, err);
    if (e == BK_E_NOT_FOUND) { /* deleted since: nothing to push */
        BK_STORE_RETRY(e, record_once(store, job, &s, os, 0, true, arena, err));
        return e;
    }
    if (e)
        return e;
    n = s.n_conns < MAX_CONNECTIONS ? s.n_conns : MAX_CONNECTIONS;
    /* The requests leave the database: hold the job for a full lease
     * first (jobs.h). */
    if (n && (e = bk_jobs_fence(store, job, err)))
        return e;
    for (size_t i = 0; i < n; i++) {
        push_one(cfg, &s, &s.conns[i], arena, &os[i]);
        if (os[i].error) {
            bk_log_warn("calendars: booking %s, connection %s: %s", s.b.uid,
                        s.conns[i].public_id, os[i].error);
            if (!first_error)
                first_error = os[i].error;
        }
    }
    BK_STORE_RETRY(
        e, record_once(store, job, &s, os, n, !first_error, arena, err));
    if (e)
        return e;
    if (first_error) /* retried with the queue's backoff */
        return bk_fail(err, BK_E_RETRY, "%s", first_error);
    return BK_OK;
}

void bk_calendars_push_kind(const struct bk_calendars_config *cfg,
                            struct bk_job_kind *out)
{
    memset(out, 0, sizeof(*out));
    out->name = PUSH_KIND;
    out->run = push_run;
    out->ctx = (void *)cfg;
}
