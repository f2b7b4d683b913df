/* cli/export.c — `bookingd export bookings|clients --format csv|ics`: the
 * ledger on standard output, from one read transaction (a snapshot), a page
 * at a time. CSV is RFC 4180 (CRLF, quoted fields, a header row) with
 * spreadsheet formula injection defused: a text cell that starts with =, +,
 * -, @, TAB or CR gets a leading ' (OWASP "CSV Injection"). ICS is
 * core/ics_export.h. */
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/time.h"
#include "cli/cli.h"
#include "core/booking.h"
#include "core/ics_export.h"
#include "ledger/ledger.h"
#include "store/store.h"
#include "base/banned.h"

#define PAGE     500
#define PAGE_MAX (64 * 1024 * 1024) /* bytes of one page's text */

enum what { EXPORT_BOOKINGS, EXPORT_CLIENTS };
enum format { FORMAT_CSV, FORMAT_ICS };

static void usage(void)
{
    fprintf(stderr, "usage: bookingd export bookings|clients "
                    "[--format csv|ics]\n");
}

/* One CSV field (RFC 4180 §2): quoted when it holds a comma, a quote or a
 * line break, quotes doubled. Text that a spreadsheet would read as a
 * formula gets a leading '. */
static enum bk_err csv_text(struct bk_buf *b, const char *s, bool first)
{
    bool guard, quote;
    enum bk_err e = BK_OK;

    if (!first && (e = bk_buf_append(b, ",", 1)))
        return e;
    if (!s || !*s)
        return BK_OK;
    guard = strchr("=+-@\t\r", s[0]) != NULL;
    quote = strpbrk(s, ",\"\r\n") != NULL;
    if (quote && (e = bk_buf_append(b, "\"", 1)))
        return e;
    if (guard && (e = bk_buf_append(b, "'", 1)))
        return e;
    for (const char *p = s; *p && !e; p++)
        e = *p == '"' ? bk_buf_append(b, "\"\"", 2) : bk_buf_append(b, p, 1);
    if (!e && quote)
        e = bk_buf_append(b, "\"", 1);
    return e;
}

static enum bk_err csv_time(struct bk_buf *b, int64_t utc)
{
    char ts[BK_RFC3339_MAX];

    if (!utc)
        return bk_buf_append(b, ",", 1);
    bk_rfc3339_format_utc(utc, ts);
    return bk_buf_appendf(b, ",%s", ts);
}

static enum bk_err csv_booking(struct bk_buf *out, const struct bk_booking *b)
{
    enum bk_err e;

    if ((e = csv_text(out, b->uid, true)) ||
        (e = csv_text(out, bk_booking_status_name(b->status), false)) ||
        (e = csv_time(out, b->start_utc)) || (e = csv_time(out, b->end_utc)) ||
        (e = csv_text(out, b->event_type_slug, false)) ||
        (e = csv_text(out, b->host_slug, false)) ||
        (e = csv_text(out, b->client_public_id, false)) ||
        (e = csv_text(out, b->client_name, false)) ||
        (e = csv_text(out, b->client_email, false)) ||
        (e = csv_text(out, b->attendee_timezone, false)) ||
        (e = csv_text(out, bk_source_name(b->source), false)) ||
        (e = csv_text(out, bk_payment_status_name(b->payment_status), false)) ||
        (e = csv_text(out, b->location, false)) ||
        (e = csv_text(out, b->meeting_url, false)) ||
        (e = csv_text(out, b->notes, false)) ||
        (e = csv_text(out, b->cancellation_reason, false)) ||
        (e = csv_time(out, b->created_utc)) ||
        (e = csv_time(out, b->updated_utc)))
        return e;
    return bk_buf_append(out, "\r\n", 2);
}

static enum bk_err csv_client(struct bk_buf *out, const struct bk_client *c)
{
    enum bk_err e;

    if ((e = csv_text(out, c->public_id, true)) ||
        (e = csv_text(out, c->email, false)) ||
        (e = csv_text(out, c->name, false)) ||
        (e = csv_text(out, c->timezone, false)) ||
        (e = csv_text(out, bk_client_status_name(c->status), false)) ||
        (e = csv_time(out, c->created_utc)) ||
        (e = csv_time(out, c->updated_utc)) ||
        (e = csv_text(out, c->phone, false)) ||
        (e = csv_text(out, c->notes, false)))
        return e;
    return bk_buf_append(out, "\r\n", 2);
}

/* Writes and empties out. */
static enum bk_err flush_out(struct bk_buf *out, struct bk_errbuf *err)
{
    if (out->len && fwrite(out->data, 1, out->len, stdout) != out->len)
        return bk_fail(err, BK_E_IO, "cannot write to standard output");
    bk_buf_reset(out);
    return BK_OK;
}

static enum bk_err export_bookings(struct bk_tx *tx, enum format fmt,
                                   struct bk_buf *out, struct bk_errbuf *err)
{
    struct bk_booking_filter f;
    struct bk_arena arena;
    enum bk_err e;

