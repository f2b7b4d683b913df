/* mail/package.c — "mail.package": the email to the buyer of a package
 * (ledger/packages.h): what was bought, until when the credits last, and
 * the credit code that books with them. Enqueued in the transaction that
 * grants the credits; sent straight from the job (no messages row: that
 * table is per booking). A run that sent but could not finish its job
 * sends again with the same Message-ID, which receivers fold. Without
 * BOOKINGD_SMTP_URL the job ends with the email skipped (logged). */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "mail/mail.h"
#include "base/log.h"
#include "base/str.h"
#include "base/time.h"
#include "ledger/packages.h"
#include "ledger/payments.h"
#include "base/banned.h"

static const char *esc(const char *s, struct bk_arena *arena)
{
    size_t n = 0;
    char *out, *o;

    for (const char *p = s; *p; p++)
        n += *p == '&' ? 5 : (*p == '<' || *p == '>') ? 4 : *p == '"' ? 6 : 1;
    out = o = bk_arena_alloc(arena, n + 1);
    for (const char *p = s; *p; p++) {
        const char *r = *p == '&'   ? "&amp;"
                        : *p == '<' ? "&lt;"
                        : *p == '>' ? "&gt;"
                        : *p == '"' ? "&quot;"
                                    : NULL;
        if (r) {
            memcpy(o, r, strlen(r));
            o += strlen(r);
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return out;
}

struct pkg_mail {
    struct bk_package_purchase p;
    struct bk_package *pk;
    const char **titles; /* of pk's event types */
};

static enum bk_err read_purchase(struct bk_store *store, const char *uid,
                                 struct bk_arena *arena, struct pkg_mail *m,
                                 struct bk_errbuf *err)
{
    struct bk_tx *tx = NULL;
    size_t n = 0;
    enum bk_err e = bk_store_begin(store, BK_TX_READ, &tx, err);

    if (!e)
        e = bk_store_purchase_get(tx, uid, 0, arena, &m->p, err);
    if (!e)
        e = bk_store_package_list(tx, false, m->p.package_slug, 0, 1, arena,
                                  &m->pk, &n, err);
    if (!e && n != 1)
        e = bk_fail(err, BK_E_NOT_FOUND, "the package of purchase %s is gone",
                    uid);
    if (!e) {
        m->titles = bk_arena_alloc(
            arena, sizeof(*m->titles) * (size_t)(m->pk->n_event_types + 1));
        for (int i = 0; i < m->pk->n_event_types; i++) {
            struct bk_event_type et;
            m->titles[i] = m->pk->event_type_slugs[i];
            if (bk_store_event_type_get(tx, m->pk->event_type_ids[i], arena,
                                        &et, NULL) == BK_OK &&
                et.title)
                m->titles[i] = et.title;
        }
    }
    bk_store_rollback(tx);
    return e;
}

static void compose(const struct bk_mail_config *cfg, const struct pkg_mail *m,
                    struct bk_arena *arena, struct bk_mail_message *out)
{
    const struct bk_package_purchase *p = &m->p;
    char code[BK_CREDIT_CODE_MAX], until[11];
    const char *list = "", *hlist = "", *money, *domain;

    bk_credit_code(cfg->manage_secret, p->uid, code);
    bk_date_format(p->credits_expire_utc / BK_SECS_PER_DAY, until);
    money = bk_payment_money(arena, p->amount_minor, p->currency);
    for (int i = 0; i < m->pk->n_event_types; i++) {
        list = bk_arena_printf(arena, "%s  - %s\n", list, m->titles[i]);
        hlist = bk_arena_printf(arena, "%s<li>%s</li>", hlist,
                                esc(m->titles[i], arena));
    }
    domain = strrchr(cfg->from_addr, '@');
    memset(out, 0, sizeof(*out));
    out->from_name = cfg->from_name;
    out->from_addr = cfg->from_addr;
    out->to_name = p->attendee_name;
    out->to_addr = p->attendee_email;
    out->subject = bk_arena_printf(arena, "Your package: %s", p->package_name);
    out->message_id = bk_arena_printf(arena, "<package-%s@%s>", p->uid,
                                      domain ? domain + 1 : "bookingd");
    out->date_utc = p->paid_utc;
    out->text = bk_arena_printf(
        arena,
        "Hello %s,\n\n"
        "Thank you: your payment of %s for the package \"%s\" is received "
        "(invoice %s).\n\n"
        "You have %d session credit%s, valid until %s (UTC), for:\n%s\n"
        "Your credit code:\n\n    %s\n\n"
        "To book with a credit, open the booking page (%s), choose a time, "
        "and under \"Use a package credit\" enter this code with this email "
        "address (%s). The booking is confirmed without payment. Cancelling "
        "within the refund policy gives the credit back.\n\n"
        "Keep the code to yourself: it books on your credits.\n",
        p->attendee_name, money, p->package_name,
        p->invoice_number ? p->invoice_number : "-", p->sessions,
        p->sessions == 1 ? "" : "s", until, list, code, cfg->base_url,
        p->attendee_email);
    out->html = bk_arena_printf(
        arena,
        "<!DOCTYPE html><html><body><p>Hello %s,</p>"
        "<p>Thank you: your payment of %s for the package \"%s\" is received "
        "(invoice %s).</p>"
        "<p>You have %d session credit%s, valid until %s (UTC), for:</p>"
        "<ul>%s</ul><p>Your credit code:</p><p><code>%s</code></p>"
        "<p>To book with a credit, open the <a href=\"%s\">booking page</a>, "
        "choose a time, and under \"Use a package credit\" enter this code "
        "with this email address (%s). The booking is confirmed without "
        "payment. Cancelling within the refund policy gives the credit "
        "back.</p><p>Keep the code to yourself: it books on your "
        "credits.</p></body></html>",
        esc(p->attendee_name, arena), esc(money, arena),
        esc(p->package_name, arena),
        esc(p->invoice_number ? p->invoice_number : "-", arena), p->sessions,
        p->sessions == 1 ? "" : "s", until, hlist, code,
        esc(cfg->base_url, arena), esc(p->attendee_email, arena));
}

static enum bk_err run(void *ctx, struct bk_store *store,
                       const struct bk_job *job, struct bk_arena *arena,
                       struct bk_errbuf *err)
{
    const struct bk_mail_config *cfg = ctx;
    struct bk_mail_message out;
    struct pkg_mail m;
    json_t *o = json_loads(job->payload ? job->payload : "", 0, NULL);
    const char *uid = json_string_value(json_object_get(o, "purchase_uid"));
    enum bk_err e;

    uid = uid ? bk_arena_strdup(arena, uid) : NULL;
    json_decref(o);
    if (!uid || strlen(uid) > 64)
        return bk_fail(err, BK_E_MALFORMED, "job payload names no purchase");
    memset(&m, 0, sizeof(m));
    e = read_purchase(store, uid, arena, &m, err);
    if (e == BK_E_NOT_FOUND)
        return bk_jobs_finish_alone(store, BK_TX_WRITE, job, NULL, NULL, NULL,
                                    err);
    if (e)
        return e;
    if (!cfg || !cfg->smtp.url || !cfg->from_addr) {
        bk_log_info("mail: package email of purchase %s skipped (no "
                    "BOOKINGD_SMTP_URL)",
                    uid);
        return bk_jobs_finish_alone(store, BK_TX_WRITE, job, NULL, NULL, NULL,
                                    err);
    }
    compose(cfg, &m, arena, &out);
    if ((e = bk_smtp_send(&cfg->smtp, &out, arena, err))) {
        bk_log_warn("mail: package email of purchase %s not sent: %s", uid,
                    err->msg);
        return e;
    }
    bk_log_info("mail: sent the package email of purchase %s to %s", uid,
                m.p.attendee_email);
    return bk_jobs_finish_alone(store, BK_TX_WRITE, job, NULL, NULL, NULL, err);
}

void bk_mail_package_kind(const struct bk_mail_config *cfg,
                          struct bk_job_kind *out)
{
    memset(out, 0, sizeof(*out));
    out->name = BK_PACKAGE_MAIL_KIND;
    out->run = run;
    out->ctx = (void *)cfg;
}
