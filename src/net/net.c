/* net/net.c — one bounded, SSRF-guarded POST over libcurl (net.h). What is
 * sent and what an answer means belong to the caller (connectors/). */
#include <arpa/inet.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/str.h"
#include "base/time.h"
#include "net/limits.h"
#include "net/net.h"
#include "base/banned.h"

enum bk_err bk_net_global_init(struct bk_errbuf *err)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return bk_fail(err, BK_E_INTERNAL, "libcurl cannot be initialized");
    return BK_OK;
}

static bool v4_is_public(uint32_t a)
{
    static const struct {
        uint32_t net, mask;
    } blocked[] = {
        {0x00000000, 0xff000000}, /* 0.0.0.0/8 "this network" */
        {0x0a000000, 0xff000000}, /* 10/8 private */
        {0x64400000, 0xffc00000}, /* 100.64/10 shared (CGNAT) */
        {0x7f000000, 0xff000000}, /* 127/8 loopback */
        {0xa9fe0000, 0xffff0000}, /* 169.254/16 link-local */
        {0xac100000, 0xfff00000}, /* 172.16/12 private */
        {0xc0000000, 0xffffff00}, /* 192.0.0/24 protocol assignments */
        {0xc0000200, 0xffffff00}, /* 192.0.2/24 documentation */
        {0xc0a80000, 0xffff0000}, /* 192.168/16 private */
        {0xc6120000, 0xfffe0000}, /* 198.18/15 benchmarking */
        {0xc6336400, 0xffffff00}, /* 198.51.100/24 documentation */
        {0xcb007100, 0xffffff00}, /* 203.0.113/24 documentation */
        {0xe0000000, 0xf0000000}, /* 224/4 multicast */
        {0xf0000000, 0xf0000000}, /* 240/4 reserved, broadcast */
    };

    for (size_t i = 0; i < sizeof(blocked) / sizeof(blocked[0]); i++)
        if ((a & blocked[i].mask) == blocked[i].net)
            return false;
    return true;
}

bool bk_net_addr_is_public(const struct sockaddr *addr)
{
    if (addr->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
        return v4_is_public(ntohl(in->sin_addr.s_addr));
    }
    if (addr->sa_family == AF_INET6) {
        const unsigned char *b =
            ((const struct sockaddr_in6 *)addr)->sin6_addr.s6_addr;
        static const unsigned char zero[16],
            mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        static const unsigned char nat64[12] = {0x00, 0x64, 0xff, 0x9b};
        if (memcmp(b, zero, 15) == 0) /* :: and ::1 */
            return false;
        if (memcmp(b, mapped, 12) == 0 || memcmp(b, nat64, 12) == 0 ||
            memcmp(b, zero, 12) == 0) { /* IPv4 inside: judge that one */
            uint32_t v4 = ((uint32_t)b[12] << 24) | ((uint32_t)b[13] << 16) |
                          ((uint32_t)b[14] << 8) | b[15];
            return v4_is_public(v4);
        }
        if ((b[0] & 0xfe) == 0xfc) /* fc00::/7 unique local */
            return false;
        if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) /* fe80::/10 */
            return false;
        if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) /* fec0::/10 site-local */
            return false;
        if (b[0] == 0xff) /* multicast */
            return false;
        if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)
            return false; /* 2001:db8::/32 documentation */
        return true;
    }
    return false;
}

/* A host given as an address literal, or NULL's false. */
static bool literal_addr(const char *host, struct sockaddr_storage *ss)
{
    char h[64];
    size_t n = strlen(host);

    memset(ss, 0, sizeof(*ss));
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof(h)) {
        memcpy(h, host + 1, n - 2);
        h[n - 2] = '\0';
    } else if (n < sizeof(h)) {
        memcpy(h, host, n + 1);
    } else {
        return false;
    }
    if (inet_pton(AF_INET, h, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
        ss->ss_family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, h, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
        ss->ss_family = AF_INET6;
        return true;
    }
    return false;
}

