/* cli/config.c — configuration from the environment, checked at start. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "base/str.h"
#include "http/server.h"
#include "mail/mail.h"
#include "net/limits.h"
#include "net/net.h"
#include "base/banned.h"

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static enum bk_err env_int(const char *name, int64_t min, int64_t max,
                           int64_t def, int64_t *out, struct bk_errbuf *err)
{
    const char *v = env(name);

    *out = def;
    if (!v)
        return BK_OK;
    if (bk_parse_i64(v, min, max, out) != BK_OK)
        return bk_fail_field(err, BK_E_CONFIG, name,
                             "must be an integer %lld..%lld, got '%s'",
                             (long long)min, (long long)max, v);
    return BK_OK;
}

/* Appends n bytes of p to out (size bytes, *len used), truncating. */
static void put(char *out, size_t size, size_t *len, const char *p, size_t n)
{
    while (n-- && *len + 1 < size)
        out[(*len)++] = *p++;
    out[*len] = '\0';
}

void bk_config_redact_url(const char *url, char *out, size_t size)
{
    const char *auth = strstr(url, "://"), *end, *at = NULL, *colon = NULL;
    const char *p = url;
    size_t len = 0;

    if (!size)
        return;
    out[0] = '\0';
    if (auth) {
        auth += 3;
        end = auth + strcspn(auth, "/?#");
        for (const char *q = auth; q < end; q++)
            if (*q == '@')
                at = q;
        for (const char *q = auth; at && q < at && !colon; q++)
            if (*q == ':')
                colon = q;
        if (colon) {
            put(out, size, &len, p, (size_t)(colon + 1 - p));
            put(out, size, &len, "***", 3);
            p = at;
        }
    }
    /* libpq also takes password=... among the parameters. */
    while (*p) {
        const char *kv = strstr(p, "password=");
        if (!kv || (kv > url && kv[-1] != '?' && kv[-1] != '&')) {
            size_t n = kv ? (size_t)(kv - p) + 9 : strlen(p);
            put(out, size, &len, p, n);
            p += n;
            continue;
        }
        put(out, size, &len, p, (size_t)(kv + 9 - p));
        put(out, size, &len, "***", 3);
        p = kv + 9 + strcspn(kv + 9, "&#");
    }
}

enum bk_err bk_config_check_database(const struct bk_config *cfg,
                                     struct bk_store *store)
{
    struct bk_errbuf err;
    enum bk_err e;

    bk_errbuf_clear(&err);
    e = bk_store_check(store, cfg->integrity_check, &err);
    if (e)
        fprintf(stderr,
                "bookingd: BOOKINGD_DATABASE: %s: %s; refusing to serve it: "
                "restore it from a backup (BOOKINGD_INTEGRITY_CHECK=off "
                "skips this check)\n",
                cfg->database_shown, err.msg);
    return e;
}

void bk_config_report_database(const struct bk_config *cfg,
                               const struct bk_errbuf *err)
{
    fprintf(stderr, "bookingd: BOOKINGD_DATABASE: %s: %s\n",
            cfg->database_shown, err->msg);
}

/* An API base URL from the environment (http(s), no query, trailing
 * slashes dropped) into out, or def when unset. */
static enum bk_err base_url(const char *name, const char *def, char *out,
                            size_t size, bool *set, struct bk_errbuf *err)
{
    const char *v = env(name);
    struct bk_errbuf sub;
    size_t len;

    if (!v) {
        bk_strlcpy(out, def, size);
        return BK_OK;
    }
    *set = true;
    bk_errbuf_clear(&sub);
    if (bk_net_url_check(v, true, &sub) != BK_OK || strchr(v, '?') ||
        (strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0))
        return bk_fail_field(err, BK_E_CONFIG, name,
                             "must be an http(s) URL without a query%s%s",
                             sub.msg[0] ? ": " : "", sub.msg);
    bk_strlcpy(out, v, size);
    len = strlen(out);
    while (len > 0 && out[len - 1] == '/')
        out[--len] = '\0';
    return BK_OK;
}

/* ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET (all or none) and
 * the two bases. */
static enum bk_err zoom_config(struct bk_config *cfg, struct bk_errbuf *err)
{
    static const char *const names[3] = {"ZOOM_ACCOUNT_ID", "ZOOM_CLIENT_ID",
                                         "ZOOM_CLIENT_SECRET"};
    const char *v[3];
    int n = 0;
    enum bk_err e;

