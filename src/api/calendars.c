/* api/calendars.c — /api/v1/hosts/{slug}/calendars and /api/v1/calendars:
 * a host's calendar connections (docs/calendars.md). Creating one runs the
 * CalDAV discovery (dav/) before anything is stored; the password is
 * sealed (crypto/) and never shown. Pushing bookings into the calendar is
 * connectors/calendars.c; the ICS feed is api/calendar.c. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "api/internal.h"
#include "api/json.h"
#include "api/oauth.h"
#include "api/render.h"
#include "base/str.h"
#include "base/time.h"
#include "crypto/crypto.h"
#include "dav/dav.h"
#include "jobs/jobs.h"
#include "ledger/ledger.h"
#include "net/net.h"
#include "base/banned.h"

#define MAX_USERNAME  256
#define MAX_PASSWORD  1024
#define MAX_CALENDARS 64

static json_t *ms_or_null(int64_t ms)
{
    return ms ? bk_render_instant(bk_floordiv(ms, 1000), NULL) : json_null();
}

/* A stored run summary (connectors/calendars.c summary_json) as JSON. */
static json_t *summary_or_null(const char *text)
{
    json_t *v = text ? json_loads(text, 0, NULL) : NULL;

    if (json_is_object(v))
        return v;
    json_decref(v);
    return json_null();
}

static json_t *render_connection(const struct bk_cal_connection *c,
                                 const char *host_slug)
{
    static const char *const statuses[] = {"active", "error", "needs_auth"};
    json_t *o = json_object();
    json_t *cals = json_loads(c->calendars ? c->calendars : "[]", 0, NULL);

    json_object_set_new(o, "id", json_string(c->public_id));
    json_object_set_new(o, "kind", json_string(c->kind));
    json_object_set_new(o, "host", bk_json_str_or_null(host_slug));
    json_object_set_new(o, "url", json_string(c->url));
    json_object_set_new(o, "username", bk_json_str_or_null(c->username));
    json_object_set_new(o, "status",
                        json_string((int)c->status >= 0 && (int)c->status < 3
                                        ? statuses[c->status]
                                        : "?"));
    json_object_set_new(
        o, "on_cancel",
        json_string(c->on_cancel ? "mark_cancelled" : "delete"));
    {
        size_t i;
        json_t *cal;
        json_array_foreach(cals, i, cal) json_object_del(cal, "sync_token");
    }
    json_object_set_new(o, "on_calendar_delete",
                        json_string(c->on_calendar_delete ? "ask" : "cancel"));
    json_object_set_new(o, "calendars", cals ? cals : json_array());
    json_object_set_new(o, "last_sync_at", ms_or_null(c->last_sync_ms));
    json_object_set_new(o, "last_sync", summary_or_null(c->last_sync_summary));
    json_object_set_new(o, "last_reconcile_at",
                        ms_or_null(c->last_reconcile_ms));
    json_object_set_new(o, "last_reconcile",
                        summary_or_null(c->last_reconcile_summary));
    json_object_set_new(o, "last_error", bk_json_str_or_null(c->last_error));
    json_object_set_new(o, "created_at", ms_or_null(c->created_ms));
    json_object_set_new(o, "updated_at", ms_or_null(c->updated_ms));
    return o;
}

static enum bk_err on_cancel_of(const char *s, int *out, struct bk_errbuf *err)
{
    if (!s)
        return BK_OK;
    if (strcmp(s, "delete") == 0)
        *out = 0;
    else if (strcmp(s, "mark_cancelled") == 0)
        *out = 1;
    else
        return bk_fail_field(err, BK_E_INVALID, "on_cancel",
                             "must be delete or mark_cancelled");
    return BK_OK;
}

static enum bk_err on_calendar_delete_of(const char *s, int *out,
                                         struct bk_errbuf *err)
{
    if (!s)
        return BK_OK;
    if (strcmp(s, "cancel") == 0)
        *out = 0;
    else if (strcmp(s, "ask") == 0)
        *out = 1;
    else
        return bk_fail_field(err, BK_E_INVALID, "on_calendar_delete",
                             "must be cancel or ask");
    return BK_OK;
}

/* A discovery failure as the 422 the API answers: what the server said,
 * under the field it is most likely about. */
static enum bk_err discovery_failed(struct bk_api_call *c, enum bk_err e,
                                    const struct bk_errbuf *why)
{
    const char *field = e == BK_E_UNAUTHORIZED ? "password" : "url";
    enum bk_err r = bk_fail_field(c->err, BK_E_INVALID, field, "%s", why->msg);

    bk_errbuf_code(c->err, e == BK_E_UNAUTHORIZED
                               ? "calendar_auth_failed"
                               : "calendar_discovery_failed");
    return r;
}

/* A Google connection made or authorized again: its watch channels are
 * opened by a check now rather than at the next period
 * (connectors/gwatch.c; a check with watching off does nothing). */
static enum bk_err enqueue_watch(struct bk_api_call *c, const char *public_id,
                                 int64_t now_ms)
{
    char key[128];
    int64_t id;
    bool existed;

    snprintf(key, sizeof(key), "calendars.gwatch:connected:%s:%" PRId64,
             public_id, now_ms);
    return bk_store_job_enqueue(c->tx, "calendars.gwatch", key, NULL, now_ms,
                                10, now_ms, &id, &existed, c->err);
}

static enum bk_err insert_once(struct bk_api_call *c,
                               struct bk_cal_connection *conn)
{
    enum bk_err e;

