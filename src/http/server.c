/* http/server.c — libmicrohttpd glue: the only file that includes
 * microhttpd.h. libmicrohttpd's epoll event loop runs on a bounded pool of
 * threads, each serving many connections; a handler that must wait long
 * defers its answer (the connection is suspended, not its thread). MHD's
 * own time-out restarts with every byte, so the deadline for a whole
 * request is kept here: a list of connections with their deadlines and a
 * reaper thread that shuts down the sockets of those past it. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "http/server.h"
#include "base/buf.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/str.h"
#include "base/time.h"
#include "base/banned.h"

/* One connection, from accept to close (MHD's socket context). */
struct conn_rec {
    struct conn_rec *prev, *next; /* in srv->conns, under srv->lock */
    int fd;
    /* Monotonic ms by which the request being read must be complete;
     * INT64_MAX while none is being read (in the handler, deferred, or
     * sending the response). */
    _Atomic int64_t deadline_ms;
    bool shut; /* the reaper shut it down; under srv->lock */
};

struct bk_http_server {
    struct MHD_Daemon *daemon;
    struct bk_http_server_config cfg;
    int port;
    int max_connections;
    int64_t boot_ms;
    _Atomic uint64_t seq;
    pthread_mutex_t lock;  /* everything below */
    pthread_cond_t tick;   /* the reaper's sleep */
    pthread_cond_t wake;   /* a deferred request resumed while stopping */
    struct conn_rec *head; /* open connections */
    size_t n_deferred;     /* requests whose connection was suspended
                              and whose response was not sent yet */
    size_t n_active;       /* requests begun and not completed */
    bool stopping;         /* bk_http_server_drain or _free has begun */
    bool quiesced;         /* MHD accepts no more connections */
    bool reaper_stop;
    pthread_t reaper;
    bool reaper_started;
};

enum phase { PHASE_READING, PHASE_DEFERRED, PHASE_ANSWERED };

/* Per-request state, kept in MHD's connection-class pointer. req and resp
 * live here so that a deferred request outlives its handler's call. */
struct request_state {
    struct bk_http_server *srv;
    struct MHD_Connection *conn;
    struct bk_arena arena;
    struct bk_buf body;
    struct bk_http_request req;
    struct bk_http_response resp;
    enum phase phase;
    bool too_large;
    const char *refusal; /* framing refused (RFC 9112 §6): why */
    bool done;           /* bk_http_resume was called; under srv->lock */
    bool suspended;      /* MHD_suspend_connection; under srv->lock */
    bool counted;        /* in srv->n_deferred */
    int64_t start_ms;
    int64_t start_us; /* the same, in µs (the observer's latency) */
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

static struct bk_http_server *st_srv(struct bk_http_request *req)
{
    return ((struct request_state *)((char *)req -
                                     offsetof(struct request_state, req)))
        ->srv;
}

static enum MHD_Result send_response(struct MHD_Connection *conn,
                                     struct bk_http_request *req,
                                     struct bk_http_response *resp)
{
    struct MHD_Response *r;
    enum MHD_Result ret;
    int status = resp->status ? resp->status : 500;
    bool stopping;

