/* tests/unit/http/test_server.c — the server's deferred answers
 * (http/server.c, bk_http_defer / bk_http_resume in http/http.h): a
 * deferred request holds no event-loop thread, is answered when resumed
 * from another thread, and the server stops only after every deferred
 * request was resumed. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/time.h"
#include "http/server.h"

#define MAX_PENDING 64
#define WAIT_MS     20000 /* bound of every wait in this file */

/* The code that takes deferred requests over: it answers them when the
 * test releases it, on its own thread. */
struct completer {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct bk_http_request *reqs[MAX_PENDING];
    struct bk_http_response *resps[MAX_PENDING];
    int n;        /* taken over, not answered yet */
    int answered; /* in total */
    bool release; /* answer whatever is taken over */
    bool stop;
    pthread_t thread;
};

static void answer(struct bk_http_response *resp, const char *text)
{
    resp->status = 200;
    resp->content_type = "text/plain";
    resp->body = text;
    resp->body_len = strlen(text);
}

static void *completer_main(void *arg)
{
    struct completer *c = arg;

    pthread_mutex_lock(&c->lock);
    for (;;) {
        while (!c->stop && !(c->release && c->n))
            pthread_cond_wait(&c->cond, &c->lock);
        if (c->release && c->n) {
            struct bk_http_request *req = c->reqs[--c->n];
            struct bk_http_response *resp = c->resps[c->n];
            c->answered++;
            pthread_mutex_unlock(&c->lock);
            answer(resp, bk_arena_strdup(req->arena, "later"));
            bk_http_resume(req);
            pthread_mutex_lock(&c->lock);
            continue;
        }
        break;
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

static void handler(void *ctx, struct bk_http_request *req,
                    struct bk_http_response *resp)
{
    struct completer *c = ctx;

    if (strcmp(req->path, "/now") == 0) {
        answer(resp, "now");
    } else if (strcmp(req->path, "/at-once") == 0) {
        /* Deferred, and completed before the handler returns. */
        bk_http_defer(req);
        answer(resp, "at once");
        bk_http_resume(req);
    } else {
        bk_http_defer(req);
        pthread_mutex_lock(&c->lock);
        assert_true(c->n < MAX_PENDING);
        c->reqs[c->n] = req;
        c->resps[c->n] = resp;
        c->n++;
        pthread_cond_broadcast(&c->cond);
        pthread_mutex_unlock(&c->lock);
    }
}

static void completer_start(struct completer *c)
{
    memset(c, 0, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    assert_int_equal(pthread_create(&c->thread, NULL, completer_main, c), 0);
}

static void completer_set(struct completer *c, bool release, bool stop)
{
    pthread_mutex_lock(&c->lock);
    c->release = release;
    c->stop = stop;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

static void completer_free(struct completer *c)
{
    completer_set(c, true, true);
    pthread_join(c->thread, NULL);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
}

/* Waits (bounded) until n requests are taken over and unanswered. */
static bool completer_wait(struct completer *c, int n)
{
    int64_t end = bk_mono_ms() + WAIT_MS;
    bool ok;

    for (;;) {
        pthread_mutex_lock(&c->lock);
        ok = c->n == n;
        pthread_mutex_unlock(&c->lock);
        if (ok || bk_mono_ms() > end)
            return ok;
        usleep(5000);
    }
}

static struct bk_http_server *start(struct completer *c, int threads)
{
    struct bk_http_server_config cfg;
    struct bk_http_server *srv = NULL;
    struct bk_errbuf err;

    memset(&cfg, 0, sizeof(cfg));
    cfg.listen = "127.0.0.1:0";
    cfg.max_body = 1024;
    cfg.threads = threads;
    cfg.max_connections = 256;
    cfg.timeout_s = 30;
    cfg.request_deadline_ms = 10000;
    cfg.handler = handler;
    cfg.ctx = c;
    bk_errbuf_clear(&err);
    assert_int_equal(bk_http_server_start(&cfg, &srv, &err), BK_OK);
    return srv;
}

/* Connects and sends a GET of path; returns the socket. */
static int send_get(int port, const char *path)
{
    struct sockaddr_in a;
    struct timeval tv = {WAIT_MS / 1000, 0};
    char line[256];
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int n;

    assert_true(fd >= 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    n = snprintf(line, sizeof(line),
                 "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                 path);
    assert_int_equal(send(fd, line, (size_t)n, 0), n);
    return fd;
}

/* Reads the whole response (the server closes) and checks its status and
 * body; closes fd. */
static void expect_response(int fd, const char *body)
{
    char buf[2048];
    size_t used = 0;
    ssize_t n;

    while (used + 1 < sizeof(buf) &&
           (n = recv(fd, buf + used, sizeof(buf) - 1 - used, 0)) > 0)
        used += (size_t)n;
    buf[used] = '\0';
    close(fd);
    assert_true(strncmp(buf, "HTTP/1.1 200", 12) == 0);
    assert_non_null(strstr(buf, "\r\n\r\n"));
    assert_string_equal(strstr(buf, "\r\n\r\n") + 4, body);
}

static void test_answers_at_once_and_deferred(void **state)
{
    struct completer c;
    struct bk_http_server *srv;
    int fd;
    (void)state;

    completer_start(&c);
    completer_set(&c, true, false);
    srv = start(&c, 2);
    expect_response(send_get(bk_http_server_port(srv), "/now"), "now");
    expect_response(send_get(bk_http_server_port(srv), "/at-once"), "at once");
    fd = send_get(bk_http_server_port(srv), "/later");
    expect_response(fd, "later");
    bk_http_server_free(srv);
    completer_free(&c);
}

/* One event-loop thread: with 20 requests deferred, another request is
 * still answered; released, the 20 are answered too. A handler that
 * blocked instead would have held the only thread. */
static void test_deferred_requests_hold_no_thread(void **state)
{
    struct completer c;
    struct bk_http_server *srv;
    int fds[20];
    (void)state;

    completer_start(&c);
    srv = start(&c, 1);
    for (int i = 0; i < 20; i++)
        fds[i] = send_get(bk_http_server_port(srv), "/later");
    assert_true(completer_wait(&c, 20));
    expect_response(send_get(bk_http_server_port(srv), "/now"), "now");
    completer_set(&c, true, false);
    for (int i = 0; i < 20; i++)
        expect_response(fds[i], "later");
    bk_http_server_free(srv);
    completer_free(&c);
}

struct freer {
    struct bk_http_server *srv;
    bool done;
    pthread_mutex_t lock;
};

static void *free_main(void *arg)
{
    struct freer *f = arg;
    bk_http_server_free(f->srv);
    pthread_mutex_lock(&f->lock);
    f->done = true;
    pthread_mutex_unlock(&f->lock);
    return NULL;
}

/* bk_http_server_free waits for a deferred request to be resumed, and the
 * client gets its answer. */
static void test_free_waits_for_deferred(void **state)
{
    struct completer c;
    struct freer f;
    pthread_t t;
    bool done;
    int fd;
    (void)state;

    completer_start(&c);
    memset(&f, 0, sizeof(f));
    pthread_mutex_init(&f.lock, NULL);
    f.srv = start(&c, 2);
    fd = send_get(bk_http_server_port(f.srv), "/later");
    assert_true(completer_wait(&c, 1));
    assert_int_equal(pthread_create(&t, NULL, free_main, &f), 0);
    usleep(200 * 1000);
    pthread_mutex_lock(&f.lock);
    done = f.done;
    pthread_mutex_unlock(&f.lock);
    assert_false(done); /* still waiting for the deferred request */
    completer_set(&c, true, false);
    expect_response(fd, "later");
    pthread_join(t, NULL);
    assert_true(f.done);
    pthread_mutex_destroy(&f.lock);
    completer_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answers_at_once_and_deferred),
        cmocka_unit_test(test_deferred_requests_hold_no_thread),
        cmocka_unit_test(test_free_waits_for_deferred),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
