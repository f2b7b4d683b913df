/* api/metrics.c — GET /api/v1/metrics/summary: the business metrics of
 * ledger/metrics.h as JSON (docs/payments.md "Metrics"). The Prometheus
 * text of GET /metrics is ops.c. */
#include <string.h>

#include "api/internal.h"
#include "api/json.h"
#include "base/str.h"
#include "base/time.h"
#include "ledger/metrics.h"
#include "base/banned.h"

/* The longest range asked at once, days. */
#define MAX_DAYS 3660

static json_t *money(const struct bk_metrics_totals *t)
{
    json_t *a = json_array();

    for (size_t i = 0; i < t->n_money; i++)
        json_array_append_new(
            a,
            json_pack("{s:s, s:I, s:I, s:I}", "currency", t->money[i].currency,
                      "gross", (json_int_t)t->money[i].gross, "refunded",
                      (json_int_t)t->money[i].refunded, "net",
                      (json_int_t)(t->money[i].gross - t->money[i].refunded)));
    return a;
}

static json_t *totals(const struct bk_metrics_totals *t)
{
    json_t *by = json_object();
    int done = t->bookings[BK_BOOKING_COMPLETED],
        missed = t->bookings[BK_BOOKING_NO_SHOW];

    for (int s = 0; s < BK_BOOKING_STATUS_COUNT; s++)
        json_object_set_new(by,
                            bk_booking_status_name((enum bk_booking_status)s),
                            json_integer(t->bookings[s]));
    return json_pack(
        "{s:o, s:o, s:o, s:{s:i, s:i}, s:{s:i, s:i}}", "revenue", money(t),
        "bookings", by, "no_show_rate",
        done + missed ? json_real((double)missed / (double)(done + missed))
                      : json_null(),
        "clients", "new", t->new_clients, "active", t->active_clients,
        "package_credits", "sold", t->credits_sold, "used", t->credits_used);
}

static const char *day_text(struct bk_arena *a, int64_t day)
{
    char buf[11];
    bk_date_format(day, buf);
    return bk_arena_strdup(a, buf);
}

static enum bk_err query_day(const struct bk_http_request *req,
                             const char *name, int64_t def, int64_t *out,
                             struct bk_errbuf *err)
{
    const char *s = bk_http_query(req, name);

    *out = def;
    if (s && bk_date_parse(s, out) != BK_OK)
        return bk_api_query_fail(err, name, "%s must be a date YYYY-MM-DD",
                                 name);
    return BK_OK;
}

static enum bk_err summary(struct bk_api_call *c)
{
    struct bk_metrics m;
    const char *iv = bk_http_query(c->req, "interval");
    enum bk_metrics_interval interval = BK_METRICS_MONTH;
    const struct bk_tz *tz = NULL;
    int64_t today, from, to;
    json_t *o, *series;
    enum bk_err e;

    if ((e = bk_api_query_tz(c->req, "timezone", &tz, c->err)))
        return e;
    if (!tz)
        tz = bk_tz_utc();
    today = bk_tz_local_date(tz, bk_now_utc());

    if (iv && strcmp(iv, "week") == 0)
        interval = BK_METRICS_WEEK;
    else if (iv && strcmp(iv, "month") != 0)
        return bk_api_query_fail(c->err, "interval",
                                 "interval must be week or month");
    if ((e = query_day(c->req, "to", today, &to, c->err)) ||
        (e = query_day(c->req, "from", to - 29, &from, c->err)))
        return e;
    if (from > to)
        return bk_api_query_fail(c->err, "from", "from must not be after to");
    if (to - from >= MAX_DAYS)
        return bk_api_query_fail(c->err, "from", "the range is %d days at most",
                                 MAX_DAYS);
    e = bk_ledger_metrics(c->tx, tz, from, to, interval, c->arena, &m, c->err);
    if (e)
        return e;
    series = json_array();
    for (size_t i = 0; i < m.n_buckets; i++) {
        json_t *b = totals(&m.buckets[i].t);
        json_object_set_new(
            b, "from", json_string(day_text(c->arena, m.buckets[i].from_day)));
        json_object_set_new(
            b, "to", json_string(day_text(c->arena, m.buckets[i].to_day - 1)));
        json_array_append_new(series, b);
    }
    o = totals(&m.total);
    json_object_set_new(o, "from", json_string(day_text(c->arena, from)));
    json_object_set_new(o, "to", json_string(day_text(c->arena, to)));
    json_object_set_new(o, "timezone", json_string(bk_tz_name(tz)));
    json_object_set_new(
        o, "interval",
        json_string(interval == BK_METRICS_WEEK ? "week" : "month"));
    json_object_set_new(o, "series", series);
    bk_api_reply(c, 200, o);
    return BK_OK;
}

const struct bk_api_route bk_api_metrics_routes[] = {
    {"GET", "/api/v1/metrics/summary", summary, BK_ROUTE_ADMIN, BK_ROUTE_READ},
};
const size_t bk_api_metrics_n =
    sizeof(bk_api_metrics_routes) / sizeof(bk_api_metrics_routes[0]);