    r = MHD_create_response_from_buffer(resp->body_len, (void *)resp->body,
                                        MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    if (resp->content_type)
        MHD_add_response_header(r, "Content-Type", resp->content_type);
    MHD_add_response_header(r, "X-Request-Id", req->request_id);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    pthread_mutex_lock(&st_srv(req)->lock);
    stopping = st_srv(req)->stopping;
    pthread_mutex_unlock(&st_srv(req)->lock);
    if (stopping) /* draining: no next request on this connection */
        MHD_add_response_header(r, "Connection", "close");
    for (size_t i = 0; i < resp->n_headers; i++)
        MHD_add_response_header(r, resp->headers[i].key,
                                resp->headers[i].value);
    ret = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    if (st_srv(req)->cfg.observe) {
        const struct request_state *st =
            (const struct request_state *)((const char *)req -
                                           offsetof(struct request_state, req));
        st_srv(req)->cfg.observe(st_srv(req)->cfg.ctx, req, status,
                                 bk_mono_us() - st->start_us);
    }
    bk_log_request(&(struct bk_log_request){
        .method = req->method,
        .path = req->path,
        .route = req->route,
        .request_id = req->request_id,
        .status = status,
        .duration_ms = bk_mono_ms() - req->start_ms,
    });
    return ret;
}

static struct conn_rec *conn_rec_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* Starts (reading) or stops the clock of the connection's request. */
static void arm_deadline(struct bk_http_server *srv,
                         struct MHD_Connection *conn, bool reading)
{
    struct conn_rec *rec = conn_rec_of(conn);
    if (rec)
        atomic_store(&rec->deadline_ms,
                     reading ? bk_mono_ms() + srv->cfg.request_deadline_ms
                             : INT64_MAX);
}

/* RFC 9112 §6: what the server refuses in a request's framing. MHD reads
 * an unknown transfer coding as a body of unknown length (the client
 * would wait for ever) and the first of several Content-Length fields. */
struct framing {
    int n_te, n_cl;
    bool te_chunked, cl_differ;
    const char *cl;
};

static enum MHD_Result framing_kv(void *cls, enum MHD_ValueKind kind,
                                  const char *key, const char *value)
{
    struct framing *f = cls;
    (void)kind;
    if (!key || !value)
        return MHD_YES;
    if (bk_str_ieq(key, MHD_HTTP_HEADER_TRANSFER_ENCODING)) {
        f->n_te++;
        f->te_chunked = bk_str_ieq(value, "chunked");
    } else if (bk_str_ieq(key, MHD_HTTP_HEADER_CONTENT_LENGTH)) {
        if (f->n_cl++ && strcmp(f->cl, value) != 0)
            f->cl_differ = true;
        f->cl = value;
    }
    return MHD_YES;
}

static const char *framing_refusal(struct MHD_Connection *conn)
{
    struct framing f;

    memset(&f, 0, sizeof(f));
    MHD_get_connection_values(conn, MHD_HEADER_KIND, framing_kv, &f);
    if (f.n_te > 1 || (f.n_te == 1 && !f.te_chunked))
        return "Transfer-Encoding other than chunked is not supported";
    if (f.n_te && f.n_cl)
        return "a request must not have both Transfer-Encoding and "
               "Content-Length";
    if (f.cl_differ)
        return "the request has Content-Length fields that disagree";
    return NULL;
}

static void client_addr(struct MHD_Connection *conn, char *addr, size_t size)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    addr[0] = '\0';
    if (!ci || !ci->client_addr)
        return;
    if (ci->client_addr->sa_family == AF_INET)
        inet_ntop(AF_INET,
                  &((const struct sockaddr_in *)ci->client_addr)->sin_addr,
                  addr, (socklen_t)size);
    else if (ci->client_addr->sa_family == AF_INET6)
        inet_ntop(AF_INET6,
                  &((const struct sockaddr_in6 *)ci->client_addr)->sin6_addr,
                  addr, (socklen_t)size);
}

/* bk_http_resume of a deferred request: on whichever thread completed it. */
static void resume_request(struct bk_http_request *req)
{
    struct request_state *st =
        (struct request_state *)((char *)req -
                                 offsetof(struct request_state, req));
    struct bk_http_server *srv = st->srv;

    pthread_mutex_lock(&srv->lock);
    st->done = true;
    if (st->suspended) {
        MHD_resume_connection(st->conn);
        st->suspended = false;
    }
    if (srv->stopping)
        pthread_cond_broadcast(&srv->wake);
    pthread_mutex_unlock(&srv->lock);
}

/* Fills st->req from the connection. */
static void build_request(struct bk_http_server *srv, struct request_state *st,
                          struct MHD_Connection *conn, const char *url,
                          const char *method)
{
    struct bk_http_request *req = &st->req;
    struct collect hc, qc;
    const char *rid;
    char rid_buf[40], addr[64];

    memset(req, 0, sizeof(*req));
    memset(&st->resp, 0, sizeof(st->resp));
    req->arena = &st->arena;
    req->method = bk_arena_strdup(&st->arena, method);
    req->path = bk_arena_strdup(&st->arena, url);
    req->start_ms = st->start_ms;
    req->resume = resume_request;
    hc.kv = bk_arena_array(&st->arena, BK_HTTP_MAX_HEADERS, sizeof(*hc.kv));
    hc.n = 0;
    hc.max = BK_HTTP_MAX_HEADERS;
    hc.arena = &st->arena;
    MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_kv, &hc);
    req->headers = hc.kv;
    req->n_headers = hc.n;
    qc.kv = bk_arena_array(&st->arena, BK_HTTP_MAX_QUERY, sizeof(*qc.kv));
    qc.n = 0;
    qc.max = BK_HTTP_MAX_QUERY;
    qc.arena = &st->arena;
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_kv, &qc);
    req->query = qc.kv;
    req->n_query = qc.n;
    rid = bk_http_header(req, "X-Request-Id");
    if (!request_id_ok(rid)) {
        request_id(srv, rid_buf);
        rid = rid_buf;
    }
    req->request_id = bk_arena_strdup(&st->arena, rid);
    client_addr(conn, addr, sizeof(addr));
    req->remote_addr = bk_arena_strdup(&st->arena, addr);
    if (st->refusal) {
        req->body_error = BK_E_MALFORMED;
        req->error_msg = st->refusal;
        req->body = "";
    } else if (st->too_large) {
        req->body_error = BK_E_TOO_LARGE;
        req->body = "";
    } else {
        req->body = st->body.data ? st->body.data : "";
        req->body_len = st->body.len;
    }
}

