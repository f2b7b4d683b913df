/* http/ratelimit.c — token buckets per address in a set-associative
 * table. Tokens are counted in 1/60000ths, so that a rate per minute
 * refills exactly per_minute units per millisecond. */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "http/ratelimit.h"
#include "base/mem.h"
#include "base/str.h"
#include "base/banned.h"

#define UNIT    60000 /* one token */
#define STRIPES 64    /* locks, each over every 64th set */

struct bucket {
    int64_t level;      /* tokens, in 1/UNIT */
    int64_t updated_ms; /* when level was last brought up to date */
};

struct entry {
    unsigned char key[16];
    bool used;
    int64_t seen_ms; /* last request: the least recent is evicted */
    struct bucket b[BK_RATELIMIT_MAX_CLASSES];
};

struct bk_ratelimit {
    struct bk_ratelimit_rule rules[BK_RATELIMIT_MAX_CLASSES];
    size_t n_classes;
    size_t n_sets; /* a power of two */
    uint64_t seed[2];
    struct entry *entries; /* n_sets * BK_RATELIMIT_WAYS */
    pthread_mutex_t locks[STRIPES];
};

enum bk_err bk_ratelimit_parse(const char *text, struct bk_ratelimit_rule *rule,
                               struct bk_errbuf *err)
{
    char buf[64];
    char *comma;
    int64_t rate, burst;

    memset(rule, 0, sizeof(*rule));
    if (!text || strlen(text) >= sizeof(buf))
        goto bad;
    bk_strlcpy(buf, text, sizeof(buf));
    comma = strchr(buf, ',');
    if (comma)
        *comma = '\0';
    if (bk_parse_i64(buf, 0, 1000000, &rate) != BK_OK)
        goto bad;
    burst = rate;
    if (comma && bk_parse_i64(comma + 1, 1, 1000000, &burst) != BK_OK)
        goto bad;
    if (rate == 0)
        return BK_OK; /* no limit, whatever the burst */
    rule->per_minute = rate;
    rule->burst = burst;
    return BK_OK;
bad:
    return bk_fail(err, BK_E_CONFIG,
                   "must be PER_MINUTE,BURST (0..1000000 requests per minute "
                   "and address, a burst of 1..1000000; 0 = no limit), got "
                   "'%s'",
                   text ? text : "");
}

enum bk_err bk_ratelimit_new(const struct bk_ratelimit_rule *rules,
                             size_t n_classes, size_t max_addresses,
                             struct bk_ratelimit **out, struct bk_errbuf *err)
{
    struct bk_ratelimit *rl;
    size_t sets = 1;

    *out = NULL;
    if (n_classes > BK_RATELIMIT_MAX_CLASSES)
        return bk_fail(err, BK_E_CONFIG, "at most %d rate-limit classes",
                       BK_RATELIMIT_MAX_CLASSES);
    for (size_t i = 0; i < n_classes; i++)
        if (rules[i].per_minute < 0 ||
            (rules[i].per_minute > 0 && rules[i].burst < 1))
            return bk_fail(err, BK_E_CONFIG,
                           "rate-limit class %zu: a rate needs a burst >= 1",
                           i);
    while (sets * BK_RATELIMIT_WAYS < max_addresses && sets < (1u << 24))
        sets <<= 1;
    rl = bk_xcalloc(1, sizeof(*rl));
    memcpy(rl->rules, rules, n_classes * sizeof(*rules));
    rl->n_classes = n_classes;
    rl->n_sets = sets;
    rl->entries = bk_xcalloc(sets * BK_RATELIMIT_WAYS, sizeof(struct entry));
    /* A secret seed: addresses chosen to fall into one set cannot be
     * computed from outside. */
    if (getrandom(rl->seed, sizeof(rl->seed), 0) != (ssize_t)sizeof(rl->seed)) {
        rl->seed[0] = (uint64_t)(uintptr_t)rl ^ 0x9e3779b97f4a7c15ull;
        rl->seed[1] = (uint64_t)(uintptr_t)&sets;
    }
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_init(&rl->locks[i], NULL);
    *out = rl;
    return BK_OK;
}

void bk_ratelimit_free(struct bk_ratelimit *rl)
{
    if (!rl)
        return;
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_destroy(&rl->locks[i]);
    free(rl->entries);
    free(rl);
}

