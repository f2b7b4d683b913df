/* connectors/calendars.h — bookings pushed into the hosts' calendars
 * (CalDAV, RFC 4791; docs/calendars.md). A ledger subscriber's job
 * (calendars.push) brings the event of one booking in the write calendar
 * of each of its host's connections up to the booking's current state:
 * created with PUT If-None-Match: *, updated with PUT If-Match: <etag>,
 * removed with DELETE (or kept with STATUS:CANCELLED, a connection
 * setting). The event's URL and ETag are the booking's external link
 * (provider "caldav", kind "event:<connection id>"). The connections' HTTP
 * API is api/calendars.c; the protocol is dav/. */
#ifndef BK_CONNECTORS_CALENDARS_H
#define BK_CONNECTORS_CALENDARS_H

#include <stdbool.h>
#include <stddef.h>

#include "api/api.h"
#include "connectors/google.h"
#include "crypto/crypto.h"
#include "jobs/jobs.h"
#include "ledger/events.h"

struct bk_calendars_config {
    const struct bk_secret_key *secret_key; /* NULL: pushes fail (no key) */
    bool allow_private;       /* BOOKINGD_CALENDAR_ALLOW_PRIVATE */
    int connect_timeout_ms;   /* BOOKINGD_CALENDAR_CONNECT_TIMEOUT_MS */
    int timeout_ms;           /* BOOKINGD_CALENDAR_TIMEOUT_MS, each request */
    size_t max_response;      /* BOOKINGD_CALENDAR_MAX_RESPONSE */
    int max_attempts;         /* the push job's attempts */
    const char *base_url;     /* BOOKINGD_BASE_URL: the admin link */
    int horizon_days;         /* BOOKINGD_CALENDAR_HORIZON_DAYS: busy time
                                 is read this far ahead */
    int64_t sync_interval_ms; /* BOOKINGD_CALENDAR_SYNC_MINUTES */
    struct bk_store *store;   /* for bk_calendars_sync_api; set at start */
    const struct bk_google_config *google; /* kind "google" (google.h) */
    int64_t reconcile_interval_ms; /* the reconcile's period; 0: a day */
};

/* What one run of bk_calendars_sync covers: connection (a public id) or
 * host (a slug) or neither (all); kind ("caldav", "google"; NULL any);
 * reconcile: read every calendar whole (sync tokens ignored) and compare
 * every future booking of the host with its event in the write calendar,
 * pushing again what drifted (docs/calendars.md "Reconcile"). */
struct bk_calendars_scope {
    const char *connection;
    const char *host;
    const char *kind;
    bool reconcile;
};

/* The ledger subscriber (job kind "calendars.push") of booking created,
 * rescheduled, cancelled and superseded. Static. */
const struct bk_ledger_subscriber *bk_calendars_subscriber(void);

/* The job kind "calendars.push"; cfg is borrowed. */
void bk_calendars_push_kind(const struct bk_calendars_config *cfg,
                            struct bk_job_kind *out);

/* Pulls the calendars of the connections in scope (connection: a public
 * id; host: a slug; both NULL: all) at now: for each busy (or write)
 * calendar, a sync-collection REPORT with the stored sync token (RFC 6578)
 * tells whether anything changed; when it did, or the server has no
 * token, a calendar-query over [now - 1 day, now + horizon) reads the
 * events again, and the calendar's busy rows are replaced in one
 * transaction. Events that are bookings follow the calendar: moved there,
 * the booking is rescheduled (actor "calendar"), or, when that is refused
 * (the time is taken or not bookable), the event is put back by a push;
 * gone from the calendar, the booking is cancelled ("deleted in
 * calendar"). Errors of a connection are recorded on it (last_error,
 * status) and in out->errors. */
BK_MUST_CHECK enum bk_err
bk_calendars_sync(const struct bk_calendars_config *cfg, struct bk_store *store,
                  const struct bk_calendars_scope *scope, int64_t now_utc,
                  struct bk_arena *arena, struct bk_sync_summary *out,
                  struct bk_errbuf *err);

/* bk_calendars_sync as the API's hook (bk_api_sync_fn); ctx is the
 * config, whose store is set. */
enum bk_err bk_calendars_sync_api(void *ctx, const char *connection,
                                  const char *host, const char *kind,
                                  bool reconcile, struct bk_arena *arena,
                                  struct bk_sync_summary *out,
                                  struct bk_errbuf *err);

/* The daily job kind "calendars.reconcile" (every reconcile_interval_ms,
 * one run per period across instances): bk_calendars_sync of every
 * connection with reconcile set; each connection's summary is recorded
 * (last_reconcile_summary). */
void bk_calendars_reconcile_kind(const struct bk_calendars_config *cfg,
                                 struct bk_job_kind *out);

/* The periodic job kind "calendars.sync" (every sync_interval_ms; one
 * run per period). */
void bk_calendars_sync_kind(const struct bk_calendars_config *cfg,
                            struct bk_job_kind *out);

/* One Calendar API call (google.h bk_google_call) for a Google connection
 * with its tokens, refreshed (and stored) when due and once on a 401.
 * false when no answer came: *error says why, *auth_failed when Google
 * refused the grant (gwatch.c: watch channels). */
bool bk_calendars_google_call(const struct bk_calendars_config *cfg,
                              struct bk_store *store,
                              const struct bk_cal_connection *conn,
                              const char *method, const char *path,
                              const char *body, struct bk_arena *arena,
                              struct bk_net_response *r, const char **error,
                              bool *auth_failed);

/* The URL of a booking's event in the calendar collection_url (which
 * ends with '/'): collection_url + "bookingd-" + uid + ".ics", so that a
 * retried create finds its own event instead of making a second one. In
 * arena. */
const char *bk_calendars_event_url(const char *collection_url, const char *uid,
                                   struct bk_arena *arena);

#endif
