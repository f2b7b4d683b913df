/* tests/unit/api/test_fields.c — the field-table codec (api/fields.c):
 * decoding with malformed, oversized and hostile input, rendering, and the
 * tables' schemas against docs/openapi.json. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/fields.h"
#include "api/json.h"
#include "api/render.h"
#include "base/arena.h"
#include "core/booking.h"
#include "core/ledger.h"

static struct bk_arena arena;
/* Parsed bodies: decoded strings are borrowed from them until teardown. */
static json_t *kept[256];
static size_t n_kept;

static int setup(void **state)
{
    (void)state;
    bk_arena_init(&arena);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    while (n_kept)
        json_decref(kept[--n_kept]);
    bk_arena_release(&arena);
    return 0;
}

static json_t *parse(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    assert_non_null(v);
    return v;
}

/* Decodes text onto rec; returns the error, with err filled. */
static enum bk_err decode(const struct bk_resource *r, const char *text,
                          bool create, void *rec, struct bk_errbuf *err)
{
    json_t *v = parse(text);
    enum bk_err e;

    bk_errbuf_clear(err);
    e = bk_fields_decode(r, v, create, &arena, rec, err);
    assert_true(n_kept < sizeof(kept) / sizeof(kept[0]));
    kept[n_kept++] = v;
    return e;
}

#define HOST_OK                                                                \
    "{\"slug\":\"ada\",\"name\":\"Ada\",\"email\":\"ada@example.com\","        \
    "\"timezone\":\"Europe/Berlin\"}"

static void expect_invalid(const struct bk_resource *r, const char *text,
                           bool create, void *rec, const char *field,
                           const char *msg)
{
    struct bk_errbuf err;
    json_t *v = parse(text);
    enum bk_err e;

    bk_errbuf_clear(&err);
    e = bk_fields_decode(r, v, create, &arena, rec, &err);
    if (e != BK_E_INVALID || strcmp(err.field, field) != 0 ||
        strstr(err.msg, msg) == NULL)
        fail_msg("%s: got %d field '%s' msg '%s'; want field '%s' msg '%s'",
                 text, (int)e, err.field, err.msg, field, msg);
    assert_true(n_kept < sizeof(kept) / sizeof(kept[0]));
    kept[n_kept++] = v; /* rec may borrow from it */
}

static void test_host_create_and_render_bytes(void **state)
{
    struct bk_host h;
    struct bk_errbuf err;
    json_t *v = parse(HOST_OK), *o;
    char *text;

    (void)state;
    memset(&h, 0, sizeof(h));
    bk_errbuf_clear(&err);
    assert_int_equal(
        bk_fields_decode(&bk_resource_host, v, true, &arena, &h, &err), BK_OK);
    assert_string_equal(h.slug, "ada");
    assert_string_equal(h.timezone, "Europe/Berlin");
    h.created_utc = 0;
    h.updated_utc = 86400;
    o = bk_render_host(&h);
    text = bk_json_dump(&arena, o, NULL);
    /* The bytes the API has always sent, in this order. */
    assert_string_equal(text,
                        "{\"slug\":\"ada\",\"name\":\"Ada\",\"email\":\"ada@"
                        "example.com\",\"timezone\":\"Europe/Berlin\","
                        "\"photo_url\":null,\"bio\":null,"
                        "\"created_at\":\"1970-01-01T00:00:00Z\","
                        "\"updated_at\":\"1970-01-02T00:00:00Z\"}");
    json_decref(o);
    json_decref(v);
}

