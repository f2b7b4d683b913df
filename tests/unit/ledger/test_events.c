/* tests/unit/ledger/test_events.c — ledger events (ledger/events.h): every
 * change passes through bk_ledger_emit, which writes the history entry and
 * the activity row and enqueues one job per subscriber, in the caller's
 * transaction: a rolled-back change leaves no job, a committed one exactly
 * one per subscriber of its kind. Real SQLite files in a temporary
 * directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ledger/events.h"
#include "ledger/ledger.h"
#include "store/store.h"

#define NOW 1796198400 /* 2026-12-02T09:00:00Z, a Wednesday */

static char dir[64];
static int db_seq;

struct fx {
    struct bk_store *store;
    struct bk_arena arena;
    struct bk_errbuf err;
    int64_t host_id;
};

#define OK(f, call)                                                            \
    do {                                                                       \
        enum bk_err e_ = (call);                                               \
        if (e_ != BK_OK)                                                       \
            fail_msg("%s: %s (%s)", #call, bk_err_name(e_), (f)->err.msg);     \
    } while (0)

static const struct bk_ledger_subscriber mail = {
    .name = "mail",
    .job_kind = "test.mail",
    .kinds = BK_LEV_BIT(BK_LEV_BOOKING_CREATED) |
             BK_LEV_BIT(BK_LEV_BOOKING_CANCELLED) |
             BK_LEV_BIT(BK_LEV_CLIENT_CREATED),
};
static const struct bk_ledger_subscriber mirror = {
    .name = "mirror",
    .job_kind = "test.mirror",
    .kinds = BK_LEV_BIT(BK_LEV_CLIENT_CREATED) |
             BK_LEV_BIT(BK_LEV_CLIENT_UPDATED) |
             BK_LEV_BIT(BK_LEV_HOST_CREATED),
};

/* A fresh database with host "ada" open around the clock in UTC and a
 * 30-minute event type "intro", written through the ledger's catalog
 * operations. */
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
    char url[128];
    int64_t id;

    assert_non_null(f);
    bk_arena_init(&f->arena);
    snprintf(url, sizeof(url), "sqlite:%s/db%d", dir, db_seq++);
    OK(f, bk_store_open(url, 2, &f->store, &f->err));
    OK(f, bk_store_migrate(f->store, NULL, NULL, &f->err));
    bk_ledger_subscribers_clear();

    OK(f, bk_store_begin(f->store, BK_TX_WRITE, &tx, &f->err));
    h.slug = "ada";
    h.name = "Ada";
    h.email = "ada@studio.example";
    h.timezone = "UTC";
    h.created_utc = h.updated_utc = NOW;
    OK(f, bk_ledger_host_create(tx, &h, "test", NOW, &f->arena, &f->host_id,
                                &f->err));
    s.timezone = "UTC";
    s.weekly = week;
    s.n_weekly = 7;
    OK(f, bk_ledger_schedule_put(tx, f->host_id, &s, "test", NOW, &f->arena,
                                 &f->err));
    memset(&et, 0, sizeof(et));
    et.slug = "intro";
    et.title = "Intro";
    et.host_id = f->host_id;
    et.rules.duration_min = 30;
    et.rules.horizon_days = 60;
    et.active = true;
    et.created_utc = et.updated_utc = NOW;
    OK(f, bk_ledger_event_type_create(tx, &et, "test", NOW, &f->arena, &id,
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

/* Jobs of the queue by status: pending, running, done, dead. */
static int64_t pending_jobs(struct fx *f)
{
    struct bk_tx *tx = NULL;
    int64_t counts[4];

    OK(f, bk_store_begin(f->store, BK_TX_READ, &tx, &f->err));
    OK(f, bk_store_job_counts(tx, counts, &f->err));
    bk_store_rollback(tx);
    return counts[0];
}

/* Claims the next due job into *job; false when none is due. */
static bool claim(struct fx *f, struct bk_job *job)
{
    struct bk_tx *tx = NULL;
    enum bk_err e;

    OK(f, bk_store_begin(f->store, BK_TX_QUEUE, &tx, &f->err));
    e = bk_store_job_claim(tx, INT64_MAX / 4, 60000, 7, &f->arena, job,
                           &f->err);
    if (e == BK_E_NOT_FOUND) {
        bk_store_rollback(tx);
        return false;
    }
    OK(f, e);
    OK(f, bk_store_job_complete(tx, job->id, 7, INT64_MAX / 4, &f->err));
    OK(f, bk_store_commit(tx, &f->err));
    return true;
}

static int64_t activity_count(struct fx *f, const char *kind)
{
    struct bk_tx *tx = NULL;
    struct bk_activity *rows;
    size_t n;

    OK(f, bk_store_begin(f->store, BK_TX_READ, &tx, &f->err));
    OK(f, bk_store_activity_list(tx, kind, 0, 0, 500, &f->arena, &rows, &n,
                                 &f->err));
    bk_store_rollback(tx);
    return (int64_t)n;
}

static struct bk_booking book(struct fx *f, int64_t start_utc)
{
    struct bk_booking_request r;
    struct bk_booking b;

    memset(&r, 0, sizeof(r));
    r.event_type_slug = "intro";
    r.start_utc = start_utc;
    r.attendee_name = "Grace";
    r.attendee_email = "grace@client.example";
    r.source = BK_SOURCE_API;
    r.actor = "api";
    OK(f, bk_ledger_booking_create(f->store, &r, NOW, &f->arena, &b, &f->err));
    return b;
}

static void test_subscribe_refuses_bad_subscribers(void **state)
{
    struct fx *f = *state;
    struct bk_ledger_subscriber bad = mail;

    bad.name = "Has Space";
    assert_int_equal(bk_ledger_subscribe(&bad, &f->err), BK_E_INVALID);
    bad.name = "";
    assert_int_equal(bk_ledger_subscribe(&bad, &f->err), BK_E_INVALID);
    bad = mail;
    bad.kinds = 0;
    assert_int_equal(bk_ledger_subscribe(&bad, &f->err), BK_E_INVALID);
    bad.kinds = BK_LEV_BIT(BK_LEV_COUNT);
    assert_int_equal(bk_ledger_subscribe(&bad, &f->err), BK_E_INVALID);
    bad = mail;
    bad.job_kind = NULL;
    assert_int_equal(bk_ledger_subscribe(&bad, &f->err), BK_E_INVALID);
    OK(f, bk_ledger_subscribe(&mail, &f->err));
    assert_int_equal(bk_ledger_subscribe(&mail, &f->err), BK_E_DUPLICATE);
}

static void test_catalog_changes_are_events(void **state)
{
    struct fx *f = *state;

    /* setup wrote a host, a schedule and an event type through the
     * ledger: each is in the activity log. */
    assert_int_equal(activity_count(f, "HOST_CREATED"), 1);
    assert_int_equal(activity_count(f, "SCHEDULE_UPDATED"), 1);
    assert_int_equal(activity_count(f, "EVENT_TYPE_CREATED"), 1);
    /* No subscriber then: no job. */
    assert_int_equal(pending_jobs(f), 0);
}

static void test_one_job_per_subscriber_of_the_kind(void **state)
{
    struct fx *f = *state;
    struct bk_booking b, moved;
    struct bk_job job;
    bool seen_mail = false, seen_mirror = false;

    OK(f, bk_ledger_subscribe(&mail, &f->err));
    OK(f, bk_ledger_subscribe(&mirror, &f->err));

    /* A booking of a new client: BOOKING_CREATED (mail) and
     * CLIENT_CREATED (mail and mirror). */
    b = book(f, NOW + 86400);
    assert_int_equal(pending_jobs(f), 3);
    while (claim(f, &job)) {
        char want[64];
        if (strcmp(job.kind, "test.mirror") == 0) {
            assert_non_null(strstr(job.payload, "\"CLIENT_CREATED\""));
            seen_mirror = true;
        } else {
            assert_string_equal(job.kind, "test.mail");
            if (strstr(job.payload, "\"BOOKING_CREATED\"")) {
                snprintf(want, sizeof(want), "\"booking_id\":%lld",
                         (long long)b.id);
                assert_non_null(strstr(job.payload, want));
                seen_mail = true;
            }
        }
    }
    assert_true(seen_mail);
    assert_true(seen_mirror);

    /* A reschedule has no subscriber; a cancellation has one. */
    OK(f, bk_ledger_booking_reschedule(f->store, b.uid, NOW + 2 * 86400, "api",
                                       NOW, &f->arena, &moved, &f->err));
    assert_int_equal(pending_jobs(f), 0);
    OK(f, bk_ledger_booking_cancel(f->store, b.uid, "ill", "attendee", NOW,
                                   &f->arena, &moved, &f->err));
    assert_int_equal(pending_jobs(f), 1);
    assert_true(claim(f, &job));
    assert_non_null(strstr(job.payload, "\"BOOKING_CANCELLED\""));

    /* The same client booking again: no CLIENT_CREATED this time. */
    (void)book(f, NOW + 3 * 86400);
    assert_int_equal(pending_jobs(f), 1);
}

static void test_rolled_back_change_leaves_no_job(void **state)
{
    struct fx *f = *state;
    struct bk_tx *tx = NULL;
    struct bk_client c;
    struct bk_ledger_event ev;
    bool created;

    OK(f, bk_ledger_subscribe(&mirror, &f->err));
    OK(f, bk_store_begin(f->store, BK_TX_WRITE, &tx, &f->err));
    OK(f, bk_ledger_client_find_or_create(tx, "lin@client.example", "Lin", NULL,
                                          BK_SOURCE_API, NOW, &f->arena, &c,
                                          &created, &f->err));
    assert_true(created);
    bk_store_rollback(tx);
    assert_int_equal(pending_jobs(f), 0);
    assert_int_equal(activity_count(f, "CLIENT_CREATED"), 0);

    OK(f, bk_store_begin(f->store, BK_TX_WRITE, &tx, &f->err));
    OK(f, bk_ledger_client_find_or_create(tx, "lin@client.example", "Lin", NULL,
                                          BK_SOURCE_API, NOW, &f->arena, &c,
                                          &created, &f->err));
    OK(f, bk_store_commit(tx, &f->err));
    assert_int_equal(pending_jobs(f), 1);

    /* A client update (the admin's) is an event too. */
    OK(f, bk_store_begin(f->store, BK_TX_WRITE, &tx, &f->err));
    c.name = "Lin Q.";
    OK(f, bk_ledger_client_update(tx, &c, "admin", NOW, &f->arena, &f->err));
    OK(f, bk_store_commit(tx, &f->err));
    assert_int_equal(pending_jobs(f), 2);
    assert_int_equal(activity_count(f, "CLIENT_UPDATED"), 1);

    /* A booking event without its booking is refused, and writes
     * nothing. */
    OK(f, bk_store_begin(f->store, BK_TX_WRITE, &tx, &f->err));
    bk_ledger_event_init(&ev, BK_LEV_BOOKING_CANCELLED, NOW, "admin");
    assert_int_equal(bk_ledger_emit(tx, &ev, &f->err), BK_E_INVALID);
    ev.kind = (enum bk_ledger_event_kind)BK_LEV_COUNT;
    assert_int_equal(bk_ledger_emit(tx, &ev, &f->err), BK_E_INTERNAL);
    bk_store_rollback(tx);
    assert_int_equal(pending_jobs(f), 2);
}

static void test_history_written_for_booking_kinds(void **state)
{
    struct fx *f = *state;
    struct bk_booking b, out;
    struct bk_tx *tx = NULL;
    struct bk_booking_change *h;
    size_t n;

    b = book(f, NOW + 86400);
    OK(f, bk_ledger_booking_cancel(f->store, b.uid, "double booked", "admin",
                                   NOW, &f->arena, &out, &f->err));
    OK(f, bk_store_begin(f->store, BK_TX_READ, &tx, &f->err));
    OK(f, bk_store_history_list(tx, b.id, &f->arena, &h, &n, &f->err));
    bk_store_rollback(tx);
    assert_int_equal(n, 2);
    assert_string_equal(h[0].action, "created");
    assert_string_equal(h[0].actor, "api");
    assert_int_equal(h[0].to_status, BK_BOOKING_CONFIRMED);
    assert_string_equal(h[1].action, "cancelled");
    assert_string_equal(h[1].actor, "admin");
    assert_int_equal(h[1].from_status, BK_BOOKING_CONFIRMED);
    assert_int_equal(h[1].to_status, BK_BOOKING_CANCELLED);
    assert_string_equal(h[1].note, "double booked");
    assert_int_equal(activity_count(f, "BOOKING_CREATED"), 1);
    assert_int_equal(activity_count(f, "BOOKING_CANCELLED"), 1);
    assert_string_equal(bk_ledger_event_name(BK_LEV_BOOKING_NO_SHOW),
                        "BOOKING_NO_SHOW");
    assert_string_equal(bk_ledger_event_name((enum bk_ledger_event_kind)99),
                        "UNKNOWN");
}

static int group_setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/bk-events-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_subscribe_refuses_bad_subscribers,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_catalog_changes_are_events, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_one_job_per_subscriber_of_the_kind,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_rolled_back_change_leaves_no_job,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_history_written_for_booking_kinds,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
