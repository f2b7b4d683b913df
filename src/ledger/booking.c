/* ledger/booking.c — slots from the database, and booking create, cancel
 * and reschedule with an atomic slot claim. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ledger/events.h"
#include "ledger/internal.h"
#include "ledger/ledger.h"
#include "ledger/payments.h"
#include "ledger/packages.h"
#include "ledger/questions.h"
#include "base/time.h"
#include "core/booking.h"
#include "base/banned.h"

/* Busy bookings are loaded for the window plus this margin on both sides:
 * the engine reads the dates around the window, buffers reach up to a day,
 * and the per-day limit counts whole local dates. */
#define BUSY_MARGIN_S (3 * BK_SECS_PER_DAY)

void bk_dates_window(const struct bk_tz *tz, int64_t from_date, int64_t to_date,
                     int64_t *from_utc, int64_t *to_utc)
{
    *from_utc = bk_tz_local_to_utc(tz, from_date * BK_SECS_PER_DAY);
    *to_utc = bk_tz_local_to_utc(tz, (to_date + 1) * BK_SECS_PER_DAY);
}

const char *bk_ledger_json(struct bk_arena *arena, json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT);
    const char *out = bk_arena_strdup(arena, s ? s : "{}");
    free(s);
    json_decref(v);
    return out;
}

const char *bk_ledger_iso(struct bk_arena *arena, int64_t utc)
{
    char buf[BK_RFC3339_MAX];
    bk_rfc3339_format_utc(utc, buf);
    return bk_arena_strdup(arena, buf);
}

enum bk_err bk_ledger_client_find_or_create(
    struct bk_tx *tx, const char *email, const char *name, const char *timezone,
    enum bk_source source, int64_t now_utc, struct bk_arena *arena,
    struct bk_client *out, bool *created, struct bk_errbuf *err)
{
    struct bk_ledger_event ev;
    struct bk_client c;
    char public_id[32];
    bool is_new = false;
    enum bk_err e;

    if (created)
        *created = false;
    memset(&c, 0, sizeof(c));
    bk_ledger_new_public_id("cli_", public_id);
    c.public_id = public_id;
    c.email = email;
    c.name = name && *name ? name : NULL;
    c.timezone = timezone;
    c.status = BK_CLIENT_PROSPECT;
    c.created_utc = c.updated_utc = now_utc;
    e = bk_store_client_upsert(tx, &c, arena, out, &is_new, err);
    if (e)
        return e;
    if (!is_new) {
        if (source != BK_SOURCE_WEB && !out->name && name && *name) {
            /* A client first seen without a name gets the first one given:
             * a read-modify-write, so lock the row and read it again. */
            if ((e = bk_store_client_lock(tx, out->id, err)) ||
                (e = bk_store_client_get(tx, out->id, arena, out, err)))
                return e;
            if (out->name)
                return BK_OK;
            out->name = bk_arena_strdup(arena, name);
            out->updated_utc = now_utc;
            e = bk_ledger_client_update(tx, out, bk_source_name(source),
                                        now_utc, arena, err);
        }
        return e;
    }
    if (created)
        *created = true;
    bk_ledger_event_init(&ev, BK_LEV_CLIENT_CREATED, now_utc,
                         bk_source_name(source));
    ev.client_id = out->id;
    ev.detail = bk_ledger_json(arena, json_pack("{s:s}", "email", email));
    return bk_ledger_emit(tx, &ev, err);
}

/* The engine's busy list for an event type's host around a window. */
static enum bk_err load_busy(struct bk_tx *tx, const struct bk_event_type *et,
                             int64_t from_utc, int64_t to_utc, int64_t now_utc,
                             int64_t exclude_id, struct bk_arena *arena,
                             struct bk_busy_booking **out, size_t *n,
                             struct bk_errbuf *err)
{
    struct bk_booking_span *spans;
    struct bk_busy_booking *busy;
    size_t ns;
    enum bk_err e;

