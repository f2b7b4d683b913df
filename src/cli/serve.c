/* cli/serve.c — `bookingd serve`: migrate, load secrets, start the HTTP
 * server, run until SIGINT or SIGTERM, then stop in order. */
#include <signal.h>
#include <stdio.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "base/fault.h"
#include "base/log.h"
#include "base/str.h"
#include "base/time.h"
#include "cli/cli.h"
#include "core/tz.h"
#include "crypto/crypto.h"
#include "http/server.h"
#include "connectors/calcom.h"
#include "connectors/calcom_sync.h"
#include "connectors/calendly.h"
#include "connectors/calendly_oauth.h"
#include "connectors/calendly_sync.h"
#include "connectors/notion.h"
#include "connectors/zoom.h"
#include "connectors/calendars.h"
#include "connectors/gwatch.h"
#include "connectors/outwebhooks.h"
#include "connectors/stripe.h"
#include "jobs/inbox.h"
#include "ledger/events.h"
#include "ledger/payments.h"
#include "net/net.h"
#include "jobs/jobs.h"
#include "jobs/lifecycle.h"
#include "jobs/prune.h"
#include "mail/mail.h"
#include "store/store.h"
#include "webhooks/webhooks.h"
#include "base/banned.h"

/* Loads (or creates, once) the manage-token secret and the admin key's hash,
 * in one transaction; `note` (size 160) gets the line to print about the
 * admin key once it has committed. A generated admin key is shown once:
 * only its hash is kept. */
static enum bk_err load_secrets_once(struct bk_store *store,
                                     const struct bk_config *cfg,
                                     struct bk_api *api, char *note,
                                     struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    struct bk_arena arena;
    const char *v = NULL;
    char hex[2 * 32 + 1], key[48];
    enum bk_err e;

    bk_arena_init(&arena);
    e = bk_store_begin(store, BK_TX_WRITE, &tx, err);
    if (e)
        goto out;
    e = bk_store_meta_get(tx, "manage_secret", &arena, &v, err);
    if (e == BK_OK && !bk_hex_decode(v, api->manage_secret, 32))
        e = bk_fail(err, BK_E_INTERNAL, "the stored manage_secret is corrupt");
    if (e == BK_E_NOT_FOUND) {
        bk_random_bytes(api->manage_secret, 32);
        bk_hex_encode(api->manage_secret, 32, hex);
        e = bk_store_meta_put(tx, "manage_secret", hex, err);
    }
    if (e)
        goto out;
    if (cfg->admin_key) {
        bk_sha256(cfg->admin_key, strlen(cfg->admin_key),
                  api->admin_key_sha256);
        snprintf(note, 160, "bookingd: admin key: from BOOKINGD_ADMIN_KEY\n");
    } else {
        e = bk_store_meta_get(tx, "admin_key_sha256", &arena, &v, err);
        if (e == BK_OK && !bk_hex_decode(v, api->admin_key_sha256, 32))
            e = bk_fail(err, BK_E_INTERNAL,
                        "the stored admin_key_sha256 is corrupt");
        if (e == BK_OK)
            snprintf(note, 160,
                     "bookingd: admin key: the one generated at the first "
                     "start (set BOOKINGD_ADMIN_KEY to choose one)\n");
        if (e == BK_E_NOT_FOUND) {
            memcpy(key, "bk_admin_", 9);
            bk_random_token(key + 9, 32);
            bk_sha256(key, strlen(key), api->admin_key_sha256);
            bk_hex_encode(api->admin_key_sha256, 32, hex);
            e = bk_store_meta_put(tx, "admin_key_sha256", hex, err);
            if (e == BK_OK)
                snprintf(note, 160,
                         "bookingd: admin key (shown once; only its hash is "
                         "stored): %s\n",
                         key);
        }
    }
    if (e)
        goto out;
    e = bk_store_commit(tx, err);
    tx = NULL;
out:
    bk_store_rollback(tx);
    bk_arena_release(&arena);
    return e;
}

/* Several instances starting at once on one PostgreSQL database race to
 * create the secrets: the losers run again and read the winner's. */
