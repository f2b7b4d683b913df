/* connectors/calendly.c — the "calendly.cancel" job: a cancellation in
 * bookingd of a booking that came from Calendly cancels the scheduled
 * event at Calendly. The job reads the booking, skips cancellations that
 * Calendly itself reported (their activity's source is "calendly") and
 * bookings from elsewhere, takes the scheduled event's uuid from the
 * booking's live invitee link, fences its lease and POSTs the
 * cancellation. 201 is done; 404 (the event is gone) and 403 "already
 * canceled" are done too, since a repeat after a crash between the POST
 * and the job's completion must not fail; 401, 429 and 5xx are retried
 * with the queue's backoff; any other 4xx is permanent. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "connectors/calendly.h"
#include "connectors/calendly_oauth.h"
#include "base/log.h"
#include "base/str.h"
#include "core/ledger.h"
#include "net/net.h"
#include "store/store.h"
#include "base/banned.h"

#define JOB_KIND   "calendly.cancel"
#define MAX_ANSWER 4096
#define MAX_REASON 10000 /* Calendly's limit on reason */
#define MAX_UUID   64
#define PROVIDER   "calendly"

static struct bk_ledger_subscriber subscriber = {
    .name = "calendly",
    .job_kind = JOB_KIND,
    .kinds = BK_LEV_BIT(BK_LEV_BOOKING_CANCELLED),
};

enum bk_err bk_calendly_subscribe(int max_attempts, struct bk_errbuf *err)
{
    subscriber.max_attempts = max_attempts;
    return bk_ledger_subscribe(&subscriber, err);
}

bool bk_calendly_event_uuid(const char *uri, char *out, size_t size)
{
    const char *p = uri ? strstr(uri, "/scheduled_events/") : NULL;
    size_t n;

    if (!p)
        return false;
    p += strlen("/scheduled_events/");
    n = strcspn(p, "/");
    if (!n || n > MAX_UUID || n >= size || strncmp(p + n, "/invitees/", 10))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
              (p[i] >= '0' && p[i] <= '9') || p[i] == '-'))
            return false;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

/* What to send: the event's uuid and the reason, or *skip with why. */
static enum bk_err plan(struct bk_store *store, int64_t booking_id,
                        int64_t activity_id, struct bk_arena *arena,
                        char uuid[MAX_UUID + 1], const char **reason,
                        const char **skip, const char **booking_uid,
                        struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    struct bk_booking b;
    struct bk_activity *acts = NULL;
    struct bk_link *links = NULL;
    size_t n_acts = 0, n_links = 0;
    enum bk_err e;

    *skip = NULL;
    *reason = NULL;
    *booking_uid = NULL;
    if ((e = bk_store_begin(store, BK_TX_READ, &tx, err)))
        return e;
    e = bk_store_booking_get(tx, booking_id, arena, &b, err);
    if (e == BK_E_NOT_FOUND) {
        *skip = "the booking no longer exists";
        e = BK_OK;
        goto out;
    }
    if (e)
        goto out;
    *booking_uid = b.uid;
    if (b.source != BK_SOURCE_CALENDLY || b.status != BK_BOOKING_CANCELLED) {
        *skip = b.source != BK_SOURCE_CALENDLY ? "not a Calendly booking"
                                               : "no longer cancelled";
        goto out;
    }
    /* The cancellation's own activity row says who made it. */
    if ((e = bk_store_activity_list(tx, "BOOKING_CANCELLED", booking_id,
                                    activity_id + 1, 1, arena, &acts, &n_acts,
                                    err)))
        goto out;
    if (n_acts && acts[0].id == activity_id && acts[0].source &&
        strcmp(acts[0].source, PROVIDER) == 0) {
        *skip = "Calendly reported this cancellation";
        goto out;
    }
    if ((e = bk_store_link_list(tx, BK_LINK_BOOKING, booking_id, arena, &links,
                                &n_links, err)))
        goto out;
    for (size_t i = 0; i < n_links; i++)
        if (strcmp(links[i].provider, PROVIDER) == 0 &&
            strcmp(links[i].kind, "booking_uid") == 0 && !links[i].superseded &&
            bk_calendly_event_uuid(links[i].external_id, uuid, MAX_UUID + 1))
            goto found;
    *skip = "no live Calendly invitee is linked";
    goto out;
found:
    *reason = b.cancellation_reason;
out:
    bk_store_rollback(tx);
    return e;
}

static bool already_canceled(const struct bk_net_result *res)
{
    json_t *j;
    const char *msg;
    bool yes = false;

    if (res->status != 403 || !res->body)
        return false;
    j = json_loadb(res->body, res->body_len, 0, NULL);
    msg = json_string_value(json_object_get(j, "message"));
    yes = msg &&
          (strstr(msg, "already canceled") || strstr(msg, "already cancelled"));
    json_decref(j);
    return yes;
}

