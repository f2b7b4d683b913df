/* core/ledger.c — names of the ledger's small enums. */
#include <string.h>

#include "core/event.h"
#include "core/ledger.h"
#include "base/str.h"
#include "base/banned.h"

static const char *const location_names[] = {"none", "video", "in_person",
                                             "phone"};
static const char *const delivery_names[] = {"received", "processed", "ignored",
                                             "failed"};
static const char *const job_names[] = {"pending", "running", "done", "dead"};
static const char *const entity_names[] = {"booking", "client", "event_type",
                                           "host"};

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

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

const char *bk_link_entity_name(enum bk_link_entity e)
{
    return (int)e >= 0 && (int)e < COUNT(entity_names) ? entity_names[e] : "?";
}

const char *bk_ext_kind_name(enum bk_ext_kind k)
{
    static const char *const names[] = {"created", "rescheduled", "cancelled",
                                        "ended"};
    return (int)k >= 0 && (int)k < COUNT(names) ? names[k] : "?";
}
