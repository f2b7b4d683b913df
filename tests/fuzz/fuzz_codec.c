/* tests/fuzz/fuzz_codec.c — the decoders of tokens and identifiers taken
 * from requests: base64 (manage tokens, signing secrets), hex (signature
 * headers), integers (query parameters, cursors), slugs, emails. What a
 * decoder accepts must encode back to what it read. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/str.h"
#include "crypto/crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void base64_round_trip(const char *s, bool both)
{
    unsigned char out[512], again[512];
    char text[700];
    size_t n = 0, m = 0;

    if (bk_base64_decode(s, both, out, sizeof(out), &n) != BK_OK)
        return;
    if (n > sizeof(out))
        abort();
    /* Encoding what was read gives a text that decodes to the same bytes
     * (the text itself may differ: padding, alphabet, unused bits). */
    bk_base64url_encode(out, n, text);
    if (bk_base64_decode(text, false, again, sizeof(again), &m) != BK_OK ||
        m != n || memcmp(out, again, n) != 0)
        abort();
    bk_base64_encode(out, n, text);
    if (bk_base64_decode(text, true, again, sizeof(again), &m) != BK_OK ||
        m != n || memcmp(out, again, n) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    unsigned char bytes[256];
    char hex[513];
    int64_t v;

    memcpy(s, data, size);
    s[size] = '\0';
    base64_round_trip(s, false);
    base64_round_trip(s, true);
    {
        unsigned char tiny[4];
        size_t n = 0;
        /* A too small buffer is an error, never an overflow. */
        if (bk_base64_decode(s, true, tiny, sizeof(tiny), &n) == BK_OK &&
            n > sizeof(tiny))
            abort();
    }
    if (size % 2 == 0 && size / 2 <= sizeof(bytes) &&
        bk_hex_decode(s, bytes, size / 2)) {
        bk_hex_encode(bytes, size / 2, hex);
        if (!bk_str_ieq(hex, s))
            abort();
    }
    if (bk_parse_i64(s, INT64_MIN, INT64_MAX, &v) == BK_OK) {
        /* The value read is the one written, leading zeros aside. */
        char back[32], norm[32];
        const char *d = s + (s[0] == '-');
        size_t zeros = strspn(d, "0");
        if (zeros && !d[zeros])
            zeros--;
        if (strlen(d + zeros) > 19)
            abort();
        snprintf(norm, sizeof(norm), "%s%s",
                 s[0] == '-' && strcmp(d + zeros, "0") != 0 ? "-" : "",
                 d + zeros);
        snprintf(back, sizeof(back), "%lld", (long long)v);
        if (strcmp(back, norm) != 0)
            abort();
    }
    if (bk_slug_valid(s, 64)) {
        size_t len = strlen(s);
        if (!len || len > 64 || s[0] == '-' || s[len - 1] == '-' ||
            strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") != len)
            abort();
    }
    if (bk_email_valid(s) &&
        (strlen(s) < 3 || strlen(s) > 254 || !strchr(s, '@')))
        abort();
    free(s);
    return 0;
}
