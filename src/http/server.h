/* http/server.h — the HTTP/1.1 server: libmicrohttpd's epoll event loop
 * on a bounded pool of threads. It reads a request with its body (capped),
 * calls one handler, and sends the response with an X-Request-Id header.
 * A handler that must wait without holding a thread answers later
 * (bk_http_defer, http.h). Connections are bounded in number, per client
 * address, and in the time a whole request may take to arrive. */
#ifndef BK_HTTP_SERVER_H
#define BK_HTTP_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "http/http.h"

struct bk_http_server;

/* Open files kept free of connections (database, log, pipes, epoll):
 * max_connections is lowered so that it plus this fits the limit. */
#define BK_HTTP_FD_RESERVE 256

struct bk_http_server_config {
    const char *listen;  /* "127.0.0.1:8080", "[::1]:8080", port 0 = any */
    size_t max_body;     /* bytes; bodies past it give body_error */
    int threads;         /* event-loop threads, >= 1 */
    int max_connections; /* concurrent connections, all clients */
    int max_connections_per_ip; /* of one client address; 0 = no limit */
    int timeout_s;              /* a connection without any traffic for
                                   this long is closed */
    /* A request's line, headers and body must all have arrived within
     * this many milliseconds of the connection being ready for it (accept,
     * or the end of the previous response on a kept-alive connection),
     * however steadily bytes trickle in; otherwise the connection is
     * closed. */
    int64_t request_deadline_ms;
    bk_http_handler_fn handler;
    void *ctx;                         /* passed to handler, borrowed */
    bk_http_observe_fn observe;        /* may be NULL; gets ctx too */
    struct bk_http_counters *counters; /* may be NULL; borrowed */
};

/* Parses "HOST:PORT" ("[V6]:PORT") and checks it. BK_E_CONFIG with a
 * message when it is not an IP literal and a port 0..65535. */
BK_MUST_CHECK enum bk_err bk_http_listen_check(const char *listen,
                                               struct bk_errbuf *err);

/* Binds and starts serving on background threads. Raises the soft limit
 * of open files (RLIMIT_NOFILE) up to the hard limit when
 * max_connections + BK_HTTP_FD_RESERVE needs it, and lowers the connection
 * limit (with a warning in the log) when even the hard limit is too low.
 * Returns an owned server; stop it with bk_http_server_free. BK_E_IO when
 * the address cannot be bound. */
BK_MUST_CHECK enum bk_err
bk_http_server_start(const struct bk_http_server_config *cfg,
                     struct bk_http_server **out, struct bk_errbuf *err);

/* The port actually bound (useful with port 0). */
int bk_http_server_port(const struct bk_http_server *srv);

/* The connection limit in force (max_connections, lowered to the limit of
 * open files when that was too low). */
int bk_http_server_max_connections(const struct bk_http_server *srv);

/* Graceful stop, first half: closes the listening socket (new clients
 * are refused), answers the requests in flight with "Connection: close"
 * and waits until none is left or timeout_ms (monotonic) has passed; then
 * shuts down the connections still open (a request still being read is
 * cut; a handler still running finishes). Returns true when every request
 * in flight was answered. Call bk_http_server_free next. Main thread. */
bool bk_http_server_drain(struct bk_http_server *srv, int64_t timeout_ms);

/* Stops accepting, waits for every deferred request to be resumed (whoever
 * deferred them must still be running), finishes the requests in flight,
 * frees. NULL is a no-op. */
void bk_http_server_free(struct bk_http_server *srv);

#endif