    e = bk_store_booking_busy(tx, et->host_id, from_utc - BUSY_MARGIN_S,
                              to_utc + BUSY_MARGIN_S, now_utc, exclude_id,
                              arena, &spans, &ns, err);
    if (e)
        return e;
    busy = bk_arena_array(arena, ns + 1, sizeof(*busy));
    for (size_t i = 0; i < ns; i++) {
        busy[i].start_utc = spans[i].start_utc;
        busy[i].end_utc = spans[i].end_utc;
        busy[i].buffer_before_min = spans[i].buffer_before_min;
        busy[i].buffer_after_min = spans[i].buffer_after_min;
        busy[i].same_event_type = spans[i].event_type_id == et->id;
    }
    *out = busy;
    *n = ns;
    return BK_OK;
}

/* The host's busy time from its calendars around a window (the last
 * sync's, connectors/calendars.c). */
static enum bk_err load_calendar_busy(struct bk_tx *tx, int64_t host_id,
                                      int64_t from_utc, int64_t to_utc,
                                      struct bk_arena *arena,
                                      struct bk_avail_query *q,
                                      struct bk_errbuf *err)
{
    struct bk_interval *iv = NULL;
    size_t n = 0;
    enum bk_err e =
        bk_store_cal_busy(tx, host_id, from_utc - BUSY_MARGIN_S,
                          to_utc + BUSY_MARGIN_S, arena, &iv, &n, err);

    if (e)
        return e;
    q->busy = iv;
    q->n_busy = n;
    return BK_OK;
}

/* Loads the host's schedule and zone; *has_schedule is false when the host
 * has none (it then offers no slots). */
static enum bk_err load_schedule(struct bk_tx *tx, int64_t host_id,
                                 struct bk_arena *arena, struct bk_schedule *s,
                                 const struct bk_tz **tz, bool *has_schedule,
                                 struct bk_errbuf *err)
{
    enum bk_err e = bk_store_schedule_get(tx, host_id, arena, s, err);

    *has_schedule = false;
    if (e == BK_E_NOT_FOUND)
        return BK_OK;
    if (e)
        return e;
    *tz = bk_tz_get(s->timezone);
    if (!*tz)
        return bk_fail(err, BK_E_INTERNAL,
                       "the stored schedule names an unknown zone '%s'",
                       s->timezone);
    *has_schedule = true;
    return BK_OK;
}

enum bk_err bk_ledger_slots_in(struct bk_tx *tx, const struct bk_event_type *et,
                               const struct bk_schedule *sched,
                               int64_t exclude_id, int64_t from_utc,
                               int64_t to_utc, int64_t now_utc,
                               size_t max_slots, struct bk_arena *arena,
                               struct bk_slot **slots, size_t *n,
                               struct bk_errbuf *err)
{
    struct bk_busy_booking *busy = NULL;
    struct bk_avail_query q;
    size_t n_busy = 0;
    enum bk_err e;

    *slots = NULL;
    *n = 0;
    if (!sched)
        return BK_OK;
    memset(&q, 0, sizeof(q));
    q.tz = bk_tz_get(sched->timezone);
    if (!q.tz)
        return bk_fail(err, BK_E_INTERNAL,
                       "the stored schedule names an unknown zone '%s'",
                       sched->timezone);
    e = load_busy(tx, et, from_utc, to_utc, now_utc, exclude_id, arena, &busy,
                  &n_busy, err);
    if (e)
        return e;
    q.schedule = sched;
    q.rules = &et->rules;
    q.bookings = busy;
    q.n_bookings = n_busy;
    q.from_utc = from_utc;
    q.to_utc = to_utc;
    q.now_utc = now_utc;
    q.max_slots = max_slots;
    e = load_calendar_busy(tx, et->host_id, from_utc, to_utc, arena, &q, err);
    if (e)
        return e;
    return bk_availability(&q, arena, slots, n, err);
}

