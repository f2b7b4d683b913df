/* cli/cli.h — the subcommands of the bookingd binary and its
 * configuration. Each subcommand takes the arguments after its name and
 * returns the process exit status: 0 success, 1 failure at run time, 2 bad
 * usage, input or configuration. */
#ifndef BK_CLI_CLI_H
#define BK_CLI_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api.h"
#include "base/err.h"
#include "base/log.h"
#include "crypto/crypto.h"
#include "http/ratelimit.h"
#include "store/store.h"
#include "jobs/jobs.h"

struct bk_webhook_registry;
struct bk_jobs_prune_config;
struct bk_jobs_lifecycle_config;
struct bk_mail_config;
struct bk_outwebhooks;
struct bk_calendly_config;
struct bk_calcom_config;
struct bk_calcom_sync;
struct bk_zoom_config;
struct bk_notion_config;
struct bk_stripe_config;
struct bk_calendars_config;

/* The environment's configuration (README "Configuration"). Strings are
 * borrowed from the environment. */
struct bk_config {
    const char *database;     /* BOOKINGD_DATABASE */
    char database_shown[512]; /* the same without its password, for
                                 messages and logs */
    const char *listen;       /* BOOKINGD_LISTEN */
    const char *base_url;     /* BOOKINGD_BASE_URL, no trailing slash */
    char base_url_buf[600];   /* base_url points here */
    /* BOOKINGD_EMBED_ORIGINS: the origins that may frame the booking
     * page, space-separated ("https://a.example https://b.example"), or
     * NULL. */
    const char *embed_origins;
    char embed_origins_buf[1100];
    const char *admin_key;         /* BOOKINGD_ADMIN_KEY or NULL */
    int workers;                   /* BOOKINGD_WORKERS */
    enum bk_log_level log_level;   /* BOOKINGD_LOG_LEVEL */
    enum bk_log_format log_format; /* BOOKINGD_LOG_FORMAT */
    int64_t shutdown_timeout_ms;   /* BOOKINGD_SHUTDOWN_TIMEOUT_MS */
    int64_t ready_stall_ms;        /* BOOKINGD_READY_STALL_MS */
    /* BOOKINGD_RATE_LIMIT_<CLASS>, indexed by enum bk_rate_class. */
    struct bk_ratelimit_rule rate_limits[BK_RATE_CLASSES];
    int64_t rate_limit_addresses;        /* BOOKINGD_RATE_LIMIT_ADDRESSES */
    int max_attempts;                    /* BOOKINGD_JOB_MAX_ATTEMPTS */
    int64_t retry_base_ms;               /* BOOKINGD_JOB_RETRY_BASE_MS */
    int64_t retry_max_ms;                /* BOOKINGD_JOB_RETRY_MAX_MS */
    int64_t lease_ms;                    /* BOOKINGD_JOB_LEASE_MS */
    enum bk_store_check integrity_check; /* BOOKINGD_INTEGRITY_CHECK */
    int http_threads;                    /* BOOKINGD_HTTP_THREADS */
    int max_connections;                 /* BOOKINGD_MAX_CONNECTIONS */
    int max_connections_per_ip;          /* BOOKINGD_MAX_CONNECTIONS_PER_IP */
    int64_t request_deadline_ms;         /* BOOKINGD_REQUEST_DEADLINE_MS */
    int64_t idle_poll_ms;                /* BOOKINGD_JOB_IDLE_POLL_MS */
    int retention_days;       /* BOOKINGD_JOB_RETENTION_DAYS (0: keep) */
    int64_t prune_interval_s; /* BOOKINGD_JOB_PRUNE_INTERVAL_S */
    int client_inactive_days; /* BOOKINGD_CLIENT_INACTIVE_DAYS (0: never) */
    const char *smtp_url;     /* BOOKINGD_SMTP_URL or NULL (mail skipped) */
    char smtp_url_shown[512]; /* the same without its password */
    const char *smtp_ca_file; /* BOOKINGD_SMTP_CA_FILE or NULL */
    int64_t smtp_timeout_ms;  /* BOOKINGD_SMTP_TIMEOUT_MS: one send */
    const char *mail_from;    /* BOOKINGD_MAIL_FROM */
    const char *templates;    /* BOOKINGD_TEMPLATES (a directory) or NULL */
    /* Outbound webhooks (connectors/outwebhooks.h). */
    bool webhook_allow_private;         /* BOOKINGD_WEBHOOK_ALLOW_PRIVATE */
    int64_t webhook_connect_timeout_ms; /* BOOKINGD_WEBHOOK_CONNECT_... */
    int64_t webhook_timeout_ms;         /* BOOKINGD_WEBHOOK_TIMEOUT_MS */
    int webhook_max_attempts;           /* BOOKINGD_WEBHOOK_MAX_ATTEMPTS */
    int64_t webhook_disable_after_s;    /* BOOKINGD_WEBHOOK_DISABLE_AFTER_S */
    /* Calendly's API (connectors/calendly.h). */
    const char *calendly_token;   /* CALENDLY_TOKEN or NULL */
    char calendly_api_base[2049]; /* CALENDLY_API_BASE, no trailing '/' */
    bool calendly_api_base_set;   /* set by the operator (may be private) */
    /* Cal.com's API (connectors/calcom.h, docs/providers/calcom.md). */
    const char *calcom_api_key;     /* CALCOM_API_KEY or NULL */
    char calcom_api_base[2049];     /* CALCOM_API_BASE, no trailing '/' */
    bool calcom_api_base_set;       /* set by the operator (may be private) */
    int64_t calcom_sync_interval_s; /* CALCOM_SYNC_INTERVAL_S; 0: off */
    int64_t calcom_sync_past_days;  /* CALCOM_SYNC_PAST_DAYS */
    /* Calendly OAuth (connectors/calendly_oauth.h); both or none. */
    const char *calendly_client_id;     /* CALENDLY_CLIENT_ID or NULL */
    const char *calendly_client_secret; /* CALENDLY_CLIENT_SECRET */
    char calendly_oauth_base[2049];     /* CALENDLY_OAUTH_BASE, no '/' */
    bool calendly_oauth_base_set;
    int64_t calendly_refresh_interval_s; /* CALENDLY_REFRESH_INTERVAL_S */
    int64_t calendly_refresh_backoff_ms; /* CALENDLY_REFRESH_BACKOFF_MS */
    /* Google Calendar (connectors/google.h, docs/calendars.md). */
    const char *google_client_id;     /* GOOGLE_CLIENT_ID or NULL (off) */
    const char *google_client_secret; /* GOOGLE_CLIENT_SECRET */
    char google_api_base[2049];       /* GOOGLE_API_BASE, no trailing '/' */
    char google_auth_url[2100];       /* GOOGLE_OAUTH_BASE's consent page */
    char google_token_url[2100];      /* ... and token endpoint */
    bool google_base_set;             /* a base set by the operator */
    /* Push notifications (connectors/gwatch.h): the address channels
     * deliver to, "" when they are off (BOOKINGD_BASE_URL not https and
     * public, and BOOKINGD_GOOGLE_WATCH_ALLOW_PRIVATE not 1). */
    char google_watch_address[2100];
    bool google_watch_allow_private; /* BOOKINGD_GOOGLE_WATCH_ALLOW_PRIVATE */
    int64_t google_watch_ttl_s;      /* BOOKINGD_GOOGLE_WATCH_TTL_S */
    /* Zoom's meetings (connectors/zoom.h); all three or none. */
    const char *zoom_account_id;    /* ZOOM_ACCOUNT_ID or NULL (off) */
    const char *zoom_client_id;     /* ZOOM_CLIENT_ID */
    const char *zoom_client_secret; /* ZOOM_CLIENT_SECRET */
    char zoom_api_base[2049];       /* ZOOM_API_BASE, no trailing '/' */
    char zoom_oauth_base[2049];     /* ZOOM_OAUTH_BASE, no trailing '/' */
    bool zoom_bases_set;            /* either set by the operator */
    /* Notion's mirror (connectors/notion.h); token and parent page both
     * or neither. */
    const char *notion_token;       /* NOTION_TOKEN or NULL (off) */
    const char *notion_parent_page; /* NOTION_PARENT_PAGE (a page id) */
    char notion_api_base[2049];     /* NOTION_API_BASE, no trailing '/' */
    bool notion_api_base_set;       /* set by the operator (may be private) */
    int64_t notion_pull_s;          /* NOTION_PULL_SECONDS */
    /* Payments (connectors/stripe.h, docs/payments.md). */
    const char *stripe_secret_key; /* STRIPE_SECRET_KEY or NULL (off) */
    const char *stripe_api_base;   /* STRIPE_API_BASE, no trailing slash */
    char stripe_api_base_buf[600];
    int hold_min;                 /* BOOKINGD_HOLD_MINUTES */
    int64_t checkout_wait_ms;     /* BOOKINGD_CHECKOUT_WAIT_MS */
    int64_t stripe_timeout_ms;    /* BOOKINGD_STRIPE_TIMEOUT_MS */
    const char *business_name;    /* BOOKINGD_BUSINESS_NAME (invoices) */
    const char *business_address; /* BOOKINGD_BUSINESS_ADDRESS */
    /* Credentials at rest and calendars (docs/calendars.md). */
    bool have_secret_key;            /* BOOKINGD_SECRET_KEY is set */
    struct bk_secret_key secret_key; /* ... and read; its .previous
                                        points at secret_key_previous
                                        when that is set */
    bool have_secret_key_previous;   /* BOOKINGD_SECRET_KEY_PREVIOUS */
    struct bk_secret_key secret_key_previous;
    bool calendar_allow_private;         /* BOOKINGD_CALENDAR_ALLOW_PRIVATE */
    int64_t calendar_connect_timeout_ms; /* BOOKINGD_CALENDAR_CONNECT_... */
    int64_t calendar_timeout_ms;         /* BOOKINGD_CALENDAR_TIMEOUT_MS */
    int64_t calendar_max_response;       /* BOOKINGD_CALENDAR_MAX_RESPONSE */
    int64_t calendar_sync_minutes;       /* BOOKINGD_CALENDAR_SYNC_MINUTES */
    int64_t calendar_horizon_days;       /* BOOKINGD_CALENDAR_HORIZON_DAYS */
};