/* The parts of url the client needs; strings in arena. */
struct parsed {
    const char *scheme, *host;
    long port;
};

static enum bk_err parse_url_env(const char *url, bool allow_private,
                                 const char *env, struct bk_arena *arena,
                                 struct parsed *out, struct bk_errbuf *err)
{
    CURLU *u = NULL;
    char *scheme = NULL, *host = NULL, *port = NULL, *user = NULL, *pass = NULL,
         *frag = NULL;
    struct sockaddr_storage ss;
    enum bk_err e = BK_OK;
    size_t n;

    if (!url || !*url)
        return bk_fail(err, BK_E_INVALID, "the URL is empty");
    n = strlen(url);
    if (n > BK_NET_URL_MAX)
        return bk_fail(err, BK_E_INVALID, "the URL is longer than %d bytes",
                       BK_NET_URL_MAX);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)url[i] <= 0x20 || url[i] == 0x7f)
            return bk_fail(err, BK_E_INVALID,
                           "the URL has a space or a control character");
    /* curl's parser forgives "https:///x" (and reads a host into it). */
    {
        const char *sep = strstr(url, "://");
        if (!sep || sep[3] == '/' || sep[3] == '\0')
            return bk_fail(err, BK_E_INVALID,
                           "not an absolute URL with a host");
    }
    u = curl_url();
    if (!u)
        return bk_fail(err, BK_E_INTERNAL, "out of memory");
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host ||
        !*host) {
        e = bk_fail(err, BK_E_INVALID, "not an absolute URL with a host");
        goto out;
    }
    if (strcasecmp(scheme, "https") != 0 &&
        !(allow_private && strcasecmp(scheme, "http") == 0)) {
        e = bk_fail(err, BK_E_INVALID, "%s",
                    allow_private ? "the URL must be http or https"
                                  : "the URL must be https");
        goto out;
    }
    if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
        curl_url_get(u, CURLUPART_PASSWORD, &pass, 0) == CURLUE_OK) {
        e = bk_fail(err, BK_E_INVALID,
                    "the URL may not carry a user name or password");
        goto out;
    }
    if (curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0) == CURLUE_OK) {
        e = bk_fail(err, BK_E_INVALID, "the URL may not have a fragment");
        goto out;
    }
    if (!allow_private &&
        (strcasecmp(host, "localhost") == 0 ||
         (strlen(host) > 10 &&
          strcasecmp(host + strlen(host) - 10, ".localhost") == 0) ||
         (literal_addr(host, &ss) &&
          !bk_net_addr_is_public((struct sockaddr *)&ss)))) {
        e = bk_fail(err, BK_E_INVALID,
                    "the URL's host is not a public address (set "
                    "%s=1 to allow it)",
                    env ? env : "BOOKINGD_WEBHOOK_ALLOW_PRIVATE");
        goto out;
    }
    if (curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) !=
        CURLUE_OK) {
        e = bk_fail(err, BK_E_INVALID, "the URL has no port");
        goto out;
    }
    if (out) {
        int64_t p = 0;
        if (bk_parse_i64(port, 1, 65535, &p) != BK_OK) {
            e = bk_fail(err, BK_E_INVALID, "the URL's port is out of range");
            goto out;
        }
        out->scheme = bk_arena_strdup(arena, scheme);
        out->host = bk_arena_strdup(arena, host);
        out->port = (long)p;
    }
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(user);
    curl_free(pass);
    curl_free(frag);
    curl_url_cleanup(u);
    return e;
}

static enum bk_err parse_url(const char *url, bool allow_private,
                             struct bk_arena *arena, struct parsed *out,
                             struct bk_errbuf *err)
{
    return parse_url_env(url, allow_private, NULL, arena, out, err);
}

enum bk_err bk_net_url_check(const char *url, bool allow_private,
                             struct bk_errbuf *err)
{
    return parse_url(url, allow_private, NULL, NULL, err);
}

/* Resolves host and checks every address; *pin gets the first one as
 * CURLOPT_RESOLVE wants it ("host:port:addr"). */