static enum bk_err load_secrets(struct bk_store *store,
                                const struct bk_config *cfg, struct bk_api *api,
                                struct bk_errbuf *err)
{
    char note[160] = "";
    enum bk_err e;

    BK_STORE_RETRY(e, load_secrets_once(store, cfg, api, note, err));
    if (e == BK_OK) {
        fputs(note, stdout);
        fflush(stdout);
    }
    return e;
}

/* On SQLite this process owns the file: jobs still marked running were its
 * previous run's, which died; take them back now rather than after their
 * lease. On PostgreSQL other instances may be running them. */
static enum bk_err reclaim_jobs(struct bk_store *store, struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    enum bk_err e;
    int n = 0;

    if (strcmp(bk_store_backend(store), "sqlite") != 0)
        return BK_OK;
    e = bk_store_begin(store, BK_TX_WRITE, &tx, err);
    if (!e)
        e = bk_store_job_reclaim(tx, bk_now_ms(), &n, err);
    if (!e) {
        e = bk_store_commit(tx, err);
        tx = NULL;
    }
    bk_store_rollback(tx);
    if (!e && n)
        bk_log_info("jobs: took back %d job(s) left running by the previous "
                    "run",
                    n);
    return e;
}

/* The last resort of a shutdown: a job (or a handler) that outlives the
 * deadline by BK_SHUTDOWN_GRACE_MS is abandoned; its lease returns it to
 * the queue (on SQLite at once, at the next start). */
#define BK_SHUTDOWN_GRACE_MS 2000

static int64_t shutdown_timeout_ms; /* set before the watchdog starts */

static void *shutdown_watchdog(void *arg)
{
    int64_t ms = shutdown_timeout_ms + BK_SHUTDOWN_GRACE_MS;
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
                          .tv_nsec = (long)(ms % 1000) * 1000000L};

    (void)arg;
    while (nanosleep(&ts, &ts) != 0)
        ;
    bk_log_error("serve: still stopping %lld ms after the signal "
                 "(BOOKINGD_SHUTDOWN_TIMEOUT_MS + %d ms): exiting with "
                 "the work in flight abandoned; leased jobs run again",
                 (long long)shutdown_timeout_ms, BK_SHUTDOWN_GRACE_MS);
    fflush(stderr);
    _exit(1);
}

