/* api/http_metrics.c — the HTTP side of GET /metrics: requests by route,
 * method and status with latency histograms, counted by the server's
 * observer in fixed tables of atomics (no lock, no allocation per
 * request; a label value is a route pattern or a status from fixed lists,
 * never the raw path, so a scan of random paths adds no series), the
 * server's connection counters and the store's errors by class. The
 * queue's gauges are ops.c's. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "api/internal.h"
#include "base/mem.h"
#include "base/banned.h"

/* Statuses that get their own label value; anything else is "other". */
static const int statuses[] = {200, 201, 202, 204, 301, 302, 303, 304,
                               307, 308, 400, 401, 403, 404, 405, 406,
                               409, 410, 411, 413, 414, 415, 416, 422,
                               429, 431, 500, 501, 502, 503, 504, 505};
#define N_STATUS (sizeof(statuses) / sizeof(statuses[0]))

/* Methods of requests that matched no route (the route's own method
 * labels the others). */
static const char *const methods[] = {"GET",   "HEAD",   "POST",    "PUT",
                                      "PATCH", "DELETE", "OPTIONS", "other"};
#define N_METHODS (sizeof(methods) / sizeof(methods[0]))

/* Upper bounds of the latency buckets, µs (Prometheus: seconds). */
static const int64_t bounds_us[] = {500,     1000,    2500,    5000,    10000,
                                    25000,   50000,   100000,  250000,  500000,
                                    1000000, 2500000, 5000000, 10000000};
#define N_BOUNDS (sizeof(bounds_us) / sizeof(bounds_us[0]))

struct series {
    _Atomic uint64_t by_status[N_STATUS + 1]; /* the last: "other" */
    _Atomic uint64_t buckets[N_BOUNDS + 1];   /* not cumulative; last: +Inf */
    _Atomic uint64_t sum_us;
};

/* One series of route and method: every route of the tables (n_routes),
 * then the unmatched requests by method; allocated once, at the first
 * use, for the routes the tables have. */
static struct series *table;
static size_t n_routes;
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_alloc(void)
{
    n_routes = bk_api_route_count();
    table = bk_xcalloc(n_routes + N_METHODS, sizeof(*table));
}

static _Atomic uint64_t rate_limited[BK_RATE_CLASSES];

void bk_api_count_rate_limited(enum bk_rate_class cls)
{
    if ((unsigned)cls < BK_RATE_CLASSES)
        atomic_fetch_add_explicit(&rate_limited[cls], 1, memory_order_relaxed);
}

/* status -> index in statuses + 1 (0: other); filled once. */
static unsigned char status_index[600];
static atomic_bool status_index_ready;

static size_t status_slot(int status)
{
    if (!atomic_load_explicit(&status_index_ready, memory_order_acquire)) {
        /* Idempotent: racing threads write the same bytes. */
        for (size_t i = 0; i < N_STATUS; i++)
            status_index[statuses[i]] = (unsigned char)(i + 1);
        atomic_store_explicit(&status_index_ready, true, memory_order_release);
    }
    if (status < 0 || status >= (int)sizeof(status_index) ||
        !status_index[status])
        return N_STATUS;
    return (size_t)status_index[status] - 1;
}

static size_t method_slot(const char *m)
{
    for (size_t i = 0; i + 1 < N_METHODS; i++)
        if (m && strcmp(m, methods[i]) == 0)
            return i;
    return N_METHODS - 1;
}

void bk_api_observe(void *ctx, const struct bk_http_request *req, int status,
                    int64_t duration_us)
{
    struct series *s;
    size_t b = 0;

    (void)ctx;
    pthread_once(&table_once, table_alloc);
    if (req->route_slot && req->route_slot <= n_routes)
        s = &table[req->route_slot - 1];
    else
        s = &table[n_routes + method_slot(req->method)];
    if (duration_us < 0)
        duration_us = 0;
    while (b < N_BOUNDS && duration_us > bounds_us[b])
        b++;
    atomic_fetch_add_explicit(&s->by_status[status_slot(status)], 1,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&s->buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->sum_us, (uint64_t)duration_us,
                              memory_order_relaxed);
}

/* The labels of series i: route and method. */
static void labels_of(size_t i, const char **route, const char **method)
{
    const struct bk_api_route *r = i < n_routes ? bk_api_route_at(i) : NULL;

    if (r) {
        *route = r->pattern;
        *method = r->method;
    } else {
        *route = "unmatched";
        *method = methods[i - n_routes];
    }
}

static enum bk_err render_requests(struct bk_buf *b)
{
    enum bk_err e;

