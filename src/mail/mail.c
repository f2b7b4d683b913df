/* mail/mail.c — the "mail" subscriber and its jobs (mail.h): which
 * messages a booking's change implies, their texts, and recording what
 * became of each. Composition and SMTP are smtp.c; the invite is
 * core/ics.c. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "mail/mail.h"
#include "mail/template.h"
#include "core/ics.h"
#include "core/tz.h"
#include "crypto/crypto.h"
#include "ledger/events.h"
#include "ledger/ledger.h"
#include "ledger/payments.h"
#include "pdf/invoice.h"
#include "base/log.h"
#include "base/str.h"
#include "base/time.h"
#include "base/banned.h"

/* ---- The subscriber ----------------------------------------------------- */

static enum bk_err reminders_in_tx(struct bk_tx *tx,
                                   const struct bk_ledger_event *ev,
                                   int64_t activity_id, struct bk_errbuf *err);

static struct bk_ledger_subscriber subscriber = {
    .name = "mail",
    .job_kind = BK_MAIL_EVENT_KIND,
    .kinds = BK_LEV_BIT(BK_LEV_BOOKING_CREATED) |
             BK_LEV_BIT(BK_LEV_BOOKING_CONFIRMED) |
             BK_LEV_BIT(BK_LEV_BOOKING_RESCHEDULED) |
             BK_LEV_BIT(BK_LEV_BOOKING_CANCELLED) |
             BK_LEV_BIT(BK_LEV_CHECKOUT_EXPIRED),
    .in_tx = reminders_in_tx,
};

enum bk_err bk_mail_subscribe(int max_attempts, struct bk_errbuf *err)
{
    subscriber.max_attempts = max_attempts;
    return bk_ledger_subscribe(&subscriber, err);
}

enum bk_err bk_mail_parse_from(const char *s, struct bk_arena *arena,
                               const char **name, const char **addr,
                               struct bk_errbuf *err)
{
    const char *lt = strrchr(s, '<');
    char *n = NULL, *a;
    size_t len;

    if (lt) {
        const char *gt = strchr(lt, '>');
        if (!gt || gt[1])
            return bk_fail(err, BK_E_CONFIG,
                           "must be NAME <ADDRESS> or ADDRESS, got '%s'", s);
        a = bk_arena_strndup(arena, lt + 1, (size_t)(gt - lt - 1));
        len = (size_t)(lt - s);
        while (len && s[len - 1] == ' ')
            len--;
        if (len >= 2 && s[0] == '"' && s[len - 1] == '"')
            n = bk_arena_strndup(arena, s + 1, len - 2);
        else if (len)
            n = bk_arena_strndup(arena, s, len);
    } else {
        a = bk_arena_strdup(arena, s);
    }
    if (!bk_email_valid(a))
        return bk_fail(err, BK_E_CONFIG, "'%s' is not an email address", a);
    if (n && !bk_utf8_valid(n, 200, false))
        return bk_fail(err, BK_E_CONFIG,
                       "the name must be UTF-8 of at most 200 bytes without "
                       "control characters");
    *name = n && *n ? n : NULL;
    *addr = a;
    return BK_OK;
}

/* ---- Reminders ---------------------------------------------------------- */

/* Whether a booking from this source gets our mail: one made at a provider
 * (Cal.com, Calendly...) was confirmed to its attendee there, with that
 * provider's invite, and is reminded of by it. A row added in Notion told
 * nobody (Notion sends no invites): bookingd does. */
static bool ours(enum bk_source source)
{
    return source == BK_SOURCE_WEB || source == BK_SOURCE_API ||
           source == BK_SOURCE_NOTION;
}

/* "mail.reminder:BOOKING_ID:" — the prefix of the dedupe keys of a
 * booking's reminder jobs ("...:ACTIVITY_ID:MINUTES"). */
static void reminder_prefix(int64_t booking_id, char out[64])
{
    snprintf(out, 64, BK_MAIL_REMINDER_KIND ":%" PRId64 ":", booking_id);
}

/* In the booking's transaction (ledger/events.h in_tx): a cancelled or
 * moved booking's pending reminders end, and a confirmed booking, made,
 * confirmed or moved, gets one delayed job per reminder still in the
 * future (a pending one gets them when it is confirmed). */