static enum bk_err resolve_pinned(const struct parsed *u, bool allow_private,
                                  char *pin, size_t pin_size,
                                  struct bk_errbuf *err)
{
    struct addrinfo hints, *res = NULL;
    char addr[INET6_ADDRSTRLEN], host[256];
    const char *h = u->host;
    size_t n = strlen(h);
    enum bk_err e = BK_OK;
    int rc;

    /* getaddrinfo wants an IPv6 literal without its brackets. */
    if (n >= 2 && h[0] == '[' && h[n - 1] == ']' && n - 2 < sizeof(host)) {
        memcpy(host, h + 1, n - 2);
        host[n - 2] = '\0';
    } else if (n < sizeof(host)) {
        memcpy(host, h, n + 1);
    } else {
        return bk_fail(err, BK_E_INVALID, "the URL's host name is too long");
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0 || !res)
        return bk_fail(err, BK_E_IO, "cannot resolve %s: %s", host,
                       gai_strerror(rc));
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
        if (!allow_private && !bk_net_addr_is_public(ai->ai_addr)) {
            e = bk_fail(err, BK_E_INVALID,
                        "%s resolves to a non-public address", host);
            goto out;
        }
    if (res->ai_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr,
                  addr, sizeof(addr));
    else
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)res->ai_addr)->sin6_addr,
                  addr, sizeof(addr));
    snprintf(pin, pin_size,
             res->ai_family == AF_INET6 ? "%s:%ld:[%s]" : "%s:%ld:%s", host,
             u->port, addr);
out:
    freeaddrinfo(res);
    return e;
}

struct sink {
    struct bk_buf buf;
    size_t max;
    bool truncated;
};

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
    struct sink *s = ctx;
    size_t len = size * n, room = s->max - s->buf.len;

    if (len > room) {
        /* Enough of an answer: stop reading rather than hold more. */
        if (room && bk_buf_append(&s->buf, p, room) != BK_OK)
            return 0;
        s->truncated = true;
        return 0;
    }
    if (bk_buf_append(&s->buf, p, len) != BK_OK)
        return 0;
    return len;
}

/* Headers kept from an answer (the last hop's). */
struct heads {
    struct bk_arena *arena;
    const char *etag, *location, *content_type, *retry_after;
};

/* A header's value with its blanks trimmed, or NULL when line is not
 * `name`. */
static const char *header_value(const char *line, size_t n, const char *name,
                                struct bk_arena *arena)
{
    size_t k = strlen(name), a, b;
    char *v;

    if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':')
        return NULL;
    a = k + 1;
    b = n;
    while (a < b && (line[a] == ' ' || line[a] == '\t'))
        a++;
    while (b > a && (line[b - 1] == '\r' || line[b - 1] == '\n' ||
                     line[b - 1] == ' ' || line[b - 1] == '\t'))
        b--;
    if (b - a > BK_NET_URL_MAX) /* no header worth keeping is longer */
        return NULL;
    v = bk_arena_alloc(arena, b - a + 1);
    memcpy(v, line + a, b - a);
    v[b - a] = '\0';
    return v;
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
    struct heads *h = ctx;
    size_t len = size * n;
    const char *v;

    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) { /* a new answer */
        h->etag = h->location = h->content_type = h->retry_after = NULL;
        return len;
    }
    if ((v = header_value(p, len, "ETag", h->arena)))
        h->etag = v;
    else if ((v = header_value(p, len, "Location", h->arena)))
        h->location = v;
    else if ((v = header_value(p, len, "Content-Type", h->arena)))
        h->content_type = v;
    else if ((v = header_value(p, len, "Retry-After", h->arena)))
        h->retry_after = v;
    return len;
}

enum bk_err bk_net_url_join(const char *base, const char *href,
                            struct bk_arena *arena, const char **out,
                            struct bk_errbuf *err)
{
    CURLU *u = curl_url();
    char *s = NULL;
    enum bk_err e = BK_OK;

