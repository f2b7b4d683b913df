/* crypto/crypto.c — OpenSSL libcrypto wrapper. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "crypto/crypto.h"
#include "base/banned.h"

static void die(const char *what)
{
    fprintf(stderr, "bookingd: libcrypto: %s failed\n", what);
    abort();
}

void bk_sha256(const void *p, size_t n, unsigned char out[BK_SHA256_LEN])
{
    unsigned int len = 0;
    if (!EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) ||
        len != BK_SHA256_LEN)
        die("EVP_Digest");
}

void bk_hmac_sha256(const void *key, size_t klen, const struct bk_iov *parts,
                    size_t nparts, unsigned char out[BK_SHA256_LEN])
{
    static const unsigned char empty_key[1];
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = NULL;
    OSSL_PARAM params[2];
    size_t len = 0;

    if (!mac)
        die("EVP_MAC_fetch");
    ctx = EVP_MAC_CTX_new(mac);
    if (!ctx)
        die("EVP_MAC_CTX_new");
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    /* OpenSSL refuses a NULL key; an empty key is a valid HMAC key. */
    if (!EVP_MAC_init(ctx, klen ? key : empty_key, klen, params))
        die("EVP_MAC_init");
    for (size_t i = 0; i < nparts; i++)
        if (parts[i].n && !EVP_MAC_update(ctx, parts[i].p, parts[i].n))
            die("EVP_MAC_update");
    if (!EVP_MAC_final(ctx, out, &len, BK_SHA256_LEN) || len != BK_SHA256_LEN)
        die("EVP_MAC_final");
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
}

bool bk_ct_equal(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}

void bk_random_bytes(void *p, size_t n)
{
    if (n && RAND_bytes(p, (int)n) != 1)
        die("RAND_bytes");
}

void bk_random_token(char *out, size_t nchars)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
    unsigned char r[64];

    while (nchars) {
        size_t k = nchars < sizeof(r) ? nchars : sizeof(r);
        bk_random_bytes(r, k);
        for (size_t i = 0; i < k; i++)
            *out++ = alphabet[r[i] & 31]; /* 256 % 32 == 0: unbiased */
        nchars -= k;
    }
    *out = '\0';
}

static size_t encode(const char *tab, bool pad, const unsigned char *p,
                     size_t n, char *out)
{
    size_t o = 0, i = 0;

    for (; i + 2 < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
        out[o++] = tab[v >> 18 & 63];
        out[o++] = tab[v >> 12 & 63];
        out[o++] = tab[v >> 6 & 63];
        out[o++] = tab[v & 63];
    }
    if (n - i == 1) {
        unsigned v = (unsigned)p[i] << 16;
        out[o++] = tab[v >> 18 & 63];
        out[o++] = tab[v >> 12 & 63];
        if (pad) {
            out[o++] = '=';
            out[o++] = '=';
        }
    } else if (n - i == 2) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8;
        out[o++] = tab[v >> 18 & 63];
        out[o++] = tab[v >> 12 & 63];
        out[o++] = tab[v >> 6 & 63];
        if (pad)
            out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

size_t bk_base64url_encode(const unsigned char *p, size_t n, char *out)
{
    return encode(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
        false, p, n, out);
}

size_t bk_base64_encode(const unsigned char *p, size_t n, char *out)
{
    return encode(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
        true, p, n, out);
}

static int b64val(char c, bool both)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-' || (both && c == '+'))
        return 62;
    if (c == '_' || (both && c == '/'))
        return 63;
    return -1;
}

enum bk_err bk_base64_decode(const char *s, bool both, unsigned char *out,
                             size_t max, size_t *n)
{
    size_t len = strlen(s), o = 0;
    unsigned acc = 0;
    int bits = 0;

    while (len && s[len - 1] == '=') /* padding, when present */
        len--;
    if (len % 4 == 1)
        return BK_E_MALFORMED;
    for (size_t i = 0; i < len; i++) {
        int v = b64val(s[i], both);
        if (v < 0)
            return BK_E_MALFORMED;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= max)
                return BK_E_TOO_LARGE;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    *n = o;
    return BK_OK;
}

void bk_manage_token(const unsigned char secret[32], const char *uid,
                     char out[48])
{
    unsigned char mac[BK_SHA256_LEN];
    struct bk_iov parts[2] = {{"manage:", 7}, {uid, strlen(uid)}};

    bk_hmac_sha256(secret, 32, parts, 2, mac);
    bk_base64url_encode(mac, sizeof(mac), out);
}
