/* api/pages.c — the booking page (/), the manage page (/manage/{uid}), the
 * admin pages (/admin/...) and their static files (/static/{name}), served
 * from the embedded assets. Signing in is session.c's. */
#include <string.h>

#include <jansson.h>

#include "api/internal.h"
#include "api/json.h"
#include "api/render.h"
#include "base/str.h"
#include "base/time.h"
#include "core/tz.h"
#include "ledger/ledger.h"
#include "web/assets.h"
#include "base/banned.h"

/* Pages load only their own scripts and styles and call only this origin. */
#define CSP                                                                    \
    "default-src 'self'; img-src 'self' data:; object-src 'none'; "            \
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

/* The booking page may also show the host's photo, an https URL the admin
 * set (GET /api/v1/hosts/{slug}/profile): its only request elsewhere. The
 * sites of BOOKINGD_EMBED_ORIGINS may frame it (docs/booking-page.md
 * "Embedding"). */
#define BOOK_CSP                                                               \
    "default-src 'self'; img-src 'self' data: https:; object-src 'none'; "     \
    "base-uri 'none'; form-action 'self'; frame-ancestors "

static const char *book_csp(struct bk_api_call *c)
{
    if (!c->api->embed_origins)
        return BOOK_CSP "'none'";
    return bk_arena_printf(c->arena, "%s'self' %s", BOOK_CSP,
                           c->api->embed_origins);
}

/* Whether the request's Accept-Encoding takes gzip (RFC 9110 12.5.3):
 * "gzip" or "*" listed without q=0. A malformed header takes nothing. */
static bool accepts_gzip(const struct bk_http_request *req)
{
    const char *h = bk_http_header(req, "Accept-Encoding");
    bool gzip = false, star = false, gzip_seen = false;

    if (!h || strlen(h) > 1024)
        return false;
    while (*h) {
        const char *tok, *end;
        size_t n;
        bool zero = false;

        while (*h == ' ' || *h == '\t' || *h == ',')
            h++;
        tok = h;
        while (*h && *h != ',' && *h != ';' && *h != ' ' && *h != '\t')
            h++;
        n = (size_t)(h - tok);
        end = strchr(h, ',');
        if (!end)
            end = h + strlen(h);
        /* Parameters: only q matters; "q=0", "q=0.0", "q=0.000" refuse. */
        for (const char *p = h; p < end; p++) {
            if ((*p == 'q' || *p == 'Q') && p[1] == '=') {
                const char *v = p + 2;
                zero = *v == '0';
                for (v++; zero && v < end && *v != ' ' && *v != ';'; v++)
                    zero = *v == '.' || *v == '0';
                break;
            }
        }
        if (n == 4 && (tok[0] | 0x20) == 'g' && (tok[1] | 0x20) == 'z' &&
            (tok[2] | 0x20) == 'i' && (tok[3] | 0x20) == 'p') {
            gzip = !zero;
            gzip_seen = true;
        } else if (n == 1 && *tok == '*') {
            star = !zero;
        }
        h = end;
    }
    return gzip_seen ? gzip : star;
}

static enum bk_err serve_csp(struct bk_api_call *c, const char *name,
                             const char *cache, const char *csp)
{
    const struct bk_web_asset *a = bk_web_asset_find(name);

    if (!a)
        return bk_fail(c->err, BK_E_NOT_FOUND, "no such file: %s", name);
    if (a->gz && accepts_gzip(c->req)) {
        bk_api_reply_raw(c, 200, a->content_type, (const char *)a->gz,
                         a->gz_len);
        bk_http_add_header(c->resp, "Content-Encoding", "gzip");
    } else {
        bk_api_reply_raw(c, 200, a->content_type, (const char *)a->data,
                         a->len);
    }
    if (a->gz)
        bk_http_add_header(c->resp, "Vary", "Accept-Encoding");
    bk_http_add_header(c->resp, "Cache-Control", cache);
    bk_http_add_header(c->resp, "Content-Security-Policy", csp);
    bk_http_add_header(c->resp, "Referrer-Policy", "no-referrer");
    bk_http_add_header(c->resp, "X-Content-Type-Options", "nosniff");
    return BK_OK;
}

