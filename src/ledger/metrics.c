/* ledger/metrics.c — business metrics from the ledger (metrics.h). */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ledger/metrics.h"
#include "base/str.h"
#include "base/time.h"
#include "base/banned.h"

/* The first day of the bucket after day. */
static int64_t next_start(int64_t day, enum bk_metrics_interval iv)
{
    int y, m, d;

    if (iv == BK_METRICS_WEEK) {
        /* 1970-01-01 was a Thursday: Monday is day % 7 == 4. */
        int64_t wd = ((day - 4) % 7 + 7) % 7;
        return day - wd + 7;
    }
    bk_civil_from_days(day, &y, &m, &d);
    return m == 12 ? bk_days_from_civil(y + 1, 1, 1)
                   : bk_days_from_civil(y, m + 1, 1);
}

static struct bk_money_total *money_of(struct bk_metrics_totals *t,
                                       const char *currency)
{
    for (size_t i = 0; i < t->n_money; i++)
        if (strcmp(t->money[i].currency, currency) == 0)
            return &t->money[i];
    if (t->n_money == BK_METRICS_MAX_CURRENCIES)
        return NULL;
    memset(&t->money[t->n_money], 0, sizeof(t->money[0]));
    bk_strlcpy(t->money[t->n_money].currency, currency, 4);
    return &t->money[t->n_money++];
}

/* The instant the local date day of tz begins (its midnight, or the
 * first instant after it when midnight falls in a daylight saving gap). */
static int64_t day_start(const struct bk_tz *tz, int64_t day)
{
    return bk_tz_local_to_utc(tz, day * BK_SECS_PER_DAY);
}

/* The bucket holding utc (by its local date in tz), or NULL. */
static struct bk_metrics_bucket *bucket_of(struct bk_metrics *m,
                                           const struct bk_tz *tz, int64_t utc)
{
    int64_t day = bk_tz_local_date(tz, utc);
    size_t lo = 0, hi = m->n_buckets;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (day < m->buckets[mid].from_day)
            hi = mid;
        else if (day >= m->buckets[mid].to_day)
            lo = mid + 1;
        else
            return &m->buckets[mid];
    }
    return NULL;
}

