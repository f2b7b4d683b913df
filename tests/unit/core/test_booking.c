/* tests/unit/core/test_booking.c — core/booking.c: the lifecycle table,
 * checked for every status and every event against the table written out
 * here from the header's contract; names; the client status rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/booking.h"

#define P       BK_BOOKING_PENDING
#define C       BK_BOOKING_CONFIRMED
#define X       BK_BOOKING_CANCELLED
#define D       BK_BOOKING_COMPLETED
#define N       BK_BOOKING_NO_SHOW
#define ILLEGAL (-1)

#define N_EVENTS 6

/* want[from][event]: the status after, or ILLEGAL. Events in enum order:
 * confirm, cancel, reschedule, complete, no_show, expire. */
static const int want[BK_BOOKING_STATUS_COUNT][N_EVENTS] = {
    /* pending */ {C, X, P, ILLEGAL, ILLEGAL, X},
    /* confirmed */ {ILLEGAL, X, C, D, N, ILLEGAL},
    /* cancelled: final */
    {ILLEGAL, ILLEGAL, ILLEGAL, ILLEGAL, ILLEGAL, ILLEGAL},
    /* completed */ {ILLEGAL, ILLEGAL, ILLEGAL, ILLEGAL, N, ILLEGAL},
    /* no_show */ {ILLEGAL, ILLEGAL, ILLEGAL, D, ILLEGAL, ILLEGAL},
};

static void test_lifecycle_table(void **state)
{
    (void)state;
    for (int from = 0; from < BK_BOOKING_STATUS_COUNT; from++) {
        for (int ev = 0; ev < N_EVENTS; ev++) {
            enum bk_booking_status to = (enum bk_booking_status)77;
            enum bk_err e = bk_booking_transition(
                (enum bk_booking_status)from, (enum bk_booking_event)ev, &to);
            if (want[from][ev] == ILLEGAL) {
                if (e != BK_E_ILLEGAL_TRANSITION || (int)to != 77)
                    fail_msg("%s + %s: should be refused, untouched",
                             bk_booking_status_name(from),
                             bk_booking_event_name(ev));
            } else if (e != BK_OK || (int)to != want[from][ev]) {
                fail_msg("%s + %s: got %d -> %s, want %s",
                         bk_booking_status_name(from),
                         bk_booking_event_name(ev), e,
                         bk_booking_status_name(to),
                         bk_booking_status_name(want[from][ev]));
            }
        }
    }
}

/* From pending, every sequence of events ends in a status the table
 * allows; cancelled is never left. */
static void test_lifecycle_walks(void **state)
{
    (void)state;
    for (int seq = 0; seq < 6 * 6 * 6 * 6; seq++) {
        enum bk_booking_status s = BK_BOOKING_PENDING;
        int code = seq;
        for (int step = 0; step < 4; step++, code /= 6) {
            enum bk_booking_status next;
            int ev = code % 6;
            bool ok = bk_booking_transition(s, (enum bk_booking_event)ev,
                                            &next) == BK_OK;
            assert_int_equal(ok, want[s][ev] != ILLEGAL);
            if (ok) {
                assert_int_not_equal(s, BK_BOOKING_CANCELLED);
                s = next;
            }
        }
    }
}

static void test_blocks(void **state)
{
    (void)state;
    assert_false(bk_booking_status_blocks(BK_BOOKING_PENDING));
    assert_true(bk_booking_status_blocks(BK_BOOKING_CONFIRMED));
    assert_false(bk_booking_status_blocks(BK_BOOKING_CANCELLED));
    assert_true(bk_booking_status_blocks(BK_BOOKING_COMPLETED));
    assert_true(bk_booking_status_blocks(BK_BOOKING_NO_SHOW));
}