static enum bk_err run(void *ctx, struct bk_store *store,
                       const struct bk_job *job, struct bk_arena *arena,
                       struct bk_errbuf *err)
{
    const struct bk_calendly_config *cfg = ctx;
    json_t *p = NULL, *body = NULL;
    json_int_t activity_id = 0, booking_id = 0;
    const char *event = NULL, *reason, *skip, *buid;
    char uuid[MAX_UUID + 1];
    const char *headers[1], *bearer = NULL;
    char *text = NULL;
    struct bk_net_post post;
    struct bk_net_result res;
    struct bk_errbuf nerr;
    enum bk_err e, ne;

    p = json_loads(job->payload ? job->payload : "", 0, NULL);
    if (!p || json_unpack(p, "{s:s, s:I, s:I}", "event", &event, "activity_id",
                          &activity_id, "booking_id", &booking_id) != 0) {
        json_decref(p);
        return bk_fail(err, BK_E_MALFORMED, "not a ledger event payload");
    }
    json_decref(p);
    if ((e = plan(store, booking_id, activity_id, arena, uuid, &reason, &skip,
                  &buid, err)))
        return e;
    if (skip)
        return bk_jobs_finish_alone(store, BK_TX_WRITE, job, NULL, NULL, NULL,
                                    err);
    if (!cfg)
        return bk_fail(err, BK_E_INVALID, "Calendly is not configured");
    e = bk_calendly_bearer(cfg->oauth, cfg->token, arena, &bearer, err);
    if (e == BK_E_UNAVAILABLE)
        return bk_fail(err, BK_E_INVALID,
                       "Calendly is not connected (CALENDLY_TOKEN or OAuth): "
                       "booking %s cannot be cancelled at Calendly",
                       buid);
    if (e)
        return e;
    body = json_object();
    if (reason && *reason) {
        size_t n = strlen(reason);
        json_object_set_new(
            body, "reason",
            json_stringn(reason, n > MAX_REASON ? MAX_REASON : n));
    }
    text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!text)
        return bk_fail(err, BK_E_INTERNAL, "cannot encode the cancellation");
    /* The POST leaves the database: hold the job for a full lease first. */
    if ((e = bk_jobs_fence(store, job, err))) {
        free(text);
        return e;
    }
    for (int round = 0;; round++) {
        headers[0] = bk_arena_printf(arena, "Authorization: Bearer %s", bearer);
        memset(&post, 0, sizeof(post));
        post.url = bk_arena_printf(arena, "%s/scheduled_events/%s/cancellation",
                                   cfg->api_base, uuid);
        post.body = text;
        post.body_len = strlen(text);
        post.headers = headers;
        post.n_headers = 1;
        post.connect_timeout_ms = cfg->connect_timeout_ms;
        post.timeout_ms = cfg->timeout_ms;
        post.max_response = MAX_ANSWER;
        post.allow_private = cfg->allow_private;
        post.provider = "calendly";
        bk_errbuf_clear(&nerr);
        ne = bk_net_post(&post, arena, &res, &nerr);
        if (!ne && res.status == 401 && round == 0 && cfg->oauth) {
            /* An expired or revoked OAuth access token: refreshed once. */
            if ((e = bk_calendly_rejected(cfg->oauth, bearer, arena, err)) ||
                (e = bk_calendly_bearer(cfg->oauth, cfg->token, arena, &bearer,
                                        err))) {
                free(text);
                return e == BK_E_UNAUTHORIZED ? BK_E_RETRY : e;
            }
            continue;
        }
        break;
    }
    free(text);
    if (ne)
        return bk_fail(
            err,
            ne == BK_E_INVALID || ne == BK_E_RATE_LIMITED ? ne : BK_E_RETRY,
            "Calendly: %s", nerr.msg);
    if ((res.status >= 200 && res.status < 300) || res.status == 404 ||
        already_canceled(&res)) {
        bk_log_info("calendly: booking %s: scheduled event %s %s", buid, uuid,
                    res.status < 300 ? "cancelled at Calendly"
                                     : "was already cancelled there");
        return bk_jobs_finish_alone(store, BK_TX_WRITE, job, NULL, NULL, NULL,
                                    err);
    }
    if (res.status == 401 || res.status == 429 || res.status >= 500)
        return bk_fail(err, BK_E_RETRY,
                       "Calendly answered %d to the cancellation of %s%s",
                       res.status, uuid,
                       res.status == 401 ? " (check CALENDLY_TOKEN)" : "");
    return bk_fail(err, BK_E_INVALID,
                   "Calendly refused the cancellation of %s: HTTP %d %.200s",
                   uuid, res.status, res.body ? res.body : "");
}

void bk_calendly_cancel_kind(const struct bk_calendly_config *cfg,
                             struct bk_job_kind *out)
{
    memset(out, 0, sizeof(out[0]));
    out->name = JOB_KIND;
    out->run = run;
    out->ctx = (void *)cfg;
}