static enum MHD_Result accept_policy(void *cls, const struct sockaddr *addr,
                                     socklen_t addrlen);

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    struct bk_http_server *srv = cls;
    struct request_state *st = *con_cls;
    bool early = false;

    (void)version;
    if (!st) {
        const char *cl;
        st = bk_xcalloc(1, sizeof(*st));
        st->srv = srv;
        st->conn = conn;
        bk_arena_init(&st->arena);
        bk_buf_init(&st->body, srv->cfg.max_body);
        st->start_us = bk_mono_us();
        st->start_ms = st->start_us / 1000;
        *con_cls = st;
        pthread_mutex_lock(&srv->lock);
        srv->n_active++;
        pthread_mutex_unlock(&srv->lock);
        if (srv->cfg.counters)
            atomic_fetch_add(&srv->cfg.counters->in_flight, 1);
        st->refusal = framing_refusal(conn);
        early = st->refusal != NULL;
        /* A declared length past the cap is answered 413 before the body
         * is read when the client waits for it ("Expect: 100-continue") or
         * the length is absurd; otherwise the body is read and dropped
         * first, so that a client writing it all does not see its
         * connection cut instead of the answer. */
        cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                         MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && !early) {
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
        if (!early)
            return MHD_YES;
    } else if (st->phase == PHASE_ANSWERED) {
        *upload_size = 0; /* the rest of a refused body is discarded */
        return MHD_YES;
    } else if (st->phase == PHASE_DEFERRED) {
        /* Resumed: the response is ready (the lock orders its writes
         * before these reads). */
        bool done;
        pthread_mutex_lock(&srv->lock);
        done = st->done;
        pthread_mutex_unlock(&srv->lock);
        if (!done)
            return MHD_YES;
        st->phase = PHASE_ANSWERED;
        return send_response(conn, &st->req, &st->resp);
    } else if (*upload_size) {
        if (!st->too_large &&
            bk_buf_append(&st->body, upload, *upload_size) != BK_OK) {
            st->too_large = true;
            bk_buf_release(&st->body);
        }
        *upload_size = 0;
        return MHD_YES;
    }

    /* The whole request is here (or refused before its body): its
     * deadline no longer runs. */
    arm_deadline(srv, conn, false);
    build_request(srv, st, conn, url, method);
    srv->cfg.handler(srv->cfg.ctx, &st->req, &st->resp);
    if (st->req.deferred) {
        pthread_mutex_lock(&srv->lock);
        if (!st->done && srv->stopping) {
            /* Shutting down: MHD cannot stop with suspended connections,
             * so this thread waits instead. */
            while (!st->done)
                pthread_cond_wait(&srv->wake, &srv->lock);
        } else if (!st->done) {
            st->phase = PHASE_DEFERRED;
            st->suspended = true;
            st->counted = true;
            srv->n_deferred++;
            MHD_suspend_connection(conn);
            pthread_mutex_unlock(&srv->lock);
            return MHD_YES;
        }
        pthread_mutex_unlock(&srv->lock);
    }
    st->phase = PHASE_ANSWERED;
    return send_response(conn, &st->req, &st->resp);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct bk_http_server *srv = cls;
    struct request_state *st = *con_cls;
    (void)toe;
    /* A kept-alive connection is ready for its next request: that one's
     * clock starts now. */
    arm_deadline(srv, conn, true);
    if (!st)
        return;
    pthread_mutex_lock(&srv->lock);
    if (st->counted)
        srv->n_deferred--;
    srv->n_active--;
    if (srv->stopping)
        pthread_cond_broadcast(&srv->wake);
    pthread_mutex_unlock(&srv->lock);
    if (srv->cfg.counters)
        atomic_fetch_sub(&srv->cfg.counters->in_flight, 1);
    bk_buf_release(&st->body);
    bk_arena_release(&st->arena);
    free(st);
    *con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct bk_http_server *srv = cls;
    struct conn_rec *rec = *socket_context;

    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (srv->cfg.counters) {
            atomic_fetch_add(&srv->cfg.counters->open, 1);
            atomic_fetch_add(&srv->cfg.counters->accepted, 1);
        }
        rec = bk_xcalloc(1, sizeof(*rec));
        rec->fd = ci ? ci->connect_fd : -1;
        atomic_store(&rec->deadline_ms,
                     bk_mono_ms() + srv->cfg.request_deadline_ms);
        pthread_mutex_lock(&srv->lock);
        rec->next = srv->head;
        if (srv->head)
            srv->head->prev = rec;
        srv->head = rec;
        pthread_mutex_unlock(&srv->lock);
        *socket_context = rec;
        return;
    }
    if (!rec)
        return;
    if (srv->cfg.counters)
        atomic_fetch_sub(&srv->cfg.counters->open, 1);
    /* MHD closes the socket after this returns; under the lock, the
     * reaper never shuts down a descriptor that was closed (and perhaps
     * reused). */
    pthread_mutex_lock(&srv->lock);
    if (rec->prev)
        rec->prev->next = rec->next;
    else
        srv->head = rec->next;
    if (rec->next)
        rec->next->prev = rec->prev;
    pthread_mutex_unlock(&srv->lock);
    free(rec);
    *socket_context = NULL;
}