static void test_host_refuses_bad_input(void **state)
{
    struct bk_host h;
    char big[400], key[300], body[1024];

    (void)state;
    memset(&h, 0, sizeof(h));
    expect_invalid(&bk_resource_host, "{\"slug\":\"a\",\"extra\":1}", true, &h,
                   "extra", "unknown field");
    expect_invalid(&bk_resource_host, "{\"name\":\"A\"}", true, &h, "slug",
                   "is required");
    expect_invalid(&bk_resource_host,
                   "{\"slug\":\"a\",\"name\":\"A\",\"email\":\"a@b.co\"}", true,
                   &h, "timezone", "is required");
    expect_invalid(&bk_resource_host, "{\"slug\":null}", true, &h, "slug",
                   "is required");
    expect_invalid(&bk_resource_host, "{\"slug\":5}", true, &h, "slug",
                   "must be a string");
    expect_invalid(&bk_resource_host, "{\"slug\":[\"a\"]}", true, &h, "slug",
                   "must be a string");
    expect_invalid(&bk_resource_host, "{\"slug\":\"-a\"}", true, &h, "slug",
                   "must be 1-64 characters");
    expect_invalid(&bk_resource_host, "{\"slug\":\"A\"}", true, &h, "slug",
                   "must be 1-64 characters");
    expect_invalid(&bk_resource_host, "{\"slug\":\"a\",\"name\":\"\"}", true,
                   &h, "name", "must not be empty");
    expect_invalid(&bk_resource_host, "{\"slug\":\"a\",\"name\":\"A\\u0007\"}",
                   true, &h, "name", "control characters");
    expect_invalid(&bk_resource_host,
                   "{\"slug\":\"a\",\"name\":\"A\",\"email\":\"nope\"}", true,
                   &h, "email", "must be an email address");
    expect_invalid(&bk_resource_host,
                   "{\"slug\":\"a\",\"name\":\"A\",\"email\":\"a@b.co\","
                   "\"timezone\":\"Mars/Olympus\"}",
                   true, &h, "timezone", "unknown time zone");
    /* Oversized: 201 bytes of name, 65 of slug. */
    memset(big, 'x', 201);
    big[201] = '\0';
    snprintf(body, sizeof(body), "{\"slug\":\"a\",\"name\":\"%s\"}", big);
    expect_invalid(&bk_resource_host, body, true, &h, "name",
                   "at most 200 bytes");
    big[200] = '\0'; /* exactly the limit is fine */
    snprintf(body, sizeof(body),
             "{\"slug\":\"a\",\"name\":\"%s\",\"email\":\"a@b.co\","
             "\"timezone\":\"UTC\"}",
             big);
    {
        struct bk_errbuf err;
        assert_int_equal(decode(&bk_resource_host, body, true, &h, &err),
                         BK_OK);
        assert_int_equal(strlen(h.name), 200);
    }
    memset(big, 'a', 65);
    big[65] = '\0';
    snprintf(body, sizeof(body), "{\"slug\":\"%s\"}", big);
    expect_invalid(&bk_resource_host, body, true, &h, "slug", "at most 64");
    /* Multibyte text counts bytes: 100 x U+00E9 is 200 bytes, 101 is not. */
    {
        size_t n =
            (size_t)snprintf(body, sizeof(body), "{\"slug\":\"a\",\"name\":\"");
        for (int i = 0; i < 101; i++, n += 2)
            memcpy(body + n, "\xc3\xa9", 2);
        memcpy(body + n, "\"}", 3);
        expect_invalid(&bk_resource_host, body, true, &h, "name",
                       "at most 200 bytes");
    }
    /* A hostile unknown key: long and with control characters; the error
     * shows at most 64 bytes of it, controls replaced. */
    memset(key, 'k', 200);
    key[0] = '\\';
    key[1] = 'n';
    key[200] = '\0';
    snprintf(body, sizeof(body), "{\"%s\":1}", key);
    {
        struct bk_errbuf err;
        assert_int_equal(decode(&bk_resource_host, body, true, &h, &err),
                         BK_E_INVALID);
        assert_string_equal(err.msg, "unknown field");
        assert_int_equal(strlen(err.field), 64);
        assert_int_equal(err.field[0], '?');
    }
}

