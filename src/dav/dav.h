/* dav/dav.h — a CalDAV client (RFC 4791 over WebDAV, RFC 4918): discovery
 * of a user's calendars (RFC 6764 well-known URI, RFC 5397 principal,
 * calendar-home-set) and the writes of one event (PUT with If-Match /
 * If-None-Match, DELETE). HTTP goes through net/ (time-outs, TLS, size
 * caps, SSRF guard, same-origin redirects); XML through dav/xml.c. Knows
 * nothing of bookings or of the store: connectors/ and api/ use it.
 * Thread-safe; every call blocks for at most a few request time-outs. */
#ifndef BK_DAV_DAV_H
#define BK_DAV_DAV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/err.h"
#include "dav/xml.h"

/* How to reach one account. Borrowed for each call. */
struct bk_dav_client {
    const char *username;
    const char *password; /* sent with HTTP Basic; never logged */
    int connect_timeout_ms;
    int timeout_ms;      /* each request */
    size_t max_response; /* bytes of an answer read; more is an error */
    bool allow_private;  /* BOOKINGD_CALENDAR_ALLOW_PRIVATE */
};

/* A calendar collection that holds events. */
struct bk_dav_calendar {
    const char *url;  /* absolute, ends with '/' */
    const char *name; /* displayname, or the last path segment */
};

struct bk_dav_discovery {
    const char *principal_url; /* NULL when the server has none */
    const char *home_url;      /* the calendar home, or NULL */
    struct bk_dav_calendar *calendars;
    size_t n;
};

/* Finds the calendars of the account at url: a server root (tried at
 * /.well-known/caldav first, then as given), a principal, a calendar home
 * or one calendar. Errors (err says what the server said, never the
 * password): BK_E_INVALID for a URL refused or a redirect elsewhere,
 * BK_E_UNAUTHORIZED for 401/403 (the credentials), BK_E_IO when the server
 * cannot be reached, BK_E_MALFORMED / BK_E_TOO_LARGE for an answer that is
 * not a multistatus or too big, BK_E_NOT_FOUND when no calendar holding
 * VEVENTs was found. Strings in arena. */
BK_MUST_CHECK enum bk_err bk_dav_discover(const struct bk_dav_client *c,
                                          const char *url,
                                          struct bk_arena *arena,
                                          struct bk_dav_discovery *out,
                                          struct bk_errbuf *err);

/* PUTs ics (text/calendar) at url: with If-None-Match: * when create,
 * else with If-Match: if_match (NULL: unconditional). *status gets the
 * HTTP status (201/204 stored, 412 precondition failed, ...), *etag the new
 * ETag when the server sent one (NULL otherwise). BK_OK whenever an answer
 * arrived; errors as bk_dav_discover's for the transport. */
BK_MUST_CHECK enum bk_err bk_dav_put(const struct bk_dav_client *c,
                                     const char *url, const char *ics,
                                     bool create, const char *if_match,
                                     struct bk_arena *arena, int *status,
                                     const char **etag, struct bk_errbuf *err);

/* DELETEs url (If-Match: if_match unless NULL). *status as bk_dav_put. */
BK_MUST_CHECK enum bk_err bk_dav_delete(const struct bk_dav_client *c,
                                        const char *url, const char *if_match,
                                        struct bk_arena *arena, int *status,
                                        struct bk_errbuf *err);

/* GETs url: *status, *body (NUL-ended, in arena) and *etag (or NULL).
 * BK_E_TOO_LARGE for an answer above c->max_response. */
BK_MUST_CHECK enum bk_err bk_dav_get(const struct bk_dav_client *c,
                                     const char *url, struct bk_arena *arena,
                                     int *status, const char **body,
                                     const char **etag, struct bk_errbuf *err);

/* The collection's change marks: its DAV:sync-token (RFC 6578 §4) and its
 * CS:getctag, each NULL when the server has none. */
BK_MUST_CHECK enum bk_err
bk_dav_collection_state(const struct bk_dav_client *c, const char *url,
                        struct bk_arena *arena, const char **sync_token,
                        const char **ctag, struct bk_errbuf *err);

/* RFC 6578 sync-collection REPORT on url since token (sync-level 1,
 * getetag). *status: 207 with *ms filled (members changed or removed,
 * ms->sync_token the new token); otherwise the server refused the token
 * or the report (403/409 valid-sync-token, 400, 501 ...): the caller
 * reads the whole calendar (a 403 is not BK_E_UNAUTHORIZED here: the
 * calendar-query that follows tells a refused account). 401 is
 * BK_E_UNAUTHORIZED; transport errors as bk_dav_discover's. */
BK_MUST_CHECK enum bk_err
bk_dav_sync_collection(const struct bk_dav_client *c, const char *url,
                       const char *token, struct bk_arena *arena, int *status,
                       struct bk_dav_multistatus *ms, struct bk_errbuf *err);

/* RFC 4791 §7.8 calendar-query REPORT (Depth 1): the VEVENTs of the
 * calendar url overlapping [from_utc, to_utc), with getetag and
 * calendar-data. BK_E_INVALID with what the server said for a status
 * other than 207; BK_E_UNAUTHORIZED for 401/403. */
BK_MUST_CHECK enum bk_err
bk_dav_calendar_query(const struct bk_dav_client *c, const char *url,
                      int64_t from_utc, int64_t to_utc, struct bk_arena *arena,
                      struct bk_dav_multistatus *ms, struct bk_errbuf *err);

/* RFC 4791 §7.9 calendar-multiget REPORT: getetag and calendar-data of
 * the members hrefs[0..n) (as the server wrote them) of the calendar url.
 * Errors as bk_dav_calendar_query's. */
BK_MUST_CHECK enum bk_err
bk_dav_multiget(const struct bk_dav_client *c, const char *url,
                const char *const *hrefs, size_t n, struct bk_arena *arena,
                struct bk_dav_multistatus *ms, struct bk_errbuf *err);

/* "HTTP 401: <the answer's first printable characters>" for a refusal,
 * in arena: what a person may read (never a credential). */
const char *bk_dav_describe(int status, const char *body,
                            struct bk_arena *arena);

#endif