enum bk_err bk_ledger_slots(struct bk_store *store, const char *slug,
                            bool include_inactive, int64_t exclude_id,
                            int64_t from_utc, int64_t to_utc, int64_t now_utc,
                            size_t max_slots, struct bk_arena *arena,
                            struct bk_event_type *et, struct bk_slot **slots,
                            size_t *n, struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    struct bk_schedule sched;
    const struct bk_tz *tz = NULL;
    bool has_schedule;
    enum bk_err e;

    *slots = NULL;
    *n = 0;
    e = bk_store_begin(store, BK_TX_READ, &tx, err);
    if (e)
        goto out;
    e = bk_store_event_type_by_slug(tx, slug, arena, et, err);
    if (e)
        goto out;
    if (!et->active && !include_inactive) {
        e = bk_fail(err, BK_E_NOT_FOUND, "no event type '%s'", slug);
        goto out;
    }
    e = load_schedule(tx, et->host_id, arena, &sched, &tz, &has_schedule, err);
    if (e || !has_schedule)
        goto out;
    e = bk_ledger_slots_in(tx, et, &sched, exclude_id, from_utc, to_utc,
                           now_utc, max_slots, arena, slots, n, err);
out:
    bk_store_rollback(tx); /* read-only: nothing to commit */
    return e;
}

/* Checks that start_utc is a free slot of et at now_utc, inside a write
 * transaction that has locked the host. exclude_id: a booking that does not
 * count as busy (the one being moved). */
static enum bk_err claim_slot(struct bk_tx *tx, const struct bk_event_type *et,
                              int64_t start_utc, int64_t now_utc,
                              int64_t exclude_id, struct bk_arena *arena,
                              struct bk_errbuf *err)
{
    struct bk_schedule sched;
    const struct bk_tz *tz = NULL;
    struct bk_busy_booking *busy = NULL;
    struct bk_avail_query q;
    size_t n_busy = 0;
    bool has_schedule;
    enum bk_slot_verdict v;
    enum bk_err e;

    if (start_utc < now_utc)
        return bk_fail_field(err, BK_E_INVALID, "start", "is in the past");
    e = bk_store_host_lock(tx, et->host_id, err);
    if (e)
        return e;
    e = load_schedule(tx, et->host_id, arena, &sched, &tz, &has_schedule, err);
    if (e)
        return e;
    if (!has_schedule)
        return bk_fail_field(err, BK_E_INVALID, "start",
                             "is not a slot of this event type (its host "
                             "has no schedule)");
    e = load_busy(tx, et, start_utc, start_utc + 1, now_utc, exclude_id, arena,
                  &busy, &n_busy, err);
    if (e)
        return e;
    memset(&q, 0, sizeof(q));
    q.schedule = &sched;
    q.tz = tz;
    q.rules = &et->rules;
    q.bookings = busy;
    q.n_bookings = n_busy;
    q.now_utc = now_utc;
    e = load_calendar_busy(tx, et->host_id, start_utc, start_utc + 1, arena, &q,
                           err);
    if (e)
        return e;
    v = bk_availability_check(&q, start_utc, arena);
    switch (v) {
    case BK_SLOT_FREE:
        return BK_OK;
    case BK_SLOT_PAST:
        return bk_fail_field(err, BK_E_INVALID, "start", "is in the past");
    case BK_SLOT_OFF_GRID:
        return bk_fail_field(err, BK_E_INVALID, "start",
                             "is not a slot of this event type (outside "
                             "the schedule or off its grid)");
    case BK_SLOT_TOO_FAR:
        return bk_fail_field(err, BK_E_INVALID, "start",
                             "is beyond the booking horizon of %d days",
                             et->rules.horizon_days);
    case BK_SLOT_TOO_SOON:
        return bk_fail_field(err, BK_E_SLOT_UNAVAILABLE, "start",
                             "is inside the minimum notice of %d minutes",
                             et->rules.notice_min);
    case BK_SLOT_TAKEN:
        break;
    }
    return bk_fail_field(err, BK_E_SLOT_UNAVAILABLE, "start",
                         "this slot is no longer available");
}

static enum bk_err create_once(struct bk_store *store,
                               const struct bk_booking_request *req,
                               int64_t now_utc, struct bk_arena *arena,
                               struct bk_booking *out, struct bk_errbuf *err)
{
    struct bk_ledger_event ev;
    struct bk_tx *tx = NULL;
    struct bk_event_type et;
    struct bk_client client;
    struct bk_booking b;
    char uid[BK_UID_LEN + 1];
    bool client_created = false, paid;
    const char *answers = NULL;
    enum bk_err e;