/* Reads and checks the configuration. On BK_E_CONFIG, err->field names the
 * variable and err->msg says what is wrong with it. */
BK_MUST_CHECK enum bk_err bk_config_load(struct bk_config *cfg,
                                         struct bk_errbuf *err);

/* Copies a database URL into out (size bytes, truncated) with the password
 * of a "scheme://user:password@host" URI and any "password=" parameter
 * replaced by "***": what messages and logs may show. */
void bk_config_redact_url(const char *url, char *out, size_t size);

/* Prints "bookingd: BOOKINGD_DATABASE: URL: message" (URL without its
 * password) for a database that could not be opened or migrated. */
void bk_config_report_database(const struct bk_config *cfg,
                               const struct bk_errbuf *err);

/* Runs the integrity check cfg asks for (BOOKINGD_INTEGRITY_CHECK) on a
 * store just opened; on failure prints one line naming BOOKINGD_DATABASE
 * and the way out, and returns the error. */
BK_MUST_CHECK enum bk_err bk_config_check_database(const struct bk_config *cfg,
                                                   struct bk_store *store);

/* Prints "bookingd: VARIABLE: message" for a failed bk_config_load. */
void bk_config_report(const struct bk_errbuf *err);

/* What the job kinds' handlers borrow (each must outlive the worker
 * pool). */
