/* net/limits.c — the per-provider token bucket and circuit breaker
 * (limits.h). One mutex guards the table; waits happen outside it. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/str.h"
#include "base/time.h"
#include "net/limits.h"
#include "base/banned.h"

#define DEFAULT_FAILURES    5
#define DEFAULT_COOLDOWN_MS 30000
#define DEFAULT_MAX_WAIT_MS 5000
#define NAME_MAX_LEN        63

/* The built-in limits. Figures from PROVIDERS.md where it has them; the
 * others are documented choices (docs/providers/README.md). */
static const struct {
    const char *name;
    struct bk_net_limit limit;
} defaults[] = {
    /* Notion: an average of 3 requests a second per connection. */
    {"notion", {3.0, 3, DEFAULT_FAILURES, DEFAULT_COOLDOWN_MS}},
    /* Cal.com: an API key gets 120 requests per 60 s. */
    {"calcom", {2.0, 10, DEFAULT_FAILURES, DEFAULT_COOLDOWN_MS}},
    /* Calendly: 500 requests per user per minute on the paid plans that
     * webhook subscriptions need (free: 50; override). */
    {"calendly", {500.0 / 60.0, 20, DEFAULT_FAILURES, DEFAULT_COOLDOWN_MS}},
    /* Zoom: not in PROVIDERS.md; 10/s is the lowest of Zoom's per-second
     * classes. */
    {"zoom", {10.0, 10, DEFAULT_FAILURES, DEFAULT_COOLDOWN_MS}},
    /* Google Calendar: not in PROVIDERS.md; 10/s stays under a project's
     * default per-user quota. */
    {"google", {10.0, 20, DEFAULT_FAILURES, DEFAULT_COOLDOWN_MS}},
    /* Stripe: not in PROVIDERS.md; 25/s is its test-mode limit (live: 100). */
    {"stripe", {25.0, 25, DEFAULT_FAILURES, DEFAULT_COOLDOWN_MS}},
    /* CalDAV servers ("caldav:host"): a breaker per server, no rate. */
    {"caldav", {0.0, 1, DEFAULT_FAILURES, DEFAULT_COOLDOWN_MS}},
};
#define N_DEFAULTS (sizeof(defaults) / sizeof(defaults[0]))

enum state { CLOSED, OPEN, HALF_OPEN };

struct slot {
    char name[NAME_MAX_LEN + 1];
    struct bk_net_limit limit;
    double tokens;
    int64_t refilled_ms;     /* mono; tokens are counted up to here */
    int64_t paused_until_ms; /* mono; 0: none */
    enum state state;
    int failures;
    int64_t opened_at_ms;  /* mono */
    int64_t next_probe_ms; /* mono */
    bool probe_out;
    uint64_t requests, waited, refused, failed;
};

/* An operator's override, applied to "name" and "name:...". */
struct override {
    char name[NAME_MAX_LEN + 1];
    struct bk_net_limit limit;
};

struct bk_net_limiter {
    pthread_mutex_t mu;
    struct bk_net_clock clock;
    int64_t max_wait_ms;
    struct slot slots[BK_NET_LIMIT_SLOTS];
    size_t n;
    struct override overrides[N_DEFAULTS + 16];
    size_t n_overrides;
    bool full_warned;
};

static int64_t real_mono(void *ctx)
{
    (void)ctx;
    return bk_mono_ms();
}

static int64_t real_wall(void *ctx)
{
    (void)ctx;
    return bk_now_ms();
}