    if (req->checkout_job)
        *req->checkout_job = 0;
    /* LOCKED: the host's lock (claim_slot) orders the claims of one host,
     * and each read after it sees the previous claim's commit. */
    e = bk_store_begin(store, BK_TX_LOCKED, &tx, err);
    if (e)
        goto out;
    e = bk_store_event_type_by_slug(tx, req->event_type_slug, arena, &et, err);
    if (e == BK_E_NOT_FOUND || (e == BK_OK && !et.active)) {
        e = bk_fail_field(err, BK_E_INVALID, "event_type",
                          "no bookable event type '%s'", req->event_type_slug);
        goto out;
    }
    if (e || (e = bk_answers_check(et.questions, req->answers, arena, &answers,
                                   err)))
        goto out;
    /* A priced event type is paid through Stripe when the request asks
     * for it (a public booking) and Stripe is configured; otherwise it is
     * refused rather than booked for free. */
    paid = req->charge && et.has_price && et.price_minor > 0 &&
           !req->credit_purchase_uid;
    if (paid && req->hold_min <= 0) {
        e = bk_fail(err, BK_E_UNAVAILABLE,
                    "'%s' has a price and payments are not configured "
                    "(STRIPE_SECRET_KEY); it cannot be booked here",
                    et.slug);
        bk_errbuf_code(err, "payments_not_configured");
        goto out;
    }
    e = claim_slot(tx, &et, req->start_utc, now_utc, 0, arena, err);
    if (e)
        goto out;
    e = bk_ledger_client_find_or_create(
        tx, req->attendee_email, req->attendee_name, req->attendee_timezone,
        req->source, now_utc, arena, &client, &client_created, err);
    if (!e)
        e = bk_ledger_client_booked(tx, &client, req->actor, now_utc, arena,
                                    err);
    if (e)
        goto out;

    memset(&b, 0, sizeof(b));
    bk_ledger_new_uid(uid);
    b.uid = uid;
    b.event_type_id = et.id;
    b.host_id = et.host_id;
    b.client_id = client.id;
    b.start_utc = req->start_utc;
    b.end_utc = req->start_utc + (int64_t)et.rules.duration_min * 60;
    b.attendee_name = req->attendee_name;
    b.attendee_email = req->attendee_email;
    b.attendee_timezone = req->attendee_timezone;
    b.status = paid ? BK_BOOKING_PENDING : BK_BOOKING_CONFIRMED;
    b.payment_status =
        paid ? BK_PAYMENT_UNPAID
             : (req->credit_purchase_uid ? BK_PAYMENT_PAID : BK_PAYMENT_NONE);
    if (paid)
        b.hold_expires_utc = now_utc + (int64_t)req->hold_min * 60;
    b.source = req->source;
    /* A video location is the meeting's URL; others say where to go. */
    if (et.location_kind == BK_LOCATION_VIDEO)
        b.meeting_url = et.location_value;
    else if (et.location_kind != BK_LOCATION_ZOOM) /* its URL comes later */
        b.location = et.location_value;
    b.notes = req->notes;
    b.answers = answers;
    b.created_utc = b.updated_utc = now_utc;
    e = bk_store_booking_insert(tx, &b, &b.id, err);
    if (e)
        goto out;
    bk_ledger_event_init(&ev, BK_LEV_BOOKING_CREATED, now_utc, req->actor);
    ev.source = bk_source_name(req->source);
    ev.booking_id = b.id;
    ev.client_id = client.id;
    ev.host_id = b.host_id;
    ev.event_type_id = et.id;
    ev.to_status = (int)b.status;
    ev.new_start_utc = b.start_utc;
    ev.new_end_utc = b.end_utc;
    ev.detail = bk_ledger_json(
        arena,
        json_pack("{s:s, s:s, s:s, s:s, s:s?}", "event_type", et.slug, "start",
                  bk_ledger_iso(arena, b.start_utc), "end",
                  bk_ledger_iso(arena, b.end_utc), "status",
                  bk_booking_status_name(b.status), "hold_expires",
                  paid ? bk_ledger_iso(arena, b.hold_expires_utc) : NULL));
    e = bk_ledger_emit(tx, &ev, err);
    if (e)
        goto out;
    if (req->credit_purchase_uid) {
        e = bk_ledger_credit_use(tx, &b, &et, req->credit_purchase_uid, now_utc,
                                 arena, err);
        if (e)
            goto out;
    }
    if (paid) {
        b.event_type_slug = et.slug;
        e = bk_ledger_payment_open(tx, &b, &et, req->job_max_attempts, now_utc,
                                   arena, req->checkout_job, err);
        if (e)
            goto out;
    }
    e = bk_store_booking_get(tx, b.id, arena, out, err);
    if (e)
        goto out;
    e = bk_store_commit(tx, err);
    tx = NULL;
out:
    bk_store_rollback(tx);
    return e;
}

