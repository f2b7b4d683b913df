/* cli/kinds.c — every job kind the daemon runs, in one table. A kind is a
 * `*_kind()` function in its module (what it does) and one line here (that
 * this binary runs it); serve.c starts the workers with the result. The
 * workers themselves (claiming, leases, retries) are jobs/jobs.c. */
#include <string.h>

#include "cli/cli.h"
#include "connectors/calcom.h"
#include "connectors/calcom_sync.h"
#include "connectors/calendly.h"
#include "connectors/calendly_oauth.h"
#include "connectors/calendars.h"
#include "connectors/gwatch.h"
#include "connectors/notion.h"
#include "connectors/outwebhooks.h"
#include "connectors/packages.h"
#include "connectors/stripe.h"
#include "connectors/zoom.h"
#include "jobs/lifecycle.h"
#include "jobs/prune.h"
#include "mail/mail.h"
#include "webhooks/webhooks.h"
#include "base/banned.h"

/* One row: fills *out from what the kinds borrow. */
typedef void (*kind_fn)(const struct bk_cli_job_env *env,
                        struct bk_job_kind *out);

static void inbox_apply(const struct bk_cli_job_env *env,
                        struct bk_job_kind *out)
{
    bk_webhooks_apply_kind(env->webhooks, out);
}

static void jobs_prune(const struct bk_cli_job_env *env,
                       struct bk_job_kind *out)
{
    bk_jobs_prune_kind(env->prune, out);
}

static void mail_event(const struct bk_cli_job_env *env,
                       struct bk_job_kind *out)
{
    bk_mail_event_kind(env->mail, out);
}

static void mail_reminder(const struct bk_cli_job_env *env,
                          struct bk_job_kind *out)
{
    bk_mail_reminder_kind(env->mail, out);
}

static void mail_send(const struct bk_cli_job_env *env, struct bk_job_kind *out)
{
    bk_mail_send_kind(env->mail, out);
}

static void webhooks_fanout(const struct bk_cli_job_env *env,
                            struct bk_job_kind *out)
{
    bk_outwebhooks_fanout_kind(env->outwebhooks, out);
}

static void webhooks_send(const struct bk_cli_job_env *env,
                          struct bk_job_kind *out)
{
    bk_outwebhooks_send_kind(env->outwebhooks, out);
}

static void calendly_cancel(const struct bk_cli_job_env *env,
                            struct bk_job_kind *out)
{
    bk_calendly_cancel_kind(env->calendly, out);
}

static void calcom_push(const struct bk_cli_job_env *env,
                        struct bk_job_kind *out)
{
    bk_calcom_push_kind(env->calcom, out);
}

static void calcom_sync(const struct bk_cli_job_env *env,
                        struct bk_job_kind *out)
{
    bk_calcom_sync_kind(env->calcom_sync, out);
}

static void calendly_refresh(const struct bk_cli_job_env *env,
                             struct bk_job_kind *out)
{
    bk_calendly_refresh_kind(env->calendly ? env->calendly->oauth : NULL, out);
}

static void stripe_checkout(const struct bk_cli_job_env *env,
                            struct bk_job_kind *out)
{
    bk_stripe_checkout_kind(env->stripe, out);
}

static void stripe_settle(const struct bk_cli_job_env *env,
                          struct bk_job_kind *out)
{
    bk_stripe_settle_kind(env->stripe, out);
}

static void stripe_refund(const struct bk_cli_job_env *env,
                          struct bk_job_kind *out)
{
    bk_stripe_refund_kind(env->stripe, out);
}

static void calendars_push(const struct bk_cli_job_env *env,
                           struct bk_job_kind *out)
{
    bk_calendars_push_kind(env->calendars, out);
}

static void calendars_sync(const struct bk_cli_job_env *env,
                           struct bk_job_kind *out)
{
    bk_calendars_sync_kind(env->calendars, out);
}

static void calendars_reconcile(const struct bk_cli_job_env *env,
                                struct bk_job_kind *out)
{
    bk_calendars_reconcile_kind(env->calendars, out);
}