/* ---- the booking page's first data (docs/booking-page.md "First slots") --
 *
 * The booking page is served with what its first screen needs inlined as
 * JSON in <script type="application/json" id="first-data"> (a data block:
 * the CSP's script-src does not apply, nothing runs): the active event
 * types (as GET /api/v1/event-types lists them, of the page's host), the
 * host card of the chosen event type, the event types a package credit
 * can pay for (credit_event_types), and that event type's free slots
 * from the day before today (UTC) to the end of the first UTC month that
 * has one (at most three months ahead), plus a day. The script uses them
 * before asking the API for more, so the first free times show within the
 * page's own round trip. Anything that fails here leaves the block out:
 * the page then asks the API, as it always could. */

/* The most event types and slots inlined: about 8 KB of slot starts. */
#define FIRST_TYPES     100
#define FIRST_SLOTS_MAX 1500
#define FIRST_MONTHS    3

/* The UTC date (days since the epoch) of the first day of the month after
 * the one holding `day`. */
static int64_t next_month(int64_t day)
{
    int y, m, d;
    bk_civil_from_days(day, &y, &m, &d);
    if (++m > 12) {
        m = 1;
        y++;
    }
    return bk_days_from_civil(y, m, 1);
}

/* {"event_type", "from", "to", "minutes", "starts"}: the free slots of et
 * whose start is in [from 00:00Z, to+1 00:00Z), each start in minutes
 * since the epoch, the first absolute and the others as the difference
 * to the one before; every slot lasts `minutes`. NULL (nothing inlined)
 * when they do not fit or differ in length. */
static json_t *first_slots(struct bk_api_call *c,
                           const struct bk_event_type *et)
{
    struct bk_schedule sched;
    struct bk_slot *slots = NULL;
    size_t n = 0, keep = 0;
    int64_t now = bk_now_utc(), today = bk_floordiv(now, BK_SECS_PER_DAY);
    int64_t from = today - 1, ends[FIRST_MONTHS], to, minutes, prev;
    json_t *starts, *o;
    char a[11], b[11];
    enum bk_err e;
    int i;

    e = bk_store_schedule_get(c->tx, et->host_id, c->arena, &sched, NULL);
    if (e == BK_E_NOT_FOUND)
        return NULL; /* no schedule, no slots: the page says so itself */
    if (e)
        return NULL;
    /* Month ends (the last day of each UTC month, plus one day). */
    to = today;
    for (i = 0; i < FIRST_MONTHS; i++) {
        to = next_month(to);
        ends[i] = to; /* the first day after the month: its margin day */
    }
    if (bk_ledger_slots_in(c->tx, et, &sched, 0, from * BK_SECS_PER_DAY,
                           (ends[FIRST_MONTHS - 1] + 1) * BK_SECS_PER_DAY, now,
                           FIRST_SLOTS_MAX, c->arena, &slots, &n,
                           NULL) != BK_OK ||
        n > FIRST_SLOTS_MAX)
        return NULL;
    /* Cut after the first month that has a free time (and its margin). */
    to = ends[FIRST_MONTHS - 1];
    for (i = 0; i < FIRST_MONTHS; i++) {
        bool any = false;
        for (size_t k = 0; k < n && !any; k++)
            any = slots[k].start_utc >= now &&
                  slots[k].start_utc < ends[i] * BK_SECS_PER_DAY;
        if (any) {
            to = ends[i];
            break;
        }
    }
    minutes = n ? (slots[0].end_utc - slots[0].start_utc) / 60
                : et->rules.duration_min;
    starts = json_array();
    prev = 0;
    for (size_t k = 0; k < n; k++) {
        int64_t m = bk_floordiv(slots[k].start_utc, 60);
        if (slots[k].start_utc >= (to + 1) * BK_SECS_PER_DAY)
            break;
        if ((slots[k].end_utc - slots[k].start_utc) / 60 != minutes ||
            slots[k].start_utc % 60 || m < prev) {
            json_decref(starts);
            return NULL;
        }
        json_array_append_new(starts, json_integer(keep ? m - prev : m));
        prev = m;
        keep++;
    }
    bk_date_format(from, a);
    bk_date_format(to, b);
    o = json_pack("{s:s, s:s, s:s, s:I, s:o}", "event_type", et->slug, "from",
                  a, "to", b, "minutes", (json_int_t)minutes, "starts", starts);
    return o;
}