    bk_arena_init(&arena);
    memset(&f, 0, sizeof(f));
    f.status = -1;
    f.source = -1;
    f.limit = PAGE;
    e = fmt == FORMAT_CSV
            ? bk_buf_appends(out, "uid,status,start,end,event_type,host,"
                                  "client,attendee_name,attendee_email,"
                                  "attendee_timezone,source,payment_status,"
                                  "location,meeting_url,notes,"
                                  "cancellation_reason,created,updated\r\n")
            : bk_ics_export_begin(out, "bookingd");
    for (;;) {
        struct bk_booking *rows = NULL;
        size_t n = 0;

        if (e)
            break;
        e = bk_store_booking_list(tx, &f, &arena, &rows, &n, err);
        for (size_t i = 0; i < n && !e; i++) {
            int seq = 0;
            if (fmt == FORMAT_CSV)
                e = csv_booking(out, &rows[i]);
            else if (!(e = bk_ledger_invite_sequence(tx, rows[i].id, 0, &seq,
                                                     err)))
                e = bk_ics_export_booking(out, &rows[i], NULL, seq);
        }
        if (!e)
            e = flush_out(out, err);
        if (e || n < PAGE)
            break;
        f.has_after = true;
        f.after_start_utc = rows[n - 1].start_utc;
        f.after_id = rows[n - 1].id;
        bk_arena_release(&arena);
        bk_arena_init(&arena);
    }
    if (!e && fmt == FORMAT_ICS)
        e = bk_ics_export_end(out);
    if (!e)
        e = flush_out(out, err);
    bk_arena_release(&arena);
    return e;
}

static enum bk_err export_clients(struct bk_tx *tx, struct bk_buf *out,
                                  struct bk_errbuf *err)
{
    struct bk_page page = {0, PAGE};
    struct bk_arena arena;
    enum bk_err e;

    bk_arena_init(&arena);
    e = bk_buf_appends(out, "id,email,name,timezone,status,created,updated,"
                            "phone,notes\r\n");
    for (;;) {
        struct bk_client *rows = NULL;
        size_t n = 0;

        if (e)
            break;
        e = bk_store_client_list(tx, NULL, -1, &page, &arena, &rows, &n, err);
        for (size_t i = 0; i < n && !e; i++)
            e = csv_client(out, &rows[i]);
        if (!e)
            e = flush_out(out, err);
        if (e || n < PAGE)
            break;
        page.after_id = rows[n - 1].id;
        bk_arena_release(&arena);
        bk_arena_init(&arena);
    }
    bk_arena_release(&arena);
    return e;
}

int bk_cli_export(int argc, char **argv)
{
    struct bk_config cfg;
    struct bk_errbuf err;
    struct bk_store *store = NULL;
    struct bk_tx *tx = NULL;
    struct bk_buf out;
    enum what what;
    enum format fmt = FORMAT_CSV;
    bool fmt_seen = false;
    enum bk_err e;
    int rc = 1;

    bk_errbuf_clear(&err);
    if (argc < 1) {
        usage();
        return 2;
    }
    if (strcmp(argv[0], "bookings") == 0) {
        what = EXPORT_BOOKINGS;
    } else if (strcmp(argv[0], "clients") == 0) {
        what = EXPORT_CLIENTS;
    } else {
        usage();
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        if (strcmp(argv[i], "--format") == 0 && i + 1 < argc)
            v = argv[++i];
        else if (strncmp(argv[i], "--format=", 9) == 0)
            v = argv[i] + 9;
        if (!v || fmt_seen) {
            usage();
            return 2;
        }
        fmt_seen = true;
        if (strcmp(v, "csv") == 0) {
            fmt = FORMAT_CSV;
        } else if (strcmp(v, "ics") == 0) {
            fmt = FORMAT_ICS;
        } else {
            fprintf(stderr, "bookingd export: --format must be csv or ics\n");
            return 2;
        }
    }
    if (what == EXPORT_CLIENTS && fmt == FORMAT_ICS) {
        fprintf(stderr, "bookingd export: clients export as csv only\n");
        return 2;
    }
    if (bk_config_load(&cfg, &err) != BK_OK) {
        bk_config_report(&err);
        return 2;
    }
    bk_buf_init(&out, PAGE_MAX);
    if (bk_store_open(cfg.database, 1, &store, &err) != BK_OK) {
        bk_config_report_database(&cfg, &err);
        goto out;
    }
    e = bk_store_begin(store, BK_TX_READ, &tx, &err);
    if (!e)
        e = what == EXPORT_BOOKINGS ? export_bookings(tx, fmt, &out, &err)
                                    : export_clients(tx, &out, &err);
    if (e == BK_E_TOO_LARGE)
        bk_fail(&err, e, "a page of the export passed %d bytes", PAGE_MAX);
    if (!e && fflush(stdout) != 0)
        e = bk_fail(&err, BK_E_IO, "cannot write to standard output");
    if (e) {
        fprintf(stderr, "bookingd export: %s\n", err.msg);
        goto out;
    }
    rc = 0;
out:
    bk_store_rollback(tx);
    bk_store_free(store);
    bk_buf_release(&out);
    return rc;
}