static void test_host_patch(void **state)
{
    struct bk_host h;
    struct bk_errbuf err;

    (void)state;
    memset(&h, 0, sizeof(h));
    assert_int_equal(decode(&bk_resource_host, HOST_OK, true, &h, &err), BK_OK);
    /* The slug may be given, unchanged; null leaves a field as it is. */
    assert_int_equal(decode(&bk_resource_host,
                            "{\"slug\":\"ada\",\"name\":null,\"email\":"
                            "\"b@example.com\"}",
                            false, &h, &err),
                     BK_OK);
    assert_string_equal(h.name, "Ada");
    assert_string_equal(h.email, "b@example.com");
    assert_int_equal(decode(&bk_resource_host, "{}", false, &h, &err), BK_OK);
    expect_invalid(&bk_resource_host, "{\"slug\":\"bob\"}", false, &h, "slug",
                   "cannot be changed");
    expect_invalid(&bk_resource_host, "{\"created_at\":\"x\"}", false, &h,
                   "created_at", "unknown field");
    expect_invalid(&bk_resource_host, "{\"name\":\"\"}", false, &h, "name",
                   "must not be empty");
}

static void test_not_an_object(void **state)
{
    struct bk_host h;
    struct bk_errbuf err;
    json_t *v = json_array();

    (void)state;
    memset(&h, 0, sizeof(h));
    bk_errbuf_clear(&err);
    assert_int_equal(
        bk_fields_decode(&bk_resource_host, v, true, &arena, &h, &err),
        BK_E_INVALID);
    assert_int_equal(
        bk_fields_decode(&bk_resource_host, NULL, true, &arena, &h, &err),
        BK_E_INVALID);
    json_decref(v);
}

static void test_hostile_bodies(void **state)
{
    static const char *const bad[] = {
        "{\"slug\":\"a\",\"slug\":\"b\"}", /* duplicate key */
        "{\"name\":\"a\\u0000b\"}",        /* NUL */
        "{\"name\":\"\xff\"}",             /* not UTF-8 */
        "{\"name\":",                      /* truncated */
        "",
    };
    char deep[4096];
    size_t n = 0;
    json_t *v;
    struct bk_errbuf err;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = NULL;
        bk_errbuf_clear(&err);
        assert_int_not_equal(
            bk_json_parse_object(bad[i], strlen(bad[i]), &v, &err), BK_OK);
        assert_null(v);
    }
    /* Deep nesting is refused by the parser, not the stack. */
    for (int i = 0; i < 2000; i++)
        deep[n++] = '[';
    deep[n] = '\0';
    v = NULL;
    assert_int_not_equal(bk_json_parse_object(deep, n, &v, &err), BK_OK);
    assert_null(v);
}

static void test_client_patch(void **state)
{
    struct bk_client c;
    struct bk_errbuf err;

    (void)state;
    memset(&c, 0, sizeof(c));
    c.public_id = "cli_aaaaaaaaaaaaaaaa";
    c.email = "a@example.com";
    c.name = "Ada";
    c.timezone = "UTC";
    c.status = BK_CLIENT_ACTIVE;
    /* "" and null clear the name; null clears the zone; null leaves the
     * email (it cannot be cleared). */
    assert_int_equal(decode(&bk_resource_client,
                            "{\"name\":\"\",\"timezone\":null,\"email\":null,"
                            "\"status\":\"inactive\"}",
                            false, &c, &err),
                     BK_OK);
    assert_null(c.name);
    assert_null(c.timezone);
    assert_string_equal(c.email, "a@example.com");
    assert_int_equal(c.status, BK_CLIENT_INACTIVE);
    assert_int_equal(
        decode(&bk_resource_client, "{\"name\":null}", false, &c, &err), BK_OK);
    assert_null(c.name);
    expect_invalid(&bk_resource_client, "{\"status\":\"gone\"}", false, &c,
                   "status", "must be prospect, active or inactive");
    expect_invalid(&bk_resource_client, "{\"status\":\"xxxxxxxxxxxxxxxxx\"}",
                   false, &c, "status", "at most 16 bytes");
    expect_invalid(&bk_resource_client, "{\"status\":1}", false, &c, "status",
                   "must be a string");
    expect_invalid(&bk_resource_client, "{\"id\":\"cli_x\"}", false, &c, "id",
                   "unknown field");
    expect_invalid(&bk_resource_client, "{\"email\":\"x\"}", false, &c, "email",
                   "must be an email address");
    /* Phone: digits, spaces and + - ( ) . only; "" clears it. */
    assert_int_equal(decode(&bk_resource_client,
                            "{\"phone\":\"+49 (30) 123-45.67\","
                            "\"notes\":\"line one\\nline two\\tend\"}",
                            false, &c, &err),
                     BK_OK);
    assert_string_equal(c.phone, "+49 (30) 123-45.67");
    assert_string_equal(c.notes, "line one\nline two\tend");
    assert_int_equal(decode(&bk_resource_client,
                            "{\"phone\":\"\",\"notes\":null}", false, &c, &err),
                     BK_OK);
    assert_null(c.phone);
    assert_null(c.notes);
    expect_invalid(&bk_resource_client, "{\"phone\":\"call me\"}", false, &c,
                   "phone", "must be a phone number");
    expect_invalid(&bk_resource_client, "{\"phone\":\"12\"}", false, &c,
                   "phone", "must be a phone number");
    expect_invalid(&bk_resource_client, "{\"phone\":\"1+23456\"}", false, &c,
                   "phone", "must be a phone number");
    expect_invalid(&bk_resource_client, "{\"phone\":\"<script>1234\"}", false,
                   &c, "phone", "must be a phone number");
    expect_invalid(&bk_resource_client,
                   "{\"phone\":\"12345678901234567890123456789012345678901\"}",
                   false, &c, "phone", "at most 40 bytes");
    expect_invalid(&bk_resource_client, "{\"phone\":\"123\\n456\"}", false, &c,
                   "phone", "control characters");
    expect_invalid(&bk_resource_client, "{\"phone\":123456}", false, &c,
                   "phone", "must be a string");
    expect_invalid(&bk_resource_client, "{\"notes\":\"a\\u0007b\"}", false, &c,
                   "notes", "control characters");
    expect_invalid(&bk_resource_client, "{\"notes\":[\"x\"]}", false, &c,
                   "notes", "must be a string");
    assert_null(c.phone);
    assert_null(c.notes);
    /* Clients are not created through their table: nothing is writable. */
    expect_invalid(&bk_resource_client, "{\"email\":\"a@b.co\"}", true, &c,
                   "email", "unknown field");
}