    *out = NULL;
    if (!u)
        return bk_fail(err, BK_E_INTERNAL, "out of memory");
    if (!href || strlen(href) > BK_NET_URL_MAX ||
        curl_url_set(u, CURLUPART_URL, base, 0) != CURLUE_OK ||
        curl_url_set(u, CURLUPART_URL, href, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_URL, &s, 0) != CURLUE_OK) {
        e = bk_fail(err, BK_E_INVALID, "not a URL reference: %.80s",
                    href ? href : "(none)");
        goto out;
    }
    *out = bk_arena_strdup(arena, s);
out:
    curl_free(s);
    curl_url_cleanup(u);
    return e;
}

bool bk_net_same_origin(const char *a, const char *b)
{
    struct bk_arena arena;
    struct parsed pa, pb;
    bool same;

    bk_arena_init(&arena);
    same = parse_url(a, true, &arena, &pa, NULL) == BK_OK &&
           parse_url(b, true, &arena, &pb, NULL) == BK_OK &&
           strcasecmp(pa.scheme, pb.scheme) == 0 &&
           strcasecmp(pa.host, pb.host) == 0 && pa.port == pb.port;
    bk_arena_release(&arena);
    return same;
}

/* One hop of r to url. */
static enum bk_err one_hop(const struct bk_net_request *r, const char *url,
                           struct bk_arena *arena, struct bk_net_response *out,
                           struct bk_errbuf *err)
{
    CURL *c = NULL;
    struct curl_slist *hdrs = NULL, *pin = NULL;
    struct parsed u;
    struct sink sink;
    struct heads heads = {arena, NULL, NULL, NULL, NULL};
    char pinned[600], cerr[CURL_ERROR_SIZE], ct[160];
    long status = 0;
    enum bk_err e;
    CURLcode rc;

    bk_buf_init(&sink.buf, r->max_response + 1);
    sink.max = r->max_response;
    sink.truncated = false;
    cerr[0] = '\0';
    if ((e = parse_url_env(url, r->allow_private, r->allow_private_env, arena,
                           &u, err)) ||
        (e = resolve_pinned(&u, r->allow_private, pinned, sizeof(pinned), err)))
        goto out;
    c = curl_easy_init();
    if (!c) {
        e = bk_fail(err, BK_E_INTERNAL, "libcurl: no handle");
        goto out;
    }
    pin = curl_slist_append(NULL, pinned);
    if (r->content_type) {
        snprintf(ct, sizeof(ct), "Content-Type: %s", r->content_type);
        hdrs = curl_slist_append(hdrs, ct);
    }
    hdrs = curl_slist_append(hdrs, "Expect:");
    for (size_t i = 0; i < r->n_headers; i++)
        hdrs = curl_slist_append(hdrs, r->headers[i]);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_RESOLVE, pin);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR,
                     r->allow_private ? "http,https" : "https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)r->connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)r->timeout_ms);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    if (strcmp(r->method, "GET") == 0) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(r->method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
    } else {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
        if (strcmp(r->method, "DELETE") == 0 && !r->body)
            curl_easy_setopt(c, CURLOPT_NOBODY, 0L);
    }
    if (r->body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)r->body_len);
    }
    if (r->username) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERNAME, r->username);
        curl_easy_setopt(c, CURLOPT_PASSWORD, r->password ? r->password : "");
    }
    curl_easy_setopt(c, CURLOPT_USERAGENT,
                     r->user_agent ? r->user_agent : "bookingd/1");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &heads);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK &&
        !(rc == CURLE_WRITE_ERROR && sink.truncated && status > 0)) {
        e = bk_fail(err, BK_E_IO, "%s",
                    cerr[0] ? cerr : curl_easy_strerror(rc));
        goto out;
    }
    out->status = (int)status;
    out->truncated = sink.truncated;
    out->etag = heads.etag;
    out->location = heads.location;
    out->content_type = heads.content_type;
    /* Retry-After in seconds (RFC 9110 delay-seconds; an HTTP-date is
     * taken as absent), bounded to a day. */
    if (heads.retry_after && *heads.retry_after &&
        strlen(heads.retry_after) <= 9 &&
        strspn(heads.retry_after, "0123456789") == strlen(heads.retry_after))
        out->retry_after_s = (int)strtol(heads.retry_after, NULL, 10);
    if (out->retry_after_s > 86400)
        out->retry_after_s = 86400;
    out->url = bk_arena_strdup(arena, url);
    out->body_len = sink.buf.len;
    out->body = bk_arena_alloc(arena, sink.buf.len + 1);
    if (sink.buf.len)
        memcpy((char *)out->body, sink.buf.data, sink.buf.len);
    ((char *)out->body)[sink.buf.len] = '\0';
