/* cli/rekey.c — `bookingd rekey`: seals every sealed value again under
 * BOOKINGD_SECRET_KEY, opening it with that key or
 * BOOKINGD_SECRET_KEY_PREVIOUS, in one transaction (docs/operations.md
 * "Rotating the secret key"). Idempotent: a value already under the
 * current key is left as it is. Safe while the daemon serves: each row is
 * replaced only where it still holds the value read (a value the daemon
 * wrote meanwhile, sealed under the current key, is left alone). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "crypto/crypto.h"
#include "store/store.h"
#include "base/banned.h"

static const char *const kind_names[BK_SEALED_KINDS] = {
    [BK_SEALED_CALENDAR_CREDENTIAL] = "calendar connection",
    [BK_SEALED_WEBHOOK_SECRET] = "webhook endpoint",
};

struct tally {
    int resealed, current, plain, changed, failed;
};

/* Seals v again under key (opening it with key or key->previous);
 * failures are printed and counted, not returned: the other rows go on. */
static enum bk_err rekey_one(struct bk_tx *tx, const struct bk_secret_key *key,
                             const struct bk_sealed *v, struct bk_arena *arena,
                             struct tally *t, struct bk_errbuf *err)
{
    const char *aad = bk_store_sealed_aad(v->kind, v->public_id, arena);
    char id[9], *plain = NULL;
    size_t n = 0;
    bool changed = false, sealed = strncmp(v->value, "bk1:", 4) == 0;
    struct bk_errbuf why;
    enum bk_err e;

    if (sealed && bk_secret_key_id_of(v->value, id) &&
        strcmp(id, key->id) == 0) {
        t->current++;
        return BK_OK;
    }
    if (!sealed && v->kind != BK_SEALED_WEBHOOK_SECRET) {
        fprintf(stderr,
                "bookingd: rekey: %s %s: not a sealed value; left "
                "as it is\n",
                kind_names[v->kind], v->public_id);
        t->failed++;
        return BK_OK;
    }
    if (sealed) {
        bk_errbuf_clear(&why);
        if (bk_secret_open(key, aad, v->value, arena, &plain, &n, &why)) {
            fprintf(stderr, "bookingd: rekey: %s %s: %s; left as it is\n",
                    kind_names[v->kind], v->public_id, why.msg);
            t->failed++;
            return BK_OK;
        }
    } else { /* a webhook secret stored before a key was set */
        plain = (char *)v->value;
        n = strlen(plain);
    }
    e = bk_store_sealed_set(tx, v, bk_secret_seal(key, aad, plain, n, arena),
                            &changed, err);
    if (e)
        return e;
    if (!changed)
        t->changed++;
    else if (sealed)
        t->resealed++;
    else
        t->plain++;
    return BK_OK;
}

int bk_cli_rekey(int argc, char **argv)
{
    struct bk_config cfg;
    struct bk_errbuf err;
    struct bk_store *store = NULL;
    struct bk_tx *tx = NULL;
    struct bk_arena arena;
    struct tally t = {0};
    enum bk_err e;
    int rc = 1;

    (void)argv;
    bk_errbuf_clear(&err);
    bk_arena_init(&arena);
    if (argc) {
        fprintf(stderr, "usage: bookingd rekey\n");
        return 2;
    }
    if (bk_config_load(&cfg, &err) != BK_OK) {
        bk_config_report(&err);
        return 2;
    }
    if (!cfg.have_secret_key) {
        fprintf(stderr, "bookingd: BOOKINGD_SECRET_KEY: is not set (rekey "
                        "seals every value under it)\n");
        return 2;
    }
    if (bk_store_open(cfg.database, 1, &store, &err) != BK_OK) {
        bk_config_report_database(&cfg, &err);
        goto out;
    }
    if (bk_config_check_database(&cfg, store))
        goto out;
    e = bk_store_begin(store, BK_TX_WRITE, &tx, &err);
    for (int k = 0; k < BK_SEALED_KINDS && !e; k++) {
        struct bk_sealed *rows = NULL;
        size_t n = 0;
        e = bk_store_sealed_list(tx, (enum bk_sealed_kind)k, &arena, &rows, &n,
                                 &err);
        for (size_t i = 0; i < n && !e; i++)
            e = rekey_one(tx, &cfg.secret_key, &rows[i], &arena, &t, &err);
    }
    if (!e) {
        e = bk_store_commit(tx, &err);
        tx = NULL;
    }
    bk_store_rollback(tx);
    if (e) {
        fprintf(stderr, "bookingd: rekey: %s (nothing was changed)\n", err.msg);
        goto out;
    }
    printf("bookingd: rekey: under key %s: %d value(s) sealed again, %d "
           "already under it, %d plain webhook secret(s) sealed, %d changed "
           "meanwhile by the daemon, %d could not be opened\n",
           cfg.secret_key.id, t.resealed, t.current, t.plain, t.changed,
           t.failed);
    rc = t.failed ? 1 : 0;
out:
    bk_arena_release(&arena);
    bk_store_free(store);
    return rc;
}