static void test_client_render(void **state)
{
    struct bk_client c;
    json_t *o;

    (void)state;
    memset(&c, 0, sizeof(c));
    c.public_id = "cli_aaaaaaaaaaaaaaaa";
    c.email = "a@example.com";
    c.status = BK_CLIENT_PROSPECT;
    o = bk_render_client(&c);
    assert_string_equal(bk_json_dump(&arena, o, NULL),
                        "{\"id\":\"cli_aaaaaaaaaaaaaaaa\",\"email\":\"a@"
                        "example.com\",\"name\":null,\"timezone\":null,"
                        "\"phone\":null,\"notes\":null,"
                        "\"status\":\"prospect\",\"created_at\":\"1970-01-"
                        "01T00:00:00Z\",\"updated_at\":\"1970-01-01T00:00:"
                        "00Z\"}");
    json_decref(o);
    /* A value that cannot be rendered fails the whole render. */
    c.email = NULL;
    assert_null(bk_render_client(&c));
    c.email = "a@example.com";
    c.status = (enum bk_client_status)7;
    assert_null(bk_render_client(&c));
    /* The table's status names are core's. */
    for (int i = 0; i < 3; i++) {
        struct bk_errbuf err;
        const char *name = bk_client_status_name((enum bk_client_status)i);
        char body[64];
        snprintf(body, sizeof(body), "{\"status\":\"%s\"}", name);
        assert_int_equal(decode(&bk_resource_client, body, false, &c, &err),
                         BK_OK);
        assert_int_equal((int)c.status, i);
    }
    assert_int_equal(sizeof(enum bk_client_status), sizeof(int));
}

/* A resource of every field type, with a custom codec. */
struct thing {
    int count;
    bool on;
    int64_t at;
    const char *tag;
    int custom_calls;
};

static enum bk_err custom_decode(const struct bk_field *f, const json_t *obj,
                                 bool create, struct bk_arena *a, void *rec,
                                 struct bk_errbuf *err)
{
    struct thing *t = rec;
    (void)f, (void)create, (void)a;
    t->custom_calls++;
    if (json_object_get(obj, "tag") &&
        !json_is_object(json_object_get(obj, "tag")))
        return bk_fail_field(err, BK_E_INVALID, "tag", "must be an object");
    if (json_object_get(obj, "tag"))
        t->tag = "object";
    return BK_OK;
}

