/* ledger/metrics.h — business metrics over a range of UTC dates (issue 9
 * §5, docs/payments.md "Metrics"), by the dates of a time zone: revenue per
 * currency net of refunds, bookings by status, the no-show rate, new and active
 * clients, and the same per week or month. Computed from the ledger's rows
 * (bookings, clients) and its activity log (PAYMENT_COMPLETED, REFUND_ISSUED),
 * in one read transaction. */
#ifndef BK_LEDGER_METRICS_H
#define BK_LEDGER_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/err.h"
#include "core/booking.h"
#include "core/tz.h"
#include "store/store.h"

#define BK_METRICS_MAX_CURRENCIES 16
#define BK_METRICS_MAX_BUCKETS    600

enum bk_metrics_interval { BK_METRICS_WEEK = 0, BK_METRICS_MONTH = 1 };

struct bk_money_total {
    char currency[4]; /* ISO 4217, upper case */
    int64_t gross;    /* paid, minor units */
    int64_t refunded; /* given back, minor units */
};

struct bk_metrics_totals {
    struct bk_money_total money[BK_METRICS_MAX_CURRENCIES];
    size_t n_money;
    int bookings[BK_BOOKING_STATUS_COUNT]; /* by status, starting in range */
    int new_clients;                       /* created in range */
    int active_clients; /* distinct clients of bookings starting in range
                           that were confirmed, completed or no-shows */
    int credits_sold;   /* package credits paid in range (PACKAGE_PURCHASED) */
    int credits_used;   /* package credits taken in range (CREDIT_USED) */
};

struct bk_metrics_bucket {
    int64_t from_day, to_day; /* days since the epoch, [from, to) */
    struct bk_metrics_totals t;
};

struct bk_metrics {
    struct bk_metrics_totals total;
    struct bk_metrics_bucket *buckets; /* in arena */
    size_t n_buckets;
};

/* The metrics of the dates from_day..to_day of zone tz (inclusive, days
 * since the epoch of that zone's calendar; tz NULL: UTC) with buckets per
 * interval (weeks start on Monday; the first and last bucket are cut to
 * the range). A day runs from the zone's midnight to the next (23 or 25
 * hours on a daylight saving change); what happened at an instant counts
 * on that instant's local date. BK_E_INVALID (field "from") when the
 * range is empty or needs more than BK_METRICS_MAX_BUCKETS buckets;
 * BK_E_TOO_LARGE when it holds too many rows. Money rows whose detail has
 * no amount and currency are left out. */
BK_MUST_CHECK enum bk_err
bk_ledger_metrics(struct bk_tx *tx, const struct bk_tz *tz, int64_t from_day,
                  int64_t to_day, enum bk_metrics_interval interval,
                  struct bk_arena *arena, struct bk_metrics *out,
                  struct bk_errbuf *err);

#endif