    for (int i = 0; i < 3; i++) {
        v[i] = env(names[i]);
        if (v[i] &&
            (strlen(v[i]) > 512 || strcspn(v[i], " \t\r\n") != strlen(v[i])))
            return bk_fail_field(err, BK_E_CONFIG, names[i],
                                 "must be at most 512 characters without "
                                 "spaces");
        n += v[i] != NULL;
    }
    if (n && n < 3)
        return bk_fail_field(err, BK_E_CONFIG,
                             names[!v[0]   ? 0
                                   : !v[1] ? 1
                                           : 2],
                             "must be set with the other ZOOM_ACCOUNT_ID, "
                             "ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET");
    cfg->zoom_account_id = v[0];
    cfg->zoom_client_id = v[1];
    cfg->zoom_client_secret = v[2];
    if ((e = base_url("ZOOM_API_BASE", "https://api.zoom.us/v2",
                      cfg->zoom_api_base, sizeof(cfg->zoom_api_base),
                      &cfg->zoom_bases_set, err)) ||
        (e = base_url("ZOOM_OAUTH_BASE", "https://zoom.us",
                      cfg->zoom_oauth_base, sizeof(cfg->zoom_oauth_base),
                      &cfg->zoom_bases_set, err)))
        return e;
    return BK_OK;
}

/* NOTION_TOKEN and NOTION_PARENT_PAGE (both or neither), NOTION_API_BASE
 * and NOTION_PULL_SECONDS. */
static enum bk_err notion_config(struct bk_config *cfg, struct bk_errbuf *err)
{
    const char *t = env("NOTION_TOKEN"), *p = env("NOTION_PARENT_PAGE");
    enum bk_err e;

    if (t && (strlen(t) > 512 || strcspn(t, " \t\r\n") != strlen(t)))
        return bk_fail_field(err, BK_E_CONFIG, "NOTION_TOKEN",
                             "must be at most 512 characters without spaces");
    /* A page id: 32 hex digits, with or without the dashes of a UUID. */
    if (p && (strlen(p) < 32 || strlen(p) > 36 ||
              strspn(p, "0123456789abcdefABCDEF-") != strlen(p)))
        return bk_fail_field(err, BK_E_CONFIG, "NOTION_PARENT_PAGE",
                             "must be the parent page's id (32 hex digits, "
                             "the end of its URL)");
    if (!t != !p)
        return bk_fail_field(err, BK_E_CONFIG,
                             t ? "NOTION_PARENT_PAGE" : "NOTION_TOKEN",
                             "must be set with the other of NOTION_TOKEN and "
                             "NOTION_PARENT_PAGE");
    cfg->notion_token = t;
    cfg->notion_parent_page = p;
    if ((e = base_url("NOTION_API_BASE", "https://api.notion.com/v1",
                      cfg->notion_api_base, sizeof(cfg->notion_api_base),
                      &cfg->notion_api_base_set, err)) ||
        (e = env_int("NOTION_PULL_SECONDS", 5, 86400, 60, &cfg->notion_pull_s,
                     err)))
        return e;
    return BK_OK;
}

/* BOOKINGD_EMBED_ORIGINS: up to 16 origins, separated by spaces or commas,
 * each http:// or https:// and a host of [A-Za-z0-9.-] with an optional
 * :port, nothing after (no path, no trailing slash). They go verbatim into
 * the booking page's CSP frame-ancestors, so nothing else may get in. */
static enum bk_err embed_origins(struct bk_config *cfg, const char *v,
                                 struct bk_errbuf *err)
{
    size_t used = 0;
    int n = 0;

    cfg->embed_origins = NULL;
    if (!v || !*v)
        return BK_OK;
    while (*v) {
        const char *start, *host;
        size_t len;

        while (*v == ' ' || *v == ',')
            v++;
        if (!*v)
            break;
        start = v;
        while (*v && *v != ' ' && *v != ',')
            v++;
        len = (size_t)(v - start);
        host = strncmp(start, "https://", 8) == 0  ? start + 8
               : strncmp(start, "http://", 7) == 0 ? start + 7
                                                   : NULL;
        if (!host || host == start + len || ++n > 16 ||
            used + len + 2 > sizeof(cfg->embed_origins_buf))
            goto bad;
        for (const char *p = host; p < start + len; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' ||
                  *p == ':'))
                goto bad;
        snprintf(cfg->embed_origins_buf + used,
                 sizeof(cfg->embed_origins_buf) - used, "%s%.*s",
                 used ? " " : "", (int)len, start);
        used += len + (used ? 1 : 0);
    }
    if (used)
        cfg->embed_origins = cfg->embed_origins_buf;
    return BK_OK;
bad:
    return bk_fail_field(err, BK_E_CONFIG, "BOOKINGD_EMBED_ORIGINS",
                         "must be at most 16 origins like "
                         "https://www.example.com (scheme, host, optional "
                         "port; no path), separated by spaces");
}

enum bk_err bk_config_load(struct bk_config *cfg, struct bk_errbuf *err)
{
    struct bk_errbuf sub;
    const char *v;
    int64_t n;
    enum bk_err e;

