/* tests/unit/ledger/test_sync.c — provider events applied in every order.
 * For each scenario (a sequence of Cal.com events as they happened), every
 * permutation of arrival is applied to a fresh SQLite ledger, events that
 * must wait (BK_E_RETRY) are retried after each later one as the job queue
 * would, and some runs deliver every event twice. The end state must be the
 * one the provider means, whatever the order. */
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
#include "core/tz.h"
#include "ledger/sync.h"
#include "store/store.h"

#define T0   1796198400 /* 2026-12-02T09:00:00Z */
#define HOUR 3600

static char dir[64];
static int db_seq;

static struct bk_store *fresh_store(void)
{
    char url[128];
    struct bk_store *s = NULL;
    struct bk_errbuf err;

    snprintf(url, sizeof(url), "sqlite:%s/db%d", dir, db_seq++);
    assert_int_equal(bk_store_open(url, 2, &s, &err), BK_OK);
    assert_int_equal(bk_store_migrate(s, NULL, NULL, &err), BK_OK);
    return s;
}

/* An event of one provider booking lineage; start is hours after T0. */
static struct bk_ext_event ev(enum bk_ext_kind kind, const char *uid,
                              const char *prev, int start_h, bool data)
{
    struct bk_ext_event e;

    memset(&e, 0, sizeof(e));
    e.kind = kind;
    e.source = BK_SOURCE_CALCOM;
    e.provider = "calcom";
    e.provider_display = "Cal.com";
    e.booking.uid = uid;
    e.booking.previous_uid = prev;
    if (data) {
        e.booking.start_utc = T0 + (int64_t)start_h * HOUR;
        e.booking.end_utc = e.booking.start_utc + 1800;
        e.booking.attendee.email = "alex@client.example";
        e.booking.attendee.name = "Alex";
        e.booking.organizer.email = "jane@coach.example";
        e.booking.event_type_id = "731";
        e.booking.event_type_slug = "30min";
        e.booking.length_min = 30;
    }
    return e;
}

/* Applies one event in its own transaction. */
static enum bk_err apply(struct bk_store *s, const struct bk_ext_event *e)
{
    struct bk_tx *tx = NULL;
    struct bk_arena a;
    struct bk_sync_outcome out;
    struct bk_errbuf err;
    enum bk_err rc;

    bk_arena_init(&a);
    assert_int_equal(bk_store_begin(s, BK_TX_WRITE, &tx, &err), BK_OK);
    rc = bk_ledger_sync_apply(tx, e, T0 - 86400, &a, &out, &err);
    if (rc == BK_OK)
        assert_int_equal(bk_store_commit(tx, &err), BK_OK);
    else
        bk_store_rollback(tx);
    bk_arena_release(&a);
    if (rc != BK_OK && rc != BK_E_RETRY)
        fail_msg("apply %s %s: %s: %s", bk_ext_kind_name(e->kind),
                 e->booking.uid, bk_err_name(rc), err.msg);
    return rc;
}

/* Delivers events in order[]; events answering BK_E_RETRY wait and are
 * tried again after each later success (the job queue's backoff). */
static void deliver(struct bk_store *s, const struct bk_ext_event *evs,
                    const int *order, int n, bool twice)
{
    int waiting[16], n_waiting = 0;

    for (int k = 0; k < n * (twice ? 2 : 1); k++) {
        const struct bk_ext_event *e = &evs[order[k % n]];
        if (apply(s, e) == BK_E_RETRY) {
            waiting[n_waiting++] = order[k % n];
            continue;
        }
        for (int again = 1; again && n_waiting;) {
            again = 0;
            for (int i = 0; i < n_waiting; i++) {
                if (apply(s, &evs[waiting[i]]) == BK_OK) {
                    waiting[i] = waiting[--n_waiting];
                    again = 1;
                    break;
                }
            }
        }
    }
    assert_int_equal(n_waiting, 0); /* nothing left waiting forever */
}

struct expect {
    int active;                    /* bookings not cancelled */
    int64_t start_utc;             /* of the active one, when active == 1 */
    enum bk_booking_status status; /* of the active one, or of final_uid's */
    const char *final_uid;         /* the provider's uid at the end */
    int total;                     /* bookings, cancelled ones too; 0: any */
};

