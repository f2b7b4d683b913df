/* ledger/sync.c — a provider's booking events into the ledger. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "ledger/events.h"
#include "ledger/internal.h"
#include "ledger/ledger.h"
#include "ledger/sync.h"
#include "ledger/packages.h"
#include "ledger/payments.h"
#include "base/str.h"
#include "base/time.h"
#include "core/booking.h"
#include "base/banned.h"

#define KIND_UID      "booking_uid"
#define KIND_ATTENDED "attended"
#define KIND_ID       "booking_id"
#define KIND_MARK     "no_show_mark"

/* The ledger booking a provider uid points at, and the link (l may be
 * NULL). */
/* Records a change of booking b made by ev's provider (ledger/events.h):
 * history, activity and the subscribers' jobs. Statuses -1 and times 0
 * when unchanged. */
static enum bk_err
emit_booking(struct bk_tx *tx, enum bk_ledger_event_kind kind,
             const struct bk_ext_event *ev, const struct bk_booking *b,
             int from, int to, int64_t old_start, int64_t old_end,
             int64_t new_start, int64_t new_end, const char *note,
             const char *detail, int64_t now_utc, struct bk_errbuf *err)
{
    struct bk_ledger_event le;

    bk_ledger_event_init(&le, kind, now_utc, bk_source_name(ev->source));
    le.booking_id = b->id;
    le.client_id = b->client_id;
    le.host_id = b->host_id;
    le.event_type_id = b->event_type_id;
    le.from_status = from;
    le.to_status = to;
    le.old_start_utc = old_start;
    le.old_end_utc = old_end;
    le.new_start_utc = new_start;
    le.new_end_utc = new_end;
    le.note = note;
    le.detail = detail;
    return bk_ledger_emit(tx, &le, err);
}

/* Records a change that is not a booking's (an import, a skipped event, an
 * overlap, a client's status). */
static enum bk_err emit_other(struct bk_tx *tx, enum bk_ledger_event_kind kind,
                              const struct bk_ext_event *ev, int64_t booking_id,
                              int64_t client_id, int64_t host_id,
                              int64_t event_type_id, const char *detail,
                              int64_t now_utc, struct bk_errbuf *err)
{
    struct bk_ledger_event le;

    bk_ledger_event_init(&le, kind, now_utc, bk_source_name(ev->source));
    le.booking_id = booking_id;
    le.client_id = client_id;
    le.host_id = host_id;
    le.event_type_id = event_type_id;
    le.detail = detail;
    return bk_ledger_emit(tx, &le, err);
}

static enum bk_err find(struct bk_tx *tx, const struct bk_ext_event *ev,
                        const char *uid, struct bk_arena *arena,
                        struct bk_booking *b, struct bk_link *lp,
                        struct bk_errbuf *err)
{
    struct bk_link tmp, *l = lp ? lp : &tmp;
    enum bk_err e;

    if (!uid)
        return BK_E_NOT_FOUND;
    e = bk_store_link_find(tx, ev->provider, KIND_UID, uid, arena, l, err);
    if (e)
        return e;
    if (l->entity != BK_LINK_BOOKING)
        return bk_fail(err, BK_E_INTERNAL, "link %s is not a booking's", uid);
    return bk_store_booking_get(tx, l->entity_id, arena, b, err);
}

/* Links external_id to the booking; an existing link to the same booking
 * gets its superseded flag updated, one to another booking is left alone. */
static enum bk_err link(struct bk_tx *tx, const struct bk_ext_event *ev,
                        const char *kind, const char *external_id,
                        int64_t booking_id, bool superseded, int64_t now_utc,
                        struct bk_arena *arena, struct bk_errbuf *err)
{
    struct bk_link l;
    bool existed = false;
    enum bk_err e;

    if (!external_id || !*external_id)
        return BK_OK;
    memset(&l, 0, sizeof(l));
    l.entity = BK_LINK_BOOKING;
    l.entity_id = booking_id;
    l.provider = ev->provider;
    l.kind = kind;
    l.external_id = external_id;
    l.superseded = superseded;
    l.created_utc = now_utc;
    e = bk_store_link_put(tx, &l, arena, &l, &existed, err);
    if (e || !existed)
        return e;
    if (l.entity != BK_LINK_BOOKING || l.entity_id != booking_id ||
        l.superseded == superseded)
        return BK_OK;
    l.superseded = superseded;
    return bk_store_link_update(tx, &l, err);
}

/* A slug from a provider's text: [a-z0-9-], at most max bytes. */
static const char *slugify(struct bk_arena *arena, const char *prefix,
                           const char *s, size_t max)
{
    size_t n = strlen(prefix);
    char *out = bk_arena_alloc(arena, max + 1);
    bool dash = true;

    memcpy(out, prefix, n < max ? n : max);
    n = n < max ? n : max;
    for (; s && *s && n < max; s++) {
        char c = *s;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            out[n++] = c;
            dash = false;
        } else if (!dash) {
            out[n++] = '-';
            dash = true;
        }
    }
    while (n && out[n - 1] == '-')
        n--;
    out[n] = '\0';
    return out;
}

/* The host of an imported booking: the organizer by email, else a host made
 * from the organizer, else the first host, else a placeholder host. */
