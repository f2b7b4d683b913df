/* connectors/calcom_sync.c — the Cal.com pull: the user's event types and
 * bookings (API v2, cal-api-version 2024-08-13 for bookings: offset pages
 * of take/skip), each booking turned into the delivery a webhook would
 * have brought ({"triggerEvent", "payload": the booking in the webhook's
 * field names}) and normalized by the webhook provider's normalizer, then
 * applied with bk_ledger_sync_apply in a transaction of its own:
 * - accepted, no rescheduledFromUid: BOOKING_CREATED; with it:
 *   BOOKING_RESCHEDULED (rescheduleUid = the old uid), which moves the
 *   booking recorded from the old uid;
 * - accepted and over (end before now), the attendee not marked absent:
 *   also MEETING_ENDED (completed), as Cal.com's MEETING_ENDED webhook
 *   would have done, but only while the ledger booking is confirmed (so
 *   that a no-show or a cancellation recorded since is never undone);
 * - cancelled or rejected with rescheduledToUid: the cancel half of a
 *   reschedule, "replaced" (never cancels: the new booking moves it);
 *   without: BOOKING_CANCELLED;
 * - pending (unconfirmed): skipped, as its BOOKING_REQUESTED webhook is.
 * The ledger rules make it idempotent: what webhooks recorded already is
 * skipped, and a second sync changes nothing; what the ledger holds
 * already is not even applied (in_ledger), so that repeated syncs do not
 * write a "skipped" activity row per booking each time. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "connectors/calcom_sync.h"
#include "base/log.h"
#include "base/str.h"
#include "base/time.h"
#include "core/ledger.h"
#include "core/tz.h"
#include "ledger/sync.h"
#include "base/banned.h"

#define META_SINCE    "calcom.sync.since"
#define SYNC_KIND     "calcom.sync"
#define PAGE_TAKE     100
#define MAX_ANSWER    (4 * 1024 * 1024)
#define MAX_ERRORS    100
#define DEFAULT_PAGES 50
#define MAX_UID       200

/* One sync at a time in a process (the API and the periodic job). */
static pthread_mutex_t one_sync = PTHREAD_MUTEX_INITIALIZER;

static void add_error(struct bk_sync_summary *out, struct bk_arena *arena,
                      const char *msg)
{
    struct bk_sync_error *n;

    if (out->n_errors >= MAX_ERRORS)
        return;
    n = bk_arena_alloc(arena, (out->n_errors + 1) * sizeof(*n));
    if (out->n_errors)
        memcpy(n, out->errors, out->n_errors * sizeof(*n));
    n[out->n_errors].connection = "calcom";
    n[out->n_errors].message = bk_arena_strdup(arena, msg);
    out->errors = n;
    out->n_errors++;
}

/* The ledger booking linked to a Cal.com uid (*found false when none). */
static enum bk_err linked(struct bk_tx *tx, const char *uid,
                          struct bk_arena *arena, struct bk_link *l,
                          struct bk_booking *b, bool *found,
                          struct bk_errbuf *err)
{
    enum bk_err e;

    *found = false;
    if (!uid || !*uid)
        return BK_OK;
    e = bk_store_link_find(tx, "calcom", "booking_uid", uid, arena, l, err);
    if (e == BK_E_NOT_FOUND || (!e && l->entity != BK_LINK_BOOKING))
        return BK_OK;
    if (!e)
        e = bk_store_booking_get(tx, l->entity_id, arena, b, err);
    if (e == BK_E_NOT_FOUND)
        return BK_OK;
    *found = !e;
    return e;
}

/* Whether the ledger holds what ev says already, so that applying it
 * would change nothing and only write a "skipped" activity row: a sync
 * reads every booking each time, and its repeats stay silent. Errs on the
 * side of applying (the ledger's rules then decide). Also: an "ended"
 * read from the API completes only a confirmed booking, so that a sync
 * never undoes a no-show or a cancellation recorded since. */