static enum bk_err reminders_in_tx(struct bk_tx *tx,
                                   const struct bk_ledger_event *ev,
                                   int64_t activity_id, struct bk_errbuf *err)
{
    struct bk_arena arena;
    struct bk_booking b;
    struct bk_event_type et;
    char prefix[64];
    int64_t now_ms = bk_now_ms();
    enum bk_err e = BK_OK;

    if (!ev->booking_id)
        return BK_OK;
    reminder_prefix(ev->booking_id, prefix);
    if (ev->kind == BK_LEV_BOOKING_CANCELLED ||
        ev->kind == BK_LEV_BOOKING_RESCHEDULED) {
        e = bk_store_job_drop(tx, BK_MAIL_REMINDER_KIND, prefix,
                              ev->kind == BK_LEV_BOOKING_CANCELLED
                                  ? "dropped: the booking was cancelled"
                                  : "dropped: the booking was moved",
                              now_ms, NULL, err);
        if (e || ev->kind == BK_LEV_BOOKING_CANCELLED)
            return e;
    } else if (ev->kind != BK_LEV_BOOKING_CREATED &&
               ev->kind != BK_LEV_BOOKING_CONFIRMED) {
        return BK_OK;
    }
    bk_arena_init(&arena);
    e = bk_store_booking_get(tx, ev->booking_id, &arena, &b, err);
    if (e || b.status != BK_BOOKING_CONFIRMED || !ours(b.source))
        goto out;
    e = bk_store_event_type_get(tx, b.event_type_id, &arena, &et, err);
    if (e)
        goto out;
    for (int i = 0; i < et.n_reminders; i++) {
        int m = et.reminders_min[i];
        int64_t run_at_ms = (b.start_utc - (int64_t)m * 60) * 1000;
        int64_t job_id;
        bool existed;

        /* Its time has passed: a late "in 24 hours" would be wrong. */
        if (run_at_ms <= now_ms)
            continue;
        e = bk_store_job_enqueue(
            tx, BK_MAIL_REMINDER_KIND,
            bk_arena_printf(&arena, "%s%" PRId64 ":%d", prefix, activity_id, m),
            bk_arena_printf(&arena,
                            "{\"booking_id\":%" PRId64 ",\"minutes\":%d,"
                            "\"start_utc\":%" PRId64 "}",
                            b.id, m, b.start_utc),
            run_at_ms,
            subscriber.max_attempts > 0 ? subscriber.max_attempts : 10, now_ms,
            &job_id, &existed, err);
        if (e)
            break;
    }
out:
    bk_arena_release(&arena);
    return e;
}

/* ---- What a change implies --------------------------------------------- */

/* The attendee's message when a booking's payment did not complete before
 * its hold ended (checkout.session.expired, or the hold-expiry job). */
#define PAYMENT_INCOMPLETE "attendee_payment_incomplete"

/* The two messages of one ledger event. */
struct plan {
    const char *attendee_kind;
    const char *host_kind; /* NULL: none */
    bool confirm_created;  /* BOOKING_CREATED: skipped for a paid booking */
};

static bool plan_of(const char *event, struct plan *p)
{
    if (strcmp(event, "BOOKING_CREATED") == 0 ||
        strcmp(event, "BOOKING_CONFIRMED") == 0)
        *p = (struct plan){"attendee_confirmed", "host_new",
                           strcmp(event, "BOOKING_CREATED") == 0};
    else if (strcmp(event, "BOOKING_RESCHEDULED") == 0)
        *p = (struct plan){"attendee_rescheduled", "host_rescheduled", false};
    else if (strcmp(event, "BOOKING_CANCELLED") == 0)
        *p = (struct plan){"attendee_cancelled", "host_cancelled", false};
    else if (strcmp(event, "CHECKOUT_EXPIRED") == 0)
        /* The hold of a booking never paid ended: the attendee only (the
         * host was never told of it). */
        *p = (struct plan){PAYMENT_INCOMPLETE, NULL, false};
    else
        return false;
    return true;
}

static bool is_cancel(const char *kind)
{
    return strstr(kind, "cancelled") != NULL;
}

static bool to_host(const char *kind)
{
    return strncmp(kind, "host_", 5) == 0;
}

static const char *domain_of(const char *addr)
{
    const char *at = strrchr(addr, '@');
    return at ? at + 1 : "bookingd";
}

/* "attendee_reminder_60": a reminder, 60 minutes before. */
#define REMINDER_KIND "attendee_reminder"

static int reminder_minutes(const char *kind)
{
    int64_t m;

    if (strncmp(kind, REMINDER_KIND "_", sizeof(REMINDER_KIND)) != 0 ||
        bk_parse_i64(kind + sizeof(REMINDER_KIND), 1, BK_MAX_REMINDER_MIN, &m))
        return 0;
    return (int)m;
}

static const char *subject_of(const char *kind, const char *title,
                              const char *with, struct bk_arena *arena)
{
    const char *what = "Booked";

    if (reminder_minutes(kind))
        what = "Reminder";
    else if (strcmp(kind, "attendee_confirmed") == 0)
        what = "Confirmed";
    else if (strcmp(kind, "host_new") == 0)
        what = "New booking";
    else if (strstr(kind, "rescheduled"))
        what = "Rescheduled";
    else if (strcmp(kind, PAYMENT_INCOMPLETE) == 0)
        what = "Payment not completed";
    else if (is_cancel(kind))
        what = "Cancelled";
    return bk_arena_printf(arena, "%s: %s with %s", what, title, with);
}

/* Everything the messages of one booking are made of, read in one
 * transaction. */
struct ctx {
    struct bk_booking b;
    struct bk_host host;
    struct bk_client client;
    struct bk_event_type et;
    struct bk_payment pay; /* has_pay: a paid booking's payment row */
    bool has_pay;
    struct bk_invoice inv; /* has_inv: its invoice (ledger/invoices.c) */
    bool has_inv;
};

