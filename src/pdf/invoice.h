/* pdf/invoice.h — an invoice as a one-page A4 PDF (issue 9 §2,
 * docs/payments.md "Invoices"): issuer, number, dates, status, the client,
 * the lines, totals in the invoice's currency, refunds and the Stripe ids
 * (as links to the Stripe dashboard). Text is laid out by pango with the
 * system's fonts (fontconfig falls back per character, so Greek, Chinese
 * and the rest print as text, and pdftotext reads them back); every value
 * is set as plain text, never as markup. What an invoice holds and when it
 * is issued is ledger/invoices.c's. */
#ifndef BK_PDF_INVOICE_H
#define BK_PDF_INVOICE_H

#include <stddef.h>

#include "base/arena.h"
#include "base/err.h"
#include "core/ledger.h"

/* The largest PDF bk_pdf_invoice makes (bytes); a bigger one is
 * BK_E_TOO_LARGE. An invoice is a few tens of KiB (the fonts' subsets). */
#define BK_PDF_INVOICE_MAX (4u << 20)

/* Draws v (borrowed) as a PDF into *out (*out_len bytes), allocated in
 * arena. Text that is not valid UTF-8 is repaired (U+FFFD), and an
 * overlong text is cut with an ellipsis so the page never overflows.
 * Errors: BK_E_INTERNAL when cairo fails (err says why), BK_E_TOO_LARGE.
 * Thread-safe (pango's font map is per thread). */
BK_MUST_CHECK enum bk_err bk_pdf_invoice(const struct bk_invoice *v,
                                         struct bk_arena *arena,
                                         const char **out, size_t *out_len,
                                         struct bk_errbuf *err);

#endif
