/* cli/cli.h — the subcommands of the bookingd binary and its
 * configuration. Each subcommand takes the arguments after its name and
 * returns the process exit status: 0 success, 1 failure at run time, 2 bad
 * usage, input or configuration. */
#ifndef BK_CLI_CLI_H
#define BK_CLI_CLI_H

#include <stdint.h>

#include "base/err.h"
#include "base/log.h"

/* The environment's configuration (README "Configuration"). Strings are
 * borrowed from the environment. */
struct bk_config {
    const char *database;        /* BOOKINGD_DATABASE */
    const char *listen;          /* BOOKINGD_LISTEN */
    const char *base_url;        /* BOOKINGD_BASE_URL, no trailing slash */
    char base_url_buf[600];      /* base_url points here */
    const char *admin_key;       /* BOOKINGD_ADMIN_KEY or NULL */
    int workers;                 /* BOOKINGD_WORKERS */
    enum bk_log_level log_level; /* BOOKINGD_LOG_LEVEL */
    int max_attempts;            /* BOOKINGD_JOB_MAX_ATTEMPTS */
    int64_t retry_base_ms;       /* BOOKINGD_JOB_RETRY_BASE_MS */
    int64_t retry_max_ms;        /* BOOKINGD_JOB_RETRY_MAX_MS */
    int64_t lease_ms;            /* BOOKINGD_JOB_LEASE_MS */
};

/* Reads and checks the configuration. On BK_E_CONFIG, err->field names the
 * variable and err->msg says what is wrong with it. */
BK_MUST_CHECK enum bk_err bk_config_load(struct bk_config *cfg,
                                         struct bk_errbuf *err);

/* Prints "bookingd: VARIABLE: message" for a failed bk_config_load. */
void bk_config_report(const struct bk_errbuf *err);

int bk_cli_serve(int argc, char **argv);
int bk_cli_migrate(int argc, char **argv);
int bk_cli_apply(int argc, char **argv);
int bk_cli_slots(int argc, char **argv);

#endif
