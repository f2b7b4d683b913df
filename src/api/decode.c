/* api/decode.c — request bodies into ledger records. */
#include <string.h>

#include "api/decode.h"
#include "api/fields.h"
#include "api/json.h"
#include "base/str.h"
#include "base/time.h"
#include "core/tz.h"
#include "webhooks/webhooks.h"
#include "ledger/questions.h"
#include "base/banned.h"

enum bk_err bk_decode_timezone(const json_t *obj, const char *path,
                               const char *key, bool required,
                               struct bk_arena *arena, const char **out,
                               struct bk_errbuf *err)
{
    enum bk_err e =
        bk_json_str(obj, path, key, required, 64, false, arena, out, err);
    if (e)
        return e;
    if (*out && !bk_tz_get(*out))
        return bk_fail_field(err, BK_E_INVALID, bk_json_path(arena, path, key),
                             "unknown time zone '%s' (an IANA name such as "
                             "Europe/Berlin is expected)",
                             *out);
    return BK_OK;
}

enum bk_err bk_decode_instant(const json_t *obj, const char *path,
                              const char *key, bool required,
                              struct bk_arena *arena, int64_t *utc,
                              bool *present, struct bk_errbuf *err)
{
    const char *s;
    enum bk_err e;

    if (present)
        *present = false;
    e = bk_json_str(obj, path, key, required, 64, false, arena, &s, err);
    if (e || !s)
        return e;
    if (bk_rfc3339_parse(s, utc, NULL) != BK_OK)
        return bk_fail_field(err, BK_E_INVALID, bk_json_path(arena, path, key),
                             "must be an RFC 3339 date-time such as "
                             "2026-12-01T09:00:00+01:00");
    if (present)
        *present = true;
    return BK_OK;
}

static enum bk_err hhmm(const json_t *obj, const char *path, const char *key,
                        bool allow_24, struct bk_arena *arena, int *out,
                        struct bk_errbuf *err)
{
    const char *s;
    enum bk_err e = bk_json_str(obj, path, key, true, 5, false, arena, &s, err);
    if (e)
        return e;
    if (bk_hhmm_parse(s, allow_24, out) != BK_OK)
        return bk_fail_field(err, BK_E_INVALID, bk_json_path(arena, path, key),
                             allow_24 ? "must be a time HH:MM, 00:00 to 24:00"
                                      : "must be a time HH:MM, 00:00 to 23:59");
    return BK_OK;
}

enum bk_err bk_decode_schedule(const json_t *obj, const char *path,
                               struct bk_arena *arena, struct bk_schedule *out,
                               struct bk_errbuf *err)
{
    static const char *const keys[] = {"timezone", "weekly", "overrides", NULL};
    static const char *const wkeys[] = {"day", "start", "end", NULL};
    static const char *const okeys[] = {"date", "start", "end", "unavailable",
                                        NULL};
    json_t *weekly, *overrides, *item;
    struct bk_weekly_range *w = NULL;
    struct bk_date_override *o = NULL;
    size_t i;
    enum bk_err e;