static void real_sleep(void *ctx, int64_t ms)
{
    struct timespec ts;

    (void)ctx;
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* The part of provider before ':' ("caldav" of "caldav:host"), in base. */
static const char *base_name(const char *provider, char *buf, size_t size)
{
    size_t k = strcspn(provider, ":");

    if (k >= size)
        k = size - 1;
    memcpy(buf, provider, k);
    buf[k] = '\0';
    return buf;
}

void bk_net_limit_default(const char *provider, struct bk_net_limit *out)
{
    char b[NAME_MAX_LEN + 1];
    const char *name = base_name(provider ? provider : "", b, sizeof(b));

    for (size_t i = 0; i < N_DEFAULTS; i++)
        if (strcmp(defaults[i].name, name) == 0) {
            *out = defaults[i].limit;
            return;
        }
    out->rate = 0.0;
    out->burst = 1;
    out->failures = DEFAULT_FAILURES;
    out->cooldown_ms = DEFAULT_COOLDOWN_MS;
}

static bool limit_ok(const struct bk_net_limit *l)
{
    return l->rate >= 0.0 && l->rate <= 100000.0 && l->burst >= 1 &&
           l->burst <= 100000 && l->failures >= 0 && l->failures <= 100000 &&
           l->cooldown_ms > 0 && l->cooldown_ms <= 86400000;
}

/* A decimal number of at most 12 characters ("3", "0.5"); -1 otherwise. */
static double number(const char *s, size_t n)
{
    char tmp[16];
    char *end = NULL;
    double v;
    bool dot = false;

    if (n == 0 || n > 12)
        return -1.0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.' && !dot && i > 0 && i + 1 < n)
            dot = true;
        else if (!isdigit((unsigned char)s[i]))
            return -1.0;
    }
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    v = strtod(tmp, &end);
    return end && *end == '\0' && isfinite(v) ? v : -1.0;
}

enum bk_err bk_net_limit_parse(const char *spec, struct bk_net_limit *l,
                               struct bk_errbuf *err)
{
    struct bk_net_limit x = *l;
    const char *p = spec ? spec : "";

    if (!*p)
        return bk_fail(err, BK_E_CONFIG, "is empty");
    if (strlen(p) > 200)
        return bk_fail(err, BK_E_CONFIG, "is longer than 200 characters");
    while (*p) {
        size_t n = strcspn(p, ","), k = strcspn(p, "=");
        const char *v = p + k + 1;
        size_t vn;

        if (k >= n)
            return bk_fail(err, BK_E_CONFIG,
                           "'%.*s' is not key=value (keys: rate, burst, "
                           "failures, cooldown)",
                           (int)n, p);
        vn = n - k - 1;
        if (k == 4 && strncmp(p, "rate", 4) == 0) {
            size_t slash = strcspn(v, "/,");
            double r;
            if (vn == 3 && strncmp(v, "off", 3) == 0) {
                x.rate = 0.0;
            } else if (slash >= vn || (r = number(v, slash)) < 0.0 ||
                       !((vn - slash - 1 == 1 && v[slash + 1] == 's') ||
                         (vn - slash - 1 == 1 && v[slash + 1] == 'm') ||
                         (vn - slash - 1 == 3 &&
                          strncmp(v + slash + 1, "min", 3) == 0))) {
                return bk_fail(err, BK_E_CONFIG,
                               "rate must be N/s, N/m or off, got '%.*s'",
                               (int)vn, v);
            } else {
                x.rate = v[slash + 1] == 's' ? r : r / 60.0;
                if (r == 0.0)
                    return bk_fail(err, BK_E_CONFIG,
                                   "rate must be above 0 (or off)");
            }
        } else if (k == 5 && strncmp(p, "burst", 5) == 0) {
            double b = number(v, vn);
            if (b < 1.0 || b > 100000.0 || b != floor(b))
                return bk_fail(err, BK_E_CONFIG,
                               "burst must be an integer 1..100000, got "
                               "'%.*s'",
                               (int)vn, v);
            x.burst = (int)b;
        } else if (k == 8 && strncmp(p, "failures", 8) == 0) {
            double f = number(v, vn);
            if (f < 0.0 || f > 100000.0 || f != floor(f))
                return bk_fail(err, BK_E_CONFIG,
                               "failures must be an integer 0..100000, got "
                               "'%.*s'",
                               (int)vn, v);
            x.failures = (int)f;
        } else if (k == 8 && strncmp(p, "cooldown", 8) == 0) {
            size_t digits = strspn(v, "0123456789");
            double c = number(v, digits < vn ? digits : vn);
            int64_t unit = 1000;
            if (digits + 1 == vn && v[digits] == 'm')
                unit = 60000;
            else if (!(digits == vn || (digits + 1 == vn && v[digits] == 's')))
                c = -1.0;
            if (c < 1.0 || c * (double)unit > 86400000.0)
                return bk_fail(err, BK_E_CONFIG,
                               "cooldown must be 1s..24h (N, Ns or Nm), got "
                               "'%.*s'",
                               (int)vn, v);
            x.cooldown_ms = (int64_t)c * unit;
        } else {
            return bk_fail(err, BK_E_CONFIG,
                           "unknown key '%.*s' (keys: rate, burst, failures, "
                           "cooldown)",
                           (int)(k < 20 ? k : 20), p);
        }
        p += n;
        if (*p == ',') {
            p++;
            if (!*p)
                return bk_fail(err, BK_E_CONFIG, "ends with ','");
        }
    }
    *l = x;
    return BK_OK;
}

