/* tests/unit/pdf/test_invoice.c — the invoice PDF (pdf/invoice.c) with
 * hostile values: invalid UTF-8, control characters, an address far longer
 * than the page, every status; each comes out as one PDF document. What
 * the text says is checked with pdftotext by tests/integration/
 * test_invoice_pdf.py. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pdf/invoice.h"

static void sample(struct bk_invoice *v)
{
    memset(v, 0, sizeof(*v));
    v->number = "INV-2026-0001";
    v->year = 2026;
    v->seq = 1;
    v->issuer_name = "Studio";
    v->client_email = "ada@example.com";
    v->line = "Paid session";
    v->amount_minor = 4500;
    memcpy(v->currency, "EUR", 4);
    v->status = BK_INVOICE_PAID;
    v->issued_utc = v->paid_utc = 1796083200;
}

static bool contains(const char *doc, size_t len, const char *what)
{
    size_t n = strlen(what);

    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(doc + i, what, n) == 0)
            return true;
    return false;
}

/* One document: the header, the end marker, and a bounded size. */
static void assert_pdf(const char *doc, size_t len)
{
    assert_non_null(doc);
    assert_true(len > 1000 && len < BK_PDF_INVOICE_MAX);
    assert_memory_equal(doc, "%PDF-", 5);
    assert_non_null(strstr(doc + len - 8, "%%EOF"));
}

static void test_plain(void **state)
{
    struct bk_arena a;
    struct bk_invoice v;
    const char *doc;
    size_t len;
    (void)state;

    bk_arena_init(&a);
    sample(&v);
    v.stripe_payment_intent = "pi_123";
    assert_int_equal(bk_pdf_invoice(&v, &a, &doc, &len, NULL), BK_OK);
    assert_pdf(doc, len);
    /* Stripe's ids are links to the dashboard. */
    assert_true(
        contains(doc, len, "https://dashboard.stripe.com/payments/pi_123"));
    bk_arena_release(&a);
}

static void test_hostile_values(void **state)
{
    static const char bad_utf8[] = "Ada \xff\xfe\xc3 Lovelace \xe2\x82";
    char huge[20000];
    struct bk_arena a;
    struct bk_invoice v;
    const char *doc;
    size_t len;
    (void)state;

    memset(huge, 'W', sizeof(huge) - 1);
    huge[sizeof(huge) - 1] = '\0';
    for (size_t i = 97; i < sizeof(huge) - 1; i += 97)
        huge[i] = '\n';
    bk_arena_init(&a);
    for (int s = 0; s < BK_INVOICE_STATUS_COUNT; s++) {
        sample(&v);
        v.status = (enum bk_invoice_status)s;
        v.client_name = bad_utf8;
        v.issuer_address = huge;
        v.line = "<b>markup</b> &amp; \x01\x02\x1b[31m";
        v.stripe_payment_intent = "pi_') >> /URI (javascript:alert(1))";
        v.stripe_session = "cs_test_abc";
        v.refunded_minor = s == BK_INVOICE_REFUNDED ? 4500 : 0;
        v.paid_utc = s == BK_INVOICE_OPEN ? 0 : v.paid_utc;
        assert_int_equal(bk_pdf_invoice(&v, &a, &doc, &len, NULL), BK_OK);
        assert_pdf(doc, len);
        /* An id that is not Stripe's form becomes no link. */
        assert_false(contains(doc, len, "javascript"));
        assert_true(contains(doc, len, "checkout/sessions/cs_test_abc"));
    }
    /* A zero-decimal currency and a name with no client. */
    sample(&v);
    memcpy(v.currency, "JPY", 4);
    v.amount_minor = 5000;
    v.client_name = NULL;
    v.booking_uid = NULL;
    assert_int_equal(bk_pdf_invoice(&v, &a, &doc, &len, NULL), BK_OK);
    assert_pdf(doc, len);
    bk_arena_release(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_hostile_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
