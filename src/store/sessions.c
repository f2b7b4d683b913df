/* store/sessions.c — the admin_sessions table: signed-in browsers of the
 * admin pages (store.h "Admin sessions"), in SQL both drivers accept. What
 * a session allows, and the cookie, are api/session.c's. */
#include <inttypes.h>
#include <string.h>

#include "store/sql.h"
#include "base/banned.h"

enum bk_err bk_store_admin_session_insert(struct bk_tx *tx,
                                          const struct bk_admin_session *s,
                                          int64_t *id, struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    e = db_prepare(tx, Q_ADMIN_SESSION_INSERT,
                   "INSERT INTO admin_sessions (token_sha256, user_name,"
                   " created_utc, last_seen_utc, expires_utc)"
                   " VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
                   &st, err);
    if (e)
        goto out;
    db_bind_text(tx, st, 1, s->token_sha256);
    db_bind_text(tx, st, 2, s->user_name);
    db_bind_i64(tx, st, 3, s->created_utc);
    db_bind_i64(tx, st, 4, s->last_seen_utc);
    db_bind_i64(tx, st, 5, s->expires_utc);
    e = db_insert_id(tx, st, "inserting an admin session", id, err);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_admin_session_get(struct bk_tx *tx,
                                       const char *token_sha256,
                                       struct bk_arena *arena,
                                       struct bk_admin_session *out,
                                       struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    enum bk_err e;

    e = db_prepare(tx, Q_ADMIN_SESSION_GET,
                   "SELECT id, token_sha256, user_name, created_utc,"
                   " last_seen_utc, expires_utc FROM admin_sessions"
                   " WHERE token_sha256 = ?1",
                   &st, err);
    if (e)
        goto out;
    db_bind_text(tx, st, 1, token_sha256);
    e = db_one(tx, st, "reading an admin session", err);
    if (e == BK_OK) {
        memset(out, 0, sizeof(*out));
        out->id = db_col_i64(tx, st, 0);
        out->token_sha256 = db_col_text(tx, st, 1, arena);
        out->user_name = db_col_text(tx, st, 2, arena);
        out->created_utc = db_col_i64(tx, st, 3);
        out->last_seen_utc = db_col_i64(tx, st, 4);
        out->expires_utc = db_col_i64(tx, st, 5);
    } else if (e == BK_E_NOT_FOUND) {
        e = bk_fail(err, e, "no such admin session");
    }
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_admin_session_touch(struct bk_tx *tx, int64_t id,
                                         int64_t last_seen_utc,
                                         int64_t expires_utc,
                                         struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    int changes = 0;
    enum bk_err e;

    e = db_prepare(tx, Q_ADMIN_SESSION_TOUCH,
                   "UPDATE admin_sessions SET last_seen_utc = ?2,"
                   " expires_utc = ?3 WHERE id = ?1",
                   &st, err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, id);
    db_bind_i64(tx, st, 2, last_seen_utc);
    db_bind_i64(tx, st, 3, expires_utc);
    e = db_exec(tx, st, &changes, "touching an admin session", err);
    if (e == BK_OK && changes == 0)
        e = bk_fail(err, BK_E_NOT_FOUND, "admin session %" PRId64 " not found",
                    id);
out:
    db_reset(tx, st);
    return e;
}

enum bk_err bk_store_admin_session_delete(struct bk_tx *tx,
                                          const char *token_sha256, int *n,
                                          struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    int changes = 0;
    enum bk_err e;

    e = db_prepare(tx, Q_ADMIN_SESSION_DELETE,
                   "DELETE FROM admin_sessions WHERE token_sha256 = ?1", &st,
                   err);
    if (e)
        goto out;
    db_bind_text(tx, st, 1, token_sha256);
    e = db_exec(tx, st, &changes, "deleting an admin session", err);
out:
    db_reset(tx, st);
    if (n)
        *n = e ? 0 : changes;
    return e;
}

enum bk_err bk_store_admin_session_prune(struct bk_tx *tx, int64_t now_utc,
                                         int *n, struct bk_errbuf *err)
{
    struct bk_stmt *st = NULL;
    int changes = 0;
    enum bk_err e;

    e = db_prepare(tx, Q_ADMIN_SESSION_PRUNE,
                   "DELETE FROM admin_sessions WHERE expires_utc <= ?1", &st,
                   err);
    if (e)
        goto out;
    db_bind_i64(tx, st, 1, now_utc);
    e = db_exec(tx, st, &changes, "pruning admin sessions", err);
out:
    db_reset(tx, st);
    if (n)
        *n = e ? 0 : changes;
    return e;
}
