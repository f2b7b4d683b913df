/* connectors/calcom.h — Cal.com's API v2 (issue 10 §4, PROVIDERS.md §3.3,
 * docs/providers/calcom.md): the shared call (API key as a bearer token,
 * the cal-api-version each endpoint needs, the {status, data} envelope,
 * 429 with Retry-After), and bookingd's changes to Cal.com-sourced
 * bookings told to Cal.com through the outbox: a ledger subscriber's job
 * ("calcom.push") that, for a cancellation or a reschedule made in
 * bookingd, cancels or reschedules the booking at Cal.com
 * (POST /v2/bookings/{uid}/cancel, /reschedule). Changes that came from
 * Cal.com (its webhooks, the sync) are not sent back. */
#ifndef BK_CONNECTORS_CALCOM_H
#define BK_CONNECTORS_CALCOM_H

#include <stdbool.h>

#include <jansson.h>

#include "base/arena.h"
#include "base/err.h"
#include "jobs/jobs.h"
#include "ledger/events.h"

#define BK_CALCOM_API_BASE "https://api.cal.com/v2"

/* The cal-api-version values bookingd speaks (PROVIDERS.md §3.3 and its
 * open point 1: the long-documented versions, offset pagination). */
#define BK_CALCOM_VERSION_BOOKINGS    "2024-08-13"
#define BK_CALCOM_VERSION_EVENT_TYPES "2024-06-14"

struct bk_calcom_config {
    const char *api_base; /* CALCOM_API_BASE, no trailing slash */
    const char *api_key;  /* CALCOM_API_KEY; NULL: not connected */
    /* An API base set by the operator (a proxy, a test fake) may be http
     * and private; the default one never is. */
    bool allow_private;
    int connect_timeout_ms;
    int timeout_ms;
};

/* One call: method path_query (after the base, "/bookings?take=100"),
 * with cal-api-version: version unless NULL and a JSON body unless NULL.
 * BK_OK when Cal.com answered 2xx with {"status": "success"}: *data is
 * its "data" (owned: json_decref; may be a JSON null). Otherwise, with a
 * message for people in err: BK_E_RATE_LIMITED (429, or waiting for a
 * Retry-After that is still running: every call of the process waits for
 * it, up to 3 s, before failing), BK_E_UNAUTHORIZED (401/403),
 * BK_E_NOT_FOUND (404), BK_E_INVALID (another 4xx; *status says which),
 * BK_E_IO (network, 5xx), BK_E_MALFORMED (not the envelope, not JSON),
 * BK_E_TOO_LARGE (over max_answer bytes). *status: the HTTP status, 0 when
 * none arrived. Thread-safe. */
BK_MUST_CHECK enum bk_err
bk_calcom_call(const struct bk_calcom_config *cfg, const char *method,
               const char *path_query, const char *version, const char *body,
               size_t max_answer, struct bk_arena *arena, int *status,
               json_t **data, struct bk_errbuf *err);

/* Registers the ledger subscriber (job kind "calcom.push") of
 * cancellations and reschedules, its jobs tried at most max_attempts
 * times (0: the queue's default). Called only while a key is set. */
BK_MUST_CHECK enum bk_err bk_calcom_subscribe(int max_attempts,
                                              struct bk_errbuf *err);

/* The job kind "calcom.push"; cfg is borrowed. */
void bk_calcom_push_kind(const struct bk_calcom_config *cfg,
                         struct bk_job_kind *out);

#endif