static json_t *custom_render(const struct bk_field *f, const void *rec)
{
    const struct thing *t = rec;
    (void)f;
    return t->tag ? json_pack("{s:s}", "kind", t->tag) : json_null();
}

static json_t *custom_schema(const struct bk_field *f, bool input)
{
    (void)f, (void)input;
    return json_pack("{s:[s, s]}", "type", "object", "null");
}

static const struct bk_field_codec tag_codec = {custom_decode, custom_render,
                                                custom_schema};
static const struct bk_field thing_fields[] = {
    {.name = "count",
     .type = BK_FIELD_INT,
     .flags = BK_FIELD_WRITABLE | BK_FIELD_REQUIRED,
     .offset = offsetof(struct thing, count),
     .min = 1,
     .max = 10},
    {.name = "on",
     .type = BK_FIELD_BOOL,
     .flags = BK_FIELD_WRITABLE,
     .offset = offsetof(struct thing, on)},
    {.name = "at",
     .type = BK_FIELD_INSTANT,
     .flags = BK_FIELD_CREATE | BK_FIELD_ADMIN,
     .offset = offsetof(struct thing, at)},
    {.name = "tag",
     .type = BK_FIELD_CUSTOM,
     .flags = BK_FIELD_WRITABLE,
     .codec = &tag_codec},
};
static const struct bk_resource thing = {"Thing", thing_fields, 4};

static void test_every_type_and_a_custom_codec(void **state)
{
    struct thing t;
    struct bk_errbuf err;
    json_t *o, *s;

    (void)state;
    memset(&t, 0, sizeof(t));
    assert_int_equal(decode(&thing,
                            "{\"count\":3,\"on\":true,\"at\":\"2030-01-01T01:"
                            "00:00+01:00\",\"tag\":{}}",
                            true, &t, &err),
                     BK_OK);
    assert_int_equal(t.count, 3);
    assert_true(t.on);
    assert_int_equal(t.at, 1893456000);
    assert_string_equal(t.tag, "object");
    assert_int_equal(t.custom_calls, 1);
    expect_invalid(&thing, "{\"count\":11}", true, &t, "count", "");
    expect_invalid(&thing, "{\"count\":0}", true, &t, "count", "");
    expect_invalid(&thing, "{\"count\":1.5}", true, &t, "count", "");
    expect_invalid(&thing, "{\"count\":\"3\"}", true, &t, "count", "");
    expect_invalid(&thing, "{\"count\":9999999999}", true, &t, "count", "");
    expect_invalid(&thing, "{}", true, &t, "count", "is required");
    expect_invalid(&thing, "{\"count\":1,\"on\":1}", true, &t, "on", "");
    expect_invalid(&thing, "{\"count\":1,\"at\":\"tomorrow\"}", true, &t, "at",
                   "RFC 3339");
    expect_invalid(&thing, "{\"count\":1,\"tag\":[]}", true, &t, "tag",
                   "must be an object");
    expect_invalid(&thing, "{\"at\":\"2030-01-01T00:00:00Z\"}", false, &t, "at",
                   "unknown field");
    /* A failed decode may have changed fields before the bad one. */
    assert_int_equal(t.count, 1);
    t.count = 3;
    /* Admin-only fields are rendered for admins only. */
    o = bk_fields_render(&thing, &t, false);
    assert_string_equal(bk_json_dump(&arena, o, NULL),
                        "{\"count\":3,\"on\":true,\"tag\":{\"kind\":"
                        "\"object\"}}");
    json_decref(o);
    o = bk_fields_render(&thing, &t, true);
    assert_string_equal(json_string_value(json_object_get(o, "at")),
                        "2030-01-01T00:00:00Z");
    json_decref(o);
    /* The schema: required as the table says; admin-only not required. */
    s = bk_fields_schema(&thing, BK_SCHEMA_OUTPUT);
    assert_string_equal(
        bk_json_dump(&arena, json_object_get(s, "required"), NULL),
        "[\"count\",\"on\",\"tag\"]");
    json_decref(s);
    s = bk_fields_schema(&thing, BK_SCHEMA_CREATE);
    assert_string_equal(bk_json_dump(&arena, s, NULL),
                        "{\"type\":\"object\",\"properties\":{\"count\":{"
                        "\"type\":\"integer\",\"minimum\":1,\"maximum\":10},"
                        "\"on\":{\"type\":\"boolean\"},\"at\":{\"type\":"
                        "\"string\",\"format\":\"date-time\"},\"tag\":{"
                        "\"type\":[\"object\",\"null\"]}},\"required\":["
                        "\"count\"],\"additionalProperties\":false}");
    json_decref(s);
}