    memset(out, 0, sizeof(*out));
    if ((e = bk_json_only(obj, path, keys, arena, err)) ||
        (e = bk_decode_timezone(obj, path, "timezone", true, arena,
                                &out->timezone, err)) ||
        (e = bk_json_array(obj, path, "weekly", false, BK_SCHEDULE_MAX_WEEKLY,
                           arena, &weekly, err)) ||
        (e = bk_json_array(obj, path, "overrides", false,
                           BK_SCHEDULE_MAX_OVERRIDES, arena, &overrides, err)))
        return e;
    if (weekly) {
        const char *wpath = bk_json_path(arena, path, "weekly");
        w = bk_arena_array(arena, json_array_size(weekly) + 1, sizeof(*w));
        json_array_foreach(weekly, i, item)
        {
            const char *ip = bk_json_index(arena, wpath, i);
            const char *day;
            if (!json_is_object(item))
                return bk_fail_field(err, BK_E_INVALID, ip,
                                     "must be an object");
            if ((e = bk_json_only(item, ip, wkeys, arena, err)) ||
                (e = bk_json_str(item, ip, "day", true, 3, false, arena, &day,
                                 err)))
                return e;
            w[i].day = bk_weekday_parse(day);
            if (w[i].day < 0)
                return bk_fail_field(err, BK_E_INVALID,
                                     bk_json_path(arena, ip, "day"),
                                     "must be one of mon, tue, wed, thu, "
                                     "fri, sat, sun");
            if ((e = hhmm(item, ip, "start", false, arena, &w[i].start_min,
                          err)) ||
                (e = hhmm(item, ip, "end", true, arena, &w[i].end_min, err)))
                return e;
            if (w[i].end_min <= w[i].start_min)
                return bk_fail_field(err, BK_E_INVALID,
                                     bk_json_path(arena, ip, "end"),
                                     "must be after start");
        }
        out->weekly = w;
        out->n_weekly = json_array_size(weekly);
    }
    if (overrides) {
        const char *opath = bk_json_path(arena, path, "overrides");
        o = bk_arena_array(arena, json_array_size(overrides) + 1, sizeof(*o));
        json_array_foreach(overrides, i, item)
        {
            const char *ip = bk_json_index(arena, opath, i);
            const char *date;
            bool unavailable = false, has_unavailable = false;
            if (!json_is_object(item))
                return bk_fail_field(err, BK_E_INVALID, ip,
                                     "must be an object");
            if ((e = bk_json_only(item, ip, okeys, arena, err)) ||
                (e = bk_json_str(item, ip, "date", true, 10, false, arena,
                                 &date, err)) ||
                (e = bk_json_bool(item, ip, "unavailable", false, arena,
                                  &unavailable, &has_unavailable, err)))
                return e;
            if (bk_date_parse(date, &o[i].date) != BK_OK)
                return bk_fail_field(err, BK_E_INVALID,
                                     bk_json_path(arena, ip, "date"),
                                     "must be an existing date YYYY-MM-DD");
            o[i].unavailable = unavailable;
            if (unavailable) {
                if (json_object_get(item, "start") ||
                    json_object_get(item, "end"))
                    return bk_fail_field(err, BK_E_INVALID,
                                         bk_json_path(arena, ip, "start"),
                                         "an unavailable date has no "
                                         "start or end");
            } else {
                if ((e = hhmm(item, ip, "start", false, arena, &o[i].start_min,
                              err)) ||
                    (e = hhmm(item, ip, "end", true, arena, &o[i].end_min,
                              err)))
                    return e;
                if (o[i].end_min <= o[i].start_min)
                    return bk_fail_field(err, BK_E_INVALID,
                                         bk_json_path(arena, ip, "end"),
                                         "must be after start");
            }
        }
        out->overrides = o;
        out->n_overrides = json_array_size(overrides);
    }
    return bk_schedule_check(out, err);
}

void bk_slot_rules_defaults(struct bk_slot_rules *rules, int duration_min)
{
    memset(rules, 0, sizeof(*rules));
    rules->duration_min = duration_min;
    rules->interval_min = 0;
    rules->horizon_days = 60;
    rules->alignment = BK_ALIGN_CLOCK;
}

static enum bk_err rule_int(const json_t *obj, const char *path,
                            const char *key, int64_t min, int64_t max,
                            struct bk_arena *arena, int *field,
                            struct bk_errbuf *err)
{
    int64_t v = *field;
    enum bk_err e =
        bk_json_int(obj, path, key, false, min, max, arena, &v, NULL, err);
    if (!e)
        *field = (int)v;
    return e;
}

enum bk_err bk_decode_slot_rules(const json_t *obj, const char *path,
                                 struct bk_arena *arena,
                                 struct bk_slot_rules *r, struct bk_errbuf *err)
{
    const json_t *v;
    const char *align;
    enum bk_err e;

    if ((e = rule_int(obj, path, "duration_minutes", 1, 1440, arena,
                      &r->duration_min, err)) ||
        (e = rule_int(obj, path, "buffer_before_minutes", 0, 1440, arena,
                      &r->buffer_before_min, err)) ||
        (e = rule_int(obj, path, "buffer_after_minutes", 0, 1440, arena,
                      &r->buffer_after_min, err)) ||
        (e = rule_int(obj, path, "minimum_notice_minutes", 0, 525600, arena,
                      &r->notice_min, err)) ||
        (e = rule_int(obj, path, "horizon_days", 1, 3650, arena,
                      &r->horizon_days, err)))
        return e;
    /* interval and per-day limit: null means "the default" / "no limit". */
    v = json_object_get(obj, "slot_interval_minutes");
    if (v && json_is_null(v))
        r->interval_min = 0;
    else if ((e = rule_int(obj, path, "slot_interval_minutes", 1, 1440, arena,
                           &r->interval_min, err)))
        return e;
    v = json_object_get(obj, "max_per_day");
    if (v && json_is_null(v))
        r->max_per_day = 0;
    else if ((e = rule_int(obj, path, "max_per_day", 1, 1000, arena,
                           &r->max_per_day, err)))
        return e;
    if ((e = bk_json_str(obj, path, "slot_alignment", false, 16, false, arena,
                         &align, err)))
        return e;
    if (align) {
        if (strcmp(align, "clock") == 0)
            r->alignment = BK_ALIGN_CLOCK;
        else if (strcmp(align, "range_start") == 0)
            r->alignment = BK_ALIGN_RANGE_START;
        else
            return bk_fail_field(err, BK_E_INVALID,
                                 bk_json_path(arena, path, "slot_alignment"),
                                 "must be \"clock\" or \"range_start\"");
    }
    return BK_OK;
}