static void check(struct bk_store *s, const struct expect *x, const char *label)
{
    struct bk_tx *tx = NULL;
    struct bk_arena a;
    struct bk_booking_filter f;
    struct bk_booking *rows;
    struct bk_link l;
    struct bk_booking fb;
    size_t n;
    int active = 0;
    struct bk_booking *live = NULL;
    struct bk_errbuf err;

    bk_arena_init(&a);
    memset(&f, 0, sizeof(f));
    f.status = -1;
    f.source = -1;
    f.limit = 100;
    assert_int_equal(bk_store_begin(s, BK_TX_READ, &tx, &err), BK_OK);
    assert_int_equal(bk_store_booking_list(tx, &f, &a, &rows, &n, &err), BK_OK);
    for (size_t i = 0; i < n; i++) {
        if (rows[i].status != BK_BOOKING_CANCELLED) {
            active++;
            live = &rows[i];
        }
    }
    if (active != x->active)
        fail_msg("%s: %d active bookings, expected %d", label, active,
                 x->active);
    if (x->total && (int)n != x->total)
        fail_msg("%s: %zu bookings, expected %d", label, n, x->total);
    if (live) {
        if (live->start_utc != x->start_utc || live->status != x->status)
            fail_msg("%s: live booking at %lld %s, expected %lld %s", label,
                     (long long)live->start_utc,
                     bk_booking_status_name(live->status),
                     (long long)x->start_utc,
                     bk_booking_status_name(x->status));
    }
    /* The provider's current uid finds a booking in the meant state. */
    assert_int_equal(bk_store_link_find(tx, "calcom", "booking_uid",
                                        x->final_uid, &a, &l, &err),
                     BK_OK);
    assert_int_equal(bk_store_booking_get(tx, l.entity_id, &a, &fb, &err),
                     BK_OK);
    if (fb.status != x->status)
        fail_msg("%s: uid %s is %s, expected %s", label, x->final_uid,
                 bk_booking_status_name(fb.status),
                 bk_booking_status_name(x->status));
    if (live && fb.id != live->id)
        fail_msg("%s: uid %s does not find the live booking", label,
                 x->final_uid);
    bk_store_rollback(tx);
    bk_arena_release(&a);
}

static bool next_permutation(int *p, int n)
{
    int i = n - 2, j = n - 1;
    while (i >= 0 && p[i] >= p[i + 1])
        i--;
    if (i < 0)
        return false;
    while (p[j] <= p[i])
        j--;
    int t = p[i];
    p[i] = p[j];
    p[j] = t;
    for (int a = i + 1, b = n - 1; a < b; a++, b--) {
        t = p[a];
        p[a] = p[b];
        p[b] = t;
    }
    return true;
}

static void every_order(const struct bk_ext_event *evs, int n,
                        const struct expect *x)
{
    int order[8];
    int runs = 0;

    for (int i = 0; i < n; i++)
        order[i] = i;
    do {
        for (int twice = 0; twice < 2; twice++) {
            struct bk_store *s = fresh_store();
            char label[64];
            int len = snprintf(label, sizeof(label), "order");
            for (int i = 0; i < n; i++)
                len += snprintf(label + len, sizeof(label) - (size_t)len, " %d",
                                order[i]);
            if (twice)
                snprintf(label + len, sizeof(label) - (size_t)len, " (x2)");
            deliver(s, evs, order, n, twice);
            check(s, x, label);
            bk_store_free(s);
            runs++;
        }
    } while (next_permutation(order, n));
    assert_true(runs >= 2);
}

static void test_create_cancel(void **state)
{
    struct bk_ext_event evs[] = {
        ev(BK_EXT_BOOKING_CREATED, "A", NULL, 0, true),
        ev(BK_EXT_BOOKING_CANCELLED, "A", NULL, 0, true),
    };
    struct expect x = {0, 0, BK_BOOKING_CANCELLED, "A", 0};
    (void)state;
    every_order(evs, 2, &x);
}

static void test_cancel_without_data_waits_for_create(void **state)
{
    /* A cancellation that says nothing but the uid must wait for the
     * creation instead of failing or being dropped. */
    struct bk_ext_event evs[] = {
        ev(BK_EXT_BOOKING_CREATED, "A", NULL, 0, true),
        ev(BK_EXT_BOOKING_CANCELLED, "A", NULL, 0, false),
    };
    struct expect x = {0, 0, BK_BOOKING_CANCELLED, "A", 0};
    (void)state;
    every_order(evs, 2, &x);
}

