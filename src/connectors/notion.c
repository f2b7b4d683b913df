/* connectors/notion.c — the Notion mirror and pull (notion.h).
 *
 * Mirror: the job reads the row and writes its page, whatever event queued
 * it, so late or repeated jobs converge. A row's page is found by its link
 * (bookings and clients: notion/page links; invoices and packages: the
 * settings "notion.page.invoice.<number>", "notion.page.package.<slug>"),
 * else by querying its database for the row's "bookingd id" (a page made by
 * an attempt that crashed before its link committed), and only then made.
 *
 * Pull: pages edited since the cursor (last_edited_time on or after it,
 * oldest first, paged). A page whose last_edited_time is the one our own
 * last write got back is our echo and is skipped; otherwise each editable
 * field that differs from the ledger is applied through the ledger's rules.
 * A change the ledger refuses (a taken slot, a session marked completed
 * before its start, a malformed phone) is reverted on the page, with a
 * comment saying why. Last write wins: a row changed in bookingd after
 * the page was edited keeps its value, and the lost edit is noted in the
 * booking's history (a client's: the activity NOTION_EDIT_LOST). A Sessions row
 * without a bookingd id becomes a booking (source notion), which reaches
 * calendars and the attendee like any other. Pulls are serialized in a process;
 * the periodic job's dedupe key keeps instances to one run per period. */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "connectors/notion.h"
#include "base/log.h"
#include "base/str.h"
#include "base/time.h"
#include "core/ledger.h"
#include "core/tz.h"
#include "ledger/events.h"
#include "ledger/ledger.h"
#include "ledger/metrics.h"
#include "net/net.h"
#include "base/banned.h"

#define MIRROR_KIND  "notion.mirror"
#define PULL_KIND    "notion.pull"
#define PROVIDER     "notion"
#define LINK_KIND    "page"
#define MAX_ANSWER   (4 * 1024 * 1024)
#define MAX_PAGES    100
#define MAX_TEXT     2000 /* one rich text item */
#define MAX_WAIT_MS  20000
#define MAX_ERRORS   100
#define META_CURSOR  "notion.pull.cursor"
#define META_METRICS "notion.metrics.text"
#define ID_PROP      "bookingd id"

static struct bk_ledger_subscriber subscriber = {
    .name = "notion",
    .job_kind = MIRROR_KIND,
    .kinds =
        BK_LEV_BIT(BK_LEV_BOOKING_CREATED) |
        BK_LEV_BIT(BK_LEV_BOOKING_RESCHEDULED) |
        BK_LEV_BIT(BK_LEV_BOOKING_CANCELLED) |
        BK_LEV_BIT(BK_LEV_BOOKING_COMPLETED) |
        BK_LEV_BIT(BK_LEV_BOOKING_NO_SHOW) |
        BK_LEV_BIT(BK_LEV_BOOKING_SUPERSEDED) |
        BK_LEV_BIT(BK_LEV_BOOKING_CONFIRMED) |
        BK_LEV_BIT(BK_LEV_CLIENT_CREATED) | BK_LEV_BIT(BK_LEV_CLIENT_UPDATED) |
        BK_LEV_BIT(BK_LEV_CLIENT_ACTIVATED) | BK_LEV_BIT(BK_LEV_INVOICE_PAID),
};

/* The databases, once known, for every worker of the process. */
enum db { DB_CLIENTS, DB_SESSIONS, DB_INVOICES, DB_PACKAGES, DB_COUNT };
static const char *const db_titles[DB_COUNT] = {"Clients", "Sessions",
                                                "Invoices", "Packages"};
static const char *const db_meta[DB_COUNT] = {
    "notion.db.clients", "notion.db.sessions", "notion.db.invoices",
    "notion.db.packages"};
struct schema {
    char db[DB_COUNT][64];
    char metrics_page[64];
    char metrics_block[64];
    /* Per database, the properties bookingd does not write, as "|A|B|":
     * those of another type than it writes (the business's own choice,
     * which Notion would refuse the whole page for) and a title under
     * another name. Found once a process (add_missing_properties). */
    char keep_out[DB_COUNT][128];
};
static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static struct schema known_schema;
static bool have_schema;
static int64_t gate_until_ms, next_slot_ms;
/* Mirror jobs one at a time (a row's page is made once), pulls too. */
static pthread_mutex_t run_lock = PTHREAD_MUTEX_INITIALIZER;

enum bk_err bk_notion_subscribe(int max_attempts, struct bk_errbuf *err)
{
    subscriber.max_attempts = max_attempts;
    return bk_ledger_subscribe(&subscriber, err);
}

/* ---- requests ------------------------------------------------------------ */

static void sleep_ms(int64_t ms)
{
    struct timespec ts;

    if (ms <= 0)
        return;
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

/* Waits for this request's turn: at most one request per min interval in
 * the process (Notion's average of 3 per second), and none while a 429's
 * Retry-After runs (waited out when short, else BK_E_RETRY). */
static enum bk_err pace(const struct bk_notion_config *cfg,
                        struct bk_errbuf *err)
{
    int64_t interval = cfg->min_interval_ms > 0 ? cfg->min_interval_ms : 334;
    int64_t now, at;

    pthread_mutex_lock(&state_lock);
    now = bk_mono_ms();
    if (gate_until_ms - bk_now_ms() > MAX_WAIT_MS) {
        int64_t left = gate_until_ms - bk_now_ms();
        pthread_mutex_unlock(&state_lock);
        return bk_fail(err, BK_E_RETRY,
                       "Notion asked to wait (429): %" PRId64 " ms left", left);
    }
    at = next_slot_ms > now ? next_slot_ms : now;
    if (gate_until_ms > bk_now_ms() && at < now + (gate_until_ms - bk_now_ms()))
        at = now + (gate_until_ms - bk_now_ms());
    next_slot_ms = at + interval;
    pthread_mutex_unlock(&state_lock);
    sleep_ms(at - now);
    return BK_OK;
}

/* method {api_base}path with an optional JSON body; the answer parsed in
 * *out (json_decref) and its status in *status for any status but 401,
 * 429 and 5xx, which are errors (401: BK_E_UNAVAILABLE, the token; the
 * others BK_E_RETRY). */
static enum bk_err api(const struct bk_notion_config *cfg, const char *method,
                       const char *path, const json_t *body,
                       struct bk_arena *arena, json_t **out, int *status,
                       struct bk_errbuf *err)
{
    const char *headers[3];
    struct bk_net_request r;
    struct bk_net_response res;
    struct bk_errbuf nerr;
    char *text = NULL;
    enum bk_err e;

    *out = NULL;
    *status = 0;
    if ((e = pace(cfg, err)))
        return e;
    headers[0] = bk_arena_printf(arena, "Authorization: Bearer %s", cfg->token);
    headers[1] = "Notion-Version: " BK_NOTION_VERSION;
    headers[2] = "Accept: application/json";
    memset(&r, 0, sizeof(r));
    r.method = method;
    r.url = bk_arena_printf(arena, "%s%s", cfg->api_base, path);
    if (body) {
        text = json_dumps(body, JSON_COMPACT);
        if (!text)
            return bk_fail(err, BK_E_INTERNAL,
                           "cannot encode a Notion request");
        r.content_type = "application/json";
        r.body = bk_arena_strdup(arena, text);
        r.body_len = strlen(text);
        free(text);
    }
    r.headers = headers;
    r.n_headers = 3;
    r.connect_timeout_ms = cfg->connect_timeout_ms;
    r.timeout_ms = cfg->timeout_ms;
    r.max_response = MAX_ANSWER;
    r.allow_private = cfg->allow_private;
    r.allow_private_env = "NOTION_API_BASE";
    r.provider = PROVIDER;
    bk_errbuf_clear(&nerr);
    if ((e = bk_net_request(&r, arena, &res, &nerr)))
        /* BK_E_RATE_LIMITED: refused by the provider's bucket or breaker
         * (net/limits.h) before anything was sent: the job is deferred. */
        return bk_fail(
            err, e == BK_E_INVALID || e == BK_E_RATE_LIMITED ? e : BK_E_RETRY,
            "Notion: %s %s: %s", method, path, nerr.msg);
    if (res.status == 429 || res.status == 529) {
        int s = res.retry_after_s > 0 ? res.retry_after_s : 1;
        pthread_mutex_lock(&state_lock);
        if (gate_until_ms < bk_now_ms() + (int64_t)s * 1000)
            gate_until_ms = bk_now_ms() + (int64_t)s * 1000;
        pthread_mutex_unlock(&state_lock);
        bk_log_warn("notion: %s %s: rate limited (%d), waiting %d s", method,
                    path, res.status, s);
        return bk_fail(err, BK_E_RETRY,
                       "Notion answered %d to %s %s: retried after %d s",
                       res.status, method, path, s);
    }
    if (res.status == 401)
        return bk_fail(err, BK_E_RETRY,
                       "Notion answered 401 to %s %s: check NOTION_TOKEN",
                       method, path);
    if (res.status >= 500 || res.status == 0)
        return bk_fail(err, BK_E_RETRY, "Notion answered %d to %s %s",
                       res.status, method, path);
    if (res.truncated)
        return bk_fail(err, BK_E_RETRY, "Notion's answer to %s %s is too long",
                       method, path);
    *status = res.status;
    /* A text with a NUL in it must not make the whole answer unreadable
     * (a page's property is then refused by its reader, not the pull). */
    *out = json_loadb(res.body ? res.body : "", res.body_len, JSON_ALLOW_NUL,
                      NULL);
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return bk_fail(err, BK_E_RETRY,
                       "Notion's answer to %s %s is not a JSON object", method,
                       path);
    }
    return BK_OK;
}

/* api() that wants a 200: anything else is BK_E_INVALID with Notion's
 * message (a 404 is BK_E_NOT_FOUND). */
static enum bk_err api_ok(const struct bk_notion_config *cfg,
                          const char *method, const char *path,
                          const json_t *body, struct bk_arena *arena,
                          json_t **out, struct bk_errbuf *err)
{
    int status;
    enum bk_err e = api(cfg, method, path, body, arena, out, &status, err);

    if (e || status == 200)
        return e;
    e = bk_fail(err, status == 404 ? BK_E_NOT_FOUND : BK_E_INVALID,
                "Notion answered %d to %s %s: %.300s", status, method, path,
                json_string_value(json_object_get(*out, "message"))
                    ? json_string_value(json_object_get(*out, "message"))
                    : "");
    json_decref(*out);
    *out = NULL;
    return e;
}

/* ---- property values ----------------------------------------------------- */

/* s when it is a Notion id (a UUID, with or without its dashes), else
 * NULL: ids from answers go into request paths. */
static const char *nid(const char *s)
{
    size_t n = s ? strlen(s) : 0;

    if (n < 32 || n > 36 || strspn(s, "0123456789abcdefABCDEF-") != n)
        return NULL;
    return s;
}

/* s cut to at most max bytes on a UTF-8 boundary. */
static const char *cut(struct bk_arena *arena, const char *s, size_t max)
{
    size_t n;
    char *c;

    if (!s)
        return "";
    if ((n = strlen(s)) <= max)
        return s;
    c = bk_arena_strdup(arena, s);
    n = max;
    while (n > 0 && ((unsigned char)c[n] & 0xC0) == 0x80)
        n--;
    c[n] = '\0';
    return c;
}

/* s as rich text items of at most MAX_TEXT bytes each (Notion: 2000
 * characters an item), cut on UTF-8 boundaries: a client's or booking's
 * notes (up to BK_MAX_TEXT) arrive whole and are read back whole. */