    char key[96];
    int64_t job_id = 0, now_ms = bk_now_ms();
    bool existed = false;

    /* The first sync at once (busy time shows right after connecting);
     * its run starts the periodic ones (connectors/calendars.c, job kind
     * "calendars.sync"). */
    snprintf(key, sizeof(key), "calendars.sync:first:%s", conn->public_id);
    if (!(e = bk_store_begin(c->api->store, BK_TX_WRITE, &c->tx, c->err)) &&
        !(e = bk_store_cal_insert(c->tx, conn, &conn->id, c->err)) &&
        !(e = bk_store_job_enqueue(c->tx, "calendars.sync", key, NULL, now_ms,
                                   10, now_ms, &job_id, &existed, c->err)) &&
        !(e = strcmp(conn->kind, "google") == 0
                  ? enqueue_watch(c, conn->public_id, now_ms)
                  : BK_OK)) {
        e = bk_store_commit(c->tx, c->err);
        c->tx = NULL;
    }
    bk_api_call_end(c);
    if (!e)
        bk_jobs_wake(c->api->jobs);
    return e;
}

static const char *href_of(const json_t *cal)
{
    const char *s = json_string_value(json_object_get(cal, "href"));
    return s ? s : "";
}

/* Whether href is one of cals' hrefs. */
static bool known(const json_t *cals, const char *href)
{
    size_t i;
    json_t *cal;

    json_array_foreach(cals, i, cal) if (href && strcmp(href_of(cal), href) ==
                                                     0) return true;
    return false;
}

/* Whether the array of strings a holds s. */
static bool has_str(const json_t *a, const char *s)
{
    size_t i;
    json_t *v;

    json_array_foreach(a, i,
                       v) if (json_is_string(v) &&
                              strcmp(json_string_value(v), s) == 0) return true;
    return false;
}

/* POST /api/v1/hosts/{slug}/calendars — a NONE route: the discovery talks
 * to the calendar server outside any transaction; the row is written only
 * once it succeeded. */
static enum bk_err create(struct bk_api_call *c)
{
    static const char *const keys[] = {"kind",     "url",       "username",
                                       "password", "on_cancel", NULL};
    const char *slug = bk_http_param(c->req, "slug");
    const char *kind = NULL, *url = NULL, *user = NULL, *pass = NULL,
               *on_cancel = NULL, *aad;
    struct bk_cal_connection conn;
    struct bk_dav_client dc;
    struct bk_dav_discovery d;
    struct bk_errbuf why;
    struct bk_host h;
    char public_id[32];
    json_t *body = NULL, *cals = NULL;
    int64_t now_ms;
    enum bk_err e;

    memset(&conn, 0, sizeof(conn));
    if ((e = bk_api_call_body(c, false, &body)) ||
        (e = bk_json_only(body, "", keys, c->arena, c->err)) ||
        (e = bk_json_str(body, "", "kind", true, 16, false, c->arena, &kind,
                         c->err)) ||
        (e = bk_json_str(body, "", "url", true, BK_NET_URL_MAX, false, c->arena,
                         &url, c->err)) ||
        (e = bk_json_str(body, "", "username", true, MAX_USERNAME, false,
                         c->arena, &user, c->err)) ||
        (e = bk_json_str(body, "", "password", true, MAX_PASSWORD, false,
                         c->arena, &pass, c->err)) ||
        (e = bk_json_str(body, "", "on_cancel", false, 32, false, c->arena,
                         &on_cancel, c->err)) ||
        (e = on_cancel_of(on_cancel, &conn.on_cancel, c->err)))
        return e;
    if (strcmp(kind, "caldav") != 0)
        return bk_fail_field(
            c->err, BK_E_INVALID, "kind",
            strcmp(kind, "google") == 0
                ? "a Google connection is made through GET "
                  "/api/v1/hosts/{slug}/calendars/google/authorize (OAuth)"
                : "must be caldav (google connects through OAuth)");
    bk_errbuf_clear(&why);
    if (bk_net_url_check(url, c->api->calendar_allow_private, &why) != BK_OK) {
        /* The switch's name, not the webhooks' one. */
        if (strstr(why.msg, "public address") ||
            strstr(why.msg, "must be https"))
            return bk_fail_field(c->err, BK_E_INVALID, "url",
                                 "%s (set BOOKINGD_CALENDAR_ALLOW_PRIVATE=1 "
                                 "to allow http and private addresses)",
                                 strstr(why.msg, "public address")
                                     ? "the URL's host is not a public address"
                                     : "the URL must be https");
        return bk_fail_field(c->err, BK_E_INVALID, "url", "%s", why.msg);
    }
    if (!c->api->secret_key) {
        e = bk_fail(c->err, BK_E_UNAVAILABLE,
                    "BOOKINGD_SECRET_KEY is not set: bookingd cannot store "
                    "calendar credentials (see docs/calendars.md)");
        bk_errbuf_code(c->err, "secret_key_missing");
        return e;
    }
    if ((e = bk_api_call_read(c)))
        return e;
    e = bk_store_host_by_slug(c->tx, slug, c->arena, &h, c->err);
    bk_api_call_end(c);
    if (e == BK_E_NOT_FOUND)
        return bk_fail(c->err, e, "no host '%s'", slug);
    if (e)
        return e;

