/* connectors/calendars.c — the push of bookings into CalDAV calendars
 * (calendars.h). Each run compares the booking's current state with its
 * event in each connection's write calendar and makes one or two requests
 * to bring the event there; running it twice changes nothing more. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/fault.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/str.h"
#include "base/time.h"
#include "api/json.h"
#include "connectors/calendars.h"
#include "core/ics.h"
#include "core/ics_busy.h"
#include "dav/dav.h"
#include "ledger/ledger.h"
#include "net/limits.h"
#include "net/net.h"
#include "base/banned.h"

#define PUSH_KIND "calendars.push"
/* Connections of one host handled by one job. */
#define MAX_CONNECTIONS 32

const struct bk_ledger_subscriber *bk_calendars_subscriber(void)
{
    static const struct bk_ledger_subscriber s = {
        .name = "calendars",
        .job_kind = PUSH_KIND,
        /* CONFIRMED: a paid booking, pending (nothing pushed) at its
         * creation, has its event once paid. */
        .kinds = BK_LEV_BIT(BK_LEV_BOOKING_CREATED) |
                 BK_LEV_BIT(BK_LEV_BOOKING_CONFIRMED) |
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
    int sequence; /* the booking's current invite SEQUENCE */
};

/* The outcome of one connection, written after the requests. */
struct outcome {
    const struct bk_cal_connection *conn;
    bool touched;      /* a request was made */
    bool link_new;     /* insert link (url, etag) */
    bool link_changed; /* update link (etag, superseded) */
    const char *url, *etag, *kind;
    const char *provider; /* the link's: "caldav" or "google" */
    bool superseded;
    const char *error; /* NULL: fine */
    bool limited;      /* error: refused by the provider's rate limit or open
                          circuit breaker before anything was sent */
    bool auth_failed;
    bool skipped_needs_auth; /* a Google connection waiting for consent */
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

static const struct bk_link *link_of(const struct state *s,
                                     const char *provider, const char *kind)
{
    for (size_t i = 0; i < s->n_links; i++)
        if (strcmp(s->links[i].provider, provider) == 0 &&
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
        (e = bk_store_cal_list_host(tx, s->b.host_id, NULL, arena, &s->conns,
                                    &s->n_conns, err)) ||
        (e = bk_store_link_list(tx, BK_LINK_BOOKING, booking_id, arena,
                                &s->links, &s->n_links, err)) ||
        (e = bk_ledger_invite_sequence(tx, booking_id, 0, &s->sequence, err)))
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
    ev.uid = s->b.uid;         /* the invites' UID: one event for both */
    ev.sequence = s->sequence; /* the invites' and the feed's */
    ev.status = cancelled ? BK_ICS_CANCELLED : BK_ICS_CONFIRMED;
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
        o->limited = strcmp(nerr->code, BK_NET_LIMITED_CODE) == 0;
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

/* ---- Google Calendar (connectors/google.h) ---------------------------- */

/* A Google connection's tokens for one run: refreshed before they expire
 * and once on a 401; a refresh is sealed and stored at once. */
struct gsess {
    const struct bk_calendars_config *cfg;
    struct bk_store *store;
    const struct bk_cal_connection *conn;
    struct bk_arena *arena;
    struct bk_google_tokens t;
    const char *error;
    bool limited;     /* error: refused by net/limits.h, nothing sent */
    bool auth_failed; /* invalid_grant: the connection needs consent */
};

static enum bk_err g_store_once(struct gsess *g, const char *sealed,
                                struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    struct bk_cal_connection c;
    enum bk_err e;

    if ((e = bk_store_begin(g->store, BK_TX_WRITE, &tx, err)))
        goto out;
    e = bk_store_cal_get(tx, NULL, g->conn->id, g->arena, &c, err);
    if (e == BK_E_NOT_FOUND) {
        e = BK_OK;
        goto out;
    }
    if (e)
        goto out;
    c.credential = sealed;
    if ((e = bk_store_cal_update(tx, &c, err)))
        goto out;
    e = bk_store_commit(tx, err);
    tx = NULL;
out:
    bk_store_rollback(tx);
    return e;
}

static bool g_refresh(struct gsess *g)
{
    struct bk_google_tokens nt;
    struct bk_errbuf why;
    const char *aad, *text, *sealed;
    enum bk_err e;

    bk_errbuf_clear(&why);
    e = bk_google_grant(g->cfg->google, "refresh_token", g->t.refresh_token,
                        NULL, NULL, bk_now_ms(), g->arena, &nt, &why);
    if (e) {
        g->error = bk_arena_printf(g->arena, "refreshing the access token: %s",
                                   why.msg);
        g->auth_failed = e == BK_E_UNAUTHORIZED;
        g->limited = e == BK_E_RATE_LIMITED;
        return false;
    }
    g->t = nt;
    aad = bk_arena_printf(g->arena, "calendar_connection:%s:credential",
                          g->conn->public_id);
    text = bk_google_tokens_dump(&nt, g->arena);
    sealed = text ? bk_secret_seal(g->cfg->secret_key, aad, text, strlen(text),
                                   g->arena)
                  : NULL;
    if (!sealed) {
        g->error = "sealing the refreshed tokens failed";
        return false;
    }
    bk_errbuf_clear(&why);
    BK_STORE_RETRY(e, g_store_once(g, sealed, &why));
    if (e) {
        g->error = bk_arena_printf(g->arena, "storing the refreshed tokens: %s",
                                   why.msg);
        return false;
    }
    bk_log_debug("calendars: %s: access token refreshed", g->conn->public_id);
    return true;
}

static bool g_open(struct gsess *g, const struct bk_calendars_config *cfg,
                   struct bk_store *store, const struct bk_cal_connection *conn,
                   struct bk_arena *arena)
{
    struct bk_errbuf why;
    char *text = NULL;
    size_t len = 0;
    const char *aad;

    memset(g, 0, sizeof(*g));
    g->cfg = cfg;
    g->store = store;
    g->conn = conn;
    g->arena = arena;
    if (!cfg->google || !cfg->google->client_id) {
        g->error = "GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET are not set";
        return false;
    }
    if (!cfg->secret_key) {
        g->error = "BOOKINGD_SECRET_KEY is not set: the credentials cannot be "
                   "read";
        return false;
    }
    aad = bk_arena_printf(arena, "calendar_connection:%s:credential",
                          conn->public_id);
    bk_errbuf_clear(&why);
    if (bk_secret_open(cfg->secret_key, aad, conn->credential, arena, &text,
                       &len, &why) != BK_OK ||
        bk_google_tokens_parse(text, arena, &g->t, &why) != BK_OK) {
        g->error =
            bk_arena_printf(arena, "the stored credentials: %s", why.msg);
        return false;
    }
    if (g->t.expires_ms - 60000 <= bk_now_ms())
        return g_refresh(g);
    return true;
}

/* One call; a 401 refreshes the token and asks once more. false when no
 * answer arrived (g->error). */
static bool g_call(struct gsess *g, const char *method, const char *path,
                   const char *body, const char *if_match,
                   struct bk_net_response *r)
{
    for (int round = 0; round < 2; round++) {
        struct bk_errbuf why;
        bk_errbuf_clear(&why);
        enum bk_err ce =
            bk_google_call(g->cfg->google, g->t.access_token, method, path,
                           body, if_match, g->arena, r, &why);
        if (ce != BK_OK) {
            g->error = bk_arena_printf(g->arena, "%s: %s", method, why.msg);
            g->limited = ce == BK_E_RATE_LIMITED;
            return false;
        }
        if (r->status != 401 || round)
            return true;
        if (!g_refresh(g))
            return false;
    }
    return true;
}

bool bk_calendars_google_call(const struct bk_calendars_config *cfg,
                              struct bk_store *store,
                              const struct bk_cal_connection *conn,
                              const char *method, const char *path,
                              const char *body, struct bk_arena *arena,
                              struct bk_net_response *r, const char **error,
                              bool *auth_failed)
{
    struct gsess g;
    bool ok = g_open(&g, cfg, store, conn, arena) &&
              g_call(&g, method, path, body, NULL, r);

    *error = ok ? NULL : g.error;
    *auth_failed = !ok && g.auth_failed;
    return ok;
}

static const char *g_etag_of(const struct bk_net_response *r,
                             struct bk_arena *arena, const char **status)
{
    json_t *j = json_loads(r->body ? r->body : "", 0, NULL);
    const char *e = json_string_value(json_object_get(j, "etag"));
    const char *st = json_string_value(json_object_get(j, "status"));
    const char *out = e ? bk_arena_strdup(arena, e) : r->etag;

    if (status)
        *status = st ? bk_arena_strdup(arena, st) : NULL;
    json_decref(j);
    return out;
}

/* The event at path now: *st 200 (and its etag), or 404/410 (a deleted
 * event Google still shows as cancelled counts as 410). */
static bool google_current(struct gsess *g, const char *path, int *st,
                           const char **etag)
{
    struct bk_net_response r;
    const char *status = NULL;

    if (!g_call(g, "GET", path, NULL, NULL, &r))
        return false;
    *st = r.status;
    if (r.status == 200) {
        *etag = g_etag_of(&r, g->arena, &status);
        if (status && strcmp(status, "cancelled") == 0)
            *st = 410;
    }
    if (r.status == 200 || r.status == 404 || r.status == 410)
        return true;
    g->error = bk_arena_printf(g->arena, "events.get: %s",
                               bk_google_error_text(&r, g->arena));
    return false;
}

/* The booking as a Google event resource. */
static const char *g_event_json(const struct bk_calendars_config *cfg,
                                const struct state *s, const char *id,
                                bool cancelled, struct bk_arena *arena)
{
    const char *who =
        s->client.name && *s->client.name ? s->client.name : s->client.email;
    const char *where = s->b.location && *s->b.location ? s->b.location
                        : s->b.meeting_url && *s->b.meeting_url
                            ? s->b.meeting_url
                            : s->et.location_value;
    char start[BK_RFC3339_MAX], end[BK_RFC3339_MAX];
    json_t *o = json_object(), *att = json_object();
    const char *out;

    bk_rfc3339_format_utc(s->b.start_utc, start);
    bk_rfc3339_format_utc(s->b.end_utc, end);
    json_object_set_new(o, "id", json_string(id));
    json_object_set_new(o, "status", json_string("confirmed"));
    json_object_set_new(o, "summary",
                        json_string(bk_arena_printf(
                            arena, "%s%s with %s",
                            cancelled ? "Cancelled: " : "", s->et.title, who)));
    json_object_set_new(o, "description",
                        json_string(bk_arena_printf(
                            arena, "%s%sBooking: %s/api/v1/bookings/%s",
                            s->b.notes && *s->b.notes ? s->b.notes : "",
                            s->b.notes && *s->b.notes ? "\n\n" : "",
                            cfg->base_url ? cfg->base_url : "", s->b.uid)));
    if (where && *where)
        json_object_set_new(o, "location", json_string(where));
    json_object_set_new(o, "start", json_pack("{s:s}", "dateTime", start));
    json_object_set_new(o, "end", json_pack("{s:s}", "dateTime", end));
    json_object_set_new(att, "email", json_string(s->client.email));
    if (s->client.name && *s->client.name)
        json_object_set_new(att, "displayName", json_string(s->client.name));
    json_object_set_new(o, "attendees", json_pack("[o]", att));
    json_object_set_new(o, "transparency",
                        json_string(cancelled ? "transparent" : "opaque"));
    json_object_set_new(
        o, "extendedProperties",
        json_pack("{s:{s:s}}", "private", "bookingd_uid", s->b.uid));
    out = bk_json_dump(arena, o, NULL);
    json_decref(o);
    return out;
}

static void g_failed(struct outcome *o, struct gsess *g, const char *what,
                     const struct bk_net_response *r, struct bk_arena *arena)
{
    if (!r) {
        o->error = bk_arena_printf(arena, "%s: %s", what,
                                   g->error ? g->error : "failed");
        o->auth_failed = g->auth_failed;
        o->limited = g->limited;
        return;
    }
    o->error =
        bk_arena_printf(arena, "%s: %s", what, bk_google_error_text(r, arena));
}

/* Creates (events.insert with the booking's own id) or updates
 * (events.update with If-Match) the event at path; a 409 (the id exists: a
 * retried insert) or 412 (edited meanwhile) reads the current version and
 * writes over it, at most three rounds. */
static void g_put(struct gsess *g, const char *path, const char *id,
                  const char *json, bool create, const char *etag,
                  struct bk_arena *arena, struct outcome *o)
{
    const char *collection =
        bk_arena_strndup(arena, path, strlen(path) - strlen(id) - 1);
    struct bk_net_response r;

    for (int round = 0; round < 4; round++) {
        int st = 0;
        const char *cur = NULL;
        if (create) {
            if (!g_call(
                    g, "POST",
                    bk_arena_printf(arena, "%s?sendUpdates=none", collection),
                    json, NULL, &r)) {
                g_failed(o, g, "events.insert", NULL, arena);
                return;
            }
            if (r.status == 200 || r.status == 201) {
                o->etag = g_etag_of(&r, arena, NULL);
                return;
            }
            if (r.status != 409) {
                g_failed(o, g, "events.insert", &r, arena);
                return;
            }
        } else {
            if (!g_call(g, "PUT",
                        bk_arena_printf(arena, "%s?sendUpdates=none", path),
                        json, etag, &r)) {
                g_failed(o, g, "events.update", NULL, arena);
                return;
            }
            if (r.status == 200) {
                o->etag = g_etag_of(&r, arena, NULL);
                return;
            }
            if (r.status == 404 || r.status == 410) {
                create = true;
                continue;
            }
            if (r.status != 412) {
                g_failed(o, g, "events.update", &r, arena);
                return;
            }
        }
        /* 409 or 412: the current version, written over. */
        if (!google_current(g, path, &st, &cur)) {
            g_failed(o, g, "events.get", NULL, arena);
            return;
        }
        if (st == 404) {
            create = true;
        } else {
            create = false;
            etag = cur;
        }
        bk_log_info("calendars: event %s of %s changed in Google Calendar "
                    "meanwhile; writing the booking's state over it",
                    id, g->conn->public_id);
    }
    o->error = "events.update: the event kept changing (412 four times)";
}

static void g_delete(struct gsess *g, const char *path, const char *etag,
                     struct bk_arena *arena, struct outcome *o)
{
    const char *url = bk_arena_printf(arena, "%s?sendUpdates=none", path);
    struct bk_net_response r;

    if (!g_call(g, "DELETE", url, NULL, etag, &r)) {
        g_failed(o, g, "events.delete", NULL, arena);
        return;
    }
    /* 412: edited meanwhile; the booking is cancelled all the same. */
    if (r.status == 412 && !g_call(g, "DELETE", url, NULL, NULL, &r)) {
        g_failed(o, g, "events.delete", NULL, arena);
        return;
    }
    if (r.status == 200 || r.status == 204 || r.status == 404 ||
        r.status == 410) {
        o->etag = NULL;
        o->superseded = true;
        return;
    }
    g_failed(o, g, "events.delete", &r, arena);
}

/* push_one for a Google connection. A connection waiting for consent
 * (needs_auth) is left alone: authorizing it again pushes its host's
 * bookings (api/calendars.c). */
/* What a push of one booking to one connection has to do, whatever the
 * kind: the booking's event link there (l, live when not superseded), the
 * write calendar. */
struct push_plan {
    const struct bk_link *l;
    bool live, cancelled;
    const char *cal;
};

/* False when there is nothing to do: a pending booking, one cancelled
 * before it had an event, or no write calendar chosen and no event. */
static bool plan_push(const struct state *s,
                      const struct bk_cal_connection *conn,
                      const char *provider, const char *kind,
                      struct bk_arena *arena, struct push_plan *p)
{
    bool want = s->b.status == BK_BOOKING_CONFIRMED ||
                s->b.status == BK_BOOKING_COMPLETED ||
                s->b.status == BK_BOOKING_NO_SHOW;

    p->l = link_of(s, provider, kind);
    p->live = p->l && !p->l->superseded;
    p->cancelled = s->b.status == BK_BOOKING_CANCELLED;
    if (!want && !(p->cancelled && p->live))
        return false;
    p->cal = write_calendar(conn, arena);
    return p->cal || p->live;
}

static void push_google(const struct bk_calendars_config *cfg,
                        const struct state *s,
                        const struct bk_cal_connection *conn,
                        struct bk_arena *arena, struct outcome *o)
{
    struct push_plan pl;
    const struct bk_link *l;
    bool live, cancelled;
    const char *cal, *id, *path;
    struct gsess g;

    o->provider = "google";
    if (!plan_push(s, conn, "google", o->kind, arena, &pl))
        return;
    l = pl.l;
    live = pl.live;
    cancelled = pl.cancelled;
    cal = pl.cal;
    if (conn->status == BK_CAL_NEEDS_AUTH) {
        o->skipped_needs_auth = true;
        return;
    }
    if (!g_open(&g, cfg, cfg->store, conn, arena)) {
        o->error = g.error;
        o->auth_failed = g.auth_failed;
        o->limited = g.limited;
        return;
    }
    o->touched = true;
    id = bk_google_event_id(s->b.uid, arena);
    path = live ? l->external_id
                : bk_arena_printf(arena, "/calendars/%s/events/%s",
                                  bk_str_qenc(arena, cal), id);
    o->url = path;
    if (cancelled && conn->on_cancel == 0) {
        g_delete(&g, path, l->etag, arena, o);
        o->link_changed = true;
        return;
    }
    g_put(&g, path, id, g_event_json(cfg, s, id, cancelled, arena), !live,
          live ? l->etag : NULL, arena, o);
    if (!o->error) {
        o->link_new = !l;
        o->link_changed = l != NULL;
    }
}

/* Brings one connection's event to the booking's state. */
static void push_one(const struct bk_calendars_config *cfg,
                     const struct state *s,
                     const struct bk_cal_connection *conn,
                     struct bk_arena *arena, struct outcome *o)
{
    const char *kind = bk_arena_printf(arena, "event:%s", conn->public_id);
    struct push_plan pl;
    const struct bk_link *l;
    bool live, cancelled;
    const char *cal, *aad, *url;
    char *password = NULL;
    size_t plen = 0;
    struct bk_dav_client dc;
    struct bk_errbuf why;

    memset(o, 0, sizeof(*o));
    o->conn = conn;
    o->kind = kind;
    o->provider = "caldav";
    if (strcmp(conn->kind, "google") == 0) {
        push_google(cfg, s, conn, arena, o);
        return;
    }
    if (strcmp(conn->kind, "caldav") != 0 ||
        !plan_push(s, conn, "caldav", kind, arena, &pl))
        return;
    l = pl.l;
    live = pl.live;
    cancelled = pl.cancelled;
    cal = pl.cal;
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
        l.provider = o->provider;
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
        if (o->skipped_needs_auth)
            continue; /* stays needs_auth until authorized again */
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
    bool all_limited = true;
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
            all_limited = all_limited && os[i].limited;
        }
    }
    BK_STORE_RETRY(
        e, record_once(store, job, &s, os, n, !first_error, arena, err));
    if (e)
        return e;
    /* Retried with the queue's backoff; refusals of the providers' rate
     * limits or breakers alone do not count as an attempt (jobs.h). */
    if (first_error)
        return bk_fail(err, all_limited ? BK_E_RATE_LIMITED : BK_E_RETRY, "%s",
                       first_error);
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

/* ---- Pull: busy time, and bookings following their events ------------- */

#define SYNC_KIND      "calendars.sync"
#define RECONCILE_KIND "calendars.reconcile"
/* Members changed since the last token read one by one (multiget); more
 * read the whole window again. */
#define MAX_INCREMENTAL 1000
#define DAY_S           86400

/* One calendar of a connection, as its JSON says. */
struct cal {
    const char *href;
    bool busy, write;
    const char *sync_token;
};

static size_t calendars_of(const struct bk_cal_connection *c,
                           struct bk_arena *arena, struct cal **out)
{
    json_t *a = json_loads(c->calendars ? c->calendars : "[]", 0, NULL), *v;
    size_t i, n = 0;

    *out = bk_arena_alloc(arena, (json_array_size(a) + 1) * sizeof(**out));
    json_array_foreach(a, i, v)
    {
        const char *href = json_string_value(json_object_get(v, "href"));
        const char *tok = json_string_value(json_object_get(v, "sync_token"));
        if (!href)
            continue;
        (*out)[n].href = bk_arena_strdup(arena, href);
        (*out)[n].busy = json_is_true(json_object_get(v, "busy"));
        (*out)[n].write = json_is_true(json_object_get(v, "write"));
        (*out)[n].sync_token = tok ? bk_arena_strdup(arena, tok) : NULL;
        n++;
    }
    json_decref(a);
    return n;
}

/* The connection's calendars JSON with href's sync token set to token. */
static const char *with_token(const char *calendars, const char *href,
                              const char *token, struct bk_arena *arena)
{
    json_t *a = json_loads(calendars ? calendars : "[]", 0, NULL), *v;
    const char *out;
    size_t i;

    json_array_foreach(a, i, v)
    {
        const char *h = json_string_value(json_object_get(v, "href"));
        if (h && strcmp(h, href) == 0) {
            if (token)
                json_object_set_new(v, "sync_token", json_string(token));
            else
                json_object_del(v, "sync_token");
        }
    }
    {
        char *text = json_dumps(a, JSON_COMPACT);
        out = text ? bk_arena_strdup(arena, text) : calendars;
        free(text);
    }
    json_decref(a);
    return out;
}

struct sync_ctx {
    const struct bk_calendars_config *cfg;
    struct bk_store *store;
    struct bk_arena *arena;
    struct bk_sync_summary *sum;
    int64_t now_utc;
    const struct bk_dav_client *dc; /* the connection being synced */
    const char *provider;           /* its links' provider */
    struct gsess *g;                /* a Google connection's session */
    bool full; /* a reconcile: sync tokens ignored, the window read whole */
};

/* A booking event seen in the calendar. */
struct seen {
    const char *uid, *href, *etag;
    int64_t start_utc, end_utc;
    const char *summary; /* NULL: none */
};

static void add_error(struct sync_ctx *x, const char *conn, const char *msg)
{
    struct bk_sync_summary *s = x->sum;
    struct bk_sync_error *v =
        bk_arena_alloc(x->arena, (s->n_errors + 1) * sizeof(*v));

    if (s->n_errors)
        memcpy(v, s->errors, s->n_errors * sizeof(*v));
    v[s->n_errors].connection = bk_arena_strdup(x->arena, conn);
    /* A server's words may be any bytes; the summary is JSON (UTF-8). */
    if (bk_utf8_valid(msg, strlen(msg) + 1, true)) {
        v[s->n_errors].message = bk_arena_strdup(x->arena, msg);
    } else {
        char *m = bk_arena_strdup(x->arena, msg);
        for (char *p = m; *p; p++)
            if ((unsigned char)*p >= 0x80 || (unsigned char)*p < 0x20)
                *p = '?';
        v[s->n_errors].message = m;
    }
    s->errors = v;
    s->n_errors++;
}

/* Records the connection's state after a sync (or its failure). */
static enum bk_err record_conn_once(struct bk_store *store, int64_t id,
                                    const char *calendars, const char *error,
                                    bool auth_failed, int64_t now_ms,
                                    struct bk_arena *arena,
                                    struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    struct bk_cal_connection c;
    enum bk_err e;

    if ((e = bk_store_begin(store, BK_TX_WRITE, &tx, err)))
        goto out;
    e = bk_store_cal_get(tx, NULL, id, arena, &c, err);
    if (e == BK_E_NOT_FOUND) { /* deleted meanwhile */
        e = BK_OK;
        goto out;
    }
    if (e)
        goto out;
    if (calendars)
        c.calendars = calendars;
    c.status = error ? (auth_failed ? BK_CAL_NEEDS_AUTH : BK_CAL_ERROR)
                     : BK_CAL_ACTIVE;
    c.last_error = error;
    if (!error)
        c.last_sync_ms = now_ms;
    c.updated_ms = now_ms;
    if ((e = bk_store_cal_update(tx, &c, err)))
        goto out;
    e = bk_store_commit(tx, err);
    tx = NULL;
out:
    bk_store_rollback(tx);
    return e;
}

/* Orders busy rows by href, then start and end. */
static int row_cmp(const void *a, const void *b)
{
    const struct bk_cal_busy *x = a, *y = b;
    int c = strcmp(x->href, y->href);

    if (c)
        return c;
    if (x->start_utc != y->start_utc)
        return x->start_utc < y->start_utc ? -1 : 1;
    if (x->end_utc != y->end_utc)
        return x->end_utc < y->end_utc ? -1 : 1;
    return 0;
}

/* A copy of rows in row_cmp order (a database's text order may be its
 * locale's, not strcmp's). Free with free(). */
static struct bk_cal_busy *sorted_copy(const struct bk_cal_busy *rows, size_t n)
{
    struct bk_cal_busy *out = n ? bk_xmalloc(n * sizeof(*out)) : NULL;

    if (n)
        memcpy(out, rows, n * sizeof(*out));
    if (n > 1)
        qsort(out, n, sizeof(*out), row_cmp);
    return out;
}

/* Counts, per event (href), the new, the changed (or gone) and the
 * unchanged, comparing the rows written with the rows they replace. */
static void count_changes(const struct bk_cal_busy *rows, size_t n,
                          const struct bk_cal_busy *old_rows, size_t n_old,
                          int64_t *created, int64_t *updated, int64_t *skipped)
{
    struct bk_cal_busy *sorted = sorted_copy(rows, n);
    struct bk_cal_busy *old = sorted_copy(old_rows, n_old);
    size_t i = 0, j = 0;

    while (i < n || j < n_old) {
        const char *h;
        size_t i2 = i, j2 = j;
        bool same = true;
        int c = i >= n       ? 1
                : j >= n_old ? -1
                             : strcmp(sorted[i].href, old[j].href);
        h = c <= 0 ? sorted[i].href : old[j].href;
        while (i2 < n && strcmp(sorted[i2].href, h) == 0)
            i2++;
        while (j2 < n_old && strcmp(old[j2].href, h) == 0)
            j2++;
        if (c < 0) {
            (*created)++;
        } else if (c > 0) {
            (*updated)++; /* gone */
        } else {
            if (i2 - i != j2 - j)
                same = false;
            for (size_t k = 0; same && k < i2 - i; k++)
                same = sorted[i + k].start_utc == old[j + k].start_utc &&
                       sorted[i + k].end_utc == old[j + k].end_utc;
            if (same)
                (*skipped)++;
            else
                (*updated)++;
        }
        i = i2;
        j = j2;
    }
    free(sorted);
    free(old);
}

/* Replaces one calendar's busy rows; counts created/updated/skipped by
 * comparing each href's intervals with the stored ones. */
static enum bk_err
store_busy_once(struct sync_ctx *x, const struct bk_cal_connection *conn,
                const char *calendar, const struct bk_cal_busy *rows, size_t n,
                size_t n_events_unchanged_hint, int64_t *created,
                int64_t *updated, int64_t *skipped, struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    struct bk_cal_busy *old = NULL;
    size_t n_old = 0;
    enum bk_err e;

    (void)n_events_unchanged_hint;
    *created = *updated = *skipped = 0;
    if ((e = bk_store_begin(x->store, BK_TX_WRITE, &tx, err)) ||
        (e = bk_store_cal_busy_list(tx, conn->id, calendar, x->arena, &old,
                                    &n_old, err)) ||
        (e = bk_store_cal_busy_clear(tx, conn->id, calendar, err)))
        goto out;
    for (size_t i = 0; i < n; i++)
        if ((e = bk_store_cal_busy_add(tx, &rows[i], err)))
            goto out;
    count_changes(rows, n, old, n_old, created, updated, skipped);
    e = bk_store_commit(tx, err);
    tx = NULL;
out:
    bk_store_rollback(tx);
    return e;
}

/* The booking whose UID uid is, if it is this host's; *found. */
static enum bk_err booking_of(struct sync_ctx *x, const char *uid,
                              int64_t host_id, struct bk_booking *b,
                              bool *found, struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    enum bk_err e;

    *found = false;
    if (!uid || !*uid)
        return BK_OK;
    if ((e = bk_store_begin(x->store, BK_TX_READ, &tx, err)))
        return e;
    e = bk_store_booking_by_uid(tx, uid, x->arena, b, err);
    if (e == BK_E_NOT_FOUND) {
        if (err)
            bk_errbuf_clear(err);
        e = BK_OK;
    } else if (!e) {
        *found = b->host_id == host_id;
    }
    bk_store_rollback(tx);
    return e;
}

/* Enqueues a push of the booking (its event put back as the ledger has
 * it), with a key of its own. */
static enum bk_err push_again(struct sync_ctx *x, int64_t booking_id,
                              struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    char key[96], payload[64];
    int64_t id = 0, now_ms = bk_now_ms();
    bool existed = false;
    enum bk_err e;

    snprintf(key, sizeof(key), PUSH_KIND ":restore:%" PRId64 ":%" PRId64,
             booking_id, now_ms);
    snprintf(payload, sizeof(payload), "{\"booking_id\": %" PRId64 "}",
             booking_id);
    if ((e = bk_store_begin(x->store, BK_TX_QUEUE, &tx, err)) ||
        (e = bk_store_job_enqueue(tx, PUSH_KIND, key, payload, now_ms,
                                  x->cfg->max_attempts, now_ms, &id, &existed,
                                  err)))
        goto out;
    e = bk_store_commit(tx, err);
    tx = NULL;
out:
    bk_store_rollback(tx);
    return e;
}

/* Sets the stored ETag of the booking's event (the calendar's version is
 * the one the next push must match). */
static enum bk_err set_etag(struct sync_ctx *x, const char *kind,
                            const char *href, const char *etag,
                            struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    struct bk_link l;
    enum bk_err e;

    if ((e = bk_store_begin(x->store, BK_TX_WRITE, &tx, err)))
        return e;
    e = bk_store_link_find(tx, x->provider, kind, href, x->arena, &l, err);
    if (!e) {
        l.etag = etag;
        e = bk_store_link_update(tx, &l, err);
    }
    if (!e) {
        e = bk_store_commit(tx, err);
        tx = NULL;
    }
    bk_store_rollback(tx);
    return e == BK_E_NOT_FOUND ? BK_OK : e;
}

/* A sync's read can be older than a push made since (the push and the sync
 * of one connection run as separate jobs): what the read shows is checked
 * against the calendar now before a booking follows it. */

/* Whether the event at url is gone now (404 or 410). */
static bool current_of(struct sync_ctx *x, const char *url, int *st,
                       const char **etag)
{
    const char *body = NULL;

    *st = 0;
    *etag = NULL;
    if (x->g)
        return google_current(x->g, url, st, etag);
    return bk_dav_get(x->dc, url, x->arena, st, &body, etag, NULL) == BK_OK;
}

static bool confirmed_gone(struct sync_ctx *x, const char *url)
{
    const char *etag = NULL;
    int st = 0;

    if (!current_of(x, url, &st, &etag))
        return false; /* unknown: the next sync decides */
    return st == 404 || st == 410;
}

static bool same_tag(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Whether s is an edit made in the calendar that is still there: not the
 * version bookingd wrote last (its link's ETag), and still the calendar's
 * current version. */
static bool edited_in_calendar(struct sync_ctx *x, const char *kind,
                               const struct seen *s)
{
    struct bk_tx *tx = NULL;
    struct bk_link l;
    const char *etag = NULL;
    bool ours = false;
    int st = 0;

    if (bk_store_begin(x->store, BK_TX_READ, &tx, NULL) == BK_OK &&
        bk_store_link_find(tx, x->provider, kind, s->href, x->arena, &l,
                           NULL) == BK_OK)
        ours = s->etag && same_tag(l.etag, s->etag);
    bk_store_rollback(tx);
    if (ours)
        return false;
    if (!current_of(x, s->href, &st, &etag))
        return false;
    return st == 200 && same_tag(etag, s->etag);
}

/* The booking b's event is gone from the calendar of conn (confirmed):
 * the booking is cancelled ("deleted in calendar"), or, when the
 * connection asks (on_calendar_delete 1), flagged for the admin with a
 * line in its history and left confirmed (docs/calendars.md "Ask"). */
static void gone_from_calendar(struct sync_ctx *x,
                               const struct bk_cal_connection *conn,
                               const struct bk_booking *b)
{
    struct bk_booking out;
    struct bk_errbuf e2;

    bk_errbuf_clear(&e2);
    if (conn->on_calendar_delete == 1) {
        struct bk_tx *tx = NULL;
        struct bk_booking cur;
        struct bk_booking_change ch;
        enum bk_err e;

        if (b->flag)
            return; /* asked already */
        memset(&ch, 0, sizeof(ch));
        ch.booking_id = b->id;
        ch.at_utc = x->now_utc;
        ch.action = "flagged";
        ch.actor = "calendar";
        ch.from_status = -1;
        ch.to_status = -1;
        ch.note = bk_arena_printf(x->arena,
                                  "its event was deleted in the calendar of "
                                  "%s: the admin decides (cancel, or keep "
                                  "and put the event back)",
                                  conn->public_id);
        e = bk_store_begin(x->store, BK_TX_WRITE, &tx, &e2);
        /* Read again in the write: still confirmed and not flagged. */
        if (!e)
            e = bk_store_booking_get(tx, b->id, x->arena, &cur, &e2);
        if (!e && (cur.flag || cur.status != BK_BOOKING_CONFIRMED)) {
            bk_store_rollback(tx);
            return;
        }
        if (!e)
            e = bk_store_booking_set_flag(
                tx, b->id, BK_FLAG_DELETED_IN_CALENDAR, x->now_utc, &e2);
        if (!e)
            e = bk_store_history_append(tx, &ch, &e2);
        if (!e) {
            e = bk_store_commit(tx, &e2);
            tx = NULL;
        }
        bk_store_rollback(tx);
        if (e) {
            add_error(x, conn->public_id,
                      bk_arena_printf(x->arena, "booking %s: flagging: %s",
                                      b->uid, e2.msg));
            return;
        }
        x->sum->updated++;
        bk_log_info("calendars: booking %s flagged: its event was deleted "
                    "in the calendar of %s",
                    b->uid, conn->public_id);
        return;
    }
    if (bk_ledger_booking_cancel(x->store, b->uid, "deleted in calendar",
                                 "calendar", x->now_utc, x->arena, &out,
                                 &e2) == BK_OK) {
        x->sum->updated++;
        bk_log_info("calendars: booking %s cancelled: its event was "
                    "deleted in the calendar of %s",
                    b->uid, conn->public_id);
    }
}

/* The bookings of this connection's events, after a full read of the
 * write calendar: moved ones follow, missing ones are cancelled. */
static void follow(struct sync_ctx *x, const struct bk_cal_connection *conn,
                   const struct seen *seen, size_t n_seen, int64_t from_utc,
                   int64_t to_utc, bool full)
{
    const char *kind = bk_arena_printf(x->arena, "event:%s", conn->public_id);
    struct bk_tx *tx = NULL;
    struct bk_errbuf e2;

    /* Moved in the calendar. */
    for (size_t i = 0; i < n_seen; i++) {
        struct bk_booking b, out;
        bool found = false;
        enum bk_err e;
        bk_errbuf_clear(&e2);
        if (booking_of(x, seen[i].uid, conn->host_id, &b, &found, &e2) ||
            !found || b.status != BK_BOOKING_CONFIRMED)
            continue;
        if (b.start_utc == seen[i].start_utc && b.end_utc == seen[i].end_utc)
            continue;
        if (!edited_in_calendar(x, kind, &seen[i]))
            continue;
        if (set_etag(x, kind, seen[i].href, seen[i].etag, &e2))
            continue;
        e = bk_ledger_booking_reschedule(x->store, b.uid, seen[i].start_utc,
                                         "calendar", x->now_utc, x->arena, &out,
                                         &e2);
        if (!e) {
            x->sum->updated++;
            bk_log_info("calendars: booking %s moved in the calendar of %s",
                        b.uid, conn->public_id);
            continue;
        }
        /* Refused (taken, outside the schedule): the event goes back. */
        bk_log_warn("calendars: booking %s was moved in the calendar of %s; "
                    "the move is refused (%s): the event is put back",
                    b.uid, conn->public_id, e2.msg);
        add_error(x, conn->public_id,
                  bk_arena_printf(x->arena,
                                  "booking %s: the move in the calendar is "
                                  "refused (%s); the event is put back",
                                  b.uid, e2.msg));
        bk_errbuf_clear(&e2);
        (void)push_again(x, b.id, &e2);
    }
    /* Gone from the calendar (a full read of the window): cancelled. Only
     * bookings whose event lies in the window read, and whose link is
     * live. */
    if (full) {
        struct bk_link *links = NULL;
        size_t n_links = 0;
        bk_errbuf_clear(&e2);
        if (bk_store_begin(x->store, BK_TX_READ, &tx, &e2) != BK_OK)
            return;
        if (bk_store_link_list_kind(tx, x->provider, kind, x->arena, &links,
                                    &n_links, &e2) != BK_OK)
            n_links = 0;
        for (size_t i = 0; i < n_links; i++) {
            struct bk_booking b;
            bool present = false;
            if (links[i].superseded ||
                bk_store_booking_get(tx, links[i].entity_id, x->arena, &b,
                                     NULL) != BK_OK ||
                b.status != BK_BOOKING_CONFIRMED || b.end_utc <= from_utc ||
                b.start_utc >= to_utc || b.start_utc <= x->now_utc)
                continue;
            for (size_t j = 0; j < n_seen && !present; j++)
                if (strcmp(seen[j].href, links[i].external_id) == 0 ||
                    strcmp(seen[j].uid, b.uid) == 0)
                    present = true;
            if (!present)
                links[i].entity_id = -links[i].entity_id; /* to cancel */
        }
        bk_store_rollback(tx);
        tx = NULL;
        for (size_t i = 0; i < n_links; i++) {
            struct bk_booking b;
            if (links[i].entity_id >= 0 ||
                !confirmed_gone(x, links[i].external_id))
                continue;
            bk_errbuf_clear(&e2);
            if (bk_store_begin(x->store, BK_TX_READ, &tx, &e2) ||
                bk_store_booking_get(tx, -links[i].entity_id, x->arena, &b,
                                     &e2)) {
                bk_store_rollback(tx);
                tx = NULL;
                continue;
            }
            bk_store_rollback(tx);
            tx = NULL;
            gone_from_calendar(x, conn, &b);
        }
    }
}

/* ---- Reconcile ----------------------------------------------------------
 * After a full read of the write calendar (follow() has run), every future
 * booking of the host within the window is compared with its event there
 * and what drifted is pushed again (docs/calendars.md "Reconcile"). */

/* The SUMMARY bookingd writes for b (build_ics, g_event_json). */
static const char *summary_of(const struct bk_booking *b, bool cancelled,
                              struct bk_arena *arena)
{
    const char *who =
        b->client_name && *b->client_name ? b->client_name : b->client_email;

    return bk_arena_printf(
        arena, "%s%s with %s", cancelled ? "Cancelled: " : "",
        b->event_type_title ? b->event_type_title : "", who ? who : "");
}

static const struct seen *seen_of(const struct seen *seen, size_t n,
                                  const char *uid)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(seen[i].uid, uid) == 0)
            return &seen[i];
    return NULL;
}

/* The booking's live event link of this connection, if any. */
static bool live_link(struct bk_tx *tx, const struct bk_booking *b,
                      const char *provider, const char *kind,
                      struct bk_arena *arena)
{
    struct bk_link *links = NULL;
    size_t n = 0;

    if (bk_store_link_list(tx, BK_LINK_BOOKING, b->id, arena, &links, &n,
                           NULL) != BK_OK)
        return false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(links[i].provider, provider) == 0 &&
            strcmp(links[i].kind, kind) == 0 && !links[i].superseded)
            return true;
    return false;
}

/* Bookings compared by one reconcile at most (pages of 500). */
#define RECONCILE_MAX 10000

static void reconcile_write(struct sync_ctx *x,
                            const struct bk_cal_connection *conn,
                            const struct seen *seen, size_t n_seen,
                            int64_t to_utc)
{
    const char *kind = bk_arena_printf(x->arena, "event:%s", conn->public_id);
    struct bk_booking_filter f;
    size_t done = 0;

    memset(&f, 0, sizeof(f));
    f.status = -1;
    f.source = -1;
    f.host_id = conn->host_id;
    f.from_utc = x->now_utc + 1;
    f.to_utc = to_utc;
    f.limit = 500;
    while (done < RECONCILE_MAX) {
        struct bk_tx *tx = NULL;
        struct bk_booking *rows = NULL;
        bool *live = NULL;
        size_t n = 0;

        if (bk_store_begin(x->store, BK_TX_READ, &tx, NULL) != BK_OK)
            return;
        if (bk_store_booking_list(tx, &f, x->arena, &rows, &n, NULL) != BK_OK)
            n = 0;
        live = bk_arena_alloc(x->arena, (n + 1) * sizeof(*live));
        for (size_t i = 0; i < n; i++)
            live[i] = live_link(tx, &rows[i], x->provider, kind, x->arena);
        bk_store_rollback(tx);
        for (size_t i = 0; i < n; i++) {
            const struct bk_booking *b = &rows[i];
            const struct seen *sn = seen_of(seen, n_seen, b->uid);
            const char *why = NULL;
            bool created = false;
            struct bk_errbuf e2;

            if (b->status == BK_BOOKING_CONFIRMED) {
                x->sum->total++;
                if (b->flag) {
                    x->sum->skipped++; /* waits for the admin */
                    continue;
                }
                if (!sn && !live[i]) {
                    why = "its event is missing";
                    created = true;
                } else if (sn && (sn->start_utc != b->start_utc ||
                                  sn->end_utc != b->end_utc)) {
                    why = "its event's time is stale";
                } else if (sn &&
                           (!sn->summary ||
                            strcmp(sn->summary,
                                   summary_of(b, false, x->arena)) != 0)) {
                    why = "its event's summary is stale";
                }
            } else if (b->status == BK_BOOKING_CANCELLED && live[i] && sn) {
                /* Cancelled, but the event is still there (a CalDAV
                 * event kept STATUS:CANCELLED is free time, so not
                 * seen). */
                x->sum->total++;
                if (!(conn->on_cancel == 1 && sn->summary &&
                      strcmp(sn->summary, summary_of(b, true, x->arena)) == 0))
                    why = "it is cancelled but its event is still there";
            } else {
                continue;
            }
            if (!why) {
                x->sum->skipped++;
                continue;
            }
            bk_errbuf_clear(&e2);
            if (push_again(x, b->id, &e2) != BK_OK) {
                add_error(x, conn->public_id,
                          bk_arena_printf(x->arena, "booking %s: %s", b->uid,
                                          e2.msg));
                continue;
            }
            if (created)
                x->sum->created++;
            else
                x->sum->updated++;
            bk_log_info("calendars: reconcile of %s: booking %s: %s: pushed "
                        "again",
                        conn->public_id, b->uid, why);
        }
        done += n;
        if (n < (size_t)f.limit)
            break;
        f.has_after = true;
        f.after_start_utc = rows[n - 1].start_utc;
        f.after_id = rows[n - 1].id;
    }
}

/* The growable results of reading events. */
struct events {
    struct bk_cal_busy *rows;
    size_t n_rows, cap;
    struct seen *seen;
    size_t n_seen, cap_seen;
};

static void add_row(struct sync_ctx *x, struct events *ev,
                    const struct bk_cal_busy *r)
{
    if (ev->n_rows == ev->cap) {
        size_t nc = ev->cap ? ev->cap * 2 : 64;
        struct bk_cal_busy *v = bk_arena_alloc(x->arena, nc * sizeof(*v));
        if (ev->n_rows)
            memcpy(v, ev->rows, ev->n_rows * sizeof(*v));
        ev->rows = v;
        ev->cap = nc;
    }
    ev->rows[ev->n_rows++] = *r;
}

static void add_seen(struct sync_ctx *x, struct events *ev,
                     const struct seen *s)
{
    if (ev->n_seen == ev->cap_seen) {
        size_t nc = ev->cap_seen ? ev->cap_seen * 2 : 16;
        struct seen *v = bk_arena_alloc(x->arena, nc * sizeof(*v));
        if (ev->n_seen)
            memcpy(v, ev->seen, ev->n_seen * sizeof(*v));
        ev->seen = v;
        ev->cap_seen = nc;
    }
    ev->seen[ev->n_seen++] = *s;
}

/* Reads the events of a multistatus (calendar-query or -multiget) into
 * busy rows (busy calendars) and the bookings' events seen. */
static void read_events(struct sync_ctx *x,
                        const struct bk_cal_connection *conn,
                        const struct cal *cal, const struct bk_tz *zone,
                        const struct bk_dav_multistatus *ms, int64_t from_utc,
                        int64_t to_utc, struct events *ev)
{
    struct bk_errbuf why;

    for (size_t i = 0; i < ms->n; i++) {
        const struct bk_dav_response *r = &ms->responses[i];
        struct bk_ics_busy *iv = NULL;
        size_t n_iv = 0;
        const char *href = NULL, *last_uid = NULL;
        bool is_booking = false;
        if (!r->calendar_data)
            continue;
        x->sum->total++;
        if (bk_net_url_join(cal->href, r->href, x->arena, &href, NULL))
            continue;
        bk_errbuf_clear(&why);
        if (bk_ics_busy(r->calendar_data, from_utc, to_utc, zone, x->arena, &iv,
                        &n_iv, &why) != BK_OK) {
            add_error(x, conn->public_id,
                      bk_arena_printf(x->arena, "%s: %s", href, why.msg));
            continue;
        }
        for (size_t k = 0; k < n_iv; k++) {
            struct bk_cal_busy row;
            /* Whether the UID is a booking's: asked once per UID. */
            if (!last_uid || strcmp(last_uid, iv[k].uid) != 0) {
                struct bk_booking b;
                is_booking = false;
                if (booking_of(x, iv[k].uid, conn->host_id, &b, &is_booking,
                               NULL) != BK_OK)
                    is_booking = false;
                if (is_booking) {
                    /* A booking's own event: not busy time; its first
                     * instance tells where the host put it. */
                    struct seen s = {iv[k].uid,     href,
                                     r->etag,       iv[k].start_utc,
                                     iv[k].end_utc, iv[k].summary};
                    add_seen(x, ev, &s);
                }
                last_uid = iv[k].uid;
            }
            if (is_booking || !cal->busy)
                continue;
            memset(&row, 0, sizeof(row));
            row.connection_id = conn->id;
            row.host_id = conn->host_id;
            row.calendar = cal->href;
            row.href = href;
            row.uid = iv[k].uid;
            row.start_utc = iv[k].start_utc;
            row.end_utc = iv[k].end_utc;
            add_row(x, ev, &row);
        }
    }
}

/* Replaces the rows of the hrefs that changed or went (RFC 6578 answer);
 * counts them. */
static enum bk_err
store_changes_once(struct sync_ctx *x, const struct bk_cal_connection *conn,
                   const char *calendar, const char *const *hrefs, size_t n,
                   const struct events *ev, struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    int64_t created = 0, updated = 0;
    enum bk_err e;

    if ((e = bk_store_begin(x->store, BK_TX_WRITE, &tx, err)))
        goto out;
    for (size_t i = 0; i < n; i++) {
        int gone = 0;
        bool now = false;
        if ((e = bk_store_cal_busy_clear_href(tx, conn->id, calendar, hrefs[i],
                                              &gone, err)))
            goto out;
        for (size_t k = 0; k < ev->n_rows; k++)
            if (strcmp(ev->rows[k].href, hrefs[i]) == 0) {
                now = true;
                if ((e = bk_store_cal_busy_add(tx, &ev->rows[k], err)))
                    goto out;
            }
        if (gone)
            updated++;
        else if (now)
            created++;
    }
    e = bk_store_commit(tx, err);
    tx = NULL;
    if (!e) {
        x->sum->created += created;
        x->sum->updated += updated;
    }
out:
    bk_store_rollback(tx);
    return e;
}

/* Bookings whose events were removed from the calendar (RFC 6578 404s):
 * cancelled, as in follow(). */
static void follow_removed(struct sync_ctx *x,
                           const struct bk_cal_connection *conn,
                           const char *const *removed, size_t n)
{
    const char *kind = bk_arena_printf(x->arena, "event:%s", conn->public_id);

    for (size_t i = 0; i < n; i++) {
        struct bk_tx *tx = NULL;
        struct bk_link l;
        struct bk_booking b;
        struct bk_errbuf e2;
        bool cancel = false;

        bk_errbuf_clear(&e2);
        if (bk_store_begin(x->store, BK_TX_READ, &tx, &e2) != BK_OK)
            return;
        if (bk_store_link_find(tx, x->provider, kind, removed[i], x->arena, &l,
                               NULL) == BK_OK &&
            !l.superseded &&
            bk_store_booking_get(tx, l.entity_id, x->arena, &b, NULL) ==
                BK_OK &&
            b.status == BK_BOOKING_CONFIRMED && b.start_utc > x->now_utc)
            cancel = true;
        bk_store_rollback(tx);
        if (cancel && !confirmed_gone(x, removed[i]))
            cancel = false;
        if (cancel)
            gone_from_calendar(x, conn, &b);
    }
}

/* ---- One connection's sync: a per-kind reader, one driver ---------------
 * A reader opens the connection's session and reads one calendar: either
 * only what changed since the stored token (incremental), or the whole
 * window. sync_conn() does the rest the same way for every kind: busy rows
 * stored, bookings following their events (follow, follow_removed), the
 * reconcile, the tokens and the connection's state recorded. */

/* What a reader found in one calendar. */
struct cal_read {
    struct events ev; /* busy rows, and the bookings' events seen */
    bool incremental; /* only what changed since the stored token */
    const char **all; /* incremental: every href changed or gone */
    size_t n_all;
    const char **removed; /* incremental: the hrefs gone */
    size_t n_removed;
    const char *token; /* the token to store (NULL: none, read whole next) */
};

/* A failure of a reader: what is recorded on the connection. */
struct read_fail {
    const char *error;
    bool auth_failed;
};

/* A connection's session, whichever its kind. */
struct session {
    struct bk_dav_client dc;
    struct gsess g;
};

struct cal_reader {
    const char *provider; /* the links' */
    /* Opens the session (credentials) and points x at it. */
    bool (*open)(struct sync_ctx *x, const struct bk_cal_connection *conn,
                 struct session *s, struct read_fail *f);
    bool (*read)(struct sync_ctx *x, const struct bk_cal_connection *conn,
                 const struct cal *cal, const struct bk_tz *zone,
                 int64_t from_utc, int64_t to_utc, struct cal_read *out,
                 struct read_fail *f);
};

static bool read_failed(struct sync_ctx *x, struct read_fail *f, enum bk_err e,
                        const struct bk_errbuf *why)
{
    f->auth_failed = e == BK_E_UNAUTHORIZED;
    f->error = bk_arena_printf(x->arena, "%s", why->msg);
    return false;
}

static bool dav_open(struct sync_ctx *x, const struct bk_cal_connection *conn,
                     struct session *s, struct read_fail *f)
{
    const char *aad;
    char *password = NULL;
    size_t plen = 0;
    struct bk_errbuf why;

    if (!x->cfg->secret_key) {
        f->error = "BOOKINGD_SECRET_KEY is not set: the credentials cannot "
                   "be read";
        return false;
    }
    aad = bk_arena_printf(x->arena, "calendar_connection:%s:credential",
                          conn->public_id);
    bk_errbuf_clear(&why);
    if (bk_secret_open(x->cfg->secret_key, aad, conn->credential, x->arena,
                       &password, &plen, &why) != BK_OK) {
        f->error =
            bk_arena_printf(x->arena, "the stored credentials: %s", why.msg);
        return false;
    }
    memset(&s->dc, 0, sizeof(s->dc));
    s->dc.username = conn->username;
    s->dc.password = password;
    s->dc.connect_timeout_ms = x->cfg->connect_timeout_ms;
    s->dc.timeout_ms = x->cfg->timeout_ms;
    s->dc.max_response = x->cfg->max_response;
    s->dc.allow_private = x->cfg->allow_private;
    x->dc = &s->dc;
    return true;
}

/* CalDAV: a sync-collection REPORT with the stored token (RFC 6578); up to
 * MAX_INCREMENTAL members changed are read with a calendar-multiget;
 * without a token (or a refused one, or more changes, or a reconcile) a
 * calendar-query over the window. */
static bool dav_read(struct sync_ctx *x, const struct bk_cal_connection *conn,
                     const struct cal *cal, const struct bk_tz *zone,
                     int64_t from_utc, int64_t to_utc, struct cal_read *out,
                     struct read_fail *f)
{
    struct bk_dav_multistatus ms;
    const char *token = NULL, *ctag = NULL;
    struct bk_errbuf why;
    int status = 0;
    enum bk_err e;

    bk_errbuf_clear(&why);
    if (cal->sync_token && !x->full) {
        if ((e = bk_dav_sync_collection(x->dc, cal->href, cal->sync_token,
                                        x->arena, &status, &ms, &why)))
            return read_failed(x, f, e, &why);
        if (status == 207 && ms.n == 0) { /* nothing changed */
            out->incremental = true;
            out->token = ms.sync_token ? ms.sync_token : cal->sync_token;
            return true;
        }
        token = status == 207 ? ms.sync_token : NULL;
        if (status == 207 && ms.sync_token && ms.n <= MAX_INCREMENTAL) {
            /* Read only what changed (RFC 6578 §3.5: a member changed or
             * was removed). */
            const char **as_sent =
                bk_arena_alloc(x->arena, (ms.n + 1) * sizeof(*as_sent));
            struct bk_dav_multistatus got;
            size_t n_changed = 0;

            out->all = bk_arena_alloc(x->arena, (ms.n + 1) * sizeof(char *));
            out->removed =
                bk_arena_alloc(x->arena, (ms.n + 1) * sizeof(char *));
            for (size_t i = 0; i < ms.n; i++) {
                const char *abs = NULL;
                if (bk_net_url_join(cal->href, ms.responses[i].href, x->arena,
                                    &abs, NULL) != BK_OK ||
                    strcmp(abs, cal->href) == 0)
                    continue;
                out->all[out->n_all++] = abs;
                if (ms.responses[i].status == 404)
                    out->removed[out->n_removed++] = abs;
                else
                    as_sent[n_changed++] = ms.responses[i].href;
            }
            x->sum->total += (int64_t)out->n_removed;
            bk_errbuf_clear(&why);
            if (n_changed &&
                (e = bk_dav_multiget(x->dc, cal->href, as_sent, n_changed,
                                     x->arena, &got, &why)))
                return read_failed(x, f, e, &why);
            if (n_changed)
                read_events(x, conn, cal, zone, &got, from_utc, to_utc,
                            &out->ev);
            out->incremental = true;
            out->token = token;
            return true;
        }
    }
    /* The whole window. */
    bk_errbuf_clear(&why);
    if ((e = bk_dav_calendar_query(x->dc, cal->href, from_utc, to_utc, x->arena,
                                   &ms, &why)))
        return read_failed(x, f, e, &why);
    if (!token && bk_dav_collection_state(x->dc, cal->href, x->arena, &token,
                                          &ctag, &why) != BK_OK)
        token = NULL; /* no token: the next sync reads everything */
    {
        int64_t t0 = bk_mono_ms();
        read_events(x, conn, cal, zone, &ms, from_utc, to_utc, &out->ev);
        bk_log_debug("calendars: %s: %zu events read in %" PRId64 " ms",
                     cal->href, ms.n, bk_mono_ms() - t0);
    }
    out->token = token;
    return true;
}

/* The start or end of a Google event: {"dateTime"} or {"date"} (all-day:
 * midnight in the host's zone). */
static bool g_time(const json_t *t, const struct bk_tz *zone, int64_t *utc)
{
    const char *dtm = json_string_value(json_object_get(t, "dateTime"));
    const char *d = json_string_value(json_object_get(t, "date"));
    int64_t days = 0;

    if (dtm)
        return bk_rfc3339_parse(dtm, utc, NULL) == BK_OK;
    if (d && bk_date_parse(d, &days) == BK_OK) {
        *utc = bk_tz_local_to_utc(zone, days * DAY_S);
        return true;
    }
    return false;
}

/* Whether the account itself declined the event. */
static bool g_declined(const json_t *ev)
{
    size_t i;
    json_t *a;

    json_array_foreach(json_object_get(ev, "attendees"), i,
                       a) if (json_is_true(json_object_get(a, "self")))
    {
        const char *r = json_string_value(json_object_get(a, "responseStatus"));
        return r && strcmp(r, "declined") == 0;
    }
    return false;
}

/* Max pages of one events.list run. */
#define G_MAX_PAGES 40

static bool google_open(struct sync_ctx *x,
                        const struct bk_cal_connection *conn, struct session *s,
                        struct read_fail *f)
{
    if (!g_open(&s->g, x->cfg, x->store, conn, x->arena)) {
        f->error = s->g.error;
        f->auth_failed = s->g.auth_failed;
        return false;
    }
    x->g = &s->g;
    return true;
}

/* Google: events.list with the stored syncToken (only what changed;
 * deleted events come as status "cancelled"), or over [now - 1 day, now +
 * horizon) without one, after a 410 (the token expired) or in a
 * reconcile. singleEvents=true: Google expands recurring events. */
static bool google_read(struct sync_ctx *x,
                        const struct bk_cal_connection *conn,
                        const struct cal *cal, const struct bk_tz *zone,
                        int64_t from_utc, int64_t to_utc, struct cal_read *out,
                        struct read_fail *f)
{
    const char *token = x->full ? NULL : cal->sync_token;
    const char *new_token = NULL, *page = NULL;
    const char *base = bk_arena_printf(x->arena, "/calendars/%s/events",
                                       bk_str_qenc(x->arena, cal->href));
    size_t cap = 0;
    char tmin[BK_RFC3339_MAX], tmax[BK_RFC3339_MAX];

    bk_rfc3339_format_utc(from_utc, tmin);
    bk_rfc3339_format_utc(to_utc, tmax);
restart:
    memset(out, 0, sizeof(*out));
    cap = 0;
    page = new_token = NULL;
    for (int p = 0; p < G_MAX_PAGES; p++) {
        struct bk_net_response r;
        json_t *j, *items, *it;
        size_t i;
        const char *path = bk_arena_printf(
            x->arena, "%s?singleEvents=true&maxResults=250%s%s%s%s%s%s%s", base,
            token ? "&syncToken=" : "",
            token ? bk_str_qenc(x->arena, token) : "",
            token ? "" : "&timeMin=", token ? "" : bk_str_qenc(x->arena, tmin),
            token ? "" : "&timeMax=", token ? "" : bk_str_qenc(x->arena, tmax),
            page ? bk_arena_printf(x->arena, "&pageToken=%s",
                                   bk_str_qenc(x->arena, page))
                 : "");
        if (!g_call(x->g, "GET", path, NULL, NULL, &r)) {
            f->error = x->g->error;
            f->auth_failed = x->g->auth_failed;
            return false;
        }
        if (r.status == 410 && token) {
            bk_log_info("calendars: %s: Google's sync token expired (410): "
                        "reading %s again",
                        conn->public_id, cal->href);
            token = NULL;
            goto restart;
        }
        if (r.status != 200) {
            f->error = bk_arena_printf(x->arena, "events.list: %s",
                                       bk_google_error_text(&r, x->arena));
            return false;
        }
        j = json_loadb(r.body ? r.body : "", r.body_len, JSON_ALLOW_NUL, NULL);
        items = json_object_get(j, "items");
        if (!json_is_object(j) || (items && !json_is_array(items))) {
            json_decref(j);
            f->error = "events.list: the answer is not an event list";
            return false;
        }
        json_array_foreach(items, i, it)
        {
            const char *id = json_string_value(json_object_get(it, "id"));
            const char *st = json_string_value(json_object_get(it, "status"));
            const char *etag = json_string_value(json_object_get(it, "etag"));
            const char *tr =
                json_string_value(json_object_get(it, "transparency"));
            const char *uid = json_string_value(json_object_get(
                json_object_get(json_object_get(it, "extendedProperties"),
                                "private"),
                "bookingd_uid"));
            const char *href;
            int64_t s0 = 0, s1 = 0;
            struct bk_booking b;
            bool is_booking = false;
            if (!id || strlen(id) > 1024)
                continue;
            x->sum->total++;
            href = bk_arena_printf(x->arena, "%s/%s", base,
                                   bk_str_qenc(x->arena, id));
            if (out->n_all == cap) {
                size_t nc = cap ? cap * 2 : 64;
                const char **v1 = bk_arena_alloc(x->arena, nc * sizeof(*v1));
                const char **v2 = bk_arena_alloc(x->arena, nc * sizeof(*v2));
                if (out->n_all)
                    memcpy(v1, out->all, out->n_all * sizeof(*v1));
                if (out->n_removed)
                    memcpy(v2, out->removed, out->n_removed * sizeof(*v2));
                out->all = v1;
                out->removed = v2;
                cap = nc;
            }
            out->all[out->n_all++] = href;
            if (st && strcmp(st, "cancelled") == 0) {
                out->removed[out->n_removed++] = href;
                continue;
            }
            if (!g_time(json_object_get(it, "start"), zone, &s0) ||
                !g_time(json_object_get(it, "end"), zone, &s1) || s1 <= s0) {
                add_error(x, conn->public_id,
                          bk_arena_printf(x->arena,
                                          "event %s: no usable start and end",
                                          id));
                continue;
            }
            if (uid &&
                booking_of(x, uid, conn->host_id, &b, &is_booking, NULL) ==
                    BK_OK &&
                is_booking) {
                const char *sm =
                    json_string_value(json_object_get(it, "summary"));
                struct seen sn = {bk_arena_strdup(x->arena, uid),
                                  href,
                                  etag ? bk_arena_strdup(x->arena, etag) : NULL,
                                  s0,
                                  s1,
                                  sm ? bk_arena_strdup(x->arena, sm) : NULL};
                add_seen(x, &out->ev, &sn);
                continue;
            }
            if (!cal->busy || (tr && strcmp(tr, "transparent") == 0) ||
                g_declined(it) || s1 <= from_utc || s0 >= to_utc)
                continue;
            {
                struct bk_cal_busy row;
                memset(&row, 0, sizeof(row));
                row.connection_id = conn->id;
                row.host_id = conn->host_id;
                row.calendar = cal->href;
                row.href = href;
                row.uid = uid ? bk_arena_strdup(x->arena, uid) : NULL;
                row.start_utc = s0;
                row.end_utc = s1;
                add_row(x, &out->ev, &row);
            }
        }
        {
            const char *np =
                json_string_value(json_object_get(j, "nextPageToken"));
            const char *ns =
                json_string_value(json_object_get(j, "nextSyncToken"));
            page = np ? bk_arena_strdup(x->arena, np) : NULL;
            if (ns)
                new_token = bk_arena_strdup(x->arena, ns);
        }
        json_decref(j);
        if (!page)
            break;
    }
    if (page) {
        f->error = "events.list: more pages than bookingd reads at once";
        return false;
    }
    out->incremental = token != NULL;
    out->token = new_token;
    return true;
}

static const struct cal_reader dav_reader = {"caldav", dav_open, dav_read};
static const struct cal_reader google_reader = {"google", google_open,
                                                google_read};

/* Syncs one connection through its kind's reader. */
static void sync_conn(struct sync_ctx *x, const struct bk_cal_connection *conn)
{
    const struct cal_reader *rd =
        strcmp(conn->kind, "google") == 0 ? &google_reader : &dav_reader;
    const char *calendars = conn->calendars;
    struct read_fail f = {NULL, false};
    struct session sess;
    struct cal *cals = NULL;
    struct bk_host host;
    const struct bk_tz *zone = NULL;
    struct bk_errbuf why;
    size_t n_cals;
    int64_t from_utc = x->now_utc - DAY_S,
            to_utc = x->now_utc + (int64_t)x->cfg->horizon_days * DAY_S;
    enum bk_err e;

    if (strcmp(conn->kind, "caldav") != 0 && strcmp(conn->kind, "google") != 0)
        return;
    if (rd == &google_reader && conn->status == BK_CAL_NEEDS_AUTH)
        return; /* stopped until authorized again */
    x->provider = rd->provider;
    memset(&sess, 0, sizeof(sess));
    if (!rd->open(x, conn, &sess, &f))
        goto done;
    {
        struct bk_tx *tx = NULL;
        bk_errbuf_clear(&why);
        if (bk_store_begin(x->store, BK_TX_READ, &tx, &why) == BK_OK &&
            bk_store_host_get(tx, conn->host_id, x->arena, &host, &why) ==
                BK_OK)
            zone = host.timezone ? bk_tz_get(host.timezone) : NULL;
        bk_store_rollback(tx);
    }
    if (!zone)
        zone = bk_tz_utc();
    n_cals = calendars_of(conn, x->arena, &cals);
    for (size_t ci = 0; ci < n_cals; ci++) {
        struct cal *cal = &cals[ci];
        struct cal_read got;
        int64_t created = 0, updated = 0, skipped = 0;

        bk_errbuf_clear(&why);
        if (!cal->busy && !cal->write) {
            /* Not busy any more: its rows go. */
            (void)store_busy_once(x, conn, cal->href, NULL, 0, 0, &created,
                                  &updated, &skipped, &why);
            continue;
        }
        memset(&got, 0, sizeof(got));
        if (!rd->read(x, conn, cal, zone, from_utc, to_utc, &got, &f))
            goto done;
        bk_errbuf_clear(&why);
        if (got.incremental) {
            BK_STORE_RETRY(e, store_changes_once(x, conn, cal->href, got.all,
                                                 got.n_all, &got.ev, &why));
            if (!e && got.n_all == 0) {
                /* Nothing changed: its stored events count as skipped. */
                struct bk_tx *tx = NULL;
                struct bk_cal_busy *old = NULL;
                size_t n_old = 0;
                if (bk_store_begin(x->store, BK_TX_READ, &tx, &why) == BK_OK &&
                    bk_store_cal_busy_list(tx, conn->id, cal->href, x->arena,
                                           &old, &n_old, &why) == BK_OK)
                    x->sum->skipped += (int64_t)n_old;
                bk_store_rollback(tx);
            }
        } else {
            BK_STORE_RETRY(e, store_busy_once(x, conn, cal->href, got.ev.rows,
                                              got.ev.n_rows, 0, &created,
                                              &updated, &skipped, &why));
            x->sum->created += created;
            x->sum->updated += updated;
            x->sum->skipped += skipped;
        }
        if (e) {
            f.error = bk_arena_printf(x->arena, "%s", why.msg);
            goto done;
        }
        /* Tests hold a sync here, between its read and what follows from
         * it, to let a push happen meanwhile (test_calendars.py). */
        if (!got.incremental)
            bk_fault_hold("calendars.sync.read");
        if (cal->write) {
            follow(x, conn, got.ev.seen, got.ev.n_seen, from_utc, to_utc,
                   !got.incremental);
            if (got.incremental)
                follow_removed(x, conn, got.removed, got.n_removed);
            else if (x->full)
                reconcile_write(x, conn, got.ev.seen, got.ev.n_seen, to_utc);
        }
        calendars = with_token(calendars, cal->href, got.token, x->arena);
    }
done:
    if (f.error) {
        bk_log_warn("calendars: sync of %s: %s", conn->public_id, f.error);
        add_error(x, conn->public_id, f.error);
    }
    bk_errbuf_clear(&why);
    BK_STORE_RETRY(e, record_conn_once(
                          x->store, conn->id, f.error ? NULL : calendars,
                          f.error, f.auth_failed, bk_now_ms(), x->arena, &why));
    if (e)
        add_error(x, conn->public_id, why.msg);
    x->g = NULL;
    x->dc = NULL;
    x->provider = "caldav";
}

/* The summary of one connection's run as the JSON text stored on it
 * (last_sync_summary, last_reconcile_summary): the counts and errors of
 * sum since *before. */
static const char *summary_json(const struct bk_sync_summary *sum,
                                const struct bk_sync_summary *before,
                                int64_t at_ms, struct bk_arena *arena)
{
    json_t *errors = json_array(), *o;
    char at[BK_RFC3339_MAX];
    const char *out;

    for (size_t i = before->n_errors; i < sum->n_errors && i < 50; i++)
        json_array_append_new(errors, json_string(sum->errors[i].message));
    bk_rfc3339_format_utc(at_ms / 1000, at);
    o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:o}", "at", at, "total",
                  (json_int_t)(sum->total - before->total), "created",
                  (json_int_t)(sum->created - before->created), "updated",
                  (json_int_t)(sum->updated - before->updated), "skipped",
                  (json_int_t)(sum->skipped - before->skipped), "errors",
                  errors);
    out = bk_json_dump(arena, o, NULL);
    json_decref(o);
    return out;
}