static json_t *text_items(struct bk_arena *arena, const char *s)
{
    json_t *a = json_array();

    while (s && *s && json_array_size(a) < 100) {
        const char *part = cut(arena, s, MAX_TEXT);
        size_t n = strlen(part);
        if (n == 0)
            break;
        json_array_append_new(a,
                              json_pack("{s:{s:s}}", "text", "content", part));
        s += n;
    }
    return a;
}

static json_t *p_title(struct bk_arena *arena, const char *s)
{
    return json_pack("{s:o}", "title", text_items(arena, s));
}

static json_t *p_text(struct bk_arena *arena, const char *s)
{
    return json_pack("{s:o}", "rich_text", text_items(arena, s));
}

static json_t *p_select(const char *name)
{
    return name && *name ? json_pack("{s:{s:s}}", "select", "name", name)
                         : json_pack("{s:n}", "select");
}

static json_t *p_email(const char *s)
{
    return s && *s ? json_pack("{s:s}", "email", s)
                   : json_pack("{s:n}", "email");
}

static json_t *p_phone(const char *s)
{
    return s && *s ? json_pack("{s:s}", "phone_number", s)
                   : json_pack("{s:n}", "phone_number");
}

static json_t *p_number_minor(int64_t minor, const char *currency)
{
    int dec = 2;

    /* ISO 4217 currencies without minor units that Stripe knows. */
    if (currency &&
        (strcmp(currency, "JPY") == 0 || strcmp(currency, "KRW") == 0 ||
         strcmp(currency, "VND") == 0 || strcmp(currency, "CLP") == 0 ||
         strcmp(currency, "ISK") == 0))
        dec = 0;
    return json_pack("{s:f}", "number",
                     dec ? (double)minor / 100.0 : (double)minor);
}

static json_t *p_relation(const char *page_id)
{
    return page_id ? json_pack("{s:[{s:s}]}", "relation", "id", page_id)
                   : json_pack("{s:[]}", "relation");
}

/* A date in the zone tz (offset-less local times with time_zone, as
 * Notion wants them), or UTC when tz is unknown. */
static json_t *p_date(int64_t start_utc, int64_t end_utc, const char *tz)
{
    const struct bk_tz *z = tz ? bk_tz_get(tz) : NULL;
    char s[BK_RFC3339_MAX], e[BK_RFC3339_MAX];

    if (!z) {
        bk_rfc3339_format_utc(start_utc, s);
        bk_rfc3339_format_utc(end_utc, e);
        return json_pack("{s:{s:s, s:s, s:n}}", "date", "start", s, "end", e,
                         "time_zone");
    }
    bk_rfc3339_format_utc(bk_tz_utc_to_local(z, start_utc), s);
    bk_rfc3339_format_utc(bk_tz_utc_to_local(z, end_utc), e);
    s[strlen(s) - 1] = '\0'; /* the 'Z': local time */
    e[strlen(e) - 1] = '\0';
    return json_pack("{s:{s:s, s:s, s:s}}", "date", "start", s, "end", e,
                     "time_zone", bk_tz_name(z));
}

/* Reading a page's properties. */
static const json_t *prop(const json_t *page, const char *name)
{
    return json_object_get(json_object_get(page, "properties"), name);
}

/* Whether the page has property name of the type bookingd writes there
 * (a column the business made of another type is its own, not an edit). */
static bool prop_is(const json_t *page, const char *name, const char *type)
{
    const char *t =
        json_string_value(json_object_get(prop(page, name), "type"));
    return t && strcmp(t, type) == 0;
}

/* The plain text of a title or rich_text property, or NULL when empty;
 * *over tells a text longer than max bytes (then cut to max) or holding
 * a NUL (that item left out). */
static const char *get_text_max(struct bk_arena *arena, const json_t *page,
                                const char *name, size_t max, bool *over)
{
    const json_t *p = prop(page, name), *items, *it;
    const char *type = json_string_value(json_object_get(p, "type"));
    char *out = NULL;
    size_t i;

    if (!type)
        return NULL;
    items = json_object_get(p, type);
    if (!json_is_array(items))
        return NULL;
    json_array_foreach(items, i, it)
    {
        const json_t *v = json_object_get(it, "plain_text");
        const char *t;
        if (!json_is_string(v))
            v = json_object_get(json_object_get(it, "text"), "content");
        if (!(t = json_string_value(v)))
            continue;
        if (json_string_length(v) != strlen(t)) {
            /* A NUL inside: as over-long, the text is not taken whole. */
            if (over)
                *over = true;
            continue;
        }
        out = out ? bk_arena_printf(arena, "%s%s", out, t)
                  : bk_arena_strdup(arena, t);
        if (strlen(out) > max) {
            if (over)
                *over = true;
            return cut(arena, out, max);
        }
    }
    return out && *out ? out : NULL;
}

static const char *get_text(struct bk_arena *arena, const json_t *page,
                            const char *name)
{
    return get_text_max(arena, page, name, BK_MAX_TEXT, NULL);
}

static const char *get_select(const json_t *page, const char *name)
{
    return json_string_value(
        json_object_get(json_object_get(prop(page, name), "select"), "name"));
}

static const char *get_email(const json_t *page, const char *name)
{
    return json_string_value(json_object_get(prop(page, name), "email"));
}

/* A phone_number property's text; "\x01" (never a phone) when it holds a
 * NUL. */
static const char *get_phone(const json_t *page, const char *name)
{
    const json_t *v = json_object_get(prop(page, name), "phone_number");
    const char *s = json_string_value(v);

    return s && json_string_length(v) != strlen(s) ? "\x01" : s;
}

static const char *get_relation(const json_t *page, const char *name)
{
    return json_string_value(json_object_get(
        json_array_get(json_object_get(prop(page, name), "relation"), 0),
        "id"));
}

/* A date property's start as UTC seconds: RFC 3339 with an offset, or a
 * local time in its time_zone. BK_E_INVALID when absent or unreadable. */
static enum bk_err get_date(struct bk_arena *arena, const json_t *page,
                            const char *name, int64_t *utc)
{
    const json_t *d = json_object_get(prop(page, name), "date");
    const char *s = json_string_value(json_object_get(d, "start"));
    const char *tz = json_string_value(json_object_get(d, "time_zone"));
    const struct bk_tz *z;

    if (!s || strlen(s) < 19 || strlen(s) > 40)
        return BK_E_INVALID;
    if (bk_rfc3339_parse(s, utc, NULL) == BK_OK)
        return BK_OK;
    /* Offset-less: local time in time_zone (UTC when none). */
    if (bk_rfc3339_parse(bk_arena_printf(arena, "%sZ", s), utc, NULL))
        return BK_E_INVALID;
    if (tz && (z = bk_tz_get(tz)) != NULL)
        *utc = bk_tz_local_to_utc(z, *utc);
    return BK_OK;
}

/* ---- the databases ------------------------------------------------------- */

static json_t *select_options(const char *const *names)
{
    json_t *a = json_array();

    for (; *names; names++)
        json_array_append_new(a, json_pack("{s:s}", "name", *names));
    return json_pack("{s:{s:o}}", "select", "options", a);
}

static json_t *db_properties(enum db which, const struct schema *s)
{
    static const char *const client_status[] = {"prospect", "active",
                                                "inactive", NULL};
    static const char *const booking_status[] = {
        "pending", "confirmed", "cancelled", "completed", "no_show", NULL};
    static const char *const invoice_status[] = {
        "open", "paid", "void", "refunded", "partially_refunded", NULL};
    json_t *o = json_object();

    json_object_set_new(o, ID_PROP, json_pack("{s:{}}", "rich_text"));
    switch (which) {
    case DB_CLIENTS:
        json_object_set_new(o, "Name", json_pack("{s:{}}", "title"));
        json_object_set_new(o, "Email", json_pack("{s:{}}", "email"));
        json_object_set_new(o, "Phone", json_pack("{s:{}}", "phone_number"));
        json_object_set_new(o, "Status", select_options(client_status));
        json_object_set_new(o, "Notes", json_pack("{s:{}}", "rich_text"));
        break;
    case DB_SESSIONS:
        json_object_set_new(o, "Name", json_pack("{s:{}}", "title"));
        json_object_set_new(o, "Status", select_options(booking_status));
        json_object_set_new(o, "Date", json_pack("{s:{}}", "date"));
        json_object_set_new(o, "Email", json_pack("{s:{}}", "email"));
        json_object_set_new(o, "Event type", json_pack("{s:{}}", "rich_text"));
        json_object_set_new(o, "Notes", json_pack("{s:{}}", "rich_text"));
        json_object_set_new(o, "Source", json_pack("{s:{}}", "rich_text"));
        json_object_set_new(o, "Client",
                            json_pack("{s:{s:s, s:{}}}", "relation",
                                      "database_id", s->db[DB_CLIENTS],
                                      "single_property"));
        break;
    case DB_INVOICES:
        json_object_set_new(o, "Number", json_pack("{s:{}}", "title"));
        json_object_set_new(o, "Status", select_options(invoice_status));
        json_object_set_new(
            o, "Amount", json_pack("{s:{s:s}}", "number", "format", "number"));
        json_object_set_new(o, "Currency", json_pack("{s:{}}", "rich_text"));
        json_object_set_new(o, "Issued", json_pack("{s:{}}", "date"));
        json_object_set_new(o, "Client",
                            json_pack("{s:{s:s, s:{}}}", "relation",
                                      "database_id", s->db[DB_CLIENTS],
                                      "single_property"));
        json_object_set_new(o, "Session",
                            json_pack("{s:{s:s, s:{}}}", "relation",
                                      "database_id", s->db[DB_SESSIONS],
                                      "single_property"));
        break;
    case DB_PACKAGES:
        json_object_set_new(o, "Name", json_pack("{s:{}}", "title"));
        json_object_set_new(
            o, "Sessions",
            json_pack("{s:{s:s}}", "number", "format", "number"));
        json_object_set_new(
            o, "Price", json_pack("{s:{s:s}}", "number", "format", "number"));
        json_object_set_new(o, "Currency", json_pack("{s:{}}", "rich_text"));
        json_object_set_new(
            o, "Valid days",
            json_pack("{s:{s:s}}", "number", "format", "number"));
        json_object_set_new(o, "Active", json_pack("{s:{}}", "checkbox"));
        break;
    default:
        break;
    }
    return o;
}

/* The children of the parent page that are databases or pages, by
 * title: fills s with those it finds (adoption). */
static enum bk_err adopt(const struct bk_notion_config *cfg,
                         struct bk_arena *arena, struct schema *s,
                         struct bk_errbuf *err)
{
    const char *cursor = NULL;
    enum bk_err e;