    memset(&dc, 0, sizeof(dc));
    dc.username = user;
    dc.password = pass;
    dc.connect_timeout_ms = c->api->calendar_connect_timeout_ms;
    dc.timeout_ms = c->api->calendar_timeout_ms;
    dc.max_response = c->api->calendar_max_response;
    dc.allow_private = c->api->calendar_allow_private;
    bk_errbuf_clear(&why);
    if ((e = bk_dav_discover(&dc, url, c->arena, &d, &why)))
        return discovery_failed(c, e, &why);
    cals = json_array();
    for (size_t i = 0; i < d.n && i < MAX_CALENDARS; i++)
        json_array_append_new(cals, json_pack("{s:s, s:s, s:b, s:b}", "href",
                                              d.calendars[i].url, "name",
                                              d.calendars[i].name, "busy",
                                              i == 0, "write", i == 0));

    bk_ledger_new_public_id("cal_", public_id);
    now_ms = bk_now_ms();
    conn.public_id = public_id;
    conn.host_id = h.id;
    conn.kind = "caldav";
    conn.url = url;
    conn.username = user;
    aad = bk_arena_printf(c->arena, "calendar_connection:%s:credential",
                          public_id);
    conn.credential =
        bk_secret_seal(c->api->secret_key, aad, pass, strlen(pass), c->arena);
    conn.calendars = bk_json_dump(c->arena, cals, NULL);
    json_decref(cals);
    conn.status = BK_CAL_ACTIVE;
    conn.created_ms = conn.updated_ms = now_ms;
    BK_STORE_RETRY(e, insert_once(c, &conn));
    if (e)
        return e;
    bk_api_reply(c, 201, render_connection(&conn, slug));
    return BK_OK;
}

static enum bk_err list(struct bk_api_call *c)
{
    const char *slug = bk_http_param(c->req, "slug"), *next = NULL;
    struct bk_cal_connection *rows = NULL;
    struct bk_page page;
    struct bk_host h;
    size_t n = 0;
    json_t *data;
    enum bk_err e;

    if ((e = bk_api_page(c->req, 'k', &page, c->err)))
        return e;
    e = bk_store_host_by_slug(c->tx, slug, c->arena, &h, c->err);
    if (e == BK_E_NOT_FOUND)
        return bk_fail(c->err, e, "no host '%s'", slug);
    if (e || (e = bk_store_cal_list_host(c->tx, h.id, &page, c->arena, &rows,
                                         &n, c->err)))
        return e;
    if (bk_api_page_more(&page, &n))
        next = bk_api_cursor_encode(c->arena, 'k', rows[n - 1].id, 0);
    data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, render_connection(&rows[i], h.slug));
    bk_api_reply_list(c, data, next);
    return BK_OK;
}

static enum bk_err load(struct bk_api_call *c, struct bk_cal_connection *conn,
                        struct bk_host *h)
{
    const char *id = bk_http_param(c->req, "id");
    enum bk_err e = bk_store_cal_get(c->tx, id, 0, c->arena, conn, c->err);

    if (e == BK_E_NOT_FOUND)
        return bk_fail(c->err, e, "no calendar connection '%s'", id);
    if (e)
        return e;
    return bk_store_host_get(c->tx, conn->host_id, c->arena, h, c->err);
}

static enum bk_err get(struct bk_api_call *c)
{
    struct bk_cal_connection conn;
    struct bk_host h;
    enum bk_err e;

    if ((e = load(c, &conn, &h)))
        return e;
    bk_api_reply(c, 200, render_connection(&conn, h.slug));
    return BK_OK;
}

/* What a PATCH asks for, read before any transaction. */
struct patch_req {
    json_t *body, *busy;
    const char *write, *on_cancel, *on_delete, *username, *password;
    bool creds;         /* username or password given */
    const char *sealed; /* the new password, sealed (creds) */
};

/* One try of a PATCH's write, in its own transaction: the connection is
 * read again, so that a sync's write meanwhile is not lost. */
static enum bk_err patch_once(struct bk_api_call *c, const struct patch_req *p)
{
    struct bk_cal_connection conn;
    struct bk_host h;
    json_t *cals = NULL, *cal, *v;
    size_t i, j;
    enum bk_err e;

    if ((e = bk_store_begin(c->api->store, BK_TX_WRITE, &c->tx, c->err)) ||
        (e = load(c, &conn, &h)) ||
        (e = on_cancel_of(p->on_cancel, &conn.on_cancel, c->err)) ||
        (e = on_calendar_delete_of(p->on_delete, &conn.on_calendar_delete,
                                   c->err)))
        goto out;
    cals = json_loads(conn.calendars ? conn.calendars : "[]", 0, NULL);
    if (!json_is_array(cals)) {
        e = bk_fail(c->err, BK_E_INTERNAL,
                    "a connection's calendars are not a JSON array");
        goto out;
    }
    if (p->write && !known(cals, p->write)) {
        e = bk_fail_field(c->err, BK_E_INVALID, "write_calendar",
                          "is not one of this connection's calendars");
        goto out;
    }
    json_array_foreach(p->busy, j, v) if (!known(cals, json_string_value(v)))
    {
        e = bk_fail_field(c->err, BK_E_INVALID,
                          bk_json_index(c->arena, "busy_calendars", j),
                          "is not one of this connection's calendars");
        goto out;
    }
    json_array_foreach(cals, i, cal)
    {
        const char *href = href_of(cal);
        if (json_object_get(p->body, "write_calendar"))
            json_object_set_new(
                cal, "write",
                json_boolean(p->write && strcmp(href, p->write) == 0));
        if (p->busy) {
            json_object_set_new(cal, "busy",
                                json_boolean(has_str(p->busy, href)));
            if (!has_str(p->busy, href) &&
                (e = bk_store_cal_busy_clear(c->tx, conn.id, href, c->err)))
                goto out;
        }
    }
    conn.calendars = bk_json_dump(c->arena, cals, NULL);
    if (p->creds) { /* verified against the server: working again */
        if (p->username)
            conn.username = p->username;
        conn.credential = p->sealed;
        conn.status = BK_CAL_ACTIVE;
        conn.last_error = NULL;
    }
    conn.updated_ms = bk_now_ms();
    if ((e = bk_store_cal_update(c->tx, &conn, c->err)))
        goto out;
    e = bk_store_commit(c->tx, c->err);
    c->tx = NULL;
    if (!e)
        bk_api_reply(c, 200, render_connection(&conn, h.slug));
out:
    json_decref(cals);
    bk_api_call_end(c);
    return e;
}

