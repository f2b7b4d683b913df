/* core/ledger.c — names of the ledger's small enums. */
#include <stdio.h>
#include <string.h>

#include "core/event.h"
#include "core/ledger.h"
#include "base/str.h"
#include "base/banned.h"

static const char *const location_names[] = {"none", "video", "in_person",
                                             "phone", "zoom"};
static const char *const delivery_names[] = {"received", "processed", "ignored",
                                             "failed"};
static const char *const job_names[] = {"pending", "running", "done", "dead"};
static const char *const message_names[] = {"queued", "sent", "skipped",
                                            "failed"};
static const char *const entity_names[] = {"booking", "client", "event_type",
                                           "host"};

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const char *const invoice_names[] = {"open", "paid", "void", "refunded",
                                            "partially_refunded"};

const char *bk_invoice_status_name(enum bk_invoice_status s)
{
    return (int)s >= 0 && (int)s < COUNT(invoice_names) ? invoice_names[s]
                                                        : "?";
}

int bk_invoice_status_parse(const char *s)
{
    return bk_name_index(invoice_names, COUNT(invoice_names), s);
}

const char *bk_location_kind_name(enum bk_location_kind k)
{
    return (int)k >= 0 && (int)k < COUNT(location_names) ? location_names[k]
                                                         : "?";
}

int bk_location_kind_parse(const char *s)
{
    return bk_name_index(location_names, COUNT(location_names), s);
}

const char *bk_delivery_status_name(enum bk_delivery_status s)
{
    return (int)s >= 0 && (int)s < COUNT(delivery_names) ? delivery_names[s]
                                                         : "?";
}

int bk_delivery_status_parse(const char *s)
{
    return bk_name_index(delivery_names, COUNT(delivery_names), s);
}

const char *bk_job_status_name(enum bk_job_status s)
{
    return (int)s >= 0 && (int)s < COUNT(job_names) ? job_names[s] : "?";
}

const char *bk_message_status_name(enum bk_message_status s)
{
    return (int)s >= 0 && (int)s < COUNT(message_names) ? message_names[s]
                                                        : "?";
}

const char *bk_link_entity_name(enum bk_link_entity e)
{
    return (int)e >= 0 && (int)e < COUNT(entity_names) ? entity_names[e] : "?";
}

static const char *const ext_kind_names[] = {
    "created",         "rescheduled",       "cancelled",
    "ended",           "replaced",          "no_show",
    "no_show_cleared", "payment_completed", "payment_succeeded",
    "payment_failed",  "payment_expired",   "payment_refunded",
    "attendee_joined", "remote_changed"};

_Static_assert(COUNT(ext_kind_names) == BK_EXT_KIND_COUNT,
               "a name for every kind");

const char *bk_ext_event_subject(const struct bk_ext_event *ev)
{
    return BK_EXT_IS_PAYMENT(ev->kind) ? ev->payment.booking_uid
                                       : ev->booking.uid;
}

const char *bk_ext_kind_name(enum bk_ext_kind k)
{
    return (int)k >= 0 && (int)k < COUNT(ext_kind_names) ? ext_kind_names[k]
                                                         : "?";
}

int bk_ext_kind_parse(const char *s)
{
    return bk_name_index(ext_kind_names, COUNT(ext_kind_names), s);
}

const char *bk_event_type_external_id(const struct bk_event_type *et,
                                      const char *provider)
{
    for (size_t i = 0; provider && i < et->n_external_ids; i++)
        if (strcmp(et->external_ids[i].provider, provider) == 0)
            return et->external_ids[i].id;
    return NULL;
}

enum bk_err bk_event_type_external_set(struct bk_event_type *et,
                                       const char *provider, const char *id)
{
    struct bk_external_id *x = et->external_ids;
    size_t i = 0, n = et->n_external_ids;
    int c = 1;

    while (i < n && (c = strcmp(x[i].provider, provider)) < 0)
        i++;
    if (i < n && c == 0) {
        if (id) {
            x[i].id = id;
        } else {
            memmove(&x[i], &x[i + 1], (n - i - 1) * sizeof(x[0]));
            et->n_external_ids--;
        }
        return BK_OK;
    }
    if (!id)
        return BK_OK;
    if (n >= BK_MAX_EXTERNAL_IDS)
        return BK_E_INVALID;
    memmove(&x[i + 1], &x[i], (n - i) * sizeof(x[0]));
    x[i].provider = provider;
    x[i].id = id;
    et->n_external_ids++;
    return BK_OK;
}

bool bk_event_type_external_equal(const struct bk_event_type *a,
                                  const struct bk_event_type *b)
{
    if (a->n_external_ids != b->n_external_ids)
        return false;
    for (size_t i = 0; i < a->n_external_ids; i++)
        if (strcmp(a->external_ids[i].provider, b->external_ids[i].provider) ||
            strcmp(a->external_ids[i].id, b->external_ids[i].id))
            return false;
    return true;
}

enum bk_err bk_event_type_reminders_parse(struct bk_event_type *et,
                                          const char *s)
{
    int got[BK_MAX_REMINDERS];
    int n = 0;

    if (!s || *s++ != '[')
        return BK_E_INVALID;
    if (*s == ']' && s[1] == '\0')
        goto done;
    for (;;) {
        int v = 0, digits = 0;

        while (*s >= '0' && *s <= '9' && digits < 8) {
            v = v * 10 + (*s++ - '0');
            digits++;
        }
        if (!digits || v < 1 || v > BK_MAX_REMINDER_MIN ||
            n == BK_MAX_REMINDERS)
            return BK_E_INVALID;
        for (int i = 0; i < n; i++)
            if (got[i] == v)
                return BK_E_INVALID;
        got[n++] = v;
        if (*s == ']' && s[1] == '\0')
            break;
        if (*s++ != ',')
            return BK_E_INVALID;
        if (*s == ' ')
            s++;
    }
done:
    memcpy(et->reminders_min, got, (size_t)n * sizeof(got[0]));
    et->n_reminders = n;
    et->has_reminders = true;
    return BK_OK;
}

void bk_event_type_reminders_format(const struct bk_event_type *et,
                                    char out[BK_REMINDERS_TEXT_MAX])
{
    size_t len = 0;

    if (!et->has_reminders) {
        bk_strlcpy(out, BK_DEFAULT_REMINDERS, BK_REMINDERS_TEXT_MAX);
        return;
    }
    out[len++] = '[';
    for (int i = 0; i < et->n_reminders && i < BK_MAX_REMINDERS; i++)
        len += (size_t)snprintf(out + len, BK_REMINDERS_TEXT_MAX - len, "%s%d",
                                i ? "," : "", et->reminders_min[i]);
    out[len++] = ']';
    out[len] = '\0';
}

bool bk_provider_name_valid(const char *s)
{
    size_t n = 0;

    if (!s || !(*s >= 'a' && *s <= 'z'))
        return false;
    for (; *s; s++, n++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return false;
    return n <= BK_MAX_PROVIDER;
}

bool bk_external_id_valid(const char *s)
{
    size_t n;

    if (!s || !*s)
        return false;
    n = strlen(s);
    if (n > BK_MAX_EXTERNAL_ID || s[0] == ' ' || s[n - 1] == ' ')
        return false;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}
