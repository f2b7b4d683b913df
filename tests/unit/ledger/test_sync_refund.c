/* tests/unit/ledger/test_sync_refund.c — a paid booking cancelled at a
 * provider (ledger/sync.c apply_final) is refunded by its event type's
 * refund policy as any cancellation is (ledger/payments.c
 * bk_ledger_payment_cancel_refund): all of it at least
 * full_refund_until_hours ahead (a stripe.refund job keyed by the payment
 * intent, the refund recorded on the payment and in BOOKING_CANCELLED),
 * nothing later; a repeated cancellation refunds nothing more. The
 * booking is made paid by hand (no provider's booking is paid through
 * bookingd today; docs/payments.md "Refund policy"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/tz.h"
#include "ledger/payments.h"
#include "ledger/sync.h"
#include "store/store.h"

#define T0   1796198400 /* 2026-12-02T09:00:00Z */
#define HOUR 3600
#define NOW  (T0 - 86400)

static char dir[64];

static struct bk_store *fresh_store(int n)
{
    char url[128];
    struct bk_store *s = NULL;
    struct bk_errbuf err;

    snprintf(url, sizeof(url), "sqlite:%s/db%d", dir, n);
    assert_int_equal(bk_store_open(url, 2, &s, &err), BK_OK);
    assert_int_equal(bk_store_migrate(s, NULL, NULL, &err), BK_OK);
    return s;
}

static struct bk_ext_event ev(enum bk_ext_kind kind, int start_h)
{
    struct bk_ext_event e;

    memset(&e, 0, sizeof(e));
    e.kind = kind;
    e.source = BK_SOURCE_CALCOM;
    e.provider = "calcom";
    e.provider_display = "Cal.com";
    e.booking.uid = "A";
    e.booking.start_utc = T0 + (int64_t)start_h * HOUR;
    e.booking.end_utc = e.booking.start_utc + 1800;
    e.booking.attendee.email = "alex@client.example";
    e.booking.attendee.name = "Alex";
    e.booking.organizer.email = "jane@coach.example";
    e.booking.event_type_id = "731";
    e.booking.event_type_slug = "30min";
    e.booking.length_min = 30;
    if (kind == BK_EXT_BOOKING_CANCELLED)
        e.booking.cancellation_reason = "host cancelled";
    return e;
}

static void apply(struct bk_store *s, const struct bk_ext_event *e)
{
    struct bk_tx *tx = NULL;
    struct bk_arena a;
    struct bk_sync_outcome out;
    struct bk_errbuf err;

    bk_arena_init(&a);
    assert_int_equal(bk_store_begin(s, BK_TX_WRITE, &tx, &err), BK_OK);
    assert_int_equal(bk_ledger_sync_apply(tx, e, NOW, &a, &out, &err), BK_OK);
    assert_int_equal(bk_store_commit(tx, &err), BK_OK);
    bk_arena_release(&a);
}

/* The provider's booking "A", paid 45.00 EUR (payment intent pi_1). */
static int64_t make_paid(struct bk_store *s, int start_h)
{
    struct bk_ext_event e = ev(BK_EXT_BOOKING_CREATED, start_h);
    struct bk_tx *tx = NULL;
    struct bk_arena a;
    struct bk_link l;
    struct bk_booking b;
    struct bk_payment p;
    struct bk_errbuf err;

    apply(s, &e);
    bk_arena_init(&a);
    assert_int_equal(bk_store_begin(s, BK_TX_WRITE, &tx, &err), BK_OK);
    assert_int_equal(
        bk_store_link_find(tx, "calcom", "booking_uid", "A", &a, &l, &err),
        BK_OK);
    assert_int_equal(bk_store_booking_get(tx, l.entity_id, &a, &b, &err),
                     BK_OK);
    b.payment_status = BK_PAYMENT_PAID;
    assert_int_equal(bk_store_booking_update(tx, &b, &err), BK_OK);
    memset(&p, 0, sizeof(p));
    p.booking_id = b.id;
    p.amount_minor = 4500;
    memcpy(p.currency, "EUR", 4);
    p.attempt = 1;
    p.session_id = "cs_1";
    p.payment_intent = "pi_1";
    p.created_utc = p.updated_utc = NOW;
    assert_int_equal(bk_store_payment_insert(tx, &p, &err), BK_OK);
    assert_int_equal(bk_store_commit(tx, &err), BK_OK);
    bk_arena_release(&a);
    return b.id;
}

