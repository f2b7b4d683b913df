/* cli/backup.c — `bookingd backup FILE` and `bookingd restore FILE`: a
 * consistent copy of a SQLite database while the daemon serves, and its
 * return while no other process has the database open (store.h,
 * bk_store_backup and bk_store_restore). PostgreSQL has pg_dump. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "base/str.h"
#include "store/store.h"
#include "base/banned.h"

#define FILE_MAX 4000

/* Checks the FILE argument; copies it to out (size FILE_MAX + 3), with
 * "./" before a name SQLite would read as a URI ("file:..."). Prints a
 * one-line error and returns false when it is unusable. */
static bool file_arg(const char *cmd, const char *arg, char *out)
{
    if (!*arg || arg[0] == '-' || strlen(arg) > FILE_MAX ||
        !bk_utf8_valid(arg, FILE_MAX, false)) {
        fprintf(stderr,
                "bookingd %s: FILE must be a path of 1..%d bytes without "
                "control characters, not starting with '-'\n",
                cmd, FILE_MAX);
        return false;
    }
    snprintf(out, FILE_MAX + 3, "%s%s",
             strncmp(arg, "file:", 5) == 0 ? "./" : "", arg);
    return true;
}

/* Shared by both: the arguments, the configuration and the store. */
static int open_for(const char *cmd, int argc, char **argv,
                    struct bk_config *cfg, char *file, bool must_exist,
                    struct bk_store **store)
{
    struct bk_errbuf err;
    struct stat sb;

    bk_errbuf_clear(&err);
    *store = NULL;
    if (argc != 1) {
        fprintf(stderr, "usage: bookingd %s FILE\n", cmd);
        return 2;
    }
    if (!file_arg(cmd, argv[0], file))
        return 2;
    if (bk_config_load(cfg, &err) != BK_OK) {
        bk_config_report(&err);
        return 2;
    }
    /* Opening a SQLite store creates a missing file: a backup of a
     * database that is not there is an error, not an empty copy. */
    if (must_exist && strncmp(cfg->database, "sqlite:", 7) == 0 &&
        stat(cfg->database + 7, &sb) != 0) {
        fprintf(stderr, "bookingd: BOOKINGD_DATABASE: %s: %s\n",
                cfg->database_shown, strerror(errno));
        return 1;
    }
    if (bk_store_open(cfg->database, 1, store, &err) != BK_OK) {
        bk_config_report_database(cfg, &err);
        return 1;
    }
    return 0;
}

static void report(const char *cmd, const struct bk_errbuf *err)
{
    char msg[sizeof(err->msg)];

    bk_strlcpy(msg, err->msg, sizeof(msg));
    for (char *p = msg; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = '?';
    fprintf(stderr, "bookingd %s: %s\n", cmd, msg);
}

int bk_cli_backup(int argc, char **argv)
{
    struct bk_config cfg;
    struct bk_errbuf err;
    struct bk_store *store = NULL;
    char file[FILE_MAX + 3];
    struct stat sb;
    int rc;

    bk_errbuf_clear(&err);
    rc = open_for("backup", argc, argv, &cfg, file, true, &store);
    if (rc)
        return rc;
    rc = 1;
    if (bk_store_backup(store, file, &err) != BK_OK) {
        report("backup", &err);
        goto out;
    }
    printf("bookingd: backed up %s to %s (%lld bytes)\n", cfg.database_shown,
           file, stat(file, &sb) == 0 ? (long long)sb.st_size : -1LL);
    rc = 0;
out:
    bk_store_free(store);
    return rc;
}

int bk_cli_restore(int argc, char **argv)
{
    struct bk_config cfg;
    struct bk_errbuf err;
    struct bk_store *store = NULL;
    char file[FILE_MAX + 3];
    int rc;

    bk_errbuf_clear(&err);
    rc = open_for("restore", argc, argv, &cfg, file, false, &store);
    if (rc)
        return rc;
    rc = 1;
    if (bk_store_restore(store, file, &err) != BK_OK) {
        report("restore", &err);
        goto out;
    }
    printf("bookingd: restored %s from %s; the next start brings its schema "
           "up to date\n",
           cfg.database_shown, file);
    rc = 0;
out:
    bk_store_free(store);
    return rc;
}