/* ---- the tables against docs/openapi.json ---------------------------- */

/* s without annotations, with "required" sorted. */
static json_t *normalized(const json_t *s)
{
    static const char *const annotations[] = {"description", "default", "title",
                                              "examples", "example"};
    json_t *out;

    if (json_is_array(s)) {
        out = json_array();
        for (size_t i = 0; i < json_array_size(s); i++)
            json_array_append_new(out, normalized(json_array_get(s, i)));
        return out;
    }
    if (!json_is_object(s))
        return json_deep_copy(s);
    out = json_object();
    {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)s, k, v)
        {
            bool skip = false;
            for (size_t i = 0; i < 5; i++)
                if (strcmp(k, annotations[i]) == 0)
                    skip = true;
            if (strcmp(k, "properties") == 0) {
                json_t *props = json_object();
                const char *pk;
                json_t *pv;
                json_object_foreach(v, pk, pv)
                    json_object_set_new(props, pk, normalized(pv));
                json_object_set_new(out, k, props);
            } else if (!skip) {
                json_object_set_new(out, k, normalized(v));
            }
        }
    }
    {
        json_t *req = json_object_get(out, "required");
        size_t n = json_array_size(req);
        /* Insertion sort: "required" is short. */
        for (size_t i = 1; i < n; i++)
            for (size_t j = i; j > 0; j--) {
                json_t *a = json_array_get(req, j - 1);
                json_t *b = json_array_get(req, j);
                if (strcmp(json_string_value(a), json_string_value(b)) <= 0)
                    break;
                json_incref(a);
                json_incref(b);
                json_array_set_new(req, j - 1, b);
                json_array_set_new(req, j, a);
            }
    }
    return out;
}

static void check_schema(const json_t *doc, const struct bk_resource *r,
                         enum bk_fields_schema which, const char *name)
{
    const json_t *want = json_object_get(
        json_object_get(json_object_get(doc, "components"), "schemas"), name);
    json_t *got = bk_fields_schema(r, which);
    json_t *a, *b;

    if (!want)
        fail_msg("docs/openapi.json has no schema %s", name);
    a = normalized(want);
    b = normalized(got);
    if (!json_equal(a, b))
        fail_msg("docs/openapi.json %s disagrees with the %s table:\n"
                 "document: %s\ntable:    %s",
                 name, r->name, bk_json_dump(&arena, a, NULL),
                 bk_json_dump(&arena, b, NULL));
    json_decref(a);
    json_decref(b);
    json_decref(got);
}

static void test_tables_are_the_document(void **state)
{
    json_error_t je;
    json_t *doc = json_load_file(OPENAPI_JSON, 0, &je);

    (void)state;
    if (!doc)
        fail_msg("%s: %s", OPENAPI_JSON, je.text);
    check_schema(doc, &bk_resource_host, BK_SCHEMA_OUTPUT, "Host");
    check_schema(doc, &bk_resource_host, BK_SCHEMA_CREATE, "HostInput");
    check_schema(doc, &bk_resource_host, BK_SCHEMA_UPDATE, "HostPatch");
    check_schema(doc, &bk_resource_client, BK_SCHEMA_OUTPUT, "Client");
    check_schema(doc, &bk_resource_client, BK_SCHEMA_UPDATE, "ClientPatch");
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_host_create_and_render_bytes,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_refuses_bad_input, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_host_patch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_an_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_bodies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_patch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_render, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_type_and_a_custom_codec,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_tables_are_the_document, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