static void test_names(void **state)
{
    static const char *const status[] = {"pending", "confirmed", "cancelled",
                                         "completed", "no_show"};
    static const char *const payment[] = {"none", "unpaid", "paid", "refunded",
                                          "failed"};
    static const char *const source[] = {"web",      "api",    "calcom",
                                         "calendly", "notion", "calendar"};
    static const char *const client[] = {"prospect", "active", "inactive"};
    static const char *const event[] = {"confirm",  "cancel",  "reschedule",
                                        "complete", "no_show", "expire"};

    (void)state;
    for (int i = 0; i < 5; i++) {
        assert_string_equal(bk_booking_status_name(i), status[i]);
        assert_int_equal(bk_booking_status_parse(status[i]), i);
        assert_string_equal(bk_payment_status_name(i), payment[i]);
        assert_int_equal(bk_payment_status_parse(payment[i]), i);
    }
    for (int i = 0; i < 6; i++) {
        assert_string_equal(bk_source_name(i), source[i]);
        assert_int_equal(bk_source_parse(source[i]), i);
        assert_string_equal(bk_booking_event_name(i), event[i]);
    }
    for (int i = 0; i < 3; i++) {
        assert_string_equal(bk_client_status_name(i), client[i]);
        assert_int_equal(bk_client_status_parse(client[i]), i);
    }
    /* Out of range: "?"; unknown, differently cased or NULL: -1. */
    assert_string_equal(bk_booking_status_name(5), "?");
    assert_string_equal(bk_booking_status_name(-1), "?");
    assert_string_equal(bk_payment_status_name(5), "?");
    assert_string_equal(bk_source_name(6), "?");
    assert_string_equal(bk_client_status_name(3), "?");
    assert_string_equal(bk_booking_event_name(6), "?");
    assert_int_equal(bk_booking_status_parse("Pending"), -1);
    assert_int_equal(bk_booking_status_parse("no-show"), -1);
    assert_int_equal(bk_booking_status_parse(""), -1);
    assert_int_equal(bk_booking_status_parse(NULL), -1);
    assert_int_equal(bk_payment_status_parse("PAID"), -1);
    assert_int_equal(bk_source_parse("cal.com"), -1);
    assert_int_equal(bk_client_status_parse("active "), -1);
}

static void test_client_status(void **state)
{
    static const struct {
        enum bk_client_status cur;
        enum bk_booking_status b;
        enum bk_payment_status p;
        enum bk_client_status want;
    } cases[] = {
        {BK_CLIENT_PROSPECT, BK_BOOKING_PENDING, BK_PAYMENT_UNPAID,
         BK_CLIENT_PROSPECT},
        {BK_CLIENT_PROSPECT, BK_BOOKING_CONFIRMED, BK_PAYMENT_NONE,
         BK_CLIENT_PROSPECT},
        {BK_CLIENT_PROSPECT, BK_BOOKING_COMPLETED, BK_PAYMENT_NONE,
         BK_CLIENT_ACTIVE},
        {BK_CLIENT_PROSPECT, BK_BOOKING_CONFIRMED, BK_PAYMENT_PAID,
         BK_CLIENT_ACTIVE},
        {BK_CLIENT_PROSPECT, BK_BOOKING_CANCELLED, BK_PAYMENT_REFUNDED,
         BK_CLIENT_PROSPECT},
        {BK_CLIENT_PROSPECT, BK_BOOKING_NO_SHOW, BK_PAYMENT_FAILED,
         BK_CLIENT_PROSPECT},
        {BK_CLIENT_ACTIVE, BK_BOOKING_CANCELLED, BK_PAYMENT_REFUNDED,
         BK_CLIENT_ACTIVE},
        {BK_CLIENT_ACTIVE, BK_BOOKING_PENDING, BK_PAYMENT_UNPAID,
         BK_CLIENT_ACTIVE},
        /* Inactive is an admin's decision: a paid booking keeps it. */
        {BK_CLIENT_INACTIVE, BK_BOOKING_COMPLETED, BK_PAYMENT_PAID,
         BK_CLIENT_INACTIVE},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (bk_client_status_after(cases[i].cur, cases[i].b, cases[i].p) !=
            cases[i].want)
            fail_msg("client case %zu", i);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lifecycle_table),
        cmocka_unit_test(test_lifecycle_walks),
        cmocka_unit_test(test_blocks),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_client_status),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