/* PATCH: {"write_calendar": href or null, "busy_calendars": [href ...],
 * "on_cancel", "on_calendar_delete", "username", "password"}. Every href must
 * be one of the connection's calendars. A new password (and username) of a
 * CalDAV connection is checked against the server first, as at creation,
 * outside any transaction: refused, it is a 422 with what the server said and
 * nothing changes; accepted, it is stored sealed and the connection is
 * active again. */
static enum bk_err patch(struct bk_api_call *c)
{
    static const char *const keys[] = {
        "write_calendar", "busy_calendars", "on_cancel", "on_calendar_delete",
        "username",       "password",       NULL};
    struct patch_req p;
    enum bk_err e;

    memset(&p, 0, sizeof(p));
    if ((e = bk_api_call_body(c, false, &p.body)) ||
        (e = bk_json_only(p.body, "", keys, c->arena, c->err)) ||
        (e = bk_json_str(p.body, "", "write_calendar", false, BK_NET_URL_MAX,
                         false, c->arena, &p.write, c->err)) ||
        (e = bk_json_array(p.body, "", "busy_calendars", false, MAX_CALENDARS,
                           c->arena, &p.busy, c->err)) ||
        (e = bk_json_str(p.body, "", "on_cancel", false, 32, false, c->arena,
                         &p.on_cancel, c->err)) ||
        (e = bk_json_str(p.body, "", "on_calendar_delete", false, 32, false,
                         c->arena, &p.on_delete, c->err)) ||
        (e = bk_json_str(p.body, "", "username", false, MAX_USERNAME, false,
                         c->arena, &p.username, c->err)) ||
        (e = bk_json_str(p.body, "", "password", false, MAX_PASSWORD, false,
                         c->arena, &p.password, c->err)))
        return e;
    if (json_is_null(json_object_get(p.body, "password")) ||
        json_is_null(json_object_get(p.body, "username")))
        return bk_fail_field(c->err, BK_E_INVALID,
                             json_is_null(json_object_get(p.body, "password"))
                                 ? "password"
                                 : "username",
                             "must be a string (null clears nothing)");
    if (p.username && !p.password)
        return bk_fail_field(c->err, BK_E_INVALID, "password",
                             "is required with a new username (both are "
                             "checked against the server together)");
    p.creds = p.password != NULL;
    if (p.creds) {
        struct bk_cal_connection conn;
        struct bk_host h;
        struct bk_dav_client dc;
        struct bk_dav_discovery d;
        struct bk_errbuf why;

        if (!c->api->secret_key) {
            e = bk_fail(c->err, BK_E_UNAVAILABLE,
                        "BOOKINGD_SECRET_KEY is not set: bookingd cannot "
                        "store calendar credentials (see docs/calendars.md)");
            bk_errbuf_code(c->err, "secret_key_missing");
            return e;
        }
        if ((e = bk_api_call_read(c)))
            return e;
        e = load(c, &conn, &h);
        bk_api_call_end(c);
        if (e)
            return e;
        if (strcmp(conn.kind, "caldav") != 0)
            return bk_fail_field(c->err, BK_E_INVALID, "password",
                                 "only a CalDAV connection has a password (a "
                                 "Google one is authorized again through GET "
                                 "/api/v1/hosts/{slug}/calendars/google/"
                                 "authorize?connection=%s)",
                                 conn.public_id);
        memset(&dc, 0, sizeof(dc));
        dc.username = p.username ? p.username : conn.username;
        dc.password = p.password;
        dc.connect_timeout_ms = c->api->calendar_connect_timeout_ms;
        dc.timeout_ms = c->api->calendar_timeout_ms;
        dc.max_response = c->api->calendar_max_response;
        dc.allow_private = c->api->calendar_allow_private;
        bk_errbuf_clear(&why);
        if ((e = bk_dav_discover(&dc, conn.url, c->arena, &d, &why)))
            return discovery_failed(c, e, &why);
        p.sealed = bk_secret_seal(
            c->api->secret_key,
            bk_arena_printf(c->arena, "calendar_connection:%s:credential",
                            conn.public_id),
            p.password, strlen(p.password), c->arena);
    }
    BK_STORE_RETRY(e, patch_once(c, &p));
    if (!e && p.creds)
        bk_jobs_wake(c->api->jobs);
    return e;
}

static enum bk_err delete_(struct bk_api_call *c)
{
    struct bk_cal_connection conn;
    struct bk_host h;
    enum bk_err e;

