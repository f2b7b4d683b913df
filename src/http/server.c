/* http/server.c — libmicrohttpd glue: the only file that includes
 * microhttpd.h. One thread per connection: a handler may block (on a
 * database write or on the inbox's group commit) without stalling others. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "http/server.h"
#include "base/buf.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/str.h"
#include "base/time.h"
#include "base/banned.h"

struct bk_http_server {
    struct MHD_Daemon *daemon;
    struct bk_http_server_config cfg;
    int port;
    int64_t boot_ms;
    _Atomic uint64_t seq;
};

/* Per-request state, kept in MHD's connection-class pointer. */
struct request_state {
    struct bk_arena arena;
    struct bk_buf body;
    bool too_large;
    bool answered;
    int64_t start_ms;
};

struct collect {
    struct bk_kv *kv;
    size_t n, max;
    struct bk_arena *arena;
};

static enum MHD_Result collect_kv(void *cls, enum MHD_ValueKind kind,
                                  const char *key, const char *value)
{
    struct collect *c = cls;
    (void)kind;
    if (c->n >= c->max)
        return MHD_NO; /* stop iterating: the rest is ignored */
    c->kv[c->n].key = bk_arena_strdup(c->arena, key ? key : "");
    c->kv[c->n].value = bk_arena_strdup(c->arena, value ? value : "");
    c->n++;
    return MHD_YES;
}

static enum bk_err parse_listen(const char *listen, struct sockaddr_storage *ss,
                                socklen_t *len, bool *v6, int *port,
                                struct bk_errbuf *err)
{
    char host[64];
    const char *colon, *h = listen;
    size_t hlen;
    int64_t p;

    /* Every output is defined on every path, failures included. */
    memset(ss, 0, sizeof(*ss));
    *len = 0;
    *v6 = false;
    *port = 0;
    if (!listen || !*listen)
        return bk_fail(err, BK_E_CONFIG, "empty listen address");
    colon = strrchr(listen, ':');
    if (!colon)
        return bk_fail(err, BK_E_CONFIG, "expected HOST:PORT, got '%s'",
                       listen);
    hlen = (size_t)(colon - listen);
    if (hlen >= 2 && listen[0] == '[' && listen[hlen - 1] == ']') {
        h = listen + 1;
        hlen -= 2;
        *v6 = true;
    }
    if (hlen == 0 || hlen >= sizeof(host))
        return bk_fail(err, BK_E_CONFIG, "expected HOST:PORT, got '%s'",
                       listen);
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    if (bk_parse_i64(colon + 1, 0, 65535, &p) != BK_OK)
        return bk_fail(err, BK_E_CONFIG, "port must be 0..65535 in '%s'",
                       listen);
    *port = (int)p;
    if (*v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)p);
        if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
            return bk_fail(err, BK_E_CONFIG,
                           "'%s' is not an IPv6 address literal", host);
        *len = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)p);
        if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
            return bk_fail(err, BK_E_CONFIG,
                           "'%s' is not an IPv4 address literal (use "
                           "127.0.0.1 or [::1], not a host name)",
                           host);
        *len = sizeof(*a);
    }
    return BK_OK;
}

enum bk_err bk_http_listen_check(const char *listen, struct bk_errbuf *err)
{
    struct sockaddr_storage ss;
    socklen_t len;
    bool v6;
    int port;
    return parse_listen(listen, &ss, &len, &v6, &port, err);
}

