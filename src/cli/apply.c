/* cli/apply.c — `bookingd apply FILE.json`: create or update hosts, their
 * schedules and event types, idempotently and atomically (one transaction:
 * a bad file changes nothing).
 * File: {"hosts": [{"slug", "name", "email", "timezone", "schedule": {..}}],
 *        "event_types": [{the body of POST /api/v1/event-types}]}
 * An event type's external_ids replace its stored ones when given (as in
 * PATCH); an id mapped to another event type refuses the file. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "api/decode.h"
#include "api/json.h"
#include "base/buf.h"
#include "base/str.h"
#include "base/time.h"
#include "cli/cli.h"
#include "ledger/ledger.h"
#include "store/store.h"
#include "base/banned.h"

#define MAX_APPLY_BYTES (16 * 1024 * 1024)

/* Decoders name fields from the item's top level; the report needs the
 * item's place in the file too ("hosts[1].timezone"). */
static void prefix_field(struct bk_errbuf *err, const char *path)
{
    char f[256];

    if (!err || !err->field[0])
        return;
    snprintf(f, sizeof(f), "%s.%s", path, err->field);
    bk_strlcpy(err->field, f, sizeof(err->field));
}

static bool same_text(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static enum bk_err apply_host(struct bk_tx *tx, json_t *item, const char *path,
                              struct bk_arena *arena, int64_t now,
                              struct bk_buf *report, struct bk_errbuf *err)
{
    struct bk_host h, old;
    struct bk_schedule s, stored;
    json_t *copy = json_deep_copy(item), *js = NULL;
    const char *slug, *what;
    bool exists;
    enum bk_err e;

    memset(&h, 0, sizeof(h));
    /* The schedule is applied separately; the rest is a host body. */
    js = json_incref(json_object_get(copy, "schedule"));
    json_object_del(copy, "schedule");
    e = bk_json_str(copy, path, "slug", true, BK_MAX_SLUG, false, arena, &slug,
                    err);
    if (e)
        goto out;
    e = bk_store_host_by_slug(tx, slug, arena, &h, err);
    if (e && e != BK_E_NOT_FOUND)
        goto out;
    exists = e == BK_OK;
    old = h;
    e = bk_decode_host(copy, !exists, arena, &h, err);
    if (e) {
        prefix_field(err, path);
        goto out;
    }
    h.updated_utc = now;
    if (exists && same_text(h.name, old.name) &&
        same_text(h.email, old.email) && same_text(h.timezone, old.timezone) &&
        same_text(h.photo_url, old.photo_url) && same_text(h.bio, old.bio)) {
        what = "unchanged";
    } else if (exists) {
        what = "updated";
        e = bk_ledger_host_update(tx, &h, "apply", now, arena, err);
    } else {
        what = "created";
        h.created_utc = now;
        e = bk_ledger_host_create(tx, &h, "apply", now, arena, &h.id, err);
    }
    if (e)
        goto out;
    e = bk_buf_appendf(report, "host %s: %s\n", h.slug, what);
    if (e)
        goto out;
    if (js && !json_is_null(js)) {
        if (!json_is_object(js)) {
            e = bk_fail_field(err, BK_E_INVALID,
                              bk_json_path(arena, path, "schedule"),
                              "must be an object");
            goto out;
        }
        e = bk_decode_schedule(js, bk_json_path(arena, path, "schedule"), arena,
                               &s, err);
        if (e)
            goto out;
        e = bk_store_schedule_get(tx, h.id, arena, &stored, err);
        if (e == BK_OK && bk_schedule_equal(&s, &stored)) {
            e = bk_buf_appendf(report, "schedule of %s: unchanged\n", h.slug);
            goto out;
        }
        if (e && e != BK_E_NOT_FOUND)
            goto out;
        e = bk_ledger_schedule_put(tx, h.id, &s, "apply", now, arena, err);
        if (e)
            goto out;
        e = bk_buf_appendf(report,
                           "schedule of %s: set (%zu weekly ranges, %zu "
                           "overrides)\n",
                           h.slug, s.n_weekly, s.n_overrides);
    }
out:
    json_decref(js);
    json_decref(copy);
    return e;
}

static bool same_refund_policy(const struct bk_event_type *a,
                               const struct bk_event_type *b)
{
    int ah = a->has_refund_policy ? a->refund_full_hours
                                  : BK_DEFAULT_REFUND_FULL_HOURS;
    int bh = b->has_refund_policy ? b->refund_full_hours
                                  : BK_DEFAULT_REFUND_FULL_HOURS;
    int ap = a->has_refund_policy ? a->refund_late_percent
                                  : BK_DEFAULT_REFUND_LATE_PERCENT;
    int bp = b->has_refund_policy ? b->refund_late_percent
                                  : BK_DEFAULT_REFUND_LATE_PERCENT;

    return ah == bh && ap == bp;
}

static bool same_reminders(const struct bk_event_type *a,
                           const struct bk_event_type *b)
{
    char x[BK_REMINDERS_TEXT_MAX], y[BK_REMINDERS_TEXT_MAX];

    bk_event_type_reminders_format(a, x);
    bk_event_type_reminders_format(b, y);
    return strcmp(x, y) == 0;
}

/* Whether applying changed nothing an event type holds. */
static bool same_event_type(const struct bk_event_type *a,
                            const struct bk_event_type *b)
{
    const struct bk_slot_rules *r = &a->rules, *q = &b->rules;

    return same_text(a->title, b->title) &&
           same_text(a->description, b->description) &&
           a->host_id == b->host_id && r->duration_min == q->duration_min &&
           r->interval_min == q->interval_min &&
           r->buffer_before_min == q->buffer_before_min &&
           r->buffer_after_min == q->buffer_after_min &&
           r->notice_min == q->notice_min &&
           r->horizon_days == q->horizon_days &&
           r->max_per_day == q->max_per_day && r->alignment == q->alignment &&
           a->has_price == b->has_price && a->price_minor == b->price_minor &&
           strcmp(a->currency, b->currency) == 0 &&
           a->location_kind == b->location_kind &&
           same_text(a->location_value, b->location_value) &&
           a->active == b->active && bk_event_type_external_equal(a, b) &&
           same_reminders(a, b) && same_refund_policy(a, b) &&
           same_text(a->questions ? a->questions : "[]",
                     b->questions ? b->questions : "[]");
}

static enum bk_err apply_event_type(struct bk_tx *tx, json_t *item,
                                    const char *path, struct bk_arena *arena,
                                    int64_t now, struct bk_buf *report,
                                    struct bk_errbuf *err)
{
    struct bk_event_type et, old;
    struct bk_host h;
    const char *slug, *host_slug = NULL, *what;
    json_t *dur;
    bool exists;
    enum bk_err e;

    memset(&et, 0, sizeof(et));
    e = bk_json_str(item, path, "slug", true, BK_MAX_SLUG, false, arena, &slug,
                    err);
    if (e)
        return e;
    e = bk_store_event_type_by_slug(tx, slug, arena, &et, err);
    if (e && e != BK_E_NOT_FOUND)
        return e;
    exists = e == BK_OK;
    if (!exists) {
        et.active = true;
        dur = json_object_get(item, "duration_minutes");
        bk_slot_rules_defaults(
            &et.rules, json_is_integer(dur) ? (int)json_integer_value(dur) : 0);
    }
    old = et;
    e = bk_decode_event_type(item, !exists, arena, &et, &host_slug, err);
    if (e) {
        prefix_field(err, path);
        return e;
    }
    if (host_slug) {
        e = bk_store_host_by_slug(tx, host_slug, arena, &h, err);
        if (e == BK_E_NOT_FOUND)
            return bk_fail_field(
                err, BK_E_INVALID, bk_json_path(arena, path, "host"),
                "no host '%s' (list it under hosts)", host_slug);
        if (e)
            return e;
        et.host_id = h.id;
    }
    et.updated_utc = now;
    if (exists && same_event_type(&et, &old)) {
        what = "unchanged";
    } else if (exists) {
        what = "updated";
        e = bk_ledger_event_type_update(tx, &et, "apply", now, arena, err);
    } else {
        what = "created";
        et.created_utc = now;
        e = bk_ledger_event_type_create(tx, &et, "apply", now, arena, &et.id,
                                        err);
    }
    if (e) {
        prefix_field(err, path); /* an external id mapped elsewhere */
        return e;
    }
    return bk_buf_appendf(report, "event type %s: %s\n", et.slug, what);
}

int bk_cli_apply(int argc, char **argv)
{
    static const char *const keys[] = {"hosts", "event_types", NULL};
    struct bk_config cfg;
    struct bk_errbuf err;
    struct bk_store *store = NULL;
    struct bk_tx *tx = NULL;
    struct bk_arena arena;
    struct bk_buf report;
    struct stat st;
    json_t *root = NULL, *arr, *item;
    json_error_t jerr;
    int64_t now = bk_now_utc();
    size_t i;
    int rc = 2;
    enum bk_err e;

    bk_arena_init(&arena);
    bk_buf_init(&report, 1 << 20);
    bk_errbuf_clear(&err);
    if (argc != 1) {
        fprintf(stderr, "usage: bookingd apply FILE.json\n");
        goto out;
    }
    if (bk_config_load(&cfg, &err) != BK_OK) {
        bk_config_report(&err);
        goto out;
    }
    if (stat(argv[0], &st) == 0 && st.st_size > MAX_APPLY_BYTES) {
        fprintf(stderr, "bookingd: apply: %s: larger than 16 MiB\n", argv[0]);
        goto out;
    }
    root = json_load_file(argv[0], JSON_REJECT_DUPLICATES, &jerr);
    if (!root || !json_is_object(root)) {
        fprintf(stderr, "bookingd: apply: %s:%d:%d: %s\n", argv[0], jerr.line,
                jerr.column, root ? "a JSON object is expected" : jerr.text);
        goto out;
    }
    if ((e = bk_json_only(root, "", keys, &arena, &err)))
        goto bad;
    if ((e = bk_store_open(cfg.database, 1, &store, &err)) ||
        (e = bk_store_migrate(store, NULL, NULL, &err)) ||
        (e = bk_store_begin(store, BK_TX_WRITE, &tx, &err))) {
        fprintf(stderr, "bookingd: apply: %s\n", err.msg);
        rc = 1;
        goto out;
    }
    if ((e = bk_json_array(root, "", "hosts", false, 1000, &arena, &arr, &err)))
        goto bad;
    json_array_foreach(arr, i, item)
    {
        const char *p = bk_json_index(&arena, "hosts", i);
        if (!json_is_object(item)) {
            bk_fail_field(&err, BK_E_INVALID, p, "must be an object");
            goto bad;
        }
        if ((e = apply_host(tx, item, p, &arena, now, &report, &err)))
            goto bad;
    }
    if ((e = bk_json_array(root, "", "event_types", false, 1000, &arena, &arr,
                           &err)))
        goto bad;
    json_array_foreach(arr, i, item)
    {
        const char *p = bk_json_index(&arena, "event_types", i);
        if (!json_is_object(item)) {
            bk_fail_field(&err, BK_E_INVALID, p, "must be an object");
            goto bad;
        }
        if ((e = apply_event_type(tx, item, p, &arena, now, &report, &err)))
            goto bad;
    }
    e = bk_store_commit(tx, &err);
    tx = NULL;
    if (e) {
        fprintf(stderr, "bookingd: apply: %s\n", err.msg);
        rc = 1;
        goto out;
    }
    fputs(report.data ? report.data : "", stdout);
    rc = 0;
    goto out;
bad:
    if (err.field[0])
        fprintf(stderr, "bookingd: apply: %s: %s: %s (nothing was changed)\n",
                argv[0], err.field, err.msg);
    else
        fprintf(stderr, "bookingd: apply: %s: %s (nothing was changed)\n",
                argv[0], err.msg);
out:
    bk_store_rollback(tx);
    bk_store_free(store);
    json_decref(root);
    bk_buf_release(&report);
    bk_arena_release(&arena);
    return rc;
}
