/* net/net.h — the outbound HTTP client (libcurl), for connectors: one
 * request (POST, GET, PUT, DELETE, PROPFIND, REPORT ...) with bounded time
 * and size, TLS verified, redirects followed only within one origin and a
 * few times, no proxies, and
 * a guard against server-side request forgery: the URL's host is resolved
 * here, every address must be public (unless private ones are allowed),
 * and the request goes to the address checked (CURLOPT_RESOLVE), so a DNS
 * answer that changes between the check and the connection cannot send it
 * elsewhere. The only place besides connectors/ that sees libcurl. */
#ifndef BK_NET_NET_H
#define BK_NET_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/arena.h"
#include "base/err.h"

/* Initializes libcurl once for the process: call from the main thread
 * before any other thread runs. BK_E_INTERNAL when libcurl cannot. */
BK_MUST_CHECK enum bk_err bk_net_global_init(struct bk_errbuf *err);

/* The longest URL accepted. */
#define BK_NET_URL_MAX 2048

/* Checks url without network access: an absolute https URL (http too when
 * allow_private), with a host, no user name or password, no fragment, at
 * most BK_NET_URL_MAX bytes, no spaces or control characters; a host that
 * is an IP address (or "localhost") must be public unless allow_private.
 * BK_E_INVALID with a one-line reason otherwise. */
BK_MUST_CHECK enum bk_err bk_net_url_check(const char *url, bool allow_private,
                                           struct bk_errbuf *err);

/* Whether addr (AF_INET or AF_INET6) may be reached from the internet:
 * false for unspecified, loopback, private (RFC 1918), shared (RFC 6598),
 * link-local, unique local (fc00::/7), multicast, documentation,
 * benchmarking and reserved ranges, and IPv4-mapped forms of them. */
bool bk_net_addr_is_public(const struct sockaddr *addr);

struct bk_net_post {
    const char *url;
    const char *method;       /* NULL or "POST": POST the body; "GET": no
                                 body */
    const char *content_type; /* of the body; NULL: application/json */
    const char *user_agent;   /* NULL: "bookingd-webhooks/1" */
    const char *body;
    size_t body_len;
    const char *const *headers; /* "Name: value", borrowed */
    size_t n_headers;
    int connect_timeout_ms; /* > 0 */
    int timeout_ms;         /* the whole request, > 0 */
    size_t max_response;    /* bytes of the answer's body kept and read */
    bool allow_private;     /* http and non-public addresses allowed */
    const char *provider;   /* as bk_net_request.provider; NULL: none */
};

struct bk_net_result {
    int status;          /* HTTP status; 0 when none arrived */
    int64_t duration_ms; /* from the start to the end of the request */
    const char *body;    /* the answer's first bytes (in arena), NUL-ended */
    size_t body_len;
};

/* One request of any method. Redirects (301, 302, 303, 307, 308) are
 * followed up to max_redirects times, with the same method and body (what
 * WebDAV clients do), and only to the same scheme, host and port: a
 * redirect elsewhere is BK_E_INVALID (credentials are never sent to
 * another host); each hop's URL passes the same checks as the first. */
struct bk_net_request {
    const char *method; /* "GET", "PUT", "PROPFIND" ... */
    const char *url;
    const char *content_type; /* of body; NULL: no Content-Type */
    const char *body;         /* NULL: no body */
    size_t body_len;
    const char *const *headers; /* "Name: value", borrowed */
    size_t n_headers;
    const char *username;   /* HTTP Basic (RFC 7617) when not NULL; never */
    const char *password;   /* logged or put into an error message */
    const char *user_agent; /* NULL: "bookingd/1" */
    int connect_timeout_ms; /* > 0 */
    int timeout_ms;         /* each hop, > 0 */
    size_t max_response;    /* bytes of the answer's body kept and read */
    bool allow_private;     /* http and non-public addresses allowed */
    const char *allow_private_env; /* the switch named when refused; NULL:
                                      BOOKINGD_WEBHOOK_ALLOW_PRIVATE */
    int max_redirects;             /* 0: none followed */
    const char *provider;          /* the provider's name ("stripe", "zoom",
                                      "notion" ...) whose rate limit and circuit
                                      breaker the request counts against
                                      (net/limits.h): BK_E_RATE_LIMITED before sending
                                      when its breaker is open or no token comes
                                      in time; NULL: none */
};

struct bk_net_response {
    int status;          /* HTTP status; 0 when none arrived */
    int64_t duration_ms; /* from the start to the end of every hop */
    const char *body;    /* the answer's first bytes (in arena), NUL-ended */
    size_t body_len;
    bool truncated;           /* the body was longer than max_response */
    const char *etag;         /* the ETag header, or NULL */
    const char *location;     /* the Location header, or NULL */
    const char *content_type; /* the Content-Type header, or NULL */
    int retry_after_s;        /* Retry-After in seconds; 0 when absent */
    const char *url;          /* the URL answered (after redirects) */
};

/* Sends r. Errors as bk_net_post; BK_E_INVALID also for a redirect to
 * another origin. Strings of out live in arena. Thread-safe. */
BK_MUST_CHECK enum bk_err bk_net_request(const struct bk_net_request *r,
                                         struct bk_arena *arena,
                                         struct bk_net_response *out,
                                         struct bk_errbuf *err);

/* Resolves href (absolute, or relative as in an HTML or WebDAV answer)
 * against base (RFC 3986 §5.2), into arena. BK_E_INVALID when it cannot. */
BK_MUST_CHECK enum bk_err bk_net_url_join(const char *base, const char *href,
                                          struct bk_arena *arena,
                                          const char **out,
                                          struct bk_errbuf *err);

/* Whether a and b have the same scheme, host and port. */
bool bk_net_same_origin(const char *a, const char *b);

/* POSTs p->body to p->url. BK_OK when an HTTP answer arrived (whatever its
 * status); BK_E_INVALID when the URL or its addresses are refused (a
 * permanent error); BK_E_IO for failures to resolve, connect, verify TLS or
 * finish in time (err says which). out->duration_ms is set in every case.
 * Thread-safe; blocks the calling thread for at most about
 * p->timeout_ms plus the name lookup. */
BK_MUST_CHECK enum bk_err bk_net_post(const struct bk_net_post *p,
                                      struct bk_arena *arena,
                                      struct bk_net_result *out,
                                      struct bk_errbuf *err);

#endif