enum bk_err bk_net_limiter_new(const struct bk_net_clock *clock,
                               int64_t max_wait_ms, struct bk_net_limiter **out,
                               struct bk_errbuf *err)
{
    struct bk_net_limiter *l;

    *out = NULL;
    if (max_wait_ms < 0 || max_wait_ms > 600000)
        return bk_fail(err, BK_E_CONFIG,
                       "the longest wait for a token must be 0..600000 ms");
    l = calloc(1, sizeof(*l));
    if (!l)
        return bk_fail(err, BK_E_INTERNAL, "out of memory");
    pthread_mutex_init(&l->mu, NULL);
    l->clock.mono_ms = clock && clock->mono_ms ? clock->mono_ms : real_mono;
    l->clock.wall_ms = clock && clock->wall_ms ? clock->wall_ms : real_wall;
    l->clock.sleep_ms = clock && clock->sleep_ms ? clock->sleep_ms : real_sleep;
    l->clock.ctx = clock ? clock->ctx : NULL;
    l->max_wait_ms = max_wait_ms;
    *out = l;
    return BK_OK;
}

void bk_net_limiter_free(struct bk_net_limiter *l)
{
    if (!l)
        return;
    pthread_mutex_destroy(&l->mu);
    free(l);
}

/* The limit a new slot named provider gets; under mu. */
static void limit_of(const struct bk_net_limiter *l, const char *provider,
                     struct bk_net_limit *out)
{
    char b[NAME_MAX_LEN + 1];
    const char *base = base_name(provider, b, sizeof(b));

    for (size_t i = 0; i < l->n_overrides; i++)
        if (strcmp(l->overrides[i].name, provider) == 0) {
            *out = l->overrides[i].limit;
            return;
        }
    for (size_t i = 0; i < l->n_overrides; i++)
        if (strcmp(l->overrides[i].name, base) == 0) {
            *out = l->overrides[i].limit;
            return;
        }
    bk_net_limit_default(provider, out);
}

/* The slot of provider, made when new; -1 when the table is full or the
 * name too long. Under mu. */
static int find_slot(struct bk_net_limiter *l, const char *provider,
                     int64_t now)
{
    struct slot *s;

    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->slots[i].name, provider) == 0)
            return (int)i;
    if (strlen(provider) > NAME_MAX_LEN || l->n >= BK_NET_LIMIT_SLOTS) {
        if (!l->full_warned)
            bk_log_warn("net: provider '%.80s' is not rate limited: %s",
                        provider,
                        l->n >= BK_NET_LIMIT_SLOTS ? "the table is full"
                                                   : "its name is too long");
        l->full_warned = true;
        return -1;
    }
    s = &l->slots[l->n];
    memset(s, 0, sizeof(*s));
    bk_strlcpy(s->name, provider, sizeof(s->name));
    limit_of(l, provider, &s->limit);
    s->tokens = s->limit.burst;
    s->refilled_ms = now;
    s->state = CLOSED;
    return (int)l->n++;
}

enum bk_err bk_net_limiter_set(struct bk_net_limiter *l, const char *provider,
                               const struct bk_net_limit *lim,
                               struct bk_errbuf *err)
{
    char b[NAME_MAX_LEN + 1];
    size_t i;