static enum bk_err in_ledger(struct bk_tx *tx, const struct bk_ext_event *ev,
                             struct bk_arena *arena, bool *yes,
                             struct bk_errbuf *err)
{
    const struct bk_ext_booking *x = &ev->booking;
    struct bk_link l, pl;
    struct bk_booking b, pb;
    bool found = false, pfound = false;
    enum bk_err e;

    *yes = false;
    switch (ev->kind) {
    case BK_EXT_BOOKING_CREATED:
        e = linked(tx, x->uid, arena, &l, &b, &found, err);
        *yes = found; /* a known uid: the rules do nothing */
        return e;
    case BK_EXT_BOOKING_RESCHEDULED:
        if ((e = linked(tx, x->uid, arena, &l, &b, &found, err)) || !found ||
            l.superseded)
            return e;
        if ((e = linked(tx, x->previous_uid, arena, &pl, &pb, &pfound, err)))
            return e;
        *yes = pfound && pb.id == b.id &&
               ((b.start_utc == x->start_utc && b.end_utc == x->end_utc) ||
                (b.status != BK_BOOKING_CONFIRMED &&
                 b.status != BK_BOOKING_PENDING));
        return BK_OK;
    case BK_EXT_BOOKING_CANCELLED:
        e = linked(tx, x->uid, arena, &l, &b, &found, err);
        *yes = found && b.status == BK_BOOKING_CANCELLED;
        return e;
    case BK_EXT_BOOKING_REPLACED:
        if ((e = linked(tx, x->next_uid, arena, &l, &b, &found, err)) || !found)
            return e;
        if ((e = linked(tx, x->uid, arena, &pl, &pb, &pfound, err)))
            return e;
        *yes = pfound && pb.id == b.id && pl.superseded;
        return BK_OK;
    case BK_EXT_MEETING_ENDED:
        e = linked(tx, x->uid, arena, &l, &b, &found, err);
        *yes = !found || b.status != BK_BOOKING_CONFIRMED;
        return e;
    default:
        return BK_OK;
    }
}

static enum bk_err apply_once(struct bk_store *store,
                              const struct bk_ext_event *ev,
                              struct bk_arena *arena,
                              struct bk_sync_outcome *outcome,
                              struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    bool already = false;
    enum bk_err e = bk_store_begin(store, BK_TX_WRITE, &tx, err);

    memset(outcome, 0, sizeof(*outcome));
    if (!e)
        e = in_ledger(tx, ev, arena, &already, err);
    if (!e && already) {
        outcome->action = "unchanged";
        bk_store_rollback(tx);
        return BK_OK;
    }
    if (!e)
        e = bk_ledger_sync_apply(tx, ev, bk_now_utc(), arena, outcome, err);
    if (!e) {
        e = bk_store_commit(tx, err);
        tx = NULL;
    }
    bk_store_rollback(tx);
    return e;
}

/* A string member of sane length, or NULL. */
static const char *str(const json_t *o, const char *key, size_t max)
{
    const json_t *v = json_object_get(o, key);
    return json_is_string(v) && json_string_length(v) <= max
               ? json_string_value(v)
               : NULL;
}

static void set_copy(json_t *to, const char *key, const json_t *from,
                     const char *from_key)
{
    json_t *v = json_object_get(from, from_key);
    if (v && !json_is_null(v))
        json_object_set(to, key, v);
}

