/* api/waits.c — deferred answers that wait for an outbox job's first run
 * (internal.h bk_api_wait_job): the booking request of a priced event
 * type waits for its Checkout Session without holding one of the HTTP
 * server's threads. One waiter thread, started with the first wait, polls
 * the jobs of every waiting request (the job may run on any instance) and
 * hands each to its callback once the job ran or its time is up.
 * bk_api_answer_after_job is the one deferred answer built on it (a
 * booking's and a package purchase's). */
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "api/internal.h"
#include "base/log.h"
#include "base/time.h"
#include "jobs/jobs.h"
#include "base/banned.h"

/* How often the waiting jobs are read. */
#define POLL_MS 25

struct bk_api_wait {
    struct bk_api_wait *next;
    struct bk_store *store;
    int64_t job;
    int64_t deadline_ms; /* monotonic */
    bk_api_wait_done_fn done;
    void *ctx;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static struct bk_api_wait *waiting; /* under mu */
static pthread_once_t started = PTHREAD_ONCE_INIT;
static bool running;
static bool ending; /* under mu: bk_api_waits_end was called */

/* Whether job has run once: done, dead, or failed and due again. A job
 * that cannot be read counts as run (the answer then says what the
 * booking says). */
static bool has_run(struct bk_store *store, int64_t job, struct bk_arena *arena)
{
    struct bk_tx *tx = NULL;
    struct bk_job j;
    bool over = true;

    if (bk_store_begin(store, BK_TX_READ, &tx, NULL) == BK_OK &&
        bk_store_job_get(tx, job, arena, &j, NULL) == BK_OK)
        over = j.status == BK_JOB_DONE || j.status == BK_JOB_DEAD ||
               (j.status == BK_JOB_PENDING && j.attempts > 0);
    bk_store_rollback(tx);
    return over;
}

static void *waiter(void *unused)
{
    (void)unused;
    for (;;) {
        struct bk_api_wait *list, *keep = NULL, *w, *next;
        struct timespec ts = {0, POLL_MS * 1000 * 1000};
        struct bk_arena arena;

        bool end;

        pthread_mutex_lock(&mu);
        while (!waiting)
            pthread_cond_wait(&cv, &mu);
        list = waiting;
        waiting = NULL;
        end = ending;
        pthread_mutex_unlock(&mu);

        bk_arena_init(&arena);
        for (w = list; w; w = next) {
            next = w->next; /* w lives in the request's arena */
            if (end || bk_mono_ms() >= w->deadline_ms ||
                has_run(w->store, w->job, &arena)) {
                w->done(w->ctx);
            } else {
                w->next = keep;
                keep = w;
            }
        }
        bk_arena_release(&arena);
        if (!keep)
            continue;
        pthread_mutex_lock(&mu);
        for (w = keep; w; w = next) {
            next = w->next;
            w->next = waiting;
            waiting = w;
        }
        pthread_mutex_unlock(&mu);
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void start(void)
{
    pthread_t t;

    if (pthread_create(&t, NULL, waiter, NULL) == 0) {
        pthread_detach(t);
        running = true;
    } else {
        bk_log_error("api: the checkout waiter thread could not start; "
                     "waits end at once");
    }
}

void bk_api_wait_job(struct bk_store *store, int64_t job, int64_t wait_ms,
                     struct bk_arena *arena, bk_api_wait_done_fn done,
                     void *ctx)
{
    struct bk_api_wait *w;

    bool end;

    pthread_once(&started, start);
    pthread_mutex_lock(&mu);
    end = ending;
    pthread_mutex_unlock(&mu);
    if (!running || end || !job || wait_ms <= 0) {
        done(ctx);
        return;
    }
    w = bk_arena_alloc(arena, sizeof(*w));
    memset(w, 0, sizeof(*w));
    w->store = store;
    w->job = job;
    w->deadline_ms = bk_mono_ms() + wait_ms;
    w->done = done;
    w->ctx = ctx;
    pthread_mutex_lock(&mu);
    w->next = waiting;
    waiting = w;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
}

void bk_api_waits_end(void)
{
    pthread_mutex_lock(&mu);
    ending = true;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
}

/* A deferred answer (bk_api_answer_after_job); lives in the request's
 * arena. */
struct later {
    struct bk_api *api;
    struct bk_http_request *req;
    struct bk_http_response *resp;
    const char *uid;
    int status;
    bool admin;
    bk_api_answer_fn render;
    void *arg;
};

/* Renders the answer in a call of its own and resumes the request. */
static void answer_later(void *ctx)
{
    struct later *l = ctx;
    struct bk_api_call c;
    struct bk_errbuf err;
    json_t *o = NULL;
    enum bk_err e;

    memset(&c, 0, sizeof(c));
    bk_errbuf_clear(&err);
    c.api = l->api;
    c.req = l->req;
    c.resp = l->resp;
    c.err = &err;
    c.arena = l->req->arena;
    c.admin = l->admin;
    if (!(e = bk_api_call_read(&c)))
        e = l->render(&c, l->uid, l->arg, &o);
    if (e)
        bk_api_error(l->req, l->resp, e, &err);
    else
        bk_api_json(l->req, l->resp, l->status, o);
    bk_api_call_end(&c);
    bk_http_resume(l->req);
}

void bk_api_answer_after_job(struct bk_api_call *c, int64_t job, int status,
                             const char *uid, bk_api_answer_fn render,
                             void *arg)
{
    struct later *l = bk_arena_alloc(c->arena, sizeof(*l));

    l->api = c->api;
    l->req = c->req;
    l->resp = c->resp;
    l->uid = bk_arena_strdup(c->arena, uid);
    l->status = status;
    l->admin = c->admin;
    l->render = render;
    l->arg = arg;
    bk_http_defer(c->req);
    bk_jobs_wake(c->api->jobs);
    /* From here on req, resp and the arena are the answer's. */
    bk_api_wait_job(c->api->store, job, c->api->checkout_wait_ms, c->arena,
                    answer_later, l);
}