    memset(cfg, 0, sizeof(*cfg));
    cfg->database = env("BOOKINGD_DATABASE");
    if (!cfg->database)
        cfg->database = "sqlite:./var/bookingd.db";
    bk_config_redact_url(cfg->database, cfg->database_shown,
                         sizeof(cfg->database_shown));
    if (strncmp(cfg->database, "sqlite:", 7) != 0 &&
        strncmp(cfg->database, "postgres://", 11) != 0 &&
        strncmp(cfg->database, "postgresql://", 13) != 0)
        return bk_fail_field(err, BK_E_CONFIG, "BOOKINGD_DATABASE",
                             "must be sqlite:PATH or "
                             "postgres://USER:PASSWORD@HOST:PORT/DB, got '%s'",
                             cfg->database_shown);
    if (strcmp(cfg->database, "sqlite:") == 0)
        return bk_fail_field(err, BK_E_CONFIG, "BOOKINGD_DATABASE",
                             "sqlite: needs a path (sqlite:./var/bookingd.db)");

    cfg->listen = env("BOOKINGD_LISTEN");
    if (!cfg->listen)
        cfg->listen = "127.0.0.1:8080";
    bk_errbuf_clear(&sub);
    if (bk_http_listen_check(cfg->listen, &sub) != BK_OK)
        return bk_fail_field(err, BK_E_CONFIG, "BOOKINGD_LISTEN", "%s",
                             sub.msg);

    v = env("BOOKINGD_BASE_URL");
    if (v) {
        size_t len = strlen(v);
        if ((strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) ||
            len > 512 || strchr(v, ' ') || strchr(v, '?') || strchr(v, '#'))
            return bk_fail_field(err, BK_E_CONFIG, "BOOKINGD_BASE_URL",
                                 "must be an http:// or https:// URL "
                                 "without query, got '%s'",
                                 v);
        while (len && v[len - 1] == '/') /* keep it without the slash */
            len--;
        snprintf(cfg->base_url_buf, sizeof(cfg->base_url_buf), "%.*s", (int)len,
                 v);
    } else {
        /* The listen address, with a wildcard replaced by loopback. */
        const char *port = strrchr(cfg->listen, ':');
        if (strncmp(cfg->listen, "0.0.0.0:", 8) == 0 ||
            strncmp(cfg->listen, "[::]:", 5) == 0)
            snprintf(cfg->base_url_buf, sizeof(cfg->base_url_buf),
                     "http://127.0.0.1%s", port);
        else
            snprintf(cfg->base_url_buf, sizeof(cfg->base_url_buf), "http://%s",
                     cfg->listen);
    }

    cfg->base_url = cfg->base_url_buf;

    if ((e = embed_origins(cfg, env("BOOKINGD_EMBED_ORIGINS"), err)))
        return e;

    cfg->admin_key = env("BOOKINGD_ADMIN_KEY");
    if (cfg->admin_key && strlen(cfg->admin_key) < 16)
        return bk_fail_field(err, BK_E_CONFIG, "BOOKINGD_ADMIN_KEY",
                             "must be at least 16 characters");
    if (cfg->admin_key && !bk_utf8_valid(cfg->admin_key, 256, false))
        return bk_fail_field(err, BK_E_CONFIG, "BOOKINGD_ADMIN_KEY",
                             "must be at most 256 bytes without control "
                             "characters");

    if ((e = env_int("BOOKINGD_WORKERS", 0, 64, 2, &n, err)))
        return e;
    cfg->workers = (int)n;
    if (cfg->workers == 0 && strncmp(cfg->database, "sqlite:", 7) == 0)
        return bk_fail_field(err, BK_E_CONFIG, "BOOKINGD_WORKERS",
                             "0 (no workers) needs a PostgreSQL database "
                             "whose other instances run the jobs; on SQLite "
                             "nothing would run them");
    if ((e = env_int("BOOKINGD_JOB_MAX_ATTEMPTS", 1, 100, 10, &n, err)))
        return e;
    cfg->max_attempts = (int)n;
    if ((e = env_int("BOOKINGD_JOB_RETRY_BASE_MS", 1, 3600000, 2000,
                     &cfg->retry_base_ms, err)) ||
        (e = env_int("BOOKINGD_JOB_RETRY_MAX_MS", 1, 86400000, 3600000,
                     &cfg->retry_max_ms, err)))
        return e;
    if ((e = env_int("BOOKINGD_JOB_LEASE_MS", 100, 3600000, 30000,
                     &cfg->lease_ms, err)))
        return e;
    if ((e = env_int("BOOKINGD_JOB_IDLE_POLL_MS", 10, 3600000, 1000,
                     &cfg->idle_poll_ms, err)))
        return e;
    if ((e = env_int("BOOKINGD_JOB_RETENTION_DAYS", 0, 36500, 30, &n, err)))
        return e;
    cfg->retention_days = (int)n;
    if ((e = env_int("BOOKINGD_JOB_PRUNE_INTERVAL_S", 1, 604800, 3600,
                     &cfg->prune_interval_s, err)))
        return e;
    if ((e = env_int("BOOKINGD_CLIENT_INACTIVE_DAYS", 0, 3650, 90, &n, err)))
        return e;
    cfg->client_inactive_days = (int)n;
    if (cfg->retry_max_ms < cfg->retry_base_ms)
        return bk_fail_field(err, BK_E_CONFIG, "BOOKINGD_JOB_RETRY_MAX_MS",
                             "must not be below BOOKINGD_JOB_RETRY_BASE_MS");

