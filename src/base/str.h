/* base/str.h — small string helpers that the banned list makes necessary. */
#ifndef BK_BASE_STR_H
#define BK_BASE_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

struct bk_arena;

/* Copies at most size-1 bytes and always NUL-terminates (size > 0).
 * Returns strlen(src), so truncation is `ret >= size`. */
size_t bk_strlcpy(char *dst, const char *src, size_t size);

/* Lowercases ASCII letters in place; other bytes are kept. Returns s. */
char *bk_str_ascii_lower(char *s);

/* Case-insensitive ASCII equality. */
bool bk_str_ieq(const char *a, const char *b);

/* Parses a whole string as a base-10 integer in [min, max]: no sign other
 * than a leading '-', no spaces, no trailing bytes. BK_E_MALFORMED when not a
 * number, BK_E_INVALID when out of range. */
BK_MUST_CHECK enum bk_err bk_parse_i64(const char *s, int64_t min, int64_t max,
                                       int64_t *out);

/* Constant-time equality of two byte strings of the same length n; the time
 * taken depends on n only. */
bool bk_ct_memeq(const void *a, const void *b, size_t n);

/* Lowercase hex of n bytes into out (2n+1 bytes including the NUL). */
void bk_hex_encode(const unsigned char *p, size_t n, char *out);

/* The value of a hex digit (either case), or -1. */
int bk_hex_digit(char c);

/* Decodes exactly 2n hex digits (either case) of s into out[n]; false when
 * s has another length or a non-hex character. */
bool bk_hex_decode(const char *s, unsigned char *out, size_t n);

/* True when s is valid UTF-8 of at most max_bytes bytes, with no control
 * characters other than those allowed (allow_newlines: \n \r \t). */
bool bk_utf8_valid(const char *s, size_t max_bytes, bool allow_newlines);

/* True for a slug: 1..max bytes of [a-z0-9-], not starting or ending with
 * '-'. */
bool bk_slug_valid(const char *s, size_t max);

/* The index of s in names[0..n), or -1 (s may be NULL). For enum names. */
int bk_name_index(const char *const *names, int n, const char *s);

/* A plausible email address: 3..254 bytes, one '@' with a non-empty local
 * part and a dotted domain, no spaces, controls or <>,;"\ characters. Not
 * RFC 5322 in full: what bookings need to reach a person. */
bool bk_email_valid(const char *s);

/* s percent-encoded for a URL's query, form or path segment: RFC 3986's
 * unreserved bytes (A-Z a-z 0-9 - . _ ~) kept, every other byte as %XX
 * (uppercase hex; UTF-8 byte by byte). Allocated in arena (3 * strlen(s)
 * + 1 bytes at most; like every arena allocation it aborts when that
 * cannot be had). NULL in gives NULL out. */
const char *bk_str_qenc(struct bk_arena *arena, const char *s);

/* True for a phone number as people write one: 1..max bytes of digits,
 * spaces and + - ( ) . / only, a '+' only first, 3 to 20 digits. The one
 * rule for a client's phone and a booking question's phone answer. */
bool bk_phone_valid(const char *s, size_t max);

#endif
