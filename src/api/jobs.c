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
static void list(void *ctx, struct bk_http_request *req,
                 struct bk_http_response *resp)
{
    struct bk_api *api = ctx;
    struct bk_errbuf err;
    struct bk_tx *tx = NULL;
    struct bk_job *rows = NULL;
    const char *next = NULL, *kind = bk_http_query(req, "kind");
    const char *status_q = bk_http_query(req, "status");
    int64_t before = 0, unused;
    int status = -1, retried = -1, limit;
    bool has_cursor;
    size_t n = 0;
    json_t *data;
    enum bk_err e;

    bk_errbuf_clear(&err);
    if (status_q && !parse_state(status_q, &status, &retried)) {
        e = bk_api_query_fail(&err, "status",
                              "status must be queued, running, retrying, "
                              "done or dead");
        goto out;
    }
    if (kind && (!*kind || strlen(kind) > 64)) {
        e = bk_api_query_fail(&err, "kind", "kind must be 1..64 characters");
        goto out;
    }
    if ((e = bk_api_limit(req, &limit, &err)) ||
        (e = bk_api_cursor(req, 'j', &before, &unused, &has_cursor, &err)) ||
        (e = bk_store_begin(api->store, BK_TX_READ, &tx, &err)) ||
        (e = bk_store_job_list(tx, kind, status, retried, before, limit + 1,
                               req->arena, &rows, &n, &err)))
        goto out;
    if (n > (size_t)limit) {
        n = (size_t)limit;
        next = bk_api_cursor_encode(req->arena, 'j', rows[n - 1].id, 0);
    }
    data = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(data, bk_render_job(&rows[i], false));
    bk_api_list(req, resp, data, next);
out:
    bk_store_rollback(tx);
    if (e)
        bk_api_error(req, resp, e, &err);
}

static void get(void *ctx, struct bk_http_request *req,
                struct bk_http_response *resp)
{
    struct bk_api *api = ctx;
    struct bk_errbuf err;
    struct bk_tx *tx = NULL;
    struct bk_job j;
    int64_t id = 0;
    enum bk_err e;

    bk_errbuf_clear(&err);
    if ((e = job_id(req, &id, &err)) ||
        (e = bk_store_begin(api->store, BK_TX_READ, &tx, &err)))
        goto out;
    e = bk_store_job_get(tx, id, req->arena, &j, &err);
    if (e == BK_E_NOT_FOUND)
        bk_fail(&err, e, "no job %" PRId64, id);
    if (e)
        goto out;
    bk_api_json(req, resp, 200, bk_render_job(&j, true));
out:
    bk_store_rollback(tx);
    if (e)
        bk_api_error(req, resp, e, &err);
}

/* POST /api/v1/jobs/{id}/replay: the job is due now with its attempts
 * reset (a dead one comes back; a done one runs again — handlers are
 * idempotent). 409 while it runs. */
static void replay(void *ctx, struct bk_http_request *req,
                   struct bk_http_response *resp)
{
    struct bk_api *api = ctx;
    struct bk_errbuf err;
    struct bk_tx *tx = NULL;
    struct bk_job j;
    int64_t id = 0;
    enum bk_err e;

    bk_errbuf_clear(&err);
    if ((e = job_id(req, &id, &err)) ||
        (e = bk_store_begin(api->store, BK_TX_WRITE, &tx, &err)))
        goto out;
    e = bk_store_job_requeue(tx, id, bk_now_ms(), &err);
    if (e == BK_E_NOT_FOUND)
        bk_fail(&err, e, "no job %" PRId64, id);
    if (e)
        goto out;
    if ((e = bk_store_job_get(tx, id, req->arena, &j, &err)))
        goto out;
    e = bk_store_commit(tx, &err);
    tx = NULL;
    if (e)
        goto out;
    bk_jobs_wake(api->jobs);
    bk_api_json(req, resp, 202, bk_render_job(&j, false));
out:
    bk_store_rollback(tx);
    if (e)
        bk_api_error(req, resp, e, &err);
}

const struct bk_route bk_api_job_routes[] = {
    {"POST", "/api/v1/jobs/{id}/replay", replay, BK_ROUTE_ADMIN},
    {"GET", "/api/v1/jobs", list, BK_ROUTE_ADMIN},
    {"GET", "/api/v1/jobs/{id}", get, BK_ROUTE_ADMIN},
};
const size_t bk_api_job_n =
    sizeof(bk_api_job_routes) / sizeof(bk_api_job_routes[0]);