    cfg->calendly_token = env("CALENDLY_TOKEN");
    if (cfg->calendly_token && (strlen(cfg->calendly_token) > 512 ||
                                strcspn(cfg->calendly_token, " \t\r\n") !=
                                    strlen(cfg->calendly_token)))
        return bk_fail_field(err, BK_E_CONFIG, "CALENDLY_TOKEN",
                             "must be a token of at most 512 characters "
                             "without spaces");
    v = env("CALENDLY_API_BASE");
    cfg->calendly_api_base_set = v != NULL;
    if (v) {
        size_t len;
        bk_errbuf_clear(&sub);
        if (bk_net_url_check(v, true, &sub) != BK_OK || strchr(v, '?') ||
            (strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0))
            return bk_fail_field(err, BK_E_CONFIG, "CALENDLY_API_BASE",
                                 "must be an http(s) URL without a query%s%s",
                                 sub.msg[0] ? ": " : "", sub.msg);
        bk_strlcpy(cfg->calendly_api_base, v, sizeof(cfg->calendly_api_base));
        len = strlen(cfg->calendly_api_base);
        while (len > 0 && cfg->calendly_api_base[len - 1] == '/')
            cfg->calendly_api_base[--len] = '\0';
    } else {
        bk_strlcpy(cfg->calendly_api_base, "https://api.calendly.com",
                   sizeof(cfg->calendly_api_base));
    }

    cfg->calcom_api_key = env("CALCOM_API_KEY");
    if (cfg->calcom_api_key && (strlen(cfg->calcom_api_key) > 512 ||
                                strcspn(cfg->calcom_api_key, " \t\r\n") !=
                                    strlen(cfg->calcom_api_key)))
        return bk_fail_field(err, BK_E_CONFIG, "CALCOM_API_KEY",
                             "must be a key of at most 512 characters "
                             "without spaces");
    v = env("CALCOM_API_BASE");
    cfg->calcom_api_base_set = v != NULL;
    if (v) {
        size_t len;
        bk_errbuf_clear(&sub);
        if (bk_net_url_check(v, true, &sub) != BK_OK || strchr(v, '?') ||
            (strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0))
            return bk_fail_field(err, BK_E_CONFIG, "CALCOM_API_BASE",
                                 "must be an http(s) URL without a query%s%s",
                                 sub.msg[0] ? ": " : "", sub.msg);
        bk_strlcpy(cfg->calcom_api_base, v, sizeof(cfg->calcom_api_base));
        len = strlen(cfg->calcom_api_base);
        while (len > 0 && cfg->calcom_api_base[len - 1] == '/')
            cfg->calcom_api_base[--len] = '\0';
    } else {
        bk_strlcpy(cfg->calcom_api_base, "https://api.cal.com/v2",
                   sizeof(cfg->calcom_api_base));
    }
    if ((e = env_int("CALCOM_SYNC_INTERVAL_S", 0, 86400 * 7, 0,
                     &cfg->calcom_sync_interval_s, err)) ||
        (e = env_int("CALCOM_SYNC_PAST_DAYS", 1, 3660, 30,
                     &cfg->calcom_sync_past_days, err)))
        return e;
    if (cfg->calcom_sync_interval_s > 0 && cfg->calcom_sync_interval_s < 60)
        return bk_fail_field(err, BK_E_CONFIG, "CALCOM_SYNC_INTERVAL_S",
                             "must be 0 (off) or at least 60 seconds");

    cfg->calendly_client_id = env("CALENDLY_CLIENT_ID");
    cfg->calendly_client_secret = env("CALENDLY_CLIENT_SECRET");
    if ((cfg->calendly_client_id != NULL) !=
        (cfg->calendly_client_secret != NULL))
        return bk_fail_field(err, BK_E_CONFIG,
                             cfg->calendly_client_id ? "CALENDLY_CLIENT_SECRET"
                                                     : "CALENDLY_CLIENT_ID",
                             "CALENDLY_CLIENT_ID and CALENDLY_CLIENT_SECRET go "
                             "together");
    if (cfg->calendly_client_id &&
        (strlen(cfg->calendly_client_id) > 256 ||
         strlen(cfg->calendly_client_secret) > 256 ||
         strcspn(cfg->calendly_client_id, " \t\r\n:") !=
             strlen(cfg->calendly_client_id)))
        return bk_fail_field(err, BK_E_CONFIG, "CALENDLY_CLIENT_ID",
                             "the client id and secret are at most 256 "
                             "characters, the id without spaces or ':'");
    if ((e = base_url("CALENDLY_OAUTH_BASE", "https://auth.calendly.com",
                      cfg->calendly_oauth_base,
                      sizeof(cfg->calendly_oauth_base),
                      &cfg->calendly_oauth_base_set, err)) ||
        (e = env_int("CALENDLY_REFRESH_INTERVAL_S", 1, 3600, 300,
                     &cfg->calendly_refresh_interval_s, err)) ||
        (e = env_int("CALENDLY_REFRESH_BACKOFF_MS", 100, 3600000, 60000,
                     &cfg->calendly_refresh_backoff_ms, err)))
        return e;