out:
    curl_slist_free_all(hdrs);
    curl_slist_free_all(pin);
    curl_easy_cleanup(c);
    bk_buf_release(&sink.buf);
    return e;
}

enum bk_err bk_net_request(const struct bk_net_request *r,
                           struct bk_arena *arena, struct bk_net_response *out,
                           struct bk_errbuf *err)
{
    const char *url = r->url;
    int64_t t0 = bk_mono_ms();
    struct bk_net_limiter *lim = r->provider ? bk_net_limits() : NULL;
    struct bk_net_ticket ticket;
    enum bk_err e;

    memset(out, 0, sizeof(*out));
    /* The provider's rate limit and circuit breaker (limits.h): BK_E_BUSY
     * before anything is sent. */
    if ((e = bk_net_limiter_acquire(lim, r->provider, &ticket, err))) {
        out->duration_ms = bk_mono_ms() - t0;
        return e;
    }
    for (int hop = 0;; hop++) {
        const char *next = NULL;
        int64_t h0 = bk_mono_ms();
        e = one_hop(r, url, arena, out, err);
        bk_log_debug("net: %s %s: %d (%s) in %" PRId64 " ms, %zu bytes",
                     r->method, url ? url : "(none)", e ? 0 : out->status,
                     e ? bk_err_name(e) : "answered", bk_mono_ms() - h0,
                     e ? (size_t)0 : out->body_len);
        if (e)
            break;
        if (!(out->status == 301 || out->status == 302 || out->status == 303 ||
              out->status == 307 || out->status == 308) ||
            !out->location || hop >= r->max_redirects)
            break;
        if ((e = bk_net_url_join(url, out->location, arena, &next, err)))
            break;
        if (!bk_net_same_origin(url, next)) {
            e = bk_fail(err, BK_E_INVALID,
                        "redirected to another host (%.200s): not followed",
                        next);
            break;
        }
        url = next;
    }
    bk_net_limiter_done(lim, &ticket, e, e ? 0 : out->status,
                        e ? 0 : out->retry_after_s);
    out->duration_ms = bk_mono_ms() - t0;
    return e;
}

enum bk_err bk_net_post(const struct bk_net_post *p, struct bk_arena *arena,
                        struct bk_net_result *out, struct bk_errbuf *err)
{
    struct bk_net_request r;
    struct bk_net_response res;
    enum bk_err e;

    memset(&r, 0, sizeof(r));
    r.url = p->url;
    r.user_agent = p->user_agent ? p->user_agent : "bookingd-webhooks/1";
    if (p->method && strcmp(p->method, "GET") == 0) {
        r.method = "GET";
    } else {
        r.method = "POST";
        r.content_type = p->content_type ? p->content_type : "application/json";
        r.body = p->body ? p->body : "";
        r.body_len = p->body_len;
    }
    r.headers = p->headers;
    r.n_headers = p->n_headers;
    r.connect_timeout_ms = p->connect_timeout_ms;
    r.timeout_ms = p->timeout_ms;
    r.max_response = p->max_response;
    r.allow_private = p->allow_private;
    r.provider = p->provider;
    e = bk_net_request(&r, arena, &res, err);
    memset(out, 0, sizeof(*out));
    out->status = res.status;
    out->duration_ms = res.duration_ms;
    out->body = res.body;
    out->body_len = res.body_len;
    return e;
}