static enum bk_err resolve_host(struct bk_tx *tx, const struct bk_ext_event *ev,
                                int64_t now_utc, struct bk_arena *arena,
                                int64_t *host_id, struct bk_errbuf *err)
{
    const struct bk_ext_person *o = &ev->booking.organizer;
    struct bk_host h, *rows = NULL;
    struct bk_page page = {0, 1};
    size_t n = 0;
    enum bk_err e;

    if (o->email) {
        e = bk_store_host_by_email(tx, o->email, arena, &h, err);
        if (e != BK_E_NOT_FOUND) {
            *host_id = h.id;
            return e;
        }
    } else {
        e = bk_store_host_list(tx, &page, arena, &rows, &n, err);
        if (e)
            return e;
        if (n) {
            *host_id = rows[0].id;
            return BK_OK;
        }
    }
    memset(&h, 0, sizeof(h));
    h.slug = slugify(arena, bk_arena_printf(arena, "%s-", ev->provider),
                     o->username ? o->username
                     : o->email  ? o->email
                                 : "organizer",
                     BK_MAX_SLUG);
    h.name = o->name ? o->name : o->email ? o->email : "Imported host";
    h.email = o->email ? o->email : "organizer@invalid.example";
    h.timezone = o->timezone ? o->timezone : "UTC";
    h.created_utc = h.updated_utc = now_utc;
    e = bk_store_host_by_slug(tx, h.slug, arena, &h, err);
    if (e == BK_OK) {
        *host_id = h.id;
        return BK_OK;
    }
    if (e != BK_E_NOT_FOUND)
        return e;
    e = bk_store_host_insert(tx, &h, host_id, err);
    if (e)
        return e;
    return emit_other(
        tx, BK_LEV_HOST_IMPORTED, ev, 0, 0, *host_id, 0,
        bk_ledger_json(
            arena, json_pack("{s:s, s:s}", "host", h.slug, "email", h.email)),
        now_utc, err);
}

/* The event type of an imported booking: the one mapped to the provider's
 * event type id (its external_ids), else one imported earlier under the
 * same slug, else a new inactive one marked imported (it is not offered on
 * bookingd's page). Imported rows are named after the provider's table
 * row: slug "<provider>-<its slug>", title "Imported from <display
 * name>" when the payload has none. */
static enum bk_err resolve_event_type(struct bk_tx *tx,
                                      const struct bk_ext_event *ev,
                                      int64_t now_utc, struct bk_arena *arena,
                                      struct bk_event_type *et,
                                      struct bk_errbuf *err)
{
    const char *ext_id = ev->booking.event_type_id;
    struct bk_event_type nt;
    const char *base;
    int64_t dur;
    enum bk_err e;

    if (ext_id) {
        e = bk_store_event_type_by_external(tx, ev->provider, ext_id, arena, et,
                                            err);
        if (e != BK_E_NOT_FOUND)
            return e;
    }
    base = slugify(arena, bk_arena_printf(arena, "%s-", ev->provider),
                   ev->booking.event_type_slug ? ev->booking.event_type_slug
                                               : "imported",
                   BK_MAX_SLUG - 12);
    for (int i = 0; i < 50; i++) {
        const char *slug =
            i ? bk_arena_printf(arena, "%s-%d", base, i + 1) : base;
        const char *had;
        e = bk_store_event_type_by_slug(tx, slug, arena, et, err);
        had = e == BK_OK ? bk_event_type_external_id(et, ev->provider) : NULL;
        if (e == BK_OK && et->imported &&
            (!ext_id || (had && strcmp(had, ext_id) == 0)))
            return BK_OK;
        if (e == BK_OK)
            continue; /* taken by another event type */
        if (e != BK_E_NOT_FOUND)
            return e;
        memset(&nt, 0, sizeof(nt));
        nt.slug = slug;
        nt.title = ev->booking.event_type_title ? ev->booking.event_type_title
                   : ev->booking.title          ? ev->booking.title
                   : ev->booking.event_type_slug
                       ? ev->booking.event_type_slug
                       : bk_arena_printf(arena, "Imported from %s",
                                         ev->provider_display);
        e = resolve_host(tx, ev, now_utc, arena, &nt.host_id, err);
        if (e)
            return e;
        dur = ev->booking.length_min ? ev->booking.length_min
              : ev->booking.end_utc
                  ? (ev->booking.end_utc - ev->booking.start_utc) / 60
                  : 30;
        nt.rules.duration_min = (int)(dur < 1 ? 1 : dur > 1440 ? 1440 : dur);
        nt.rules.horizon_days = 60;
        nt.active = false;
        nt.imported = true;
        if (ext_id && (e = bk_event_type_external_set(&nt, ev->provider,
                                                      ext_id)) != BK_OK)
            return e;
        nt.created_utc = nt.updated_utc = now_utc;
        e = bk_store_event_type_insert(tx, &nt, &nt.id, err);
        if (e)
            return e;
        e = emit_other(
            tx, BK_LEV_EVENT_TYPE_IMPORTED, ev, 0, 0, nt.host_id, nt.id,
            bk_ledger_json(arena, json_pack("{s:s, s:s, s:s?}", "event_type",
                                            nt.slug, "provider", ev->provider,
                                            "provider_event_type_id", ext_id)),
            now_utc, err);
        if (e)
            return e;
        return bk_store_event_type_get(tx, nt.id, arena, et, err);
    }
    return bk_fail(err, BK_E_CONFLICT,
                   "no free slug for an imported event "
                   "type based on '%s'",
                   base);
}

/* Writes a BOOKING_OVERLAP activity row for each active booking of the same
 * host that b overlaps. The provider's booking is kept either way. */
static enum bk_err note_overlaps(struct bk_tx *tx, const struct bk_booking *b,
                                 const struct bk_ext_event *ev, int64_t now_utc,
                                 struct bk_arena *arena, struct bk_errbuf *err)
{
    struct bk_booking_span *spans = NULL;
    size_t n = 0;
    enum bk_err e;