bool bk_ratelimit_on(const struct bk_ratelimit *rl, size_t cls)
{
    return rl && cls < rl->n_classes && rl->rules[cls].per_minute > 0;
}

size_t bk_ratelimit_capacity(const struct bk_ratelimit *rl)
{
    return rl ? rl->n_sets * BK_RATELIMIT_WAYS : 0;
}

size_t bk_ratelimit_count(struct bk_ratelimit *rl)
{
    size_t n = 0;

    if (!rl)
        return 0;
    for (size_t s = 0; s < rl->n_sets; s++) {
        pthread_mutex_lock(&rl->locks[s % STRIPES]);
        for (size_t w = 0; w < BK_RATELIMIT_WAYS; w++)
            n += rl->entries[s * BK_RATELIMIT_WAYS + w].used;
        pthread_mutex_unlock(&rl->locks[s % STRIPES]);
    }
    return n;
}

/* The key of an address: IPv4 (also IPv4-mapped IPv6) as ::ffff:a.b.c.d,
 * IPv6 as its /64; text that is neither shares one key. */
static void key_of(const char *addr, unsigned char key[16])
{
    unsigned char a[16];

    memset(key, 0, 16);
    if (addr && inet_pton(AF_INET, addr, a) == 1) {
        key[10] = key[11] = 0xff;
        memcpy(key + 12, a, 4);
    } else if (addr && inet_pton(AF_INET6, addr, a) == 1) {
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0,    0,
                                                 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(a, mapped, 12) == 0)
            memcpy(key, a, 16);
        else
            memcpy(key, a, 8);
    } else {
        memset(key, 0xee, 16);
    }
}

/* SplitMix64's finalizer over the key, keyed by the seed. */
static uint64_t mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static size_t set_of(const struct bk_ratelimit *rl, const unsigned char k[16])
{
    uint64_t lo, hi;

    memcpy(&lo, k, 8);
    memcpy(&hi, k + 8, 8);
    return (size_t)(mix(mix(lo ^ rl->seed[0]) ^ hi ^ rl->seed[1]) &
                    (rl->n_sets - 1));
}

bool bk_ratelimit_take(struct bk_ratelimit *rl, size_t cls, const char *addr,
                       int64_t now_ms, int64_t *retry_after_ms)
{
    const struct bk_ratelimit_rule *rule;
    unsigned char key[16];
    struct entry *set, *e = NULL;
    struct bucket *b;
    size_t s;
    bool ok;

    *retry_after_ms = 0;
    if (!bk_ratelimit_on(rl, cls))
        return true;
    rule = &rl->rules[cls];
    key_of(addr, key);
    s = set_of(rl, key);
    set = &rl->entries[s * BK_RATELIMIT_WAYS];
    pthread_mutex_lock(&rl->locks[s % STRIPES]);
    for (size_t w = 0; w < BK_RATELIMIT_WAYS && !e; w++)
        if (set[w].used && memcmp(set[w].key, key, 16) == 0)
            e = &set[w];
    if (!e) {
        /* A free way, or the least recently seen one. */
        e = &set[0];
        for (size_t w = 0; w < BK_RATELIMIT_WAYS; w++) {
            if (!set[w].used) {
                e = &set[w];
                break;
            }
            if (set[w].seen_ms < e->seen_ms)
                e = &set[w];
        }
        memset(e, 0, sizeof(*e));
        memcpy(e->key, key, 16);
        e->used = true;
    }
    e->seen_ms = now_ms;
    b = &e->b[cls];
    if (!b->updated_ms) {
        b->level = rule->burst * UNIT; /* a new address starts full */
    } else if (now_ms > b->updated_ms) {
        int64_t cap = rule->burst * UNIT;
        int64_t add = (now_ms - b->updated_ms) * rule->per_minute;
        /* (now - updated) is bounded by the uptime; the product by
         * 2^63 only after centuries at the largest rate. */
        b->level = add >= cap - b->level ? cap : b->level + add;
    }
    b->updated_ms = now_ms ? now_ms : 1;
    ok = b->level >= UNIT;
    if (ok)
        b->level -= UNIT;
    else
        *retry_after_ms =
            (UNIT - b->level + rule->per_minute - 1) / rule->per_minute;
    pthread_mutex_unlock(&rl->locks[s % STRIPES]);
    if (!ok && *retry_after_ms < 1)
        *retry_after_ms = 1;
    return ok;
}
