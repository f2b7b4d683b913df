/* connectors/calendly.h — bookingd's changes to Calendly-sourced bookings,
 * told to Calendly (issue 10 §1, PROVIDERS.md §2.4). Today: a cancellation
 * made in bookingd (the API, the attendee's page, an admin) of a booking
 * that came from Calendly cancels its scheduled event there
 * (POST {CALENDLY_API_BASE}/scheduled_events/{uuid}/cancellation with the
 * personal access token CALENDLY_TOKEN), through the outbox: a ledger
 * subscriber's job ("calendly.cancel"), retried with the queue's backoff.
 * Cancellations that came from Calendly are not sent back. */
#ifndef BK_CONNECTORS_CALENDLY_H
#define BK_CONNECTORS_CALENDLY_H

#include <stdbool.h>

#include "base/err.h"
#include "jobs/jobs.h"
#include "ledger/events.h"

#define BK_CALENDLY_API_BASE "https://api.calendly.com"

struct bk_calendly_oauth_config;

struct bk_calendly_config {
    const char *api_base; /* CALENDLY_API_BASE, no trailing slash */
    const char *token;    /* CALENDLY_TOKEN; NULL: none */
    /* Calendly OAuth (connectors/calendly_oauth.h): a connected account's
     * tokens are used in place of token; NULL: off. */
    const struct bk_calendly_oauth_config *oauth;
    /* An API base set by the operator (a proxy, a test fake) may be http
     * and private; the default one never is. */
    bool allow_private;
    int connect_timeout_ms;
    int timeout_ms;
};

/* Registers the ledger subscriber (job kind "calendly.cancel") of
 * cancellations, its jobs tried at most max_attempts times (0: the
 * queue's default). Called only while a token is configured. */
BK_MUST_CHECK enum bk_err bk_calendly_subscribe(int max_attempts,
                                                struct bk_errbuf *err);

/* The job kind "calendly.cancel"; cfg is borrowed. */
void bk_calendly_cancel_kind(const struct bk_calendly_config *cfg,
                             struct bk_job_kind *out);

/* The scheduled event's uuid in an invitee URI
 * (".../scheduled_events/{uuid}/invitees/{uuid}") copied into out, or
 * false when uri is not one (or the uuid is not [A-Za-z0-9-], 1..64). */
bool bk_calendly_event_uuid(const char *uri, char *out, size_t size);

#endif