    if ((e = load(c, &conn, &h)) ||
        (e = bk_store_cal_delete(c->tx, conn.id, c->err)))
        return e;
    bk_api_reply_empty(c, 204);
    return BK_OK;
}

/* The providers POST /api/v1/sync names besides the calendar connections
 * (caldav, google): one account each, no connection, host or reconcile. */
struct sync_provider {
    const char *name;           /* the request's "provider" */
    bk_api_provider_sync_fn fn; /* NULL: not connected */
    void *ctx;                  /* fn's first argument */
    const char *not_configured; /* the 503's message: what to set */
    bool in_all;                /* {} runs it too when connected */
};

#define N_SYNC_PROVIDERS 3

/* The table of api's providers, in the order {} runs them and the
 * validation lists them. */
static void sync_providers(const struct bk_api *api,
                           struct sync_provider t[N_SYNC_PROVIDERS])
{
    t[0] = (struct sync_provider){
        "calendly", api->calendly_sync, api->calendly_sync_ctx,
        "Calendly is not connected: set CALENDLY_TOKEN", true};
    t[1] = (struct sync_provider){
        "calcom", api->calcom_sync, api->calcom_sync_ctx,
        "Cal.com is not connected: set CALCOM_API_KEY", true};
    /* Notion: one workspace; mirror catch-up, then the pull. */
    t[2] = (struct sync_provider){
        "notion", api->notion_sync, api->notion_sync_ctx,
        "Notion is not connected: set NOTION_TOKEN and NOTION_PARENT_PAGE",
        false};
}

/* Runs p's sync and adds its summary to *sum. Not connected: 503
 * "not_configured" with p's hint. */
static enum bk_err provider_sync(struct bk_api_call *c,
                                 const struct sync_provider *p,
                                 struct bk_sync_summary *sum)
{
    struct bk_sync_summary cs;
    struct bk_sync_error *all;
    enum bk_err e;

    if (!p->fn) {
        bk_fail(c->err, BK_E_UNAVAILABLE, "%s", p->not_configured);
        bk_errbuf_code(c->err, "not_configured");
        return BK_E_UNAVAILABLE;
    }
    if ((e = p->fn(p->ctx, c->arena, &cs, c->err)))
        return e;
    sum->total += cs.total;
    sum->created += cs.created;
    sum->updated += cs.updated;
    sum->skipped += cs.skipped;
    all = bk_arena_alloc(c->arena,
                         (sum->n_errors + cs.n_errors + 1) * sizeof(*all));
    if (sum->n_errors)
        memcpy(all, sum->errors, sum->n_errors * sizeof(*all));
    if (cs.n_errors)
        memcpy(all + sum->n_errors, cs.errors, cs.n_errors * sizeof(*all));
    sum->errors = all;
    sum->n_errors += cs.n_errors;
    return BK_OK;
}

/* POST /api/v1/sync — {"connection": id} or {"host": slug} or {} (all;
 * "provider": "caldav" or "google" keeps only connections of that kind;
 * "reconcile": true runs the reconcile instead of the incremental sync),
 * or {"provider": "calendly"} (connectors/calendly_sync.c), or
 * {"provider": "calcom"} (connectors/calcom_sync.c), or {"provider":
 * "notion"} (connectors/notion.c); {} includes the providers marked
 * in_all (Calendly and Cal.com) when connected: runs the sync now and
 * answers its summary. A NONE route: the sync talks to calendar servers
 * and the providers. */
static enum bk_err sync_now(struct bk_api_call *c)
{
    static const char *const keys[] = {"connection", "host", "provider",
                                       "reconcile", NULL};
    const char *conn = NULL, *host = NULL, *provider = NULL;
    bool reconcile = false;
    struct sync_provider providers[N_SYNC_PROVIDERS];
    const struct sync_provider *chosen = NULL;
    struct bk_sync_summary sum;
    json_t *body = NULL, *errors, *o;
    enum bk_err e;

