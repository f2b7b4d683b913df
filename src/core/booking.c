/* core/booking.c — lifecycle table and names. */
#include <string.h>

#include "core/booking.h"
#include "base/str.h"
#include "base/banned.h"

static const char *const status_names[] = {"pending", "confirmed", "cancelled",
                                           "completed", "no_show"};
static const char *const payment_names[] = {"none", "unpaid", "paid",
                                            "refunded", "failed"};
static const char *const source_names[] = {"web",      "api",    "calcom",
                                           "calendly", "notion", "calendar"};
static const char *const client_names[] = {"prospect", "active", "inactive"};
static const char *const event_names[] = {"confirm",  "cancel",  "reschedule",
                                          "complete", "no_show", "expire"};

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

enum bk_err bk_booking_transition(enum bk_booking_status from,
                                  enum bk_booking_event ev,
                                  enum bk_booking_status *to)
{
    enum bk_booking_status next = from;
    bool ok = false;

    switch (ev) {
    case BK_EV_CONFIRM:
        ok = from == BK_BOOKING_PENDING;
        next = BK_BOOKING_CONFIRMED;
        break;
    case BK_EV_CANCEL:
        ok = from == BK_BOOKING_PENDING || from == BK_BOOKING_CONFIRMED;
        next = BK_BOOKING_CANCELLED;
        break;
    case BK_EV_RESCHEDULE:
        ok = from == BK_BOOKING_PENDING || from == BK_BOOKING_CONFIRMED;
        next = from;
        break;
    case BK_EV_COMPLETE:
        ok = from == BK_BOOKING_CONFIRMED || from == BK_BOOKING_NO_SHOW;
        next = BK_BOOKING_COMPLETED;
        break;
    case BK_EV_NO_SHOW:
        ok = from == BK_BOOKING_CONFIRMED || from == BK_BOOKING_COMPLETED;
        next = BK_BOOKING_NO_SHOW;
        break;
    case BK_EV_EXPIRE:
        ok = from == BK_BOOKING_PENDING;
        next = BK_BOOKING_CANCELLED;
        break;
    }
    if (!ok)
        return BK_E_ILLEGAL_TRANSITION;
    *to = next;
    return BK_OK;
}

bool bk_booking_status_blocks(enum bk_booking_status s)
{
    return s == BK_BOOKING_CONFIRMED || s == BK_BOOKING_COMPLETED ||
           s == BK_BOOKING_NO_SHOW;
}

enum bk_client_status bk_client_status_after(enum bk_client_status current,
                                             enum bk_booking_status booking,
                                             enum bk_payment_status payment)
{
    if (current == BK_CLIENT_PROSPECT &&
        (booking == BK_BOOKING_COMPLETED || payment == BK_PAYMENT_PAID))
        return BK_CLIENT_ACTIVE;
    return current;
}

const char *bk_booking_status_name(enum bk_booking_status s)
{
    return (int)s >= 0 && (int)s < COUNT(status_names) ? status_names[s] : "?";
}

int bk_booking_status_parse(const char *s)
{
    return bk_name_index(status_names, COUNT(status_names), s);
}

const char *bk_payment_status_name(enum bk_payment_status s)
{
    return (int)s >= 0 && (int)s < COUNT(payment_names) ? payment_names[s]
                                                        : "?";
}

int bk_payment_status_parse(const char *s)
{
    return bk_name_index(payment_names, COUNT(payment_names), s);
}

const char *bk_source_name(enum bk_source s)
{
    return (int)s >= 0 && (int)s < COUNT(source_names) ? source_names[s] : "?";
}

int bk_source_parse(const char *s)
{
    return bk_name_index(source_names, COUNT(source_names), s);
}

const char *bk_client_status_name(enum bk_client_status s)
{
    return (int)s >= 0 && (int)s < COUNT(client_names) ? client_names[s] : "?";
}

int bk_client_status_parse(const char *s)
{
    return bk_name_index(client_names, COUNT(client_names), s);
}

const char *bk_booking_event_name(enum bk_booking_event ev)
{
    return (int)ev >= 0 && (int)ev < COUNT(event_names) ? event_names[ev] : "?";
}

unsigned bk_booking_blocking_mask(void)
{
    unsigned mask = 0;

    for (int s = 0; s < BK_BOOKING_STATUS_COUNT; s++)
        if (bk_booking_status_blocks((enum bk_booking_status)s))
            mask |= 1u << s;
    return mask;
}
