/* http/server.h — the HTTP/1.1 server (libmicrohttpd, one thread per
 * connection). It reads a request with its body (capped), calls one
 * handler, and sends the response with an X-Request-Id header. */
#ifndef BK_HTTP_SERVER_H
#define BK_HTTP_SERVER_H

#include "base/err.h"
#include "http/http.h"

struct bk_http_server;

struct bk_http_server_config {
    const char *listen;  /* "127.0.0.1:8080", "[::1]:8080", port 0 = any */
    size_t max_body;     /* bytes; bodies past it give body_error */
    int max_connections; /* concurrent connections */
    int timeout_s;       /* idle connection timeout, seconds */
    bk_http_handler_fn handler;
    void *ctx; /* passed to handler, borrowed */
};

/* Parses "HOST:PORT" ("[V6]:PORT") and checks it. BK_E_CONFIG with a
 * message when it is not an IP literal and a port 0..65535. */
BK_MUST_CHECK enum bk_err bk_http_listen_check(const char *listen,
                                               struct bk_errbuf *err);

/* Binds and starts serving on background threads. Returns an owned server;
 * stop it with bk_http_server_free. BK_E_IO when the address cannot be
 * bound. */
BK_MUST_CHECK enum bk_err
bk_http_server_start(const struct bk_http_server_config *cfg,
                     struct bk_http_server **out, struct bk_errbuf *err);

/* The port actually bound (useful with port 0). */
int bk_http_server_port(const struct bk_http_server *srv);

/* Stops accepting, waits for in-flight requests, frees. NULL is a no-op. */
void bk_http_server_free(struct bk_http_server *srv);

#endif
