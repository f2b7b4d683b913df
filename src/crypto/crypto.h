/* crypto/crypto.h — the hashing, MAC and randomness bookingd uses, over
 * OpenSSL libcrypto. Webhook verifiers (webhooks/) and manage tokens (api/)
 * are built from these; nothing here knows a provider. Thread-safe. */
#ifndef BK_CRYPTO_CRYPTO_H
#define BK_CRYPTO_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>

#include "base/arena.h"
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
 * bad characters or length, and for a last character whose unused bits are
 * not zero (non-canonical, RFC 4648 §3.5); BK_E_TOO_LARGE when out is too
 * small. */
BK_MUST_CHECK enum bk_err bk_base64_decode(const char *s, bool both_alphabets,
                                           unsigned char *out, size_t max,
                                           size_t *n);

/* What a keyed token grants; its label separates the purposes, so a token
 * of one can never pass for another. */
enum bk_token_purpose {
    BK_TOKEN_MANAGE,         /* "manage:" + booking uid: the attendee's
                                capability on the manage page and in emails */
    BK_TOKEN_CALENDAR_FEED,  /* "calendar:" + host slug: the feed's URL */
    BK_TOKEN_ADMIN_CSRF,     /* "admin-csrf:" + session token */
    BK_TOKEN_GOOGLE_CHANNEL, /* "google-channel:" + channel id: the token
                                of a Google watch channel */
    BK_TOKEN_PACKAGE_CREDIT, /* "package-credit:" + purchase uid: the
                                buyer's credit code (ledger/packages.h) */
};

/* A token derived from the 32-byte manage secret stored in the database:
 * base64url (unpadded) of HMAC-SHA256(secret, label ":" subject), 43
 * characters and a NUL in out. Not stored: recomputed and compared in
 * constant time (bk_ct_equal); changing the secret changes every one. */
void bk_keyed_token(const unsigned char secret[32],
                    enum bk_token_purpose purpose, const char *subject,
                    char out[48]);

/* bk_keyed_token(secret, BK_TOKEN_MANAGE, uid, out). */
void bk_manage_token(const unsigned char secret[32], const char *uid,
                     char out[48]);

/* ---- Credentials at rest: AES-256-GCM (NIST SP 800-38D) ----------------
 *
 * A sealed value is text: "bk1:" KEYID ":" base64url(nonce || ciphertext ||
 * tag), where "bk1" names the scheme (AES-256-GCM, a random 96-bit nonce
 * per value, a 128-bit tag), KEYID is 8 hex digits of SHA-256("bookingd
 * key id" || key) so that a value sealed under an older key is recognised
 * (rotation), and the associated data binds the value to the row it was
 * written for ("calendar_connection:42:password"): moved to another row, it
 * no longer opens. */

#define BK_SECRET_KEY_LEN 32

struct bk_secret_key {
    unsigned char key[BK_SECRET_KEY_LEN];
    char id[9]; /* 8 hex digits and a NUL */
    /* The key in use before this one (BOOKINGD_SECRET_KEY_PREVIOUS), or
     * NULL: bk_secret_open opens values sealed under either, so that a
     * key can be rotated without losing what the old one sealed (then
     * `bookingd rekey` seals them all again under this one). */
    const struct bk_secret_key *previous;
};

/* The id of the key a sealed value was sealed under (8 hex digits and a
 * NUL in out); false when sealed is not a sealed value. */
bool bk_secret_key_id_of(const char *sealed, char out[9]);

/* Reads a key written as standard or url-safe base64 of exactly 32 bytes
 * (BOOKINGD_SECRET_KEY; `openssl rand -base64 32` makes one).
 * BK_E_CONFIG with a one-line reason (never the value) otherwise. */
BK_MUST_CHECK enum bk_err bk_secret_key_parse(const char *b64,
                                              struct bk_secret_key *out,
                                              struct bk_errbuf *err);

/* Seals n bytes of plain bound to aad (a NUL-ended string). Returns the
 * sealed text in arena. Aborts only if libcrypto does. */
char *bk_secret_seal(const struct bk_secret_key *key, const char *aad,
                     const void *plain, size_t n, struct bk_arena *arena);

/* Opens a value bk_secret_seal wrote with the same key (or key->previous)
 * and aad: *out gets the plain bytes NUL-ended in arena, *n their count.
 * BK_E_MALFORMED for text that is not a sealed value (truncated, bad
 * base64); BK_E_CONFIG when it was sealed under a key that is neither
 * (its id differs: the message names the ids, never a key);
 * BK_E_UNAUTHORIZED when authentication fails (tampered, another row's
 * aad). The messages never contain the value. */
BK_MUST_CHECK enum bk_err bk_secret_open(const struct bk_secret_key *key,
                                         const char *aad, const char *sealed,
                                         struct bk_arena *arena, char **out,
                                         size_t *n, struct bk_errbuf *err);

#endif
