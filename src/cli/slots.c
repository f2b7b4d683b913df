/* cli/slots.c — `bookingd slots`: free slots as JSON, in the shape of
 * GET /api/v1/event-types/{slug}/slots, either for an event type in the
 * database or for a self-contained case file (golden tests, benchmarks and
 * bug reports are written as case files; docs/availability.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "api/decode.h"
#include "api/json.h"
#include "api/render.h"
#include "base/time.h"
#include "cli/cli.h"
#include "ledger/ledger.h"
#include "store/store.h"
#include "base/banned.h"

#define MAX_CASE_BYTES (64 * 1024 * 1024)
#define MAX_CASE_ITEMS 200000
#define MAX_SPAN_DAYS  62

static void usage(void)
{
    fprintf(stderr,
            "usage: bookingd slots --input CASE.json\n"
            "       bookingd slots --event-type SLUG [--from YYYY-MM-DD] "
            "[--to YYYY-MM-DD] [--timezone TZ]\n");
}

static int fail(const char *what, const struct bk_errbuf *err)
{
    if (err->field[0])
        fprintf(stderr, "bookingd: slots: %s: %s: %s\n", what, err->field,
                err->msg);
    else
        fprintf(stderr, "bookingd: slots: %s: %s\n", what, err->msg);
    return 2;
}

static int print(json_t *out)
{
    char *s = json_dumps(out, JSON_INDENT(2));
    int rc = s ? 0 : 1;

    if (s)
        printf("%s\n", s);
    free(s);
    json_decref(out);
    return rc;
}

static enum bk_err date_field(const json_t *obj, const char *key,
                              struct bk_arena *arena, int64_t *out,
                              bool *present, struct bk_errbuf *err)
{
    const char *s;
    enum bk_err e = bk_json_str(obj, "", key, false, 10, false, arena, &s, err);

    *present = s != NULL;
    if (e || !s)
        return e;
    if (bk_date_parse(s, out) != BK_OK)
        return bk_fail_field(err, BK_E_INVALID, key,
                             "must be an existing date YYYY-MM-DD");
    return BK_OK;
}

/* [{"start","end",...}] into arrays of the engine. */
static enum bk_err intervals(const json_t *obj, const char *key, bool bookings,
                             struct bk_arena *arena,
                             struct bk_busy_booking **bk,
                             struct bk_interval **iv, size_t *n,
                             struct bk_errbuf *err)
{
    static const char *const bkeys[] = {"start",
                                        "end",
                                        "buffer_before_minutes",
                                        "buffer_after_minutes",
                                        "same_event_type",
                                        NULL};
    static const char *const ikeys[] = {"start", "end", NULL};
    json_t *arr, *item;
    size_t i;
    enum bk_err e;

    *n = 0;
    if ((e = bk_json_array(obj, "", key, false, MAX_CASE_ITEMS, arena, &arr,
                           err)) ||
        !arr)
        return e;
    if (bookings)
        *bk = bk_arena_array(arena, json_array_size(arr) + 1, sizeof(**bk));
    else
        *iv = bk_arena_array(arena, json_array_size(arr) + 1, sizeof(**iv));
    json_array_foreach(arr, i, item)
    {
        const char *p = bk_json_index(arena, key, i);
        int64_t s, en, bb = 0, ba = 0;
        bool same = false;
        if (!json_is_object(item))
            return bk_fail_field(err, BK_E_INVALID, p, "must be an object");
        if ((e = bk_json_only(item, p, bookings ? bkeys : ikeys, arena, err)) ||
            (e = bk_decode_instant(item, p, "start", true, arena, &s, NULL,
                                   err)) ||
            (e = bk_decode_instant(item, p, "end", true, arena, &en, NULL,
                                   err)))
            return e;
        if (en <= s)
            return bk_fail_field(err, BK_E_INVALID,
                                 bk_json_path(arena, p, "end"),
                                 "must be after start");
        if (bookings) {
            if ((e = bk_json_int(item, p, "buffer_before_minutes", false, 0,
                                 1440, arena, &bb, NULL, err)) ||
                (e = bk_json_int(item, p, "buffer_after_minutes", false, 0,
                                 1440, arena, &ba, NULL, err)) ||
                (e = bk_json_bool(item, p, "same_event_type", false, arena,
                                  &same, NULL, err)))
                return e;
            (*bk)[i].start_utc = s;
            (*bk)[i].end_utc = en;
            (*bk)[i].buffer_before_min = (int)bb;
            (*bk)[i].buffer_after_min = (int)ba;
            (*bk)[i].same_event_type = same;
        } else {
            (*iv)[i].start_utc = s;
            (*iv)[i].end_utc = en;
        }
    }
    *n = json_array_size(arr);
    return BK_OK;
}