struct seen {
    enum bk_booking_status status;
    bool refund_job;
    const char *refund_reason;
    const char *cancelled_detail;
    size_t n_cancelled;
};

static void look(struct bk_store *s, int64_t id, struct bk_arena *a,
                 struct seen *out)
{
    struct bk_tx *tx = NULL;
    struct bk_booking b;
    struct bk_payment p;
    struct bk_activity *acts = NULL;
    struct bk_errbuf err;
    int64_t job;

    memset(out, 0, sizeof(*out));
    assert_int_equal(bk_store_begin(s, BK_TX_READ, &tx, &err), BK_OK);
    assert_int_equal(bk_store_booking_get(tx, id, a, &b, &err), BK_OK);
    out->status = b.status;
    assert_int_equal(bk_store_job_find_key(tx, BK_STRIPE_REFUND_KIND ":pi_1",
                                           &job, &out->refund_job, &err),
                     BK_OK);
    assert_int_equal(bk_store_payment_get(tx, id, a, &p, &err), BK_OK);
    out->refund_reason = p.refund_reason;
    assert_int_equal(bk_store_activity_list(tx, "BOOKING_CANCELLED", id, 0, 10,
                                            a, &acts, &out->n_cancelled, &err),
                     BK_OK);
    out->cancelled_detail = out->n_cancelled ? acts[0].detail : NULL;
    bk_store_rollback(tx);
}

static void test_cancelled_ahead_refunds_all(void **state)
{
    struct bk_store *s = fresh_store(1);
    struct bk_ext_event cancel = ev(BK_EXT_BOOKING_CANCELLED, 48);
    struct bk_arena a;
    struct seen x;
    int64_t id;
    (void)state;

    bk_arena_init(&a);
    id = make_paid(s, 48); /* 72 hours after NOW: the default 24 h passed */
    look(s, id, &a, &x);
    assert_false(x.refund_job);
    apply(s, &cancel);
    look(s, id, &a, &x);
    assert_int_equal(x.status, BK_BOOKING_CANCELLED);
    assert_true(x.refund_job);
    assert_non_null(x.refund_reason);
    assert_non_null(strstr(x.refund_reason, "45.00 EUR"));
    assert_int_equal(x.n_cancelled, 1);
    assert_non_null(strstr(x.cancelled_detail, "\"refund\":4500"));
    assert_non_null(strstr(x.cancelled_detail, "\"by\":\"calcom\""));
    /* Cal.com resends the cancellation: nothing more. */
    apply(s, &cancel);
    look(s, id, &a, &x);
    assert_int_equal(x.n_cancelled, 1);
    assert_true(x.refund_job);
    bk_arena_release(&a);
    bk_store_free(s);
}

static void test_cancelled_late_refunds_nothing(void **state)
{
    struct bk_store *s = fresh_store(2);
    struct bk_ext_event cancel = ev(BK_EXT_BOOKING_CANCELLED, -10);
    struct bk_arena a;
    struct seen x;
    int64_t id;
    (void)state;

    bk_arena_init(&a);
    id = make_paid(s, -10); /* 14 hours after NOW: late, 0 % */
    apply(s, &cancel);
    look(s, id, &a, &x);
    assert_int_equal(x.status, BK_BOOKING_CANCELLED);
    assert_false(x.refund_job);
    assert_null(x.refund_reason);
    assert_non_null(strstr(x.cancelled_detail, "\"refund\":0"));
    bk_arena_release(&a);
    bk_store_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cancelled_ahead_refunds_all),
        cmocka_unit_test(test_cancelled_late_refunds_nothing),
    };
    char cmd[128];
    int rc;

    bk_tz_init();
    snprintf(dir, sizeof(dir), "/tmp/bk-sync-refund-XXXXXX");
    assert_non_null(mkdtemp(dir));
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        rc = rc ? rc : 1;
    return rc;
}
