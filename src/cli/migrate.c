/* cli/migrate.c — `bookingd migrate`: bring the database schema to this
 * build's version (serve does the same at start). */
#include <stdio.h>

#include "cli/cli.h"
#include "store/store.h"
#include "base/banned.h"

int bk_cli_migrate(int argc, char **argv)
{
    struct bk_config cfg;
    struct bk_errbuf err;
    struct bk_store *store = NULL;
    int from = 0, to = 0, rc = 1;

    (void)argv;
    bk_errbuf_clear(&err);
    if (argc) {
        fprintf(stderr, "usage: bookingd migrate\n");
        return 2;
    }
    if (bk_config_load(&cfg, &err) != BK_OK) {
        bk_config_report(&err);
        return 2;
    }
    if (bk_store_open(cfg.database, 1, &store, &err) != BK_OK) {
        bk_config_report_database(&cfg, &err);
        goto out;
    }
    if (bk_config_check_database(&cfg, store))
        goto out;
    if (bk_store_migrate(store, &from, &to, &err) != BK_OK) {
        bk_config_report_database(&cfg, &err);
        goto out;
    }
    if (from == to)
        printf("bookingd: schema is at version %d (up to date)\n", to);
    else
        printf("bookingd: schema migrated from version %d to %d\n", from, to);
    rc = 0;
out:
    bk_store_free(store);
    return rc;
}