    for (int page = 0; page < MAX_PAGES; page++) {
        json_t *j = NULL, *list, *b;
        size_t i;
        const char *path = bk_arena_printf(
            arena, "/blocks/%s/children?page_size=100%s%s", cfg->parent_page,
            cursor ? "&start_cursor=" : "", cursor ? cursor : "");

        if ((e = api_ok(cfg, "GET", path, NULL, arena, &j, err)))
            return e;
        list = json_object_get(j, "results");
        json_array_foreach(list, i, b)
        {
            const char *type = json_string_value(json_object_get(b, "type"));
            const char *id = nid(json_string_value(json_object_get(b, "id")));
            const char *title = json_string_value(
                json_object_get(json_object_get(b, type ? type : ""), "title"));
            if (!type || !id || !title || strlen(id) >= sizeof(s->db[0]))
                continue;
            if (strcmp(type, "child_database") == 0) {
                for (int d = 0; d < DB_COUNT; d++)
                    if (strcmp(title, db_titles[d]) == 0 && !s->db[d][0])
                        bk_strlcpy(s->db[d], id, sizeof(s->db[d]));
            } else if (strcmp(type, "child_page") == 0 &&
                       strcmp(title, "Metrics") == 0 && !s->metrics_page[0]) {
                bk_strlcpy(s->metrics_page, id, sizeof(s->metrics_page));
            }
        }
        cursor = json_is_true(json_object_get(j, "has_more")) &&
                         json_string_value(json_object_get(j, "next_cursor"))
                     ? bk_arena_strdup(arena, json_string_value(json_object_get(
                                                  j, "next_cursor")))
                     : NULL;
        json_decref(j);
        if (!cursor)
            break;
    }
    return BK_OK;
}

/* The first paragraph of the Metrics page (made with it). */
static enum bk_err metrics_block(const struct bk_notion_config *cfg,
                                 struct bk_arena *arena, struct schema *s,
                                 struct bk_errbuf *err)
{
    json_t *j = NULL, *b;
    size_t i;
    enum bk_err e =
        api_ok(cfg, "GET",
               bk_arena_printf(arena, "/blocks/%s/children?page_size=100",
                               s->metrics_page),
               NULL, arena, &j, err);

    if (e)
        return e;
    json_array_foreach(json_object_get(j, "results"), i, b)
    {
        const char *type = json_string_value(json_object_get(b, "type"));
        const char *id = nid(json_string_value(json_object_get(b, "id")));
        if (type && id && strcmp(type, "paragraph") == 0 &&
            strlen(id) < sizeof(s->metrics_block)) {
            bk_strlcpy(s->metrics_block, id, sizeof(s->metrics_block));
            break;
        }
    }
    json_decref(j);
    if (s->metrics_block[0])
        return BK_OK;
    /* An adopted page without one: append it. */
    {
        json_t *body = json_pack(
            "{s:[{s:s, s:s, s:{s:[{s:{s:s}}]}}]}", "children", "object",
            "block", "type", "paragraph", "paragraph", "rich_text", "text",
            "content", "Metrics are written here by bookingd.");
        e = api_ok(
            cfg, "PATCH",
            bk_arena_printf(arena, "/blocks/%s/children", s->metrics_page),
            body, arena, &j, err);
        json_decref(body);
        if (e)
            return e;
        b = json_array_get(json_object_get(j, "results"), 0);
        if (nid(json_string_value(json_object_get(b, "id"))))
            bk_strlcpy(s->metrics_block,
                       json_string_value(json_object_get(b, "id")),
                       sizeof(s->metrics_block));
        json_decref(j);
    }
    return s->metrics_block[0]
               ? BK_OK
               : bk_fail(err, BK_E_RETRY,
                         "Notion gave the Metrics paragraph no id");
}

/* Puts property name in s's keep_out list of database d (a name that
 * does not fit is left out of the list, and so written: Notion then says
 * why it refuses the page). */
static void keep_out(struct schema *s, enum db d, const char *name)
{
    size_t used = strlen(s->keep_out[d]), n = strlen(name);

    if (!used && sizeof(s->keep_out[d]) > 1)
        s->keep_out[d][used++] = '|';
    if (used + n + 2 > sizeof(s->keep_out[d]))
        return;
    memcpy(s->keep_out[d] + used, name, n);
    s->keep_out[d][used + n] = '|';
    s->keep_out[d][used + n + 1] = '\0';
}

/* Whether bookingd leaves property name of database d unwritten. */
static bool kept_out(const struct schema *s, enum db d, const char *name)
{
    const char *at = s->keep_out[d];
    size_t n = strlen(name);

    while ((at = strstr(at, name)) != NULL) {
        if (at > s->keep_out[d] && at[-1] == '|' && at[n] == '|')
            return true;
        at++;
    }
    return false;
}

/* A database bookingd did not just make (adopted by title, or made by an
 * older bookingd): the properties it lacks are added (PATCH
 * /databases/{id}); one of the right name but another type is left as the
 * business made it, said in the log, and never written (keep_out): the
 * rest of each page is. */
static enum bk_err add_missing_properties(const struct bk_notion_config *cfg,
                                          struct bk_arena *arena,
                                          struct schema *s, enum db d,
                                          struct bk_errbuf *err)
{
    json_t *j = NULL, *want = db_properties(d, s), *missing = json_object();
    const json_t *have, *spec;
    const char *name;
    enum bk_err e;

    e = api_ok(cfg, "GET", bk_arena_printf(arena, "/databases/%s", s->db[d]),
               NULL, arena, &j, err);
    if (e)
        goto out;
    have = json_object_get(j, "properties");
    json_object_foreach(want, name, spec)
    {
        const json_t *h = json_object_get(have, name), *o;
        const char *type = json_string_value(json_object_get(h, "type")), *k;
        bool titled = false;
        json_object_foreach((json_t *)have, k, o)
        {
            const char *t = json_string_value(json_object_get(o, "type"));
            if (t && strcmp(t, "title") == 0)
                titled = true;
        }
        if (!h && json_object_get(spec, "title") && titled) {
            bk_log_warn("notion: database %s has its title under another "
                        "name than \"%s\"; rename it in Notion",
                        db_titles[d], name);
            keep_out(s, d, name);
        } else if (!h) {
            json_object_set(missing, name, (json_t *)spec);
        } else if (!type || !json_object_get(spec, type)) {
            bk_log_warn("notion: database %s: property \"%s\" is a %s, not "
                        "what bookingd writes; bookingd leaves it alone",
                        db_titles[d], name, type ? type : "?");
            keep_out(s, d, name);
        }
    }
    if (json_object_size(missing) > 0) {
        json_t *body = json_pack("{s:O}", "properties", missing), *r = NULL;
        e = api_ok(cfg, "PATCH",
                   bk_arena_printf(arena, "/databases/%s", s->db[d]), body,
                   arena, &r, err);
        json_decref(body);
        json_decref(r);
        if (!e)
            bk_log_info("notion: database %s: %zu missing properties added",
                        db_titles[d], json_object_size(missing));
    }
out:
    json_decref(j);
    json_decref(want);
    json_decref(missing);
    return e;
}

/* The databases and the Metrics page: from the settings, else adopted by
 * title under the parent page, else made there. */
static enum bk_err ensure_schema(const struct bk_notion_config *cfg,
                                 struct bk_store *store, struct bk_arena *arena,
                                 struct schema *out, struct bk_errbuf *err)
{
    struct schema s;
    const char *v;
    bool missing = false, made[DB_COUNT];
    enum bk_err e;

    pthread_mutex_lock(&state_lock);
    if (have_schema) {
        *out = known_schema;
        pthread_mutex_unlock(&state_lock);
        return BK_OK;
    }
    pthread_mutex_unlock(&state_lock);
    memset(&s, 0, sizeof(s));
    for (int d = 0; d < DB_COUNT; d++) {
        if ((e = bk_store_meta_read(store, db_meta[d], arena, &v, err)))
            return e;
        if (v && strlen(v) < sizeof(s.db[d]))
            bk_strlcpy(s.db[d], v, sizeof(s.db[d]));
        else
            missing = true;
    }
    if ((e = bk_store_meta_read(store, "notion.metrics.page", arena, &v, err)))
        return e;
    if (v && strlen(v) < sizeof(s.metrics_page))
        bk_strlcpy(s.metrics_page, v, sizeof(s.metrics_page));
    else
        missing = true;
    if ((e = bk_store_meta_read(store, "notion.metrics.block", arena, &v, err)))
        return e;
    if (v && strlen(v) < sizeof(s.metrics_block))
        bk_strlcpy(s.metrics_block, v, sizeof(s.metrics_block));
    if (missing && (e = adopt(cfg, arena, &s, err)))
        return e;
    /* In the order relations need: Clients, Packages, Sessions, Invoices. */
    memset(made, 0, sizeof(made));
    {
        static const enum db order[DB_COUNT] = {DB_CLIENTS, DB_PACKAGES,
                                                DB_SESSIONS, DB_INVOICES};
        for (int k = 0; k < DB_COUNT; k++) {
            enum db d = order[k];
            json_t *body, *j = NULL;
            const char *id;
            if (s.db[d][0])
                continue;
            body =
                json_pack("{s:{s:s, s:s}, s:[{s:s, s:{s:s}}], s:o}", "parent",
                          "type", "page_id", "page_id", cfg->parent_page,
                          "title", "type", "text", "text", "content",
                          db_titles[d], "properties", db_properties(d, &s));
            e = api_ok(cfg, "POST", "/databases", body, arena, &j, err);
            json_decref(body);
            if (e)
                return e;
            id = nid(json_string_value(json_object_get(j, "id")));
            if (!id || strlen(id) >= sizeof(s.db[d])) {
                json_decref(j);
                return bk_fail(err, BK_E_RETRY,
                               "Notion's new database has no id");
            }
            bk_strlcpy(s.db[d], id, sizeof(s.db[d]));
            json_decref(j);
            made[d] = true;
            bk_log_info("notion: database %s made (%s)", db_titles[d], s.db[d]);
        }
    }
    /* Once a process: the others get what they lack. */
    for (int d = 0; d < DB_COUNT; d++)
        if (!made[d] &&
            (e = add_missing_properties(cfg, arena, &s, (enum db)d, err)))
            return e;
    if (!s.metrics_page[0]) {
        json_t *body = json_pack(
            "{s:{s:s}, s:{s:{s:[{s:{s:s}}]}}, s:[{s:s, s:s, "
            "s:{s:[{s:{s:s}}]}}]}",
            "parent", "page_id", cfg->parent_page, "properties", "title",
            "title", "text", "content", "Metrics", "children", "object",
            "block", "type", "paragraph", "paragraph", "rich_text", "text",
            "content", "Metrics are written here by bookingd.");
        json_t *j = NULL;
        const char *id;
        e = api_ok(cfg, "POST", "/pages", body, arena, &j, err);
        json_decref(body);
        if (e)
            return e;
        id = nid(json_string_value(json_object_get(j, "id")));
        if (id && strlen(id) < sizeof(s.metrics_page))
            bk_strlcpy(s.metrics_page, id, sizeof(s.metrics_page));
        json_decref(j);
        if (!s.metrics_page[0])
            return bk_fail(err, BK_E_RETRY, "Notion's new page has no id");
    }
    if (!s.metrics_block[0] && (e = metrics_block(cfg, arena, &s, err)))
        return e;
    for (int d = 0; d < DB_COUNT; d++)
        if ((e = bk_store_meta_write(store, db_meta[d], s.db[d], err)))
            return e;
    if ((e = bk_store_meta_write(store, "notion.metrics.page", s.metrics_page,
                                 err)) ||
        (e = bk_store_meta_write(store, "notion.metrics.block", s.metrics_block,
                                 err)))
        return e;
    pthread_mutex_lock(&state_lock);
    known_schema = s;
    have_schema = true;
    pthread_mutex_unlock(&state_lock);
    *out = s;
    return BK_OK;
}

/* ---- pages --------------------------------------------------------------- */

