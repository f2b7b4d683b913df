/* api/fields.h — one field table per resource: it drives decoding a
 * request body onto a record, rendering a record as JSON and the
 * resource's OpenAPI schemas (checked against docs/openapi.json by
 * tests/unit/api/test_fields.c). What a field cannot say — nested objects,
 * maps — goes through a field's codec hooks. The resources' tables live
 * with their routes (hosts.c, clients.c). */
#ifndef BK_API_FIELDS_H
#define BK_API_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/arena.h"
#include "base/err.h"

enum bk_field_type {
    BK_FIELD_STRING,  /* const char * */
    BK_FIELD_INT,     /* int, in [min, max] */
    BK_FIELD_BOOL,    /* bool */
    BK_FIELD_ENUM,    /* an int-sized enum; JSON: its name in names[] */
    BK_FIELD_INSTANT, /* int64_t UTC seconds; JSON: RFC 3339 in UTC */
    BK_FIELD_CUSTOM,  /* the codec hooks do everything */
};

/* What a string must be, beyond its length and having no control
 * characters. */
enum bk_field_text {
    BK_TEXT_PLAIN = 0,
    BK_TEXT_SLUG,      /* bk_slug_valid; pattern in the schema */
    BK_TEXT_EMAIL,     /* bk_email_valid; format "email" */
    BK_TEXT_TIMEZONE,  /* an IANA name known to the tz database */
    BK_TEXT_HTTPS_URL, /* bk_https_url_valid; format "uri", "^https://" */
    BK_TEXT_PHONE,     /* bk_phone_valid ("" too when EMPTY_NULL); pattern */
};

/* Field flags. NULLABLE: null is a value (NULL) rather than "leave it". */
#define BK_FIELD_REQUIRED   (1u << 0) /* required on create */
#define BK_FIELD_CREATE     (1u << 1) /* may be given on create */
#define BK_FIELD_UPDATE     (1u << 2) /* may be given on update */
#define BK_FIELD_FIXED      (1u << 3) /* on update: must equal the value */
#define BK_FIELD_ADMIN      (1u << 4) /* rendered for admins only */
#define BK_FIELD_NULLABLE   (1u << 5) /* null clears it (and may be shown) */
#define BK_FIELD_NONEMPTY   (1u << 6) /* a given string must not be "" */
#define BK_FIELD_EMPTY_NULL (1u << 7) /* a given "" is stored as NULL */
#define BK_FIELD_MULTILINE  (1u << 8) /* the string may hold \n \r \t */
#define BK_FIELD_WRITABLE   (BK_FIELD_CREATE | BK_FIELD_UPDATE)

struct bk_field;

/* Hooks of a BK_FIELD_CUSTOM field (each may be NULL: then the field is not
 * decoded, rendered or described that way).
 * decode: obj's value of the field (absent keys included) onto rec;
 * create tells POST from PATCH. render: the field's JSON value (owned), or
 * NULL on failure. schema: the field's JSON Schema (owned); input tells
 * request bodies from answers. */
struct bk_field_codec {
    enum bk_err (*decode)(const struct bk_field *f, const json_t *obj,
                          bool create, struct bk_arena *arena, void *rec,
                          struct bk_errbuf *err);
    json_t *(*render)(const struct bk_field *f, const void *rec);
    json_t *(*schema)(const struct bk_field *f, bool input);
};

struct bk_field {
    const char *name; /* the JSON key */
    enum bk_field_type type;
    unsigned flags;
    size_t offset;            /* of the value in the record */
    enum bk_field_text text;  /* BK_FIELD_STRING */
    size_t max_len;           /* STRING and ENUM: bytes; 0 for read-only */
    int64_t min, max;         /* BK_FIELD_INT */
    const char *const *names; /* BK_FIELD_ENUM: by value, NULL-terminated */
    const char *pattern;      /* schema only: a read-only string's shape */
    const struct bk_field_codec *codec; /* BK_FIELD_CUSTOM */
};

/* A resource: its OpenAPI schema name ("Host"; its request bodies are
 * "HostInput" and "HostPatch") and its fields, in rendering order. */
struct bk_resource {
    const char *name;
    const struct bk_field *fields;
    size_t n_fields;
};

#define BK_FIELDS_MAX 64 /* fields of one resource */

/* Decodes the JSON object obj onto rec: POST (create = true: every
 * BK_FIELD_REQUIRED field must be there) or PATCH (only the fields present
 * change). Refuses keys that are no field writable in this mode
 * (BK_E_INVALID "unknown field", err->field = the key), then decodes the
 * fields in table order; the first invalid one is BK_E_INVALID naming it in
 * err->field. Strings are borrowed from obj; rec is only partly changed on
 * error. */
BK_MUST_CHECK enum bk_err bk_fields_decode(const struct bk_resource *r,
                                           const json_t *obj, bool create,
                                           struct bk_arena *arena, void *rec,
                                           struct bk_errbuf *err);

/* rec as a JSON object of every field (admin: with BK_FIELD_ADMIN fields),
 * in table order. Returns an owned json_t, or NULL when a value cannot be
 * rendered (a NULL string in a field that is not nullable). */
json_t *bk_fields_render(const struct bk_resource *r, const void *rec,
                         bool admin);

enum bk_fields_schema {
    BK_SCHEMA_OUTPUT, /* the answer (admin view) */
    BK_SCHEMA_CREATE, /* the POST body */
    BK_SCHEMA_UPDATE, /* the PATCH body */
};

/* The resource's JSON Schema (OpenAPI 3.1) for answers or request bodies:
 * closed objects, "required" and per field type, nullability, maxLength,
 * minLength (input), minimum and maximum, enum, format and pattern.
 * Descriptions are the document's. Returns an owned json_t. */
json_t *bk_fields_schema(const struct bk_resource *r,
                         enum bk_fields_schema which);

/* The resources with tables. */
extern const struct bk_resource bk_resource_host;
extern const struct bk_resource bk_resource_client;

#endif
