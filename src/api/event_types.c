/* api/event_types.c — /api/v1/event-types and their slots. */
#include <string.h>

#include "api/decode.h"
#include "api/internal.h"
#include "api/json.h"
#include "api/render.h"
#include "base/time.h"
#include "ledger/ledger.h"
#include "base/banned.h"

#define MAX_SLOT_SPAN_DAYS     62
#define DEFAULT_SLOT_SPAN_DAYS 13
/* The most slots one answer holds (docs/api.md "Slots"): about 350 KB of
 * JSON. 62 days of 30-minute slots around the clock are 2,976; a 1-minute
 * event type open all day would be 89,280 (6.5 MB). */
#define MAX_SLOTS_PER_ANSWER 5000

static enum bk_err resolve_host(struct bk_tx *tx, struct bk_arena *arena,
                                const char *host_slug, struct bk_event_type *et,
                                struct bk_errbuf *err)
{
    struct bk_host h;
    enum bk_err e = bk_store_host_by_slug(tx, host_slug, arena, &h, err);

    if (e == BK_E_NOT_FOUND)
        return bk_fail_field(err, BK_E_INVALID, "host", "no host '%s'",
                             host_slug);
    if (e)
        return e;
    et->host_id = h.id;
    et->host_slug = h.slug;
    return BK_OK;
}

static enum bk_err create(struct bk_api_call *c)
{
    struct bk_event_type et;
    const char *host_slug = NULL;
    json_t *body, *dur;
    enum bk_err e;

    memset(&et, 0, sizeof(et));
    et.active = true;
    if ((e = bk_api_call_body(c, false, &body)))
        return e;
    dur = json_object_get(body, "duration_minutes");
    bk_slot_rules_defaults(
        &et.rules, json_is_integer(dur) ? (int)json_integer_value(dur) : 0);
    if ((e = bk_decode_event_type(body, true, c->arena, &et, &host_slug,
                                  c->err)))
        return e;
    et.created_utc = et.updated_utc = bk_now_utc();
    if ((e = resolve_host(c->tx, c->arena, host_slug, &et, c->err)) ||
        (e = bk_ledger_event_type_create(c->tx, &et, "admin", et.created_utc,
                                         c->arena, &et.id, c->err)) ||
        (e = bk_store_event_type_get(c->tx, et.id, c->arena, &et, c->err)))
        return e;
    bk_api_reply(c, 201, bk_render_event_type(&et, true));
    return BK_OK;
}

static enum bk_err list(struct bk_api_call *c)
{
    struct bk_event_type *rows = NULL;
    struct bk_page page = {0, 0};
    const char *next = NULL, *active_q = bk_http_query(c->req, "active");
    int active = 1;
    size_t n = 0;
    json_t *data;
    enum bk_err e;

    if (c->bad_key)
        return BK_E_UNAUTHORIZED;
    if (c->admin) {
        active = -1;
        if (active_q && strcmp(active_q, "true") == 0)
            active = 1;
        else if (active_q && strcmp(active_q, "false") == 0)
            active = 0;
        else if (active_q)
            return bk_api_query_fail(c->err, "active",
                                     "active must be true or false");
    }
    if ((e = bk_api_page(c->req, 'e', &page, c->err)) ||
        (e = bk_store_event_type_list(c->tx, active, &page, c->arena, &rows, &n,
                                      c->err)))
        return e;
    if (bk_api_page_more(&page, &n))
        next = bk_api_cursor_encode(c->arena, 'e', rows[n - 1].id, 0);
    data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, bk_render_event_type(&rows[i], c->admin));
    bk_api_reply_list(c, data, next);
    return BK_OK;
}

/* Loads {slug}; an inactive one exists for admins only. */
static enum bk_err load(struct bk_api_call *c, bool admin,
                        struct bk_event_type *et)
{
    const char *slug = bk_http_param(c->req, "slug");
    enum bk_err e =
        bk_store_event_type_by_slug(c->tx, slug, c->arena, et, c->err);

    if (e == BK_OK && !et->active && !admin)
        e = BK_E_NOT_FOUND;
    if (e == BK_E_NOT_FOUND)
        return bk_fail(c->err, e, "no event type '%s'", slug);
    return e;
}

static enum bk_err get(struct bk_api_call *c)
{
    struct bk_event_type et;
    enum bk_err e;