/* The most packages looked at for credit_event_types (as the page's own
 * first GET /api/v1/packages?limit=100 would); past it the block's list is
 * null and the script reads every page. */
#define FIRST_PACKAGES 100

/* The slugs of the event types some active package covers (the forms that
 * offer "Use a package credit"), sorted as listed, without repeats; NULL
 * when they cannot be read (the script then asks the API). */
static json_t *credit_event_types(struct bk_api_call *c)
{
    struct bk_package *rows = NULL;
    size_t n = 0;
    json_t *out;

    if (bk_store_package_list(c->tx, true, NULL, 0, FIRST_PACKAGES + 1,
                              c->arena, &rows, &n, NULL) != BK_OK ||
        n > FIRST_PACKAGES)
        return NULL;
    out = json_array();
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < rows[i].n_event_types; k++) {
            const char *slug = rows[i].event_type_slugs[k];
            bool seen = false;
            size_t j;
            json_t *v;
            json_array_foreach(out, j, v) seen =
                seen || strcmp(json_string_value(v), slug) == 0;
            if (!seen)
                json_array_append_new(out, json_string(slug));
        }
    return out;
}

/* The first data of the booking page for host (NULL: every host) and
 * type (NULL: the one of ?event=, or the only one). */
static const char *first_data(struct bk_api_call *c, const struct bk_host *host,
                              const char *type, size_t *len)
{
    struct bk_page page = {0, FIRST_TYPES + 1};
    struct bk_event_type *rows = NULL, *chosen = NULL, *only = NULL;
    struct bk_host h;
    size_t n = 0, shown = 0;
    json_t *types, *o, *profile = NULL, *slots = NULL;
    const char *text;
    char *out;
    size_t tlen;

    if (!type)
        type = bk_http_query(c->req, "event");
    if (bk_store_event_type_list(c->tx, 1, &page, c->arena, &rows, &n, NULL))
        return NULL;
    if (n > FIRST_TYPES)
        return NULL; /* more than one page: the script lists them */
    types = json_array();
    for (size_t i = 0; i < n; i++) {
        if (host && rows[i].host_id != host->id)
            continue;
        json_array_append_new(types, bk_render_event_type(&rows[i], false));
        if (type && strcmp(rows[i].slug, type) == 0)
            chosen = &rows[i];
        only = &rows[i];
        shown++;
    }
    if (!chosen && shown == 1 && !type)
        chosen = only;
    if (chosen) {
        if (host)
            h = *host;
        if (host || bk_store_host_get(c->tx, chosen->host_id, c->arena, &h,
                                      NULL) == BK_OK)
            profile =
                json_pack("{s:s, s:s, s:o, s:o}", "slug", h.slug, "name",
                          h.name, "photo_url", bk_json_str_or_null(h.photo_url),
                          "bio", bk_json_str_or_null(h.bio));
        slots = first_slots(c, chosen);
    }
    o = json_pack("{s:o, s:o?, s:o?, s:o?}", "event_types", types, "profile",
                  profile, "slots", slots, "credit_event_types",
                  credit_event_types(c));
    text = o ? bk_json_dump(c->arena, o, &tlen) : NULL;
    json_decref(o);
    if (!text)
        return NULL;
    /* "<" only occurs inside strings: as \u003c it cannot end the block. */
    out = bk_arena_alloc(c->arena, tlen * 6 + 1);
    *len = 0;
    for (size_t i = 0; i < tlen; i++) {
        if (text[i] == '<' || text[i] == '>' || text[i] == '&') {
            static const char hex[] = "0123456789abcdef";
            memcpy(out + *len, "\\u00", 4);
            out[*len + 4] = hex[((unsigned char)text[i] >> 4) & 15];
            out[*len + 5] = hex[(unsigned char)text[i] & 15];
            *len += 6;
        } else {
            out[(*len)++] = text[i];
        }
    }
    out[*len] = '\0';
    return out;
}