    if (!provider || !*provider || strlen(provider) > NAME_MAX_LEN)
        return bk_fail(err, BK_E_CONFIG, "a provider name of 1..%d bytes",
                       NAME_MAX_LEN);
    if (!limit_ok(lim))
        return bk_fail(err, BK_E_CONFIG, "the limit of %s is out of range",
                       provider);
    pthread_mutex_lock(&l->mu);
    for (i = 0; i < l->n_overrides; i++)
        if (strcmp(l->overrides[i].name, provider) == 0)
            break;
    if (i == l->n_overrides) {
        if (i >= sizeof(l->overrides) / sizeof(l->overrides[0])) {
            pthread_mutex_unlock(&l->mu);
            return bk_fail(err, BK_E_CONFIG, "too many provider overrides");
        }
        bk_strlcpy(l->overrides[i].name, provider,
                   sizeof(l->overrides[i].name));
        l->n_overrides++;
    }
    l->overrides[i].limit = *lim;
    for (size_t k = 0; k < l->n; k++) {
        struct slot *s = &l->slots[k];
        if (strcmp(s->name, provider) == 0 ||
            strcmp(base_name(s->name, b, sizeof(b)), provider) == 0) {
            limit_of(l, s->name, &s->limit);
            if (s->tokens > s->limit.burst)
                s->tokens = s->limit.burst;
        }
    }
    pthread_mutex_unlock(&l->mu);
    return BK_OK;
}

/* Adds the tokens earned since the last refill; under mu. */
static void refill(struct slot *s, int64_t now)
{
    if (s->limit.rate <= 0.0) {
        s->tokens = s->limit.burst;
        s->refilled_ms = now;
        return;
    }
    if (now > s->refilled_ms) {
        s->tokens += (double)(now - s->refilled_ms) * s->limit.rate / 1000.0;
        if (s->tokens > s->limit.burst)
            s->tokens = s->limit.burst;
        s->refilled_ms = now;
    }
}

static enum bk_err acquire(struct bk_net_limiter *l, const char *provider,
                           struct bk_net_ticket *t, struct bk_errbuf *err)
{
    int64_t start, now, wait;
    bool reserved = false;
    struct slot *s;
    int i;

    t->slot = -1;
    t->probe = false;
    if (!l || !provider || !*provider)
        return BK_OK;
    pthread_mutex_lock(&l->mu);
    start = now = l->clock.mono_ms(l->clock.ctx);
    i = find_slot(l, provider, now);
    if (i < 0) {
        pthread_mutex_unlock(&l->mu);
        return BK_OK;
    }
    s = &l->slots[i];
    s->requests++;
    /* The breaker first: an open one costs no token. */
    if (s->state == OPEN && now >= s->next_probe_ms)
        s->state = HALF_OPEN;
    if (s->state == OPEN || (s->state == HALF_OPEN && s->probe_out)) {
        int64_t in = s->next_probe_ms - now;
        int failures = s->failures;
        bool open = s->state == OPEN;
        s->refused++;
        pthread_mutex_unlock(&l->mu);
        if (open)
            return bk_fail(err, BK_E_RATE_LIMITED,
                           "%s: the circuit breaker is open after %d "
                           "consecutive failures (next probe in %" PRId64
                           " s); retried later",
                           provider, failures, (in + 999) / 1000);
        return bk_fail(err, BK_E_RATE_LIMITED,
                       "%s: the circuit breaker is half-open and its probe "
                       "is under way; retried later",
                       provider);
    }
    if (s->state == HALF_OPEN) {
        s->probe_out = true;
        t->probe = true;
    }
    for (;;) {
        refill(s, now);
        wait = 0;
        if (s->paused_until_ms > now) {
            wait = s->paused_until_ms - now;
        } else if (!reserved) {
            if (s->tokens < 1.0)
                wait =
                    (int64_t)ceil((1.0 - s->tokens) * 1000.0 / s->limit.rate);
        }
        if (wait == 0 && !reserved) {
            s->tokens -= 1.0;
            break;
        }
        if (wait == 0)
            break;
        if (now + wait - start > l->max_wait_ms) {
            int64_t paused = s->paused_until_ms > now ? s->paused_until_ms : 0;
            double rate = s->limit.rate;
            if (reserved) /* give the reserved token back */
                s->tokens += 1.0;
            if (t->probe)
                s->probe_out = false;
            s->refused++;
            pthread_mutex_unlock(&l->mu);
            t->probe = false;
            if (paused)
                return bk_fail(err, BK_E_RATE_LIMITED,
                               "%s: paused by its Retry-After for another "
                               "%" PRId64 " s; retried later",
                               provider, (paused - now + 999) / 1000);
            return bk_fail(err, BK_E_RATE_LIMITED,
                           "%s: rate limit (%.3g requests/s): no token "
                           "within %" PRId64 " ms; retried later",
                           provider, rate, l->max_wait_ms);
        }
        if (!reserved && s->paused_until_ms <= now) {
            s->tokens -= 1.0; /* waiters queue behind one another */
            reserved = true;
        }
        s->waited++;
        pthread_mutex_unlock(&l->mu);
        l->clock.sleep_ms(l->clock.ctx, wait);
        pthread_mutex_lock(&l->mu);
        now = l->clock.mono_ms(l->clock.ctx);
    }
    t->slot = i;
    pthread_mutex_unlock(&l->mu);
    return BK_OK;
}