static enum bk_err record_summary_once(struct bk_store *store, int64_t id,
                                       bool reconcile, const char *summary,
                                       int64_t at_ms, struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    enum bk_err e;

    if ((e = bk_store_begin(store, BK_TX_WRITE, &tx, err)))
        return e;
    e = bk_store_cal_set_summary(tx, id, reconcile, summary, at_ms, err);
    if (e == BK_E_NOT_FOUND) { /* deleted meanwhile */
        bk_store_rollback(tx);
        return BK_OK;
    }
    if (!e) {
        e = bk_store_commit(tx, err);
        tx = NULL;
    }
    bk_store_rollback(tx);
    return e;
}

enum bk_err bk_calendars_sync(const struct bk_calendars_config *cfg,
                              struct bk_store *store,
                              const struct bk_calendars_scope *scope,
                              int64_t now_utc, struct bk_arena *arena,
                              struct bk_sync_summary *out,
                              struct bk_errbuf *err)
{
    struct sync_ctx x = {cfg,      store, arena,           out, now_utc, NULL,
                         "caldav", NULL,  scope->reconcile};
    struct bk_cal_connection *conns = NULL, one;
    struct bk_tx *tx = NULL;
    size_t n = 0;
    enum bk_err e;

    memset(out, 0, sizeof(*out));
    if ((e = bk_store_begin(store, BK_TX_READ, &tx, err)))
        return e;
    if (scope->connection) {
        e = bk_store_cal_get(tx, scope->connection, 0, arena, &one, err);
        conns = &one;
        n = 1;
    } else if (scope->host) {
        struct bk_host h;
        e = bk_store_host_by_slug(tx, scope->host, arena, &h, err);
        if (e == BK_E_NOT_FOUND)
            e = bk_fail(err, e, "no host '%s'", scope->host);
        if (!e)
            e = bk_store_cal_list_host(tx, h.id, NULL, arena, &conns, &n, err);
    } else {
        e = bk_store_cal_list_host(tx, 0, NULL, arena, &conns, &n, err);
    }
    bk_store_rollback(tx);
    if (e)
        return e;
    for (size_t i = 0; i < n; i++) {
        struct bk_sync_summary before = *out;
        struct bk_errbuf why;
        int64_t at_ms;

        if (scope->kind && strcmp(conns[i].kind, scope->kind) != 0)
            continue;
        if (strcmp(conns[i].kind, "google") == 0 &&
            conns[i].status == BK_CAL_NEEDS_AUTH)
            continue; /* stopped until authorized again: nothing ran */
        x.provider = "caldav";
        x.g = NULL;
        x.dc = NULL;
        sync_conn(&x, &conns[i]);
        at_ms = bk_now_ms();
        bk_errbuf_clear(&why);
        BK_STORE_RETRY(
            e, record_summary_once(store, conns[i].id, scope->reconcile,
                                   summary_json(out, &before, at_ms, arena),
                                   at_ms, &why));
        if (e)
            add_error(&x, conns[i].public_id, why.msg);
    }
    return BK_OK;
}