static void add_money(struct bk_metrics_totals *t, const char *cur,
                      int64_t amount, bool refund)
{
    struct bk_money_total *mt = money_of(t, cur);

    if (!mt)
        return;
    if (refund)
        mt->refunded += amount;
    else
        mt->gross += amount;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Distinct clients among n ids (sorted in place). */
static int distinct(int64_t *ids, size_t n)
{
    int k = 0;

    qsort(ids, n, sizeof(*ids), cmp_i64);
    for (size_t i = 0; i < n; i++)
        if (i == 0 || ids[i] != ids[i - 1])
            k++;
    return k;
}

static bool active_status(int s)
{
    return s == BK_BOOKING_CONFIRMED || s == BK_BOOKING_COMPLETED ||
           s == BK_BOOKING_NO_SHOW;
}

enum bk_err bk_ledger_metrics(struct bk_tx *tx, const struct bk_tz *tz,
                              int64_t from_day, int64_t to_day,
                              enum bk_metrics_interval interval,
                              struct bk_arena *arena, struct bk_metrics *out,
                              struct bk_errbuf *err)
{
    struct bk_metric_booking *bk = NULL;
    struct bk_metric_money *money = NULL;
    int64_t *created = NULL, *ids, from_utc, to_utc;
    size_t nb = 0, nm = 0, nc = 0, n;
    enum bk_err e;

    memset(out, 0, sizeof(*out));
    if (!tz)
        tz = bk_tz_utc();
    from_utc = day_start(tz, from_day);
    to_utc = day_start(tz, to_day + 1);
    if (to_day < from_day)
        return bk_fail_field(err, BK_E_INVALID, "from", "is after to");
    n = 0;
    for (int64_t d = from_day; d <= to_day; d = next_start(d, interval))
        if (++n > BK_METRICS_MAX_BUCKETS)
            return bk_fail_field(err, BK_E_INVALID, "from",
                                 "the range needs more than %d intervals",
                                 BK_METRICS_MAX_BUCKETS);
    out->buckets = bk_arena_array(arena, n, sizeof(*out->buckets));
    for (int64_t d = from_day; d <= to_day; d = next_start(d, interval)) {
        struct bk_metrics_bucket *b = &out->buckets[out->n_buckets++];
        b->from_day = d;
        b->to_day = next_start(d, interval);
        if (b->to_day > to_day + 1)
            b->to_day = to_day + 1;
    }
    if ((e = bk_store_metrics_bookings(tx, from_utc, to_utc, arena, &bk, &nb,
                                       err)) ||
        (e = bk_store_metrics_clients(tx, from_utc, to_utc, arena, &created,
                                      &nc, err)) ||
        (e = bk_store_metrics_money(tx, from_utc, to_utc, arena, &money, &nm,
                                    err)))
        return e;

    ids = bk_arena_array(arena, nb + 1, sizeof(*ids));
    n = 0;
    for (size_t i = 0; i < nb; i++) {
        struct bk_metrics_bucket *b = bucket_of(out, tz, bk[i].start_utc);
        if (bk[i].status < 0 || bk[i].status >= BK_BOOKING_STATUS_COUNT)
            continue;
        out->total.bookings[bk[i].status]++;
        if (b)
            b->t.bookings[bk[i].status]++;
        if (active_status(bk[i].status))
            ids[n++] = bk[i].client_id;
    }
    out->total.active_clients = distinct(ids, n);
    /* Per bucket: the bookings are sorted by start, so each bucket's
     * are contiguous. */
    for (size_t bi = 0, i = 0; bi < out->n_buckets; bi++) {
        struct bk_metrics_bucket *b = &out->buckets[bi];
        size_t k = 0;
        int64_t end = day_start(tz, b->to_day);
        for (; i < nb && bk[i].start_utc < end; i++)
            if (active_status(bk[i].status))
                ids[k++] = bk[i].client_id;
        b->t.active_clients = distinct(ids, k);
    }
    for (size_t i = 0; i < nc; i++) {
        struct bk_metrics_bucket *b = bucket_of(out, tz, created[i]);
        out->total.new_clients++;
        if (b)
            b->t.new_clients++;
    }
    for (size_t i = 0; i < nm; i++) {
        json_t *d =
            money[i].detail ? json_loads(money[i].detail, 0, NULL) : NULL;
        const char *cur = json_string_value(json_object_get(d, "currency"));
        json_t *amount = json_object_get(d, "amount");
        if (money[i].credits_sold || money[i].credit_used) {
            struct bk_metrics_bucket *b = bucket_of(out, tz, money[i].at_utc);
            json_int_t k =
                money[i].credit_used
                    ? 1
                    : json_integer_value(json_object_get(d, "sessions"));
            out->total.credits_sold += money[i].credits_sold ? (int)k : 0;
            out->total.credits_used += money[i].credit_used ? 1 : 0;
            if (b) {
                b->t.credits_sold += money[i].credits_sold ? (int)k : 0;
                b->t.credits_used += money[i].credit_used ? 1 : 0;
            }
        } else if (cur && strlen(cur) == 3 && json_is_integer(amount) &&
                   json_integer_value(amount) >= 0) {
            struct bk_metrics_bucket *b = bucket_of(out, tz, money[i].at_utc);
            char c[4];
            for (int k = 0; k < 3; k++)
                c[k] = (char)(cur[k] >= 'a' && cur[k] <= 'z' ? cur[k] - 32
                                                             : cur[k]);
            c[3] = '\0';
            add_money(&out->total, c, json_integer_value(amount),
                      money[i].refund);
            if (b)
                add_money(&b->t, c, json_integer_value(amount),
                          money[i].refund);
        }
        json_decref(d);
    }
    return BK_OK;
}
