/* dav/dav.c — the CalDAV client (dav.h): discovery and the writes of one
 * event, over net/. The multistatus parsing is xml.c's. */
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/str.h"
#include "base/time.h"
#include "dav/dav.h"
#include "dav/xml.h"
#include "net/net.h"
#include "base/banned.h"

#define MAX_REDIRECTS 5
/* The longest calendar name kept. */
#define MAX_NAME 200

static const char PROPFIND_DISCOVER[] =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
    "<d:propfind xmlns:d=\"DAV:\" "
    "xmlns:c=\"urn:ietf:params:xml:ns:caldav\" "
    "xmlns:cs=\"http://calendarserver.org/ns/\">"
    "<d:prop><d:current-user-principal/><d:resourcetype/><d:displayname/>"
    "<c:calendar-home-set/><c:supported-calendar-component-set/>"
    "<cs:getctag/></d:prop></d:propfind>";

const char *bk_dav_describe(int status, const char *body,
                            struct bk_arena *arena)
{
    char text[161];
    size_t o = 0;
    bool space = false;

    for (const char *p = body ? body : ""; *p && o < sizeof(text) - 1; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '<') { /* markup: skip to its end */
            const char *q = strchr(p, '>');
            if (!q)
                break;
            p = q;
            space = o > 0;
            continue;
        }
        if (ch < 0x20 || ch == 0x7f) {
            space = o > 0;
            continue;
        }
        if (space && ch != ' ' && o < sizeof(text) - 2)
            text[o++] = ' ';
        space = false;
        if (ch != ' ' || (o && text[o - 1] != ' '))
            text[o++] = (char)ch;
    }
    text[o] = '\0';
    return o ? bk_arena_printf(arena, "HTTP %d: %s", status, text)
             : bk_arena_printf(arena, "HTTP %d", status);
}

/* "caldav:<host[:port]>" of url: each CalDAV server has its own circuit
 * breaker (net/limits.h). */
static const char *provider_of(const char *url, struct bk_arena *arena)
{
    const char *h = url ? strstr(url, "://") : NULL;
    size_t n;

    if (!h)
        return "caldav";
    h += 3;
    n = strcspn(h, "/?#");
    if (memchr(h, '@', n)) /* user info is refused later; no key of it */
        return "caldav";
    return bk_arena_printf(arena, "caldav:%.*s", (int)(n < 48 ? n : 48), h);
}

static enum bk_err send_(const struct bk_dav_client *c, const char *method,
                         const char *url, const char *depth,
                         const char *content_type, const char *body,
                         const char *const *extra, size_t n_extra,
                         struct bk_arena *arena, struct bk_net_response *res,
                         struct bk_errbuf *err)
{
    struct bk_net_request r;
    const char *headers[4];
    char d[16];
    size_t n = 0;
    enum bk_err e;

    if (depth) {
        snprintf(d, sizeof(d), "Depth: %s", depth);
        headers[n++] = d;
    }
    for (size_t i = 0; i < n_extra && n < 4; i++)
        headers[n++] = extra[i];
    memset(&r, 0, sizeof(r));
    r.method = method;
    r.url = url;
    r.content_type = content_type;
    r.body = body;
    r.body_len = body ? strlen(body) : 0;
    r.headers = headers;
    r.n_headers = n;
    r.username = c->username;
    r.password = c->password;
    r.connect_timeout_ms = c->connect_timeout_ms;
    r.timeout_ms = c->timeout_ms;
    r.max_response = c->max_response;
    r.allow_private = c->allow_private;
    r.allow_private_env = "BOOKINGD_CALENDAR_ALLOW_PRIVATE";
    r.max_redirects = MAX_REDIRECTS;
    r.provider = provider_of(url, arena);
    if ((e = bk_net_request(&r, arena, res, err)))
        return e;
    if (res->truncated)
        return bk_fail(err, BK_E_TOO_LARGE,
                       "the server's answer to %s is larger than %zu bytes",
                       method, c->max_response);
    return BK_OK;
}

