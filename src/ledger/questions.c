/* ledger/questions.c — an event type's custom questions and a booking's
 * answers to them (ledger.h "Custom questions"; docs/booking-page.md). */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/str.h"
#include "ledger/questions.h"
#include "base/banned.h"

static const char *const kinds[] = {"text", "select", "checkbox", "phone",
                                    NULL};

/* The question's id: 1..BK_MAX_QUESTION_ID bytes of [a-z0-9_-]. */
static bool id_valid(const char *s)
{
    size_t n = strlen(s);

    if (n < 1 || n > BK_MAX_QUESTION_ID)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-'))
            return false;
    return true;
}

static const char *str_of(const json_t *v, size_t max, bool lines)
{
    const char *s = json_string_value(v);

    if (!s || strlen(s) != json_string_length(v) ||
        !bk_utf8_valid(s, max, lines))
        return NULL;
    return s;
}

static bool only_keys(const json_t *o, const char *const *keys,
                      const char **bad)
{
    const char *k;
    json_t *v;

    json_object_foreach((json_t *)o, k, v)
    {
        int i = 0;

        while (keys[i] && strcmp(keys[i], k) != 0)
            i++;
        if (!keys[i]) {
            *bad = k;
            return false;
        }
    }
    return true;
}

static enum bk_err one_question(const json_t *q, size_t i, json_t *out,
                                struct bk_arena *arena, struct bk_errbuf *err)
{
    static const char *const keys[] = {"id",       "label",   "type",
                                       "required", "options", NULL};
    const char *field = bk_arena_printf(arena, "questions[%zu]", i);
    const char *id, *label, *type, *bad = NULL;
    const json_t *req, *opts;
    json_t *o, *list;
    int k;

    if (!json_is_object(q))
        return bk_fail_field(err, BK_E_INVALID, field, "must be an object");
    if (!only_keys(q, keys, &bad))
        return bk_fail_field(err, BK_E_INVALID,
                             bk_arena_printf(arena, "%s.%.40s", field, bad),
                             "is not a field of a question");
    id = json_string_value(json_object_get(q, "id"));
    if (!id || !id_valid(id))
        return bk_fail_field(err, BK_E_INVALID,
                             bk_arena_printf(arena, "%s.id", field),
                             "must be 1-%d characters a-z, 0-9, '_' and '-'",
                             BK_MAX_QUESTION_ID);
    label = str_of(json_object_get(q, "label"), BK_MAX_QUESTION_LABEL, false);
    if (!label || !*label)
        return bk_fail_field(err, BK_E_INVALID,
                             bk_arena_printf(arena, "%s.label", field),
                             "must be a non-empty text of at most %d bytes",
                             BK_MAX_QUESTION_LABEL);
    type = json_string_value(json_object_get(q, "type"));
    k = bk_name_index(kinds, 4, type);
    if (k < 0)
        return bk_fail_field(err, BK_E_INVALID,
                             bk_arena_printf(arena, "%s.type", field),
                             "must be text, select, checkbox or phone");
    req = json_object_get(q, "required");
    if (req && !json_is_boolean(req))
        return bk_fail_field(err, BK_E_INVALID,
                             bk_arena_printf(arena, "%s.required", field),
                             "must be true or false");
    opts = json_object_get(q, "options");
    o = json_pack("{s:s, s:s, s:s, s:b}", "id", id, "label", label, "type",
                  type, "required", json_is_true(req));
    json_array_append_new(out, o);
    if (k != 1) {
        if (opts)
            return bk_fail_field(err, BK_E_INVALID,
                                 bk_arena_printf(arena, "%s.options", field),
                                 "is only for a select question");
        return BK_OK;
    }
    if (!json_is_array(opts) || json_array_size(opts) < 1 ||
        json_array_size(opts) > BK_MAX_QUESTION_OPTIONS)
        return bk_fail_field(
            err, BK_E_INVALID, bk_arena_printf(arena, "%s.options", field),
            "must be a list of 1 to %d choices", BK_MAX_QUESTION_OPTIONS);
    list = json_array();
    json_object_set_new(o, "options", list);
    for (size_t j = 0; j < json_array_size(opts); j++) {
        const char *s =
            str_of(json_array_get(opts, j), BK_MAX_QUESTION_OPTION, false);

        if (!s || !*s)
            return bk_fail_field(
                err, BK_E_INVALID,
                bk_arena_printf(arena, "%s.options[%zu]", field, j),
                "must be a non-empty text of at most %d bytes",
                BK_MAX_QUESTION_OPTION);
        for (size_t m = 0; m < j; m++)
            if (strcmp(json_string_value(json_array_get(list, m)), s) == 0)
                return bk_fail_field(
                    err, BK_E_INVALID,
                    bk_arena_printf(arena, "%s.options[%zu]", field, j),
                    "is given twice");
        json_array_append_new(list, json_string(s));
    }
    return BK_OK;
}

