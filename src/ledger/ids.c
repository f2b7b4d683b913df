/* ledger/ids.c — random opaque ids. */
#include <string.h>

#include "crypto/crypto.h"
#include "ledger/ledger.h"
#include "base/str.h"
#include "base/banned.h"

void bk_ledger_new_uid(char out[BK_UID_LEN + 1])
{
    bk_random_token(out, BK_UID_LEN);
}

void bk_ledger_new_public_id(const char *prefix, char out[32])
{
    size_t n = bk_strlcpy(out, prefix, 32);
    if (n > 15)
        n = 15;
    bk_random_token(out + n, 16);
}