/* Percent-decoding of the path and query (RFC 3986 §2.1), except that
 * "%00" stays as it is: a NUL byte would silently cut a value short (a
 * token or a zone name with a hostile tail would then pass), so it is kept
 * visible and the value fails validation as the text it is. */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
    char *r = s, *w = s;
    (void)cls;
    (void)c;
    while (*r) {
        int hi, lo;
        if (r[0] == '%' && (hi = bk_hex_digit(r[1])) >= 0 &&
            (lo = bk_hex_digit(r[2])) >= 0 && (hi | lo) != 0) {
            *w++ = (char)(hi << 4 | lo);
            r += 3;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
}

/* Request ids need to be unique, not secret: the server's start time and a
 * counter. */
static void request_id(struct bk_http_server *srv, char out[40])
{
    uint64_t n = atomic_fetch_add(&srv->seq, 1) + 1;
    snprintf(out, 40, "%llx-%llx", (unsigned long long)srv->boot_ms,
             (unsigned long long)n);
}

static bool request_id_ok(const char *s)
{
    size_t n = 0;
    if (!s || !*s)
        return false;
    for (; *s; s++, n++) {
        char c = *s;
        if (n >= 64 ||
            !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

static enum MHD_Result send_response(struct MHD_Connection *conn,
                                     struct bk_http_request *req,
                                     struct bk_http_response *resp)
{
    struct MHD_Response *r;
    enum MHD_Result ret;
    int status = resp->status ? resp->status : 500;

    r = MHD_create_response_from_buffer(resp->body_len, (void *)resp->body,
                                        MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    if (resp->content_type)
        MHD_add_response_header(r, "Content-Type", resp->content_type);
    MHD_add_response_header(r, "X-Request-Id", req->request_id);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    for (size_t i = 0; i < resp->n_headers; i++)
        MHD_add_response_header(r, resp->headers[i].key,
                                resp->headers[i].value);
    ret = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    bk_log_info("http %s %s %d %lldms id=%s", req->method, req->path, status,
                (long long)(bk_mono_ms() - req->start_ms), req->request_id);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    struct bk_http_server *srv = cls;
    struct request_state *st = *con_cls;
    struct bk_http_request req;
    struct bk_http_response resp;
    struct collect hc, qc;
    const union MHD_ConnectionInfo *ci;
    const char *rid;
    char rid_buf[40], addr[64] = "";
    bool early = false;
    enum MHD_Result ret;

    (void)version;
    if (!st) {
        const char *cl;
        st = bk_xcalloc(1, sizeof(*st));
        bk_arena_init(&st->arena);
        bk_buf_init(&st->body, srv->cfg.max_body);
        st->start_ms = bk_mono_ms();
        /* A declared length past the cap is answered 413 before the body
         * is read when the client waits for it ("Expect: 100-continue") or
         * the length is absurd; otherwise the body is read and dropped
         * first, so that a client writing it all does not see its
         * connection cut instead of the answer. */
        cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                         MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            int64_t n;
            const char *expect = MHD_lookup_connection_value(
                conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
            if (bk_parse_i64(cl, 0, INT64_MAX, &n) == BK_OK &&
                (uint64_t)n > srv->cfg.max_body) {
                st->too_large = true;
                early = (expect && bk_str_ieq(expect, "100-continue")) ||
                        (uint64_t)n > 16 * (uint64_t)srv->cfg.max_body;
            }
        }
        *con_cls = st;
        if (!early)
            return MHD_YES;
    } else if (st->answered) {
        *upload_size = 0; /* the rest of a refused body is discarded */
        return MHD_YES;
    } else if (*upload_size) {
        if (!st->too_large &&
            bk_buf_append(&st->body, upload, *upload_size) != BK_OK) {
            st->too_large = true;
            bk_buf_release(&st->body);
        }
        *upload_size = 0;
        return MHD_YES;
    }

    memset(&req, 0, sizeof(req));
    memset(&resp, 0, sizeof(resp));
    req.arena = &st->arena;
    req.method = method;
    req.path = bk_arena_strdup(&st->arena, url);
    req.start_ms = st->start_ms;
    hc.kv = bk_arena_array(&st->arena, BK_HTTP_MAX_HEADERS, sizeof(*hc.kv));
    hc.n = 0;
    hc.max = BK_HTTP_MAX_HEADERS;
    hc.arena = &st->arena;
    MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_kv, &hc);
    req.headers = hc.kv;
    req.n_headers = hc.n;
    qc.kv = bk_arena_array(&st->arena, BK_HTTP_MAX_QUERY, sizeof(*qc.kv));
    qc.n = 0;
    qc.max = BK_HTTP_MAX_QUERY;
    qc.arena = &st->arena;
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_kv, &qc);
    req.query = qc.kv;
    req.n_query = qc.n;
    rid = bk_http_header(&req, "X-Request-Id");
    if (!request_id_ok(rid)) {
        request_id(srv, rid_buf);
        rid = rid_buf;
    }
    req.request_id = bk_arena_strdup(&st->arena, rid);
    ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        if (ci->client_addr->sa_family == AF_INET)
            inet_ntop(AF_INET,
                      &((const struct sockaddr_in *)ci->client_addr)->sin_addr,
                      addr, sizeof(addr));
        else if (ci->client_addr->sa_family == AF_INET6)
            inet_ntop(
                AF_INET6,
                &((const struct sockaddr_in6 *)ci->client_addr)->sin6_addr,
                addr, sizeof(addr));
    }
    req.remote_addr = bk_arena_strdup(&st->arena, addr);
    if (st->too_large) {
        req.body_error = BK_E_TOO_LARGE;
        req.body = "";
        req.body_len = 0;
    } else {
        req.body = st->body.data ? st->body.data : "";
        req.body_len = st->body.len;
    }
    srv->cfg.handler(srv->cfg.ctx, &req, &resp);
    st->answered = true;
    ret = send_response(conn, &req, &resp);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct request_state *st = *con_cls;
    (void)cls;
    (void)conn;
    (void)toe;
    if (!st)
        return;
    bk_buf_release(&st->body);
    bk_arena_release(&st->arena);
    free(st);
    *con_cls = NULL;
}

BK_PRINTF(2, 0)
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    size_t n;
    (void)cls;
    vsnprintf(line, sizeof(line), fmt, ap);
    n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    bk_log_warn("http: %s", line);
}

enum bk_err bk_http_server_start(const struct bk_http_server_config *cfg,
                                 struct bk_http_server **out,
                                 struct bk_errbuf *err)
{
    struct bk_http_server *srv;
    struct sockaddr_storage ss;
    socklen_t len;
    bool v6;
    int port;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG |
                     MHD_USE_ITC | MHD_USE_POLL;
    enum bk_err e;
    const union MHD_DaemonInfo *info;

    *out = NULL;
    e = parse_listen(cfg->listen, &ss, &len, &v6, &port, err);
    if (e)
        return e;
    if (v6)
        flags |= MHD_USE_IPv6;
    srv = bk_xcalloc(1, sizeof(*srv));
    srv->cfg = *cfg;
    srv->boot_ms = bk_now_ms();
    srv->daemon = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, on_request, srv,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv, /* first, as MHD asks */
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_UNESCAPE_CALLBACK, unescape, srv,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->timeout_s,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
        MHD_OPTION_END);
    if (!srv->daemon) {
        free(srv);
        return bk_fail(err, BK_E_IO,
                       "cannot listen on %s (address in use "
                       "or not available)",
                       cfg->listen);
    }
    info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? (int)info->port : port;
    *out = srv;
    return BK_OK;
}

int bk_http_server_port(const struct bk_http_server *srv)
{
    return srv->port;
}

void bk_http_server_free(struct bk_http_server *srv)
{
    if (!srv)
        return;
    MHD_stop_daemon(srv->daemon);
    free(srv);
}