    if (!bk_booking_status_blocks(b->status))
        return BK_OK;
    e = bk_store_booking_busy(tx, b->host_id, b->start_utc, b->end_utc, now_utc,
                              b->id, arena, &spans, &n, err);
    for (size_t i = 0; !e && i < n; i++) {
        struct bk_booking other;
        if (spans[i].start_utc >= b->end_utc ||
            spans[i].end_utc <= b->start_utc)
            continue; /* only its buffers touch */
        e = bk_store_booking_get(tx, spans[i].booking_id, arena, &other, err);
        if (!e)
            e = emit_other(
                tx, BK_LEV_BOOKING_OVERLAP, ev, b->id, b->client_id, b->host_id,
                b->event_type_id,
                bk_ledger_json(arena,
                               json_pack("{s:s, s:s, s:s}", "booking", b->uid,
                                         "overlaps", other.uid, "start",
                                         bk_ledger_iso(arena, b->start_utc))),
                now_utc, err);
    }
    return e;
}

/* Records the provider's booking in the ledger with the given status. */
static enum bk_err create(struct bk_tx *tx, const struct bk_ext_event *ev,
                          enum bk_booking_status status, int64_t now_utc,
                          struct bk_arena *arena, struct bk_booking *out,
                          struct bk_errbuf *err)
{
    struct bk_event_type et;
    struct bk_client client;
    struct bk_booking b;
    char uid[BK_UID_LEN + 1];
    enum bk_err e;

    if (!ev->booking.start_utc || !ev->booking.attendee.email)
        return bk_fail(err, BK_E_RETRY,
                       "%s booking %s is not known yet and this event lacks "
                       "its time or attendee; waiting for its creation",
                       ev->provider, ev->booking.uid);
    /* The host's lock orders this insert with bookingd's own slot claims
     * (ledger/booking.c), which then see it. */
    if ((e = resolve_event_type(tx, ev, now_utc, arena, &et, err)) ||
        (e = bk_store_host_lock(tx, et.host_id, err)) ||
        (e = bk_ledger_client_find_or_create(
             tx, ev->booking.attendee.email, ev->booking.attendee.name,
             ev->booking.attendee.timezone, ev->source, now_utc, arena, &client,
             NULL, err)) ||
        (e = bk_ledger_client_booked(tx, &client, bk_source_name(ev->source),
                                     now_utc, arena, err)))
        return e;
    memset(&b, 0, sizeof(b));
    bk_ledger_new_uid(uid);
    b.uid = uid;
    b.event_type_id = et.id;
    b.host_id = et.host_id;
    b.client_id = client.id;
    b.start_utc = ev->booking.start_utc;
    b.end_utc = ev->booking.end_utc;
    b.attendee_name = ev->booking.attendee.name;
    b.attendee_email = ev->booking.attendee.email;
    b.attendee_timezone = ev->booking.attendee.timezone;
    b.status = status;
    b.payment_status = BK_PAYMENT_NONE;
    b.source = ev->source;
    b.location = ev->booking.location;
    b.meeting_url = ev->booking.meeting_url;
    b.notes = ev->booking.notes;
    if (status == BK_BOOKING_CANCELLED)
        b.cancellation_reason = ev->booking.cancellation_reason;
    b.created_utc = b.updated_utc = now_utc;
    if ((e = bk_store_booking_insert(tx, &b, &b.id, err)) ||
        (e = link(tx, ev, KIND_UID, ev->booking.uid, b.id, false, now_utc,
                  arena, err)) ||
        (e = link(tx, ev, KIND_ID, ev->booking.booking_id, b.id, false, now_utc,
                  arena, err)) ||
        (e = emit_booking(
             tx, BK_LEV_BOOKING_CREATED, ev, &b, -1, BK_BOOKING_CONFIRMED, 0, 0,
             b.start_utc, b.end_utc, NULL,
             bk_ledger_json(arena, json_pack("{s:s, s:s, s:s, s:s}",
                                             "event_type", et.slug, "start",
                                             bk_ledger_iso(arena, b.start_utc),
                                             "provider", ev->provider,
                                             "external_uid", ev->booking.uid)),
             now_utc, err)))
        return e;
    if (status != BK_BOOKING_CONFIRMED) {
        /* Recorded late: its history shows it was confirmed first. */
        e = emit_booking(tx,
                         status == BK_BOOKING_CANCELLED
                             ? BK_LEV_BOOKING_CANCELLED
                             : BK_LEV_BOOKING_COMPLETED,
                         ev, &b, BK_BOOKING_CONFIRMED, (int)status, 0, 0, 0, 0,
                         b.cancellation_reason, NULL, now_utc, err);
        if (e)
            return e;
    }
    if ((e = note_overlaps(tx, &b, ev, now_utc, arena, err)))
        return e;
    return bk_store_booking_get(tx, b.id, arena, out, err);
}

static enum bk_err unchanged(struct bk_tx *tx, const struct bk_ext_event *ev,
                             const struct bk_booking *b, const char *why,
                             int64_t now_utc, struct bk_arena *arena,
                             struct bk_sync_outcome *out, struct bk_errbuf *err)
{
    out->action = "unchanged";
    out->booking_uid = b ? b->uid : NULL;
    out->note = why;
    return emit_other(
        tx, BK_LEV_SYNC_EVENT_SKIPPED, ev, b ? b->id : 0, b ? b->client_id : 0,
        b ? b->host_id : 0, b ? b->event_type_id : 0,
        bk_ledger_json(arena,
                       json_pack("{s:s, s:s, s:s}", "event",
                                 bk_ext_kind_name(ev->kind), "external_uid",
                                 ev->booking.uid, "reason", why)),
        now_utc, err);
}