enum bk_err bk_calendars_sync_api(void *ctx, const char *connection,
                                  const char *host, const char *kind,
                                  bool reconcile, struct bk_arena *arena,
                                  struct bk_sync_summary *out,
                                  struct bk_errbuf *err)
{
    const struct bk_calendars_config *cfg = ctx;
    struct bk_calendars_scope scope = {connection, host, kind, reconcile};

    return bk_calendars_sync(cfg, cfg->store, &scope, bk_now_utc(), arena, out,
                             err);
}

/* Whether any calendar connection exists: the periodic sync runs only
 * then (a connection's creation starts it, api/calendars.c). */
static enum bk_err any_connection(struct bk_tx *tx, bool *yes,
                                  struct bk_errbuf *err)
{
    struct bk_arena arena;
    struct bk_cal_connection *c = NULL;
    size_t n = 0;
    enum bk_err e;

    bk_arena_init(&arena);
    e = bk_store_cal_list_host(tx, 0, NULL, &arena, &c, &n, err);
    *yes = n > 0;
    bk_arena_release(&arena);
    return e;
}

static int64_t reconcile_interval(const struct bk_calendars_config *cfg)
{
    return cfg->reconcile_interval_ms > 0 ? cfg->reconcile_interval_ms
                                          : (int64_t)DAY_S * 1000;
}