    cfg->google_client_id = env("GOOGLE_CLIENT_ID");
    cfg->google_client_secret = env("GOOGLE_CLIENT_SECRET");
    if ((cfg->google_client_id != NULL) != (cfg->google_client_secret != NULL))
        return bk_fail_field(err, BK_E_CONFIG,
                             cfg->google_client_id ? "GOOGLE_CLIENT_SECRET"
                                                   : "GOOGLE_CLIENT_ID",
                             "GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET go "
                             "together");
    if (cfg->google_client_id && (strlen(cfg->google_client_id) > 512 ||
                                  strlen(cfg->google_client_secret) > 512 ||
                                  strcspn(cfg->google_client_id, " \t\r\n&") !=
                                      strlen(cfg->google_client_id)))
        return bk_fail_field(err, BK_E_CONFIG, "GOOGLE_CLIENT_ID",
                             "must be at most 512 characters without spaces");
    for (int i = 0; i < 2; i++) {
        const char *name = i ? "GOOGLE_OAUTH_BASE" : "GOOGLE_API_BASE";
        char base[2049];
        size_t len;
        v = env(name);
        if (!v)
            continue;
        cfg->google_base_set = true;
        bk_errbuf_clear(&sub);
        if (bk_net_url_check(v, true, &sub) != BK_OK || strchr(v, '?') ||
            strlen(v) > 2000 ||
            (strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0))
            return bk_fail_field(err, BK_E_CONFIG, name,
                                 "must be an http(s) URL without a query%s%s",
                                 sub.msg[0] ? ": " : "", sub.msg);
        bk_strlcpy(base, v, sizeof(base));
        len = strlen(base);
        while (len > 0 && base[len - 1] == '/')
            base[--len] = '\0';
        if (i == 0) {
            bk_strlcpy(cfg->google_api_base, base,
                       sizeof(cfg->google_api_base));
        } else {
            snprintf(cfg->google_auth_url, sizeof(cfg->google_auth_url),
                     "%s/o/oauth2/v2/auth", base);
            snprintf(cfg->google_token_url, sizeof(cfg->google_token_url),
                     "%s/token", base);
        }
    }
    v = env("BOOKINGD_GOOGLE_WATCH_ALLOW_PRIVATE");
    if (v && strcmp(v, "1") != 0 && strcmp(v, "0") != 0)
        return bk_fail_field(err, BK_E_CONFIG,
                             "BOOKINGD_GOOGLE_WATCH_ALLOW_PRIVATE",
                             "must be 0 or 1, got '%s'", v);
    cfg->google_watch_allow_private = v && strcmp(v, "1") == 0;
    if ((e = env_int("BOOKINGD_GOOGLE_WATCH_TTL_S", 10, 2592000, 604800,
                     &cfg->google_watch_ttl_s, err)))
        return e;
    cfg->google_watch_address[0] = '\0';
    bk_errbuf_clear(&sub);
    /* Google delivers only to https on a public name; the switch lets
     * tests (and a tunnel) use http and loopback. */
    if (cfg->google_client_id &&
        (cfg->google_watch_allow_private ||
         (strncmp(cfg->base_url, "https://", 8) == 0 &&
          bk_net_url_check(cfg->base_url, false, &sub) == BK_OK)))
        snprintf(cfg->google_watch_address, sizeof(cfg->google_watch_address),
                 "%s/webhooks/google", cfg->base_url);
    if (!cfg->google_api_base[0])
        bk_strlcpy(cfg->google_api_base,
                   "https://www.googleapis.com/calendar/v3",
                   sizeof(cfg->google_api_base));
    if (!cfg->google_auth_url[0]) {
        bk_strlcpy(cfg->google_auth_url,
                   "https://accounts.google.com/o/oauth2/v2/auth",
                   sizeof(cfg->google_auth_url));
        bk_strlcpy(cfg->google_token_url, "https://oauth2.googleapis.com/token",
                   sizeof(cfg->google_token_url));
    }
    if ((e = zoom_config(cfg, err)) || (e = notion_config(cfg, err)))
        return e;