static enum bk_err apply_created(struct bk_tx *tx,
                                 const struct bk_ext_event *ev, int64_t now_utc,
                                 struct bk_arena *arena,
                                 struct bk_sync_outcome *out,
                                 struct bk_errbuf *err)
{
    struct bk_booking b;
    enum bk_err e = find(tx, ev, ev->booking.uid, arena, &b, NULL, err);

    if (e == BK_OK) {
        e = link(tx, ev, KIND_ID, ev->booking.booking_id, b.id, false, now_utc,
                 arena, err);
        if (e)
            return e;
        return unchanged(tx, ev, &b,
                         b.status == BK_BOOKING_CANCELLED
                             ? "already known and cancelled; it stays "
                               "cancelled"
                             : "already known",
                         now_utc, arena, out, err);
    }
    if (e != BK_E_NOT_FOUND)
        return e;
    e = create(tx, ev, BK_BOOKING_CONFIRMED, now_utc, arena, &b, err);
    out->action = "created";
    out->booking_uid = e ? NULL : b.uid;
    out->made = !e;
    return e;
}

/* Moves b to the event's times (its reschedule at the provider). */
static enum bk_err move(struct bk_tx *tx, const struct bk_ext_event *ev,
                        struct bk_booking *b, int64_t now_utc,
                        struct bk_arena *arena, struct bk_sync_outcome *out,
                        struct bk_errbuf *err)
{
    const char *actor = bk_source_name(ev->source);
    enum bk_booking_status to;
    int64_t old_start = b->start_utc, old_end = b->end_utc;
    enum bk_err e;

    if (bk_booking_transition(b->status, BK_EV_RESCHEDULE, &to) != BK_OK)
        return unchanged(tx, ev, b,
                         b->status == BK_BOOKING_CANCELLED
                             ? "the booking is cancelled; it stays cancelled"
                             : "the booking is over; it is not moved",
                         now_utc, arena, out, err);
    out->action = "rescheduled";
    out->booking_uid = b->uid;
    if (old_start == ev->booking.start_utc && old_end == ev->booking.end_utc)
        return BK_OK;
    b->start_utc = ev->booking.start_utc;
    b->end_utc = ev->booking.end_utc;
    b->rescheduled_from_utc = old_start;
    if (ev->booking.meeting_url)
        b->meeting_url = ev->booking.meeting_url;
    if (ev->booking.location)
        b->location = ev->booking.location;
    b->updated_utc = now_utc;
    if ((e = bk_store_host_lock(tx, b->host_id, err)) ||
        (e = bk_store_booking_update(tx, b, err)) ||
        (e = emit_booking(
             tx, BK_LEV_BOOKING_RESCHEDULED, ev, b, -1, -1, old_start, old_end,
             b->start_utc, b->end_utc, NULL,
             bk_ledger_json(arena,
                            json_pack("{s:s, s:s, s:s, s:s}", "from",
                                      bk_ledger_iso(arena, old_start), "to",
                                      bk_ledger_iso(arena, b->start_utc), "by",
                                      actor, "external_uid", ev->booking.uid)),
             now_utc, err)))
        return e;
    return note_overlaps(tx, b, ev, now_utc, arena, err);
}

/* old_uid is an earlier uid of live's provider booking. If another ledger
 * booking was recorded from it (its events arrived out of order, before
 * the reschedule that connects the two), that booking is a stale copy of
 * the same provider booking: it is cancelled as superseded. Returns
 * whether it was. */
static enum bk_err supersede(struct bk_tx *tx, const struct bk_ext_event *ev,
                             const struct bk_booking *live, const char *old_uid,
                             int64_t now_utc, struct bk_arena *arena,
                             bool *cancelled, struct bk_errbuf *err)
{
    struct bk_booking y;
    struct bk_link l;
    enum bk_booking_status to;
    enum bk_err e;

    *cancelled = false;
    if (!old_uid || !*old_uid)
        return BK_OK;
    e = find(tx, ev, old_uid, arena, &y, &l, err);
    if (e == BK_E_NOT_FOUND || (e == BK_OK && y.id == live->id))
        return link(tx, ev, KIND_UID, old_uid, live->id, true, now_utc, arena,
                    err);
    if (e)
        return e;
    if (!l.superseded) {
        l.superseded = true;
        if ((e = bk_store_link_update(tx, &l, err)))
            return e;
    }
    if (bk_booking_transition(y.status, BK_EV_CANCEL, &to) != BK_OK)
        return BK_OK; /* over already: history stays as it was */
    y.status = to;
    y.cancellation_reason =
        bk_arena_printf(arena,
                        "replaced by a reschedule at %s (now booking "
                        "%s)",
                        ev->provider, live->uid);
    y.updated_utc = now_utc;
    if ((e = bk_store_booking_update(tx, &y, err)) ||
        (e = emit_booking(
             tx, BK_LEV_BOOKING_SUPERSEDED, ev, &y, BK_BOOKING_CONFIRMED,
             (int)to, 0, 0, 0, 0, y.cancellation_reason,
             bk_ledger_json(arena, json_pack("{s:s, s:s, s:s}", "booking",
                                             y.uid, "replaced_by", live->uid,
                                             "external_uid", old_uid)),
             now_utc, err)))
        return e;
    *cancelled = true;
    return BK_OK;
}