/* The page of database db whose bookingd id is key, or *id NULL. */
static enum bk_err find_by_key(const struct bk_notion_config *cfg,
                               const char *db, const char *key,
                               struct bk_arena *arena, const char **id,
                               struct bk_errbuf *err)
{
    json_t *body =
               json_pack("{s:{s:s, s:{s:s}}, s:i}", "filter", "property",
                         ID_PROP, "rich_text", "equals", key, "page_size", 10),
           *j = NULL, *p;
    size_t i;
    enum bk_err e =
        api_ok(cfg, "POST", bk_arena_printf(arena, "/databases/%s/query", db),
               body, arena, &j, err);

    json_decref(body);
    *id = NULL;
    if (e)
        return e;
    json_array_foreach(json_object_get(j, "results"), i, p)
    {
        if (json_is_true(json_object_get(p, "archived")) ||
            json_is_true(json_object_get(p, "in_trash")))
            continue;
        if (nid(json_string_value(json_object_get(p, "id")))) {
            *id = bk_arena_strdup(arena,
                                  json_string_value(json_object_get(p, "id")));
            break;
        }
    }
    json_decref(j);
    return BK_OK;
}

/* Writes props to the row's page: page_id when known (a page gone at
 * Notion is made again), else the page found by key, else a new one.
 * *out_id and *edited (its last_edited_time) in arena; *made when new. */
static enum bk_err upsert_page(const struct bk_notion_config *cfg,
                               const struct schema *s, enum db d,
                               const char *key, const char *page_id,
                               json_t *props, struct bk_arena *arena,
                               const char **out_id, const char **edited,
                               bool *made, struct bk_errbuf *err)
{
    json_t *body = NULL, *j = NULL;
    int status = 0;
    enum bk_err e = BK_OK;

    *made = false;
    {
        const char *name;
        json_t *v;
        void *tmp;
        json_object_foreach_safe(props, tmp, name, v)
        {
            if (kept_out(s, d, name))
                json_object_del(props, name);
        }
    }
    json_object_set_new(props, ID_PROP, p_text(arena, key));
    if (!page_id && (e = find_by_key(cfg, s->db[d], key, arena, &page_id, err)))
        goto out;
    if (page_id) {
        body = json_pack("{s:O}", "properties", props);
        e = api(cfg, "PATCH", bk_arena_printf(arena, "/pages/%s", page_id),
                body, arena, &j, &status, err);
        json_decref(body);
        body = NULL;
        if (e)
            goto out;
        if (status == 404 ||
            (status == 200 && (json_is_true(json_object_get(j, "archived")) ||
                               json_is_true(json_object_get(j, "in_trash"))))) {
            json_decref(j);
            j = NULL;
            page_id = NULL; /* deleted in Notion: made again */
        } else if (status != 200) {
            e = bk_fail(err, BK_E_INVALID,
                        "Notion refused to update page %s: %d %.300s", page_id,
                        status,
                        json_string_value(json_object_get(j, "message"))
                            ? json_string_value(json_object_get(j, "message"))
                            : "");
            goto out;
        }
    }
    if (!page_id) {
        body = json_pack("{s:{s:s}, s:O}", "parent", "database_id", s->db[d],
                         "properties", props);
        if ((e = api_ok(cfg, "POST", "/pages", body, arena, &j, err)))
            goto out;
        *made = true;
    }
    *out_id =
        bk_arena_strdup(arena, nid(json_string_value(json_object_get(j, "id")))
                                   ? json_string_value(json_object_get(j, "id"))
                                   : "");
    *edited = json_string_value(json_object_get(j, "last_edited_time"))
                  ? bk_arena_strdup(arena, json_string_value(json_object_get(
                                               j, "last_edited_time")))
                  : NULL;
    if (!**out_id)
        e = bk_fail(err, BK_E_RETRY, "Notion's page has no id");
out:
    json_decref(body);
    json_decref(j);
    json_decref(props);
    return e;
}

/* The live notion/page link of a booking or client, or NULL. */
static enum bk_err link_of(struct bk_store *store, enum bk_link_entity ent,
                           int64_t id, struct bk_arena *arena,
                           struct bk_link **out, struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    struct bk_link *links = NULL;
    size_t n = 0;
    enum bk_err e = bk_store_begin(store, BK_TX_READ, &tx, err);

    *out = NULL;
    if (!e)
        e = bk_store_link_list(tx, ent, id, arena, &links, &n, err);
    for (size_t i = 0; !e && i < n; i++)
        if (strcmp(links[i].provider, PROVIDER) == 0 &&
            strcmp(links[i].kind, LINK_KIND) == 0 && !links[i].superseded)
            *out = &links[i];
    bk_store_rollback(tx);
    return e;
}

/* Records page_id as the row's page (an older page of the row is marked
 * superseded) and its last_edited_time as the link's etag. */
static enum bk_err link_once(struct bk_store *store, enum bk_link_entity ent,
                             int64_t id, const char *page_id,
                             const char *edited, struct bk_arena *arena,
                             struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    struct bk_link *links = NULL, l, got;
    size_t n = 0;
    bool existed = false;
    enum bk_err e = bk_store_begin(store, BK_TX_WRITE, &tx, err);

    if (!e)
        e = bk_store_link_list(tx, ent, id, arena, &links, &n, err);
    for (size_t i = 0; !e && i < n; i++)
        if (strcmp(links[i].provider, PROVIDER) == 0 &&
            strcmp(links[i].kind, LINK_KIND) == 0 && !links[i].superseded &&
            strcmp(links[i].external_id, page_id) != 0) {
            links[i].superseded = true;
            e = bk_store_link_update(tx, &links[i], err);
        }
    if (!e) {
        memset(&l, 0, sizeof(l));
        l.entity = ent;
        l.entity_id = id;
        l.provider = PROVIDER;
        l.kind = LINK_KIND;
        l.external_id = page_id;
        l.etag = edited;
        l.created_utc = bk_now_utc();
        e = bk_store_link_put(tx, &l, arena, &got, &existed, err);
        if (!e && existed) {
            got.etag = edited;
            got.superseded = false;
            e = bk_store_link_update(tx, &got, err);
        }
    }
    if (!e) {
        e = bk_store_commit(tx, err);
        tx = NULL;
    }
    bk_store_rollback(tx);
    return e;
}

static enum bk_err link_page(struct bk_store *store, enum bk_link_entity ent,
                             int64_t id, const char *page_id,
                             const char *edited, struct bk_arena *arena,
                             struct bk_errbuf *err)
{
    enum bk_err e;

    BK_STORE_RETRY(e, link_once(store, ent, id, page_id, edited, arena, err));
    return e;
}

/* What one mirror did. */
struct tally {
    int64_t created, updated;
};

static enum bk_err mirror_client(const struct bk_notion_config *cfg,
                                 struct bk_store *store, const struct schema *s,
                                 int64_t client_id, struct bk_arena *arena,
                                 const char **page_out, struct tally *t,
                                 struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    struct bk_client c;
    struct bk_link *l = NULL;
    const char *id = NULL, *edited = NULL;
    json_t *props;
    bool made = false;
    enum bk_err e;

    if (page_out)
        *page_out = NULL;
    if ((e = bk_store_begin(store, BK_TX_READ, &tx, err)))
        return e;
    e = bk_store_client_get(tx, client_id, arena, &c, err);
    bk_store_rollback(tx);
    if (e == BK_E_NOT_FOUND)
        return BK_OK; /* erased */
    if (e || (e = link_of(store, BK_LINK_CLIENT, client_id, arena, &l, err)))
        return e;
    props = json_object();
    json_object_set_new(props, "Name",
                        p_title(arena, c.name && *c.name ? c.name : c.email));
    json_object_set_new(props, "Email", p_email(c.email));
    json_object_set_new(props, "Status",
                        p_select(bk_client_status_name(c.status)));
    json_object_set_new(props, "Phone", p_phone(c.phone));
    json_object_set_new(props, "Notes", p_text(arena, c.notes));
    if ((e = upsert_page(cfg, s, DB_CLIENTS, c.public_id,
                         l ? l->external_id : NULL, props, arena, &id, &edited,
                         &made, err)) ||
        (e = link_page(store, BK_LINK_CLIENT, client_id, id, edited, arena,
                       err)))
        return e;
    if (made)
        t->created++;
    else
        t->updated++;
    if (page_out)
        *page_out = id;
    return BK_OK;
}

/* The properties of a booking's page. */
static json_t *booking_props(struct bk_arena *arena, const struct bk_booking *b,
                             const char *tz, const char *client_page)
{
    json_t *props = json_object();
    const char *who = b->attendee_name && *b->attendee_name ? b->attendee_name
                                                            : b->client_name;

    json_object_set_new(
        props, "Name",
        p_title(arena,
                who ? bk_arena_printf(arena, "%s with %s",
                                      b->event_type_title ? b->event_type_title
                                                          : "Session",
                                      who)
                    : b->event_type_title));
    json_object_set_new(props, "Status",
                        p_select(bk_booking_status_name(b->status)));
    json_object_set_new(props, "Date", p_date(b->start_utc, b->end_utc, tz));
    json_object_set_new(
        props, "Email",
        p_email(b->attendee_email ? b->attendee_email : b->client_email));
    json_object_set_new(props, "Event type", p_text(arena, b->event_type_slug));
    json_object_set_new(props, "Notes", p_text(arena, b->notes));
    json_object_set_new(props, "Source",
                        p_text(arena, bk_source_name(b->source)));
    if (client_page)
        json_object_set_new(props, "Client", p_relation(client_page));
    return props;
}

/* The zone a booking's date is shown in: the host's. */
static const char *booking_tz(struct bk_store *store,
                              const struct bk_booking *b,
                              struct bk_arena *arena)
{
    struct bk_tx *tx = NULL;
    struct bk_host h;
    const char *tz = NULL;
    struct bk_errbuf ignore;

    bk_errbuf_clear(&ignore);
    if (bk_store_begin(store, BK_TX_READ, &tx, &ignore) == BK_OK &&
        bk_store_host_get(tx, b->host_id, arena, &h, &ignore) == BK_OK)
        tz = h.timezone;
    bk_store_rollback(tx);
    return tz;
}

static enum bk_err mirror_booking(const struct bk_notion_config *cfg,
                                  struct bk_store *store,
                                  const struct schema *s, int64_t booking_id,
                                  bool wait_for_pull, struct bk_arena *arena,
                                  const char **page_out, struct tally *t,
                                  struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    struct bk_booking b;
    struct bk_link *l = NULL;
    const char *id = NULL, *edited = NULL, *client_page = NULL;
    bool made = false;
    enum bk_err e;

    if (page_out)
        *page_out = NULL;
    if ((e = bk_store_begin(store, BK_TX_READ, &tx, err)))
        return e;
    e = bk_store_booking_get(tx, booking_id, arena, &b, err);
    bk_store_rollback(tx);
    if (e == BK_E_NOT_FOUND)
        return BK_OK;
    if (e || (e = link_of(store, BK_LINK_BOOKING, booking_id, arena, &l, err)))
        return e;
    /* A booking made from a Notion row: the pull links that row; a page
     * is made here only if it never does. */
    if (!l && b.source == BK_SOURCE_NOTION && wait_for_pull)
        return bk_fail(err, BK_E_RETRY,
                       "booking %s came from Notion: waiting for the pull to "
                       "link its row",
                       b.uid);
    /* The client's page: its own events keep it current, so one that
     * exists is only named here. */
    if (b.client_id) {
        struct bk_link *cl = NULL;
        if ((e = link_of(store, BK_LINK_CLIENT, b.client_id, arena, &cl, err)))
            return e;
        if (cl)
            client_page = cl->external_id;
        else if ((e = mirror_client(cfg, store, s, b.client_id, arena,
                                    &client_page, t, err)))
            return e;
    }
    if ((e = upsert_page(cfg, s, DB_SESSIONS, b.uid, l ? l->external_id : NULL,
                         booking_props(arena, &b, booking_tz(store, &b, arena),
                                       client_page),
                         arena, &id, &edited, &made, err)) ||
        (e = link_page(store, BK_LINK_BOOKING, booking_id, id, edited, arena,
                       err)))
        return e;
    if (made)
        t->created++;
    else
        t->updated++;
    if (page_out)
        *page_out = id;
    return BK_OK;
}

