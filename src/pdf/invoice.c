/* pdf/invoice.c — the invoice PDF (invoice.h): one A4 page drawn with a
 * cairo PDF surface, text laid out by pango. What the invoice says is the
 * ledger's (ledger/invoices.c); the HTML form is api/invoices.c's. */
#include <stdbool.h>
#include <string.h>

#include <cairo-pdf.h>
#include <cairo.h>
#include <pango/pangocairo.h>

#include "pdf/invoice.h"
#include "base/buf.h"
#include "base/str.h"
#include "base/time.h"
#include "ledger/payments.h"
#include "base/banned.h"

/* A4 in PostScript points, and the page's margins. */
#define PAGE_W 595.276
#define PAGE_H 841.89
#define MARGIN 56.0
#define TEXT_W (PAGE_W - 2 * MARGIN)

/* The font families, in order; fontconfig falls back past them per
 * character. WenQuanYi Micro Hei (TrueType) is named before the fallback
 * reaches Noto CJK: cairo 1.16's subsetting of that CFF font leaks about
 * 768 bytes per document (measured with LeakSanitizer). */
#define FAMILY "DejaVu Sans,WenQuanYi Micro Hei,Sans"

/* The most lines one value may take before it is cut with an ellipsis
 * (the issuer's address has room for this many). */
#define MAX_LINES 5

struct sink {
    struct bk_buf buf;
    bool too_large;
};

static cairo_status_t write_to(void *closure, const unsigned char *data,
                               unsigned int len)
{
    struct sink *s = closure;

    if (bk_buf_append(&s->buf, data, len) != BK_OK) {
        s->too_large = true;
        return CAIRO_STATUS_WRITE_ERROR;
    }
    return CAIRO_STATUS_SUCCESS;
}

struct page {
    cairo_t *cr;
    double y; /* the next line's top */
};

/* Draws text (plain, never markup) at x on the current line, width w,
 * aligned; returns its height. Invalid UTF-8 is repaired by glib. */
static double text_at(struct page *pg, double x, double w, const char *text,
                      const char *font, PangoAlignment align)
{
    PangoLayout *layout = pango_cairo_create_layout(pg->cr);
    PangoFontDescription *fd = pango_font_description_from_string(font);
    gchar *valid = g_utf8_make_valid(text ? text : "", -1);
    int pw = 0, ph = 0;

    pango_layout_set_font_description(layout, fd);
    pango_layout_set_width(layout, (int)(w * PANGO_SCALE));
    pango_layout_set_wrap(layout, PANGO_WRAP_WORD_CHAR);
    /* A height in units, not in lines: a negative one would bound each
     * paragraph, and a value may hold many (an address's lines). */
    pango_layout_set_height(layout, pango_font_description_get_size(fd) * 3 /
                                        2 * MAX_LINES);
    pango_layout_set_ellipsize(layout, PANGO_ELLIPSIZE_END);
    pango_layout_set_alignment(layout, align);
    pango_layout_set_text(layout, valid, -1);
    cairo_move_to(pg->cr, x, pg->y);
    pango_cairo_show_layout(pg->cr, layout);
    pango_layout_get_size(layout, &pw, &ph);
    g_free(valid);
    pango_font_description_free(fd);
    g_object_unref(layout);
    return (double)ph / PANGO_SCALE;
}

/* A line of text across the page; moves down past it plus gap. */
static void line(struct page *pg, const char *text, const char *font,
                 double gap)
{
    pg->y += text_at(pg, MARGIN, TEXT_W, text, font, PANGO_ALIGN_LEFT) + gap;
}

/* A label and a value side by side (the value right-aligned). */
static void row(struct page *pg, const char *label, const char *value,
                const char *font)
{
    double h1 =
        text_at(pg, MARGIN, TEXT_W * 0.6, label, font, PANGO_ALIGN_LEFT);
    double h2 = text_at(pg, MARGIN + TEXT_W * 0.6, TEXT_W * 0.4, value, font,
                        PANGO_ALIGN_RIGHT);
    pg->y += (h1 > h2 ? h1 : h2) + 4;
}

static void rule(struct page *pg)
{
    cairo_set_line_width(pg->cr, 0.5);
    cairo_move_to(pg->cr, MARGIN, pg->y + 2);
    cairo_line_to(pg->cr, PAGE_W - MARGIN, pg->y + 2);
    cairo_stroke(pg->cr);
    pg->y += 8;
}

/* Stripe's ids are [A-Za-z0-9_]: only such an id becomes a link. */
static bool plain_id(const char *s)
{
    if (!s || !*s || strlen(s) > 255)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    return true;
}

/* "Label: id", the id a link to the Stripe dashboard's page of it. */
static void stripe_id(struct page *pg, const char *label, const char *id,
                      const char *path, struct bk_arena *arena)
{
    bool link = plain_id(id);

    if (!id || !*id)
        return;
    if (link)
        cairo_tag_begin(pg->cr, CAIRO_TAG_LINK,
                        bk_arena_printf(arena,
                                        "uri='https://dashboard.stripe.com/"
                                        "%s/%s'",
                                        path, id));
    line(pg, bk_arena_printf(arena, "%s: %s", label, id), FAMILY " 9", 2);
    if (link)
        cairo_tag_end(pg->cr, CAIRO_TAG_LINK);
}

static const char *day_of(int64_t utc, struct bk_arena *arena)
{
    char buf[11];

    bk_date_format(bk_floordiv(utc, BK_SECS_PER_DAY), buf);
    return bk_arena_strdup(arena, buf);
}