    if ((e = bk_api_call_body(c, true, &body)) ||
        (e = bk_json_only(body, "", keys, c->arena, c->err)) ||
        (e = bk_json_str(body, "", "connection", false, 64, false, c->arena,
                         &conn, c->err)) ||
        (e = bk_json_str(body, "", "host", false, 128, false, c->arena, &host,
                         c->err)) ||
        (e = bk_json_str(body, "", "provider", false, 32, false, c->arena,
                         &provider, c->err)) ||
        (e = bk_json_bool(body, "", "reconcile", false, c->arena, &reconcile,
                          NULL, c->err)))
        return e;
    sync_providers(c->api, providers);
    for (size_t i = 0; provider && i < N_SYNC_PROVIDERS; i++)
        if (strcmp(provider, providers[i].name) == 0)
            chosen = &providers[i];
    if (provider && !chosen && strcmp(provider, "caldav") != 0 &&
        strcmp(provider, "google") != 0) {
        const char *names = "caldav, google";
        for (size_t i = 0; i < N_SYNC_PROVIDERS; i++)
            names = bk_arena_printf(c->arena, "%s%s%s", names,
                                    i + 1 < N_SYNC_PROVIDERS ? ", " : " or ",
                                    providers[i].name);
        return bk_fail_field(c->err, BK_E_INVALID, "provider", "must be %s",
                             names);
    }
    if (conn && host)
        return bk_fail_field(c->err, BK_E_INVALID, "host",
                             "give a connection or a host, not both");
    memset(&sum, 0, sizeof(sum));
    if (chosen) {
        /* One account: no connection or host to choose, no reconcile. */
        if (conn || host || reconcile)
            return bk_fail_field(c->err, BK_E_INVALID,
                                 conn   ? "connection"
                                 : host ? "host"
                                        : "reconcile",
                                 "does not apply to provider %s", chosen->name);
        if ((e = provider_sync(c, chosen, &sum)))
            return e;
    } else {
        if (!c->api->calendar_sync)
            return bk_fail(c->err, BK_E_UNAVAILABLE,
                           "calendar sync is not available in this process");
        e = c->api->calendar_sync(c->api->calendar_sync_ctx, conn, host,
                                  provider, reconcile, c->arena, &sum, c->err);
        if (e == BK_E_NOT_FOUND && conn)
            return bk_fail(c->err, e, "no calendar connection '%s'", conn);
        if (e)
            return e;
        /* {} is every source: the providers in_all too when connected. */
        for (size_t i = 0; i < N_SYNC_PROVIDERS; i++)
            if (!provider && !conn && !host && !reconcile &&
                providers[i].in_all && providers[i].fn &&
                (e = provider_sync(c, &providers[i], &sum)))
                return e;
    }
    errors = json_array();
    for (size_t i = 0; i < sum.n_errors; i++)
        json_array_append_new(errors,
                              json_pack("{s:s, s:s}", "connection",
                                        sum.errors[i].connection, "message",
                                        sum.errors[i].message));
    o = json_pack("{s:I, s:I, s:I, s:I, s:o}", "total", (json_int_t)sum.total,
                  "created", (json_int_t)sum.created, "updated",
                  (json_int_t)sum.updated, "skipped", (json_int_t)sum.skipped,
                  "errors", errors);
    bk_api_reply(c, 200, o);
    return BK_OK;
}

/* ---- Google Calendar: OAuth 2.0 authorization code flow -------------- */

#define STATE_TTL_S 600
#define NONCE_LEN   BK_OAUTH_NONCE_LEN
#define MAX_STATE   1024
#define MAX_CODE    2048
#define USED_STATES 512
#define GOOGLE_SCOPE                                                           \
    "https://www.googleapis.com/auth/calendar.events "                         \
    "https://www.googleapis.com/auth/calendar.readonly"

/* States used by a callback (their nonce and expiry): a state is good
 * once. A restart forgets them; a new connection's id is derived from the
 * nonce as well, so a replay after a restart cannot make a second one,
 * and Google's codes are single-use. */
BK_OAUTH_USED(used_states, USED_STATES);

static const char *redirect_uri(const struct bk_api *api,
                                struct bk_arena *arena)
{
    return bk_oauth_redirect_uri(api, "google", arena);
}

static enum bk_err google_ready(struct bk_api_call *c)
{
    enum bk_err e;

    if (!c->api->google_client_id || !c->api->google_connect) {
        e = bk_fail(c->err, BK_E_UNAVAILABLE,
                    "Google Calendar is not configured: set GOOGLE_CLIENT_ID "
                    "and GOOGLE_CLIENT_SECRET");
        bk_errbuf_code(c->err, "not_configured");
        return e;
    }
    if (!c->api->secret_key) {
        e = bk_fail(c->err, BK_E_UNAVAILABLE,
                    "BOOKINGD_SECRET_KEY is not set: bookingd cannot store "
                    "calendar credentials (see docs/calendars.md)");
        bk_errbuf_code(c->err, "secret_key_missing");
        return e;
    }
    return BK_OK;
}

/* GET /api/v1/hosts/{slug}/calendars/google/authorize[?connection=cal_…]
 * — a redirect (302) to Google's consent page; the state names the host
 * (and the connection authorized again), expires in 10 minutes, and is
 * signed with the manage secret. */
static enum bk_err google_authorize(struct bk_api_call *c)
{
    const char *slug = bk_http_param(c->req, "slug");
    const char *conn_id = bk_http_query(c->req, "connection");
    const char *payload, *url, *state;
    char nonce[NONCE_LEN + 1], verifier[48], challenge[48];
    struct bk_host h;
    json_t *o;
    enum bk_err e;

    if ((e = google_ready(c)))
        return e;
    e = bk_store_host_by_slug(c->tx, slug, c->arena, &h, c->err);
    if (e == BK_E_NOT_FOUND)
        return bk_fail(c->err, e, "no host '%s'", slug);
    if (e)
        return e;
    if (conn_id) {
        struct bk_cal_connection conn;
        if (strlen(conn_id) > 64 || strchr(conn_id, '|'))
            return bk_fail_field(c->err, BK_E_INVALID, "connection",
                                 "is not a connection id");
        e = bk_store_cal_get(c->tx, conn_id, 0, c->arena, &conn, c->err);
        if (e == BK_E_NOT_FOUND ||
            (!e && (conn.host_id != h.id || strcmp(conn.kind, "google") != 0)))
            return bk_fail_field(c->err, BK_E_INVALID, "connection",
                                 "is not a Google connection of host '%s'",
                                 slug);
        if (e)
            return e;
    }
    bk_random_token(nonce, NONCE_LEN);
    payload = bk_arena_printf(c->arena, "g1|%s|%s|%" PRId64 "|%s", h.slug,
                              conn_id ? conn_id : "",
                              bk_now_utc() + STATE_TTL_S, nonce);
    state =
        bk_oauth_state_sign(c->api, "google-oauth-state:", payload, c->arena);
    bk_oauth_pkce(c->api, "google-pkce:", nonce, verifier, challenge);
    url = bk_arena_printf(
        c->arena,
        "%s?response_type=code&client_id=%s&redirect_uri=%s&scope=%s"
        "&access_type=offline&prompt=consent&include_granted_scopes=true"
        "&state=%s&code_challenge=%s&code_challenge_method=S256",
        c->api->google_auth_url,
        bk_str_qenc(c->arena, c->api->google_client_id),
        bk_str_qenc(c->arena, redirect_uri(c->api, c->arena)),
        bk_str_qenc(c->arena, GOOGLE_SCOPE), state, challenge);
    o = json_pack("{s:s}", "authorize_url", url);
    {
        const char *text = bk_json_dump(c->arena, o, NULL);
        json_decref(o);
        bk_api_reply_raw(c, 302, "application/json", text, strlen(text));
    }
    bk_http_add_header(c->resp, "Location", url);
    bk_http_add_header(c->resp, "Cache-Control", "no-store");
    return BK_OK;
}

