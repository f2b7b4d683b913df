/* mail/mail.h — email to attendees and hosts about their bookings: the
 * ledger subscriber "mail" and its two job kinds.
 *
 * A booking created, confirmed, rescheduled or cancelled
 * (ledger/events.h) commits, with the change, one "mail.event" job. A
 * booking created pending (a hold awaiting payment) gets no messages
 * then: its confirmation and the host's notice go out when it becomes
 * confirmed (BOOKING_CONFIRMED). That job decides the messages —
 * to the attendee (confirmed / rescheduled / cancelled, with the manage
 * link and the invite) and to the host (new booking / rescheduled /
 * cancelled) — and records each in the messages table, in one transaction
 * with one "mail.send" job per message (or, without BOOKINGD_SMTP_URL, as
 * `skipped`). A "mail.send" job composes and sends its message
 * (mail/smtp.h): retried with backoff on connection errors and 4xx
 * replies, dead at once on a 5xx reply, which its message keeps as the
 * error. The Message-ID is "<UID.KIND.SEQUENCE@DOMAIN>", a function of
 * the message's identity, so the one case in which a message goes out
 * twice (a crash after the server's 250 and before the commit that marks
 * it sent) sends the same Message-ID again (docs/mail.md). */
#ifndef BK_MAIL_MAIL_H
#define BK_MAIL_MAIL_H

#include <stdint.h>

#include "jobs/jobs.h"
#include "mail/smtp.h"
#include "mail/template.h"

#define BK_MAIL_EVENT_KIND    "mail.event"
#define BK_MAIL_SEND_KIND     "mail.send"
#define BK_MAIL_REMINDER_KIND "mail.reminder"

/* What the jobs borrow (must outlive the worker pool). */
struct bk_mail_config {
    struct bk_smtp smtp;   /* smtp.url NULL: record messages as skipped */
    const char *from_name; /* of BOOKINGD_MAIL_FROM; may be NULL */
    const char *from_addr; /* of BOOKINGD_MAIL_FROM */
    const char *base_url;  /* BOOKINGD_BASE_URL, for manage links */
    unsigned char manage_secret[32]; /* the API's (api/api.h) */
    int max_attempts;                /* of each job; 0: the queue's default */
    const struct bk_mail_templates *templates; /* mail/template.h */
};

/* Registers the "mail" ledger subscriber (BOOKING_CREATED, _CONFIRMED,
 * _RESCHEDULED, _CANCELLED → "mail.event", and the reminders, written in the
 * change's own transaction). Call once at start, before any ledger operation.
 * Errors are bk_ledger_subscribe's. */
BK_MUST_CHECK enum bk_err bk_mail_subscribe(int max_attempts,
                                            struct bk_errbuf *err);

/* Fill out with the two job kinds; cfg is borrowed. */
void bk_mail_event_kind(const struct bk_mail_config *cfg,
                        struct bk_job_kind *out);
void bk_mail_send_kind(const struct bk_mail_config *cfg,
                       struct bk_job_kind *out);
/* "mail.reminder": due `minutes` before a booking's start, scheduled by
 * the subscriber in the booking's transaction (one per entry of its event
 * type's reminders_minutes still in the future; a cancel or a move ends
 * the pending ones, a move schedules new ones). When it runs it re-reads
 * the booking: only a confirmed booking still starting at the time it
 * was scheduled for gets its "attendee_reminder_MINUTES" message, with
 * the SEQUENCE of the attendee's latest invite, so the Message-ID is
 * "<UID.attendee_reminder_MINUTES.SEQUENCE@DOMAIN>" and a reminder is
 * recorded (and sent) once per booking, minutes and sequence. */
void bk_mail_reminder_kind(const struct bk_mail_config *cfg,
                           struct bk_job_kind *out);
/* "mail.package": a package buyer's email with the credit code
 * (mail/package.c, ledger/packages.h). */
void bk_mail_package_kind(const struct bk_mail_config *cfg,
                          struct bk_job_kind *out);

/* The booking with id booking_id as an iCalendar file (METHOD:PUBLISH;
 * the UID and SEQUENCE of its latest invite; STATUS:CANCELLED when it is
 * cancelled), read in tx, into *out in arena: what GET
 * /api/v1/bookings/{uid}/ics answers. Errors are the store's. */
BK_MUST_CHECK enum bk_err
bk_mail_booking_ics(struct bk_tx *tx, int64_t booking_id, const char *base_url,
                    const unsigned char secret[32], int64_t now_utc,
                    struct bk_arena *arena, char **out, struct bk_errbuf *err);

/* Splits BOOKINGD_MAIL_FROM ("Studio Ada <bookings@example.com>",
 * "\"Studio Ada\" <bookings@example.com>" or "bookings@example.com") into
 * a name (NULL when none) and an address, in arena. BK_E_CONFIG when the
 * address is not one. */
BK_MUST_CHECK enum bk_err
bk_mail_parse_from(const char *s, struct bk_arena *arena, const char **name,
                   const char **addr, struct bk_errbuf *err);

#endif