enum bk_err bk_questions_decode(const json_t *v, struct bk_arena *arena,
                                const char **out, struct bk_errbuf *err)
{
    json_t *list;
    char *s;
    enum bk_err e = BK_OK;

    if (!json_is_array(v) || json_array_size(v) > BK_MAX_QUESTIONS)
        return bk_fail_field(err, BK_E_INVALID, "questions",
                             "must be a list of at most %d questions",
                             BK_MAX_QUESTIONS);
    list = json_array();
    for (size_t i = 0; !e && i < json_array_size(v); i++) {
        e = one_question(json_array_get(v, i), i, list, arena, err);
        for (size_t j = 0; !e && j < i; j++)
            if (strcmp(json_string_value(
                           json_object_get(json_array_get(list, j), "id")),
                       json_string_value(json_object_get(
                           json_array_get(list, i), "id"))) == 0)
                e = bk_fail_field(
                    err, BK_E_INVALID,
                    bk_arena_printf(arena, "questions[%zu].id", i),
                    "is the id of questions[%zu] too", j);
    }
    if (!e) {
        s = json_dumps(list, JSON_COMPACT);
        *out = bk_arena_strdup(arena, s ? s : "[]");
        free(s);
    }
    json_decref(list);
    return e;
}

static enum bk_err answer_one(const json_t *q, const json_t *a,
                              struct bk_arena *arena, json_t *out,
                              struct bk_errbuf *err)
{
    const char *id = json_string_value(json_object_get(q, "id"));
    const char *type = json_string_value(json_object_get(q, "type"));
    bool required = json_is_true(json_object_get(q, "required"));
    const char *field = bk_arena_printf(arena, "answers.%s", id);
    json_t *value = NULL;
    const char *s;

    if (strcmp(type, "checkbox") == 0) {
        if (a && !json_is_boolean(a))
            return bk_fail_field(err, BK_E_INVALID, field,
                                 "must be true or false");
        if (required && !json_is_true(a))
            return bk_fail_field(err, BK_E_INVALID, field, "must be ticked");
        value = json_boolean(json_is_true(a));
    } else {
        bool text = strcmp(type, "text") == 0;

        if (a && !json_is_string(a))
            return bk_fail_field(err, BK_E_INVALID, field, "must be a text");
        s = a ? str_of(a, text ? BK_MAX_ANSWER : BK_MAX_QUESTION_OPTION, text)
              : "";
        if (!s)
            return bk_fail_field(err, BK_E_INVALID, field,
                                 "must be a text of at most %d bytes without "
                                 "control characters",
                                 text ? BK_MAX_ANSWER : BK_MAX_QUESTION_OPTION);
        if (!*s) {
            if (required)
                return bk_fail_field(err, BK_E_INVALID, field,
                                     "must be answered");
            return BK_OK; /* unanswered */
        }
        if (strcmp(type, "phone") == 0 && !bk_phone_valid(s, BK_MAX_PHONE))
            return bk_fail_field(err, BK_E_INVALID, field,
                                 "must be a phone number");
        if (strcmp(type, "select") == 0) {
            const json_t *opts = json_object_get(q, "options");
            size_t j = 0;

            while (j < json_array_size(opts) &&
                   strcmp(json_string_value(json_array_get(opts, j)), s) != 0)
                j++;
            if (j == json_array_size(opts))
                return bk_fail_field(err, BK_E_INVALID, field,
                                     "must be one of the choices");
        }
        value = json_string(s);
    }
    json_array_append_new(out, json_pack("{s:s, s:o, s:s, s:o}", "id", id,
                                         "label", json_object_get(q, "label"),
                                         "type", type, "value", value));
    return BK_OK;
}

enum bk_err bk_answers_check(const char *questions, const json_t *answers,
                             struct bk_arena *arena, const char **out,
                             struct bk_errbuf *err)
{
    json_t *qs = json_loads(questions ? questions : "[]", 0, NULL);
    json_t *list = json_array();
    const char *k;
    json_t *v;
    char *s;
    enum bk_err e = BK_OK;

    *out = NULL;
    if (!json_is_array(qs))
        e = bk_fail(err, BK_E_INTERNAL,
                    "an event type's questions are "
                    "not a list");
    else if (answers && !json_is_object(answers))
        e = bk_fail_field(err, BK_E_INVALID, "answers",
                          "must be an object of answers by question id");
    json_object_foreach((json_t *)answers, k, v)
    {
        size_t i = 0;

        if (e)
            break;
        while (i < json_array_size(qs) &&
               strcmp(json_string_value(
                          json_object_get(json_array_get(qs, i), "id")),
                      k) != 0)
            i++;
        if (i == json_array_size(qs))
            e = bk_fail_field(err, BK_E_INVALID,
                              bk_arena_printf(arena, "answers.%.40s", k),
                              "is not a question of this event type");
    }
    for (size_t i = 0; !e && i < json_array_size(qs); i++) {
        const json_t *q = json_array_get(qs, i);
        e = answer_one(q,
                       json_object_get(answers, json_string_value(
                                                    json_object_get(q, "id"))),
                       arena, list, err);
    }
    if (!e && json_array_size(list)) {
        s = json_dumps(list, JSON_COMPACT);
        *out = s ? bk_arena_strdup(arena, s) : NULL;
        free(s);
    }
    json_decref(list);
    json_decref(qs);
    return e;
}