static enum bk_err apply_rescheduled(struct bk_tx *tx,
                                     const struct bk_ext_event *ev,
                                     int64_t now_utc, struct bk_arena *arena,
                                     struct bk_sync_outcome *out,
                                     struct bk_errbuf *err)
{
    struct bk_booking b;
    struct bk_link l;
    bool same_uid = !ev->booking.previous_uid ||
                    strcmp(ev->booking.previous_uid, ev->booking.uid) == 0;
    bool cancelled = false;
    enum bk_err e = find(tx, ev, ev->booking.uid, arena, &b, &l, err);

    if (e == BK_OK) {
        /* A reschedule that kept its uid moves the booking. */
        if (same_uid && !l.superseded)
            return move(tx, ev, &b, now_utc, arena, out, err);
        /* Else this reschedule, or a later state, is in the ledger already;
         * what it adds is that the old uid is the same booking. */
        e = supersede(tx, ev, &b, ev->booking.previous_uid, now_utc, arena,
                      &cancelled, err);
        if (e)
            return e;
        if (cancelled) {
            out->action = "superseded";
            out->booking_uid = b.uid;
            return BK_OK;
        }
        return unchanged(tx, ev, &b, "the new uid is already known", now_utc,
                         arena, out, err);
    }
    if (e != BK_E_NOT_FOUND)
        return e;
    e = same_uid ? BK_E_NOT_FOUND
                 : find(tx, ev, ev->booking.previous_uid, arena, &b, NULL, err);
    if (e == BK_E_NOT_FOUND) {
        /* The original never reached us: record the booking as it is now. */
        e = create(tx, ev, BK_BOOKING_CONFIRMED, now_utc, arena, &b, err);
        if (!e && !same_uid)
            e = link(tx, ev, KIND_UID, ev->booking.previous_uid, b.id, true,
                     now_utc, arena, err);
        out->action = "created";
        out->booking_uid = e ? NULL : b.uid;
        out->made = !e;
        return e;
    }
    if (e)
        return e;
    /* The new uid belongs to this booking from now on. */
    if ((e = link(tx, ev, KIND_UID, ev->booking.uid, b.id, false, now_utc,
                  arena, err)) ||
        (e = link(tx, ev, KIND_UID, ev->booking.previous_uid, b.id, true,
                  now_utc, arena, err)) ||
        (e = link(tx, ev, KIND_ID, ev->booking.booking_id, b.id, false, now_utc,
                  arena, err)))
        return e;
    return move(tx, ev, &b, now_utc, arena, out, err);
}

/* Cancel (ev CANCELLED) or complete (ev ENDED) a known booking, or record
 * an unknown one in that final state. */
static enum bk_err apply_final(struct bk_tx *tx, const struct bk_ext_event *ev,
                               int64_t now_utc, struct bk_arena *arena,
                               struct bk_sync_outcome *out,
                               struct bk_errbuf *err)
{
    const char *actor = bk_source_name(ev->source);
    bool cancel = ev->kind == BK_EXT_BOOKING_CANCELLED;
    enum bk_booking_status want =
        cancel ? BK_BOOKING_CANCELLED : BK_BOOKING_COMPLETED;
    enum bk_booking_status from, to;
    struct bk_booking b;
    struct bk_client c;
    int64_t refund = 0;
    int credit = -1;
    enum bk_err e = find(tx, ev, ev->booking.uid, arena, &b, NULL, err);

    if (e == BK_E_NOT_FOUND && !cancel && !ev->booking.attendee.email) {
        /* A meeting that ended and names no attendee (Zoom's meeting.ended
         * for a meeting bookingd did not make): nothing to create from. */
        return unchanged(tx, ev, NULL, "no booking has this meeting", now_utc,
                         arena, out, err);
    }
    if (e == BK_E_NOT_FOUND) {
        e = create(tx, ev, want, now_utc, arena, &b, err);
        if (e)
            return e;
        out->action = cancel ? "cancelled" : "completed";
        out->booking_uid = b.uid;
        out->made = true;
        goto client;
    }
    if (e)
        return e;
    if (b.status == want)
        return unchanged(tx, ev, &b,
                         cancel ? "already cancelled" : "already completed",
                         now_utc, arena, out, err);
    from = b.status;
    if (bk_booking_transition(from, cancel ? BK_EV_CANCEL : BK_EV_COMPLETE,
                              &to) != BK_OK)
        return unchanged(tx, ev, &b,
                         bk_arena_printf(arena, "a %s booking cannot become %s",
                                         bk_booking_status_name(from),
                                         bk_booking_status_name(want)),
                         now_utc, arena, out, err);
    b.status = to;
    if (cancel)
        b.cancellation_reason = ev->booking.cancellation_reason;
    b.updated_utc = now_utc;
    if ((e = bk_store_booking_update(tx, &b, err)))
        return e;
    /* A paid booking cancelled at the provider: its refund policy
     * applies as to any cancellation (ledger/payments.c). */
    if (cancel && (e = bk_ledger_payment_cancel_refund(tx, &b, now_utc, arena,
                                                       &refund, err)))
        return e;
    /* So does it to a package credit the booking holds
     * (ledger/packages.h). */
    if (cancel &&
        (e = bk_ledger_credit_cancelled(tx, &b, now_utc, arena, &credit, err)))
        return e;
    if ((e = emit_booking(
             tx, cancel ? BK_LEV_BOOKING_CANCELLED : BK_LEV_BOOKING_COMPLETED,
             ev, &b, (int)from, (int)to, 0, 0, 0, 0, b.cancellation_reason,
             bk_ledger_json(
                 arena,
                 json_pack("{s:s?, s:s, s:s, s:o?, s:o?}", "reason",
                           b.cancellation_reason, "by", actor, "external_uid",
                           ev->booking.uid, "refund",
                           cancel && b.payment_status == BK_PAYMENT_PAID &&
                                   credit < 0
                               ? json_integer((json_int_t)refund)
                               : NULL,
                           "credit_returned",
                           credit >= 0 ? json_boolean(credit == 1) : NULL)),
             now_utc, err)))
        return e;
    out->action = cancel ? "cancelled" : "completed";
    out->booking_uid = b.uid;
client:
    /* A completed booking makes its client active. */
    if (cancel)
        return BK_OK;
    e = bk_store_client_get(tx, b.client_id, arena, &c, err);
    if (e)
        return e;
    to = b.status;
    if (bk_client_status_after(c.status, to, b.payment_status) == c.status)
        return BK_OK;
    c.status = bk_client_status_after(c.status, to, b.payment_status);
    c.updated_utc = now_utc;
    e = bk_store_client_update(tx, &c, err);
    if (!e)
        e = emit_other(tx, BK_LEV_CLIENT_ACTIVATED, ev, b.id, c.id, b.host_id,
                       b.event_type_id, NULL, now_utc, err);
    return e;
}