/* Runs the transaction again when it loses a serialization race
 * (PostgreSQL); SQLite never does. */
enum bk_err bk_ledger_booking_create(struct bk_store *store,
                                     const struct bk_booking_request *req,
                                     int64_t now_utc, struct bk_arena *arena,
                                     struct bk_booking *out,
                                     struct bk_errbuf *err)
{
    enum bk_err e;

    BK_STORE_RETRY(e, create_once(store, req, now_utc, arena, out, err));
    return e;
}

/* Reads the booking `uid` for a change in a LOCKED transaction: takes its
 * host's lock (every slot claim of the host waits) and its row's lock (any
 * other writer waits), then reads it again, so what is read stays true
 * until commit. */
static enum bk_err load_locked(struct bk_tx *tx, const char *uid,
                               struct bk_arena *arena, struct bk_booking *b,
                               struct bk_errbuf *err)
{
    enum bk_err e = bk_store_booking_by_uid(tx, uid, arena, b, err);

    if (!e)
        e = bk_store_host_lock(tx, b->host_id, err);
    if (!e)
        e = bk_store_booking_lock(tx, b->id, err);
    if (!e)
        e = bk_store_booking_get(tx, b->id, arena, b, err);
    return e;
}

static enum bk_err cancel_once(struct bk_store *store, const char *uid,
                               const char *reason, const char *actor,
                               int64_t now_utc, struct bk_arena *arena,
                               struct bk_booking *out, struct bk_errbuf *err)
{
    struct bk_ledger_event ev;
    struct bk_tx *tx = NULL;
    struct bk_booking b;
    enum bk_booking_status to;
    enum bk_booking_status from;
    int64_t refund = 0;
    int credit = -1;
    enum bk_err e;

    e = bk_store_begin(store, BK_TX_LOCKED, &tx, err);
    if (e)
        goto out;
    e = load_locked(tx, uid, arena, &b, err);
    if (e)
        goto out;
    from = b.status;
    if (bk_booking_transition(from, BK_EV_CANCEL, &to) != BK_OK) {
        e = bk_fail(err, BK_E_ILLEGAL_TRANSITION,
                    "a %s booking cannot be cancelled",
                    bk_booking_status_name(from));
        goto out;
    }
    b.status = to;
    b.cancellation_reason = reason && *reason ? reason : NULL;
    b.updated_utc = now_utc;
    e = bk_store_booking_update(tx, &b, err);
    if (e)
        goto out;
    /* A paid booking gives back what its event type's refund policy
     * says (a refund job; the cancellation email tells it). */
    e = bk_ledger_payment_cancel_refund(tx, &b, now_utc, arena, &refund, err);
    if (e)
        goto out;
    /* A booking paid with a package credit gets it back within the
     * refund policy (ledger/packages.h). */
    e = bk_ledger_credit_cancelled(tx, &b, now_utc, arena, &credit, err);
    if (e)
        goto out;
    bk_ledger_event_init(&ev, BK_LEV_BOOKING_CANCELLED, now_utc, actor);
    ev.booking_id = b.id;
    ev.client_id = b.client_id;
    ev.host_id = b.host_id;
    ev.event_type_id = b.event_type_id;
    ev.from_status = (int)from;
    ev.to_status = (int)to;
    ev.note = b.cancellation_reason;
    ev.detail = bk_ledger_json(
        arena, json_pack("{s:s?, s:s, s:o?, s:o?}", "reason",
                         b.cancellation_reason, "by", actor, "refund",
                         b.payment_status == BK_PAYMENT_PAID && credit < 0
                             ? json_integer((json_int_t)refund)
                             : NULL,
                         "credit_returned",
                         credit >= 0 ? json_boolean(credit == 1) : NULL));
    e = bk_ledger_emit(tx, &ev, err);
    if (e)
        goto out;
    /* A booking cancelled while it awaited payment: its Checkout page is
     * closed at Stripe, so that no payment follows. */
    if (from == BK_BOOKING_PENDING && b.payment_status == BK_PAYMENT_UNPAID) {
        e = bk_ledger_payment_cancelled(tx, &b, arena, err);
        if (e)
            goto out;
    }
    e = bk_store_booking_get(tx, b.id, arena, out, err);
    if (e)
        goto out;
    e = bk_store_commit(tx, err);
    tx = NULL;
out:
    bk_store_rollback(tx);
    return e;
}

