/* connectors/google.c — Google's token endpoint and Calendar API v3
 * (google.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/log.h"
#include "base/str.h"
#include "base/time.h"
#include "connectors/google.h"
#include "crypto/crypto.h"
#include "base/banned.h"

#define MAX_PAGES 10

static void request_base(const struct bk_google_config *cfg,
                         struct bk_net_request *r)
{
    memset(r, 0, sizeof(*r));
    r->connect_timeout_ms = cfg->connect_timeout_ms;
    r->timeout_ms = cfg->timeout_ms;
    r->max_response = cfg->max_response;
    r->allow_private = cfg->allow_private;
    r->allow_private_env = "GOOGLE_API_BASE";
    r->provider = "google";
    r->max_redirects = 0;
}

enum bk_err bk_google_grant(const struct bk_google_config *cfg,
                            const char *grant, const char *value,
                            const char *verifier, const char *redirect_uri,
                            int64_t now_ms, struct bk_arena *arena,
                            struct bk_google_tokens *out, struct bk_errbuf *err)
{
    bool code = strcmp(grant, "authorization_code") == 0;
    struct bk_net_request r;
    struct bk_net_response resp;
    const char *body;
    json_t *j;
    json_int_t expires_in = 0;
    const char *access = NULL, *refresh = NULL, *type = NULL;
    enum bk_err e;

    memset(out, 0, sizeof(*out));
    if (!cfg->client_id || !cfg->client_secret)
        return bk_fail(err, BK_E_UNAVAILABLE,
                       "GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET are not set");
    body = bk_arena_printf(
        arena, "grant_type=%s&%s=%s&client_id=%s&client_secret=%s%s%s%s%s",
        grant, code ? "code" : "refresh_token", bk_str_qenc(arena, value),
        bk_str_qenc(arena, cfg->client_id),
        bk_str_qenc(arena, cfg->client_secret), code ? "&redirect_uri=" : "",
        code ? bk_str_qenc(arena, redirect_uri) : "",
        code && verifier ? "&code_verifier=" : "",
        code && verifier ? verifier : "");
    request_base(cfg, &r);
    r.method = "POST";
    r.url = cfg->token_url;
    r.content_type = "application/x-www-form-urlencoded";
    r.body = body;
    r.body_len = strlen(body);
    if ((e = bk_net_request(&r, arena, &resp, err)))
        return e; /* BK_E_INVALID (the URL) or BK_E_IO */
    j = json_loads(resp.body ? resp.body : "", 0, NULL);
    if (resp.status != 200) {
        const char *what = json_string_value(json_object_get(j, "error"));
        const char *desc =
            json_string_value(json_object_get(j, "error_description"));
        e = resp.status >= 500 || resp.status == 429     ? BK_E_IO
            : what && strcmp(what, "invalid_grant") == 0 ? BK_E_UNAUTHORIZED
                                                         : BK_E_INVALID;
        e = bk_fail(err, e, "Google's token endpoint answered HTTP %d%s%s%s%s",
                    resp.status, what ? ": " : "", what ? what : "",
                    desc ? " — " : "", desc ? desc : "");
        json_decref(j);
        return e;
    }
    if (json_unpack(j, "{s:s, s:I, s?:s, s?:s}", "access_token", &access,
                    "expires_in", &expires_in, "refresh_token", &refresh,
                    "token_type", &type) != 0 ||
        !*access || expires_in <= 0 || (code && !refresh)) {
        json_decref(j);
        return bk_fail(err, BK_E_IO,
                       "Google's token endpoint answered without %s",
                       code && !refresh ? "a refresh token (offline access)"
                                        : "an access token");
    }
    out->access_token = bk_arena_strdup(arena, access);
    out->refresh_token =
        refresh ? bk_arena_strdup(arena, refresh) : (code ? NULL : value);
    out->expires_ms = now_ms + (int64_t)expires_in * 1000;
    json_decref(j);
    return BK_OK;
}

const char *bk_google_tokens_dump(const struct bk_google_tokens *t,
                                  struct bk_arena *arena)
{
    json_t *o = json_pack("{s:s, s:s, s:I}", "access_token", t->access_token,
                          "refresh_token", t->refresh_token, "expires_ms",
                          (json_int_t)t->expires_ms);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    const char *out = s ? bk_arena_strdup(arena, s) : NULL;

    if (s) {
        memset(s, 0, strlen(s));
        free(s);
    }
    json_decref(o);
    return out;
}

enum bk_err bk_google_tokens_parse(const char *text, struct bk_arena *arena,
                                   struct bk_google_tokens *out,
                                   struct bk_errbuf *err)
{
    json_t *j = json_loads(text ? text : "", 0, NULL);
    const char *a = NULL, *r = NULL;
    json_int_t x = 0;

    memset(out, 0, sizeof(*out));
    if (json_unpack(j, "{s:s, s:s, s:I}", "access_token", &a, "refresh_token",
                    &r, "expires_ms", &x) != 0) {
        json_decref(j);
        return bk_fail(err, BK_E_MALFORMED,
                       "the stored Google tokens are not readable");
    }
    out->access_token = bk_arena_strdup(arena, a);
    out->refresh_token = bk_arena_strdup(arena, r);
    out->expires_ms = (int64_t)x;
    json_decref(j);
    return BK_OK;
}