/* index.html with the first data inlined before </head>. */
static enum bk_err serve_book(struct bk_api_call *c, const struct bk_host *host,
                              const char *type)
{
    static const char open[] =
        "<script type=\"application/json\" id=\"first-data\">";
    static const char close[] = "</script>\n";
    const struct bk_web_asset *a = bk_web_asset_find("index.html");
    const char *head, *data;
    size_t dlen = 0, at, total;
    char *body;

    if (!a)
        return bk_fail(c->err, BK_E_NOT_FOUND, "no such file: index.html");
    head = strstr((const char *)a->data, "</head>");
    data = head ? first_data(c, host, type, &dlen) : NULL;
    if (!data)
        return serve_csp(c, "index.html", "no-cache", book_csp(c));
    at = (size_t)(head - (const char *)a->data);
    total = a->len + sizeof(open) - 1 + dlen + sizeof(close) - 1;
    body = bk_arena_alloc(c->arena, total + 1);
    memcpy(body, a->data, at);
    memcpy(body + at, open, sizeof(open) - 1);
    memcpy(body + at + sizeof(open) - 1, data, dlen);
    memcpy(body + at + sizeof(open) - 1 + dlen, close, sizeof(close) - 1);
    memcpy(body + at + sizeof(open) - 1 + dlen + sizeof(close) - 1,
           a->data + at, a->len - at);
    body[total] = '\0';
    bk_api_reply_raw(c, 200, a->content_type, body, total);
    bk_http_add_header(c->resp, "Cache-Control", "no-cache");
    bk_http_add_header(c->resp, "Content-Security-Policy", book_csp(c));
    bk_http_add_header(c->resp, "Referrer-Policy", "no-referrer");
    bk_http_add_header(c->resp, "X-Content-Type-Options", "nosniff");
    return BK_OK;
}

static enum bk_err serve_with(struct bk_api_call *c, const char *name,
                              const char *cache)
{
    return serve_csp(c, name, cache, CSP);
}

static enum bk_err serve(struct bk_api_call *c, const char *name)
{
    return serve_with(c, name, "no-cache");
}

/* The page of every event type. It needs no database: without one (a
 * store that cannot begin a transaction) it is served without its first
 * data, and the script's API calls say what is wrong. */
static enum bk_err index_page(struct bk_api_call *c)
{
    enum bk_err e = bk_store_begin(c->api->store, BK_TX_READ, &c->tx, NULL);

    if (e) {
        c->tx = NULL;
        return serve_csp(c, "index.html", "no-cache", book_csp(c));
    }
    e = serve_book(c, NULL, NULL);
    bk_api_call_end(c);
    return e;
}

/* /{host} and /{host}/{event-type}: the booking page for one host, or one
 * of its active event types (book.js reads the path). An unknown host, an
 * inactive event type or one of another host is 404, like any unknown
 * path, so a typo is not a blank page. */
static enum bk_err host_page(struct bk_api_call *c)
{
    const char *host = bk_http_param(c->req, "host");
    const char *slug = bk_http_param(c->req, "event_type");
    struct bk_host h;
    struct bk_event_type et;
    enum bk_err e;