enum bk_err bk_net_limiter_acquire(struct bk_net_limiter *l,
                                   const char *provider,
                                   struct bk_net_ticket *t,
                                   struct bk_errbuf *err)
{
    enum bk_err e = acquire(l, provider, t, err);

    if (e)
        bk_errbuf_code(err, BK_NET_LIMITED_CODE);
    return e;
}

void bk_net_limiter_done(struct bk_net_limiter *l,
                         const struct bk_net_ticket *t, enum bk_err e,
                         int status, int retry_after_s)
{
    struct slot *s;
    int64_t now;
    bool failed, sent = e == BK_OK || e == BK_E_IO;

    if (!l || !t || t->slot < 0)
        return;
    pthread_mutex_lock(&l->mu);
    s = &l->slots[t->slot];
    now = l->clock.mono_ms(l->clock.ctx);
    failed = e == BK_E_IO || (e == BK_OK && (status >= 500 || status <= 0));
    if (e == BK_OK && (status == 429 || status == 503) && retry_after_s > 0) {
        int64_t until = now + (int64_t)retry_after_s * 1000;
        if (until > s->paused_until_ms)
            s->paused_until_ms = until;
        if (s->tokens > 0.0)
            s->tokens = 0.0;
        if (s->refilled_ms < until)
            s->refilled_ms = until; /* nothing is earned while paused */
        bk_log_info("net: %s answered %d: its requests wait %d s "
                    "(Retry-After)",
                    s->name, status, retry_after_s);
    }
    if (failed)
        s->failed++;
    if (!sent) {
        if (t->probe) /* the probe never went: the next request probes */
            s->probe_out = false;
    } else if (t->probe) {
        s->probe_out = false;
        if (failed) {
            s->failures++;
            s->state = OPEN;
            s->opened_at_ms = now;
            s->next_probe_ms = now + s->limit.cooldown_ms;
            bk_log_warn("net: %s: the probe failed; the circuit breaker "
                        "opens again for %" PRId64 " s",
                        s->name, s->limit.cooldown_ms / 1000);
        } else {
            s->state = CLOSED;
            s->failures = 0;
            bk_log_info("net: %s: the probe succeeded; the circuit breaker "
                        "closes",
                        s->name);
        }
    } else if (s->state == CLOSED) {
        if (!failed) {
            s->failures = 0;
        } else if (++s->failures >= s->limit.failures &&
                   s->limit.failures > 0) {
            s->state = OPEN;
            s->opened_at_ms = now;
            s->next_probe_ms = now + s->limit.cooldown_ms;
            bk_log_warn("net: %s: %d consecutive failures; the circuit "
                        "breaker opens for %" PRId64 " s",
                        s->name, s->failures, s->limit.cooldown_ms / 1000);
        }
    }
    /* A request sent before the breaker opened and answered after: its
     * outcome says nothing the probe will not. */
    pthread_mutex_unlock(&l->mu);
}

