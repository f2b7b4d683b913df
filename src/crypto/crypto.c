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
    if (acc != 0) /* left-over bits set: not canonical (RFC 4648 §3.5), so
                     two texts never decode to the same bytes */
        return BK_E_MALFORMED;
    *n = o;
    return BK_OK;
}

void bk_keyed_token(const unsigned char secret[32],
                    enum bk_token_purpose purpose, const char *subject,
                    char out[48])
{
    static const char *const label[] = {
        [BK_TOKEN_MANAGE] = "manage:",
        [BK_TOKEN_CALENDAR_FEED] = "calendar:",
        [BK_TOKEN_ADMIN_CSRF] = "admin-csrf:",
        [BK_TOKEN_GOOGLE_CHANNEL] = "google-channel:",
        [BK_TOKEN_PACKAGE_CREDIT] = "package-credit:",
    };
    unsigned char mac[BK_SHA256_LEN];
    struct bk_iov parts[2] = {{label[purpose], strlen(label[purpose])},
                              {subject, strlen(subject)}};

    bk_hmac_sha256(secret, 32, parts, 2, mac);
    bk_base64url_encode(mac, sizeof(mac), out);
}

void bk_manage_token(const unsigned char secret[32], const char *uid,
                     char out[48])
{
    bk_keyed_token(secret, BK_TOKEN_MANAGE, uid, out);
}

#define SEAL_SCHEME "bk1"
#define NONCE_LEN   12
#define TAG_LEN     16
/* A sealed credential longer than this is not one bookingd wrote. */
#define SEALED_MAX 65536

enum bk_err bk_secret_key_parse(const char *b64, struct bk_secret_key *out,
                                struct bk_errbuf *err)
{
    unsigned char k[BK_SECRET_KEY_LEN + 1], h[BK_SHA256_LEN];
    struct bk_iov parts[2];
    size_t n = 0;

    memset(out, 0, sizeof(*out));
    if (!b64 || !*b64)
        return bk_fail(err, BK_E_CONFIG, "the secret key is empty");
    if (bk_base64_decode(b64, true, k, sizeof(k), &n) != BK_OK ||
        n != BK_SECRET_KEY_LEN) {
        OPENSSL_cleanse(k, sizeof(k));
        return bk_fail(err, BK_E_CONFIG,
                       "the secret key must be 32 bytes in base64 (44 "
                       "characters; `openssl rand -base64 32` makes one)");
    }
    memcpy(out->key, k, BK_SECRET_KEY_LEN);
    OPENSSL_cleanse(k, sizeof(k));
    parts[0] = (struct bk_iov){"bookingd key id", 15};
    parts[1] = (struct bk_iov){out->key, BK_SECRET_KEY_LEN};
    {
        EVP_MD_CTX *c = EVP_MD_CTX_new();
        unsigned int len = 0;
        if (!c || !EVP_DigestInit_ex(c, EVP_sha256(), NULL) ||
            !EVP_DigestUpdate(c, parts[0].p, parts[0].n) ||
            !EVP_DigestUpdate(c, parts[1].p, parts[1].n) ||
            !EVP_DigestFinal_ex(c, h, &len))
            die("EVP_Digest (key id)");
        EVP_MD_CTX_free(c);
    }
    for (int i = 0; i < 4; i++)
        snprintf(out->id + 2 * i, 3, "%02x", h[i]);
    return BK_OK;
}

char *bk_secret_seal(const struct bk_secret_key *key, const char *aad,
                     const void *plain, size_t n, struct bk_arena *arena)
{
    size_t raw_len = NONCE_LEN + n + TAG_LEN, pre = strlen(SEAL_SCHEME) + 10;
    unsigned char *raw = bk_arena_alloc(arena, raw_len);
    char *out = bk_arena_alloc(arena, pre + 4 * (raw_len / 3 + 1) + 1);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int len = 0;

    if (!c)
        die("EVP_CIPHER_CTX_new");
    bk_random_bytes(raw, NONCE_LEN);
    if (!EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) ||
        !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) ||
        !EVP_EncryptInit_ex(c, NULL, NULL, key->key, raw) ||
        !EVP_EncryptUpdate(c, NULL, &len, (const unsigned char *)aad,
                           (int)strlen(aad)) ||
        (n && !EVP_EncryptUpdate(c, raw + NONCE_LEN, &len, plain, (int)n)) ||
        !EVP_EncryptFinal_ex(c, raw + NONCE_LEN + n, &len) ||
        !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN,
                             raw + NONCE_LEN + n))
        die("AES-256-GCM seal");
    EVP_CIPHER_CTX_free(c);
    snprintf(out, pre + 1, SEAL_SCHEME ":%s:", key->id);
    bk_base64url_encode(raw, raw_len, out + strlen(out));
    OPENSSL_cleanse(raw + NONCE_LEN, n);
    return out;
}

