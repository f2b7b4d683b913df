/* main.c — the bookingd binary: dispatches to a subcommand in cli/. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/tz.h"
#include "base/banned.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"serve", bk_cli_serve, "run the daemon (HTTP API, booking page)"},
    {"migrate", bk_cli_migrate, "bring the database schema up to date"},
    {"apply", bk_cli_apply,
     "create or update hosts, schedules and event "
     "types from a JSON file"},
    {"slots", bk_cli_slots,
     "print free slots as JSON (database or case "
     "file)"},
    {"backup", bk_cli_backup,
     "copy the SQLite database to FILE while it serves"},
    {"restore", bk_cli_restore,
     "replace the SQLite database with the backup FILE (daemon stopped)"},
    {"rekey", bk_cli_rekey,
     "seal every stored credential again under BOOKINGD_SECRET_KEY"},
    {"export", bk_cli_export,
     "print bookings (CSV or iCalendar) or clients (CSV) on standard "
     "output"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: bookingd COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\nConfiguration comes from the environment; see README.md.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("bookingd 0.1.0\n");
        return 0;
    }
    bk_tz_init();
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 2, argv + 2);
    fprintf(stderr, "bookingd: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