    v = env("BOOKINGD_WEBHOOK_ALLOW_PRIVATE");
    if (v && strcmp(v, "1") != 0 && strcmp(v, "0") != 0)
        return bk_fail_field(err, BK_E_CONFIG, "BOOKINGD_WEBHOOK_ALLOW_PRIVATE",
                             "must be 0 or 1, got '%s'", v);
    cfg->webhook_allow_private = v && strcmp(v, "1") == 0;
    if ((e = env_int("BOOKINGD_WEBHOOK_CONNECT_TIMEOUT_MS", 100, 60000, 5000,
                     &cfg->webhook_connect_timeout_ms, err)) ||
        (e = env_int("BOOKINGD_WEBHOOK_TIMEOUT_MS", 100, 120000, 10000,
                     &cfg->webhook_timeout_ms, err)))
        return e;
    if ((e = env_int("BOOKINGD_WEBHOOK_MAX_ATTEMPTS", 1, 1000, 90, &n, err)))
        return e;
    cfg->webhook_max_attempts = (int)n;
    if ((e = env_int("BOOKINGD_WEBHOOK_DISABLE_AFTER_S", 1, 31536000, 432000,
                     &cfg->webhook_disable_after_s, err)))
        return e;
    if (cfg->webhook_connect_timeout_ms > cfg->webhook_timeout_ms)
        return bk_fail_field(err, BK_E_CONFIG,
                             "BOOKINGD_WEBHOOK_CONNECT_TIMEOUT_MS",
                             "must not be above BOOKINGD_WEBHOOK_TIMEOUT_MS");

    v = env("BOOKINGD_SECRET_KEY");
    cfg->have_secret_key = false;
    if (v) {
        struct bk_errbuf why;
        bk_errbuf_clear(&why);
        if (bk_secret_key_parse(v, &cfg->secret_key, &why) != BK_OK)
            return bk_fail_field(err, BK_E_CONFIG, "BOOKINGD_SECRET_KEY", "%s",
                                 why.msg);
        cfg->have_secret_key = true;
    }
    v = env("BOOKINGD_SECRET_KEY_PREVIOUS");
    cfg->have_secret_key_previous = false;
    if (v) {
        struct bk_errbuf why;
        bk_errbuf_clear(&why);
        if (!cfg->have_secret_key)
            return bk_fail_field(err, BK_E_CONFIG,
                                 "BOOKINGD_SECRET_KEY_PREVIOUS",
                                 "is set without BOOKINGD_SECRET_KEY (the "
                                 "key that replaced it)");
        if (bk_secret_key_parse(v, &cfg->secret_key_previous, &why) != BK_OK)
            return bk_fail_field(err, BK_E_CONFIG,
                                 "BOOKINGD_SECRET_KEY_PREVIOUS", "%s", why.msg);
        if (strcmp(cfg->secret_key_previous.id, cfg->secret_key.id) == 0)
            return bk_fail_field(err, BK_E_CONFIG,
                                 "BOOKINGD_SECRET_KEY_PREVIOUS",
                                 "is the same key as BOOKINGD_SECRET_KEY");
        cfg->have_secret_key_previous = true;
        /* cfg is filled in place and not copied (cli.h). */
        cfg->secret_key.previous = &cfg->secret_key_previous;
    }
    v = env("BOOKINGD_CALENDAR_ALLOW_PRIVATE");
    if (v && strcmp(v, "1") != 0 && strcmp(v, "0") != 0)
        return bk_fail_field(err, BK_E_CONFIG,
                             "BOOKINGD_CALENDAR_ALLOW_PRIVATE",
                             "must be 0 or 1, got '%s'", v);
    cfg->calendar_allow_private = v && strcmp(v, "1") == 0;
    if ((e = env_int("BOOKINGD_CALENDAR_CONNECT_TIMEOUT_MS", 100, 60000, 5000,
                     &cfg->calendar_connect_timeout_ms, err)) ||
        (e = env_int("BOOKINGD_CALENDAR_TIMEOUT_MS", 100, 120000, 15000,
                     &cfg->calendar_timeout_ms, err)) ||
        (e = env_int("BOOKINGD_CALENDAR_MAX_RESPONSE", 65536, 268435456,
                     33554432, &cfg->calendar_max_response, err)) ||
        (e = env_int("BOOKINGD_CALENDAR_SYNC_MINUTES", 1, 1440, 5,
                     &cfg->calendar_sync_minutes, err)) ||
        (e = env_int("BOOKINGD_CALENDAR_HORIZON_DAYS", 1, 3650, 365,
                     &cfg->calendar_horizon_days, err)))
        return e;
    if (cfg->calendar_connect_timeout_ms > cfg->calendar_timeout_ms)
        return bk_fail_field(err, BK_E_CONFIG,
                             "BOOKINGD_CALENDAR_CONNECT_TIMEOUT_MS",
                             "must not be above BOOKINGD_CALENDAR_TIMEOUT_MS");