static enum bk_err sync_schedule(void *ctx, struct bk_tx *tx, int64_t now_ms,
                                 struct bk_errbuf *err)
{
    const struct bk_calendars_config *cfg = ctx;
    bool yes = false;
    enum bk_err e = any_connection(tx, &yes, err);

    if (e || !yes)
        return e;
    return bk_jobs_enqueue_period(tx, SYNC_KIND, cfg->sync_interval_ms,
                                  cfg->max_attempts, now_ms, true, -1, err);
}

/* The periodic runs of both kinds: every connection synced (reconcile:
 * reconciled), the totals logged, the kind's next period queued while any
 * connection exists (a sync queues the next reconcile too: one per day,
 * so a no-op when it is queued), the job finished. */
static enum bk_err periodic_run(const struct bk_calendars_config *cfg,
                                struct bk_store *store,
                                const struct bk_job *job,
                                struct bk_arena *arena, bool reconcile,
                                struct bk_errbuf *err)
{
    struct bk_calendars_scope all = {NULL, NULL, NULL, reconcile};
    const char *kind = reconcile ? RECONCILE_KIND : SYNC_KIND;
    int64_t every = reconcile ? reconcile_interval(cfg) : cfg->sync_interval_ms;
    struct bk_sync_summary sum;
    struct bk_tx *tx = NULL;
    bool yes = false;
    enum bk_err e;