    pthread_once(&table_once, table_alloc);
    e = bk_buf_appendf(
        b, "# HELP bookingd_http_requests_total HTTP responses sent, by "
           "route (the matched pattern; \"unmatched\" when none), method "
           "and status.\n"
           "# TYPE bookingd_http_requests_total counter\n");
    for (size_t i = 0; !e && i < n_routes + N_METHODS; i++) {
        const char *route, *method;
        labels_of(i, &route, &method);
        for (size_t k = 0; !e && k <= N_STATUS; k++) {
            uint64_t v = atomic_load_explicit(&table[i].by_status[k],
                                              memory_order_relaxed);
            char code[8];
            if (!v)
                continue;
            if (k < N_STATUS)
                snprintf(code, sizeof(code), "%d", statuses[k]);
            else
                memcpy(code, "other", 6);
            e = bk_buf_appendf(b,
                               "bookingd_http_requests_total{route=\"%s\","
                               "method=\"%s\",status=\"%s\"} %llu\n",
                               route, method, code, (unsigned long long)v);
        }
    }
    if (!e)
        e = bk_buf_appendf(
            b, "# HELP bookingd_http_request_duration_seconds Time from a "
               "request's first byte to its response, by route and method.\n"
               "# TYPE bookingd_http_request_duration_seconds histogram\n");
    for (size_t i = 0; !e && i < n_routes + N_METHODS; i++) {
        const char *route, *method;
        uint64_t counts[N_BOUNDS + 1], total = 0, sum;
        for (size_t k = 0; k <= N_BOUNDS; k++) {
            counts[k] = atomic_load_explicit(&table[i].buckets[k],
                                             memory_order_relaxed);
            total += counts[k];
        }
        if (!total)
            continue;
        sum = atomic_load_explicit(&table[i].sum_us, memory_order_relaxed);
        labels_of(i, &route, &method);
        /* Cumulative, and _count equal to the +Inf bucket, from one read
         * of each bucket. */
        total = 0;
        for (size_t k = 0; !e && k <= N_BOUNDS; k++) {
            char le[24];
            total += counts[k];
            if (k < N_BOUNDS)
                snprintf(le, sizeof(le), "%g", (double)bounds_us[k] / 1e6);
            else
                memcpy(le, "+Inf", 5);
            e = bk_buf_appendf(b,
                               "bookingd_http_request_duration_seconds_bucket"
                               "{route=\"%s\",method=\"%s\",le=\"%s\"} %llu\n",
                               route, method, le, (unsigned long long)total);
        }
        if (!e)
            e = bk_buf_appendf(
                b,
                "bookingd_http_request_duration_seconds_sum{route=\"%s\","
                "method=\"%s\"} %.6f\n"
                "bookingd_http_request_duration_seconds_count{route=\"%s\","
                "method=\"%s\"} %llu\n",
                route, method, (double)sum / 1e6, route, method,
                (unsigned long long)total);
    }
    return e;
}

static enum bk_err render_connections(const struct bk_http_counters *c,
                                      struct bk_buf *b)
{
    if (!c)
        return BK_OK;
    return bk_buf_appendf(
        b,
        "# HELP bookingd_http_connections_open Client connections open.\n"
        "# TYPE bookingd_http_connections_open gauge\n"
        "bookingd_http_connections_open %lld\n"
        "# HELP bookingd_http_connections_accepted_total Client connections "
        "taken since start.\n"
        "# TYPE bookingd_http_connections_accepted_total counter\n"
        "bookingd_http_connections_accepted_total %llu\n"
        "# HELP bookingd_http_connections_refused_total Client connections "
        "refused since start: over the connection limit or the per-address "
        "one (limit), or while shutting down (stopping).\n"
        "# TYPE bookingd_http_connections_refused_total counter\n"
        "bookingd_http_connections_refused_total{reason=\"limit\"} %llu\n"
        "bookingd_http_connections_refused_total{reason=\"stopping\"} %llu\n"
        "# HELP bookingd_http_connections_timed_out_total Connections closed "
        "because a request did not arrive within its deadline.\n"
        "# TYPE bookingd_http_connections_timed_out_total counter\n"
        "bookingd_http_connections_timed_out_total %llu\n"
        "# HELP bookingd_http_requests_in_flight Requests begun (their head "
        "read) and not yet answered, this scrape's included.\n"
        "# TYPE bookingd_http_requests_in_flight gauge\n"
        "bookingd_http_requests_in_flight %lld\n",
        (long long)atomic_load(&c->open),
        (unsigned long long)atomic_load(&c->accepted),
        (unsigned long long)atomic_load(&c->refused_limit),
        (unsigned long long)atomic_load(&c->refused_stopping),
        (unsigned long long)atomic_load(&c->timed_out),
        (long long)atomic_load(&c->in_flight));
}

static enum bk_err render_db_errors(struct bk_store *store, struct bk_buf *b)
{
    uint64_t n[BK_STORE_ERROR_CLASSES];
    enum bk_err e;

    bk_store_error_counts(store, n);
    e = bk_buf_appendf(
        b, "# HELP bookingd_db_errors_total Errors the database returned "
           "since start, by class.\n"
           "# TYPE bookingd_db_errors_total counter\n");
    for (int i = 0; !e && i < BK_STORE_ERROR_CLASSES; i++)
        e = bk_buf_appendf(b, "bookingd_db_errors_total{class=\"%s\"} %llu\n",
                           bk_store_error_class_name(i),
                           (unsigned long long)n[i]);
    return e;
}

enum bk_err bk_api_metrics_render(const struct bk_api *api, struct bk_buf *b)
{
    enum bk_err e = render_requests(b);

    if (!e)
        e = bk_buf_appendf(b,
                           "# HELP bookingd_http_rate_limited_total Requests "
                           "answered 429, by limit.\n"
                           "# TYPE bookingd_http_rate_limited_total counter\n");
    for (int i = 1; !e && i < BK_RATE_CLASSES; i++)
        e = bk_buf_appendf(
            b, "bookingd_http_rate_limited_total{class=\"%s\"} %llu\n",
            bk_api_rate_class_name(i),
            (unsigned long long)atomic_load_explicit(&rate_limited[i],
                                                     memory_order_relaxed));
    if (!e)
        e = render_connections(api->http_counters, b);
    if (!e && api->store)
        e = render_db_errors(api->store, b);
    return e;
}
