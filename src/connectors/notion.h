/* connectors/notion.h — Notion as a view of the ledger that the business
 * edits (issue 10 §3, PROVIDERS.md §5, docs/providers/notion.md).
 *
 * Under the parent page (NOTION_PARENT_PAGE, shared with the internal
 * integration whose token is NOTION_TOKEN) bookingd creates, or adopts by
 * title, the databases Clients, Sessions, Invoices and Packages and a
 * Metrics page; their ids are kept in the store's settings. A ledger
 * subscriber's job ("notion.mirror") brings each changed row's page to the
 * row's state, one page per row, found again by its link (notion/page) or,
 * after a crash between Notion's answer and the link's commit, by its
 * "bookingd id" property. A periodic job ("notion.pull", also run by
 * POST /api/v1/sync {"provider": "notion"} and soon after a Notion page
 * webhook) reads the pages edited since its cursor and applies the
 * editable fields to the ledger through the ledger's own rules. Requests
 * are paced to Notion's 3 per second per process, and a 429 closes the
 * gate for its Retry-After. Notion-Version is pinned to 2022-06-28, the
 * last version that keeps POST /databases/{id}/query. */
#ifndef BK_CONNECTORS_NOTION_H
#define BK_CONNECTORS_NOTION_H

#include <stdbool.h>
#include <stdint.h>

#include "api/api.h"
#include "base/arena.h"
#include "base/err.h"
#include "jobs/jobs.h"
#include "store/store.h"

#define BK_NOTION_API_BASE "https://api.notion.com/v1"
#define BK_NOTION_VERSION  "2022-06-28"

struct bk_notion_config {
    const char *api_base;    /* NOTION_API_BASE, no trailing slash */
    const char *token;       /* NOTION_TOKEN; NULL: not configured */
    const char *parent_page; /* NOTION_PARENT_PAGE */
    bool allow_private;      /* the base was set by the operator */
    int connect_timeout_ms;
    int timeout_ms;
    int max_attempts;         /* of its jobs; 0: the queue's default */
    int64_t pull_interval_ms; /* NOTION_PULL_SECONDS * 1000 */
    int min_interval_ms;      /* between two requests; 0: 334 (3/s) */
    struct bk_store *store;   /* for the API sync */
};

/* Registers the ledger subscriber (job kind "notion.mirror") of booking,
 * client and invoice changes. Called only while Notion is configured. */
BK_MUST_CHECK enum bk_err bk_notion_subscribe(int max_attempts,
                                              struct bk_errbuf *err);

/* The job kinds "notion.mirror" and "notion.pull" (periodic; scheduled
 * only while cfg->token is set); cfg is borrowed. */
void bk_notion_mirror_kind(const struct bk_notion_config *cfg,
                           struct bk_job_kind *out);
void bk_notion_pull_kind(const struct bk_notion_config *cfg,
                         struct bk_job_kind *out);

/* POST /api/v1/sync {"provider": "notion"} (ctx: the config): makes sure
 * the databases exist, mirrors every row that has no page yet, then pulls
 * the edits. Errors of single rows are out->errors ("connection":
 * "notion"). */
BK_MUST_CHECK enum bk_err bk_notion_sync_run(void *ctx, struct bk_arena *arena,
                                             struct bk_sync_summary *out,
                                             struct bk_errbuf *err);

#endif