static int from_case(const char *path)
{
    static const char *const keys[] = {
        "description", "now",        "timezone", "from", "to",
        "schedule",    "event_type", "bookings", "busy", NULL};
    static const char *const et_keys[] = {"slug",
                                          "duration_minutes",
                                          "slot_interval_minutes",
                                          "buffer_before_minutes",
                                          "buffer_after_minutes",
                                          "minimum_notice_minutes",
                                          "horizon_days",
                                          "max_per_day",
                                          "slot_alignment",
                                          NULL};
    struct bk_arena arena;
    struct bk_errbuf err;
    struct bk_schedule sched;
    struct bk_slot_rules rules;
    struct bk_avail_query q;
    struct bk_slot *slots = NULL;
    const struct bk_tz *tz = NULL, *out_tz = NULL;
    const char *tz_name, *slug = NULL, *desc;
    json_t *root = NULL, *js, *jet;
    json_error_t jerr;
    struct stat st;
    int64_t from_date = 0, to_date = 0, now = bk_now_utc();
    bool has_from, has_to, has_now;
    size_t n = 0;
    int rc = 2;
    enum bk_err e;

    bk_arena_init(&arena);
    bk_errbuf_clear(&err);
    memset(&q, 0, sizeof(q));
    if (stat(path, &st) == 0 && st.st_size > MAX_CASE_BYTES) {
        fprintf(stderr, "bookingd: slots: %s: larger than %d MiB\n", path,
                MAX_CASE_BYTES >> 20);
        goto out;
    }
    root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        fprintf(stderr, "bookingd: slots: %s:%d:%d: %s\n", path, jerr.line,
                jerr.column, jerr.text);
        goto out;
    }
    if (!json_is_object(root)) {
        fprintf(stderr, "bookingd: slots: %s: a JSON object is expected\n",
                path);
        goto out;
    }
    if ((e = bk_json_only(root, "", keys, &arena, &err)) ||
        (e = bk_json_str(root, "", "description", false, 100000, true, &arena,
                         &desc, &err)) ||
        (e = bk_decode_instant(root, "", "now", false, &arena, &now, &has_now,
                               &err)) ||
        (e = bk_decode_timezone(root, "", "timezone", false, &arena, &tz_name,
                                &err)) ||
        (e = date_field(root, "from", &arena, &from_date, &has_from, &err)) ||
        (e = date_field(root, "to", &arena, &to_date, &has_to, &err)) ||
        (e = bk_json_object(root, "", "schedule", true, &arena, &js, &err)) ||
        (e = bk_decode_schedule(js, "schedule", &arena, &sched, &err)) ||
        (e = bk_json_object(root, "", "event_type", true, &arena, &jet,
                            &err)) ||
        (e = bk_json_only(jet, "event_type", et_keys, &arena, &err)) ||
        (e = bk_json_str(jet, "event_type", "slug", false, BK_MAX_SLUG, false,
                         &arena, &slug, &err)))
        goto bad;
    if (!json_object_get(jet, "duration_minutes")) {
        bk_fail_field(&err, BK_E_INVALID, "event_type.duration_minutes",
                      "is required");
        goto bad;
    }
    bk_slot_rules_defaults(&rules, 0);
    if ((e = bk_decode_slot_rules(jet, "event_type", &arena, &rules, &err)) ||
        (e = bk_slot_rules_check(&rules, &err)) ||
        (e = intervals(root, "bookings", true, &arena,
                       (struct bk_busy_booking **)&q.bookings, NULL,
                       &q.n_bookings, &err)) ||
        (e = intervals(root, "busy", false, &arena, NULL,
                       (struct bk_interval **)&q.busy, &q.n_busy, &err)))
        goto bad;

    tz = bk_tz_get(sched.timezone);
    out_tz = tz_name ? bk_tz_get(tz_name) : tz;
    if (!has_from)
        from_date = bk_tz_local_date(out_tz, now);
    if (!has_to)
        to_date = from_date + 13;
    if (to_date < from_date || to_date - from_date > MAX_SPAN_DAYS) {
        bk_fail_field(&err, BK_E_INVALID, "to", "must be 0..%d days after from",
                      MAX_SPAN_DAYS);
        goto bad;
    }
    q.schedule = &sched;
    q.tz = tz;
    q.rules = &rules;
    q.now_utc = now;
    bk_dates_window(out_tz, from_date, to_date, &q.from_utc, &q.to_utc);
    e = bk_availability(&q, &arena, &slots, &n, &err);
    if (e)
        goto bad;
    rc = print(bk_render_slots(slug, out_tz, slots, n));
    goto out;