static enum bk_err read_ctx(struct bk_tx *tx, int64_t booking_id,
                            struct bk_arena *arena, struct ctx *c,
                            struct bk_errbuf *err)
{
    enum bk_err e;

    memset(c, 0, sizeof(*c));
    e = bk_store_booking_get(tx, booking_id, arena, &c->b, err);
    if (!e)
        e = bk_store_host_get(tx, c->b.host_id, arena, &c->host, err);
    if (!e)
        e = bk_store_client_get(tx, c->b.client_id, arena, &c->client, err);
    if (!e)
        e = bk_store_event_type_get(tx, c->b.event_type_id, arena, &c->et, err);
    if (!e && c->b.payment_status != BK_PAYMENT_NONE) {
        e = bk_store_payment_get(tx, c->b.id, arena, &c->pay, err);
        c->has_pay = e == BK_OK;
        if (e == BK_E_NOT_FOUND)
            e = BK_OK;
    }
    if (!e && c->has_pay) {
        e = bk_store_invoice_by_booking(tx, c->b.id, arena, &c->inv, err);
        c->has_inv = e == BK_OK;
        if (e == BK_E_NOT_FOUND)
            e = BK_OK;
    }
    return e;
}

/* What a cancelled paid booking gives back, as the attendee is told
 * (ledger/payments.c wrote the refund's reason); NULL for a booking
 * without payment or not paid. */
static const char *refund_text(const struct ctx *c, struct bk_arena *arena)
{
    if (!c->has_pay)
        return NULL;
    if (c->pay.refund_reason)
        return c->pay.refund_reason;
    if (c->b.payment_status != BK_PAYMENT_PAID)
        return NULL;
    return bk_arena_printf(arena,
                           "none: cancelled less than %d hours before the "
                           "start (the refund policy)",
                           c->et.refund_full_hours);
}

/* The attendee as given on the booking, not the stored client: the
 * invite is also downloaded with the manage token, by whoever typed this
 * email, and must not disclose what is stored about its owner (docs/api.md
 * "Clients and attendees"). A provider's booking that named nobody falls
 * back to the client. */
static const char *attendee_email(const struct ctx *c)
{
    return c->b.attendee_email && *c->b.attendee_email ? c->b.attendee_email
                                                       : c->client.email;
}

static const char *attendee_name(const struct ctx *c)
{
    if (c->b.attendee_name && *c->b.attendee_name)
        return c->b.attendee_name;
    return c->b.attendee_email && *c->b.attendee_email ? NULL : c->client.name;
}

static const char *client_name(const struct ctx *c)
{
    const char *name = attendee_name(c);
    return name && *name ? name : attendee_email(c);
}