    /* A reconcile reads every calendar whole: hold the job for a full
     * lease first (jobs.h). */
    if ((reconcile && (e = bk_jobs_fence(store, job, err))) ||
        (e = bk_calendars_sync(cfg, store, &all, bk_now_utc(), arena, &sum,
                               err)))
        return e;
    if (reconcile || sum.total || sum.n_errors)
        bk_log_info("calendars: %s: %" PRId64 " events%s, %" PRId64
                    " created, %" PRId64 " updated, %" PRId64
                    " skipped, %zu errors",
                    reconcile ? "reconcile" : "sync", sum.total,
                    reconcile ? " and bookings" : "", sum.created, sum.updated,
                    sum.skipped, sum.n_errors);
    if ((e = bk_store_begin(store, BK_TX_QUEUE, &tx, err)) ||
        (e = any_connection(tx, &yes, err)) ||
        (yes && (e = bk_jobs_enqueue_period(
                     tx, kind, every, cfg->max_attempts, bk_now_ms(), false,
                     bk_jobs_period_of(job, kind), err))) ||
        (yes && !reconcile &&
         (e = bk_jobs_enqueue_period(tx, RECONCILE_KIND,
                                     reconcile_interval(cfg), cfg->max_attempts,
                                     bk_now_ms(), false, -1, err))) ||
        (e = bk_jobs_finish(tx, job, err)))
        goto out;
    e = bk_store_commit(tx, err);
    tx = NULL;
out:
    bk_store_rollback(tx);
    return e;
}