static enum bk_err decode_price(const json_t *obj, struct bk_arena *arena,
                                struct bk_event_type *et, struct bk_errbuf *err)
{
    static const char *const keys[] = {"amount", "currency", NULL};
    const json_t *v = json_object_get(obj, "price");
    const char *cur;
    int64_t amount = 0;
    enum bk_err e;

    if (!v)
        return BK_OK;
    if (json_is_null(v)) {
        et->has_price = false;
        et->price_minor = 0;
        et->currency[0] = '\0';
        return BK_OK;
    }
    if (!json_is_object(v))
        return bk_fail_field(err, BK_E_INVALID, "price",
                             "must be {\"amount\", \"currency\"} or null");
    if ((e = bk_json_only(v, "price", keys, arena, err)) ||
        (e = bk_json_int(v, "price", "amount", true, 0, 100000000000LL, arena,
                         &amount, NULL, err)) ||
        (e = bk_json_str(v, "price", "currency", true, 3, false, arena, &cur,
                         err)))
        return e;
    if (strlen(cur) != 3 || cur[0] < 'A' || cur[0] > 'Z' || cur[1] < 'A' ||
        cur[1] > 'Z' || cur[2] < 'A' || cur[2] > 'Z')
        return bk_fail_field(err, BK_E_INVALID, "price.currency",
                             "must be an ISO 4217 code in upper case (EUR)");
    et->has_price = true;
    et->price_minor = amount;
    memcpy(et->currency, cur, 4);
    return BK_OK;
}

/* "refund_policy": {"full_refund_until_hours", "late_refund_percent"},
 * both required; null puts back the default. */
static enum bk_err decode_refund_policy(const json_t *obj,
                                        struct bk_arena *arena,
                                        struct bk_event_type *et,
                                        struct bk_errbuf *err)
{
    static const char *const keys[] = {"full_refund_until_hours",
                                       "late_refund_percent", NULL};
    const json_t *v = json_object_get(obj, "refund_policy");
    int64_t hours = 0, percent = 0;
    enum bk_err e;

    if (!v)
        return BK_OK;
    if (json_is_null(v)) {
        et->has_refund_policy = true;
        et->refund_full_hours = BK_DEFAULT_REFUND_FULL_HOURS;
        et->refund_late_percent = BK_DEFAULT_REFUND_LATE_PERCENT;
        return BK_OK;
    }
    if (!json_is_object(v))
        return bk_fail_field(err, BK_E_INVALID, "refund_policy",
                             "must be {\"full_refund_until_hours\", "
                             "\"late_refund_percent\"} or null");
    if ((e = bk_json_only(v, "refund_policy", keys, arena, err)) ||
        (e = bk_json_int(v, "refund_policy", "full_refund_until_hours", true, 0,
                         8760, arena, &hours, NULL, err)) ||
        (e = bk_json_int(v, "refund_policy", "late_refund_percent", true, 0,
                         100, arena, &percent, NULL, err)))
        return e;
    et->has_refund_policy = true;
    et->refund_full_hours = (int)hours;
    et->refund_late_percent = (int)percent;
    return BK_OK;
}

/* "reminders_minutes": [1440, 60]: distinct integers, 1..60 days. */
static enum bk_err decode_reminders(const json_t *obj, struct bk_event_type *et,
                                    struct bk_errbuf *err)
{
    const json_t *v = json_object_get(obj, "reminders_minutes");
    size_t n;