/* Runs the transaction again when it loses a serialization race
 * (PostgreSQL); SQLite never does. */
enum bk_err bk_ledger_booking_cancel(struct bk_store *store, const char *uid,
                                     const char *reason, const char *actor,
                                     int64_t now_utc, struct bk_arena *arena,
                                     struct bk_booking *out,
                                     struct bk_errbuf *err)
{
    enum bk_err e;

    BK_STORE_RETRY(
        e, cancel_once(store, uid, reason, actor, now_utc, arena, out, err));
    return e;
}

/* Marks the booking `uid` completed or a no-show (ev BK_EV_COMPLETE or
 * BK_EV_NO_SHOW), as Zoom's attendance does (ledger/sync.c): the same
 * transitions, the same activity, and a completed booking makes its
 * prospect client active. */
static enum bk_err mark_once(struct bk_store *store, const char *uid,
                             enum bk_booking_event which, const char *note,
                             const char *actor, int64_t now_utc,
                             struct bk_arena *arena, struct bk_booking *out,
                             struct bk_errbuf *err)
{
    bool done = which == BK_EV_COMPLETE;
    struct bk_ledger_event ev;
    struct bk_tx *tx = NULL;
    struct bk_booking b;
    struct bk_client c;
    enum bk_booking_status from, to;
    enum bk_client_status cs;
    enum bk_err e;

    e = bk_store_begin(store, BK_TX_LOCKED, &tx, err);
    if (e)
        goto out;
    e = load_locked(tx, uid, arena, &b, err);
    if (e)
        goto out;
    from = b.status;
    if (bk_booking_transition(from, which, &to) != BK_OK) {
        e = bk_fail(
            err, BK_E_ILLEGAL_TRANSITION, "a %s booking cannot be marked %s",
            bk_booking_status_name(from), done ? "completed" : "a no-show");
        goto out;
    }
    if (b.start_utc > now_utc) {
        e = bk_fail(err, BK_E_ILLEGAL_TRANSITION,
                    "the booking has not started yet; it can be marked %s "
                    "from its start on",
                    done ? "completed" : "a no-show");
        goto out;
    }
    b.status = to;
    b.updated_utc = now_utc;
    e = bk_store_booking_update(tx, &b, err);
    if (e)
        goto out;
    bk_ledger_event_init(
        &ev, done ? BK_LEV_BOOKING_COMPLETED : BK_LEV_BOOKING_NO_SHOW, now_utc,
        actor);
    ev.booking_id = b.id;
    ev.client_id = b.client_id;
    ev.host_id = b.host_id;
    ev.event_type_id = b.event_type_id;
    ev.from_status = (int)from;
    ev.to_status = (int)to;
    ev.note = note && *note ? note : NULL;
    ev.detail = bk_ledger_json(
        arena, json_pack("{s:s, s:s?}", "by", actor, "note", ev.note));
    e = bk_ledger_emit(tx, &ev, err);
    if (e)
        goto out;
    /* Completed: its prospect client becomes active (DESIGN.md). */
    e = bk_store_client_get(tx, b.client_id, arena, &c, err);
    if (e)
        goto out;
    cs = bk_client_status_after(c.status, to, b.payment_status);
    if (cs != c.status) {
        c.status = cs;
        c.updated_utc = now_utc;
        e = bk_store_client_update(tx, &c, err);
        if (e)
            goto out;
        bk_ledger_event_init(&ev, BK_LEV_CLIENT_ACTIVATED, now_utc, actor);
        ev.booking_id = b.id;
        ev.client_id = c.id;
        ev.host_id = b.host_id;
        ev.event_type_id = b.event_type_id;
        e = bk_ledger_emit(tx, &ev, err);
        if (e)
            goto out;
    }
    e = bk_store_booking_get(tx, b.id, arena, out, err);
    if (e)
        goto out;
    e = bk_store_commit(tx, err);
    tx = NULL;
out:
    bk_store_rollback(tx);
    return e;
}