    cfg->integrity_check = BK_STORE_CHECK_QUICK;
    v = env("BOOKINGD_INTEGRITY_CHECK");
    if (v && strcmp(v, "quick") == 0)
        cfg->integrity_check = BK_STORE_CHECK_QUICK;
    else if (v && strcmp(v, "full") == 0)
        cfg->integrity_check = BK_STORE_CHECK_FULL;
    else if (v && strcmp(v, "off") == 0)
        cfg->integrity_check = BK_STORE_CHECK_OFF;
    else if (v)
        return bk_fail_field(err, BK_E_CONFIG, "BOOKINGD_INTEGRITY_CHECK",
                             "must be quick, full or off, got '%s'", v);
    /* HTTP: a few event-loop threads per core, plus as many as may wait
     * in the database at once (the store's pool beyond the job workers),
     * so that requests blocked there leave the others served. */
    {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        int64_t def = 2 * (cores > 0 ? cores : 1) + 16;
        if ((e = env_int("BOOKINGD_HTTP_THREADS", 1, 256, def > 64 ? 64 : def,
                         &n, err)))
            return e;
        cfg->http_threads = (int)n;
    }
    if ((e = env_int("BOOKINGD_MAX_CONNECTIONS", 16, 1000000, 10000, &n, err)))
        return e;
    cfg->max_connections = (int)n;
    if ((e = env_int("BOOKINGD_MAX_CONNECTIONS_PER_IP", 0, 1000000, 256, &n,
                     err)))
        return e;
    cfg->max_connections_per_ip = (int)n;
    if ((e = env_int("BOOKINGD_REQUEST_DEADLINE_MS", 100, 3600000, 20000,
                     &cfg->request_deadline_ms, err)))
        return e;
    if ((e = env_int("BOOKINGD_SHUTDOWN_TIMEOUT_MS", 0, 3600000, 10000,
                     &cfg->shutdown_timeout_ms, err)))
        return e;
    /* Per client address; generous for people, tight for floods. */
    {
        static const char *const defaults[BK_RATE_CLASSES] = {
            "0", "60,30", "600,120", "6000,1000", "120,60"};
        for (int i = 1; i < BK_RATE_CLASSES; i++) {
            char name[64], upper[32];
            const char *cls = bk_api_rate_class_name(i);
            size_t k = 0;
            for (; cls[k] && k + 1 < sizeof(upper); k++)
                upper[k] = (char)(cls[k] - 'a' + 'A');
            upper[k] = '\0';
            snprintf(name, sizeof(name), "BOOKINGD_RATE_LIMIT_%s", upper);
            v = env(name);
            bk_errbuf_clear(&sub);
            if (bk_ratelimit_parse(v ? v : defaults[i], &cfg->rate_limits[i],
                                   &sub) != BK_OK)
                return bk_fail_field(err, BK_E_CONFIG, name, "%s", sub.msg);
        }
    }
    if ((e = env_int("BOOKINGD_RATE_LIMIT_ADDRESSES", 64, 16777216, 16384,
                     &cfg->rate_limit_addresses, err)))
        return e;
    if ((e = env_int("BOOKINGD_READY_STALL_MS", 100, 86400000, 300000,
                     &cfg->ready_stall_ms, err)))
        return e;
    if (cfg->http_threads > cfg->max_connections)
        return bk_fail_field(err, BK_E_CONFIG, "BOOKINGD_HTTP_THREADS",
                             "must not be above BOOKINGD_MAX_CONNECTIONS");

    cfg->smtp_url = env("BOOKINGD_SMTP_URL");
    if (cfg->smtp_url) {
        bk_config_redact_url(cfg->smtp_url, cfg->smtp_url_shown,
                             sizeof(cfg->smtp_url_shown));
        bk_errbuf_clear(&sub);
        if (bk_smtp_url_check(cfg->smtp_url, &sub) != BK_OK)
            return bk_fail_field(err, BK_E_CONFIG, "BOOKINGD_SMTP_URL",
                                 "%s, got '%s'", sub.msg, cfg->smtp_url_shown);
    }
    cfg->smtp_ca_file = env("BOOKINGD_SMTP_CA_FILE");
    if (cfg->smtp_ca_file && access(cfg->smtp_ca_file, R_OK) != 0)
        return bk_fail_field(err, BK_E_CONFIG, "BOOKINGD_SMTP_CA_FILE",
                             "cannot read '%s'", cfg->smtp_ca_file);
    if ((e = env_int("BOOKINGD_SMTP_TIMEOUT_MS", 100, 600000, 60000,
                     &cfg->smtp_timeout_ms, err)))
        return e;
    cfg->mail_from = env("BOOKINGD_MAIL_FROM");
    if (!cfg->mail_from)
        cfg->mail_from = "bookingd <bookingd@localhost.localdomain>";
    {
        struct bk_arena a;
        const char *name, *addr;
        bk_arena_init(&a);
        bk_errbuf_clear(&sub);
        e = bk_mail_parse_from(cfg->mail_from, &a, &name, &addr, &sub);
        bk_arena_release(&a);
        if (e)
            return bk_fail_field(err, BK_E_CONFIG, "BOOKINGD_MAIL_FROM", "%s",
                                 sub.msg);
    }

