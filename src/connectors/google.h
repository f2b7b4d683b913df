/* connectors/google.h — Google's OAuth 2.0 token endpoint and Calendar API
 * v3 (docs/calendars.md "Google Calendar"), over net/: the authorization
 * code and refresh-token grants, one API call with a bearer token, and the
 * account's calendar list. The tokens of a connection are one JSON object
 * ({"access_token", "refresh_token", "expires_ms"}) sealed as its
 * credential; they never appear in a log line or an error message. */
#ifndef BK_CONNECTORS_GOOGLE_H
#define BK_CONNECTORS_GOOGLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api.h"
#include "base/arena.h"
#include "base/err.h"
#include "net/net.h"

struct bk_google_config {
    const char *client_id;     /* GOOGLE_CLIENT_ID; NULL: not configured */
    const char *client_secret; /* GOOGLE_CLIENT_SECRET */
    const char *api_base;      /* GOOGLE_API_BASE, no trailing '/' */
    const char *token_url;     /* GOOGLE_OAUTH_BASE + "/token" */
    bool allow_private;        /* a base set by the operator may be private */
    int connect_timeout_ms;
    int timeout_ms;
    size_t max_response;
};

struct bk_google_tokens {
    const char *access_token;
    const char *refresh_token;
    int64_t expires_ms; /* when the access token expires (wall clock) */
};

/* POSTs a grant to the token endpoint: "authorization_code" (value: the
 * code; verifier and redirect_uri as sent to the consent page) or
 * "refresh_token" (value: the refresh token; the answer keeps it unless
 * Google sends a new one). BK_E_UNAUTHORIZED when Google answers
 * invalid_grant (revoked, expired or used), BK_E_INVALID for another 4xx
 * (the client's configuration), BK_E_IO for the transport or a 5xx. */
BK_MUST_CHECK enum bk_err
bk_google_grant(const struct bk_google_config *cfg, const char *grant,
                const char *value, const char *verifier,
                const char *redirect_uri, int64_t now_ms,
                struct bk_arena *arena, struct bk_google_tokens *out,
                struct bk_errbuf *err);

/* The tokens as the JSON text sealed, and back. */
const char *bk_google_tokens_dump(const struct bk_google_tokens *t,
                                  struct bk_arena *arena);
BK_MUST_CHECK enum bk_err bk_google_tokens_parse(const char *text,
                                                 struct bk_arena *arena,
                                                 struct bk_google_tokens *out,
                                                 struct bk_errbuf *err);

/* One Calendar API call: method api_base + path (path starts with '/',
 * percent-encoded by the caller, with its query), a JSON body or NULL,
 * If-Match when if_match. BK_OK when an HTTP answer arrived, whatever its
 * status (out->status). */
BK_MUST_CHECK enum bk_err
bk_google_call(const struct bk_google_config *cfg, const char *access_token,
               const char *method, const char *path, const char *body,
               const char *if_match, struct bk_arena *arena,
               struct bk_net_response *out, struct bk_errbuf *err);

/* "HTTP <status> <reason>: <message>" of a Google error answer. */
const char *bk_google_error_text(const struct bk_net_response *r,
                                 struct bk_arena *arena);

/* The account's calendars (calendarList, pages followed) as the
 * connection's calendars JSON: [{"href": id, "name", "busy", "write"}],
 * the primary one busy and written to; *account the primary's id (the
 * account's email address). BK_E_UNAUTHORIZED on 401. */
BK_MUST_CHECK enum bk_err
bk_google_calendars(const struct bk_google_config *cfg,
                    const char *access_token, struct bk_arena *arena,
                    const char **calendars_json, const char **account,
                    struct bk_errbuf *err);

/* The API's hook (bk_api_google_connect_fn): exchanges the code and lists
 * the calendars; ctx is a struct bk_google_config. */
enum bk_err bk_google_connect_api(void *ctx, const char *code,
                                  const char *verifier,
                                  const char *redirect_uri,
                                  struct bk_arena *arena,
                                  struct bk_google_grant_result *out,
                                  struct bk_errbuf *err);

/* The Google event id of a booking: 64 hex digits of
 * SHA-256("bookingd event " + uid) — base32hex, so Google takes it as a
 * client-supplied id, and derived from the UID, so a retried insert finds
 * its own event (409) instead of making a second one. In arena. */
const char *bk_google_event_id(const char *uid, struct bk_arena *arena);

#endif
