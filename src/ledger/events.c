/* ledger/events.c — bk_ledger_emit: history, activity and the subscribers'
 * jobs of one ledger change, in the caller's transaction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/time.h"
#include "core/booking.h"
#include "core/ledger.h"
#include "ledger/events.h"
#include "ledger/internal.h"
#include "base/banned.h"

/* Each kind: its name in the activity log, and the history action it
 * writes on its booking (NULL: none). */
static const struct {
    const char *name;
    const char *history;
} kinds[BK_LEV_COUNT] = {
    [BK_LEV_BOOKING_CREATED] = {"BOOKING_CREATED", "created"},
    [BK_LEV_BOOKING_RESCHEDULED] = {"BOOKING_RESCHEDULED", "rescheduled"},
    [BK_LEV_BOOKING_CANCELLED] = {"BOOKING_CANCELLED", "cancelled"},
    [BK_LEV_BOOKING_COMPLETED] = {"BOOKING_COMPLETED", "completed"},
    [BK_LEV_BOOKING_NO_SHOW] = {"BOOKING_NO_SHOW", "no_show"},
    [BK_LEV_BOOKING_SUPERSEDED] = {"BOOKING_SUPERSEDED", "cancelled"},
    [BK_LEV_BOOKING_OVERLAP] = {"BOOKING_OVERLAP", NULL},
    [BK_LEV_CLIENT_CREATED] = {"CLIENT_CREATED", NULL},
    [BK_LEV_CLIENT_UPDATED] = {"CLIENT_UPDATED", NULL},
    [BK_LEV_CLIENT_ACTIVATED] = {"CLIENT_ACTIVATED", NULL},
    [BK_LEV_HOST_CREATED] = {"HOST_CREATED", NULL},
    [BK_LEV_HOST_UPDATED] = {"HOST_UPDATED", NULL},
    [BK_LEV_HOST_DELETED] = {"HOST_DELETED", NULL},
    [BK_LEV_HOST_IMPORTED] = {"HOST_IMPORTED", NULL},
    [BK_LEV_SCHEDULE_UPDATED] = {"SCHEDULE_UPDATED", NULL},
    [BK_LEV_EVENT_TYPE_CREATED] = {"EVENT_TYPE_CREATED", NULL},
    [BK_LEV_EVENT_TYPE_UPDATED] = {"EVENT_TYPE_UPDATED", NULL},
    [BK_LEV_EVENT_TYPE_DELETED] = {"EVENT_TYPE_DELETED", NULL},
    [BK_LEV_EVENT_TYPE_IMPORTED] = {"EVENT_TYPE_IMPORTED", NULL},
    [BK_LEV_SYNC_EVENT_SKIPPED] = {"SYNC_EVENT_SKIPPED", NULL},
    [BK_LEV_BOOKING_CONFIRMED] = {"BOOKING_CONFIRMED", "confirmed"},
    [BK_LEV_CHECKOUT_INITIATED] = {"CHECKOUT_INITIATED", NULL},
    [BK_LEV_PAYMENT_COMPLETED] = {"PAYMENT_COMPLETED", NULL},
    [BK_LEV_CHECKOUT_EXPIRED] = {"CHECKOUT_EXPIRED", NULL},
    [BK_LEV_REFUND_ISSUED] = {"REFUND_ISSUED", NULL},
    [BK_LEV_INVOICE_PAID] = {"INVOICE_PAID", NULL},
    [BK_LEV_PACKAGE_PURCHASED] = {"PACKAGE_PURCHASED", NULL},
    [BK_LEV_CREDIT_USED] = {"CREDIT_USED", NULL},
};

static const struct bk_ledger_subscriber
    *subscribers[BK_LEDGER_MAX_SUBSCRIBERS];
static int n_subscribers;

static bool valid_kind(enum bk_ledger_event_kind k)
{
    return (int)k >= 0 && (int)k < BK_LEV_COUNT;
}

const char *bk_ledger_event_name(enum bk_ledger_event_kind kind)
{
    return valid_kind(kind) ? kinds[kind].name : "UNKNOWN";
}

/* What outbound webhooks publish (Standard Webhooks event types). */
static const char *const public_names[BK_LEV_COUNT] = {
    [BK_LEV_BOOKING_CREATED] = "booking.created",
    [BK_LEV_BOOKING_RESCHEDULED] = "booking.rescheduled",
    [BK_LEV_BOOKING_CANCELLED] = "booking.cancelled",
    [BK_LEV_BOOKING_COMPLETED] = "booking.completed",
    [BK_LEV_BOOKING_NO_SHOW] = "booking.no_show",
    [BK_LEV_CLIENT_CREATED] = "client.created",
    [BK_LEV_CLIENT_UPDATED] = "client.updated",
    [BK_LEV_BOOKING_CONFIRMED] = "booking.confirmed",
    [BK_LEV_PAYMENT_COMPLETED] = "payment.succeeded",
    [BK_LEV_REFUND_ISSUED] = "payment.refunded",
    [BK_LEV_INVOICE_PAID] = "invoice.paid",
};

const char *bk_ledger_event_public_name(enum bk_ledger_event_kind kind)
{
    return valid_kind(kind) ? public_names[kind] : NULL;
}

int bk_ledger_event_public_parse(const char *name)
{
    for (int k = 0; name && k < BK_LEV_COUNT; k++)
        if (public_names[k] && strcmp(public_names[k], name) == 0)
            return k;
    return -1;
}

