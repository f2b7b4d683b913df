/* base/str.c — string helpers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/str.h"
#include "base/banned.h"

size_t bk_strlcpy(char *dst, const char *src, size_t size)
{
    size_t len = strlen(src);

    if (size) {
        size_t n = len < size - 1 ? len : size - 1;
        memcpy(dst, src, n);
        dst[n] = '\0';
    }
    return len;
}

char *bk_str_ascii_lower(char *s)
{
    for (char *p = s; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return s;
}

bool bk_str_ieq(const char *a, const char *b)
{
    for (;; a++, b++) {
        char x = *a, y = *b;
        if (x >= 'A' && x <= 'Z')
            x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (char)(y - 'A' + 'a');
        if (x != y)
            return false;
        if (!x)
            return true;
    }
}

enum bk_err bk_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    const char *p = s;
    char *end = NULL;
    long long v;

    if (!s || !*s)
        return BK_E_MALFORMED;
    if (*p == '-')
        p++;
    if (*p < '0' || *p > '9')
        return BK_E_MALFORMED;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (*end)
        return BK_E_MALFORMED;
    if (errno == ERANGE || v < min || v > max)
        return BK_E_INVALID;
    *out = v;
    return BK_OK;
}

bool bk_ct_memeq(const void *a, const void *b, size_t n)
{
    const volatile unsigned char *x = a, *y = b;
    unsigned char d = 0;

    for (size_t i = 0; i < n; i++)
        d |= x[i] ^ y[i];
    return d == 0;
}

void bk_hex_encode(const unsigned char *p, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[p[i] >> 4];
        out[2 * i + 1] = hex[p[i] & 15];
    }
    out[2 * n] = '\0';
}

int bk_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool bk_hex_decode(const char *s, unsigned char *out, size_t n)
{
    if (!s || strlen(s) != 2 * n)
        return false;
    for (size_t i = 0; i < n; i++) {
        int hi = bk_hex_digit(s[2 * i]), lo = bk_hex_digit(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return true;
}

bool bk_utf8_valid(const char *s, size_t max_bytes, bool allow_newlines)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = 0;

    while (*p) {
        unsigned c = *p;
        int extra;
        unsigned cp;

        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f) {
                if (!(allow_newlines && (c == '\n' || c == '\r' || c == '\t')))
                    return false;
            }
            p++;
            n++;
        } else {
            if ((c & 0xe0) == 0xc0) {
                extra = 1;
                cp = c & 0x1f;
            } else if ((c & 0xf0) == 0xe0) {
                extra = 2;
                cp = c & 0x0f;
            } else if ((c & 0xf8) == 0xf0) {
                extra = 3;
                cp = c & 0x07;
            } else {
                return false;
            }
            for (int i = 1; i <= extra; i++) {
                if ((p[i] & 0xc0) != 0x80)
                    return false;
                cp = (cp << 6) | (p[i] & 0x3f);
            }
            /* Overlong forms, surrogates and out-of-range code points. */
            if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) ||
                (extra == 3 && cp < 0x10000) || cp > 0x10ffff ||
                (cp >= 0xd800 && cp <= 0xdfff))
                return false;
            /* C1 controls are as unwelcome as C0 ones. */
            if (cp >= 0x80 && cp < 0xa0)
                return false;
            p += extra + 1;
            n += (size_t)extra + 1;
        }
        if (n > max_bytes)
            return false;
    }
    return true;
}

bool bk_slug_valid(const char *s, size_t max)
{
    size_t n = 0;

    if (!s || !*s || *s == '-')
        return false;
    for (const char *p = s; *p; p++, n++) {
        if (n >= max)
            return false;
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '-'))
            return false;
    }
    return s[n - 1] != '-';
}

bool bk_email_valid(const char *s)
{
    const char *at, *dot;
    size_t n;

    if (!s)
        return false;
    n = strlen(s);
    if (n < 3 || n > 254)
        return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == '<' || *p == '>' || *p == ',' ||
            *p == ';' || *p == '"' || *p == '\\' || *p == 0x7f)
            return false;
    at = strrchr(s, '@');
    if (!at || at == s || strchr(s, '@') != at || !at[1])
        return false;
    dot = strrchr(at, '.');
    /* A domain with a dot that neither starts nor ends it. */
    return dot && dot != at + 1 && dot[1] != '\0' && strstr(at, "..") == NULL;
}

bool bk_phone_valid(const char *s, size_t max)
{
    size_t n, digits = 0;

    if (!s || (n = strlen(s)) == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch >= '0' && ch <= '9')
            digits++;
        else if (ch == '+' && i != 0)
            return false;
        else if (ch != '+' && !strchr(" -()./", ch))
            return false;
    }
    return digits >= 3 && digits <= 20;
}

int bk_name_index(const char *const *names, int n, const char *s)
{
    for (int i = 0; s && i < n; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    return -1;
}

const char *bk_str_qenc(struct bk_arena *arena, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out, *o;

    if (!s)
        return NULL;
    out = o = bk_arena_array(arena, strlen(s) + 1, 3);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
            c == '~') {
            *o++ = (char)c;
        } else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o = '\0';
    return out;
}