/* An API booking as the webhook payload would carry it. */
static json_t *payload_of(const json_t *bk)
{
    json_t *p = json_object(), *atts = json_array(), *a;
    const json_t *et = json_object_get(bk, "eventType");
    const json_t *hosts = json_object_get(bk, "hosts");
    const json_t *meta = json_object_get(bk, "metadata");
    size_t i;

    set_copy(p, "uid", bk, "uid");
    set_copy(p, "bookingId", bk, "id");
    set_copy(p, "title", bk, "title");
    set_copy(p, "description", bk, "description");
    set_copy(p, "startTime", bk, "start");
    set_copy(p, "endTime", bk, "end");
    set_copy(p, "location", bk, "location");
    set_copy(p, "cancellationReason", bk, "cancellationReason");
    set_copy(p, "rescheduleUid", bk, "rescheduledFromUid");
    set_copy(p, "length", bk, "duration");
    if (json_is_object(et)) {
        set_copy(p, "eventTypeId", et, "id");
        set_copy(p, "type", et, "slug");
    } else {
        set_copy(p, "eventTypeId", bk, "eventTypeId");
    }
    json_array_foreach(json_object_get(bk, "attendees"), i, a)
    {
        if (json_is_object(a))
            json_array_append(atts, a);
        if (json_array_size(atts) >= 1)
            break;
    }
    json_object_set_new(p, "attendees", atts);
    if (json_is_array(hosts) && json_is_object(json_array_get(hosts, 0)))
        json_object_set(p, "organizer", json_array_get(hosts, 0));
    if (json_is_object(meta) && json_object_get(meta, "videoCallUrl"))
        json_object_set(p, "metadata", (json_t *)meta);
    else if (json_is_string(json_object_get(bk, "meetingUrl")))
        json_object_set_new(p, "metadata",
                            json_pack("{s:O}", "videoCallUrl",
                                      json_object_get(bk, "meetingUrl")));
    return p;
}

/* One synthetic delivery normalized (kind fixed up for the cancel half of
 * a reschedule) and applied; *created and *changed as the ledger says. */
static enum bk_err apply_doc(const struct bk_calcom_sync *s, json_t *doc,
                             const char *next_uid, struct bk_arena *arena,
                             bool *created, bool *changed,
                             struct bk_errbuf *err)
{
    struct bk_ext_event ev;
    struct bk_sync_outcome outcome;
    enum bk_err e = s->normalize(doc, arena, &ev, err);

    if (e)
        return e;
    if (next_uid) {
        ev.kind = BK_EXT_BOOKING_REPLACED;
        ev.booking.next_uid = bk_arena_strdup(arena, next_uid);
    }
    BK_STORE_RETRY(e, apply_once(s->store, &ev, arena, &outcome, err));
    if (e)
        return e;
    if (outcome.made)
        *created = true;
    else if (outcome.action && strcmp(outcome.action, "unchanged") != 0)
        *changed = true;
    return BK_OK;
}

static void sync_booking(const struct bk_calcom_sync *s, const json_t *bk,
                         int64_t now, struct bk_arena *arena,
                         struct bk_sync_summary *out)
{
    const char *uid = str(bk, "uid", MAX_UID);
    const char *status = str(bk, "status", 32);
    const char *from = str(bk, "rescheduledFromUid", MAX_UID);
    const char *to = str(bk, "rescheduledToUid", MAX_UID);
    const char *end = str(bk, "end", 64);
    const char *trigger = NULL, *next = NULL;
    int64_t end_utc = 0;
    json_t *doc;
    bool created = false, changed = false, ended = false;
    struct bk_errbuf err;
    enum bk_err e;