enum bk_err bk_ledger_booking_mark(struct bk_store *store, const char *uid,
                                   enum bk_booking_event which,
                                   const char *note, const char *actor,
                                   int64_t now_utc, struct bk_arena *arena,
                                   struct bk_booking *out,
                                   struct bk_errbuf *err)
{
    enum bk_err e;

    if (which != BK_EV_COMPLETE && which != BK_EV_NO_SHOW)
        return bk_fail(err, BK_E_INVALID, "not a mark");
    BK_STORE_RETRY(
        e, mark_once(store, uid, which, note, actor, now_utc, arena, out, err));
    return e;
}

static enum bk_err reschedule_once(struct bk_store *store, const char *uid,
                                   int64_t new_start_utc, const char *actor,
                                   int64_t now_utc, struct bk_arena *arena,
                                   struct bk_booking *out,
                                   struct bk_errbuf *err)
{
    struct bk_ledger_event ev;
    struct bk_tx *tx = NULL;
    struct bk_booking b;
    struct bk_event_type et;
    enum bk_booking_status to;
    int64_t old_start, old_end;
    enum bk_err e;

    e = bk_store_begin(store, BK_TX_LOCKED, &tx, err);
    if (e)
        goto out;
    e = load_locked(tx, uid, arena, &b, err);
    if (e)
        goto out;
    if (bk_booking_transition(b.status, BK_EV_RESCHEDULE, &to) != BK_OK) {
        e = bk_fail(err, BK_E_ILLEGAL_TRANSITION,
                    "a %s booking cannot be rescheduled",
                    bk_booking_status_name(b.status));
        goto out;
    }
    if (new_start_utc == b.start_utc) {
        *out = b;
        goto out; /* nothing to change; the read is rolled back */
    }
    e = bk_store_event_type_get(tx, b.event_type_id, arena, &et, err);
    if (e)
        goto out;
    e = claim_slot(tx, &et, new_start_utc, now_utc, b.id, arena, err);
    if (e)
        goto out;
    old_start = b.start_utc;
    old_end = b.end_utc;
    b.start_utc = new_start_utc;
    b.end_utc = new_start_utc + (old_end - old_start);
    b.rescheduled_from_utc = old_start;
    b.updated_utc = now_utc;
    e = bk_store_booking_update(tx, &b, err);
    if (e)
        goto out;
    bk_ledger_event_init(&ev, BK_LEV_BOOKING_RESCHEDULED, now_utc, actor);
    ev.booking_id = b.id;
    ev.client_id = b.client_id;
    ev.host_id = b.host_id;
    ev.event_type_id = b.event_type_id;
    ev.old_start_utc = old_start;
    ev.old_end_utc = old_end;
    ev.new_start_utc = b.start_utc;
    ev.new_end_utc = b.end_utc;
    ev.detail = bk_ledger_json(
        arena,
        json_pack("{s:s, s:s, s:s}", "from", bk_ledger_iso(arena, old_start),
                  "to", bk_ledger_iso(arena, b.start_utc), "by", actor));
    e = bk_ledger_emit(tx, &ev, err);
    if (e)
        goto out;
    e = bk_store_booking_get(tx, b.id, arena, out, err);
    if (e)
        goto out;
    e = bk_store_commit(tx, err);
    tx = NULL;
out:
    bk_store_rollback(tx);
    return e;
}