static enum bk_err
mirror_invoice(const struct bk_notion_config *cfg, struct bk_store *store,
               const struct schema *s, const struct bk_invoice *inv,
               struct bk_arena *arena, struct tally *t, struct bk_errbuf *err)
{
    const char *key =
        bk_arena_printf(arena, "notion.page.invoice.%s", inv->number);
    const char *page = NULL, *id = NULL, *edited = NULL;
    const char *client_page = NULL, *session_page = NULL;
    char issued[BK_RFC3339_MAX];
    json_t *props;
    bool made = false;
    enum bk_err e;

    if ((e = bk_store_meta_read(store, key, arena, &page, err)))
        return e;
    if (inv->booking_id &&
        (e = mirror_booking(cfg, store, s, inv->booking_id, false, arena,
                            &session_page, t, err)))
        return e;
    if (inv->client_id && (e = mirror_client(cfg, store, s, inv->client_id,
                                             arena, &client_page, t, err)))
        return e;
    bk_rfc3339_format_utc(inv->issued_utc, issued);
    props = json_object();
    json_object_set_new(props, "Number", p_title(arena, inv->number));
    json_object_set_new(props, "Status",
                        p_select(bk_invoice_status_name(inv->status)));
    json_object_set_new(props, "Amount",
                        p_number_minor(inv->amount_minor, inv->currency));
    json_object_set_new(props, "Currency", p_text(arena, inv->currency));
    json_object_set_new(props, "Issued",
                        json_pack("{s:{s:s}}", "date", "start", issued));
    json_object_set_new(props, "Client", p_relation(client_page));
    json_object_set_new(props, "Session", p_relation(session_page));
    if ((e = upsert_page(cfg, s, DB_INVOICES, inv->number, page, props, arena,
                         &id, &edited, &made, err)) ||
        (e = bk_store_meta_write(store, key, id, err)))
        return e;
    if (made)
        t->created++;
    else
        t->updated++;
    return BK_OK;
}

static enum bk_err
mirror_package(const struct bk_notion_config *cfg, struct bk_store *store,
               const struct schema *s, const struct bk_package *p,
               struct bk_arena *arena, struct tally *t, struct bk_errbuf *err)
{
    const char *key = bk_arena_printf(arena, "notion.page.package.%s", p->slug);
    const char *page = NULL, *id = NULL, *edited = NULL;
    json_t *props;
    bool made = false;
    enum bk_err e;

    if ((e = bk_store_meta_read(store, key, arena, &page, err)))
        return e;
    props = json_object();
    json_object_set_new(props, "Name", p_title(arena, p->name));
    json_object_set_new(props, "Sessions",
                        json_pack("{s:i}", "number", p->sessions));
    json_object_set_new(props, "Price",
                        p_number_minor(p->price_minor, p->currency));
    json_object_set_new(props, "Currency", p_text(arena, p->currency));
    json_object_set_new(props, "Valid days",
                        json_pack("{s:i}", "number", p->valid_days));
    json_object_set_new(props, "Active",
                        json_pack("{s:b}", "checkbox", p->active));
    if ((e = upsert_page(cfg, s, DB_PACKAGES, p->slug, page, props, arena, &id,
                         &edited, &made, err)) ||
        (e = bk_store_meta_write(store, key, id, err)))
        return e;
    if (made)
        t->created++;
    else
        t->updated++;
    return BK_OK;
}

/* ---- the mirror job ------------------------------------------------------ */

static enum bk_err
check_unpulled(const struct bk_notion_config *cfg, struct bk_store *store,
               const struct schema *s, enum bk_link_entity ent, int64_t id,
               struct bk_arena *arena, struct bk_errbuf *err);

static enum bk_err mirror_run(void *ctx, struct bk_store *store,
                              const struct bk_job *job, struct bk_arena *arena,
                              struct bk_errbuf *err)
{
    const struct bk_notion_config *cfg = ctx;
    json_t *p;
    json_int_t booking_id = 0, client_id = 0;
    const char *event = NULL;
    struct schema s;
    struct tally t = {0, 0};
    enum bk_err e;

    p = json_loads(job->payload ? job->payload : "", 0, NULL);
    if (!p || json_unpack(p, "{s?I, s?I, s?s}", "booking_id", &booking_id,
                          "client_id", &client_id, "event", &event) != 0) {
        json_decref(p);
        return bk_fail(err, BK_E_MALFORMED, "not a ledger event payload");
    }
    event = event ? bk_arena_strdup(arena, event) : "";
    json_decref(p);
    if (!cfg || !cfg->token)
        return bk_fail(err, BK_E_INVALID, "NOTION_TOKEN is not set");
    pthread_mutex_lock(&run_lock);
    if ((e = bk_jobs_fence(store, job, err)) ||
        (e = ensure_schema(cfg, store, arena, &s, err)))
        goto out;
    if (booking_id > 0) {
        /* After a few tries a Notion booking's page is made anyway. */
        e = check_unpulled(cfg, store, &s, BK_LINK_BOOKING, booking_id, arena,
                           err);
        if (!e)
            e = mirror_booking(cfg, store, &s, booking_id, job->attempts < 4,
                               arena, NULL, &t, err);
        if (!e && strcmp(event, "INVOICE_PAID") == 0) {
            struct bk_tx *tx = NULL;
            struct bk_invoice inv;
            if (!(e = bk_store_begin(store, BK_TX_READ, &tx, err))) {
                e = bk_store_invoice_by_booking(tx, booking_id, arena, &inv,
                                                err);
                bk_store_rollback(tx);
                if (!e)
                    e = mirror_invoice(cfg, store, &s, &inv, arena, &t, err);
                else if (e == BK_E_NOT_FOUND)
                    e = BK_OK;
            }
        }
    } else if (client_id > 0) {
        e = check_unpulled(cfg, store, &s, BK_LINK_CLIENT, client_id, arena,
                           err);
        if (!e)
            e = mirror_client(cfg, store, &s, client_id, arena, NULL, &t, err);
    }
    if (!e)
        e = bk_jobs_finish_alone(store, BK_TX_QUEUE, job, NULL, NULL, NULL,
                                 err);
out:
    pthread_mutex_unlock(&run_lock);
    return e;
}

void bk_notion_mirror_kind(const struct bk_notion_config *cfg,
                           struct bk_job_kind *out)
{
    memset(out, 0, sizeof(*out));
    out->name = MIRROR_KIND;
    out->run = mirror_run;
    out->ctx = (void *)cfg;
}

/* ---- the pull ------------------------------------------------------------ */

struct pull {
    const struct bk_notion_config *cfg;
    struct bk_store *store;
    struct schema s;
    struct bk_sync_summary *sum;
    struct bk_arena *arena;
    const char *cursor; /* the newest last_edited_time seen */
};

static void add_error(struct pull *p, const char *fmt, ...) BK_PRINTF(2, 3);
static void add_error(struct pull *p, const char *fmt, ...)
{
    struct bk_sync_summary *out = p->sum;
    struct bk_sync_error *n;
    va_list ap;

    if (out->n_errors >= MAX_ERRORS)
        return;
    n = bk_arena_alloc(p->arena, (out->n_errors + 1) * sizeof(*n));
    if (out->n_errors)
        memcpy(n, out->errors, out->n_errors * sizeof(*n));
    n[out->n_errors].connection = PROVIDER;
    va_start(ap, fmt);
    n[out->n_errors].message = bk_arena_vprintf(p->arena, fmt, ap);
    va_end(ap);
    bk_log_warn("notion: %s", n[out->n_errors].message);
    out->errors = n;
    out->n_errors++;
}

static enum bk_err comment(struct pull *p, const char *page_id,
                           const char *text, struct bk_errbuf *err)
{
    json_t *body = json_pack("{s:{s:s}, s:o}", "parent", "page_id", page_id,
                             "rich_text", text_items(p->arena, text)),
           *j = NULL;
    enum bk_err e =
        api_ok(p->cfg, "POST", "/comments", body, p->arena, &j, err);

    json_decref(body);
    json_decref(j);
    return e;
}

/* The booking's history gets a note (the loser of a conflict). */
static enum bk_err history_note(struct bk_store *store, int64_t booking_id,
                                const char *action, const char *note,
                                struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    struct bk_booking_change c;
    enum bk_err e = bk_store_begin(store, BK_TX_WRITE, &tx, err);

    memset(&c, 0, sizeof(c));
    c.booking_id = booking_id;
    c.at_utc = bk_now_utc();
    c.action = action;
    c.actor = PROVIDER;
    c.from_status = c.to_status = -1;
    c.note = note;
    if (!e)
        e = bk_store_history_append(tx, &c, err);
    if (!e) {
        e = bk_store_commit(tx, err);
        tx = NULL;
    }
    bk_store_rollback(tx);
    return e;
}

/* Puts the ledger's values back on the booking's page, with a comment. */
static void revert(struct pull *p, int64_t booking_id, const char *page_id,
                   const char *why)
{
    struct tally t = {0, 0};
    struct bk_errbuf e2;

    bk_errbuf_clear(&e2);
    if (mirror_booking(p->cfg, p->store, &p->s, booking_id, false, p->arena,
                       NULL, &t, &e2) ||
        comment(p, page_id, why, &e2))
        add_error(p, "page %s: could not revert it: %s", page_id, e2.msg);
}

static enum bk_err notes_once(struct bk_store *store, int64_t id,
                              const char *notes, struct bk_arena *arena,
                              struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    struct bk_booking b;
    struct bk_booking_change c;
    enum bk_err e = bk_store_begin(store, BK_TX_WRITE, &tx, err);

    if (!e)
        e = bk_store_booking_get(tx, id, arena, &b, err);
    if (!e) {
        b.notes = notes;
        b.updated_utc = bk_now_utc();
        e = bk_store_booking_update(tx, &b, err);
    }
    if (!e) {
        memset(&c, 0, sizeof(c));
        c.booking_id = id;
        c.at_utc = bk_now_utc();
        c.action = "notes_edited";
        c.actor = PROVIDER;
        c.from_status = c.to_status = -1;
        c.note = "notes edited in Notion";
        e = bk_store_history_append(tx, &c, err);
    }
    if (!e) {
        e = bk_store_commit(tx, err);
        tx = NULL;
    }
    bk_store_rollback(tx);
    return e;
}

