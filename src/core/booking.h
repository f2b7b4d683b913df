/* core/booking.h — the booking lifecycle and the enums of the ledger.
 * One transition function decides every status change; nothing else
 * assigns a booking's status. Client status rules live here too. */
#ifndef BK_CORE_BOOKING_H
#define BK_CORE_BOOKING_H

#include <stdbool.h>

#include "base/err.h"

enum bk_booking_status {
    BK_BOOKING_PENDING = 0, /* awaiting payment; holds its slot until
                               hold_expires */
    BK_BOOKING_CONFIRMED = 1,
    BK_BOOKING_CANCELLED = 2,
    BK_BOOKING_COMPLETED = 3,
    BK_BOOKING_NO_SHOW = 4,
};
#define BK_BOOKING_STATUS_COUNT 5

enum bk_payment_status {
    BK_PAYMENT_NONE = 0,
    BK_PAYMENT_UNPAID = 1,
    BK_PAYMENT_PAID = 2,
    BK_PAYMENT_REFUNDED = 3,
    BK_PAYMENT_FAILED = 4,
};

enum bk_source {
    BK_SOURCE_WEB = 0,
    BK_SOURCE_API = 1,
    BK_SOURCE_CALCOM = 2,
    BK_SOURCE_CALENDLY = 3,
    BK_SOURCE_NOTION = 4,
    BK_SOURCE_CALENDAR = 5,
};

enum bk_client_status {
    BK_CLIENT_PROSPECT = 0,
    BK_CLIENT_ACTIVE = 1,
    BK_CLIENT_INACTIVE = 2,
};

/* What can happen to a booking. */
enum bk_booking_event {
    BK_EV_CONFIRM = 0,    /* pending -> confirmed (payment arrived) */
    BK_EV_CANCEL = 1,     /* pending|confirmed -> cancelled */
    BK_EV_RESCHEDULE = 2, /* pending|confirmed -> itself, at a new time */
    BK_EV_COMPLETE = 3,   /* confirmed|no_show -> completed */
    BK_EV_NO_SHOW = 4,    /* confirmed|completed -> no_show */
    BK_EV_EXPIRE = 5,     /* pending -> cancelled (hold expired) */
};

/* The lifecycle: returns BK_OK and sets *to when `ev` is legal in `from`,
 * BK_E_ILLEGAL_TRANSITION otherwise (cancelled is final). */
BK_MUST_CHECK enum bk_err bk_booking_transition(enum bk_booking_status from,
                                                enum bk_booking_event ev,
                                                enum bk_booking_status *to);

/* Whether a booking in this status occupies its time (confirmed, completed,
 * no-show; pending while its hold lasts is decided by the caller). */
bool bk_booking_status_blocks(enum bk_booking_status s);

/* The same rule as a bit mask, bit (1 << status) set for each status that
 * blocks, for the store's busy-time query. */
unsigned bk_booking_blocking_mask(void);

/* The status that occupies time only while its hold lasts: until
 * hold_expires_utc when set, for ever when not. */
#define BK_BOOKING_HELD BK_BOOKING_PENDING

/* The client's status after one of its bookings reached `booking` with
 * `payment`: a prospect with a completed or paid booking becomes active;
 * other statuses are kept (inactive is an admin's decision). */
enum bk_client_status bk_client_status_after(enum bk_client_status current,
                                             enum bk_booking_status booking,
                                             enum bk_payment_status payment);

/* Names as the API spells them ("no_show") and back. Parse functions
 * return -1 for an unknown name. */
const char *bk_booking_status_name(enum bk_booking_status s);
int bk_booking_status_parse(const char *s);
const char *bk_payment_status_name(enum bk_payment_status s);
int bk_payment_status_parse(const char *s);
const char *bk_source_name(enum bk_source s);
int bk_source_parse(const char *s);
const char *bk_client_status_name(enum bk_client_status s);
int bk_client_status_parse(const char *s);
const char *bk_booking_event_name(enum bk_booking_event ev);

#endif