    out->total++;
    bk_errbuf_clear(&err);
    if (!status) {
        e = bk_fail_field(&err, BK_E_INVALID, "status", "is required");
    } else if (strcmp(status, "pending") == 0) {
        out->skipped++; /* unconfirmed: not a booking yet */
        return;
    } else if (strcmp(status, "accepted") == 0) {
        trigger = from && *from && (!uid || strcmp(from, uid) != 0)
                      ? "BOOKING_RESCHEDULED"
                      : "BOOKING_CREATED";
        /* Over, and the attendee not marked absent at Cal.com. */
        ended =
            end && bk_rfc3339_parse(end, &end_utc, NULL) == BK_OK &&
            end_utc < now &&
            !json_is_true(json_object_get(
                json_array_get(json_object_get(bk, "attendees"), 0), "absent"));
        e = BK_OK;
    } else if (strcmp(status, "cancelled") == 0 ||
               strcmp(status, "rejected") == 0) {
        trigger = "BOOKING_CANCELLED";
        if (to && *to && (!uid || strcmp(to, uid) != 0))
            next = to;
        e = BK_OK;
    } else {
        e = bk_fail_field(&err, BK_E_INVALID, "status",
                          "is not one Cal.com documents");
    }
    if (!e) {
        doc = json_pack("{s:s, s:o}", "triggerEvent", trigger, "payload",
                        payload_of(bk));
        if (!doc) {
            e = bk_fail(&err, BK_E_INTERNAL, "cannot build the event");
        } else {
            e = apply_doc(s, doc, next, arena, &created, &changed, &err);
            if (!e && ended) {
                json_object_set_new(doc, "triggerEvent",
                                    json_string("MEETING_ENDED"));
                e = apply_doc(s, doc, NULL, arena, &created, &changed, &err);
            }
            json_decref(doc);
        }
    }
    if (e) {
        add_error(out, arena,
                  bk_arena_printf(arena, "booking %s: %s%s%s",
                                  uid && bk_utf8_valid(uid, MAX_UID, false)
                                      ? uid
                                      : "(no valid uid)",
                                  err.field, err.field[0] ? ": " : "",
                                  err.msg));
        return;
    }
    if (created)
        out->created++;
    else if (changed)
        out->updated++;
    else
        out->skipped++;
}

static enum bk_err import_once(struct bk_store *store,
                               const struct bk_ext_event *ev,
                               struct bk_arena *arena, bool *made,
                               struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    struct bk_event_type et;
    enum bk_err e = bk_store_begin(store, BK_TX_WRITE, &tx, err);

    if (!e)
        e = bk_ledger_sync_event_type(tx, ev, bk_now_utc(), arena, &et, made,
                                      err);
    if (!e) {
        e = bk_store_commit(tx, err);
        tx = NULL;
    }
    bk_store_rollback(tx);
    return e;
}

/* The key's user, as the host of imported event types. */
static enum bk_err read_me(const struct bk_calcom_sync *s,
                           struct bk_arena *arena, struct bk_ext_person *host,
                           struct bk_errbuf *err)
{
    json_t *d = NULL;
    int status;
    const char *email, *name, *tz, *user;
    enum bk_err e = bk_calcom_call(s->cfg, "GET", "/me", NULL, NULL, 65536,
                                   arena, &status, &d, err);

    memset(host, 0, sizeof(*host));
    if (e)
        return e;
    email = str(d, "email", BK_MAX_EMAIL);
    name = str(d, "name", BK_MAX_NAME);
    tz = str(d, "timeZone", 64);
    user = str(d, "username", BK_MAX_SLUG);
    host->email = bk_email_valid(email) ? bk_arena_strdup(arena, email) : NULL;
    host->name = name && bk_utf8_valid(name, BK_MAX_NAME, false)
                     ? bk_arena_strdup(arena, name)
                     : NULL;
    host->timezone = tz && bk_tz_get(tz) ? bk_arena_strdup(arena, tz) : NULL;
    host->username = user && bk_utf8_valid(user, BK_MAX_SLUG, false)
                         ? bk_arena_strdup(arena, user)
                         : NULL;
    json_decref(d);
    if (!host->email)
        return bk_fail(err, BK_E_MALFORMED, "Cal.com's /me has no valid email");
    return BK_OK;
}

static enum bk_err sync_event_types(const struct bk_calcom_sync *s,
                                    const struct bk_ext_person *host,
                                    struct bk_arena *arena,
                                    struct bk_sync_summary *out,
                                    struct bk_errbuf *err)
{
    json_t *d = NULL, *it;
    int status;
    size_t i;
    enum bk_err e = bk_calcom_call(s->cfg, "GET", "/event-types",
                                   BK_CALCOM_VERSION_EVENT_TYPES, NULL,
                                   MAX_ANSWER, arena, &status, &d, err);