/* Closes the connections whose request is late: shutdown() wakes MHD's
 * event loop, which sees the end of the stream and closes the connection
 * itself. Nothing is sent: the client is not reading an answer to a
 * request it has not finished. */
static void *reaper_main(void *arg)
{
    struct bk_http_server *srv = arg;
    int64_t tick_ms = srv->cfg.request_deadline_ms / 8;

    if (tick_ms < 10)
        tick_ms = 10;
    if (tick_ms > 250)
        tick_ms = 250;
    pthread_mutex_lock(&srv->lock);
    while (!srv->reaper_stop) {
        struct timespec ts;
        int64_t now;
        int n = 0;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += (long)(tick_ms % 1000) * 1000000L;
        ts.tv_sec += (time_t)(tick_ms / 1000) + ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&srv->tick, &srv->lock, &ts);
        now = bk_mono_ms();
        for (struct conn_rec *r = srv->head; r; r = r->next) {
            if (r->shut || r->fd < 0 || atomic_load(&r->deadline_ms) > now)
                continue;
            (void)shutdown(r->fd, SHUT_RDWR);
            r->shut = true;
            n++;
        }
        if (n && srv->cfg.counters)
            atomic_fetch_add(&srv->cfg.counters->timed_out, (uint64_t)n);
        if (n) {
            pthread_mutex_unlock(&srv->lock);
            bk_log_info("http: closed %d connection(s) that did not send a "
                        "whole request within %lld ms",
                        n, (long long)srv->cfg.request_deadline_ms);
            pthread_mutex_lock(&srv->lock);
        }
    }
    pthread_mutex_unlock(&srv->lock);
    return NULL;
}

