/* core/event.h — a provider's booking event, normalized.
 * webhooks/<provider>.c turns a delivery's payload into this; ledger/sync.c
 * applies it. Strings are borrowed (they live in the arena of the delivery
 * being processed); 0 and NULL mean "not in the payload". */
#ifndef BK_CORE_EVENT_H
#define BK_CORE_EVENT_H

#include <stdint.h>

#include "core/booking.h"

enum bk_ext_kind {
    BK_EXT_CREATED = 0,     /* a booking was made at the provider */
    BK_EXT_RESCHEDULED = 1, /* moved: uid is the new one, previous_uid old */
    BK_EXT_CANCELLED = 2,
    BK_EXT_ENDED = 3, /* the meeting's end time passed */
};

struct bk_ext_person {
    const char *name;
    const char *email;
    const char *timezone; /* IANA, already checked; NULL when unknown */
    const char *username; /* provider's handle (organizers) */
};

struct bk_ext_event {
    enum bk_ext_kind kind;
    enum bk_source source;    /* BK_SOURCE_CALCOM, ... */
    const char *provider;     /* link namespace: "calcom" */
    const char *uid;          /* the provider's booking uid; never NULL */
    const char *previous_uid; /* RESCHEDULED: the uid it replaces */
    const char *booking_id;   /* the provider's numeric id, as text */
    int64_t start_utc;        /* seconds since the epoch, UTC */
    int64_t end_utc;
    struct bk_ext_person attendee;
    struct bk_ext_person organizer;
    int64_t event_type_id; /* the provider's event type id */
    const char *event_type_slug;
    const char *event_type_title;
    int length_min; /* the event type's duration, minutes */
    const char *title;
    const char *notes;
    const char *location;
    const char *meeting_url;
    const char *cancellation_reason;
};

const char *bk_ext_kind_name(enum bk_ext_kind k);

#endif
