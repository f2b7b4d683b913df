/* connectors/zoom.h — a Zoom meeting per booking of an event type whose
 * location is Zoom (issue 10 §2, PROVIDERS.md §4.3-4.4,
 * docs/providers/zoom.md). A ledger subscriber's job ("zoom.meeting") brings
 * the booking's meeting to the booking's state: made when the booking is
 * confirmed (its join URL stored as the booking's meeting_url, with the link
 * zoom/booking_uid/<id>, in the job's finishing transaction), moved on
 * reschedule, deleted on cancellation. Server-to-Server OAuth (account
 * credentials grant), the token cached per process until a minute before it
 * expires and dropped on a 401. */
#ifndef BK_CONNECTORS_ZOOM_H
#define BK_CONNECTORS_ZOOM_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "jobs/jobs.h"

#define BK_ZOOM_API_BASE   "https://api.zoom.us/v2"
#define BK_ZOOM_OAUTH_BASE "https://zoom.us"

struct bk_zoom_config {
    const char *api_base;      /* ZOOM_API_BASE, no trailing slash */
    const char *oauth_base;    /* ZOOM_OAUTH_BASE, no trailing slash */
    const char *account_id;    /* ZOOM_ACCOUNT_ID; NULL: not configured */
    const char *client_id;     /* ZOOM_CLIENT_ID */
    const char *client_secret; /* ZOOM_CLIENT_SECRET */
    /* Bases set by the operator (a proxy, a test fake) may be http and
     * private; the defaults never are. */
    bool allow_private;
    int connect_timeout_ms;
    int timeout_ms;
};

/* Registers the ledger subscriber (job kind "zoom.meeting") of bookings
 * created, confirmed, rescheduled and cancelled, its jobs tried at most
 * max_attempts times (0: the queue's default). Called only while Zoom is
 * configured. */
BK_MUST_CHECK enum bk_err bk_zoom_subscribe(int max_attempts,
                                            struct bk_errbuf *err);

/* The job kind "zoom.meeting"; cfg is borrowed. */
void bk_zoom_meeting_kind(const struct bk_zoom_config *cfg,
                          struct bk_job_kind *out);

/* The marker that finds a booking's meeting again at Zoom (in its agenda):
 * "bookingd-booking: <uid>", in out (size bytes). */
void bk_zoom_marker(const char *booking_uid, char *out, size_t size);

#endif
