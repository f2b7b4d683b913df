/* api/fields.c — decoding, rendering and describing records through their
 * field tables. The tables themselves are the resources' (hosts.c,
 * clients.c); the messages are the ones API.md and the tests know. */
#include <stdio.h>
#include <string.h>

#include "api/decode.h"
#include "api/fields.h"
#include "api/json.h"
#include "api/render.h"
#include "base/str.h"
#include "base/banned.h"

#define AT(rec, f, type) ((type *)(void *)((char *)(rec) + (f)->offset))
#define AT_C(rec, f, type)                                                     \
    ((const type *)(const void *)((const char *)(rec) + (f)->offset))

static bool writable(const struct bk_field *f, bool create)
{
    return create ? (f->flags & BK_FIELD_CREATE) != 0
                  : (f->flags & (BK_FIELD_UPDATE | BK_FIELD_FIXED)) != 0;
}

static int n_names(const char *const *names)
{
    int n = 0;
    while (names && names[n])
        n++;
    return n;
}

/* "must be a, b or c" from an enum's names. */
static const char *enum_hint(struct bk_arena *arena, const char *const *names)
{
    int n = n_names(names);
    const char *s = "must be";

    for (int i = 0; i < n; i++)
        s = bk_arena_printf(arena, "%s%s%s", s,
                            i == 0       ? " "
                            : i == n - 1 ? " or "
                                         : ", ",
                            names[i]);
    return s;
}

/* An absolute https URL a page can put in an attribute: "https://", a host
 * of [A-Za-z0-9.-] (an optional :port), then printable ASCII without
 * spaces, quotes, backslashes or angle brackets. */
static bool https_url_valid(const char *s)
{
    const char *p;

    if (strncmp(s, "https://", 8) != 0)
        return false;
    p = s + 8;
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
          (*p >= '0' && *p <= '9')))
        return false;
    for (; *p && *p != '/' && *p != '?' && *p != '#'; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == ':'))
            return false;
    for (; *p; p++)
        if (*p <= ' ' || *p > '~' || strchr("\"'<>\\`", *p))
            return false;
    return true;
}

static enum bk_err decode_string(const struct bk_field *f, const json_t *obj,
                                 bool create, struct bk_arena *arena, void *rec,
                                 struct bk_errbuf *err)
{
    bool required = create && (f->flags & BK_FIELD_REQUIRED);
    const json_t *v = json_object_get(obj, f->name);
    const char **at = AT(rec, f, const char *);
    const char *s;
    enum bk_err e;

    if (f->text == BK_TEXT_TIMEZONE)
        e = bk_decode_timezone(obj, "", f->name, required, arena, &s, err);
    else
        e = bk_json_str(obj, "", f->name, required, f->max_len,
                        (f->flags & BK_FIELD_MULTILINE) != 0, arena, &s, err);
    if (e)
        return e;
    if (!s) {
        /* null clears a nullable field; elsewhere it is as if absent. */
        if (v && (f->flags & BK_FIELD_NULLABLE))
            *at = NULL;
        return BK_OK;
    }
    if (!create && (f->flags & BK_FIELD_FIXED) &&
        strcmp(s, *at ? *at : "") != 0)
        return bk_fail_field(err, BK_E_INVALID, f->name, "cannot be changed");
    if ((f->flags & BK_FIELD_NONEMPTY) && !*s)
        return bk_fail_field(err, BK_E_INVALID, f->name, "must not be empty");
    if (f->text == BK_TEXT_SLUG && !bk_slug_valid(s, f->max_len))
        return bk_fail_field(err, BK_E_INVALID, f->name,
                             "must be 1-%zu characters a-z, 0-9 and '-'",
                             f->max_len);
    if (f->text == BK_TEXT_EMAIL && !bk_email_valid(s))
        return bk_fail_field(err, BK_E_INVALID, f->name,
                             "must be an email address");
    if (f->text == BK_TEXT_PHONE && *s && !bk_phone_valid(s, f->max_len))
        return bk_fail_field(err, BK_E_INVALID, f->name,
                             "must be a phone number: 3-20 digits, with "
                             "spaces and + - ( ) . / only (a '+' first)");
    if (f->text == BK_TEXT_HTTPS_URL && *s && !https_url_valid(s))
        return bk_fail_field(err, BK_E_INVALID, f->name,
                             "must be an https:// URL with a host and no "
                             "spaces, quotes or angle brackets");
    *at = (f->flags & BK_FIELD_EMPTY_NULL) && !*s ? NULL : s;
    return BK_OK;
}