    cfg->stripe_secret_key = env("STRIPE_SECRET_KEY");
    if (cfg->stripe_secret_key &&
        (strncmp(cfg->stripe_secret_key, "sk_", 3) != 0 &&
         strncmp(cfg->stripe_secret_key, "rk_", 3) != 0))
        return bk_fail_field(err, BK_E_CONFIG, "STRIPE_SECRET_KEY",
                             "must be a secret key sk_... (or a restricted "
                             "key rk_...)");
    {
        const char *b = env("STRIPE_API_BASE");
        size_t bn;
        if (!b)
            b = "https://api.stripe.com";
        bn = strlen(b);
        while (bn && b[bn - 1] == '/')
            bn--;
        if (bn == 0 || bn >= sizeof(cfg->stripe_api_base_buf) ||
            (strncmp(b, "https://", 8) != 0 && strncmp(b, "http://", 7) != 0))
            return bk_fail_field(err, BK_E_CONFIG, "STRIPE_API_BASE",
                                 "must be an http(s) URL, got '%s'", b);
        memcpy(cfg->stripe_api_base_buf, b, bn);
        cfg->stripe_api_base_buf[bn] = '\0';
        cfg->stripe_api_base = cfg->stripe_api_base_buf;
    }
    {
        int64_t hold;
        if ((e = env_int("BOOKINGD_HOLD_MINUTES", 30, 1440, 30, &hold, err)))
            return e;
        cfg->hold_min = (int)hold;
    }
    if ((e = env_int("BOOKINGD_CHECKOUT_WAIT_MS", 0, 60000, 8000,
                     &cfg->checkout_wait_ms, err)) ||
        (e = env_int("BOOKINGD_STRIPE_TIMEOUT_MS", 100, 120000, 15000,
                     &cfg->stripe_timeout_ms, err)))
        return e;

    cfg->business_name = env("BOOKINGD_BUSINESS_NAME");
    cfg->business_address = env("BOOKINGD_BUSINESS_ADDRESS");
    if ((cfg->business_name && strlen(cfg->business_name) > 200) ||
        (cfg->business_address && strlen(cfg->business_address) > 500))
        return bk_fail_field(err, BK_E_CONFIG,
                             cfg->business_name &&
                                     strlen(cfg->business_name) > 200
                                 ? "BOOKINGD_BUSINESS_NAME"
                                 : "BOOKINGD_BUSINESS_ADDRESS",
                             "is too long (name 200, address 500 bytes)");

    cfg->templates = env("BOOKINGD_TEMPLATES");
    if (cfg->templates) {
        struct bk_arena a;
        struct bk_mail_templates t;
        bk_arena_init(&a);
        bk_errbuf_clear(&sub);
        e = access(cfg->templates, R_OK | X_OK) != 0
                ? bk_fail(&sub, BK_E_CONFIG, "cannot read the directory '%s'",
                          cfg->templates)
                : bk_mail_templates_load(cfg->templates, &a, &t, &sub);
        bk_arena_release(&a);
        if (e)
            return bk_fail_field(err, BK_E_CONFIG, "BOOKINGD_TEMPLATES", "%s",
                                 sub.msg);
    }

    cfg->log_level = BK_LOG_INFO;
    v = env("BOOKINGD_LOG_LEVEL");
    if (v && bk_log_level_parse(v, &cfg->log_level) != BK_OK)
        return bk_fail_field(err, BK_E_CONFIG, "BOOKINGD_LOG_LEVEL",
                             "must be error, warn, info or debug, got '%s'", v);
    cfg->log_format = BK_LOG_TEXT;
    v = env("BOOKINGD_LOG_FORMAT");
    if (v && bk_log_format_parse(v, &cfg->log_format) != BK_OK)
        return bk_fail_field(err, BK_E_CONFIG, "BOOKINGD_LOG_FORMAT",
                             "must be text or json, got '%s'", v);

    /* BOOKINGD_LIMIT_*: the providers' rate limits and circuit breakers
     * (net/limits.h). */
    if ((e = bk_net_limits_load_env(err)))
        return e;

    return BK_OK;
}

void bk_config_report(const struct bk_errbuf *err)
{
    char msg[sizeof(err->msg)];

    /* One line, whatever bytes the environment held. */
    bk_strlcpy(msg, err->msg, sizeof(msg));
    for (char *p = msg; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7F)
            *p = '?';
    fprintf(stderr, "bookingd: %s: %s\n", err->field[0] ? err->field : "config",
            msg);
}