static void test_duplicate_create_after_cancel(void **state)
{
    struct bk_ext_event evs[] = {
        ev(BK_EXT_BOOKING_CREATED, "A", NULL, 0, true),
        ev(BK_EXT_BOOKING_CANCELLED, "A", NULL, 0, true),
        ev(BK_EXT_BOOKING_CREATED, "A", NULL, 0, true),
    };
    struct expect x = {0, 0, BK_BOOKING_CANCELLED, "A", 0};
    (void)state;
    every_order(evs, 3, &x);
}

static void test_reschedule_then_cancel(void **state)
{
    struct bk_ext_event evs[] = {
        ev(BK_EXT_BOOKING_CREATED, "A", NULL, 0, true),
        ev(BK_EXT_BOOKING_RESCHEDULED, "B", "A", 5, true),
        ev(BK_EXT_BOOKING_CANCELLED, "B", NULL, 5, true),
    };
    struct expect x = {0, 0, BK_BOOKING_CANCELLED, "B", 0};
    (void)state;
    every_order(evs, 3, &x);
}

static void test_reschedule_chain(void **state)
{
    struct bk_ext_event evs[] = {
        ev(BK_EXT_BOOKING_CREATED, "A", NULL, 0, true),
        ev(BK_EXT_BOOKING_RESCHEDULED, "B", "A", 5, true),
        ev(BK_EXT_BOOKING_RESCHEDULED, "C", "B", 9, true),
    };
    struct expect x = {1, T0 + 9 * HOUR, BK_BOOKING_CONFIRMED, "C", 0};
    (void)state;
    every_order(evs, 3, &x);
}

static void test_reschedule_chain_then_cancel(void **state)
{
    struct bk_ext_event evs[] = {
        ev(BK_EXT_BOOKING_CREATED, "A", NULL, 0, true),
        ev(BK_EXT_BOOKING_RESCHEDULED, "B", "A", 5, true),
        ev(BK_EXT_BOOKING_RESCHEDULED, "C", "B", 9, true),
        ev(BK_EXT_BOOKING_CANCELLED, "C", NULL, 9, true),
    };
    struct expect x = {0, 0, BK_BOOKING_CANCELLED, "C", 0};
    (void)state;
    every_order(evs, 4, &x);
}

static void test_created_then_ended(void **state)
{
    struct bk_ext_event evs[] = {
        ev(BK_EXT_BOOKING_CREATED, "A", NULL, 0, true),
        ev(BK_EXT_MEETING_ENDED, "A", NULL, 0, true),
    };
    struct expect x = {1, T0, BK_BOOKING_COMPLETED, "A", 0};
    (void)state;
    every_order(evs, 2, &x);
}

static void test_rescheduled_then_ended(void **state)
{
    struct bk_ext_event evs[] = {
        ev(BK_EXT_BOOKING_CREATED, "A", NULL, 0, true),
        ev(BK_EXT_BOOKING_RESCHEDULED, "B", "A", 5, true),
        ev(BK_EXT_MEETING_ENDED, "B", NULL, 5, true),
    };
    struct expect x = {1, T0 + 5 * HOUR, BK_BOOKING_COMPLETED, "B", 0};
    (void)state;
    every_order(evs, 3, &x);
}

static void test_reschedule_keeping_uid(void **state)
{
    /* Applied in order only: a reschedule without a new uid moves it. */
    struct bk_ext_event evs[] = {
        ev(BK_EXT_BOOKING_CREATED, "A", NULL, 0, true),
        ev(BK_EXT_BOOKING_RESCHEDULED, "A", NULL, 7, true),
    };
    int order[] = {0, 1};
    struct expect x = {1, T0 + 7 * HOUR, BK_BOOKING_CONFIRMED, "A", 0};
    struct bk_store *s = fresh_store();
    (void)state;
    deliver(s, evs, order, 2, false);
    check(s, &x, "in order");
    bk_store_free(s);
}

/* A kind the ledger does not apply is a permanent error that names it. */
static struct bk_ext_event replaced(const char *uid, const char *next,
                                    int start_h)
{
    struct bk_ext_event e =
        ev(BK_EXT_BOOKING_REPLACED, uid, NULL, start_h, true);
    e.booking.next_uid = next;
    return e;
}

static struct bk_ext_event no_show(bool set, const char *uid, const char *mark)
{
    struct bk_ext_event e =
        ev(set ? BK_EXT_NO_SHOW_MARKED : BK_EXT_NO_SHOW_CLEARED, uid, NULL, 0,
           true);
    e.booking.mark_id = mark;
    return e;
}