/* The state's parts after its signature and expiry are checked. */
static enum bk_err read_state(struct bk_api_call *c, const char *state,
                              const char **slug, const char **conn_id,
                              const char **nonce, int64_t *expires)
{
    char *parts[5];
    int64_t now = bk_now_utc();
    enum bk_err e;

    if (!bk_oauth_state_open(c->api, "google-oauth-state:", state, MAX_STATE,
                             c->arena, parts, 5))
        goto bad;
    if (strcmp(parts[0], "g1") != 0 ||
        bk_parse_i64(parts[3], 0, INT64_MAX, expires) != BK_OK)
        goto bad;
    if (*expires <= now) {
        e = bk_fail_field(c->err, BK_E_FORBIDDEN, "state",
                          "the authorization took longer than %d minutes: "
                          "start again",
                          STATE_TTL_S / 60);
        bk_errbuf_code(c->err, "invalid_state");
        return e;
    }
    *slug = parts[1];
    *conn_id = *parts[2] ? parts[2] : NULL;
    *nonce = parts[4];
    return BK_OK;
bad:
    e = bk_fail_field(c->err, BK_E_FORBIDDEN, "state",
                      "is not a state this server issued");
    bk_errbuf_code(c->err, "invalid_state");
    return e;
}

/* Enqueues a push of every booking of the host starting from a day ago
 * (the jobs a revoked grant stopped, resumed), and a sync. */
static enum bk_err resume_jobs(struct bk_api_call *c, int64_t host_id,
                               const char *public_id, int64_t now_ms)
{
    struct bk_booking_filter f;
    struct bk_booking *b = NULL;
    size_t n = 0;
    char key[128], payload[64];
    int64_t id;
    bool existed;
    enum bk_err e;

    memset(&f, 0, sizeof(f));
    f.status = -1;
    f.source = -1;
    f.host_id = host_id;
    f.from_utc = now_ms / 1000 - 86400;
    f.limit = 500;
    if ((e = bk_store_booking_list(c->tx, &f, c->arena, &b, &n, c->err)))
        return e;
    for (size_t i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "calendars.push:resume:%s:%" PRId64 ":%s",
                 public_id, now_ms, b[i].uid);
        snprintf(payload, sizeof(payload), "{\"booking_id\": %" PRId64 "}",
                 b[i].id);
        if ((e = bk_store_job_enqueue(
                 c->tx, "calendars.push", key, payload, now_ms,
                 c->api->job_max_attempts > 0 ? c->api->job_max_attempts : 10,
                 now_ms, &id, &existed, c->err)))
            return e;
    }
    snprintf(key, sizeof(key), "calendars.sync:first:%s:%" PRId64, public_id,
             now_ms);
    if ((e = bk_store_job_enqueue(c->tx, "calendars.sync", key, NULL, now_ms,
                                  10, now_ms, &id, &existed, c->err)))
        return e;
    return enqueue_watch(c, public_id, now_ms);
}

/* GET /oauth/google/callback?state&code | ?state&error — Google sends the
 * browser back here. The state is checked (signature, expiry, single use),
 * the code exchanged (with the PKCE verifier), the calendars listed, the
 * tokens sealed; then 201 with the new connection, or 200 with the
 * connection authorized again (its stopped jobs resume). */
static enum bk_err google_callback(struct bk_api_call *c)
{
    const char *state = bk_http_query(c->req, "state");
    const char *code = bk_http_query(c->req, "code");
    const char *error = bk_http_query(c->req, "error");
    const char *slug = NULL, *conn_id = NULL, *nonce = NULL, *aad;
    char verifier[48], public_id[32];
    struct bk_google_grant_result g;
    struct bk_cal_connection conn;
    struct bk_host h;
    struct bk_errbuf why;
    int64_t expires = 0, now_ms;
    enum bk_err e;

