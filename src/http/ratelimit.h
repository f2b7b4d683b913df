/* http/ratelimit.h — token buckets per client address, in a table of
 * bounded size. Each class of request (bookings, slot queries, ...) has
 * a rule: a rate per minute and a burst; an address starts with a full
 * bucket of burst tokens, each request takes one, and tokens come back at
 * the rate. The table holds at most max_addresses addresses: it is
 * set-associative (8 per set, the set chosen by a keyed hash of the
 * address), and a new address takes the place of the one least recently
 * seen in its set, so a flood of addresses costs no memory beyond the
 * table (and only forgets addresses, which then start full again). IPv6
 * addresses count per /64 (one host's usual share); IPv4-mapped IPv6 as
 * IPv4. Pure of I/O: the caller passes the monotonic time. */
#ifndef BK_HTTP_RATELIMIT_H
#define BK_HTTP_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define BK_RATELIMIT_MAX_CLASSES 6
#define BK_RATELIMIT_WAYS        8 /* addresses per set */

struct bk_ratelimit_rule {
    int64_t per_minute; /* tokens back per minute; 0: no limit */
    int64_t burst;      /* bucket size, >= 1 when per_minute > 0 */
};

struct bk_ratelimit;

/* Parses "PER_MINUTE,BURST" (or "0": no limit; "PER_MINUTE" alone: a
 * burst of that many) into rule: PER_MINUTE 0..1000000, BURST
 * 1..1000000. BK_E_CONFIG with a message otherwise. */
BK_MUST_CHECK enum bk_err bk_ratelimit_parse(const char *text,
                                             struct bk_ratelimit_rule *rule,
                                             struct bk_errbuf *err);

/* A table of rules[0..n_classes) (copied) for at most max_addresses
 * addresses (rounded up to a power-of-two number of sets; at least one
 * set). BK_E_CONFIG for more than BK_RATELIMIT_MAX_CLASSES classes or a
 * rule with per_minute > 0 and burst < 1. Returns an owned table; free
 * with bk_ratelimit_free. */
BK_MUST_CHECK enum bk_err
bk_ratelimit_new(const struct bk_ratelimit_rule *rules, size_t n_classes,
                 size_t max_addresses, struct bk_ratelimit **out,
                 struct bk_errbuf *err);

/* NULL is a no-op. */
void bk_ratelimit_free(struct bk_ratelimit *rl);

/* Takes one token of class cls for the address addr (text, as
 * inet_ntop writes it; anything else shares one bucket) at now_ms
 * (monotonic). Returns true when allowed; false when the bucket is empty,
 * with *retry_after_ms (>= 1) until a token is back. A class without a
 * limit, or an rl of NULL, always allows. Thread-safe (a lock per group
 * of sets). */
bool bk_ratelimit_take(struct bk_ratelimit *rl, size_t cls, const char *addr,
                       int64_t now_ms, int64_t *retry_after_ms);

/* Whether class cls has a limit. */
bool bk_ratelimit_on(const struct bk_ratelimit *rl, size_t cls);

/* Addresses the table can hold (its fixed capacity), and holds now. */
size_t bk_ratelimit_capacity(const struct bk_ratelimit *rl);
size_t bk_ratelimit_count(struct bk_ratelimit *rl);

#endif