static enum bk_err sync_run(void *ctx, struct bk_store *store,
                            const struct bk_job *job, struct bk_arena *arena,
                            struct bk_errbuf *err)
{
    return periodic_run(ctx, store, job, arena, false, err);
}

void bk_calendars_sync_kind(const struct bk_calendars_config *cfg,
                            struct bk_job_kind *out)
{
    memset(out, 0, sizeof(*out));
    out->name = SYNC_KIND;
    out->run = sync_run;
    out->schedule = sync_schedule;
    out->ctx = (void *)cfg;
}

/* ---- The daily reconcile (job "calendars.reconcile") ------------------ */

static enum bk_err reconcile_schedule(void *ctx, struct bk_tx *tx,
                                      int64_t now_ms, struct bk_errbuf *err)
{
    const struct bk_calendars_config *cfg = ctx;
    bool yes = false;
    enum bk_err e = any_connection(tx, &yes, err);

    if (e || !yes)
        return e;
    /* The next period, not the current: connecting already read the
     * calendars whole. */
    return bk_jobs_enqueue_period(tx, RECONCILE_KIND, reconcile_interval(cfg),
                                  cfg->max_attempts, now_ms, false, -1, err);
}

static enum bk_err reconcile_run(void *ctx, struct bk_store *store,
                                 const struct bk_job *job,
                                 struct bk_arena *arena, struct bk_errbuf *err)
{
    return periodic_run(ctx, store, job, arena, true, err);
}

void bk_calendars_reconcile_kind(const struct bk_calendars_config *cfg,
                                 struct bk_job_kind *out)
{
    memset(out, 0, sizeof(*out));
    out->name = RECONCILE_KIND;
    out->run = reconcile_run;
    out->schedule = reconcile_schedule;
    out->ctx = (void *)cfg;
}