    if (!v)
        return BK_OK;
    if (!json_is_array(v))
        return bk_fail_field(err, BK_E_INVALID, "reminders_minutes",
                             "must be an array of minutes before the start");
    n = json_array_size(v);
    if (n > BK_MAX_REMINDERS)
        return bk_fail_field(err, BK_E_INVALID, "reminders_minutes",
                             "must have at most %d entries", BK_MAX_REMINDERS);
    for (size_t i = 0; i < n; i++) {
        const json_t *m = json_array_get(v, i);
        json_int_t x = json_is_integer(m) ? json_integer_value(m) : 0;

        if (x < 1 || x > BK_MAX_REMINDER_MIN)
            return bk_fail_field(err, BK_E_INVALID, "reminders_minutes",
                                 "entries must be integers from 1 to %d "
                                 "(60 days)",
                                 BK_MAX_REMINDER_MIN);
        for (size_t j = 0; j < i; j++)
            if (et->reminders_min[j] == (int)x)
                return bk_fail_field(err, BK_E_INVALID, "reminders_minutes",
                                     "has %d twice", (int)x);
        et->reminders_min[i] = (int)x;
    }
    et->n_reminders = (int)n;
    et->has_reminders = true;
    return BK_OK;
}

static enum bk_err decode_location(const json_t *obj, struct bk_arena *arena,
                                   struct bk_event_type *et,
                                   struct bk_errbuf *err)
{
    static const char *const keys[] = {"kind", "value", NULL};
    const json_t *v = json_object_get(obj, "location");
    const char *kind, *value;
    int k;
    enum bk_err e;

    if (!v)
        return BK_OK;
    if (json_is_null(v)) {
        et->location_kind = BK_LOCATION_NONE;
        et->location_value = NULL;
        return BK_OK;
    }
    if (!json_is_object(v))
        return bk_fail_field(err, BK_E_INVALID, "location",
                             "must be {\"kind\", \"value\"} or null");
    if ((e = bk_json_only(v, "location", keys, arena, err)) ||
        (e = bk_json_str(v, "location", "kind", true, 16, false, arena, &kind,
                         err)) ||
        (e = bk_json_str(v, "location", "value", false, BK_MAX_URL, false,
                         arena, &value, err)))
        return e;
    k = bk_location_kind_parse(kind);
    if (k <= 0)
        return bk_fail_field(err, BK_E_INVALID, "location.kind",
                             "must be \"video\", \"in_person\", \"phone\" "
                             "or \"zoom\"");
    et->location_kind = (enum bk_location_kind)k;
    et->location_value = value;
    return BK_OK;
}

/* external_ids: {provider: id} replacing the event type's whole map, or
 * null for none. Providers must be ones this build knows
 * (bk_webhooks_provider_known); ids are bounded, printable text. */
static enum bk_err decode_external_ids(const json_t *obj,
                                       struct bk_arena *arena,
                                       struct bk_event_type *et,
                                       struct bk_errbuf *err)
{
    const json_t *v = json_object_get(obj, "external_ids");
    const char *provider;
    json_t *id;
    enum bk_err e;

    if (!v)
        return BK_OK;
    et->n_external_ids = 0;
    if (json_is_null(v))
        return BK_OK;
    if (!json_is_object(v))
        return bk_fail_field(err, BK_E_INVALID, "external_ids",
                             "must be an object of provider names to ids, or "
                             "null");
    if (json_object_size(v) > BK_MAX_EXTERNAL_IDS)
        return bk_fail_field(err, BK_E_INVALID, "external_ids",
                             "must name at most %d providers",
                             BK_MAX_EXTERNAL_IDS);
    json_object_foreach((json_t *)v, provider, id)
    {
        const char *s, *path;
        if (!bk_provider_name_valid(provider) ||
            !bk_webhooks_provider_known(provider))
            return bk_fail_field(err, BK_E_INVALID, "external_ids",
                                 "keys must be provider names this server "
                                 "knows (%s)",
                                 bk_webhooks_provider_names(arena));
        path = bk_json_path(arena, "external_ids", provider);
        if (!json_is_string(id))
            return bk_fail_field(err, BK_E_INVALID, path,
                                 "must be the provider's id as a string");
        if ((e = bk_json_str(v, "external_ids", provider, true,
                             BK_MAX_EXTERNAL_ID, false, arena, &s, err)))
            return e;
        if (!bk_external_id_valid(s))
            return bk_fail_field(err, BK_E_INVALID, path,
                                 "must be 1-%d characters without control "
                                 "characters or surrounding spaces",
                                 BK_MAX_EXTERNAL_ID);
        if (bk_event_type_external_set(et, provider, s) != BK_OK)
            return bk_fail_field(err, BK_E_INVALID, "external_ids",
                                 "must name at most %d providers",
                                 BK_MAX_EXTERNAL_IDS);
    }
    return BK_OK;
}

/* calcom_event_type_id (deprecated): external_ids.calcom as an integer. */
static enum bk_err decode_calcom_alias(const json_t *obj,
                                       struct bk_arena *arena,
                                       struct bk_event_type *et,
                                       struct bk_errbuf *err)
{
    const json_t *v = json_object_get(obj, "calcom_event_type_id");
    const json_t *ids = json_object_get(obj, "external_ids");
    const char *id = NULL, *given;
    int64_t n = 0;
    bool present;
    enum bk_err e;