BK_PRINTF(2, 0)
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct bk_http_server *srv = cls;
    char line[512];
    size_t n;

    /* MHD refuses a connection over its limits before any callback of
     * ours and says so only here: counted, and logged at most every 10 s
     * (a flood would otherwise write a line per connection). */
    if (strstr(fmt, "reached connection limit")) {
        static _Atomic int64_t last_ms;
        int64_t now = bk_mono_ms(), prev = atomic_load(&last_ms);
        uint64_t total = 0;
        if (srv->cfg.counters)
            total = atomic_fetch_add(&srv->cfg.counters->refused_limit, 1) + 1;
        if (now - prev < 10000 ||
            !atomic_compare_exchange_strong(&last_ms, &prev, now))
            return;
        bk_log_warn("http: refusing connections over the limit "
                    "(BOOKINGD_MAX_CONNECTIONS, or "
                    "BOOKINGD_MAX_CONNECTIONS_PER_IP from one address); "
                    "%llu refused since start",
                    (unsigned long long)total);
        return;
    }
    vsnprintf(line, sizeof(line), fmt, ap);
    n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    bk_log_warn("http: %s", line);
}

/* The connection limit that fits the limit of open files, raising the soft
 * limit toward the hard one when needed. */
static int fit_open_files(int want)
{
    struct rlimit rl;
    rlim_t need = (rlim_t)want + BK_HTTP_FD_RESERVE;
    int fit;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
        rl.rlim_cur >= need)
        return want;
    if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need)
        rl.rlim_cur = need;
    else
        rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        (void)getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur >= need)
        return want;
    fit = rl.rlim_cur > BK_HTTP_FD_RESERVE + 16
              ? (int)(rl.rlim_cur - BK_HTTP_FD_RESERVE)
              : 16;
    bk_log_warn("http: %d connections need %llu open files but the limit is "
                "%llu (ulimit -n, LimitNOFILE= under systemd): at most %d "
                "connections",
                want, (unsigned long long)need, (unsigned long long)rl.rlim_cur,
                fit);
    return fit;
}

enum bk_err bk_http_server_start(const struct bk_http_server_config *cfg,
                                 struct bk_http_server **out,
                                 struct bk_errbuf *err)
{
    struct bk_http_server *srv;
    struct sockaddr_storage ss;
    socklen_t len;
    bool v6;
    int port, threads;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
                     MHD_USE_ERROR_LOG | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME;
    enum bk_err e;
    const union MHD_DaemonInfo *info;
    pthread_condattr_t ca;

    *out = NULL;
    e = parse_listen(cfg->listen, &ss, &len, &v6, &port, err);
    if (e)
        return e;
    if (v6)
        flags |= MHD_USE_IPv6;
    srv = bk_xcalloc(1, sizeof(*srv));
    srv->cfg = *cfg;
    if (srv->cfg.request_deadline_ms <= 0)
        srv->cfg.request_deadline_ms = INT64_MAX / 4;
    srv->boot_ms = bk_now_ms();
    srv->max_connections =
        fit_open_files(cfg->max_connections > 0 ? cfg->max_connections : 1);
    /* MHD shares the connection limit out among its threads. */
    threads = cfg->threads > 0 ? cfg->threads : 1;
    if (threads > srv->max_connections)
        threads = srv->max_connections;
    pthread_mutex_init(&srv->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&srv->tick, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&srv->wake, NULL);
    srv->daemon = MHD_start_daemon(
        flags, (uint16_t)port, accept_policy, srv, on_request, srv,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv, /* first, as MHD asks */
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_UNESCAPE_CALLBACK, unescape, srv,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(threads > 1 ? threads : 0),
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)srv->max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)(cfg->max_connections_per_ip > 0 ? cfg->max_connections_per_ip
                                                   : 0),
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096U, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)cfg->timeout_s, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
        srv, MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
        MHD_OPTION_END);
    if (!srv->daemon) {
        e = bk_fail(err, BK_E_IO,
                    "cannot listen on %s (address in use or not available)",
                    cfg->listen);
        goto fail;
    }
    if (pthread_create(&srv->reaper, NULL, reaper_main, srv) != 0) {
        e = bk_fail(err, BK_E_IO, "cannot start the HTTP reaper thread");
        goto fail;
    }
    srv->reaper_started = true;
    info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? (int)info->port : port;
    *out = srv;
    return BK_OK;