/* PROPFIND url; *ms the answer. A 401/403 is BK_E_UNAUTHORIZED, any other
 * status but 207 is BK_E_NOT_FOUND (404) or BK_E_INVALID, each with what
 * the server said. */
static enum bk_err propfind(const struct bk_dav_client *c, const char *url,
                            const char *depth, struct bk_arena *arena,
                            const char **answered,
                            struct bk_dav_multistatus *ms,
                            struct bk_errbuf *err)
{
    struct bk_net_response res;
    enum bk_err e;

    if ((e = send_(c, "PROPFIND", url, depth, "application/xml; charset=utf-8",
                   PROPFIND_DISCOVER, NULL, 0, arena, &res, err)))
        return e;
    *answered = res.url;
    if (res.status == 401 || res.status == 403)
        return bk_fail(err, BK_E_UNAUTHORIZED,
                       "the server refused the user name or password (%s)",
                       bk_dav_describe(res.status, res.body, arena));
    if (res.status != 207)
        return bk_fail(err, res.status == 404 ? BK_E_NOT_FOUND : BK_E_INVALID,
                       "PROPFIND %s: %s", url,
                       bk_dav_describe(res.status, res.body, arena));
    if ((e = bk_dav_parse_multistatus(res.body, res.body_len, arena, ms, err)))
        return bk_fail(err, e, "PROPFIND %s: %s", url,
                       err ? bk_arena_strdup(arena, err->msg) : "");
    return BK_OK;
}

/* The response about url itself (the first, as servers put it). */
static const struct bk_dav_response *
self_of(const struct bk_dav_multistatus *ms, const char *base,
        struct bk_arena *arena)
{
    for (size_t i = 0; i < ms->n; i++) {
        const char *abs = NULL;
        if (bk_net_url_join(base, ms->responses[i].href, arena, &abs, NULL) ==
                BK_OK &&
            strcmp(abs, base) == 0)
            return &ms->responses[i];
    }
    return ms->n ? &ms->responses[0] : NULL;
}

static const char *name_of(const struct bk_dav_response *r, const char *url,
                           struct bk_arena *arena)
{
    const char *name = r->displayname;
    if (!name || !*name) {
        size_t n = strlen(url);
        const char *end = n && url[n - 1] == '/' ? url + n - 1 : url + n,
                   *start = end;
        while (start > url && start[-1] != '/')
            start--;
        name = bk_arena_strndup(arena, start, (size_t)(end - start));
    }
    if (strlen(name) > MAX_NAME)
        name = bk_arena_strndup(arena, name, MAX_NAME);
    return name;
}

/* Resolves href against base and requires the same origin. */
static enum bk_err follow(const char *base, const char *href,
                          struct bk_arena *arena, const char **out,
                          struct bk_errbuf *err)
{
    enum bk_err e;

    if ((e = bk_net_url_join(base, href, arena, out, err)))
        return e;
    if (!bk_net_same_origin(base, *out))
        return bk_fail(err, BK_E_INVALID,
                       "the server pointed to another host (%.200s): not "
                       "followed",
                       *out);
    return BK_OK;
}

static enum bk_err list_home(const struct bk_dav_client *c, const char *home,
                             struct bk_arena *arena,
                             struct bk_dav_discovery *out,
                             struct bk_errbuf *err)
{
    struct bk_dav_multistatus ms;
    const char *answered = NULL;
    enum bk_err e;

    if ((e = propfind(c, home, "1", arena, &answered, &ms, err)))
        return e;
    out->home_url = answered;
    out->calendars =
        bk_arena_alloc(arena, (ms.n ? ms.n : 1) * sizeof(*out->calendars));
    out->n = 0;
    for (size_t i = 0; i < ms.n; i++) {
        const struct bk_dav_response *r = &ms.responses[i];
        const char *url = NULL;
        if (!r->is_calendar || (r->has_comp_set && !r->vevent))
            continue;
        if (follow(answered, r->href, arena, &url, NULL) != BK_OK)
            continue; /* another host's, or not a URL: ignored */
        out->calendars[out->n].url = url;
        out->calendars[out->n].name = name_of(r, url, arena);
        out->n++;
    }
    return BK_OK;
}