struct bk_gwatch_config;
struct bk_cli_job_env {
    const struct bk_webhook_registry *webhooks;
    const struct bk_jobs_prune_config *prune;
    const struct bk_mail_config *mail;
    struct bk_outwebhooks *outwebhooks;
    const struct bk_calendly_config *calendly;
    const struct bk_calcom_config *calcom;
    struct bk_calcom_sync *calcom_sync;
    const struct bk_stripe_config *stripe; /* NULL: no Stripe jobs run */
    const struct bk_calendars_config *calendars;
    const struct bk_zoom_config *zoom;
    const struct bk_jobs_lifecycle_config *lifecycle;
    const struct bk_gwatch_config *gwatch;
    const struct bk_notion_config *notion;
};

#define BK_CLI_JOB_KINDS_MAX 48

/* Fills out with every job kind this binary runs, from the one table in
 * kinds.c, and returns how many. The kinds borrow env's fields. */
size_t bk_cli_job_kinds(const struct bk_cli_job_env *env,
                        struct bk_job_kind out[BK_CLI_JOB_KINDS_MAX]);

int bk_cli_serve(int argc, char **argv);
int bk_cli_migrate(int argc, char **argv);
int bk_cli_rekey(int argc, char **argv);
int bk_cli_apply(int argc, char **argv);
int bk_cli_slots(int argc, char **argv);
int bk_cli_backup(int argc, char **argv);
int bk_cli_restore(int argc, char **argv);
int bk_cli_export(int argc, char **argv);

#endif