fail:
    if (srv->daemon)
        MHD_stop_daemon(srv->daemon);
    pthread_cond_destroy(&srv->tick);
    pthread_cond_destroy(&srv->wake);
    pthread_mutex_destroy(&srv->lock);
    free(srv);
    return e;
}

int bk_http_server_port(const struct bk_http_server *srv)
{
    return srv->port;
}

int bk_http_server_max_connections(const struct bk_http_server *srv)
{
    return srv->max_connections;
}

/* Stops accepting: the listening socket is closed, so that new clients
 * are refused at once rather than left in the backlog. */
/* Stops taking new connections: from here on each is closed as soon as it
 * is accepted (accept_policy). Not MHD_quiesce_daemon: with epoll and a
 * thread pool, libmicrohttpd 0.9.75 removes the listening socket from each
 * worker's epoll set from the calling thread while the worker may be
 * removing it too, and aborts the process when it loses that race
 * ("Failed to remove listen FD from epoll set"). */
static void quiesce(struct bk_http_server *srv)
{
    pthread_mutex_lock(&srv->lock);
    srv->stopping = true;
    srv->quiesced = true;
    pthread_mutex_unlock(&srv->lock);
}

static enum MHD_Result accept_policy(void *cls, const struct sockaddr *addr,
                                     socklen_t addrlen)
{
    struct bk_http_server *srv = cls;
    bool stopping;

    (void)addr;
    (void)addrlen;
    pthread_mutex_lock(&srv->lock);
    stopping = srv->quiesced;
    pthread_mutex_unlock(&srv->lock);
    if (stopping && srv->cfg.counters)
        atomic_fetch_add(&srv->cfg.counters->refused_stopping, 1);
    return stopping ? MHD_NO : MHD_YES;
}

bool bk_http_server_drain(struct bk_http_server *srv, int64_t timeout_ms)
{
    int64_t until = bk_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    size_t left, cut = 0;

    quiesce(srv);
    pthread_mutex_lock(&srv->lock);
    left = srv->n_active;
    pthread_mutex_unlock(&srv->lock);
    /* After the quiesce: a new connection from here on is refused. */
    bk_log_info("http: accepting no more connections; %zu request(s) in "
                "flight",
                left);
    pthread_mutex_lock(&srv->lock);
    while (srv->n_active && bk_mono_ms() < until) {
        struct timespec ts;
        int64_t wait_ms = until - bk_mono_ms();
        if (wait_ms > 50) /* n_active also falls without a broadcast */
            wait_ms = 50;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += (long)wait_ms * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&srv->wake, &srv->lock, &ts);
    }
    left = srv->n_active;
    /* Past the deadline: the connections whose request is still being read
     * (or whose answer is being sent) are cut, as the reaper cuts late
     * ones. A handler that is running, or a deferred request, finishes. */
    if (left)
        for (struct conn_rec *r = srv->head; r; r = r->next) {
            if (r->shut || r->fd < 0)
                continue;
            (void)shutdown(r->fd, SHUT_RDWR);
            r->shut = true;
            cut++;
        }
    pthread_mutex_unlock(&srv->lock);
    if (left)
        bk_log_warn("http: %zu request(s) still in flight after %lld ms of "
                    "shutdown: closed %zu connection(s)",
                    left, (long long)timeout_ms, cut);
    return left == 0;
}

void bk_http_server_free(struct bk_http_server *srv)
{
    if (!srv)
        return;
    quiesce(srv);
    /* MHD refuses to stop with suspended connections, and would cut the
     * answers of resumed ones: wait until every deferred request was
     * resumed and answered (from here on, requests deferred while
     * stopping hold their thread instead). */
    pthread_mutex_lock(&srv->lock);
    while (srv->n_deferred)
        pthread_cond_wait(&srv->wake, &srv->lock);
    pthread_mutex_unlock(&srv->lock);
    MHD_stop_daemon(srv->daemon);
    if (srv->reaper_started) {
        pthread_mutex_lock(&srv->lock);
        srv->reaper_stop = true;
        pthread_cond_signal(&srv->tick);
        pthread_mutex_unlock(&srv->lock);
        pthread_join(srv->reaper, NULL);
    }
    pthread_cond_destroy(&srv->tick);
    pthread_cond_destroy(&srv->wake);
    pthread_mutex_destroy(&srv->lock);
    free(srv);
}