enum bk_err bk_dav_discover(const struct bk_dav_client *c, const char *url,
                            struct bk_arena *arena,
                            struct bk_dav_discovery *out, struct bk_errbuf *err)
{
    struct bk_dav_multistatus ms;
    const struct bk_dav_response *self;
    const char *answered = NULL, *wk = NULL, *home = NULL;
    enum bk_err e;

    memset(out, 0, sizeof(*out));
    if ((e = bk_net_url_check(url, c->allow_private, err)))
        return e;
    /* RFC 6764 §5: a bare server name is looked up at the well-known URI
     * first; a server without one is asked at the URL itself. */
    if ((e = bk_net_url_join(url, "/.well-known/caldav", arena, &wk, err)))
        return e;
    e = BK_E_NOT_FOUND;
    {
        const char *path = strchr(strstr(url, "://") + 3, '/');
        if (!path || strcmp(path, "/") == 0)
            e = propfind(c, wk, "0", arena, &answered, &ms, err);
    }
    if (e == BK_E_NOT_FOUND || e == BK_E_INVALID) {
        if (err && e == BK_E_INVALID)
            bk_errbuf_clear(err);
        e = propfind(c, url, "0", arena, &answered, &ms, err);
    }
    if (e)
        return e;
    self = self_of(&ms, answered, arena);
    if (self && self->is_calendar && (!self->has_comp_set || self->vevent)) {
        out->calendars = bk_arena_alloc(arena, sizeof(*out->calendars));
        out->calendars[0].url = answered;
        out->calendars[0].name = name_of(self, answered, arena);
        out->n = 1;
        return BK_OK;
    }
    if (self && self->home_href) {
        if ((e = follow(answered, self->home_href, arena, &home, err)))
            return e;
    } else if (self && self->principal_href) {
        const char *principal = NULL;
        if ((e = follow(answered, self->principal_href, arena, &principal,
                        err)) ||
            (e = propfind(c, principal, "0", arena, &answered, &ms, err)))
            return e;
        out->principal_url = answered;
        self = self_of(&ms, answered, arena);
        if (self && self->home_href &&
            (e = follow(answered, self->home_href, arena, &home, err)))
            return e;
    }
    if (!home) /* no principal, no home: the URL may be a home itself */
        home = answered;
    if ((e = list_home(c, home, arena, out, err)))
        return e;
    if (out->n == 0)
        return bk_fail(err, BK_E_NOT_FOUND,
                       "no calendar holding events was found at %.200s (the "
                       "calendar home is %.200s)",
                       url, home);
    return BK_OK;
}

enum bk_err bk_dav_put(const struct bk_dav_client *c, const char *url,
                       const char *ics, bool create, const char *if_match,
                       struct bk_arena *arena, int *status, const char **etag,
                       struct bk_errbuf *err)
{
    struct bk_net_response res;
    const char *h[1];
    size_t n = 0;
    enum bk_err e;

    *status = 0;
    *etag = NULL;
    if (create)
        h[n++] = "If-None-Match: *";
    else if (if_match)
        h[n++] = bk_arena_printf(arena, "If-Match: %s", if_match);
    if ((e = send_(c, "PUT", url, NULL, "text/calendar; charset=utf-8", ics, h,
                   n, arena, &res, err)))
        return e;
    *status = res.status;
    *etag = res.etag;
    return BK_OK;
}

enum bk_err bk_dav_delete(const struct bk_dav_client *c, const char *url,
                          const char *if_match, struct bk_arena *arena,
                          int *status, struct bk_errbuf *err)
{
    struct bk_net_response res;
    const char *h[1];
    size_t n = 0;
    enum bk_err e;

    *status = 0;
    if (if_match)
        h[n++] = bk_arena_printf(arena, "If-Match: %s", if_match);
    if ((e = send_(c, "DELETE", url, NULL, NULL, NULL, h, n, arena, &res, err)))
        return e;
    *status = res.status;
    return BK_OK;
}

