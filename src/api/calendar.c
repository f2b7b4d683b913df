/* api/calendar.c — a host's bookings as a calendar subscription feed,
 * GET /calendar/{host}.ics?token=, for calendar apps that can only
 * subscribe to a URL; and GET /api/v1/hosts/{slug}/calendar-feed, which
 * gives the admin that URL. The token is a capability: unpadded base64url
 * of HMAC-SHA256(manage_secret, "calendar:" + slug). The iCalendar text is
 * core/ics_export.c's. */
#include <string.h>

#include "api/internal.h"
#include "api/json.h"
#include "base/buf.h"
#include "base/str.h"
#include "base/time.h"
#include "core/booking.h"
#include "core/ics_export.h"
#include "ledger/ledger.h"
#include "crypto/crypto.h"
#include "base/banned.h"

#define FEED_PAST_S    (90 * 86400) /* bookings that started this long ago */
#define FEED_MAX       5000         /* events in one feed */
#define FEED_MAX_BYTES (16 * 1024 * 1024)
#define PAGE           500

static void feed_token(const struct bk_api *api, const char *slug, char out[48])
{
    bk_keyed_token(api->manage_secret, BK_TOKEN_CALENDAR_FEED, slug, out);
}

/* The {file} capture "SLUG.ics" as a slug in the arena, or NULL. */
static const char *feed_slug(struct bk_http_request *req)
{
    const char *file = bk_http_param(req, "file");
    size_t n = file ? strlen(file) : 0;
    char *slug;

    if (n <= 4 || n > 68 || strcmp(file + n - 4, ".ics") != 0)
        return NULL;
    slug = bk_arena_strndup(req->arena, file, n - 4);
    return bk_slug_valid(slug, 64) ? slug : NULL;
}

static enum bk_err feed(struct bk_api_call *c)
{
    struct bk_host h;
    struct bk_booking_filter f;
    struct bk_buf out;
    const char *slug = feed_slug(c->req);
    const char *token = bk_http_query(c->req, "token");
    char want[48];
    size_t total = 0;
    enum bk_err e;

    bk_buf_init(&out, FEED_MAX_BYTES);
    /* A wrong token and an unknown host look the same. */
    if (slug)
        feed_token(c->api, slug, want);
    if (!slug || !token || strlen(token) != strlen(want) ||
        !bk_ct_equal(token, want, strlen(want))) {
        e = bk_fail(c->err, BK_E_NOT_FOUND, "no such calendar");
        goto out;
    }
    e = bk_store_host_by_slug(c->tx, slug, c->arena, &h, c->err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(c->err, BK_E_NOT_FOUND, "no such calendar");
    if (e || (e = bk_ics_export_begin(&out, h.name)))
        goto out;
    memset(&f, 0, sizeof(f));
    f.status = -1;
    f.source = -1;
    f.host_id = h.id;
    f.from_utc = bk_now_utc() - FEED_PAST_S;
    f.limit = PAGE;
    while (total < FEED_MAX) {
        struct bk_booking *rows = NULL;
        size_t n = 0;
        if ((e = bk_store_booking_list(c->tx, &f, c->arena, &rows, &n, c->err)))
            goto out;
        /* The page's SEQUENCEs in one query, not one per event. */
        int64_t *ids = bk_arena_alloc(c->arena, (n ? n : 1) * sizeof(*ids));
        int *seqs = bk_arena_alloc(c->arena, (n ? n : 1) * sizeof(*seqs));
        size_t m = 0;
        for (size_t i = 0; i < n && total + m < FEED_MAX; i++)
            if (rows[i].status != BK_BOOKING_CANCELLED)
                ids[m++] = rows[i].id;
        e = bk_ledger_invite_sequences(c->tx, ids, m, seqs, c->err);
        for (size_t i = 0, k = 0; i < n && k < m && !e; i++) {
            if (rows[i].status == BK_BOOKING_CANCELLED)
                continue;
            e = bk_ics_export_booking(&out, &rows[i], h.email, seqs[k++]);
        }
        total += m;
        if (e || n < PAGE)
            break;
        f.has_after = true;
        f.after_start_utc = rows[n - 1].start_utc;
        f.after_id = rows[n - 1].id;
    }
    if (!e)
        e = bk_ics_export_end(&out);
    if (e)
        goto out;
    bk_api_reply_raw(c, 200, "text/calendar; charset=utf-8",
                     bk_arena_memdup(c->arena, out.data, out.len), out.len);
    bk_http_add_header(c->resp, "Cache-Control", "private, max-age=300");
out:
    bk_buf_release(&out);
    return e;
}

static enum bk_err feed_url(struct bk_api_call *c)
{
    struct bk_host h;
    const char *slug = bk_http_param(c->req, "slug");
    char token[48];
    json_t *v;
    enum bk_err e;

    e = bk_store_host_by_slug(c->tx, slug, c->arena, &h, c->err);
    if (e == BK_E_NOT_FOUND)
        e = bk_fail(c->err, BK_E_NOT_FOUND, "no host with slug '%s'", slug);
    if (e)
        return e;
    feed_token(c->api, h.slug, token);
    v = json_object();
    json_object_set_new(v, "host", json_string(h.slug));
    json_object_set_new(
        v, "url",
        json_string(bk_arena_printf(c->arena, "%s/calendar/%s.ics?token=%s",
                                    c->api->base_url, h.slug, token)));
    bk_api_reply(c, 200, v);
    return BK_OK;
}

const struct bk_api_route bk_api_calendar_routes[] = {
    {"GET", "/calendar/{file}", feed, BK_ROUTE_PUBLIC, BK_ROUTE_READ},
    {"GET", "/api/v1/hosts/{slug}/calendar-feed", feed_url, BK_ROUTE_ADMIN,
     BK_ROUTE_READ},
};
const size_t bk_api_calendar_n =
    sizeof(bk_api_calendar_routes) / sizeof(bk_api_calendar_routes[0]);