size_t bk_net_limiter_status(struct bk_net_limiter *l,
                             struct bk_net_provider_status *out, size_t max)
{
    size_t n = 0;
    int64_t mono, wall;

    if (!l)
        return 0;
    pthread_mutex_lock(&l->mu);
    mono = l->clock.mono_ms(l->clock.ctx);
    wall = l->clock.wall_ms(l->clock.ctx);
    for (size_t i = 0; i < l->n && n < max; i++) {
        struct slot *s = &l->slots[i];
        struct bk_net_provider_status *o = &out[n++];
        enum state st = s->state;

        refill(s, mono);
        if (st == OPEN && mono >= s->next_probe_ms)
            st = HALF_OPEN; /* the next request probes */
        memset(o, 0, sizeof(*o));
        bk_strlcpy(o->provider, s->name, sizeof(o->provider));
        o->state = st == CLOSED ? "closed" : st == OPEN ? "open" : "half_open";
        o->consecutive_failures = s->failures;
        if (st != CLOSED) {
            o->opened_at_ms = wall + (s->opened_at_ms - mono);
            o->next_probe_ms = wall + (s->next_probe_ms - mono);
        }
        if (s->paused_until_ms > mono)
            o->paused_until_ms = wall + (s->paused_until_ms - mono);
        o->limit = s->limit;
        o->tokens = s->tokens;
        o->requests = s->requests;
        o->waited = s->waited;
        o->refused = s->refused;
        o->failed = s->failed;
    }
    pthread_mutex_unlock(&l->mu);
    /* By name, so that the answer does not depend on the order of use. */
    for (size_t i = 1; i < n; i++)
        for (size_t k = i;
             k > 0 && strcmp(out[k - 1].provider, out[k].provider) > 0; k--) {
            struct bk_net_provider_status tmp = out[k];
            out[k] = out[k - 1];
            out[k - 1] = tmp;
        }
    return n;
}

/* ---- the process's limiter ---------------------------------------------- */

static pthread_once_t process_once = PTHREAD_ONCE_INIT;
static struct bk_net_limiter *process_limiter;

static void make_process_limiter(void)
{
    if (bk_net_limiter_new(NULL, DEFAULT_MAX_WAIT_MS, &process_limiter, NULL))
        process_limiter = NULL; /* out of memory: requests go unlimited */
}

struct bk_net_limiter *bk_net_limits(void)
{
    pthread_once(&process_once, make_process_limiter);
    return process_limiter;
}

enum bk_err bk_net_limits_load_env(struct bk_errbuf *err)
{
    struct bk_net_limiter *l = bk_net_limits();
    const char *v;
    char name[96], upper[64];
    struct bk_errbuf perr;
    enum bk_err e;

    if (!l)
        return bk_fail(err, BK_E_INTERNAL, "out of memory");
    v = getenv("BOOKINGD_LIMIT_WAIT_MS");
    if (v && *v) {
        int64_t ms = 0;
        if (bk_parse_i64(v, 0, 600000, &ms) != BK_OK)
            return bk_fail_field(err, BK_E_CONFIG, "BOOKINGD_LIMIT_WAIT_MS",
                                 "must be an integer 0..600000, got '%.40s'",
                                 v);
        pthread_mutex_lock(&l->mu);
        l->max_wait_ms = ms;
        pthread_mutex_unlock(&l->mu);
    }
    for (size_t i = 0; i < N_DEFAULTS; i++) {
        struct bk_net_limit lim = defaults[i].limit;
        size_t k;
        for (k = 0; defaults[i].name[k] && k + 1 < sizeof(upper); k++)
            upper[k] = (char)toupper((unsigned char)defaults[i].name[k]);
        upper[k] = '\0';
        snprintf(name, sizeof(name), "BOOKINGD_LIMIT_%s", upper);
        v = getenv(name);
        if (!v || !*v)
            continue;
        bk_errbuf_clear(&perr);
        if ((e = bk_net_limit_parse(v, &lim, &perr)) ||
            (e = bk_net_limiter_set(l, defaults[i].name, &lim, &perr)))
            return bk_fail_field(err, BK_E_CONFIG, name, "%s", perr.msg);
    }
    return BK_OK;
}
