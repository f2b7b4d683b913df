/* tests/unit/mail/test_mail.c — the mail subscriber (mail/mail.h) and a
 * paid booking's confirmation: a booking created pending (a hold awaiting
 * payment) gets no "confirmed" email and no reminders; it gets its
 * confirmation (SEQUENCE 0), the host's notice and its reminders when the
 * ledger's BOOKING_CONFIRMED comes (as ledger/payments.c emits it when the
 * payment arrives). Real SQLite files in a temporary directory; the
 * mail.event jobs are claimed and run by hand, without SMTP (messages
 * recorded as skipped); other jobs (the payment's) are ended unrun. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/time.h"
#include "ledger/events.h"
#include "ledger/ledger.h"
#include "mail/mail.h"
#include "store/store.h"

static char dir[64];
static int db_seq;

struct fx {
    struct bk_store *store;
    struct bk_arena arena;
    struct bk_errbuf err;
    struct bk_mail_templates templates;
    struct bk_mail_config cfg;
    struct bk_job_kind event_kind;
    int64_t start_utc; /* a free slot three days ahead */
};

#define OK(f, call)                                                            \
    do {                                                                       \
        enum bk_err e_ = (call);                                               \
        if (e_ != BK_OK)                                                       \
            fail_msg("%s: %s (%s)", #call, bk_err_name(e_), (f)->err.msg);     \
    } while (0)

static int setup(void **state)
{
    static const struct bk_weekly_range week[7] = {
        {0, 0, 1440}, {1, 0, 1440}, {2, 0, 1440}, {3, 0, 1440},
        {4, 0, 1440}, {5, 0, 1440}, {6, 0, 1440},
    };
    struct fx *f = calloc(1, sizeof(*f));
    struct bk_tx *tx = NULL;
    struct bk_host h = {0};
    struct bk_schedule s = {0};
    struct bk_event_type et;
    int64_t now = bk_now_utc(), host_id, id;
    char url[128];

    assert_non_null(f);
    bk_arena_init(&f->arena);
    snprintf(url, sizeof(url), "sqlite:%s/db%d", dir, db_seq++);
    OK(f, bk_store_open(url, 2, &f->store, &f->err));
    OK(f, bk_store_migrate(f->store, NULL, NULL, &f->err));
    bk_ledger_subscribers_clear();
    OK(f, bk_mail_subscribe(0, &f->err));
    OK(f, bk_mail_templates_load(NULL, &f->arena, &f->templates, &f->err));
    f->cfg.from_addr = "bookings@example.com";
    f->cfg.base_url = "http://bookingd.test";
    f->cfg.templates = &f->templates;
    bk_mail_event_kind(&f->cfg, &f->event_kind);
    f->start_utc = (now / 86400 + 3) * 86400 + 9 * 3600;

    OK(f, bk_store_begin(f->store, BK_TX_WRITE, &tx, &f->err));
    h.slug = "ada";
    h.name = "Ada";
    h.email = "ada@studio.example";
    h.timezone = "UTC";
    h.created_utc = h.updated_utc = now;
    OK(f, bk_ledger_host_create(tx, &h, "test", now, &f->arena, &host_id,
                                &f->err));
    s.timezone = "UTC";
    s.weekly = week;
    s.n_weekly = 7;
    OK(f, bk_ledger_schedule_put(tx, host_id, &s, "test", now, &f->arena,
                                 &f->err));
    memset(&et, 0, sizeof(et));
    et.slug = "intro";
    et.title = "Intro";
    et.host_id = host_id;
    et.rules.duration_min = 30;
    et.rules.horizon_days = 60;
    et.active = true;
    et.has_price = true; /* charged when req.charge */
    et.price_minor = 5000;
    memcpy(et.currency, "EUR", 4);
    et.created_utc = et.updated_utc = now;
    OK(f, bk_ledger_event_type_create(tx, &et, "test", now, &f->arena, &id,
                                      &f->err));
    OK(f, bk_store_commit(tx, &f->err));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    bk_ledger_subscribers_clear();
    bk_store_free(f->store);
    bk_arena_release(&f->arena);
    free(f);
    return 0;
}

static void book(struct fx *f, bool pending, int64_t start,
                 struct bk_booking *out)
{
    struct bk_booking_request req;

    memset(&req, 0, sizeof(req));
    req.event_type_slug = "intro";
    req.start_utc = start;
    req.attendee_name = "Zo\xc3\xab";
    req.attendee_email = "zoe@example.com";
    req.source = BK_SOURCE_API;
    req.actor = "api";
    req.charge = pending;
    req.hold_min = pending ? 30 : 0;
    OK(f, bk_ledger_booking_create(f->store, &req, bk_now_utc(), &f->arena, out,
                                   &f->err));
}

/* Runs every due mail.event job, as a worker would; returns how many
 * ran. Each must succeed. */
static int run_mail_events(struct fx *f)
{
    int ran = 0;

    for (;;) {
        struct bk_tx *tx = NULL;
        struct bk_job job;
        enum bk_err e;

        OK(f, bk_store_begin(f->store, BK_TX_QUEUE, &tx, &f->err));
        e = bk_store_job_claim(tx, bk_now_ms(), 60000, 7, &f->arena, &job,
                               &f->err);
        if (e == BK_E_NOT_FOUND) {
            bk_store_rollback(tx);
            return ran;
        }
        OK(f, e);
        if (strcmp(job.kind, BK_MAIL_EVENT_KIND) != 0) {
            /* The payment's jobs: Stripe's, not ours. */
            OK(f, bk_store_job_complete(tx, job.id, 7, bk_now_ms(), &f->err));
            OK(f, bk_store_commit(tx, &f->err));
            continue;
        }
        OK(f, bk_store_commit(tx, &f->err));
        OK(f, f->event_kind.run(f->event_kind.ctx, f->store, &job, &f->arena,
                                &f->err));
        ran++;
    }
}

/* What ledger/payments.c does when the payment arrives: pending ->
 * confirmed, paid, and BOOKING_CONFIRMED in the same transaction. */
static void confirm(struct fx *f, const char *uid, struct bk_booking *out)
{
    struct bk_tx *tx = NULL;
    struct bk_ledger_event ev;
    struct bk_booking b;
    enum bk_booking_status to;

    OK(f, bk_store_begin(f->store, BK_TX_LOCKED, &tx, &f->err));
    OK(f, bk_store_booking_by_uid(tx, uid, &f->arena, &b, &f->err));
    assert_int_equal(bk_booking_transition(b.status, BK_EV_CONFIRM, &to),
                     BK_OK);
    bk_ledger_event_init(&ev, BK_LEV_BOOKING_CONFIRMED, bk_now_utc(), "stripe");
    ev.booking_id = b.id;
    ev.client_id = b.client_id;
    ev.host_id = b.host_id;
    ev.event_type_id = b.event_type_id;
    ev.from_status = (int)b.status;
    ev.to_status = (int)to;
    b.status = to;
    b.payment_status = BK_PAYMENT_PAID;
    OK(f, bk_store_booking_update(tx, &b, &f->err));
    OK(f, bk_ledger_emit(tx, &ev, &f->err));
    OK(f, bk_store_booking_get(tx, b.id, &f->arena, out, &f->err));
    OK(f, bk_store_commit(tx, &f->err));
}

static void list_messages(struct fx *f, int64_t booking_id,
                          struct bk_message **out, size_t *n)
{
    struct bk_tx *tx = NULL;

    OK(f, bk_store_begin(f->store, BK_TX_READ, &tx, &f->err));
    OK(f, bk_store_message_list(tx, booking_id, &f->arena, out, n, &f->err));
    bk_store_rollback(tx);
}

/* The booking's jobs of kind, as (payload) texts, newest first. */
static size_t jobs_of(struct fx *f, const char *kind, int64_t booking_id,
                      struct bk_job **out)
{
    struct bk_tx *tx = NULL;
    struct bk_job *all;
    size_t n, m = 0;
    char needle[48];

    snprintf(needle, sizeof(needle), "\"booking_id\":%lld",
             (long long)booking_id);
    OK(f, bk_store_begin(f->store, BK_TX_READ, &tx, &f->err));
    OK(f, bk_store_job_list(tx, kind, -1, -1, 0, 500, &f->arena, &all, &n,
                            &f->err));
    bk_store_rollback(tx);
    for (size_t i = 0; i < n; i++)
        if (all[i].payload && strstr(all[i].payload, needle))
            all[m++] = all[i];
    *out = all;
    return m;
}

static void
test_pending_booking_is_confirmed_by_mail_when_confirmed(void **state)
{
    struct fx *f = *state;
    struct bk_booking b, c;
    struct bk_message *msgs;
    struct bk_job *jobs;
    size_t n;
    char want[128];

    book(f, true, f->start_utc, &b);
    assert_int_equal(b.status, BK_BOOKING_PENDING);
    assert_int_equal(jobs_of(f, BK_MAIL_EVENT_KIND, b.id, &jobs), 1);
    assert_non_null(strstr(jobs[0].payload, "\"status\":\"pending\""));
    assert_int_equal(run_mail_events(f), 1);
    list_messages(f, b.id, &msgs, &n);
    assert_int_equal(n, 0); /* no "confirmed" for a hold */
    assert_int_equal(jobs_of(f, BK_MAIL_REMINDER_KIND, b.id, &jobs), 0);

    confirm(f, b.uid, &c);
    assert_int_equal(c.status, BK_BOOKING_CONFIRMED);
    assert_int_equal(jobs_of(f, BK_MAIL_EVENT_KIND, b.id, &jobs), 2);
    assert_non_null(strstr(jobs[0].payload, "\"event\":\"BOOKING_CONFIRMED\""));
    assert_non_null(strstr(jobs[0].payload, "\"status\":\"confirmed\""));
    assert_int_equal(run_mail_events(f), 1);
    list_messages(f, b.id, &msgs, &n);
    assert_int_equal(n, 2);
    assert_string_equal(msgs[0].kind, "attendee_confirmed");
    assert_string_equal(msgs[0].recipient, "zoe@example.com");
    /* The attendee's first invite: SEQUENCE 0, as for a booking made
     * confirmed. */
    assert_int_equal(msgs[0].sequence, 0);
    snprintf(want, sizeof(want), "<%s.attendee_confirmed.0@example.com>",
             b.uid);
    assert_string_equal(msgs[0].message_id, want);
    assert_int_equal(msgs[0].status, BK_MESSAGE_SKIPPED);
    assert_string_equal(msgs[1].kind, "host_new");
    /* The reminders come with the confirmation. */
    assert_int_equal(jobs_of(f, BK_MAIL_REMINDER_KIND, b.id, &jobs), 2);
}

static void test_confirmed_booking_is_confirmed_at_once(void **state)
{
    struct fx *f = *state;
    struct bk_booking b;
    struct bk_message *msgs;
    struct bk_job *jobs;
    size_t n;

    book(f, false, f->start_utc, &b);
    assert_int_equal(b.status, BK_BOOKING_CONFIRMED);
    assert_int_equal(run_mail_events(f), 1);
    list_messages(f, b.id, &msgs, &n);
    assert_int_equal(n, 2);
    assert_string_equal(msgs[0].kind, "attendee_confirmed");
    assert_int_equal(jobs_of(f, BK_MAIL_REMINDER_KIND, b.id, &jobs), 2);
    assert_int_equal(run_mail_events(f), 0);
}

static void test_pending_booking_cancelled_drops_nothing_it_had(void **state)
{
    struct fx *f = *state;
    struct bk_booking b, c;
    struct bk_message *msgs;
    size_t n;

    book(f, true, f->start_utc, &b);
    OK(f, bk_ledger_booking_cancel(f->store, b.uid, "hold expired", "system",
                                   bk_now_utc(), &f->arena, &c, &f->err));
    assert_int_equal(run_mail_events(f), 2);
    list_messages(f, b.id, &msgs, &n);
    /* The attendee was told the hold ended; the SEQUENCE stays 0: no
     * invite came before. */
    assert_int_equal(n, 2);
    assert_string_equal(msgs[0].kind, "attendee_cancelled");
    assert_int_equal(msgs[0].sequence, 0);
}

static void test_public_name(void **state)
{
    (void)state;
    assert_string_equal(bk_ledger_event_public_name(BK_LEV_BOOKING_CONFIRMED),
                        "booking.confirmed");
    assert_int_equal(bk_ledger_event_public_parse("booking.confirmed"),
                     BK_LEV_BOOKING_CONFIRMED);
    assert_string_equal(bk_ledger_event_name(BK_LEV_BOOKING_CONFIRMED),
                        "BOOKING_CONFIRMED");
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/bk-test-mail-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_pending_booking_is_confirmed_by_mail_when_confirmed, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_confirmed_booking_is_confirmed_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_pending_booking_cancelled_drops_nothing_it_had, setup,
            teardown),
        cmocka_unit_test(test_public_name),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