int bk_cli_serve(int argc, char **argv)
{
    struct bk_config cfg;
    struct bk_errbuf err;
    struct bk_store *store = NULL;
    struct bk_http_server *http = NULL;
    struct bk_http_server_config hcfg;
    struct bk_jobs *jobs = NULL;
    struct bk_jobs_config jcfg;
    struct bk_inbox *inbox = NULL;
    struct bk_inbox_config icfg;
    struct bk_webhook_registry webhooks;
    struct bk_job_kind kinds[BK_CLI_JOB_KINDS_MAX];
    struct bk_cli_job_env job_env;
    struct bk_jobs_prune_config prune;
    struct bk_jobs_lifecycle_config lifecycle;
    struct bk_mail_config mail;
    struct bk_mail_templates templates;
    struct bk_arena mail_arena;
    struct bk_outwebhooks outwebhooks;
    struct bk_calendly_config calendly;
    struct bk_calendly_oauth_config calendly_oauth;
    struct bk_zoom_config zoom;
    struct bk_notion_config notion;
    struct bk_calendly_sync calendly_sync;
    struct bk_calcom_config calcom;
    struct bk_calcom_sync calcom_sync;
    struct bk_stripe_config stripe;
    struct bk_calendars_config calendars;
    struct bk_gwatch_config gwatch;
    struct bk_google_config google;
    size_t n_kinds;
    struct bk_api api;
    struct bk_http_counters http_counters;
    sigset_t stop;
    int from = 0, to = 0, sig = 0, rc = 1;

    (void)argv;
    bk_errbuf_clear(&err);
    if (argc) {
        fprintf(stderr, "usage: bookingd serve\n");
        return 2;
    }
    if (bk_config_load(&cfg, &err) != BK_OK) {
        bk_config_report(&err);
        return 2;
    }
    bk_log_set_level(cfg.log_level);
    bk_log_set_format(cfg.log_format);
    /* Every thread started from here on inherits the blocked signals; the
     * main thread waits for them with sigwait. */
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    memset(&api, 0, sizeof(api));
    memset(&http_counters, 0, sizeof(http_counters));
    memset(&mail, 0, sizeof(mail));
    bk_arena_init(&mail_arena);
    bk_smtp_global_init();
    /* Subscribers before any ledger operation (ledger/events.h). */
    if (bk_mail_subscribe(cfg.max_attempts, &err) ||
        bk_mail_parse_from(cfg.mail_from, &mail_arena, &mail.from_name,
                           &mail.from_addr, &err) ||
        bk_mail_templates_load(cfg.templates, &mail_arena, &templates, &err)) {
        fprintf(stderr, "bookingd: %s\n", err.msg);
        goto out;
    }
    if (bk_store_open(cfg.database,
                      cfg.workers + 16 > 64 ? 64 : cfg.workers + 16, &store,
                      &err)) {
        bk_config_report_database(&cfg, &err);
        goto out;
    }
    /* Before anything writes: a damaged ledger is not served. */
    if (bk_config_check_database(&cfg, store))
        goto out;
    if (bk_store_migrate(store, &from, &to, &err)) {
        bk_config_report_database(&cfg, &err);
        goto out;
    }
    if (from != to)
        bk_log_info("store: schema migrated from version %d to %d", from, to);
    if (reclaim_jobs(store, &err)) {
        fprintf(stderr, "bookingd: %s\n", err.msg);
        goto out;
    }
    if (load_secrets(store, &cfg, &api, &err)) {
        fprintf(stderr, "bookingd: %s\n", err.msg);
        goto out;
    }
    api.store = store;
    api.base_url = cfg.base_url;
    api.embed_origins = cfg.embed_origins;

    /* Workers first, then the inbox that feeds them, then the server that
     * feeds the inbox; stopped in the reverse order. */
    bk_webhooks_init(&webhooks);
    memset(&prune, 0, sizeof(prune));
    prune.retention_days = cfg.retention_days;
    prune.interval_ms = cfg.prune_interval_s * 1000;
    prune.max_attempts = cfg.max_attempts;
    memset(&lifecycle, 0, sizeof(lifecycle));
    lifecycle.inactive_days = cfg.client_inactive_days;
    lifecycle.interval_ms = 86400 * 1000LL;
    lifecycle.max_attempts = cfg.max_attempts;
    memset(&outwebhooks, 0, sizeof(outwebhooks));
    outwebhooks.cfg.allow_private = cfg.webhook_allow_private;
    /* A send ends well within its job's lease, or another worker would
     * take the job while it still runs. */
    outwebhooks.cfg.timeout_ms = (int)(cfg.webhook_timeout_ms * 2 > cfg.lease_ms
                                           ? cfg.lease_ms / 2
                                           : cfg.webhook_timeout_ms);
    outwebhooks.cfg.connect_timeout_ms =
        (int)(cfg.webhook_connect_timeout_ms > outwebhooks.cfg.timeout_ms
                  ? outwebhooks.cfg.timeout_ms
                  : cfg.webhook_connect_timeout_ms);
    outwebhooks.cfg.max_attempts = cfg.webhook_max_attempts;
    outwebhooks.cfg.disable_after_ms = cfg.webhook_disable_after_s * 1000;
    memset(&calendars, 0, sizeof(calendars));
    calendars.secret_key = cfg.have_secret_key ? &cfg.secret_key : NULL;
    calendars.allow_private = cfg.calendar_allow_private;
    /* A push makes a few requests: they end well within the lease. */
    calendars.timeout_ms = (int)(cfg.calendar_timeout_ms * 4 > cfg.lease_ms
                                     ? cfg.lease_ms / 4
                                     : cfg.calendar_timeout_ms);
    calendars.connect_timeout_ms =
        (int)(cfg.calendar_connect_timeout_ms > calendars.timeout_ms
                  ? calendars.timeout_ms
                  : cfg.calendar_connect_timeout_ms);
    calendars.max_response = (size_t)cfg.calendar_max_response;
    calendars.max_attempts = cfg.max_attempts;
    calendars.base_url = cfg.base_url;
    calendars.horizon_days = (int)cfg.calendar_horizon_days;
    calendars.sync_interval_ms = cfg.calendar_sync_minutes * 60000;
    calendars.store = store;
    memset(&google, 0, sizeof(google));
    google.client_id = cfg.google_client_id;
    google.client_secret = cfg.google_client_secret;
    google.api_base = cfg.google_api_base;
    google.token_url = cfg.google_token_url;
    google.allow_private = cfg.google_base_set;
    google.connect_timeout_ms = calendars.connect_timeout_ms;
    google.timeout_ms = calendars.timeout_ms;
    google.max_response = calendars.max_response;
    calendars.google = &google;
    bk_ledger_invoice_issuer(cfg.business_name, cfg.business_address);
    if (bk_net_global_init(&err) ||
        bk_ledger_subscribe(bk_outwebhooks_subscriber(), &err) ||
        bk_ledger_subscribe(bk_calendars_subscriber(), &err)) {
        fprintf(stderr, "bookingd: %s\n", err.msg);
        goto out;
    }
    memset(&calendly, 0, sizeof(calendly));
    calendly.api_base = cfg.calendly_api_base;
    calendly.token = cfg.calendly_token;
    calendly.allow_private = cfg.calendly_api_base_set;
    calendly.timeout_ms = outwebhooks.cfg.timeout_ms;
    calendly.connect_timeout_ms = outwebhooks.cfg.connect_timeout_ms;
    memset(&calendly_oauth, 0, sizeof(calendly_oauth));
    if (cfg.calendly_client_id) {
        calendly_oauth.client_id = cfg.calendly_client_id;
        calendly_oauth.client_secret = cfg.calendly_client_secret;
        calendly_oauth.oauth_base = cfg.calendly_oauth_base;
        calendly_oauth.allow_private = cfg.calendly_oauth_base_set;
        calendly_oauth.connect_timeout_ms = calendly.connect_timeout_ms;
        calendly_oauth.timeout_ms = calendly.timeout_ms;
        calendly_oauth.refresh_interval_ms =
            cfg.calendly_refresh_interval_s * 1000;
        calendly_oauth.backoff_ms = cfg.calendly_refresh_backoff_ms;
        calendly_oauth.secret_key =
            cfg.have_secret_key ? &cfg.secret_key : NULL;
        calendly_oauth.store = store;
        calendly.oauth = &calendly_oauth;
        if (!cfg.have_secret_key)
            bk_log_warn("calendly: BOOKINGD_SECRET_KEY is not set: a "
                        "Calendly account cannot be authorized (OAuth)");
    }
    if ((calendly.token || calendly.oauth) &&
        bk_calendly_subscribe(cfg.max_attempts, &err)) {
        fprintf(stderr, "bookingd: %s\n", err.msg);
        goto out;
    }
    outwebhooks.cfg.secret_key = cfg.have_secret_key ? &cfg.secret_key : NULL;
    if (!cfg.have_secret_key)
        bk_log_warn("webhooks: BOOKINGD_SECRET_KEY is not set: outbound "
                    "webhook endpoint secrets are stored in plaintext");
    memset(&calcom, 0, sizeof(calcom));
    calcom.api_base = cfg.calcom_api_base;
    calcom.api_key = cfg.calcom_api_key;
    calcom.allow_private = cfg.calcom_api_base_set;
    calcom.timeout_ms = outwebhooks.cfg.timeout_ms;
    calcom.connect_timeout_ms = outwebhooks.cfg.connect_timeout_ms;
    if (calcom.api_key && bk_calcom_subscribe(cfg.max_attempts, &err)) {
        fprintf(stderr, "bookingd: %s\n", err.msg);
        goto out;
    }
    memset(&calcom_sync, 0, sizeof(calcom_sync));
    calcom_sync.cfg = &calcom;
    calcom_sync.store = store;
    calcom_sync.normalize = bk_webhook_calcom.normalize;
    calcom_sync.past_days = cfg.calcom_sync_past_days;
    calcom_sync.interval_s = cfg.calcom_sync_interval_s;
    memset(&zoom, 0, sizeof(zoom));
    zoom.api_base = cfg.zoom_api_base;
    zoom.oauth_base = cfg.zoom_oauth_base;
    zoom.account_id = cfg.zoom_account_id;
    zoom.client_id = cfg.zoom_client_id;
    zoom.client_secret = cfg.zoom_client_secret;
    zoom.allow_private = cfg.zoom_bases_set;
    zoom.timeout_ms = outwebhooks.cfg.timeout_ms;
    zoom.connect_timeout_ms = outwebhooks.cfg.connect_timeout_ms;
    if (zoom.account_id && bk_zoom_subscribe(cfg.max_attempts, &err)) {
        fprintf(stderr, "bookingd: %s\n", err.msg);
        goto out;
    }
    memset(&notion, 0, sizeof(notion));
    notion.api_base = cfg.notion_api_base;
    notion.token = cfg.notion_token;
    notion.parent_page = cfg.notion_parent_page;
    notion.allow_private = cfg.notion_api_base_set;
    notion.timeout_ms = outwebhooks.cfg.timeout_ms;
    notion.connect_timeout_ms = outwebhooks.cfg.connect_timeout_ms;
    notion.max_attempts = cfg.max_attempts;
    notion.pull_interval_ms = cfg.notion_pull_s * 1000;
    notion.store = store;
    if (notion.token && bk_notion_subscribe(cfg.max_attempts, &err)) {
        fprintf(stderr, "bookingd: %s\n", err.msg);
        goto out;
    }
    if (cfg.webhook_allow_private)
        bk_log_warn("webhooks: BOOKINGD_WEBHOOK_ALLOW_PRIVATE=1: outbound "
                    "webhooks may go to http and private addresses");
    job_env.webhooks = &webhooks;
    job_env.prune = &prune;
    job_env.lifecycle = &lifecycle;
    mail.smtp.url = cfg.smtp_url;
    mail.smtp.ca_file = cfg.smtp_ca_file;
    mail.smtp.connect_timeout_ms =
        cfg.smtp_timeout_ms < 10000 ? cfg.smtp_timeout_ms : 10000;
    mail.smtp.timeout_ms = cfg.smtp_timeout_ms;
    mail.base_url = cfg.base_url;
    memcpy(mail.manage_secret, api.manage_secret, sizeof(mail.manage_secret));
    mail.max_attempts = cfg.max_attempts;
    mail.templates = &templates;
    job_env.mail = &mail;
    job_env.outwebhooks = &outwebhooks;
    job_env.calendly = &calendly;
    job_env.calcom = &calcom;
    job_env.calcom_sync = &calcom_sync;
    job_env.zoom = &zoom;
    job_env.notion = &notion;
    memset(&stripe, 0, sizeof(stripe));
    stripe.secret_key = cfg.stripe_secret_key;
    stripe.api_base = cfg.stripe_api_base;
    stripe.base_url = cfg.base_url;
    memcpy(stripe.manage_secret, api.manage_secret,
           sizeof(stripe.manage_secret));
    /* A call ends well within its job's lease (see outbound webhooks). */
    stripe.timeout_ms =
        (int)(cfg.stripe_timeout_ms * 2 > cfg.lease_ms ? cfg.lease_ms / 2
                                                       : cfg.stripe_timeout_ms);
    stripe.connect_timeout_ms =
        stripe.timeout_ms < 5000 ? stripe.timeout_ms : 5000;
    job_env.stripe = &stripe;
    job_env.calendars = &calendars;
    memset(&gwatch, 0, sizeof(gwatch));
    gwatch.cal = &calendars;
    gwatch.address =
        cfg.google_watch_address[0] ? cfg.google_watch_address : NULL;
    gwatch.manage_secret = api.manage_secret;
    gwatch.ttl_ms = cfg.google_watch_ttl_s * 1000;
    gwatch.max_attempts = cfg.max_attempts;
    job_env.gwatch = &gwatch;
    if (cfg.google_client_id)
        bk_log_info("calendars: Google push notifications %s%s",
                    gwatch.address ? "to "
                                   : "off (BOOKINGD_BASE_URL is not "
                                     "https and public)",
                    gwatch.address ? gwatch.address : "");
    n_kinds = bk_cli_job_kinds(&job_env, kinds);
    memset(&jcfg, 0, sizeof(jcfg));
    jcfg.workers = cfg.workers;
    jcfg.lease_ms = cfg.lease_ms;
    jcfg.retry_base_ms = cfg.retry_base_ms;
    jcfg.retry_max_ms = cfg.retry_max_ms;
    jcfg.idle_poll_ms = cfg.idle_poll_ms;
    memset(&icfg, 0, sizeof(icfg));
    icfg.max_batch = 256;
    icfg.max_queue = 4096;
    icfg.max_attempts = cfg.max_attempts;
    if (bk_jobs_start(store, &jcfg, kinds, n_kinds, &jobs, &err) ||
        bk_inbox_start(store, jobs, &icfg, &inbox, &err)) {
        fprintf(stderr, "bookingd: %s\n", err.msg);
        goto out;
    }
    for (size_t i = 0; i < webhooks.n; i++)
        if (!webhooks.entries[i].secret)
            bk_log_info("webhooks: /webhooks/%s is off until %s is set",
                        webhooks.entries[i].provider->name,
                        webhooks.entries[i].provider->secret_env);
    if (cfg.smtp_url)
        bk_log_info("mail: sending through %s as %s", cfg.smtp_url_shown,
                    mail.from_addr);
    else
        bk_log_info("mail: BOOKINGD_SMTP_URL is not set: messages are "
                    "recorded as skipped, not sent");
    outwebhooks.jobs = jobs;
    api.inbox = inbox;
    api.jobs = jobs;
    api.webhook_allow_private = cfg.webhook_allow_private;
    api.webhook_max_attempts = cfg.webhook_max_attempts;
    api.ready_stall_ms = cfg.ready_stall_ms;
    if (cfg.ready_stall_ms < cfg.webhook_timeout_ms ||
        (cfg.smtp_url && cfg.ready_stall_ms < cfg.smtp_timeout_ms))
        bk_log_warn("serve: BOOKINGD_READY_STALL_MS (%lld ms) is below the "
                    "time one job may legitimately take "
                    "(BOOKINGD_SMTP_TIMEOUT_MS, BOOKINGD_WEBHOOK_TIMEOUT_MS): "
                    "/readyz may report a slow send as a stalled worker",
                    (long long)cfg.ready_stall_ms);
    api.webhooks = &webhooks;
    api.hold_min = cfg.stripe_secret_key ? cfg.hold_min : 0;
    api.checkout_wait_ms = cfg.checkout_wait_ms;
    api.job_max_attempts = cfg.max_attempts;
    if (cfg.stripe_secret_key)
        bk_log_info("payments: Stripe at %s; holds last %d minutes",
                    cfg.stripe_api_base, cfg.hold_min);
    else
        bk_log_info("payments: STRIPE_SECRET_KEY is not set: priced event "
                    "types cannot be booked on the public page");
    api.secret_key = cfg.have_secret_key ? &cfg.secret_key : NULL;
    api.calendar_allow_private = cfg.calendar_allow_private;
    api.calendar_connect_timeout_ms = (int)cfg.calendar_connect_timeout_ms;
    api.calendar_timeout_ms = (int)cfg.calendar_timeout_ms;
    api.calendar_max_response = (size_t)cfg.calendar_max_response;
    memset(&calendly_sync, 0, sizeof(calendly_sync));
    calendly_sync.cfg = &calendly;
    calendly_sync.store = store;
    calendly_sync.normalize = bk_webhook_calendly.normalize;
    if (bk_webhooks_find(&webhooks, "calendly", &calendly_sync.signing_key) &&
        calendly_sync.signing_key)
        calendly_sync.callback_url =
            bk_arena_printf(&mail_arena, /* lives as long as the server */
                            "%s/webhooks/calendly", cfg.base_url);
    if (calendly.token || calendly.oauth) {
        api.calendly_sync = bk_calendly_sync_run;
        api.calendly_sync_ctx = &calendly_sync;
    }
    if (notion.token) {
        api.notion_sync = bk_notion_sync_run;
        api.notion_sync_ctx = &notion;
        bk_log_info("notion: mirroring to %s, pulling every %lld s",
                    cfg.notion_api_base, (long long)cfg.notion_pull_s);
    }
    if (calcom.api_key) {
        api.calcom_sync = bk_calcom_sync_run;
        api.calcom_sync_ctx = &calcom_sync;
    }
    api.calendly_pat = calendly.token != NULL;
    if (calendly.oauth) {
        api.calendly_client_id = calendly_oauth.client_id;
        api.calendly_auth_url = bk_arena_printf(
            &mail_arena, "%s/oauth/authorize", calendly_oauth.oauth_base);
        api.calendly_connect = bk_calendly_oauth_connect;
        api.calendly_status = bk_calendly_oauth_status;
        api.calendly_forget = bk_calendly_oauth_forget;
        api.calendly_ctx = &calendly_oauth;
    }
    api.calendar_sync = bk_calendars_sync_api;
    if (cfg.google_client_id) {
        api.google_client_id = cfg.google_client_id;
        api.google_auth_url = cfg.google_auth_url;
        api.google_connect = bk_google_connect_api;
        api.google_connect_ctx = &google;
    }
    api.calendar_sync_ctx = &calendars;
    if (!cfg.have_secret_key)
        bk_log_info("calendars: BOOKINGD_SECRET_KEY is not set: calendar "
                    "connections (credentials) cannot be added");
    if (cfg.calendar_allow_private)
        bk_log_warn("calendars: BOOKINGD_CALENDAR_ALLOW_PRIVATE=1: calendar "
                    "servers may be reached over http and private addresses");

    memset(&hcfg, 0, sizeof(hcfg));
    hcfg.listen = cfg.listen;
    hcfg.max_body = 1024 * 1024;
    hcfg.threads = cfg.http_threads;
    hcfg.max_connections = cfg.max_connections;
    hcfg.max_connections_per_ip = cfg.max_connections_per_ip;
    hcfg.timeout_s = 30;
    hcfg.request_deadline_ms = cfg.request_deadline_ms;
    if (bk_ratelimit_new(cfg.rate_limits, BK_RATE_CLASSES,
                         (size_t)cfg.rate_limit_addresses, &api.ratelimit,
                         &err)) {
        fprintf(stderr, "bookingd: %s\n", err.msg);
        goto out;
    }
    hcfg.handler = bk_api_handle;
    hcfg.ctx = &api;
    hcfg.observe = bk_api_observe;
    hcfg.counters = &http_counters;
    api.http_counters = &http_counters;
    if (bk_http_server_start(&hcfg, &http, &err)) {
        fprintf(stderr, "bookingd: BOOKINGD_LISTEN: %s\n", err.msg);
        rc = 2;
        goto out;
    }
    printf("bookingd: listening on %s (port %d), booking page %s/\n",
           cfg.listen, bk_http_server_port(http), cfg.base_url);
    fflush(stdout);
    bk_log_info("serve: ready (database %s, %d workers, %d HTTP threads, "
                "%d connections, %d per address)",
                cfg.database_shown, cfg.workers, cfg.http_threads,
                bk_http_server_max_connections(http),
                cfg.max_connections_per_ip);
    bk_fault_serving(); /* test builds: "@serving" fault points count */

    sigwait(&stop, &sig);
    bk_log_info("serve: signal %d, shutting down (requests in flight get "
                "%lld ms)",
                sig, (long long)cfg.shutdown_timeout_ms);
    {
        pthread_t t;
        shutdown_timeout_ms = cfg.shutdown_timeout_ms;
        if (pthread_create(&t, NULL, shutdown_watchdog, NULL) == 0)
            pthread_detach(t);
    }
    /* Stop accepting and answer what is in flight, then stop the inbox
     * (its last batch commits) and the workers (after their job). */
    bk_api_waits_end();
    (void)bk_http_server_drain(http, cfg.shutdown_timeout_ms);
    rc = 0;
out:
    bk_http_server_free(http);
    bk_inbox_free(inbox);
    bk_jobs_free(jobs);
    bk_store_free(store);
    bk_ratelimit_free(api.ratelimit);
    bk_arena_release(&mail_arena);
    if (rc == 0)
        bk_log_info("serve: stopped");
    return rc;
}