static const char *status_text(enum bk_invoice_status s)
{
    switch (s) {
    case BK_INVOICE_OPEN:
        return "OPEN (not paid)";
    case BK_INVOICE_PAID:
        return "PAID";
    case BK_INVOICE_VOID:
        return "VOID";
    case BK_INVOICE_REFUNDED:
        return "REFUNDED";
    case BK_INVOICE_PARTIALLY_REFUNDED:
        return "PARTIALLY REFUNDED";
    }
    return "?";
}

static void draw(struct page *pg, const struct bk_invoice *v,
                 struct bk_arena *arena)
{
    double top;
    const char *amount = bk_payment_money(arena, v->amount_minor, v->currency);

    cairo_set_source_rgb(pg->cr, 0.07, 0.07, 0.07);
    pg->y = MARGIN;
    /* The issuer on the right, the title on the left, side by side. */
    top = pg->y;
    pg->y += text_at(pg, MARGIN + TEXT_W * 0.5, TEXT_W * 0.5, v->issuer_name,
                     FAMILY " Bold 11", PANGO_ALIGN_RIGHT);
    if (v->issuer_address && *v->issuer_address)
        pg->y += text_at(pg, MARGIN + TEXT_W * 0.5, TEXT_W * 0.5,
                         v->issuer_address, FAMILY " 9", PANGO_ALIGN_RIGHT);
    {
        double right_end = pg->y;
        pg->y = top;
        line(pg, "Invoice", FAMILY " Bold 22", 6);
        line(pg, bk_arena_printf(arena, "Number: %s", v->number), FAMILY " 10",
             2);
        line(pg,
             bk_arena_printf(arena, "Issued: %s", day_of(v->issued_utc, arena)),
             FAMILY " 10", 2);
        line(pg, bk_arena_printf(arena, "Status: %s", status_text(v->status)),
             FAMILY " Bold 10", 2);
        if (pg->y < right_end)
            pg->y = right_end;
    }
    pg->y += 18;
    line(pg, "Billed to", FAMILY " Bold 11", 3);
    if (v->client_name && *v->client_name)
        line(pg, v->client_name, FAMILY " 10", 2);
    line(pg, v->client_email ? v->client_email : "", FAMILY " 10", 2);
    pg->y += 18;

    row(pg, "Description", "Amount", FAMILY " Bold 10");
    rule(pg);
    row(pg, bk_arena_printf(arena, "%s \xc3\x97 1", v->line ? v->line : ""),
        amount, FAMILY " 10");
    rule(pg);
    row(pg, "Total", amount, FAMILY " Bold 11");
    if (v->paid_utc)
        row(pg, bk_arena_printf(arena, "Paid %s", day_of(v->paid_utc, arena)),
            amount, FAMILY " 10");
    if (v->refunded_minor > 0) {
        row(pg, "Refunded",
            bk_arena_printf(
                arena, "\xe2\x88\x92%s",
                bk_payment_money(arena, v->refunded_minor, v->currency)),
            FAMILY " 10");
        row(pg, "Net",
            bk_payment_money(arena, v->amount_minor - v->refunded_minor,
                             v->currency),
            FAMILY " Bold 10");
    }
    pg->y += 24;
    if ((v->stripe_session && *v->stripe_session) ||
        (v->stripe_payment_intent && *v->stripe_payment_intent)) {
        line(pg, "Paid with Stripe", FAMILY " Bold 9", 2);
        stripe_id(pg, "Payment", v->stripe_payment_intent, "payments", arena);
        stripe_id(pg, "Checkout Session", v->stripe_session,
                  "checkout/sessions", arena);
    }
    if (v->booking_uid && *v->booking_uid)
        line(pg, bk_arena_printf(arena, "Booking: %s", v->booking_uid),
             FAMILY " 9", 2);
}

enum bk_err bk_pdf_invoice(const struct bk_invoice *v, struct bk_arena *arena,
                           const char **out, size_t *out_len,
                           struct bk_errbuf *err)
{
    struct sink s;
    cairo_surface_t *surface;
    struct page pg;
    cairo_status_t st;
    enum bk_err e = BK_OK;
    char *copy;

    *out = NULL;
    *out_len = 0;
    memset(&s, 0, sizeof(s));
    bk_buf_init(&s.buf, BK_PDF_INVOICE_MAX);
    surface = cairo_pdf_surface_create_for_stream(write_to, &s, PAGE_W, PAGE_H);
    cairo_pdf_surface_set_metadata(
        surface, CAIRO_PDF_METADATA_TITLE,
        bk_arena_printf(arena, "Invoice %s", v->number));
    cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATOR,
                                   "bookingd");
    pg.cr = cairo_create(surface);
    draw(&pg, v, arena);
    cairo_show_page(pg.cr);
    st = cairo_status(pg.cr);
    cairo_destroy(pg.cr);
    cairo_surface_finish(surface);
    if (st == CAIRO_STATUS_SUCCESS)
        st = cairo_surface_status(surface);
    cairo_surface_destroy(surface);
    if (s.too_large) {
        e = bk_fail(err, BK_E_TOO_LARGE, "the invoice PDF exceeds %u bytes",
                    BK_PDF_INVOICE_MAX);
        goto out;
    }
    if (st != CAIRO_STATUS_SUCCESS) {
        e = bk_fail(err, BK_E_INTERNAL, "cairo: %s",
                    cairo_status_to_string(st));
        goto out;
    }
    copy = bk_arena_alloc(arena, s.buf.len + 1);
    memcpy(copy, s.buf.data, s.buf.len);
    copy[s.buf.len] = '\0';
    *out = copy;
    *out_len = s.buf.len;
out:
    bk_buf_release(&s.buf);
    return e;
}