static enum bk_err decode_field(const struct bk_field *f, const json_t *obj,
                                bool create, struct bk_arena *arena, void *rec,
                                struct bk_errbuf *err)
{
    bool required = create && (f->flags & BK_FIELD_REQUIRED);
    const char *s;
    int64_t v;
    bool present;
    enum bk_err e;

    switch (f->type) {
    case BK_FIELD_STRING:
        return decode_string(f, obj, create, arena, rec, err);
    case BK_FIELD_INT:
        if ((e = bk_json_int(obj, "", f->name, required, f->min, f->max, arena,
                             &v, &present, err)))
            return e;
        if (present)
            *AT(rec, f, int) = (int)v;
        return BK_OK;
    case BK_FIELD_BOOL:
        return bk_json_bool(obj, "", f->name, required, arena, AT(rec, f, bool),
                            NULL, err);
    case BK_FIELD_ENUM: {
        int i;
        if ((e = bk_json_str(obj, "", f->name, required, f->max_len, false,
                             arena, &s, err)) ||
            !s)
            return e;
        i = bk_name_index(f->names, n_names(f->names), s);
        if (i < 0)
            return bk_fail_field(err, BK_E_INVALID, f->name, "%s",
                                 enum_hint(arena, f->names));
        *AT(rec, f, int) = i;
        return BK_OK;
    }
    case BK_FIELD_INSTANT:
        if ((e = bk_decode_instant(obj, "", f->name, required, arena, &v,
                                   &present, err)))
            return e;
        if (present)
            *AT(rec, f, int64_t) = v;
        return BK_OK;
    case BK_FIELD_CUSTOM:
        return f->codec && f->codec->decode
                   ? f->codec->decode(f, obj, create, arena, rec, err)
                   : BK_OK;
    }
    return bk_fail(err, BK_E_INTERNAL, "field %s has no type", f->name);
}

enum bk_err bk_fields_decode(const struct bk_resource *r, const json_t *obj,
                             bool create, struct bk_arena *arena, void *rec,
                             struct bk_errbuf *err)
{
    const char *allowed[BK_FIELDS_MAX + 1];
    size_t n = 0;
    enum bk_err e;

    if (!json_is_object(obj))
        return bk_fail(err, BK_E_INVALID, "the body must be a JSON object");
    if (r->n_fields > BK_FIELDS_MAX)
        return bk_fail(err, BK_E_INTERNAL, "%s has too many fields", r->name);
    for (size_t i = 0; i < r->n_fields; i++)
        if (writable(&r->fields[i], create))
            allowed[n++] = r->fields[i].name;
    allowed[n] = NULL;
    if ((e = bk_json_only(obj, "", allowed, arena, err)))
        return e;
    for (size_t i = 0; i < r->n_fields; i++)
        if (writable(&r->fields[i], create) &&
            (e = decode_field(&r->fields[i], obj, create, arena, rec, err)))
            return e;
    return BK_OK;
}

static json_t *render_field(const struct bk_field *f, const void *rec)
{
    switch (f->type) {
    case BK_FIELD_STRING: {
        const char *s = *AT_C(rec, f, char *);
        if (!s)
            return (f->flags & BK_FIELD_NULLABLE) ? json_null() : NULL;
        return json_string(s);
    }
    case BK_FIELD_INT:
        return json_integer(*AT_C(rec, f, int));
    case BK_FIELD_BOOL:
        return json_boolean(*AT_C(rec, f, bool));
    case BK_FIELD_ENUM: {
        int i = *AT_C(rec, f, int);
        return i >= 0 && i < n_names(f->names) ? json_string(f->names[i])
                                               : NULL;
    }
    case BK_FIELD_INSTANT:
        return bk_render_instant(*AT_C(rec, f, int64_t), NULL);
    case BK_FIELD_CUSTOM:
        return f->codec && f->codec->render ? f->codec->render(f, rec) : NULL;
    }
    return NULL;
}