/* The cancel half of a reschedule that made a new uid (Calendly: the old
 * invitee canceled with rescheduled: true and new_invitee). It never
 * cancels: the creation of next_uid moves the booking (or records it). Once
 * next_uid is known, the old uid is linked to its booking, superseded, and
 * a booking recorded separately from the old uid is cancelled as a stale
 * copy, exactly as a late reschedule does. */
static enum bk_err apply_replaced(struct bk_tx *tx,
                                  const struct bk_ext_event *ev,
                                  int64_t now_utc, struct bk_arena *arena,
                                  struct bk_sync_outcome *out,
                                  struct bk_errbuf *err)
{
    const char *next = ev->booking.next_uid;
    struct bk_booking b;
    bool cancelled = false;
    enum bk_err e = BK_E_NOT_FOUND;

    if (next && *next && strcmp(next, ev->booking.uid) != 0)
        e = find(tx, ev, next, arena, &b, NULL, err);
    if (e == BK_OK) {
        e = supersede(tx, ev, &b, ev->booking.uid, now_utc, arena, &cancelled,
                      err);
        if (e)
            return e;
        if (cancelled) {
            out->action = "superseded";
            out->booking_uid = b.uid;
            return BK_OK;
        }
        return unchanged(tx, ev, &b, "replaced by a reschedule already applied",
                         now_utc, arena, out, err);
    }
    if (e != BK_E_NOT_FOUND)
        return e;
    e = find(tx, ev, ev->booking.uid, arena, &b, NULL, err);
    if (e && e != BK_E_NOT_FOUND)
        return e;
    return unchanged(tx, ev, e ? NULL : &b,
                     "replaced by a reschedule; the new booking's creation "
                     "moves it",
                     now_utc, arena, out, err);
}

/* A no-show mark set (NO_SHOW_MARKED) or removed (NO_SHOW_CLEARED). The
 * mark's id, when the event has one, is linked to the booking (superseded
 * once removed), so that a removal that arrived before its mark keeps the
 * mark from being set afterwards, and both orders end the same: removing a
 * mark makes the booking completed (the attendee came after all). A
 * booking not known yet is waited for (BK_E_RETRY). */
static enum bk_err apply_no_show(struct bk_tx *tx,
                                 const struct bk_ext_event *ev, int64_t now_utc,
                                 struct bk_arena *arena,
                                 struct bk_sync_outcome *out,
                                 struct bk_errbuf *err)
{
    bool set = ev->kind == BK_EXT_NO_SHOW_MARKED;
    const char *mark = ev->booking.mark_id;
    enum bk_booking_status from, to;
    struct bk_booking b;
    struct bk_client c;
    struct bk_link l;
    bool mark_seen = false;
    enum bk_err e = find(tx, ev, ev->booking.uid, arena, &b, NULL, err);