enum bk_err bk_dav_get(const struct bk_dav_client *c, const char *url,
                       struct bk_arena *arena, int *status, const char **body,
                       const char **etag, struct bk_errbuf *err)
{
    struct bk_net_response res;
    enum bk_err e;

    *status = 0;
    *body = NULL;
    *etag = NULL;
    if ((e = send_(c, "GET", url, NULL, NULL, NULL, NULL, 0, arena, &res, err)))
        return e;
    *status = res.status;
    *body = res.body;
    *etag = res.etag;
    return BK_OK;
}

/* A REPORT or PROPFIND whose 207 answer is parsed into ms. */
static enum bk_err
multistatus(const struct bk_dav_client *c, const char *method, const char *url,
            const char *depth, const char *body, struct bk_arena *arena,
            int *status, struct bk_dav_multistatus *ms, struct bk_errbuf *err)
{
    struct bk_net_response res;
    enum bk_err e;

    memset(ms, 0, sizeof(*ms));
    *status = 0;
    if ((e = send_(c, method, url, depth, "application/xml; charset=utf-8",
                   body, NULL, 0, arena, &res, err)))
        return e;
    *status = res.status;
    if (res.status == 401 || res.status == 403)
        return bk_fail(err, BK_E_UNAUTHORIZED,
                       "the server refused the user name or password (%s)",
                       bk_dav_describe(res.status, res.body, arena));
    if (res.status != 207)
        return BK_OK; /* the caller decides */
    if ((e = bk_dav_parse_multistatus(res.body, res.body_len, arena, ms, err)))
        /* A copy: err->msg is the buffer being written. */
        return bk_fail(err, e, "%s %s: %s", method, url,
                       err ? bk_arena_strdup(arena, err->msg) : "");
    return BK_OK;
}

enum bk_err bk_dav_collection_state(const struct bk_dav_client *c,
                                    const char *url, struct bk_arena *arena,
                                    const char **sync_token, const char **ctag,
                                    struct bk_errbuf *err)
{
    static const char body[] =
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
        "<d:propfind xmlns:d=\"DAV:\" "
        "xmlns:cs=\"http://calendarserver.org/ns/\"><d:prop><d:sync-token/>"
        "<cs:getctag/></d:prop></d:propfind>";
    struct bk_dav_multistatus ms;
    int status = 0;
    enum bk_err e;

    *sync_token = *ctag = NULL;
    if ((e = multistatus(c, "PROPFIND", url, "0", body, arena, &status, &ms,
                         err)))
        return e;
    if (status != 207)
        return bk_fail(err, BK_E_INVALID, "PROPFIND %s: HTTP %d", url, status);
    if (ms.n) {
        *sync_token = ms.responses[0].sync_token;
        *ctag = ms.responses[0].ctag;
    }
    return BK_OK;
}