    if ((e = google_ready(c)))
        return e;
    if (!state || !*state) {
        e = bk_fail_field(c->err, BK_E_FORBIDDEN, "state", "is missing");
        bk_errbuf_code(c->err, "invalid_state");
        return e;
    }
    if ((e = read_state(c, state, &slug, &conn_id, &nonce, &expires)))
        return e;
    if (!bk_oauth_use_nonce(&used_states, nonce, expires, bk_now_utc())) {
        e = bk_fail_field(c->err, BK_E_FORBIDDEN, "state",
                          "was used already: start the authorization again");
        bk_errbuf_code(c->err, "invalid_state");
        return e;
    }
    if (error)
        return bk_oauth_denied(c, "Google", error);
    if (!code || !*code || strlen(code) > MAX_CODE)
        return bk_fail_field(c->err, BK_E_INVALID, "code",
                             code && *code ? "is too long" : "is missing");
    if ((e = bk_api_call_read(c)))
        return e;
    e = bk_store_host_by_slug(c->tx, slug, c->arena, &h, c->err);
    if (!e && conn_id) {
        e = bk_store_cal_get(c->tx, conn_id, 0, c->arena, &conn, c->err);
        if (!e && (conn.host_id != h.id || strcmp(conn.kind, "google") != 0))
            e = BK_E_NOT_FOUND;
    }
    bk_api_call_end(c);
    if (e == BK_E_NOT_FOUND)
        return bk_fail(c->err, e,
                       "the host or connection of this "
                       "authorization is gone");
    if (e)
        return e;
    bk_oauth_pkce(c->api, "google-pkce:", nonce, verifier, NULL);
    bk_errbuf_clear(&why);
    e = c->api->google_connect(c->api->google_connect_ctx, code, verifier,
                               redirect_uri(c->api, c->arena), c->arena, &g,
                               &why);
    if (e == BK_E_UNAUTHORIZED || e == BK_E_INVALID) {
        e = bk_fail_field(c->err, BK_E_INVALID, "code", "%s", why.msg);
        bk_errbuf_code(c->err, "google_grant_refused");
        return e;
    }
    if (e)
        return bk_fail(c->err, e, "%s", why.msg);
    now_ms = bk_now_ms();
    if (conn_id) {
        /* Authorized again: new tokens, active, the stopped jobs resume. */
        if ((e = bk_store_begin(c->api->store, BK_TX_WRITE, &c->tx, c->err)))
            return e;
        if ((e = bk_store_cal_get(c->tx, conn_id, 0, c->arena, &conn, c->err)))
            return e;
        aad = bk_arena_printf(c->arena, "calendar_connection:%s:credential",
                              conn.public_id);
        conn.credential = bk_secret_seal(c->api->secret_key, aad, g.tokens,
                                         strlen(g.tokens), c->arena);
        conn.status = BK_CAL_ACTIVE;
        conn.last_error = NULL;
        conn.updated_ms = now_ms;
        if ((e = bk_store_cal_update(c->tx, &conn, c->err)) ||
            (e = resume_jobs(c, conn.host_id, conn.public_id, now_ms)))
            return e;
        e = bk_store_commit(c->tx, c->err);
        c->tx = NULL;
        if (e)
            return e;
        bk_api_call_end(c);
        if (c->api->jobs)
            bk_jobs_wake(c->api->jobs);
        bk_api_reply(c, 200, render_connection(&conn, h.slug));
        return BK_OK;
    }
    memset(&conn, 0, sizeof(conn));
    snprintf(public_id, sizeof(public_id), "cal_%s", nonce);
    conn.public_id = public_id;
    conn.host_id = h.id;
    conn.kind = "google";
    conn.url = "https://calendar.google.com/";
    conn.username = g.account;
    aad = bk_arena_printf(c->arena, "calendar_connection:%s:credential",
                          public_id);
    conn.credential = bk_secret_seal(c->api->secret_key, aad, g.tokens,
                                     strlen(g.tokens), c->arena);
    conn.calendars = g.calendars;
    conn.status = BK_CAL_ACTIVE;
    conn.created_ms = conn.updated_ms = now_ms;
    BK_STORE_RETRY(e, insert_once(c, &conn));
    if (e == BK_E_DUPLICATE) {
        e = bk_fail_field(c->err, BK_E_FORBIDDEN, "state",
                          "was used already: start the authorization again");
        bk_errbuf_code(c->err, "invalid_state");
        return e;
    }
    if (e)
        return e;
    bk_api_reply(c, 201, render_connection(&conn, h.slug));
    return BK_OK;
}

const struct bk_api_route bk_api_calendar_connection_routes[] = {
    {"POST", "/api/v1/sync", sync_now, BK_ROUTE_ADMIN, BK_ROUTE_NONE},
    {"POST", "/api/v1/hosts/{slug}/calendars", create, BK_ROUTE_ADMIN,
     BK_ROUTE_NONE},
    {"GET", "/api/v1/hosts/{slug}/calendars", list, BK_ROUTE_ADMIN,
     BK_ROUTE_READ},
    {"GET", "/api/v1/hosts/{slug}/calendars/google/authorize", google_authorize,
     BK_ROUTE_ADMIN, BK_ROUTE_READ},
    {"GET", "/oauth/google/callback", google_callback, BK_ROUTE_PUBLIC,
     BK_ROUTE_NONE},
    {"GET", "/api/v1/calendars/{id}", get, BK_ROUTE_ADMIN, BK_ROUTE_READ},
    {"PATCH", "/api/v1/calendars/{id}", patch, BK_ROUTE_ADMIN, BK_ROUTE_NONE},
    {"DELETE", "/api/v1/calendars/{id}", delete_, BK_ROUTE_ADMIN,
     BK_ROUTE_WRITE},
};
const size_t bk_api_calendar_connection_n =
    sizeof(bk_api_calendar_connection_routes) /
    sizeof(bk_api_calendar_connection_routes[0]);