    if (e == BK_E_NOT_FOUND)
        return bk_fail(err, BK_E_RETRY,
                       "%s booking %s is not known yet; its no-show waits for "
                       "its creation",
                       ev->provider, ev->booking.uid);
    if (e)
        return e;
    if (mark && *mark) {
        e = bk_store_link_find(tx, ev->provider, KIND_MARK, mark, arena, &l,
                               err);
        if (e == BK_OK && set && l.superseded)
            return unchanged(tx, ev, &b,
                             "this no-show mark was removed already", now_utc,
                             arena, out, err);
        if (e && e != BK_E_NOT_FOUND)
            return e;
        mark_seen = e == BK_OK;
        if ((e = link(tx, ev, KIND_MARK, mark, b.id, !set, now_utc, arena,
                      err)))
            return e;
    }
    from = b.status;
    if (set && from == BK_BOOKING_NO_SHOW)
        return unchanged(tx, ev, &b, "already a no-show", now_utc, arena, out,
                         err);
    /* A removal that arrived before its mark means the same as the two in
     * order: the attendee came. Any other removal of a booking that is not
     * a no-show changes nothing. */
    if (!set && from != BK_BOOKING_NO_SHOW &&
        !(mark && *mark && !mark_seen && from == BK_BOOKING_CONFIRMED))
        return unchanged(tx, ev, &b, "not marked as a no-show", now_utc, arena,
                         out, err);
    if (bk_booking_transition(from, set ? BK_EV_NO_SHOW : BK_EV_COMPLETE,
                              &to) != BK_OK)
        return unchanged(tx, ev, &b,
                         bk_arena_printf(arena, "a %s booking cannot become %s",
                                         bk_booking_status_name(from),
                                         set ? "no_show" : "completed"),
                         now_utc, arena, out, err);
    b.status = to;
    b.updated_utc = now_utc;
    if ((e = bk_store_booking_update(tx, &b, err)) ||
        (e = emit_booking(
             tx, set ? BK_LEV_BOOKING_NO_SHOW : BK_LEV_BOOKING_COMPLETED, ev,
             &b, (int)from, (int)to, 0, 0, 0, 0,
             set ? NULL : "no-show mark removed",
             bk_ledger_json(arena, json_pack("{s:s, s:s, s:s?}", "by",
                                             bk_source_name(ev->source),
                                             "external_uid", ev->booking.uid,
                                             "no_show_mark", mark)),
             now_utc, err)))
        return e;
    out->action = set ? "no_show" : "completed";
    out->booking_uid = b.uid;
    if (set)
        return BK_OK;
    /* Completed: its client becomes active (as for a meeting that ended). */
    e = bk_store_client_get(tx, b.client_id, arena, &c, err);
    if (e || bk_client_status_after(c.status, to, b.payment_status) == c.status)
        return e;
    c.status = bk_client_status_after(c.status, to, b.payment_status);
    c.updated_utc = now_utc;
    e = bk_store_client_update(tx, &c, err);
    if (!e)
        e = emit_other(tx, BK_LEV_CLIENT_ACTIVATED, ev, b.id, c.id, b.host_id,
                       b.event_type_id, NULL, now_utc, err);
    return e;
}

/* Whether the participant of ev is the booking's attendee: the same email
 * (ASCII case-insensitively), or, where the provider gives no email (a
 * guest who did not sign in), the same name (case-insensitively). */
static bool attendee_is(const struct bk_booking *b,
                        const struct bk_ext_person *p)
{
    const char *email = b->attendee_email && *b->attendee_email
                            ? b->attendee_email
                            : b->client_email;
    const char *name = b->attendee_name && *b->attendee_name ? b->attendee_name
                                                             : b->client_name;

    if (p->email && *p->email)
        return email && strcasecmp(p->email, email) == 0;
    return p->name && *p->name && name && strcasecmp(p->name, name) == 0;
}

/* ATTENDEE_JOINED: the attendance is recorded as a link (provider,
 * "attended", meeting id) on the booking; a booking already marked no-show
 * by the meeting's end (deliveries out of order) becomes completed. */
static enum bk_err apply_joined(struct bk_tx *tx, const struct bk_ext_event *ev,
                                int64_t now_utc, struct bk_arena *arena,
                                struct bk_sync_outcome *out,
                                struct bk_errbuf *err)
{
    struct bk_booking b;
    enum bk_err e = find(tx, ev, ev->booking.uid, arena, &b, NULL, err);

    if (e == BK_E_NOT_FOUND)
        return unchanged(tx, ev, NULL, "no booking has this meeting", now_utc,
                         arena, out, err);
    if (e)
        return e;
    if (!attendee_is(&b, &ev->booking.attendee))
        return unchanged(tx, ev, &b, "the participant is not the attendee",
                         now_utc, arena, out, err);
    if ((e = link(tx, ev, KIND_ATTENDED, ev->booking.uid, b.id, false, now_utc,
                  arena, err)))
        return e;
    if (b.status == BK_BOOKING_NO_SHOW) {
        struct bk_ext_event ended = *ev;
        ended.kind = BK_EXT_MEETING_ENDED;
        ended.booking.by_attendance = false;
        return apply_final(tx, &ended, now_utc, arena, out, err);
    }
    out->action = "attended";
    out->booking_uid = b.uid;
    return BK_OK;
}

/* MEETING_ENDED decided by attendance: completed when the attendee joined
 * (an ATTENDEE_JOINED recorded it), no_show otherwise. */
static enum bk_err
apply_ended_by_attendance(struct bk_tx *tx, const struct bk_ext_event *ev,
                          int64_t now_utc, struct bk_arena *arena,
                          struct bk_sync_outcome *out, struct bk_errbuf *err)
{
    struct bk_booking b;
    struct bk_link l;
    struct bk_ext_event next = *ev;
    enum bk_err e = find(tx, ev, ev->booking.uid, arena, &b, NULL, err);

    if (e == BK_E_NOT_FOUND)
        return unchanged(tx, ev, NULL, "no booking has this meeting", now_utc,
                         arena, out, err);
    if (e)
        return e;
    e = bk_store_link_find(tx, ev->provider, KIND_ATTENDED, ev->booking.uid,
                           arena, &l, err);
    if (e && e != BK_E_NOT_FOUND)
        return e;
    next.booking.by_attendance = false;
    if (e == BK_OK && l.entity == BK_LINK_BOOKING && l.entity_id == b.id)
        return apply_final(tx, &next, now_utc, arena, out, err);
    if (b.status != BK_BOOKING_CONFIRMED)
        return unchanged(tx, ev, &b,
                         bk_arena_printf(arena,
                                         "the meeting ended without the "
                                         "attendee; a %s booking stays so",
                                         bk_booking_status_name(b.status)),
                         now_utc, arena, out, err);
    next.kind = BK_EXT_NO_SHOW_MARKED;
    next.booking.mark_id = NULL;
    return apply_no_show(tx, &next, now_utc, arena, out, err);
}