static bool same_text(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

/* A Sessions row without a bookingd id: a booking, unless it lacks what
 * one needs (the comment says what). A booking made by a run that
 * crashed before linking the row is found (same start and attendee,
 * source notion, no page) instead of made twice. */
static void new_session(struct pull *p, const json_t *page, const char *pid,
                        const char *edited)
{
    struct bk_arena *arena = p->arena;
    const char *email = get_email(page, "Email");
    const char *slug = get_text(arena, page, "Event type");
    const char *name = get_text(arena, page, "Name");
    const char *notes = get_text(arena, page, "Notes");
    struct bk_booking_request req;
    struct bk_booking b;
    struct bk_errbuf e2;
    int64_t start = 0, found = 0;
    enum bk_err e;

    bk_errbuf_clear(&e2);
    if (!email) {
        const char *cp = nid(get_relation(page, "Client"));
        struct bk_tx *tx = NULL;
        struct bk_link l;
        struct bk_client c;
        if (cp && bk_store_begin(p->store, BK_TX_READ, &tx, &e2) == BK_OK &&
            bk_store_link_find(tx, PROVIDER, LINK_KIND, cp, arena, &l, &e2) ==
                BK_OK &&
            l.entity == BK_LINK_CLIENT &&
            bk_store_client_get(tx, l.entity_id, arena, &c, &e2) == BK_OK)
            email = c.email;
        bk_store_rollback(tx);
    }
    if (!email || !slug || get_date(arena, page, "Date", &start)) {
        p->sum->skipped++;
        bk_errbuf_clear(&e2);
        if (comment(p, pid,
                    "bookingd: a session needs an Email (or a Client), an "
                    "Event type (its slug) and a Date to become a booking.",
                    &e2))
            add_error(p, "page %s: %s", pid, e2.msg);
        return;
    }
    {
        struct bk_tx *tx = NULL;
        struct bk_booking_filter f;
        struct bk_booking *list = NULL;
        size_t n = 0;
        memset(&f, 0, sizeof(f));
        f.status = -1;
        f.source = BK_SOURCE_NOTION;
        f.from_utc = start;
        f.to_utc = start + 1;
        f.limit = 50;
        if (bk_store_begin(p->store, BK_TX_READ, &tx, &e2) == BK_OK &&
            bk_store_booking_list(tx, &f, arena, &list, &n, &e2) == BK_OK)
            for (size_t i = 0; i < n && !found; i++) {
                bool linked = false;
                struct bk_link *links = NULL;
                size_t nl = 0;
                if (!list[i].attendee_email ||
                    !bk_str_ieq(list[i].attendee_email, email))
                    continue;
                if (bk_store_link_list(tx, BK_LINK_BOOKING, list[i].id, arena,
                                       &links, &nl, &e2) != BK_OK)
                    break;
                for (size_t k = 0; k < nl; k++)
                    if (strcmp(links[k].provider, PROVIDER) == 0)
                        linked = true;
                if (!linked)
                    found = list[i].id;
            }
        bk_store_rollback(tx);
    }
    if (!found) {
        memset(&req, 0, sizeof(req));
        req.event_type_slug = slug;
        req.start_utc = start;
        req.attendee_name = name;
        req.attendee_email = email;
        req.notes = notes;
        req.source = BK_SOURCE_NOTION;
        req.actor = PROVIDER;
        bk_errbuf_clear(&e2);
        e = bk_ledger_booking_create(p->store, &req, bk_now_utc(), arena, &b,
                                     &e2);
        if (e) {
            struct bk_errbuf e3;
            p->sum->skipped++;
            bk_errbuf_clear(&e3);
            if (comment(p, pid,
                        bk_arena_printf(arena,
                                        "bookingd could not book this "
                                        "session: %s",
                                        e == BK_E_SLOT_UNAVAILABLE
                                            ? "the time is not free"
                                            : e2.msg),
                        &e3))
                add_error(p, "page %s: %s", pid, e3.msg);
            return;
        }
        found = b.id;
        p->sum->created++;
        bk_log_info("notion: row %s became booking %s", pid, b.uid);
    } else {
        p->sum->updated++;
    }
    bk_errbuf_clear(&e2);
    if (link_page(p->store, BK_LINK_BOOKING, found, pid, edited, arena, &e2)) {
        add_error(p, "page %s: %s", pid, e2.msg);
        return;
    }
    {
        /* The row gets its bookingd id and the booking's values. */
        struct tally t = {0, 0};
        bk_errbuf_clear(&e2);
        if (mirror_booking(p->cfg, p->store, &p->s, found, false, arena, NULL,
                           &t, &e2))
            add_error(p, "page %s: %s", pid, e2.msg);
    }
}

/* Whether a Sessions page asks of booking b anything the pull applies:
 * another start (of a booking that can move), status or notes. */
static bool session_page_differs(struct bk_arena *arena, const json_t *page,
                                 const struct bk_booking *b)
{
    const char *st = get_select(page, "Status");
    int64_t start = 0;

    if (get_date(arena, page, "Date", &start) == BK_OK &&
        start != b->start_utc &&
        (b->status == BK_BOOKING_CONFIRMED || b->status == BK_BOOKING_PENDING))
        return true;
    if (st && bk_booking_status_parse(st) != (int)b->status)
        return true;
    return prop_is(page, "Notes", "rich_text") &&
           !same_text(get_text(arena, page, "Notes"), b->notes);
}

static void apply_session(struct pull *p, const json_t *page)
{
    struct bk_arena *arena = p->arena;
    const char *pid = nid(json_string_value(json_object_get(page, "id")));
    const char *edited =
        json_string_value(json_object_get(page, "last_edited_time"));
    const char *key = get_text(arena, page, ID_PROP);
    struct bk_tx *tx = NULL;
    struct bk_link l;
    struct bk_booking b;
    struct bk_errbuf e2;
    int64_t edited_utc = 0, start = 0;
    bool have_link = false, changed = false;
    enum bk_err e;

    bk_errbuf_clear(&e2);
    p->sum->total++;
    if (!pid || !edited || bk_rfc3339_parse(edited, &edited_utc, NULL)) {
        p->sum->skipped++;
        return;
    }
    if ((e = bk_store_begin(p->store, BK_TX_READ, &tx, &e2)))
        goto failed;
    e = bk_store_link_find(tx, PROVIDER, LINK_KIND, pid, arena, &l, &e2);
    if (!e && l.entity == BK_LINK_BOOKING) {
        have_link = true;
        e = bk_store_booking_get(tx, l.entity_id, arena, &b, &e2);
    } else if (e == BK_E_NOT_FOUND && key) {
        e = bk_store_booking_by_uid(tx, key, arena, &b, &e2);
    }
    bk_store_rollback(tx);
    if (e == BK_E_NOT_FOUND && !have_link && !key) {
        new_session(p, page, pid, edited);
        return;
    }
    if (e == BK_E_NOT_FOUND) {
        p->sum->skipped++; /* a row of another bookingd, or erased */
        return;
    }
    if (e)
        goto failed;
    if (have_link && l.etag && strcmp(l.etag, edited) == 0) {
        p->sum->skipped++; /* our own write */
        return;
    }
    /* Last write wins: a booking changed after this edit keeps its state;
     * the lost edit is noted, and the page shows the booking again. A
     * page that asks nothing the booking lacks lost nothing: it is the
     * edit that made the change, read again before its mirror. */
    if (b.updated_utc > edited_utc + 1 &&
        session_page_differs(arena, page, &b)) {
        bk_errbuf_clear(&e2);
        if (history_note(p->store, b.id, "notion_edit_lost",
                         bk_arena_printf(arena,
                                         "an edit made in Notion at %s lost "
                                         "to a later change in bookingd",
                                         edited),
                         &e2))
            add_error(p, "booking %s: %s", b.uid, e2.msg);
        revert(p, b.id, pid,
               "bookingd: this session changed in bookingd after your edit; "
               "the newer change was kept.");
        p->sum->skipped++;
        return;
    }
    /* Date. */
    if (get_date(arena, page, "Date", &start) == BK_OK &&
        start != b.start_utc &&
        (b.status == BK_BOOKING_CONFIRMED || b.status == BK_BOOKING_PENDING)) {
        struct bk_booking nb;
        bk_errbuf_clear(&e2);
        e = bk_ledger_booking_reschedule(p->store, b.uid, start, PROVIDER,
                                         bk_now_utc(), arena, &nb, &e2);
        if (e) {
            revert(p, b.id, pid,
                   bk_arena_printf(arena, "bookingd kept the previous date: %s",
                                   e == BK_E_SLOT_UNAVAILABLE
                                       ? "the new time is not free"
                                       : e2.msg));
            p->sum->skipped++;
            return;
        }
        b = nb;
        changed = true;
    }
    /* Status: cancelled, completed and no_show are the business's, through
     * the API's rules (completed and no_show from the session's start on,
     * from the lifecycle's states); pending and confirmed are payment's.
     * A refused change is put back, with a comment giving the reason. */
    {
        const char *st = get_select(page, "Status");
        int want = st ? bk_booking_status_parse(st) : -1;
        const char *why = NULL;
        struct bk_booking nb;
        if (st && want < 0)
            why = bk_arena_printf(arena,
                                  "bookingd: \"%.100s\" is not a session "
                                  "status (pending, confirmed, cancelled, "
                                  "completed, no_show)",
                                  st);
        else if (want < 0 || want == (int)b.status)
            ;
        else if (want == BK_BOOKING_CANCELLED &&
                 (b.status == BK_BOOKING_CONFIRMED ||
                  b.status == BK_BOOKING_PENDING)) {
            bk_errbuf_clear(&e2);
            if ((e = bk_ledger_booking_cancel(p->store, b.uid,
                                              "cancelled in Notion", PROVIDER,
                                              bk_now_utc(), arena, &nb, &e2)))
                goto failed;
            b = nb;
            changed = true;
        } else if (want == BK_BOOKING_COMPLETED || want == BK_BOOKING_NO_SHOW) {
            /* The functions of POST /api/v1/bookings/{uid}/complete and
             * /no-show. */
            bk_errbuf_clear(&e2);
            e = bk_ledger_booking_mark(
                p->store, b.uid,
                want == BK_BOOKING_COMPLETED ? BK_EV_COMPLETE : BK_EV_NO_SHOW,
                "marked in Notion", PROVIDER, bk_now_utc(), arena, &nb, &e2);
            if (e == BK_E_ILLEGAL_TRANSITION)
                why = bk_arena_printf(arena, "bookingd: %s", e2.msg);
            else if (e)
                goto failed;
            else {
                b = nb;
                changed = true;
            }
        } else if (want == BK_BOOKING_CONFIRMED &&
                   b.status == BK_BOOKING_PENDING) {
            why = "bookingd: a pending session awaits its payment; it "
                  "becomes confirmed when the payment arrives, not here";
        } else if (want == BK_BOOKING_PENDING) {
            why = "bookingd: only a session awaiting payment is pending; "
                  "bookingd sets it, not Notion";
        } else {
            why = bk_arena_printf(
                arena,
                "bookingd: a session cannot go from %s to "
                "%s",
                bk_booking_status_name(b.status),
                bk_booking_status_name((enum bk_booking_status)want));
        }
        if (why) {
            revert(p, b.id, pid, why);
            p->sum->skipped++;
            return;
        }
    }
    /* Notes (of a Notes column of text: another is the business's own). */
    if (prop_is(page, "Notes", "rich_text")) {
        const char *notes = get_text(arena, page, "Notes");
        if (!same_text(notes, b.notes)) {
            bk_errbuf_clear(&e2);
            BK_STORE_RETRY(e, notes_once(p->store, b.id, notes, arena, &e2));
            if (e)
                goto failed;
            changed = true;
            /* No ledger event carries notes: the page is brought back to
             * the booking here so the etag moves past this edit. */
            {
                struct tally t = {0, 0};
                bk_errbuf_clear(&e2);
                if (mirror_booking(p->cfg, p->store, &p->s, b.id, false, arena,
                                   NULL, &t, &e2))
                    add_error(p, "page %s: %s", pid, e2.msg);
            }
        }
    }
    if (changed) {
        p->sum->updated++;
        bk_log_info("notion: booking %s edited in Notion", b.uid);
    } else {
        p->sum->skipped++;
    }
    return;
failed:
    add_error(p, "page %s: %s", pid ? pid : "?", e2.msg);
}

/* A Clients page's editable fields, read and checked as the API checks
 * them (api/clients.c). A field the page does not have is left alone
 * (has_*); an empty one clears the ledger's (name: left alone, as the
 * mirror shows a nameless client's email as the title). */
struct client_edit {
    const char *name, *phone, *notes;
    bool has_phone, has_notes;
    int status; /* -1: left alone */
};

/* NULL, or why the page's values cannot be taken (naming the property). */
static const char *read_client_page(struct bk_arena *arena, const json_t *page,
                                    struct client_edit *ed)
{
    const char *st;
    bool over = false;

    memset(ed, 0, sizeof(*ed));
    ed->name = get_text_max(arena, page, "Name", BK_MAX_NAME, &over);
    if (over)
        return "Name must be at most 200 bytes, without NUL characters";
    if (ed->name && !bk_utf8_valid(ed->name, BK_MAX_NAME, false))
        return "Name must not contain control characters or line breaks";
    ed->has_phone = prop_is(page, "Phone", "phone_number");
    ed->phone = get_phone(page, "Phone");
    if (ed->phone && !*ed->phone)
        ed->phone = NULL;
    if (ed->phone && !bk_phone_valid(ed->phone, BK_MAX_CLIENT_PHONE))
        return "Phone must be a phone number: 3-20 digits, with spaces and "
               "+ - ( ) . / only (a '+' first), at most 40 characters";
    ed->has_notes = prop_is(page, "Notes", "rich_text");
    ed->notes = get_text_max(arena, page, "Notes", BK_MAX_TEXT, &over);
    if (over)
        return "Notes must be at most 5000 bytes, without NUL characters";
    if (ed->notes && !bk_utf8_valid(ed->notes, BK_MAX_TEXT, true))
        return "Notes must not contain control characters";
    st = get_select(page, "Status");
    ed->status = st ? bk_client_status_parse(st) : -1;
    if (st && ed->status < 0)
        return "Status must be prospect, active or inactive";
    return NULL;
}

enum client_outcome { CLIENT_SAME, CLIENT_CHANGED, CLIENT_LOST };

/* Applies ed to client id unless nothing differs, or the client changed
 * in bookingd after the edit (edited_utc): then it is the loser, written
 * to the activity log (NOTION_EDIT_LOST), and the caller reverts the
 * page. */
static enum bk_err client_once(struct bk_store *store, int64_t id,
                               const struct client_edit *ed, const char *edited,
                               int64_t edited_utc, struct bk_arena *arena,
                               enum client_outcome *out, struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    struct bk_client c, was;
    bool changed = false;
    enum bk_err e = bk_store_begin(store, BK_TX_WRITE, &tx, err);

    *out = CLIENT_SAME;
    if (!e)
        e = bk_store_client_get(tx, id, arena, &c, err);
    if (e)
        goto out;
    was = c;
    if (ed->name && !same_text(ed->name, c.name) &&
        !(!c.name && strcmp(ed->name, c.email) == 0)) {
        c.name = ed->name;
        changed = true;
    }
    if (ed->has_phone && !same_text(ed->phone, c.phone)) {
        c.phone = ed->phone;
        changed = true;
    }
    if (ed->has_notes && !same_text(ed->notes, c.notes)) {
        c.notes = ed->notes;
        changed = true;
    }
    if (ed->status >= 0 && ed->status != (int)c.status) {
        c.status = (enum bk_client_status)ed->status;
        changed = true;
    }
    if (!changed)
        goto out;
    if (was.updated_utc > edited_utc + 1) {
        struct bk_activity a;
        json_t *d = json_pack("{s:s, s:s, s:s}", "client", was.public_id,
                              "edited", edited, "note",
                              "an edit made in Notion lost to a later change "
                              "in bookingd");
        char *text = d ? json_dumps(d, JSON_COMPACT) : NULL;
        memset(&a, 0, sizeof(a));
        a.at_utc = bk_now_utc();
        a.kind = "NOTION_EDIT_LOST";
        a.client_id = id;
        a.source = PROVIDER;
        a.detail = text ? bk_arena_strdup(arena, text) : NULL;
        free(text);
        json_decref(d);
        *out = CLIENT_LOST;
        e = bk_store_activity_append(tx, &a, NULL, err);
    } else {
        c.updated_utc = bk_now_utc();
        *out = CLIENT_CHANGED;
        e = bk_ledger_client_update(tx, &c, PROVIDER, c.updated_utc, arena,
                                    err);
    }
    if (!e) {
        e = bk_store_commit(tx, err);
        tx = NULL;
    }
out:
    bk_store_rollback(tx);
    return e;
}

/* Puts the ledger's values back on a client's page, with a comment. */
static void revert_client(struct pull *p, int64_t client_id,
                          const char *page_id, const char *why)
{
    struct tally t = {0, 0};
    struct bk_errbuf e2;

    bk_errbuf_clear(&e2);
    if (mirror_client(p->cfg, p->store, &p->s, client_id, p->arena, NULL, &t,
                      &e2) ||
        comment(p, page_id, why, &e2))
        add_error(p, "page %s: could not revert it: %s", page_id, e2.msg);
}

static void apply_client(struct pull *p, const json_t *page)
{
    struct bk_arena *arena = p->arena;
    const char *pid = nid(json_string_value(json_object_get(page, "id")));
    const char *edited =
        json_string_value(json_object_get(page, "last_edited_time"));
    struct bk_tx *tx = NULL;
    struct bk_link l;
    struct bk_errbuf e2;
    struct client_edit ed;
    const char *why;
    int64_t edited_utc = 0;
    enum client_outcome got = CLIENT_SAME;
    enum bk_err e;

    bk_errbuf_clear(&e2);
    p->sum->total++;
    if (!pid || !edited || bk_rfc3339_parse(edited, &edited_utc, NULL)) {
        p->sum->skipped++;
        return;
    }
    if ((e = bk_store_begin(p->store, BK_TX_READ, &tx, &e2)))
        goto failed;
    e = bk_store_link_find(tx, PROVIDER, LINK_KIND, pid, arena, &l, &e2);
    bk_store_rollback(tx);
    if (e == BK_E_NOT_FOUND || (!e && l.entity != BK_LINK_CLIENT)) {
        p->sum->skipped++; /* clients are made by bookings, not here */
        return;
    }
    if (e)
        goto failed;
    if (l.etag && strcmp(l.etag, edited) == 0) {
        p->sum->skipped++; /* our own write */
        return;
    }
    if ((why = read_client_page(arena, page, &ed)) != NULL) {
        revert_client(p, l.entity_id, pid,
                      bk_arena_printf(arena,
                                      "bookingd kept the client's details: %s.",
                                      why));
        p->sum->skipped++;
        return;
    }
    BK_STORE_RETRY(e, client_once(p->store, l.entity_id, &ed, edited,
                                  edited_utc, arena, &got, &e2));
    if (e)
        goto failed;
    if (got == CLIENT_LOST)
        revert_client(p, l.entity_id, pid,
                      "bookingd: this client changed in bookingd after your "
                      "edit; the newer change was kept.");
    if (got == CLIENT_CHANGED) {
        p->sum->updated++;
        bk_log_info("notion: client page %s edited in Notion", pid);
    } else {
        p->sum->skipped++;
    }
    return;
failed:
    add_error(p, "page %s: %s", pid ? pid : "?", e2.msg);
}

/* Before a mirror job overwrites the page of a booking or a client (ent
 * BK_LINK_BOOKING or BK_LINK_CLIENT, id its ledger id): an edit made there
 * that no pull has read yet (its last_edited_time is not the one of our
 * last write) is decided now, as the pull decides it — applied when it is
 * newer than the row's last change, else recorded as the loser (the
 * booking's history, the activity log for a client) and put back with a
 * comment — instead of being overwritten unseen. */
static enum bk_err check_unpulled(const struct bk_notion_config *cfg,
                                  struct bk_store *store,
                                  const struct schema *s,
                                  enum bk_link_entity ent, int64_t id,
                                  struct bk_arena *arena, struct bk_errbuf *err)
{
    struct bk_link *l = NULL;
    struct bk_sync_summary sum;
    struct pull p;
    json_t *page = NULL;
    const char *edited;
    int status = 0;
    enum bk_err e;

    if ((e = link_of(store, ent, id, arena, &l, err)) || !l || !l->etag ||
        !*l->etag)
        return e;
    if ((e = api(cfg, "GET",
                 bk_arena_printf(arena, "/pages/%s", l->external_id), NULL,
                 arena, &page, &status, err)))
        return e;
    edited = json_string_value(json_object_get(page, "last_edited_time"));
    if (status == 200 && edited && strcmp(edited, l->etag) != 0 &&
        !json_is_true(json_object_get(page, "archived")) &&
        !json_is_true(json_object_get(page, "in_trash"))) {
        memset(&p, 0, sizeof(p));
        memset(&sum, 0, sizeof(sum));
        p.cfg = cfg;
        p.store = store;
        p.s = *s;
        p.sum = &sum;
        p.arena = arena;
        if (ent == BK_LINK_CLIENT)
            apply_client(&p, page);
        else
            apply_session(&p, page);
    }
    json_decref(page);
    return BK_OK;
}

/* The pages of db edited on or after the cursor, oldest first. */
static enum bk_err pull_db(struct pull *p, enum db d, const char *since,
                           struct bk_errbuf *err)
{
    const char *cursor = NULL;
    enum bk_err e;

    for (int n = 0; n < MAX_PAGES; n++) {
        json_t *body = json_pack("{s:[{s:s, s:s}], s:i}", "sorts", "timestamp",
                                 "last_edited_time", "direction", "ascending",
                                 "page_size", 100),
               *j = NULL, *pg;
        size_t i;
        if (since)
            json_object_set_new(
                body, "filter",
                json_pack("{s:s, s:{s:s}}", "timestamp", "last_edited_time",
                          "last_edited_time", "on_or_after", since));
        if (cursor)
            json_object_set_new(body, "start_cursor", json_string(cursor));
        e = api_ok(p->cfg, "POST",
                   bk_arena_printf(p->arena, "/databases/%s/query", p->s.db[d]),
                   body, p->arena, &j, err);
        json_decref(body);
        if (e)
            return e;
        json_array_foreach(json_object_get(j, "results"), i, pg)
        {
            const char *t =
                json_string_value(json_object_get(pg, "last_edited_time"));
            if (json_is_true(json_object_get(pg, "archived")) ||
                json_is_true(json_object_get(pg, "in_trash")))
                continue;
            if (d == DB_SESSIONS)
                apply_session(p, pg);
            else
                apply_client(p, pg);
            if (t && (!p->cursor || strcmp(t, p->cursor) > 0))
                p->cursor = bk_arena_strdup(p->arena, t);
        }
        cursor = json_is_true(json_object_get(j, "has_more")) &&
                         json_string_value(json_object_get(j, "next_cursor"))
                     ? bk_arena_strdup(
                           p->arena,
                           json_string_value(json_object_get(j, "next_cursor")))
                     : NULL;
        json_decref(j);
        if (!cursor)
            break;
    }
    return BK_OK;
}

/* The Metrics page's paragraph: the last 30 days. */
static void update_metrics(struct pull *p)
{
    struct bk_tx *tx = NULL;
    struct bk_metrics m;
    struct bk_errbuf e2;
    int64_t today = bk_floordiv(bk_now_utc(), 86400);
    const char *text, *old = NULL, *money = "";
    int held = 0, no_show = 0;
    json_t *body, *j = NULL;

    bk_errbuf_clear(&e2);
    if (bk_store_begin(p->store, BK_TX_READ, &tx, &e2) ||
        bk_ledger_metrics(tx, NULL, today - 29, today, BK_METRICS_MONTH,
                          p->arena, &m, &e2)) {
        bk_store_rollback(tx);
        add_error(p, "metrics: %s", e2.msg);
        return;
    }
    bk_store_rollback(tx);
    for (size_t i = 0; i < m.total.n_money; i++)
        money = bk_arena_printf(
            p->arena, "%s%s%.2f %s", money, *money ? ", " : "",
            (double)(m.total.money[i].gross - m.total.money[i].refunded) /
                100.0,
            m.total.money[i].currency);
    held = m.total.bookings[BK_BOOKING_COMPLETED] +
           m.total.bookings[BK_BOOKING_NO_SHOW];
    no_show = m.total.bookings[BK_BOOKING_NO_SHOW];
    text = bk_arena_printf(
        p->arena,
        "Last 30 days: revenue %s; sessions %d confirmed, %d completed, %d "
        "cancelled; no-show rate %.1f%%; new clients %d.",
        *money ? money : "none", m.total.bookings[BK_BOOKING_CONFIRMED],
        m.total.bookings[BK_BOOKING_COMPLETED],
        m.total.bookings[BK_BOOKING_CANCELLED],
        held ? 100.0 * no_show / held : 0.0, m.total.new_clients);
    if (bk_store_meta_read(p->store, META_METRICS, p->arena, &old, &e2) ==
            BK_OK &&
        old && strcmp(old, text) == 0)
        return;
    body = json_pack("{s:{s:o}}", "paragraph", "rich_text",
                     text_items(p->arena, text));
    if (api_ok(p->cfg, "PATCH",
               bk_arena_printf(p->arena, "/blocks/%s", p->s.metrics_block),
               body, p->arena, &j, &e2) ||
        bk_store_meta_write(p->store, META_METRICS, text, &e2))
        add_error(p, "metrics: %s", e2.msg);
    json_decref(body);
    json_decref(j);
}

static enum bk_err pull(const struct bk_notion_config *cfg,
                        struct bk_store *store, struct bk_arena *arena,
                        struct bk_sync_summary *sum, struct bk_errbuf *err)
{
    struct pull p;
    const char *since = NULL;
    enum bk_err e;

    memset(&p, 0, sizeof(p));
    p.cfg = cfg;
    p.store = store;
    p.sum = sum;
    p.arena = arena;
    if ((e = ensure_schema(cfg, store, arena, &p.s, err)) ||
        (e = bk_store_meta_read(store, META_CURSOR, arena, &since, err)))
        return e;
    /* Clients first: a session's row may name a client edited with it. */
    if ((e = pull_db(&p, DB_CLIENTS, since, err)) ||
        (e = pull_db(&p, DB_SESSIONS, since, err)))
        return e;
    if (p.cursor && (!since || strcmp(p.cursor, since) > 0) &&
        (e = bk_store_meta_write(store, META_CURSOR, p.cursor, err)))
        return e;
    update_metrics(&p);
    return BK_OK;
}

/* One pull per period of this length (ms). */
static int64_t pull_interval(const struct bk_notion_config *cfg)
{
    return cfg->pull_interval_ms > 0 ? cfg->pull_interval_ms : 60000;
}

static enum bk_err pull_schedule(void *ctx, struct bk_tx *tx, int64_t now_ms,
                                 struct bk_errbuf *err)
{
    const struct bk_notion_config *cfg = ctx;

    if (!cfg || !cfg->token)
        return BK_OK;
    return bk_jobs_enqueue_period(tx, PULL_KIND, pull_interval(cfg),
                                  cfg->max_attempts, now_ms, true, -1, err);
}

static enum bk_err pull_run(void *ctx, struct bk_store *store,
                            const struct bk_job *job, struct bk_arena *arena,
                            struct bk_errbuf *err)
{
    const struct bk_notion_config *cfg = ctx;
    struct bk_sync_summary sum;
    /* A run asked for by a webhook ("notion.pull:hook:...") has no
     * period and schedules nothing. */
    int64_t period = bk_jobs_period_of(job, PULL_KIND);
    enum bk_err e;

    memset(&sum, 0, sizeof(sum));
    if (!cfg || !cfg->token)
        return bk_jobs_finish_alone(store, BK_TX_QUEUE, job, NULL, NULL, NULL,
                                    err); /* unconfigured since */
    pthread_mutex_lock(&run_lock);
    e = pull(cfg, store, arena, &sum, err);
    pthread_mutex_unlock(&run_lock);
    if (e)
        return e;
    if (sum.updated || sum.created || sum.n_errors)
        bk_log_info("notion: pull: %" PRId64 " pages, %" PRId64
                    " created, %" PRId64 " updated, %zu errors",
                    sum.total, sum.created, sum.updated, sum.n_errors);
    return bk_jobs_finish_period(store, job, period >= 0, pull_interval(cfg),
                                 cfg->max_attempts, period, err);
}

void bk_notion_pull_kind(const struct bk_notion_config *cfg,
                         struct bk_job_kind *out)
{
    memset(out, 0, sizeof(*out));
    out->name = PULL_KIND;
    out->run = pull_run;
    out->schedule = pull_schedule;
    out->ctx = (void *)cfg;
}

/* ---- POST /api/v1/sync {"provider": "notion"} ---------------------------- */

/* Every client, booking, invoice and package without a page gets one. */
static enum bk_err catch_up(struct pull *p, struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    struct tally t = {0, 0};
    struct bk_errbuf e2;
    enum bk_err e;

    /* Bookings by pages of (start, id). */
    {
        struct bk_booking_filter f;
        memset(&f, 0, sizeof(f));
        f.status = -1;
        f.source = -1;
        f.limit = 500;
        for (int guard = 0; guard < 1000; guard++) {
            struct bk_booking *list = NULL;
            size_t n = 0;
            if ((e = bk_store_begin(p->store, BK_TX_READ, &tx, err)))
                return e;
            e = bk_store_booking_list(tx, &f, p->arena, &list, &n, err);
            bk_store_rollback(tx);
            if (e)
                return e;
            for (size_t i = 0; i < n; i++) {
                struct bk_link *l = NULL;
                p->sum->total++;
                bk_errbuf_clear(&e2);
                if ((e = link_of(p->store, BK_LINK_BOOKING, list[i].id,
                                 p->arena, &l, err)))
                    return e;
                if (l) {
                    p->sum->skipped++;
                    continue;
                }
                t.created = t.updated = 0;
                if (mirror_booking(p->cfg, p->store, &p->s, list[i].id, false,
                                   p->arena, NULL, &t, &e2))
                    add_error(p, "booking %s: %s", list[i].uid, e2.msg);
                else if (t.created)
                    p->sum->created++;
                else
                    p->sum->updated++;
            }
            if (n < (size_t)f.limit)
                break;
            f.has_after = true;
            f.after_start_utc = list[n - 1].start_utc;
            f.after_id = list[n - 1].id;
        }
    }
    /* Invoices, newest first. */
    {
        struct bk_invoice_filter f;
        memset(&f, 0, sizeof(f));
        f.status = -1;
        f.limit = 200;
        for (int guard = 0; guard < 1000; guard++) {
            struct bk_invoice *list = NULL;
            size_t n = 0;
            if ((e = bk_store_begin(p->store, BK_TX_READ, &tx, err)))
                return e;
            e = bk_store_invoice_list(tx, &f, p->arena, &list, &n, err);
            bk_store_rollback(tx);
            if (e)
                return e;
            for (size_t i = 0; i < n; i++) {
                const char *page = NULL;
                p->sum->total++;
                if ((e = bk_store_meta_read(
                         p->store,
                         bk_arena_printf(p->arena, "notion.page.invoice.%s",
                                         list[i].number),
                         p->arena, &page, err)))
                    return e;
                if (page) {
                    p->sum->skipped++;
                    continue;
                }
                t.created = t.updated = 0;
                bk_errbuf_clear(&e2);
                if (mirror_invoice(p->cfg, p->store, &p->s, &list[i], p->arena,
                                   &t, &e2))
                    add_error(p, "invoice %s: %s", list[i].number, e2.msg);
                else
                    p->sum->created++;
            }
            if (n < (size_t)f.limit)
                break;
            f.before_id = list[n - 1].id;
        }
    }
    /* Packages (no ledger event tells of them: synced here). */
    {
        int64_t after = 0;
        for (int guard = 0; guard < 1000; guard++) {
            struct bk_package *list = NULL;
            size_t n = 0;
            if ((e = bk_store_begin(p->store, BK_TX_READ, &tx, err)))
                return e;
            e = bk_store_package_list(tx, false, NULL, after, 200, p->arena,
                                      &list, &n, err);
            bk_store_rollback(tx);
            if (e)
                return e;
            for (size_t i = 0; i < n; i++) {
                p->sum->total++;
                t.created = t.updated = 0;
                bk_errbuf_clear(&e2);
                if (mirror_package(p->cfg, p->store, &p->s, &list[i], p->arena,
                                   &t, &e2))
                    add_error(p, "package %s: %s", list[i].slug, e2.msg);
                else if (t.created)
                    p->sum->created++;
                else
                    p->sum->skipped++;
            }
            if (n < 200)
                break;
            after = list[n - 1].id;
        }
    }
    return BK_OK;
}

enum bk_err bk_notion_sync_run(void *ctx, struct bk_arena *arena,
                               struct bk_sync_summary *out,
                               struct bk_errbuf *err)
{
    const struct bk_notion_config *cfg = ctx;
    struct pull p;
    struct bk_errbuf e2;
    enum bk_err e;

    memset(out, 0, sizeof(*out));
    if (!cfg || !cfg->token)
        return bk_fail(err, BK_E_UNAVAILABLE, "NOTION_TOKEN is not set");
    memset(&p, 0, sizeof(p));
    p.cfg = cfg;
    p.store = cfg->store;
    p.sum = out;
    p.arena = arena;
    bk_errbuf_clear(&e2);
    pthread_mutex_lock(&run_lock);
    e = ensure_schema(cfg, cfg->store, arena, &p.s, &e2);
    if (!e)
        e = catch_up(&p, &e2);
    pthread_mutex_unlock(&run_lock);
    if (e) {
        add_error(&p, "%s", e2.msg);
        return BK_OK;
    }
    {
        struct bk_sync_summary ps;
        memset(&ps, 0, sizeof(ps));
        bk_errbuf_clear(&e2);
        pthread_mutex_lock(&run_lock);
        e = pull(cfg, cfg->store, arena, &ps, &e2);
        pthread_mutex_unlock(&run_lock);
        out->total += ps.total;
        out->created += ps.created;
        out->updated += ps.updated;
        out->skipped += ps.skipped;
        for (size_t i = 0; i < ps.n_errors; i++)
            add_error(&p, "%s", ps.errors[i].message);
        if (e)
            add_error(&p, "%s", e2.msg);
    }
    return BK_OK;
}
