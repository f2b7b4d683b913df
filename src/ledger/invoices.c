/* ledger/invoices.c — invoices of paid bookings (payments.h "Invoices",
 * docs/payments.md): issued in the paying transaction with the next
 * number of the year, their status following the refunds. */
#include <string.h>

#include <jansson.h>

#include "ledger/payments.h"
#include "ledger/packages.h"
#include "base/str.h"
#include "base/time.h"
#include "ledger/events.h"
#include "ledger/internal.h"
#include "base/banned.h"

#define ISSUER_MAX 512

/* Written once at start-up, before any worker runs (payments.h). */
static char issuer_name[ISSUER_MAX] = "bookingd";
static char issuer_address[ISSUER_MAX];

void bk_ledger_invoice_issuer(const char *name, const char *address)
{
    if (name && *name)
        bk_strlcpy(issuer_name, name, sizeof(issuer_name));
    bk_strlcpy(issuer_address, address ? address : "", sizeof(issuer_address));
}

static void event_of(struct bk_ledger_event *ev, const struct bk_booking *b,
                     int64_t now_utc)
{
    bk_ledger_event_init(ev, BK_LEV_INVOICE_PAID, now_utc, "system");
    ev->source = "stripe";
    ev->booking_id = b->id;
    ev->client_id = b->client_id;
    ev->host_id = b->host_id;
    ev->event_type_id = b->event_type_id;
}

enum bk_err bk_ledger_invoice_paid(struct bk_tx *tx, const struct bk_booking *b,
                                   const struct bk_payment *p, int64_t now_utc,
                                   struct bk_arena *arena,
                                   struct bk_errbuf *err)
{
    struct bk_ledger_event ev;
    struct bk_invoice v;
    struct bk_client c;
    char start[11];
    int y, m, d;
    enum bk_err e = bk_store_invoice_by_booking(tx, b->id, arena, &v, NULL);

    if (e != BK_E_NOT_FOUND)
        return e; /* BK_OK: it has one */
    if ((e = bk_store_client_get(tx, b->client_id, arena, &c, err)))
        return e;
    memset(&v, 0, sizeof(v));
    bk_civil_from_days(now_utc / BK_SECS_PER_DAY, &y, &m, &d);
    v.year = y;
    if ((e = bk_store_invoice_next_seq(tx, y, &v.seq, err)))
        return e;
    v.number = bk_arena_printf(arena, "INV-%d-%04lld", y, (long long)v.seq);
    v.booking_id = b->id;
    v.client_id = b->client_id;
    v.issuer_name = issuer_name;
    v.issuer_address = *issuer_address ? issuer_address : NULL;
    v.client_name =
        b->attendee_name && *b->attendee_name ? b->attendee_name : c.name;
    v.client_email =
        b->attendee_email && *b->attendee_email ? b->attendee_email : c.email;
    bk_date_format(b->start_utc / BK_SECS_PER_DAY, start);
    v.line = bk_arena_printf(
        arena, "%s, %s (booking %s)",
        b->event_type_title ? b->event_type_title : "Booking", start, b->uid);
    v.amount_minor = p->amount_minor;
    memcpy(v.currency, p->currency, sizeof(v.currency));
    v.status = BK_INVOICE_PAID;
    v.stripe_session = p->session_id;
    v.stripe_payment_intent = p->payment_intent;
    v.issued_utc = v.paid_utc = v.updated_utc = now_utc;
    if ((e = bk_store_invoice_insert(tx, &v, &v.id, err)))
        return e;
    event_of(&ev, b, now_utc);
    ev.detail = bk_ledger_json(
        arena, json_pack("{s:s, s:I, s:s}", "invoice", v.number, "amount",
                         (json_int_t)v.amount_minor, "currency", v.currency));
    return bk_ledger_emit(tx, &ev, err);
}

enum bk_err bk_ledger_invoice_refunded(struct bk_tx *tx,
                                       const struct bk_booking *b,
                                       int64_t amount_minor, int64_t now_utc,
                                       struct bk_arena *arena,
                                       struct bk_errbuf *err)
{
    struct bk_invoice v;
    enum bk_err e = bk_store_invoice_by_booking(tx, b->id, arena, &v, NULL);

    if (e == BK_E_NOT_FOUND)
        return BK_OK;
    if (e)
        return e;
    v.refunded_minor =
        amount_minor > 0 && v.refunded_minor + amount_minor < v.amount_minor
            ? v.refunded_minor + amount_minor
            : v.amount_minor;
    v.status = v.refunded_minor >= v.amount_minor
                   ? BK_INVOICE_REFUNDED
                   : BK_INVOICE_PARTIALLY_REFUNDED;
    v.updated_utc = now_utc;
    return bk_store_invoice_update(tx, &v, err);
}

enum bk_err bk_ledger_invoice_purchase(struct bk_tx *tx,
                                       const struct bk_package_purchase *p,
                                       int64_t now_utc, struct bk_arena *arena,
                                       const char **number,
                                       struct bk_errbuf *err)
{
    struct bk_ledger_event ev;
    struct bk_invoice v;
    int y, m, d;
    enum bk_err e;

    memset(&v, 0, sizeof(v));
    bk_civil_from_days(now_utc / BK_SECS_PER_DAY, &y, &m, &d);
    v.year = y;
    if ((e = bk_store_invoice_next_seq(tx, y, &v.seq, err)))
        return e;
    v.number = bk_arena_printf(arena, "INV-%d-%04lld", y, (long long)v.seq);
    v.client_id = p->client_id;
    v.issuer_name = issuer_name;
    v.issuer_address = *issuer_address ? issuer_address : NULL;
    v.client_name = p->attendee_name;
    v.client_email = p->attendee_email;
    v.line = bk_arena_printf(arena, "%s: package of %d session%s (purchase %s)",
                             p->package_name ? p->package_name : "Package",
                             p->sessions, p->sessions == 1 ? "" : "s", p->uid);
    v.amount_minor = p->amount_minor;
    memcpy(v.currency, p->currency, sizeof(v.currency));
    v.status = BK_INVOICE_PAID;
    v.stripe_session = p->session_id;
    v.stripe_payment_intent = p->payment_intent;
    v.issued_utc = v.paid_utc = v.updated_utc = now_utc;
    if ((e = bk_store_invoice_insert(tx, &v, NULL, err)))
        return e;
    bk_ledger_event_init(&ev, BK_LEV_INVOICE_PAID, now_utc, "system");
    ev.source = "stripe";
    ev.client_id = p->client_id;
    ev.detail = bk_ledger_json(
        arena, json_pack("{s:s, s:I, s:s, s:s}", "invoice", v.number, "amount",
                         (json_int_t)v.amount_minor, "currency", v.currency,
                         "package_purchase", p->uid));
    *number = v.number;
    return bk_ledger_emit(tx, &ev, err);
}

enum bk_err bk_ledger_invoice_purchase_refunded(struct bk_tx *tx,
                                                const char *number,
                                                int64_t now_utc,
                                                struct bk_arena *arena,
                                                struct bk_errbuf *err)
{
    struct bk_invoice v;
    enum bk_err e = bk_store_invoice_get(tx, number, arena, &v, err);

    if (e)
        return e;
    v.refunded_minor = v.amount_minor;
    v.status = BK_INVOICE_REFUNDED;
    v.updated_utc = now_utc;
    return bk_store_invoice_update(tx, &v, err);
}