json_t *bk_fields_render(const struct bk_resource *r, const void *rec,
                         bool admin)
{
    json_t *o = json_object();

    for (size_t i = 0; i < r->n_fields; i++) {
        const struct bk_field *f = &r->fields[i];
        json_t *v;
        if ((f->flags & BK_FIELD_ADMIN) && !admin)
            continue;
        if (f->type == BK_FIELD_CUSTOM && !(f->codec && f->codec->render))
            continue;
        v = render_field(f, rec);
        if (!v || json_object_set_new(o, f->name, v) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

static json_t *type_of(const char *type, bool nullable)
{
    return nullable ? json_pack("[s, s]", type, "null") : json_string(type);
}

static json_t *field_schema(const struct bk_field *f, bool input)
{
    bool nullable = (f->flags & BK_FIELD_NULLABLE) != 0;
    json_t *s = json_object();
    json_t *names;

    switch (f->type) {
    case BK_FIELD_STRING:
        json_object_set_new(s, "type", type_of("string", nullable));
        if (f->text == BK_TEXT_EMAIL)
            json_object_set_new(s, "format", json_string("email"));
        if (f->text == BK_TEXT_HTTPS_URL) {
            json_object_set_new(s, "format", json_string("uri"));
            json_object_set_new(s, "pattern", json_string("^https://"));
        }
        if (f->text == BK_TEXT_PHONE)
            json_object_set_new(s, "pattern", json_string("^[+]?[0-9 ().-]*$"));
        if (f->text == BK_TEXT_SLUG && f->max_len >= 2) {
            /* bk_slug_valid: no '-' first or last. */
            char pat[64];
            snprintf(pat, sizeof(pat), "^[a-z0-9]([a-z0-9-]{0,%zu}[a-z0-9])?$",
                     f->max_len - 2);
            json_object_set_new(s, "pattern", json_string(pat));
        }
        if (f->pattern)
            json_object_set_new(s, "pattern", json_string(f->pattern));
        if (input && (f->flags & BK_FIELD_NONEMPTY))
            json_object_set_new(s, "minLength", json_integer(1));
        if (f->max_len)
            json_object_set_new(s, "maxLength",
                                json_integer((json_int_t)f->max_len));
        break;
    case BK_FIELD_INT:
        json_object_set_new(s, "type", type_of("integer", nullable));
        json_object_set_new(s, "minimum", json_integer(f->min));
        json_object_set_new(s, "maximum", json_integer(f->max));
        break;
    case BK_FIELD_BOOL:
        json_object_set_new(s, "type", type_of("boolean", nullable));
        break;
    case BK_FIELD_ENUM:
        names = json_array();
        for (int i = 0; f->names && f->names[i]; i++)
            json_array_append_new(names, json_string(f->names[i]));
        json_object_set_new(s, "type", type_of("string", nullable));
        json_object_set_new(s, "enum", names);
        break;
    case BK_FIELD_INSTANT:
        json_object_set_new(s, "type", type_of("string", nullable));
        json_object_set_new(s, "format", json_string("date-time"));
        if (!input) /* answers are in UTC */
            json_object_set_new(s, "pattern", json_string("Z$"));
        break;
    case BK_FIELD_CUSTOM:
        json_decref(s);
        return f->codec && f->codec->schema ? f->codec->schema(f, input)
                                            : json_object();
    }
    return s;
}

json_t *bk_fields_schema(const struct bk_resource *r,
                         enum bk_fields_schema which)
{
    json_t *props = json_object(), *required = json_array();
    bool input = which != BK_SCHEMA_OUTPUT;

    for (size_t i = 0; i < r->n_fields; i++) {
        const struct bk_field *f = &r->fields[i];
        if (input && !writable(f, which == BK_SCHEMA_CREATE))
            continue;
        if (!input && f->type == BK_FIELD_CUSTOM &&
            !(f->codec && f->codec->render))
            continue;
        json_object_set_new(props, f->name, field_schema(f, input));
        if (which == BK_SCHEMA_OUTPUT   ? !(f->flags & BK_FIELD_ADMIN)
            : which == BK_SCHEMA_CREATE ? (f->flags & BK_FIELD_REQUIRED) != 0
                                        : false)
            json_array_append_new(required, json_string(f->name));
    }
    return json_pack("{s:s, s:o, s:o, s:b}", "type", "object", "properties",
                     props, "required", required, "additionalProperties", 0);
}