bad:
    rc = fail(path, &err);
out:
    json_decref(root);
    bk_arena_release(&arena);
    return rc;
}

static int from_database(const char *slug, const char *from, const char *to,
                         const char *tz_name)
{
    struct bk_config cfg;
    struct bk_errbuf err;
    struct bk_store *store = NULL;
    struct bk_arena arena;
    struct bk_event_type et;
    struct bk_slot *slots = NULL;
    const struct bk_tz *tz = NULL;
    int64_t from_date, to_date, from_utc, to_utc, now = bk_now_utc();
    int current = 0, newest = 0, rc = 2;
    size_t n = 0;
    enum bk_err e;

    bk_arena_init(&arena);
    bk_errbuf_clear(&err);
    if (bk_config_load(&cfg, &err) != BK_OK) {
        bk_config_report(&err);
        goto out;
    }
    if (tz_name && !(tz = bk_tz_get(tz_name))) {
        fprintf(stderr, "bookingd: slots: unknown time zone '%s'\n", tz_name);
        goto out;
    }
    if ((e = bk_store_open(cfg.database, 2, &store, &err)) ||
        (e = bk_store_version(store, &current, &newest, &err))) {
        fprintf(stderr, "bookingd: slots: %s\n", err.msg);
        rc = 1;
        goto out;
    }
    if (current != newest) {
        fprintf(stderr,
                "bookingd: slots: the database is at schema version "
                "%d, this build needs %d: run bookingd migrate\n",
                current, newest);
        rc = 1;
        goto out;
    }
    if (!tz) {
        /* The schedule's zone: look the event type up once for it. */
        struct bk_tx *tx = NULL;
        struct bk_schedule s;
        if (bk_store_begin(store, BK_TX_READ, &tx, &err) == BK_OK &&
            bk_store_event_type_by_slug(tx, slug, &arena, &et, &err) == BK_OK &&
            bk_store_schedule_get(tx, et.host_id, &arena, &s, &err) == BK_OK)
            tz = bk_tz_get(s.timezone);
        bk_store_rollback(tx);
        if (!tz)
            tz = bk_tz_utc();
    }
    from_date = bk_tz_local_date(tz, now);
    if (from && bk_date_parse(from, &from_date) != BK_OK) {
        fprintf(stderr, "bookingd: slots: --from must be a date YYYY-MM-DD\n");
        goto out;
    }
    to_date = from_date + 13;
    if (to && bk_date_parse(to, &to_date) != BK_OK) {
        fprintf(stderr, "bookingd: slots: --to must be a date YYYY-MM-DD\n");
        goto out;
    }
    if (to_date < from_date || to_date - from_date > MAX_SPAN_DAYS) {
        fprintf(stderr,
                "bookingd: slots: --to must be 0..%d days after "
                "--from\n",
                MAX_SPAN_DAYS);
        goto out;
    }
    bk_dates_window(tz, from_date, to_date, &from_utc, &to_utc);
    e = bk_ledger_slots(store, slug, true, 0, from_utc, to_utc, now, 0, &arena,
                        &et, &slots, &n, &err);
    if (e) {
        fprintf(stderr, "bookingd: slots: %s\n",
                e == BK_E_NOT_FOUND ? "no such event type" : err.msg);
        rc = e == BK_E_NOT_FOUND ? 2 : 1;
        goto out;
    }
    rc = print(bk_render_slots(et.slug, tz, slots, n));
out:
    bk_store_free(store);
    bk_arena_release(&arena);
    return rc;
}

int bk_cli_slots(int argc, char **argv)
{
    const char *input = NULL, *slug = NULL, *from = NULL, *to = NULL,
               *tz = NULL;

    for (int i = 0; i < argc; i++) {
        const char **dst = NULL;
        if (strcmp(argv[i], "--input") == 0)
            dst = &input;
        else if (strcmp(argv[i], "--event-type") == 0)
            dst = &slug;
        else if (strcmp(argv[i], "--from") == 0)
            dst = &from;
        else if (strcmp(argv[i], "--to") == 0)
            dst = &to;
        else if (strcmp(argv[i], "--timezone") == 0)
            dst = &tz;
        if (!dst || i + 1 >= argc) {
            usage();
            return 2;
        }
        *dst = argv[++i];
    }
    if (input && !slug && !from && !to && !tz)
        return from_case(input);
    if (slug && !input)
        return from_database(slug, from, to, tz);
    usage();
    return 2;
}