enum bk_err bk_ledger_sync_event_type(struct bk_tx *tx,
                                      const struct bk_ext_event *ev,
                                      int64_t now_utc, struct bk_arena *arena,
                                      struct bk_event_type *out, bool *made,
                                      struct bk_errbuf *err)
{
    enum bk_err e;

    *made = false;
    if (!ev->provider || !ev->provider_display || !ev->booking.event_type_id ||
        !*ev->booking.event_type_id)
        return bk_fail_field(err, BK_E_INVALID, "event_type_id",
                             "the provider's event type id is required");
    e = bk_store_event_type_by_external(
        tx, ev->provider, ev->booking.event_type_id, arena, out, err);
    if (e != BK_E_NOT_FOUND)
        return e;
    e = resolve_event_type(tx, ev, now_utc, arena, out, err);
    *made = e == BK_OK;
    return e;
}

/* Something changed at the provider (a Notion page): its pull job runs
 * soon. Events of the same few seconds share one run (the dedupe key
 * names the period); the run waits that long so that a burst of edits is
 * read at once. */
#define REMOTE_PULL_PERIOD_S 5
static enum bk_err apply_remote_changed(struct bk_tx *tx,
                                        const struct bk_ext_event *ev,
                                        int64_t now_utc, struct bk_arena *arena,
                                        struct bk_sync_outcome *out,
                                        struct bk_errbuf *err)
{
    int64_t period = now_utc / REMOTE_PULL_PERIOD_S, id;
    const char *kind = bk_arena_printf(arena, "%s.pull", ev->provider);
    bool existed = false;
    enum bk_err e = bk_store_job_enqueue(
        tx, kind,
        bk_arena_printf(arena, "%s:hook:%lld", kind, (long long)period), NULL,
        (period + 1) * REMOTE_PULL_PERIOD_S * 1000, 10, now_utc * 1000, &id,
        &existed, err);

    if (e)
        return e;
    out->action = "unchanged";
    out->note = existed ? "a pull is already due" : "a pull was asked for";
    return BK_OK;
}

enum bk_err bk_ledger_sync_apply(struct bk_tx *tx,
                                 const struct bk_ext_event *ev, int64_t now_utc,
                                 struct bk_arena *arena,
                                 struct bk_sync_outcome *out,
                                 struct bk_errbuf *err)
{
    memset(out, 0, sizeof(*out));
    if (!ev->provider || !*ev->provider || !ev->provider_display)
        return bk_fail(err, BK_E_INVALID,
                       "the event names no provider (its table row fills "
                       "provider and provider_display)");
    switch (ev->kind) {
    case BK_EXT_BOOKING_CREATED:
    case BK_EXT_BOOKING_RESCHEDULED:
    case BK_EXT_BOOKING_CANCELLED:
    case BK_EXT_MEETING_ENDED:
    case BK_EXT_BOOKING_REPLACED:
    case BK_EXT_NO_SHOW_MARKED:
    case BK_EXT_NO_SHOW_CLEARED:
    case BK_EXT_ATTENDEE_JOINED:
        if (!ev->booking.uid || !*ev->booking.uid)
            return bk_fail_field(err, BK_E_INVALID, "uid",
                                 "the event has no uid");
        break;
    case BK_EXT_PAYMENT_COMPLETED:
    case BK_EXT_PAYMENT_SUCCEEDED:
    case BK_EXT_PAYMENT_FAILED:
    case BK_EXT_PAYMENT_EXPIRED:
    case BK_EXT_PAYMENT_REFUNDED:
        return bk_ledger_payment_apply(tx, ev, 0, now_utc, arena, out, err);
    case BK_EXT_REMOTE_CHANGED:
        return apply_remote_changed(tx, ev, now_utc, arena, out, err);
    default:
        /* A kind a provider may emit that the ledger does not apply yet
         * (payments, attendance, calendar moves): permanent, so that the
         * delivery fails visibly instead of being retried. */
        return bk_fail(err, BK_E_INVALID,
                       "%s event of kind %d (%s) is not applied to bookings "
                       "by this build",
                       ev->provider, (int)ev->kind, bk_ext_kind_name(ev->kind));
    }
    switch (ev->kind) {
    case BK_EXT_BOOKING_CREATED:
        return apply_created(tx, ev, now_utc, arena, out, err);
    case BK_EXT_BOOKING_RESCHEDULED:
        return apply_rescheduled(tx, ev, now_utc, arena, out, err);
    case BK_EXT_BOOKING_CANCELLED:
        return apply_final(tx, ev, now_utc, arena, out, err);
    case BK_EXT_MEETING_ENDED:
        return ev->booking.by_attendance
                   ? apply_ended_by_attendance(tx, ev, now_utc, arena, out, err)
                   : apply_final(tx, ev, now_utc, arena, out, err);
    case BK_EXT_ATTENDEE_JOINED:
        return apply_joined(tx, ev, now_utc, arena, out, err);
    case BK_EXT_BOOKING_REPLACED:
        return apply_replaced(tx, ev, now_utc, arena, out, err);
    case BK_EXT_NO_SHOW_MARKED:
    case BK_EXT_NO_SHOW_CLEARED:
        return apply_no_show(tx, ev, now_utc, arena, out, err);
    default:
        break;
    }
    return bk_fail(err, BK_E_INVALID, "unknown event kind %d", (int)ev->kind);
}
