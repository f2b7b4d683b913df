/* crypto/crypto.h — the hashing, MAC and randomness bookingd uses, over
 * OpenSSL libcrypto. Webhook verifiers (webhooks/) and manage tokens (api/)
 * are built from these; nothing here knows a provider. Thread-safe. */
#ifndef BK_CRYPTO_CRYPTO_H
#define BK_CRYPTO_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

#define BK_SHA256_LEN 32

/* One piece of a message fed to a MAC without concatenating copies. */
struct bk_iov {
    const void *p;
    size_t n;
};

/* SHA-256 (FIPS 180-4) of n bytes. */
void bk_sha256(const void *p, size_t n, unsigned char out[BK_SHA256_LEN]);

/* HMAC-SHA256 (RFC 2104) keyed with key/klen over the concatenation of
 * parts[0..nparts). */
void bk_hmac_sha256(const void *key, size_t klen, const struct bk_iov *parts,
                    size_t nparts, unsigned char out[BK_SHA256_LEN]);

/* Constant-time equality of n bytes (OpenSSL CRYPTO_memcmp). */
bool bk_ct_equal(const void *a, const void *b, size_t n);

/* Fills p with n bytes from the OS CSPRNG; aborts if none can be had. */
void bk_random_bytes(void *p, size_t n);

/* Writes nchars random characters of the lowercase RFC 4648 base32
 * alphabet ("a-z2-7", 5 bits each) plus a NUL into out (nchars + 1 bytes):
 * booking UIDs and other opaque ids. */
void bk_random_token(char *out, size_t nchars);

/* Unpadded base64url (RFC 4648 §5). Encode writes 4*ceil(n/3)+1 bytes at
 * most into out and returns the length written. */
size_t bk_base64url_encode(const unsigned char *p, size_t n, char *out);
/* Padded standard base64 (RFC 4648 §4), as bk_base64url_encode. */
size_t bk_base64_encode(const unsigned char *p, size_t n, char *out);

/* Decodes unpadded base64url or padded standard base64 (both_alphabets:
 * accept either alphabet) into out (at most max bytes). BK_E_MALFORMED for
 * bad characters or length; BK_E_TOO_LARGE when out is too small. */
BK_MUST_CHECK enum bk_err bk_base64_decode(const char *s, bool both_alphabets,
                                           unsigned char *out, size_t max,
                                           size_t *n);

/* The manage token of booking `uid` (the attendee's capability on the
 * manage page and in emails): base64url of HMAC-SHA256(secret, "manage:"
 * uid), 43 characters and a NUL in out. secret: the 32-byte manage secret
 * stored in the database. */
void bk_manage_token(const unsigned char secret[32], const char *uid,
                     char out[48]);

#endif