/* Text content safe inside an XML element: &, < and > escaped. */
static const char *xml_text(const char *s, struct bk_arena *arena)
{
    size_t n = 0;
    char *out, *o;

    for (const char *p = s; *p; p++)
        n += *p == '&' ? 5 : (*p == '<' || *p == '>') ? 4 : 1;
    out = o = bk_arena_alloc(arena, n + 1);
    for (const char *p = s; *p; p++) {
        const char *r = *p == '&'   ? "&amp;"
                        : *p == '<' ? "&lt;"
                        : *p == '>' ? "&gt;"
                                    : NULL;
        if (r) {
            memcpy(o, r, strlen(r));
            o += strlen(r);
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return out;
}

enum bk_err bk_dav_sync_collection(const struct bk_dav_client *c,
                                   const char *url, const char *token,
                                   struct bk_arena *arena, int *status,
                                   struct bk_dav_multistatus *ms,
                                   struct bk_errbuf *err)
{
    enum bk_err e;
    const char *body = bk_arena_printf(
        arena,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
        "<d:sync-collection xmlns:d=\"DAV:\"><d:sync-token>%s</d:sync-token>"
        "<d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop>"
        "</d:sync-collection>",
        xml_text(token ? token : "", arena));

    e = multistatus(c, "REPORT", url, NULL, body, arena, status, ms, err);
    /* 403 is how RFC 6578 §3.2 refuses a token (DAV:valid-sync-token:
     * expired, or forgotten, as Radicale forgets tokens unused for 30
     * days), not the account: the caller reads the whole calendar, whose
     * calendar-query tells a refused account (BK_E_UNAUTHORIZED). */
    if (e == BK_E_UNAUTHORIZED && *status == 403) {
        bk_errbuf_clear(err);
        return BK_OK;
    }
    return e;
}

static void ical_utc(int64_t t, char out[64])
{
    int y, m, d;
    int64_t days = bk_floordiv(t, 86400), s = t - days * 86400;

    bk_civil_from_days(days, &y, &m, &d);
    snprintf(out, 64, "%04d%02d%02dT%02d%02d%02dZ", y, m, d, (int)(s / 3600),
             (int)(s / 60 % 60), (int)(s % 60));
}

enum bk_err bk_dav_calendar_query(const struct bk_dav_client *c,
                                  const char *url, int64_t from_utc,
                                  int64_t to_utc, struct bk_arena *arena,
                                  struct bk_dav_multistatus *ms,
                                  struct bk_errbuf *err)
{
    char from[64], to[64];
    const char *body;
    int status = 0;
    enum bk_err e;

    ical_utc(from_utc, from);
    ical_utc(to_utc, to);
    body = bk_arena_printf(
        arena,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
        "<c:calendar-query xmlns:d=\"DAV:\" "
        "xmlns:c=\"urn:ietf:params:xml:ns:caldav\"><d:prop><d:getetag/>"
        "<c:calendar-data/></d:prop><c:filter><c:comp-filter "
        "name=\"VCALENDAR\"><c:comp-filter name=\"VEVENT\"><c:time-range "
        "start=\"%s\" end=\"%s\"/></c:comp-filter></c:comp-filter>"
        "</c:filter></c:calendar-query>",
        from, to);
    if ((e = multistatus(c, "REPORT", url, "1", body, arena, &status, ms, err)))
        return e;
    if (status != 207)
        return bk_fail(err, BK_E_INVALID, "calendar-query %s: HTTP %d", url,
                       status);
    return BK_OK;
}

enum bk_err bk_dav_multiget(const struct bk_dav_client *c, const char *url,
                            const char *const *hrefs, size_t n,
                            struct bk_arena *arena,
                            struct bk_dav_multistatus *ms,
                            struct bk_errbuf *err)
{
    struct bk_buf b;
    const char *body;
    int status = 0;
    enum bk_err e;

    bk_buf_init(&b, 4 << 20);
    e = bk_buf_appendf(
        &b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
            "<c:calendar-multiget xmlns:d=\"DAV:\" "
            "xmlns:c=\"urn:ietf:params:xml:ns:caldav\"><d:prop><d:getetag/>"
            "<c:calendar-data/></d:prop>");
    for (size_t i = 0; !e && i < n; i++)
        e = bk_buf_appendf(&b, "<d:href>%s</d:href>",
                           xml_text(hrefs[i], arena));
    if (!e)
        e = bk_buf_appendf(&b, "</c:calendar-multiget>");
    body = e ? NULL : bk_arena_strndup(arena, b.data, b.len);
    bk_buf_release(&b);
    if (e)
        return bk_fail(err, e, "a calendar-multiget too large to send");
    if ((e = multistatus(c, "REPORT", url, "1", body, arena, &status, ms, err)))
        return e;
    if (status != 207)
        return bk_fail(err, BK_E_INVALID, "calendar-multiget %s: HTTP %d", url,
                       status);
    return BK_OK;
}