enum bk_err bk_google_call(const struct bk_google_config *cfg,
                           const char *access_token, const char *method,
                           const char *path, const char *body,
                           const char *if_match, struct bk_arena *arena,
                           struct bk_net_response *out, struct bk_errbuf *err)
{
    struct bk_net_request r;
    const char *headers[3];
    size_t nh = 0;

    headers[nh++] =
        bk_arena_printf(arena, "Authorization: Bearer %s", access_token);
    if (if_match)
        headers[nh++] = bk_arena_printf(arena, "If-Match: %s", if_match);
    request_base(cfg, &r);
    r.method = method;
    r.url = bk_arena_printf(arena, "%s%s", cfg->api_base, path);
    r.headers = headers;
    r.n_headers = nh;
    if (body) {
        r.content_type = "application/json";
        r.body = body;
        r.body_len = strlen(body);
    }
    return bk_net_request(&r, arena, out, err);
}

const char *bk_google_error_text(const struct bk_net_response *r,
                                 struct bk_arena *arena)
{
    json_t *j = json_loads(r->body ? r->body : "", 0, NULL);
    json_t *e = json_object_get(j, "error");
    const char *msg = json_string_value(json_object_get(e, "message"));
    const char *reason = json_string_value(json_object_get(
        json_array_get(json_object_get(e, "errors"), 0), "reason"));
    const char *out =
        bk_arena_printf(arena, "Google Calendar answered HTTP %d%s%s%s%s",
                        r->status, reason ? " " : "", reason ? reason : "",
                        msg ? ": " : "", msg ? msg : "");

    json_decref(j);
    return out;
}

enum bk_err bk_google_calendars(const struct bk_google_config *cfg,
                                const char *access_token,
                                struct bk_arena *arena,
                                const char **calendars_json,
                                const char **account, struct bk_errbuf *err)
{
    json_t *cals = json_array();
    const char *page = NULL;
    bool have_write = false;
    enum bk_err e = BK_OK;

    *calendars_json = NULL;
    *account = NULL;
    for (int p = 0; p < MAX_PAGES; p++) {
        struct bk_net_response r;
        json_t *j, *items, *it;
        const char *next;
        size_t i;
        const char *path = bk_arena_printf(
            arena, "/users/me/calendarList?maxResults=250%s%s",
            page ? "&pageToken=" : "", page ? bk_str_qenc(arena, page) : "");
        if ((e = bk_google_call(cfg, access_token, "GET", path, NULL, NULL,
                                arena, &r, err)))
            goto out;
        if (r.status != 200) {
            e = bk_fail(err,
                        r.status == 401 ? BK_E_UNAUTHORIZED
                        : r.status >= 500 || r.status == 429 || r.status == 403
                            ? BK_E_IO
                            : BK_E_INVALID,
                        "calendarList: %s", bk_google_error_text(&r, arena));
            goto out;
        }
        j = json_loads(r.body ? r.body : "", 0, NULL);
        items = json_object_get(j, "items");
        json_array_foreach(items, i, it)
        {
            const char *id = json_string_value(json_object_get(it, "id"));
            const char *name =
                json_string_value(json_object_get(it, "summary"));
            const char *role =
                json_string_value(json_object_get(it, "accessRole"));
            bool primary = json_is_true(json_object_get(it, "primary"));
            bool can_write = role && (strcmp(role, "owner") == 0 ||
                                      strcmp(role, "writer") == 0);
            if (!id || strlen(id) > 1024 || json_array_size(cals) >= 64)
                continue;
            if (primary && !*account)
                *account = bk_arena_strdup(arena, id);
            json_array_append_new(
                cals, json_pack("{s:s, s:s, s:b, s:b}", "href", id, "name",
                                name ? name : id, "busy", primary, "write",
                                primary && can_write && !have_write));
            if (primary && can_write)
                have_write = true;
        }
        next = json_string_value(json_object_get(j, "nextPageToken"));
        page = next ? bk_arena_strdup(arena, next) : NULL;
        json_decref(j);
        if (!page)
            break;
    }
    {
        char *s = json_dumps(cals, JSON_COMPACT);
        *calendars_json = s ? bk_arena_strdup(arena, s) : "[]";
        free(s);
    }
out:
    json_decref(cals);
    return e;
}

enum bk_err
bk_google_connect_api(void *ctx, const char *code, const char *verifier,
                      const char *redirect_uri, struct bk_arena *arena,
                      struct bk_google_grant_result *out, struct bk_errbuf *err)
{
    const struct bk_google_config *cfg = ctx;
    struct bk_google_tokens t;
    enum bk_err e;

    memset(out, 0, sizeof(*out));
    if ((e = bk_google_grant(cfg, "authorization_code", code, verifier,
                             redirect_uri, bk_now_ms(), arena, &t, err)) ||
        (e = bk_google_calendars(cfg, t.access_token, arena, &out->calendars,
                                 &out->account, err)))
        return e;
    out->tokens = bk_google_tokens_dump(&t, arena);
    return BK_OK;
}

const char *bk_google_event_id(const char *uid, struct bk_arena *arena)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char d[BK_SHA256_LEN];
    const char *text = bk_arena_printf(arena, "bookingd event %s", uid);
    char *out = bk_arena_alloc(arena, 2 * BK_SHA256_LEN + 1);

    bk_sha256(text, strlen(text), d);
    for (size_t i = 0; i < BK_SHA256_LEN; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[2 * BK_SHA256_LEN] = '\0';
    return out;
}