/* Runs the transaction again when it loses a serialization race
 * (PostgreSQL); SQLite never does. */
enum bk_err bk_ledger_booking_reschedule(struct bk_store *store,
                                         const char *uid, int64_t new_start_utc,
                                         const char *actor, int64_t now_utc,
                                         struct bk_arena *arena,
                                         struct bk_booking *out,
                                         struct bk_errbuf *err)
{
    enum bk_err e;

    BK_STORE_RETRY(e, reschedule_once(store, uid, new_start_utc, actor, now_utc,
                                      arena, out, err));
    return e;
}

enum bk_err bk_ledger_claim_slot(struct bk_tx *tx,
                                 const struct bk_event_type *et,
                                 int64_t start_utc, int64_t now_utc,
                                 int64_t exclude_id, struct bk_arena *arena,
                                 struct bk_errbuf *err)
{
    return claim_slot(tx, et, start_utc, now_utc, exclude_id, arena, err);
}

enum bk_err bk_ledger_load_locked(struct bk_tx *tx, const char *uid,
                                  struct bk_arena *arena, struct bk_booking *b,
                                  struct bk_errbuf *err)
{
    return load_locked(tx, uid, arena, b, err);
}

/* Whether a BOOKING_CREATED activity (its detail) made a pending booking:
 * a hold awaiting payment, whose attendee gets the first invite when it is
 * confirmed (BOOKING_CONFIRMED), so the creation does not count in the
 * SEQUENCE. */
static bool made_pending(const char *json)
{
    json_t *o = json ? json_loads(json, 0, NULL) : NULL;
    const char *st = json_string_value(json_object_get(o, "status"));
    bool pending = (st && strcmp(st, "pending") == 0) ||
                   json_is_string(json_object_get(o, "hold_expires"));

    json_decref(o);
    return pending;
}

enum bk_err bk_ledger_invite_sequence(struct bk_tx *tx, int64_t booking_id,
                                      int64_t before_id, int *seq,
                                      struct bk_errbuf *err)
{
    struct bk_arena arena;
    struct bk_activity *acts;
    size_t n = 0;
    int count = 0;
    enum bk_err e;

    bk_arena_init(&arena);
    e = bk_store_activity_list(tx, NULL, booking_id, before_id, 500, &arena,
                               &acts, &n, err);
    for (size_t i = 0; !e && i < n; i++) {
        const char *k = acts[i].kind;
        if (strcmp(k, "BOOKING_CREATED") == 0
                ? !made_pending(acts[i].detail)
                : (strcmp(k, "BOOKING_CONFIRMED") == 0 ||
                   strcmp(k, "BOOKING_RESCHEDULED") == 0 ||
                   strcmp(k, "BOOKING_CANCELLED") == 0))
            count++;
    }
    bk_arena_release(&arena);
    *seq = before_id || count == 0 ? count : count - 1;
    return e;
}

enum bk_err bk_ledger_invite_sequences(struct bk_tx *tx, const int64_t *ids,
                                       size_t n, int *seqs,
                                       struct bk_errbuf *err)
{
    static const char *const kinds[] = {"BOOKING_CREATED", "BOOKING_CONFIRMED",
                                        "BOOKING_RESCHEDULED",
                                        "BOOKING_CANCELLED"};
    struct bk_arena arena;
    struct bk_activity *acts = NULL;
    size_t n_acts = 0, k = 0;
    enum bk_err e;

    bk_arena_init(&arena);
    e = bk_store_activity_of_bookings(tx, ids, n, kinds, 4, &arena, &acts,
                                      &n_acts, err);
    /* acts are ordered by booking; ids need not be. */
    for (size_t i = 0; !e && i < n; i++) {
        int count = 0;
        for (k = 0; k < n_acts; k++) {
            if (acts[k].booking_id != ids[i])
                continue;
            if (strcmp(acts[k].kind, "BOOKING_CREATED") != 0 ||
                !made_pending(acts[k].detail))
                count++;
        }
        seqs[i] = count == 0 ? 0 : count - 1;
    }
    bk_arena_release(&arena);
    return e;
}