static const char *payload_text(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* Attempts of a mail.event job that wait for a Zoom meeting's URL. */
#define MAIL_ZOOM_WAIT_ATTEMPTS 5

static enum bk_err plan_once(const struct bk_mail_config *cfg,
                             struct bk_store *store, const struct bk_job *job,
                             const struct plan *p, int64_t booking_id,
                             int64_t activity_id, struct bk_arena *arena,
                             int *sent, bool *provider, struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    struct ctx c;
    int seq = 0;
    int64_t now = bk_now_utc();
    bool skip = false;
    enum bk_err e;

    *sent = 0;
    *provider = false;
    e = bk_store_begin(store, BK_TX_WRITE, &tx, err);
    if (!e)
        e = read_ctx(tx, booking_id, arena, &c, err);
    if (!e)
        e = bk_ledger_invite_sequence(tx, booking_id, activity_id, &seq, err);
    /* A Zoom booking's join URL is written by its zoom.meeting job: the
     * messages wait for it a few attempts (the queue's backoff), then go
     * without it rather than never (Zoom down or not configured). */
    if (!e && c.b.status == BK_BOOKING_CONFIRMED &&
        c.et.location_kind == BK_LOCATION_ZOOM &&
        !(c.b.meeting_url && *c.b.meeting_url) &&
        job->attempts < MAIL_ZOOM_WAIT_ATTEMPTS)
        e = bk_fail(err, BK_E_RETRY,
                    "waiting for booking %s's Zoom meeting (its join URL)",
                    c.b.uid);
    /* A booking made at a provider (Cal.com, Calendly...) was confirmed
     * to its attendee there, with that provider's invite: a second invite
     * with another UID would put the meeting twice in their calendar. */
    *provider = !e && !ours(c.b.source);
    /* A booking that must be paid is confirmed to both sides when its
     * payment arrives (BOOKING_CONFIRMED), not at its creation. */
    skip = !e && p->confirm_created && c.b.payment_status != BK_PAYMENT_NONE;
    /* A hold that ended unpaid was never confirmed to anyone: its
     * cancellation says nothing; CHECKOUT_EXPIRED, in the same
     * transaction, tells the attendee (PAYMENT_INCOMPLETE). */
    if (!e && !skip && is_cancel(p->attendee_kind) &&
        c.b.payment_status == BK_PAYMENT_UNPAID) {
        struct bk_activity *rows = NULL;
        size_t n = 0;

        e = bk_store_activity_list(tx, "CHECKOUT_EXPIRED", booking_id, 0, 1,
                                   arena, &rows, &n, err);
        skip = !e && n > 0;
    }
    for (int i = 0; i < (p->host_kind ? 2 : 1) && !e && !*provider && !skip;
         i++) {
        const char *kind = i ? p->host_kind : p->attendee_kind;
        struct bk_message m = {
            .booking_id = booking_id,
            .kind = kind,
            .recipient = i ? c.host.email : attendee_email(&c),
            .subject = subject_of(kind, c.et.title,
                                  i ? client_name(&c) : c.host.name, arena),
            .status = cfg->smtp.url ? BK_MESSAGE_QUEUED : BK_MESSAGE_SKIPPED,
            .message_id = bk_arena_printf(arena, "<%s.%s.%d@%s>", c.b.uid, kind,
                                          seq, domain_of(cfg->from_addr)),
            .sequence = seq,
            .created_utc = now};
        int64_t id = 0, job_id;
        bool existed;

        e = bk_store_message_insert(tx, &m, &id, err);
        if (!e && cfg->smtp.url) {
            e = bk_store_job_enqueue(
                tx, BK_MAIL_SEND_KIND,
                bk_arena_printf(arena, BK_MAIL_SEND_KIND ":%" PRId64, id),
                bk_arena_printf(arena, "%" PRId64, id), bk_now_ms(),
                cfg->max_attempts, bk_now_ms(), &job_id, &existed, err);
            (*sent)++;
        }
    }
    if (!e)
        e = bk_jobs_finish(tx, job, err);
    if (!e) {
        e = bk_store_commit(tx, err);
        tx = NULL;
    }
    bk_store_rollback(tx);
    return e;
}

static enum bk_err event_run(void *ctx, struct bk_store *store,
                             const struct bk_job *job, struct bk_arena *arena,
                             struct bk_errbuf *err)
{
    const struct bk_mail_config *cfg = ctx;
    json_error_t jerr;
    json_t *o = json_loads(job->payload ? job->payload : "", 0, &jerr);
    const char *event = payload_text(o, "event");
    json_int_t booking_id =
        json_integer_value(json_object_get(o, "booking_id"));
    json_int_t activity_id =
        json_integer_value(json_object_get(o, "activity_id"));
    struct plan p;
    int queued = 0;
    bool provider = false;
    enum bk_err e;

    if (!event || booking_id <= 0 || activity_id <= 0) {
        json_decref(o);
        return bk_fail(err, BK_E_MALFORMED,
                       "job payload is not a ledger "
                       "event");
    }
    if (!plan_of(event, &p)) {
        json_decref(o);
        return bk_fail(err, BK_E_INVALID, "mail: no messages for %s", event);
    }
    BK_STORE_RETRY(e, plan_once(cfg, store, job, &p, booking_id, activity_id,
                                arena, &queued, &provider, err));
    if (!e && provider)
        bk_log_debug("mail: %s of booking %" PRId64 ": made at a provider, "
                     "which told its attendee",
                     event, (int64_t)booking_id);
    else if (!e)
        bk_log_info("mail: %s of booking %" PRId64 ": %d message(s) queued",
                    event, (int64_t)booking_id, queued);
    json_decref(o);
    return e;
}

/* A reminder job's one transaction: the booking is re-read, and only a
 * confirmed booking still at the start the reminder was scheduled for gets
 * its message (and send job), recorded with the job's end. */
static enum bk_err remind_once(const struct bk_mail_config *cfg,
                               struct bk_store *store, const struct bk_job *job,
                               int64_t booking_id, int minutes,
                               int64_t start_utc, struct bk_arena *arena,
                               const char **why, struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    struct bk_message *have = NULL;
    size_t n_have = 0;
    struct ctx c;
    int seq = 0;
    enum bk_err e;

    *why = NULL;
    e = bk_store_begin(store, BK_TX_WRITE, &tx, err);
    if (!e)
        e = read_ctx(tx, booking_id, arena, &c, err);
    if (e == BK_E_NOT_FOUND) {
        *why = "the booking is gone";
        e = BK_OK;
    } else if (!e && c.b.status != BK_BOOKING_CONFIRMED) {
        *why = "the booking is not confirmed";
    } else if (!e && c.b.start_utc != start_utc) {
        *why = "the booking was moved";
    } else if (!e && !ours(c.b.source)) {
        *why = "the booking was made at a provider";
    }
    if (!e && !*why)
        e = bk_ledger_invite_sequence(tx, booking_id, 0, &seq, err);
    if (!e && !*why)
        e = bk_store_message_list(tx, booking_id, arena, &have, &n_have, err);
    if (!e && !*why) {
        const char *kind = bk_arena_printf(arena, REMINDER_KIND "_%d", minutes);
        struct bk_message m;
        int64_t id = 0, job_id;
        bool existed;

        /* The SEQUENCE of the invite the attendee holds. */
        seq = seq > 0 ? seq - 1 : 0;
        for (size_t i = 0; i < n_have && !*why; i++)
            if (strcmp(have[i].kind, kind) == 0 && have[i].sequence == seq)
                *why = "sent already";
        memset(&m, 0, sizeof(m));
        m.booking_id = booking_id;
        m.kind = kind;
        m.recipient = c.client.email;
        m.subject = subject_of(kind, c.et.title, c.host.name, arena);
        m.status = cfg->smtp.url ? BK_MESSAGE_QUEUED : BK_MESSAGE_SKIPPED;
        m.message_id = bk_arena_printf(arena, "<%s.%s.%d@%s>", c.b.uid, kind,
                                       seq, domain_of(cfg->from_addr));
        m.sequence = seq;
        m.created_utc = bk_now_utc();
        if (!*why)
            e = bk_store_message_insert(tx, &m, &id, err);
        if (!e && !*why && cfg->smtp.url)
            e = bk_store_job_enqueue(
                tx, BK_MAIL_SEND_KIND,
                bk_arena_printf(arena, BK_MAIL_SEND_KIND ":%" PRId64, id),
                bk_arena_printf(arena, "%" PRId64, id), bk_now_ms(),
                cfg->max_attempts, bk_now_ms(), &job_id, &existed, err);
    }
    if (!e)
        e = bk_jobs_finish(tx, job, err);
    if (!e) {
        e = bk_store_commit(tx, err);
        tx = NULL;
    }
    bk_store_rollback(tx);
    return e;
}

static enum bk_err reminder_run(void *ctx, struct bk_store *store,
                                const struct bk_job *job,
                                struct bk_arena *arena, struct bk_errbuf *err)
{
    const struct bk_mail_config *cfg = ctx;
    json_error_t jerr;
    json_t *o = json_loads(job->payload ? job->payload : "", 0, &jerr);
    json_int_t booking_id =
        json_integer_value(json_object_get(o, "booking_id"));
    json_int_t minutes = json_integer_value(json_object_get(o, "minutes"));
    json_int_t start = json_integer_value(json_object_get(o, "start_utc"));
    const char *why = NULL;
    enum bk_err e;

    json_decref(o);
    if (booking_id <= 0 || minutes < 1 || minutes > BK_MAX_REMINDER_MIN ||
        start <= 0)
        return bk_fail(err, BK_E_MALFORMED, "job payload is not a reminder");
    BK_STORE_RETRY(e, remind_once(cfg, store, job, booking_id, (int)minutes,
                                  start, arena, &why, err));
    if (!e && why)
        bk_log_info("mail: reminder %d min before booking %" PRId64
                    " not sent: %s",
                    (int)minutes, (int64_t)booking_id, why);
    else if (!e)
        bk_log_info("mail: reminder %d min before booking %" PRId64 " %s",
                    (int)minutes, (int64_t)booking_id,
                    cfg->smtp.url ? "queued" : "skipped");
    return e;
}

void bk_mail_reminder_kind(const struct bk_mail_config *cfg,
                           struct bk_job_kind *out)
{
    bk_jobs_kind_init(out, BK_MAIL_REMINDER_KIND, reminder_run, NULL,
                      (void *)cfg);
}

void bk_mail_event_kind(const struct bk_mail_config *cfg,
                        struct bk_job_kind *out)
{
    bk_jobs_kind_init(out, BK_MAIL_EVENT_KIND, event_run, NULL, (void *)cfg);
}

/* ---- Composing ---------------------------------------------------------- */

static const char *const weekdays[] = {"Monday",   "Tuesday", "Wednesday",
                                       "Thursday", "Friday",  "Saturday",
                                       "Sunday"};
static const char *const months[] = {
    "January", "February", "March",     "April",   "May",      "June",
    "July",    "August",   "September", "October", "November", "December"};

/* "Tuesday 1 December 2026, 09:00–09:30 (Europe/London)" in zone. */
static const char *when_text(int64_t start, int64_t end, const char *zone,
                             struct bk_arena *arena)
{
    const struct bk_tz *tz = zone ? bk_tz_get(zone) : NULL;
    int64_t ls, le, days;
    int y, m, d;

    if (!tz) {
        tz = bk_tz_utc();
        zone = "UTC";
    }
    ls = bk_tz_utc_to_local(tz, start);
    le = bk_tz_utc_to_local(tz, end);
    days = bk_floordiv(ls, 86400);
    bk_civil_from_days(days, &y, &m, &d);
    return bk_arena_printf(
        arena, "%s %d %s %d, %02d:%02d\xe2\x80\x93%02d:%02d (%s)",
        weekdays[bk_weekday(days)], d, months[m - 1], y,
        (int)(ls - days * 86400) / 3600, (int)(ls - days * 86400) / 60 % 60,
        (int)(bk_floordiv(le, 60) % (24 * 60)) / 60,
        (int)(bk_floordiv(le, 60) % 60), zone);
}

static const char *where_of(const struct ctx *c)
{
    if (c->b.location && *c->b.location)
        return c->b.location;
    if (c->b.meeting_url && *c->b.meeting_url)
        return c->b.meeting_url;
    if (c->et.location_value && *c->et.location_value)
        return c->et.location_value;
    return NULL;
}

/* "2 days", "1 hour", "90 minutes": the largest unit that divides m. */
static const char *span_text(int m, struct bk_arena *arena)
{
    if (m % 1440 == 0)
        return bk_arena_printf(arena, "%d day%s", m / 1440,
                               m == 1440 ? "" : "s");
    if (m % 60 == 0)
        return bk_arena_printf(arena, "%d hour%s", m / 60, m == 60 ? "" : "s");
    return bk_arena_printf(arena, "%d minute%s", m, m == 1 ? "" : "s");
}

static const char *lead_of(const char *kind, struct bk_arena *arena)
{
    int m = reminder_minutes(kind);

    if (m)
        return bk_arena_printf(arena, "A reminder: your booking starts in %s.",
                               span_text(m, arena));
    if (strcmp(kind, "attendee_confirmed") == 0)
        return "Your booking is confirmed.";
    if (strcmp(kind, PAYMENT_INCOMPLETE) == 0)
        return "Your booking was not confirmed: the payment was not "
               "completed before the hold on the time ended.";
    if (strcmp(kind, "attendee_rescheduled") == 0)
        return "Your booking has been moved to a new time.";
    if (strcmp(kind, "attendee_cancelled") == 0)
        return "Your booking has been cancelled.";
    if (strcmp(kind, "host_new") == 0)
        return "You have a new booking.";
    if (strcmp(kind, "host_rescheduled") == 0)
        return "A booking has been moved to a new time.";
    return "A booking has been cancelled.";
}

static const char *manage_link(const char *base_url,
                               const unsigned char secret[32],
                               const struct ctx *c, struct bk_arena *arena)
{
    char token[48];

    bk_manage_token(secret, c->b.uid, token);
    return bk_arena_printf(arena, "%s/manage/%s?token=%s", base_url, c->b.uid,
                           token);
}

/* The booking as the invite of one message (or of the download). */
static void fill_event(const struct ctx *c, const char *manage, int seq,
                       const char *method, bool cancel, bool host,
                       int64_t stamp_utc, struct bk_arena *arena,
                       struct bk_ics_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->uid = c->b.uid;
    ev->sequence = seq;
    ev->method = method;
    ev->status = cancel ? BK_ICS_CANCELLED : BK_ICS_CONFIRMED;
    /* An invitation asks for an answer; the host's copy and the download
     * (a published file) list the attendee only. */
    ev->rsvp = method && strcmp(method, "PUBLISH") != 0;
    ev->start_utc = c->b.start_utc;
    ev->end_utc = c->b.end_utc;
    ev->stamp_utc = stamp_utc;
    ev->summary = bk_arena_printf(arena, "%s with %s", c->et.title,
                                  host ? client_name(c) : c->host.name);
    ev->description = bk_arena_printf(arena, "%s\n\nReschedule or cancel: %s",
                                      c->et.title, manage);
    ev->location = where_of(c);
    ev->url = c->b.meeting_url;
    ev->organizer_name = c->host.name;
    ev->organizer_email = c->host.email;
    ev->attendee_name = attendee_name(c);
    ev->attendee_email = attendee_email(c);
}

/* A booking's answers (ledger/questions.h) as "Label: value" lines, or
 * NULL when there are none. */
static const char *answers_text(const char *answers, struct bk_arena *arena)
{
    json_t *list = answers ? json_loads(answers, 0, NULL) : NULL;
    const char *out = NULL;
    size_t i;
    json_t *a;

    json_array_foreach(list, i, a)
    {
        const json_t *v = json_object_get(a, "value");
        const char *label = json_string_value(json_object_get(a, "label"));
        const char *text = json_is_boolean(v) ? (json_is_true(v) ? "Yes" : "No")
                                              : json_string_value(v);

        if (!label || !text)
            continue;
        out = out ? bk_arena_printf(arena, "%s\n%s: %s", out, label, text)
                  : bk_arena_printf(arena, "%s: %s", label, text);
    }
    json_decref(list);
    return out;
}

static void compose(const struct bk_mail_config *cfg, const struct ctx *c,
                    const struct bk_message *msg, struct bk_arena *arena,
                    struct bk_mail_message *out)
{
    bool host = to_host(msg->kind), cancel = is_cancel(msg->kind);
    bool reminder = reminder_minutes(msg->kind) != 0;
    /* No invite was sent for a booking never confirmed: none to cancel. */
    bool no_invite = reminder || strcmp(msg->kind, PAYMENT_INCOMPLETE) == 0;
    const char *tpl = reminder ? REMINDER_KIND : msg->kind;
    const char *zone = host ? c->host.timezone
                            : (c->b.attendee_timezone
                                   ? c->b.attendee_timezone
                                   : (c->client.timezone ? c->client.timezone
                                                         : c->host.timezone));
    const char *when = when_text(c->b.start_utc, c->b.end_utc, zone, arena);
    const char *where = where_of(c);
    const char *manage =
        manage_link(cfg->base_url, cfg->manage_secret, c, arena);
    struct bk_ics_event ev;

    /* The host is the organizer: no iMIP request to them, the file only. */
    fill_event(c, manage, msg->sequence,
               host ? NULL : (cancel ? "CANCEL" : "REQUEST"), cancel, host,
               msg->created_utc, arena, &ev);

    memset(out, 0, sizeof(*out));
    out->from_name = cfg->from_name;
    out->from_addr = cfg->from_addr;
    out->to_name = host ? c->host.name : attendee_name(c);
    out->to_addr = msg->recipient;
    out->subject = msg->subject;
    out->message_id = msg->message_id;
    out->date_utc = bk_now_utc();
    /* A reminder changes nothing in the calendar: no invite. */
    out->ics = no_invite ? NULL : bk_ics_build(&ev, arena);
    out->ics_method = no_invite ? NULL : ev.method;
    /* The paid confirmation carries its invoice (issue 9 §2), drawn as it
     * stands when the message is sent. */
    if (c->has_inv && strcmp(msg->kind, "attendee_confirmed") == 0) {
        struct bk_errbuf perr;
        const char *pdf;
        size_t len;

        bk_errbuf_clear(&perr);
        if (bk_pdf_invoice(&c->inv, arena, &pdf, &len, &perr) == BK_OK) {
            out->attach = pdf;
            out->attach_len = len;
            out->attach_type = "application/pdf";
            out->attach_name = bk_arena_printf(arena, "%s.pdf", c->inv.number);
        } else {
            bk_log_warn("mail: invoice %s not attached: %s", c->inv.number,
                        perr.msg);
        }
    }
    {
        const char *tk = strstr(manage, "?token=");
        struct bk_mail_var vars[] = {
            {"name", host ? c->host.name : client_name(c)},
            {"lead", lead_of(msg->kind, arena)},
            {"title", c->et.title},
            {"when", when},
            {"where", where},
            {"host", c->host.name},
            {"client", client_name(c)},
            {"client_email", attendee_email(c)},
            {"notes", c->b.notes},
            /* The answers to the event type's questions: the host's. */
            {"answers", host ? answers_text(c->b.answers, arena) : NULL},
            {"reason", cancel || strcmp(msg->kind, PAYMENT_INCOMPLETE) == 0
                           ? c->b.cancellation_reason
                           : NULL},
            {"refund", cancel ? refund_text(c, arena) : NULL},
            {"manage_url", manage},
            {"ics_url", bk_arena_printf(arena, "%s/api/v1/bookings/%s/ics%s",
                                        cfg->base_url, c->b.uid, tk ? tk : "")},
            /* The event type's booking page (api/pages.c). */
            {"book_url", bk_arena_printf(arena, "%s/%s/%s", cfg->base_url,
                                         c->host.slug, c->et.slug)},
        };
        size_t n = sizeof(vars) / sizeof(vars[0]);
        const char *txt = bk_mail_template_get(
            cfg->templates, bk_arena_printf(arena, "%s.txt", tpl));
        const char *html = bk_mail_template_get(
            cfg->templates, bk_arena_printf(arena, "%s.html", tpl));

        out->text =
            bk_mail_template_render(txt ? txt : "", vars, n, false, arena);
        out->html =
            bk_mail_template_render(html ? html : "", vars, n, true, arena);
    }
}

/* ---- Sending ------------------------------------------------------------ */

static enum bk_err read_message(struct bk_store *store, int64_t id,
                                struct bk_arena *arena, struct bk_message *m,
                                struct ctx *c, struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    enum bk_err e;

    e = bk_store_begin(store, BK_TX_READ, &tx, err);
    if (!e)
        e = bk_store_message_get(tx, id, arena, m, err);
    if (!e)
        e = read_ctx(tx, m->booking_id, arena, c, err);
    if (!e) {
        e = bk_store_commit(tx, err);
        tx = NULL;
    }
    bk_store_rollback(tx);
    return e;
}

/* What record_once writes. */
enum outcome {
    ATTEMPT_FAILED,  /* the message keeps attempts and the error */
    ATTEMPT_SENT,    /* sent, and the job done */
    ATTEMPT_SKIPPED, /* not sent (no SMTP server), and the job done */
    NOTHING_TO_DO,   /* the job done, the message unchanged */
};

/* Records an attempt's outcome; a sent message in the transaction that
 * finishes the job. */
static enum bk_err record_once(struct bk_store *store, const struct bk_job *job,
                               int64_t id, enum outcome what, const char *error,
                               struct bk_arena *arena, struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    struct bk_message m;
    bool done = what != ATTEMPT_FAILED;
    enum bk_err e;

    e = bk_store_begin(store, BK_TX_WRITE, &tx, err);
    if (!e)
        e = bk_store_message_get(tx, id, arena, &m, err);
    if (!e && what != NOTHING_TO_DO) {
        m.attempts = job->attempts;
        m.last_error = error;
        if (what == ATTEMPT_SENT) {
            m.status = BK_MESSAGE_SENT;
            m.sent_utc = bk_now_utc();
        } else if (what == ATTEMPT_SKIPPED) {
            m.status = BK_MESSAGE_SKIPPED;
        }
        e = bk_store_message_update(tx, &m, err);
    }
    if (!e && done)
        e = bk_jobs_finish(tx, job, err);
    if (!e) {
        e = bk_store_commit(tx, err);
        tx = NULL;
    }
    bk_store_rollback(tx);
    return e;
}

static enum bk_err send_run(void *ctx, struct bk_store *store,
                            const struct bk_job *job, struct bk_arena *arena,
                            struct bk_errbuf *err)
{
    const struct bk_mail_config *cfg = ctx;
    struct bk_message m;
    struct bk_mail_message out;
    struct bk_errbuf serr, rerr;
    struct ctx c;
    int64_t id;
    enum bk_err e, re;

    if (bk_parse_i64(job->payload ? job->payload : "", 1, INT64_MAX, &id))
        return bk_fail(err, BK_E_MALFORMED, "job payload is not a message id");
    e = read_message(store, id, arena, &m, &c, err);
    if (e)
        return e;
    if (m.status == BK_MESSAGE_QUEUED && !cfg->smtp.url) {
        /* Queued by an instance with BOOKINGD_SMTP_URL, run by one
         * without. */
        BK_STORE_RETRY(
            e, record_once(store, job, id, ATTEMPT_SKIPPED, NULL, arena, err));
        return e;
    }
    if (m.status != BK_MESSAGE_QUEUED) {
        /* Sent or failed already (a replayed job): nothing to do. */
        BK_STORE_RETRY(
            e, record_once(store, job, id, NOTHING_TO_DO, NULL, arena, err));
        return e;
    }
    compose(cfg, &c, &m, arena, &out);
    bk_errbuf_clear(&serr);
    e = bk_smtp_send(&cfg->smtp, &out, arena, &serr);
    bk_errbuf_clear(&rerr);
    BK_STORE_RETRY(re, record_once(store, job, id,
                                   e ? ATTEMPT_FAILED : ATTEMPT_SENT,
                                   e ? serr.msg : NULL, arena, &rerr));
    if (e) {
        bk_log_warn("mail: %s to %s (message %" PRId64 ") not sent: %s", m.kind,
                    m.recipient, id, serr.msg);
        return bk_fail(err, e, "%s", serr.msg);
    }
    if (re) {
        /* Sent, but not recorded: the job runs again and sends the same
         * Message-ID (mail.h). */
        bk_log_warn("mail: message %" PRId64 " sent but not recorded: %s", id,
                    rerr.msg);
        return bk_fail(err, re, "%s", rerr.msg);
    }
    bk_log_info("mail: sent %s to %s (message %" PRId64 ", %s)", m.kind,
                m.recipient, id, m.message_id);
    return BK_OK;
}

static enum bk_err send_dead(void *ctx, struct bk_tx *tx,
                             const struct bk_job *job, const char *error,
                             struct bk_errbuf *err)
{
    struct bk_arena arena;
    struct bk_message m;
    int64_t id;
    enum bk_err e;

    (void)ctx;
    if (bk_parse_i64(job->payload ? job->payload : "", 1, INT64_MAX, &id))
        return BK_OK;
    bk_arena_init(&arena);
    e = bk_store_message_get(tx, id, &arena, &m, err);
    if (e == BK_OK && m.status == BK_MESSAGE_QUEUED) {
        m.status = BK_MESSAGE_FAILED;
        m.attempts = job->attempts;
        m.last_error = error;
        e = bk_store_message_update(tx, &m, err);
    }
    bk_arena_release(&arena);
    return e == BK_E_NOT_FOUND ? BK_OK : e;
}

void bk_mail_send_kind(const struct bk_mail_config *cfg,
                       struct bk_job_kind *out)
{
    bk_jobs_kind_init(out, BK_MAIL_SEND_KIND, send_run, send_dead, (void *)cfg);
}

enum bk_err bk_mail_booking_ics(struct bk_tx *tx, int64_t booking_id,
                                const char *base_url,
                                const unsigned char secret[32], int64_t now_utc,
                                struct bk_arena *arena, char **out,
                                struct bk_errbuf *err)
{
    struct ctx c;
    struct bk_ics_event ev;
    int seq = 0;
    enum bk_err e;

    *out = NULL;
    e = read_ctx(tx, booking_id, arena, &c, err);
    if (!e)
        e = bk_ledger_invite_sequence(tx, booking_id, 0, &seq, err);
    if (e)
        return e;
    fill_event(&c, manage_link(base_url, secret, &c, arena), seq, "PUBLISH",
               c.b.status == BK_BOOKING_CANCELLED, false, now_utc, arena, &ev);
    *out = bk_ics_build(&ev, arena);
    return BK_OK;
}