    if (c->bad_key)
        return BK_E_UNAUTHORIZED;
    if ((e = load(c, c->admin, &et)))
        return e;
    bk_api_reply(c, 200, bk_render_event_type(&et, c->admin));
    return BK_OK;
}

static enum bk_err patch(struct bk_api_call *c)
{
    struct bk_event_type et;
    const char *host_slug = NULL;
    json_t *body;
    enum bk_err e;

    if ((e = bk_api_call_body(c, false, &body)) || (e = load(c, true, &et)) ||
        (e = bk_decode_event_type(body, false, c->arena, &et, &host_slug,
                                  c->err)))
        return e;
    if (host_slug &&
        (e = resolve_host(c->tx, c->arena, host_slug, &et, c->err)))
        return e;
    et.updated_utc = bk_now_utc();
    if ((e = bk_ledger_event_type_update(c->tx, &et, "admin", et.updated_utc,
                                         c->arena, c->err)) ||
        (e = bk_store_event_type_get(c->tx, et.id, c->arena, &et, c->err)))
        return e;
    bk_api_reply(c, 200, bk_render_event_type(&et, true));
    return BK_OK;
}

static enum bk_err del(struct bk_api_call *c)
{
    struct bk_event_type et;
    enum bk_err e;

    if ((e = load(c, true, &et)) ||
        (e = bk_ledger_event_type_delete(c->tx, &et, "admin", bk_now_utc(),
                                         c->arena, c->err)))
        return e;
    bk_api_reply_empty(c, 204);
    return BK_OK;
}

/* ?name= as a date; *present tells whether it was given. */
static enum bk_err query_date(const struct bk_http_request *req,
                              const char *name, int64_t *out, bool *present,
                              struct bk_errbuf *err)
{
    const char *s = bk_http_query(req, name);
    enum bk_err e;

    *present = s != NULL;
    if (!s)
        return BK_OK;
    e = bk_date_parse(s, out);
    if (e == BK_E_INVALID)
        return bk_api_query_fail(err, name, "%s is not an existing date", name);
    if (e)
        return bk_api_query_fail(err, name, "%s must be a date YYYY-MM-DD",
                                 name);
    return BK_OK;
}

/* ?exclude=<uid>&token=<manage token>: the booking its attendee is moving
 * does not count as busy, and a deactivated event type still shows its
 * slots to that attendee. The token (or the admin key) must be the
 * booking's, and the booking of this event type. */
static enum bk_err excluded(struct bk_api_call *c, int64_t *id)
{
    const char *uid = bk_http_query(c->req, "exclude");
    struct bk_booking b;
    enum bk_err e;

    *id = 0;
    if (!uid)
        return BK_OK;
    if (!c->admin &&
        !bk_api_token_ok(c->api, uid, bk_http_query(c->req, "token")))
        return bk_fail(c->err, BK_E_UNAUTHORIZED,
                       "exclude needs the booking's manage token in token");
    e = bk_store_booking_by_uid(c->tx, uid, c->arena, &b, c->err);
    if (e == BK_E_NOT_FOUND ||
        (!e && strcmp(b.event_type_slug, bk_http_param(c->req, "slug")) != 0))
        return bk_api_query_fail(c->err, "exclude",
                                 "exclude must name a booking of this event "
                                 "type");
    if (e)
        return e;
    *id = b.id;
    return BK_OK;
}

/* 422 too_many_slots: the window holds more than one answer may. The
 * message names the limit and the last `to` whose answer fits: the day
 * before the one on which the first slot over the limit starts. */
static enum bk_err too_many(struct bk_api_call *c, const struct bk_tz *tz,
                            int64_t from_date, int64_t first_over_utc)
{
    int64_t last = bk_tz_local_date(tz, first_over_utc) - 1;
    char d[11];
    enum bk_err e;

    if (last < from_date)
        last = from_date; /* cannot happen: a day holds at most 1,440 */
    bk_date_format(last, d);
    e = bk_fail_field(c->err, BK_E_INVALID, "to",
                      "this range holds more than %d slots, the most one "
                      "answer holds; ask for fewer days (to=%s fits)",
                      MAX_SLOTS_PER_ANSWER, d);
    bk_errbuf_code(c->err, "too_many_slots");
    return e;
}