/* Calendly's reschedule: the old invitee's cancel half (replaced, never a
 * cancel) and the new invitee's creation naming the old one. One booking,
 * moved, whatever the order, delivered once or twice. */
static void test_replaced_pair(void **state)
{
    struct bk_ext_event evs[] = {
        ev(BK_EXT_BOOKING_CREATED, "A", NULL, 0, true),
        replaced("A", "B", 0),
        ev(BK_EXT_BOOKING_RESCHEDULED, "B", "A", 5, true),
    };
    struct expect x = {1, T0 + 5 * HOUR, BK_BOOKING_CONFIRMED, "B", 1};
    (void)state;
    every_order(evs, 3, &x);
    /* Without the original's creation. */
    every_order(evs + 1, 2, &x);
}

/* A chain (A -> B -> C, the second step's cancel half left out to keep
 * the permutations few; the integration tests send all five in random
 * orders), and a pair followed by a real cancel. */
static void test_replaced_chain_then_cancel(void **state)
{
    struct bk_ext_event evs[] = {
        ev(BK_EXT_BOOKING_CREATED, "A", NULL, 0, true),
        replaced("A", "B", 0),
        ev(BK_EXT_BOOKING_RESCHEDULED, "B", "A", 5, true),
        ev(BK_EXT_BOOKING_RESCHEDULED, "C", "B", 9, true),
    };
    struct expect x = {1, T0 + 9 * HOUR, BK_BOOKING_CONFIRMED, "C", 0};
    struct bk_ext_event evs2[] = {
        ev(BK_EXT_BOOKING_CREATED, "A", NULL, 0, true),
        replaced("A", "B", 0),
        ev(BK_EXT_BOOKING_RESCHEDULED, "B", "A", 5, true),
        ev(BK_EXT_BOOKING_CANCELLED, "B", NULL, 5, true),
    };
    struct expect x2 = {0, 0, BK_BOOKING_CANCELLED, "B", 0};
    (void)state;
    every_order(evs, 4, &x);
    every_order(evs2, 4, &x2);
}

/* A no-show set then removed, in any order: completed. */
static void test_no_show_marked_and_cleared(void **state)
{
    struct bk_ext_event evs[] = {
        ev(BK_EXT_BOOKING_CREATED, "A", NULL, 0, true),
        no_show(true, "A", "M1"),
        no_show(false, "A", "M1"),
    };
    struct expect x = {1, T0, BK_BOOKING_COMPLETED, "A", 1};
    struct bk_ext_event set_only[] = {
        ev(BK_EXT_BOOKING_CREATED, "A", NULL, 0, true),
        no_show(true, "A", "M1"),
    };
    struct expect x2 = {1, T0, BK_BOOKING_NO_SHOW, "A", 1};
    (void)state;
    every_order(evs, 3, &x);
    every_order(set_only, 2, &x2);
}

static void test_unknown_kind_refused(void **state)
{
    struct bk_store *s = fresh_store();
    struct bk_ext_event e = ev(BK_EXT_BOOKING_CREATED, "A", NULL, 0, true);
    struct bk_tx *tx = NULL;
    struct bk_arena a;
    struct bk_sync_outcome out;
    struct bk_errbuf err;
    (void)state;

    bk_arena_init(&a);
    e.kind = (enum bk_ext_kind)BK_EXT_KIND_COUNT; /* a later build's kind */
    assert_int_equal(bk_store_begin(s, BK_TX_WRITE, &tx, &err), BK_OK);
    assert_int_equal(bk_ledger_sync_apply(tx, &e, T0, &a, &out, &err),
                     BK_E_INVALID);
    assert_non_null(strstr(err.msg, "not applied"));
    assert_non_null(strstr(err.msg, "calcom"));
    bk_store_rollback(tx);
    bk_arena_release(&a);
    bk_store_free(s);
}

/* Imported hosts and event types are named after the event's provider
 * (its table row), not after Cal.com. */