bool bk_secret_key_id_of(const char *sealed, char out[9])
{
    size_t len = sealed ? strlen(sealed) : 0;

    out[0] = '\0';
    if (len > SEALED_MAX || len < 14 ||
        strncmp(sealed, SEAL_SCHEME ":", 4) != 0 || sealed[12] != ':')
        return false;
    memcpy(out, sealed + 4, 8);
    out[8] = '\0';
    return true;
}

enum bk_err bk_secret_open(const struct bk_secret_key *key, const char *aad,
                           const char *sealed, struct bk_arena *arena,
                           char **out, size_t *n, struct bk_errbuf *err)
{
    const char *p;
    unsigned char *raw;
    size_t len, raw_len = 0, pn;
    EVP_CIPHER_CTX *c = NULL;
    int l = 0;
    enum bk_err e = BK_OK;

    *out = NULL;
    *n = 0;
    len = sealed ? strlen(sealed) : 0;
    if (len > SEALED_MAX || len < 14 ||
        strncmp(sealed, SEAL_SCHEME ":", 4) != 0 || sealed[12] != ':')
        return bk_fail(err, BK_E_MALFORMED, "not a sealed credential");
    if (memcmp(sealed + 4, key->id, 8) != 0) {
        if (!key->previous || memcmp(sealed + 4, key->previous->id, 8) != 0) {
            if (key->previous)
                return bk_fail(err, BK_E_CONFIG,
                               "the credential was sealed under an unknown "
                               "secret key (key id %.8s; "
                               "BOOKINGD_SECRET_KEY's is %s, "
                               "BOOKINGD_SECRET_KEY_PREVIOUS's is %s)",
                               sealed + 4, key->id, key->previous->id);
            return bk_fail(err, BK_E_CONFIG,
                           "the credential was sealed under an unknown secret "
                           "key (key id %.8s; BOOKINGD_SECRET_KEY's is %s: "
                           "set the old key as BOOKINGD_SECRET_KEY_PREVIOUS)",
                           sealed + 4, key->id);
        }
        key = key->previous;
    }
    p = sealed + 13;
    raw = bk_arena_alloc(arena, strlen(p) * 3 / 4 + 3);
    if (bk_base64_decode(p, false, raw, strlen(p) * 3 / 4 + 3, &raw_len) !=
            BK_OK ||
        raw_len < NONCE_LEN + TAG_LEN)
        return bk_fail(err, BK_E_MALFORMED,
                       "not a sealed credential (truncated or damaged)");
    pn = raw_len - NONCE_LEN - TAG_LEN;
    *out = bk_arena_alloc(arena, pn + 1);
    c = EVP_CIPHER_CTX_new();
    if (!c)
        die("EVP_CIPHER_CTX_new");
    if (!EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) ||
        !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) ||
        !EVP_DecryptInit_ex(c, NULL, NULL, key->key, raw) ||
        !EVP_DecryptUpdate(c, NULL, &l, (const unsigned char *)aad,
                           (int)strlen(aad)) ||
        (pn && !EVP_DecryptUpdate(c, (unsigned char *)*out, &l, raw + NONCE_LEN,
                                  (int)pn)) ||
        !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_LEN,
                             raw + NONCE_LEN + pn) ||
        EVP_DecryptFinal_ex(c, (unsigned char *)*out + pn, &l) != 1) {
        OPENSSL_cleanse(*out, pn);
        *out = NULL;
        e = bk_fail(err, BK_E_UNAUTHORIZED,
                    "the credential does not authenticate (tampered, or "
                    "sealed for another row)");
        goto out;
    }
    (*out)[pn] = '\0';
    *n = pn;
out:
    EVP_CIPHER_CTX_free(c);
    return e;
}
