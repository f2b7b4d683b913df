/* connectors/gwatch.h — Google Calendar push notifications (events.watch;
 * docs/calendars.md "Push notifications"): a watch channel on each busy or
 * write calendar of each Google connection, renewed before it expires and
 * stopped (channels.stop) when its connection is deleted, needs consent
 * again, or no longer reads that calendar; and the pull a notification
 * asks for. The route that receives the notifications is api/gwatch.c. */
#ifndef BK_CONNECTORS_GWATCH_H
#define BK_CONNECTORS_GWATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "connectors/calendars.h"
#include "jobs/jobs.h"

struct bk_gwatch_config {
    const struct bk_calendars_config *cal; /* google, secret_key, store */
    const char *address; /* BOOKINGD_BASE_URL + "/webhooks/google"; NULL:
                            channels are not opened (and old ones stopped) */
    const unsigned char *manage_secret; /* 32 bytes: the channels' tokens */
    int64_t ttl_ms; /* BOOKINGD_GOOGLE_WATCH_TTL_S: a channel's life */
    int max_attempts;
};

/* The periodic job kind "calendars.gwatch": every ttl/4 (an hour at most)
 * opens the missing channels, renews those with less than half their life
 * left (the new one first, then the old one stopped) and stops the ones
 * no longer wanted. */
void bk_gwatch_kind(const struct bk_gwatch_config *cfg,
                    struct bk_job_kind *out);

/* The job kind "calendars.gpull": the pull of one connection (payload: its
 * public id) that a notification asked for (api/gwatch.c enqueues it,
 * deduplicated). */
void bk_gwatch_pull_kind(const struct bk_gwatch_config *cfg,
                         struct bk_job_kind *out);

#endif