/* GET /api/v1/event-types/{slug}/slots?from=&to=&timezone=[&exclude=&token=]
 * A NONE route that opens one read transaction of its own: the event
 * type, the booking to exclude, the schedule (the default zone and the
 * engine's input) and the busy time are each read once, in it. The answer
 * is written directly (bk_render_slots_text). */
static enum bk_err slots(struct bk_api_call *c)
{
    struct bk_event_type et;
    struct bk_schedule sched;
    struct bk_host host;
    struct bk_slot *out = NULL;
    const struct bk_tz *tz = NULL;
    int64_t from_date = 0, to_date = 0, from_utc, to_utc, now = bk_now_utc();
    int64_t exclude_id = 0;
    bool has_from, has_to, has_schedule = false;
    size_t n = 0, len = 0;
    char *text;
    enum bk_err e;

    if (c->bad_key)
        return BK_E_UNAUTHORIZED;
    if ((e = bk_api_query_tz(c->req, "timezone", &tz, c->err)) ||
        (e = query_date(c->req, "from", &from_date, &has_from, c->err)) ||
        (e = query_date(c->req, "to", &to_date, &has_to, c->err)) ||
        (e = bk_api_call_read(c)) || (e = excluded(c, &exclude_id)) ||
        (e = load(c, c->admin || exclude_id, &et)))
        return e;
    e = bk_store_schedule_get(c->tx, et.host_id, c->arena, &sched, c->err);
    if (e == BK_OK)
        has_schedule = true;
    else if (e != BK_E_NOT_FOUND)
        return e;
    /* The default zone is the schedule's (or the host's without one). */
    if (!tz) {
        if (has_schedule) {
            tz = bk_tz_get(sched.timezone);
        } else {
            if ((e = bk_store_host_get(c->tx, et.host_id, c->arena, &host,
                                       c->err)))
                return e;
            tz = bk_tz_get(host.timezone);
        }
        if (!tz)
            tz = bk_tz_utc();
    }
    if (!has_from)
        from_date = bk_tz_local_date(tz, now);
    if (!has_to)
        to_date = from_date + DEFAULT_SLOT_SPAN_DAYS;
    if (to_date < from_date)
        return bk_api_query_fail(c->err, "to", "to must not be before from");
    if (to_date - from_date > MAX_SLOT_SPAN_DAYS)
        return bk_api_query_fail(c->err, "to",
                                 "from and to must be at most %d days apart",
                                 MAX_SLOT_SPAN_DAYS);
    bk_dates_window(tz, from_date, to_date, &from_utc, &to_utc);
    if ((e = bk_ledger_slots_in(
             c->tx, &et, has_schedule ? &sched : NULL, exclude_id, from_utc,
             to_utc, now, MAX_SLOTS_PER_ANSWER, c->arena, &out, &n, c->err)))
        return e;
    bk_api_call_end(c);
    if (n > MAX_SLOTS_PER_ANSWER)
        return too_many(c, tz, from_date, out[MAX_SLOTS_PER_ANSWER].start_utc);
    text = bk_render_slots_text(c->arena, et.slug, tz, out, n, &len);
    if (!text)
        return bk_fail(c->err, BK_E_INTERNAL,
                       "the slots answer could not be rendered");
    bk_api_reply_raw(c, 200, "application/json", text, len);
    return BK_OK;
}

const struct bk_api_route bk_api_event_type_routes[] = {
    {"POST", "/api/v1/event-types", create, BK_ROUTE_ADMIN, BK_ROUTE_WRITE},
    {"GET", "/api/v1/event-types", list, BK_ROUTE_PUBLIC, BK_ROUTE_READ},
    {"GET", "/api/v1/event-types/{slug}", get, BK_ROUTE_PUBLIC, BK_ROUTE_READ},
    {"PATCH", "/api/v1/event-types/{slug}", patch, BK_ROUTE_ADMIN,
     BK_ROUTE_WRITE},
    {"DELETE", "/api/v1/event-types/{slug}", del, BK_ROUTE_ADMIN,
     BK_ROUTE_WRITE},
    {"GET", "/api/v1/event-types/{slug}/slots", slots, BK_ROUTE_PUBLIC,
     BK_ROUTE_NONE},
};
const size_t bk_api_event_type_n =
    sizeof(bk_api_event_type_routes) / sizeof(bk_api_event_type_routes[0]);