    if (e)
        return e;
    if (!json_is_array(d)) {
        json_decref(d);
        return bk_fail(err, BK_E_MALFORMED,
                       "Cal.com's event types are not a list");
    }
    json_array_foreach(d, i, it)
    {
        struct bk_ext_event ev;
        struct bk_errbuf why;
        json_int_t id = json_integer_value(json_object_get(it, "id"));
        json_int_t len =
            json_integer_value(json_object_get(it, "lengthInMinutes"));
        const char *slug = str(it, "slug", BK_MAX_SLUG);
        const char *title = str(it, "title", BK_MAX_TITLE);
        bool made = false;

        out->total++;
        if (!json_is_integer(json_object_get(it, "id")) || id <= 0) {
            add_error(out, arena, "an event type without a valid id");
            continue;
        }
        memset(&ev, 0, sizeof(ev));
        ev.kind = BK_EXT_BOOKING_CREATED;
        ev.provider = "calcom";
        ev.provider_display = "Cal.com";
        ev.source = BK_SOURCE_CALCOM;
        ev.booking.event_type_id =
            bk_arena_printf(arena, "%" JSON_INTEGER_FORMAT, id);
        ev.booking.uid = ev.booking.event_type_id;
        ev.booking.event_type_slug =
            slug && bk_utf8_valid(slug, BK_MAX_SLUG, false)
                ? bk_arena_strdup(arena, slug)
                : NULL;
        ev.booking.event_type_title =
            title && bk_utf8_valid(title, BK_MAX_TITLE, false)
                ? bk_arena_strdup(arena, title)
                : NULL;
        ev.booking.length_min = len > 0 && len <= 1440 ? (int)len : 30;
        ev.booking.organizer = *host;
        bk_errbuf_clear(&why);
        BK_STORE_RETRY(e, import_once(s->store, &ev, arena, &made, &why));
        if (e) {
            add_error(out, arena,
                      bk_arena_printf(arena,
                                      "event type %" JSON_INTEGER_FORMAT ": %s",
                                      id, why.msg));
            continue;
        }
        if (made)
            out->created++;
        else
            out->skipped++;
    }
    json_decref(d);
    return BK_OK;
}

static enum bk_err sync_locked(const struct bk_calcom_sync *s,
                               struct bk_arena *arena,
                               struct bk_sync_summary *out,
                               struct bk_errbuf *err)
{
    int64_t now = bk_now_utc(), since, from;
    const char *since_text = NULL;
    int64_t past = (s->past_days > 0 ? s->past_days : 30) * 86400;
    char iso[BK_RFC3339_MAX];
    struct bk_ext_person host;
    int max = s->max_pages > 0 ? s->max_pages : DEFAULT_PAGES;
    struct bk_errbuf why;
    enum bk_err e;