    if (!v)
        return BK_OK;
    if (!json_is_null(v)) {
        if ((e = bk_json_int(obj, "", "calcom_event_type_id", false, 1,
                             INT64_MAX, arena, &n, &present, err)))
            return e;
        id = bk_arena_printf(arena, "%lld", (long long)n);
    }
    /* Both given: they must say the same. */
    if (json_is_object(ids)) {
        given = bk_event_type_external_id(et, "calcom");
        if (!(id && given ? strcmp(id, given) == 0 : !id && !given))
            return bk_fail_field(err, BK_E_INVALID, "calcom_event_type_id",
                                 "disagrees with external_ids.calcom (it is "
                                 "a deprecated alias of it: send one)");
    }
    if (bk_event_type_external_set(et, "calcom", id) != BK_OK)
        return bk_fail_field(err, BK_E_INVALID, "external_ids",
                             "must name at most %d providers",
                             BK_MAX_EXTERNAL_IDS);
    return BK_OK;
}

enum bk_err bk_decode_event_type(const json_t *obj, bool create,
                                 struct bk_arena *arena,
                                 struct bk_event_type *et,
                                 const char **host_slug, struct bk_errbuf *err)
{
    static const char *const keys[] = {"slug",
                                       "title",
                                       "description",
                                       "host",
                                       "duration_minutes",
                                       "slot_interval_minutes",
                                       "buffer_before_minutes",
                                       "buffer_after_minutes",
                                       "minimum_notice_minutes",
                                       "horizon_days",
                                       "max_per_day",
                                       "slot_alignment",
                                       "price",
                                       "location",
                                       "active",
                                       "external_ids",
                                       "calcom_event_type_id",
                                       "reminders_minutes",
                                       "refund_policy",
                                       "questions",
                                       NULL};
    const char *s;
    enum bk_err e;

    *host_slug = NULL;
    if ((e = bk_json_only(obj, "", keys, arena, err)))
        return e;
    if ((e = bk_json_str(obj, "", "slug", create, BK_MAX_SLUG, false, arena, &s,
                         err)))
        return e;
    if (s) {
        if (!create && strcmp(s, et->slug) != 0)
            return bk_fail_field(err, BK_E_INVALID, "slug",
                                 "cannot be changed");
        if (!bk_slug_valid(s, BK_MAX_SLUG))
            return bk_fail_field(err, BK_E_INVALID, "slug",
                                 "must be 1-64 characters a-z, 0-9 and '-'");
        et->slug = s;
    }
    if ((e = bk_json_str(obj, "", "title", create, BK_MAX_TITLE, false, arena,
                         &s, err)))
        return e;
    if (s) {
        if (!*s)
            return bk_fail_field(err, BK_E_INVALID, "title",
                                 "must not be empty");
        et->title = s;
    }
    if (json_object_get(obj, "description")) {
        if ((e = bk_json_str(obj, "", "description", false, BK_MAX_TEXT, true,
                             arena, &s, err)))
            return e;
        et->description = s;
    }
    if ((e = bk_json_str(obj, "", "host", create, BK_MAX_SLUG, false, arena,
                         host_slug, err)))
        return e;
    if (create && !json_object_get(obj, "duration_minutes"))
        return bk_fail_field(err, BK_E_INVALID, "duration_minutes",
                             "is required");
    if ((e = bk_decode_slot_rules(obj, "", arena, &et->rules, err)) ||
        (e = bk_slot_rules_check(&et->rules, err)) ||
        (e = decode_price(obj, arena, et, err)) ||
        (e = decode_location(obj, arena, et, err)) ||
        (e = decode_reminders(obj, et, err)) ||
        (e = decode_refund_policy(obj, arena, et, err)) ||
        (json_object_get(obj, "questions") &&
         (e = bk_questions_decode(json_object_get(obj, "questions"), arena,
                                  &et->questions, err))) ||
        (e = bk_json_bool(obj, "", "active", false, arena, &et->active, NULL,
                          err)) ||
        (e = decode_external_ids(obj, arena, et, err)) ||
        (e = decode_calcom_alias(obj, arena, et, err)))
        return e;
    return BK_OK;
}

enum bk_err bk_decode_host(const json_t *obj, bool create,
                           struct bk_arena *arena, struct bk_host *h,
                           struct bk_errbuf *err)
{
    return bk_fields_decode(&bk_resource_host, obj, create, arena, h, err);
}