static void test_imports_named_after_provider(void **state)
{
    struct bk_store *s = fresh_store();
    struct bk_ext_event e = ev(BK_EXT_BOOKING_CREATED, "A", NULL, 0, true);
    struct bk_tx *tx = NULL;
    struct bk_arena a;
    struct bk_errbuf err;
    struct bk_booking b;
    struct bk_event_type et;
    struct bk_link l;
    struct bk_host h;
    (void)state;

    bk_arena_init(&a);
    e.provider = "acme";
    e.provider_display = "Acme Scheduling";
    e.source = BK_SOURCE_CALENDLY;
    e.booking.event_type_id = "https://api.acme.example/event_types/XYZ";
    e.booking.event_type_slug = NULL;
    e.booking.organizer.username = "jane";
    assert_int_equal(apply(s, &e), BK_OK);
    assert_int_equal(bk_store_begin(s, BK_TX_READ, &tx, &err), BK_OK);
    assert_int_equal(
        bk_store_link_find(tx, "acme", "booking_uid", "A", &a, &l, &err),
        BK_OK);
    assert_int_equal(bk_store_booking_get(tx, l.entity_id, &a, &b, &err),
                     BK_OK);
    assert_int_equal(b.source, BK_SOURCE_CALENDLY);
    assert_string_equal(b.event_type_slug, "acme-imported");
    assert_int_equal(
        bk_store_event_type_get(tx, b.event_type_id, &a, &et, &err), BK_OK);
    assert_string_equal(et.title, "Imported from Acme Scheduling");
    assert_string_equal(bk_event_type_external_id(&et, "acme"),
                        "https://api.acme.example/event_types/XYZ");
    assert_int_equal(bk_store_host_get(tx, b.host_id, &a, &h, &err), BK_OK);
    assert_string_equal(h.slug, "acme-jane");
    bk_store_rollback(tx);
    bk_arena_release(&a);
    bk_store_free(s);
}

/* A booking of a mapped provider event type lands on the mapped one. */
static void test_mapped_event_type(void **state)
{
    struct bk_store *s = fresh_store();
    struct bk_ext_event e = ev(BK_EXT_BOOKING_CREATED, "A", NULL, 0, true);
    struct bk_tx *tx = NULL;
    struct bk_arena a;
    struct bk_errbuf err;
    struct bk_host h = {.slug = "jane",
                        .name = "Jane",
                        .email = "jane@coach.example",
                        .timezone = "UTC"};
    struct bk_event_type et;
    struct bk_booking b;
    struct bk_link l;
    int64_t et_id;
    (void)state;

    bk_arena_init(&a);
    memset(&et, 0, sizeof(et));
    assert_int_equal(bk_store_begin(s, BK_TX_WRITE, &tx, &err), BK_OK);
    assert_int_equal(bk_store_host_insert(tx, &h, &h.id, &err), BK_OK);
    et.slug = "consult";
    et.title = "Consultation";
    et.host_id = h.id;
    et.rules.duration_min = 30;
    et.active = true;
    assert_int_equal(bk_event_type_external_set(&et, "calcom", "731"), BK_OK);
    assert_int_equal(bk_store_event_type_insert(tx, &et, &et_id, &err), BK_OK);
    assert_int_equal(bk_store_commit(tx, &err), BK_OK);
    assert_int_equal(apply(s, &e), BK_OK);
    assert_int_equal(bk_store_begin(s, BK_TX_READ, &tx, &err), BK_OK);
    assert_int_equal(
        bk_store_link_find(tx, "calcom", "booking_uid", "A", &a, &l, &err),
        BK_OK);
    assert_int_equal(bk_store_booking_get(tx, l.entity_id, &a, &b, &err),
                     BK_OK);
    assert_int_equal(b.event_type_id, et_id);
    assert_int_equal(b.host_id, h.id);
    bk_store_rollback(tx);
    bk_arena_release(&a);
    bk_store_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_cancel),
        cmocka_unit_test(test_cancel_without_data_waits_for_create),
        cmocka_unit_test(test_duplicate_create_after_cancel),
        cmocka_unit_test(test_reschedule_then_cancel),
        cmocka_unit_test(test_reschedule_chain),
        cmocka_unit_test(test_reschedule_chain_then_cancel),
        cmocka_unit_test(test_created_then_ended),
        cmocka_unit_test(test_rescheduled_then_ended),
        cmocka_unit_test(test_reschedule_keeping_uid),
        cmocka_unit_test(test_replaced_pair),
        cmocka_unit_test(test_replaced_chain_then_cancel),
        cmocka_unit_test(test_no_show_marked_and_cleared),
        cmocka_unit_test(test_unknown_kind_refused),
        cmocka_unit_test(test_imports_named_after_provider),
        cmocka_unit_test(test_mapped_event_type),
    };
    char cmd[128];
    int rc;

    bk_tz_init();
    snprintf(dir, sizeof(dir), "/tmp/bk-test-sync-XXXXXX");
    assert_non_null(mkdtemp(dir));
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        rc = rc ? rc : 1;
    return rc;
}