    if ((e = bk_store_meta_read(s->store, META_SINCE, arena, &since_text, err)))
        return e;
    if (!since_text || bk_parse_i64(since_text, 0, INT64_MAX, &since) != BK_OK)
        since = 0;
    from = (since && since < now ? since : now) - past;
    bk_rfc3339_format_utc(from, iso);
    bk_errbuf_clear(&why);
    e = read_me(s, arena, &host, &why);
    if (!e)
        e = sync_event_types(s, &host, arena, out, &why);
    for (int page = 0; !e && page < max; page++) {
        json_t *d = NULL, *bk;
        int status;
        size_t i, n;
        bool more;

        e = bk_calcom_call(
            s->cfg, "GET",
            bk_arena_printf(arena,
                            "/bookings?afterStart=%s&sortStart=asc&take=%d"
                            "&skip=%d",
                            iso, PAGE_TAKE, page * PAGE_TAKE),
            BK_CALCOM_VERSION_BOOKINGS, NULL, MAX_ANSWER, arena, &status, &d,
            &why);
        if (e)
            break;
        if (!json_is_array(d)) {
            json_decref(d);
            e = bk_fail(&why, BK_E_MALFORMED,
                        "Cal.com's bookings are not a list");
            break;
        }
        n = json_array_size(d);
        json_array_foreach(d, i, bk)
        {
            if (json_is_object(bk))
                sync_booking(s, bk, now, arena, out);
            else {
                out->total++;
                add_error(out, arena, "a booking that is not an object");
            }
        }
        json_decref(d);
        /* The envelope's pagination is not kept by bk_calcom_call: a full
         * page means there may be more (an empty next page ends it). */
        more = n >= PAGE_TAKE;
        if (!more)
            break;
        if (page + 1 == max)
            add_error(out, arena,
                      bk_arena_printf(arena,
                                      "more than %d pages of bookings; "
                                      "sync again for the rest",
                                      max));
    }
    if (e) {
        /* Cal.com could not be read (to the end): what was applied stays;
         * the window is not moved, so the next sync reads it again. */
        add_error(out, arena, why.msg);
        bk_log_warn("calcom: sync stopped: %s", why.msg);
        return BK_OK;
    }
    e = bk_store_meta_write(s->store, META_SINCE,
                            bk_arena_printf(arena, "%" PRId64, now), err);
    if (!e)
        bk_log_info("calcom: sync: %" PRId64 " read, %" PRId64
                    " created, %" PRId64 " updated, %" PRId64
                    " skipped, %zu errors",
                    out->total, out->created, out->updated, out->skipped,
                    out->n_errors);
    return e;
}

enum bk_err bk_calcom_sync_run(void *ctx, struct bk_arena *arena,
                               struct bk_sync_summary *out,
                               struct bk_errbuf *err)
{
    const struct bk_calcom_sync *s = ctx;
    enum bk_err e;

    memset(out, 0, sizeof(*out));
    if (!s || !s->cfg || !s->cfg->api_key || !s->normalize)
        return bk_fail(err, BK_E_UNAVAILABLE,
                       "Cal.com is not connected: CALCOM_API_KEY is not set");
    pthread_mutex_lock(&one_sync);
    e = sync_locked(s, arena, out, err);
    pthread_mutex_unlock(&one_sync);
    return e;
}

/* ---- the periodic job --------------------------------------------------- */

static enum bk_err sync_schedule(void *ctx, struct bk_tx *tx, int64_t now_ms,
                                 struct bk_errbuf *err)
{
    const struct bk_calcom_sync *s = ctx;

    if (!s->cfg || !s->cfg->api_key || s->interval_s <= 0)
        return BK_OK;
    return bk_jobs_enqueue_period(tx, SYNC_KIND, s->interval_s * 1000, 3,
                                  now_ms, true, -1, err);
}

static enum bk_err sync_job(void *ctx, struct bk_store *store,
                            const struct bk_job *job, struct bk_arena *arena,
                            struct bk_errbuf *err)
{
    const struct bk_calcom_sync *s = ctx;
    struct bk_sync_summary sum;
    enum bk_err e;

    if (s->cfg && s->cfg->api_key &&
        (e = bk_calcom_sync_run(ctx, arena, &sum, err)))
        return e;
    return bk_jobs_finish_period(
        store, job, s->cfg && s->cfg->api_key && s->interval_s > 0,
        s->interval_s * 1000, 3, bk_jobs_period_of(job, SYNC_KIND), err);
}

void bk_calcom_sync_kind(struct bk_calcom_sync *s, struct bk_job_kind *out)
{
    memset(out, 0, sizeof(*out));
    out->name = SYNC_KIND;
    out->run = sync_job;
    out->schedule = sync_schedule;
    out->ctx = s;
}