    if (!bk_slug_valid(host, BK_MAX_SLUG) ||
        (slug && !bk_slug_valid(slug, BK_MAX_SLUG)))
        return bk_fail(c->err, BK_E_NOT_FOUND, "no such path: %s",
                       c->req->path);
    e = bk_store_host_by_slug(c->tx, host, c->arena, &h, c->err);
    if (!e && slug) {
        e = bk_store_event_type_by_slug(c->tx, slug, c->arena, &et, c->err);
        if (!e && (!et.active || et.host_id != h.id))
            e = BK_E_NOT_FOUND;
    }
    if (e == BK_E_NOT_FOUND)
        return bk_fail(c->err, e, "no such path: %s", c->req->path);
    if (e)
        return e;
    return serve_book(c, &h, slug);
}

static enum bk_err manage_page(struct bk_api_call *c)
{
    return serve(c, "manage.html");
}

static enum bk_err static_file(struct bk_api_call *c)
{
    const char *name = bk_http_param(c->req, "name");

    /* Pages are not static files: they have their own paths. */
    if (strstr(name, ".html"))
        return BK_E_NOT_FOUND;
    return serve(c, name);
}

static enum bk_err login_page(struct bk_api_call *c)
{
    return serve_with(c, "login.html", "no-store");
}

/* Every admin page is admin.html, which routes on its path. Without a
 * session it is a redirect to the sign-in page, which carries no data (the
 * pages fetch everything from the API with the session). */
static enum bk_err admin_page(struct bk_api_call *c)
{
    if (!c->admin) {
        bk_api_reply_raw(c, 303, NULL, "", 0);
        bk_http_add_header(c->resp, "Location", "/admin/login");
        bk_http_add_header(c->resp, "Cache-Control", "no-store");
        return BK_OK;
    }
    return serve_with(c, "admin.html", "no-store");
}

const struct bk_api_route bk_api_page_routes[] = {
    {"GET", "/admin/login", login_page, BK_ROUTE_PUBLIC, BK_ROUTE_NONE},
    {"GET", "/admin", admin_page, BK_ROUTE_PUBLIC, BK_ROUTE_NONE},
    {"GET", "/admin/bookings", admin_page, BK_ROUTE_PUBLIC, BK_ROUTE_NONE},
    {"GET", "/admin/bookings/{uid}", admin_page, BK_ROUTE_PUBLIC,
     BK_ROUTE_NONE},
    {"GET", "/admin/clients", admin_page, BK_ROUTE_PUBLIC, BK_ROUTE_NONE},
    {"GET", "/admin/clients/{id}", admin_page, BK_ROUTE_PUBLIC, BK_ROUTE_NONE},
    {"GET", "/admin/event-types", admin_page, BK_ROUTE_PUBLIC, BK_ROUTE_NONE},
    {"GET", "/admin/event-types/{slug}", admin_page, BK_ROUTE_PUBLIC,
     BK_ROUTE_NONE},
    {"GET", "/admin/hosts", admin_page, BK_ROUTE_PUBLIC, BK_ROUTE_NONE},
    {"GET", "/admin/hosts/{slug}", admin_page, BK_ROUTE_PUBLIC, BK_ROUTE_NONE},
    {"GET", "/admin/deliveries", admin_page, BK_ROUTE_PUBLIC, BK_ROUTE_NONE},
    {"GET", "/admin/integrations", admin_page, BK_ROUTE_PUBLIC, BK_ROUTE_NONE},
    {"GET", "/admin/metrics", admin_page, BK_ROUTE_PUBLIC, BK_ROUTE_NONE},
    {"GET", "/", index_page, BK_ROUTE_PUBLIC, BK_ROUTE_NONE},
    {"GET", "/manage/{uid}", manage_page, BK_ROUTE_PUBLIC, BK_ROUTE_NONE},
    {"GET", "/static/{name}", static_file, BK_ROUTE_PUBLIC, BK_ROUTE_NONE},
    /* Last: every fixed path above wins over a host's slug. */
    {"GET", "/{host}", host_page, BK_ROUTE_PUBLIC, BK_ROUTE_READ},
    {"GET", "/{host}/{event_type}", host_page, BK_ROUTE_PUBLIC, BK_ROUTE_READ},
};
const size_t bk_api_page_n =
    sizeof(bk_api_page_routes) / sizeof(bk_api_page_routes[0]);
