/* dav/xml.h — WebDAV multistatus answers (RFC 4918 §13) read into plain
 * structs: the properties CalDAV discovery and sync need (RFC 4791, RFC
 * 5397, RFC 6578, calendarserver's getctag). The only place that sees
 * libxml2. Building requests is dav.c's (they are constant texts). */
#ifndef BK_DAV_XML_H
#define BK_DAV_XML_H

#include <stdbool.h>
#include <stddef.h>

#include "base/arena.h"
#include "base/err.h"

/* The most <response> elements read from one answer. */
#define BK_DAV_MAX_RESPONSES 10000

/* One <response>: the properties found (propstat with a 2xx status), each
 * NULL or false when absent. Strings in the arena. */
struct bk_dav_response {
    const char *href;
    int status; /* the response's own <status> (sync-collection: 404 for
                   a member removed); 0 when it has propstats */
    const char *displayname;
    const char *etag;           /* getetag */
    const char *ctag;           /* CS:getctag */
    const char *principal_href; /* current-user-principal/href */
    const char *home_href;      /* C:calendar-home-set/href (the first) */
    const char *calendar_data;  /* C:calendar-data */
    const char *sync_token;     /* the DAV:sync-token property (RFC 6578 §4) */
    bool is_collection;         /* resourcetype has collection */
    bool is_calendar;           /* resourcetype has C:calendar */
    bool has_comp_set;          /* C:supported-calendar-component-set */
    bool vevent;                /* ... which names VEVENT */
};

struct bk_dav_multistatus {
    struct bk_dav_response *responses;
    size_t n;
    const char *sync_token; /* RFC 6578 §6.4; NULL when absent */
};

/* Parses body (len bytes; the caller has capped len) as a multistatus.
 * A document type declaration is refused (WebDAV has no use for one, and
 * entity expansion is how XML bombs work); the network is never used.
 * BK_E_MALFORMED for text that is not XML or not a DAV:multistatus;
 * BK_E_TOO_LARGE past BK_DAV_MAX_RESPONSES responses. */
BK_MUST_CHECK enum bk_err
bk_dav_parse_multistatus(const char *body, size_t len, struct bk_arena *arena,
                         struct bk_dav_multistatus *out, struct bk_errbuf *err);

#endif