static void calendars_gwatch(const struct bk_cli_job_env *env,
                             struct bk_job_kind *out)
{
    bk_gwatch_kind(env->gwatch, out);
}

static void calendars_gpull(const struct bk_cli_job_env *env,
                            struct bk_job_kind *out)
{
    bk_gwatch_pull_kind(env->gwatch, out);
}

static void zoom_meeting(const struct bk_cli_job_env *env,
                         struct bk_job_kind *out)
{
    bk_zoom_meeting_kind(env->zoom, out);
}

static void lifecycle(const struct bk_cli_job_env *env, struct bk_job_kind *out)
{
    bk_jobs_lifecycle_kind(env->lifecycle, out);
}

static void stripe_package(const struct bk_cli_job_env *env,
                           struct bk_job_kind *out)
{
    bk_stripe_package_kind(env->stripe, out);
}

static void packages_expire(const struct bk_cli_job_env *env,
                            struct bk_job_kind *out)
{
    (void)env;
    bk_packages_expire_kind(out);
}

static void mail_package(const struct bk_cli_job_env *env,
                         struct bk_job_kind *out)
{
    bk_mail_package_kind(env->mail, out);
}

static void notion_mirror(const struct bk_cli_job_env *env,
                          struct bk_job_kind *out)
{
    bk_notion_mirror_kind(env->notion, out);
}

static void notion_pull(const struct bk_cli_job_env *env,
                        struct bk_job_kind *out)
{
    bk_notion_pull_kind(env->notion, out);
}

static const kind_fn kinds[] = {
    inbox_apply, /* "inbox.apply": a stored webhook delivery into the ledger */
    jobs_prune,  /* "jobs.prune": periodic; deletes old done jobs */
    mail_event,  /* "mail.event": a booking's change into messages */
    mail_send,   /* "mail.send": one email over SMTP */
    mail_reminder,   /* "mail.reminder": a reminder's time has come */
    webhooks_fanout, /* "webhooks.fanout": a ledger event to its endpoints */
    webhooks_send,   /* "webhooks.send": one signed message to one endpoint */
    calendly_cancel, /* "calendly.cancel": a cancellation told to Calendly */
    stripe_checkout, /* "stripe.checkout": a booking's Checkout Session */
    stripe_settle,   /* "stripe.settle": a hold at its end */
    stripe_refund,   /* "stripe.refund": a payment given back */
    calendars_push,  /* "calendars.push": a booking into hosts' calendars */
    calendars_sync,  /* "calendars.sync": periodic; busy time and moves */
    zoom_meeting,    /* "zoom.meeting": a booking's Zoom meeting */
    lifecycle,       /* "clients.lifecycle": daily; inactive clients */
    calendars_reconcile, /* "calendars.reconcile": daily; drift repaired */
    calendars_gwatch, /* "calendars.gwatch": periodic; Google watch channels */
    calendars_gpull,  /* "calendars.gpull": a pull a notification asked for */
    stripe_package,   /* "stripe.package": a package purchase's Checkout */
    packages_expire,  /* "packages.expire": daily; marks expired credits */
    mail_package,     /* "mail.package": a package buyer's credit code */
    calendly_refresh, /* "calendly.refresh": periodic; OAuth tokens */
    notion_mirror,    /* "notion.mirror": a ledger row into its Notion page */
    notion_pull, /* "notion.pull": periodic; Notion edits into the ledger */
    calcom_push, /* "calcom.push": a change told to Cal.com */
    calcom_sync, /* "calcom.sync": periodic; Cal.com's bookings pulled */
};

_Static_assert(sizeof(kinds) / sizeof(kinds[0]) <= BK_CLI_JOB_KINDS_MAX,
               "raise BK_CLI_JOB_KINDS_MAX");

size_t bk_cli_job_kinds(const struct bk_cli_job_env *env,
                        struct bk_job_kind out[BK_CLI_JOB_KINDS_MAX])
{
    size_t n = sizeof(kinds) / sizeof(kinds[0]);

    for (size_t i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof(out[i]));
        kinds[i](env, &out[i]);
    }
    return n;
}