void bk_ledger_event_init(struct bk_ledger_event *ev,
                          enum bk_ledger_event_kind kind, int64_t at_utc,
                          const char *actor)
{
    memset(ev, 0, sizeof(*ev));
    ev->kind = kind;
    ev->at_utc = at_utc;
    ev->actor = actor;
    ev->from_status = -1;
    ev->to_status = -1;
}

static bool valid_name(const char *s)
{
    if (!s || !*s || strlen(s) > 40)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-'))
            return false;
    return true;
}

enum bk_err bk_ledger_subscribe(const struct bk_ledger_subscriber *s,
                                struct bk_errbuf *err)
{
    if (!valid_name(s->name))
        return bk_fail(err, BK_E_INVALID,
                       "subscriber name '%s' is not [a-z0-9_-]{1,40}",
                       s->name ? s->name : "(null)");
    if (!s->job_kind || !*s->job_kind)
        return bk_fail(err, BK_E_INVALID, "subscriber %s has no job kind",
                       s->name);
    if (!s->kinds || (s->kinds >> BK_LEV_COUNT))
        return bk_fail(err, BK_E_INVALID,
                       "subscriber %s: its event mask is empty or names "
                       "unknown kinds",
                       s->name);
    for (int i = 0; i < n_subscribers; i++)
        if (strcmp(subscribers[i]->name, s->name) == 0)
            return bk_fail(err, BK_E_DUPLICATE,
                           "a subscriber named %s exists already", s->name);
    if (n_subscribers >= BK_LEDGER_MAX_SUBSCRIBERS)
        return bk_fail(err, BK_E_TOO_LARGE, "more than %d subscribers",
                       BK_LEDGER_MAX_SUBSCRIBERS);
    subscribers[n_subscribers++] = s;
    return BK_OK;
}

void bk_ledger_subscribers_clear(void)
{
    n_subscribers = 0;
}

/* The subscribers' job payload: what happened and to which rows; the job
 * reads the rows themselves when it runs. */
static char *job_payload(const struct bk_ledger_event *ev, int64_t activity_id)
{
    char at[BK_RFC3339_MAX];
    json_t *o;
    char *s;

    bk_rfc3339_format_utc(ev->at_utc, at);
    o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:s}", "event",
                  kinds[ev->kind].name, "activity_id", (json_int_t)activity_id,
                  "booking_id", (json_int_t)ev->booking_id, "client_id",
                  (json_int_t)ev->client_id, "host_id", (json_int_t)ev->host_id,
                  "event_type_id", (json_int_t)ev->event_type_id, "at", at);
    if (o && ev->to_status >= 0 && ev->to_status < BK_BOOKING_STATUS_COUNT)
        json_object_set_new(o, "status",
                            json_string(bk_booking_status_name(
                                (enum bk_booking_status)ev->to_status)));
    s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

enum bk_err bk_ledger_emit(struct bk_tx *tx, const struct bk_ledger_event *ev,
                           struct bk_errbuf *err)
{
    struct bk_activity a;
    int64_t activity_id = 0;
    enum bk_err e;

    if (!valid_kind(ev->kind))
        return bk_fail(err, BK_E_INTERNAL, "unknown ledger event kind %d",
                       (int)ev->kind);
    if (kinds[ev->kind].history) {
        struct bk_booking_change c;
        if (!ev->booking_id)
            return bk_fail(err, BK_E_INVALID, "%s without a booking",
                           kinds[ev->kind].name);
        memset(&c, 0, sizeof(c));
        c.booking_id = ev->booking_id;
        c.at_utc = ev->at_utc;
        c.action = kinds[ev->kind].history;
        c.actor = ev->actor ? ev->actor : "system";
        c.from_status = ev->from_status;
        c.to_status = ev->to_status;
        c.old_start_utc = ev->old_start_utc;
        c.old_end_utc = ev->old_end_utc;
        c.new_start_utc = ev->new_start_utc;
        c.new_end_utc = ev->new_end_utc;
        c.note = ev->note;
        if ((e = bk_store_history_append(tx, &c, err)))
            return e;
    }

    memset(&a, 0, sizeof(a));
    a.at_utc = ev->at_utc;
    a.kind = kinds[ev->kind].name;
    a.booking_id = ev->booking_id;
    a.client_id = ev->client_id;
    a.source = ev->source ? ev->source : ev->actor ? ev->actor : "system";
    a.detail = ev->detail;
    if ((e = bk_store_activity_append(tx, &a, &activity_id, err)))
        return e;

    for (int i = 0; i < n_subscribers; i++) {
        const struct bk_ledger_subscriber *s = subscribers[i];
        char key[64];
        char *payload;
        int64_t job_id;
        bool existed;

        if (!(s->kinds & BK_LEV_BIT(ev->kind)))
            continue;
        snprintf(key, sizeof(key), "%s:%lld", s->name, (long long)activity_id);
        payload = job_payload(ev, activity_id);
        if (!payload)
            return bk_fail(err, BK_E_INTERNAL, "cannot encode a job payload");
        e = bk_store_job_enqueue(tx, s->job_kind, key, payload, bk_now_ms(),
                                 s->max_attempts > 0 ? s->max_attempts : 10,
                                 bk_now_ms(), &job_id, &existed, err);
        free(payload);
        if (!e && s->in_tx)
            e = s->in_tx(tx, ev, activity_id, err);
        if (e)
            return e;
    }
    return BK_OK;
}
