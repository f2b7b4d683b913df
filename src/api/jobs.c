/* api/jobs.c — /api/v1/jobs: the job queue, for admins (look, and replay a
 * dead or waiting job). Running jobs is jobs/; the rows are store/queue.c. */
#include <inttypes.h>
#include <string.h>

#include "api/internal.h"
#include "api/json.h"
#include "api/render.h"
#include "base/str.h"
#include "base/time.h"
#include "jobs/jobs.h"
#include "base/banned.h"

/* ?status= into the store's filters: the job status (-1 any) and whether
 * it has been tried (-1 either). */
static bool parse_state(const char *s, int *status, int *retried)
{
    static const struct {
        const char *name;
        int status, retried;
    } states[] = {
        {"queued", BK_JOB_PENDING, 0},   {"retrying", BK_JOB_PENDING, 1},
        {"running", BK_JOB_RUNNING, -1}, {"done", BK_JOB_DONE, -1},
        {"dead", BK_JOB_DEAD, -1},
    };

    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
        if (strcmp(s, states[i].name) == 0) {
            *status = states[i].status;
            *retried = states[i].retried;
            return true;
        }
    return false;
}

/* {id} as a job id: BK_E_NOT_FOUND for anything else (an id that cannot
 * exist is a path that does not). */
static enum bk_err job_id(struct bk_http_request *req, int64_t *id,
                          struct bk_errbuf *err)
{
    const char *s = bk_http_param(req, "id");

    if (!s || bk_parse_i64(s, 1, INT64_MAX, id) != BK_OK)
        return bk_fail(err, BK_E_NOT_FOUND, "no job '%s'", s ? s : "");
    return BK_OK;
}

/* GET /api/v1/jobs?kind=&status=&limit=&cursor= — newest first. */
static enum bk_err list(struct bk_api_call *c)
{
    struct bk_job *rows = NULL;
    const char *next = NULL, *kind = bk_http_query(c->req, "kind");
    const char *status_q = bk_http_query(c->req, "status");
    int64_t before = 0, unused;
    int status = -1, retried = -1, limit;
    bool has_cursor;
    size_t n = 0;
    json_t *data;
    enum bk_err e;

    if (status_q && !parse_state(status_q, &status, &retried))
        return bk_api_query_fail(c->err, "status",
                                 "status must be queued, running, retrying, "
                                 "done or dead");
    if (kind && (!*kind || strlen(kind) > 64))
        return bk_api_query_fail(c->err, "kind",
                                 "kind must be 1..64 characters");
    if ((e = bk_api_limit(c->req, &limit, c->err)) ||
        (e = bk_api_cursor(c->req, 'j', &before, &unused, &has_cursor,
                           c->err)) ||
        (e = bk_store_job_list(c->tx, kind, status, retried, before, limit + 1,
                               c->arena, &rows, &n, c->err)))
        return e;
    if (n > (size_t)limit) {
        n = (size_t)limit;
        next = bk_api_cursor_encode(c->arena, 'j', rows[n - 1].id, 0);
    }
    data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, bk_render_job(&rows[i], false));
    bk_api_reply_list(c, data, next);
    return BK_OK;
}

static enum bk_err get(struct bk_api_call *c)
{
    struct bk_job j;
    int64_t id = 0;
    enum bk_err e;

    if ((e = job_id(c->req, &id, c->err)))
        return e;
    e = bk_store_job_get(c->tx, id, c->arena, &j, c->err);
    if (e == BK_E_NOT_FOUND)
        bk_fail(c->err, e, "no job %" PRId64, id);
    if (e)
        return e;
    bk_api_reply(c, 200, bk_render_job(&j, true));
    return BK_OK;
}

/* POST /api/v1/jobs/{id}/replay: the job is due now with its attempts
 * reset (a dead one comes back; a done one runs again — handlers are
 * idempotent). 409 while it runs. A NONE route: it owns its transaction,
 * and wakes the workers only after the commit. */
static enum bk_err replay(struct bk_api_call *c)
{
    struct bk_tx *tx = NULL;
    struct bk_job j;
    int64_t id = 0;
    enum bk_err e;

    if ((e = job_id(c->req, &id, c->err)) ||
        (e = bk_store_begin(c->api->store, BK_TX_WRITE, &tx, c->err)))
        goto out;
    e = bk_store_job_requeue(tx, id, bk_now_ms(), c->err);
    if (e == BK_E_NOT_FOUND)
        bk_fail(c->err, e, "no job %" PRId64, id);
    if (e)
        goto out;
    if ((e = bk_store_job_get(tx, id, c->arena, &j, c->err)))
        goto out;
    e = bk_store_commit(tx, c->err);
    tx = NULL;
    if (e)
        goto out;
    bk_jobs_wake(c->api->jobs);
    bk_api_reply(c, 202, bk_render_job(&j, false));
out:
    bk_store_rollback(tx);
    return e;
}

const struct bk_api_route bk_api_job_routes[] = {
    {"POST", "/api/v1/jobs/{id}/replay", replay, BK_ROUTE_ADMIN, BK_ROUTE_NONE},
    {"GET", "/api/v1/jobs", list, BK_ROUTE_ADMIN, BK_ROUTE_READ},
    {"GET", "/api/v1/jobs/{id}", get, BK_ROUTE_ADMIN, BK_ROUTE_READ},
};
const size_t bk_api_job_n =
    sizeof(bk_api_job_routes) / sizeof(bk_api_job_routes[0]);
