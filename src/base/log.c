/* base/log.c — line logger, text or JSON (one object per line). */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/time.h"
#include "base/banned.h"

#define LINE_MAX_BYTES  2048
#define FIELD_MAX_BYTES 512 /* of a request's strings, before escaping */
/* Escaping grows a byte to at most 6 ("\u001f"): the message, four fields
 * and the keys always fit, so a JSON line is never cut. */
#define JSON_MAX_BYTES (6 * (LINE_MAX_BYTES + 4 * FIELD_MAX_BYTES) + 512)

static const char *const level_names[] = {"error", "warn", "info", "debug"};
static enum bk_log_level max_level = BK_LOG_INFO;
static enum bk_log_format format = BK_LOG_TEXT;

void bk_log_set_level(enum bk_log_level level)
{
    max_level = level;
}

enum bk_err bk_log_level_parse(const char *s, enum bk_log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum bk_log_level)i;
            return BK_OK;
        }
    }
    return BK_E_INVALID;
}

void bk_log_set_format(enum bk_log_format f)
{
    format = f;
}

enum bk_err bk_log_format_parse(const char *s, enum bk_log_format *out)
{
    if (strcmp(s, "text") == 0)
        *out = BK_LOG_TEXT;
    else if (strcmp(s, "json") == 0)
        *out = BK_LOG_JSON;
    else
        return BK_E_INVALID;
    return BK_OK;
}

/* A bounded output line; appends that do not fit are dropped whole, so an
 * escape sequence is never cut. */
struct line {
    char *p;
    size_t len, size;
};

static void put(struct line *l, const char *s, size_t n)
{
    if (l->len + n + 1 > l->size)
        return;
    memcpy(l->p + l->len, s, n);
    l->len += n;
    l->p[l->len] = '\0';
}

static void puts_(struct line *l, const char *s)
{
    put(l, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates, at most U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    size_t n;
    unsigned cp;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4, cp = c & 0x07;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* A JSON string (RFC 8259 §7) of the first max bytes of s: control
 * characters as \u00XX, invalid UTF-8 as U+FFFD, so any bytes give a
 * parseable line. */
static void put_json_str(struct line *l, const char *s, size_t max)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    const unsigned char *end = p + strnlen((const char *)p, max);

    put(l, "\"", 1);
    while (p < end) {
        size_t n = utf8_len(p);
        char esc[8];
        if (n == 0 || p + n > end) {
            puts_(l, "\\ufffd");
            p++;
        } else if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p++;
            put(l, esc, 2);
        } else if (*p == '\n' || *p == '\r' || *p == '\t') {
            esc[0] = '\\';
            esc[1] = *p == '\n' ? 'n' : *p == '\r' ? 'r' : 't';
            put(l, esc, 2);
            p++;
        } else if (*p < 0x20 || *p == 0x7F) {
            snprintf(esc, sizeof(esc), "\\u%04x", *p++);
            put(l, esc, 6);
        } else {
            put(l, (const char *)p, n);
            p += n;
        }
    }
    put(l, "\"", 1);
}

static void put_json_head(struct line *l, enum bk_log_level level,
                          const char *message)
{
    char ts[BK_RFC3339_MAX];

    bk_rfc3339_format_utc(bk_now_utc(), ts);
    puts_(l, "{\"time\":\"");
    puts_(l, ts);
    puts_(l, "\",\"level\":\"");
    puts_(l, level_names[level]);
    puts_(l, "\",\"message\":");
    put_json_str(l, message, LINE_MAX_BYTES);
}

/* Writes one line: message is the formatted text without time and level. */
static void emit(enum bk_log_level level, char *message,
                 const struct bk_log_request *r)
{
    /* Per thread, not on the stack: HTTP threads have small stacks. */
    static _Thread_local char out[JSON_MAX_BYTES];
    char ts[BK_RFC3339_MAX], num[32];
    struct line l = {out, 0, sizeof(out)};

    out[0] = '\0';
    if (format == BK_LOG_JSON) {
        put_json_head(&l, level, message);
        if (r) {
            puts_(&l, ",\"request_id\":");
            put_json_str(&l, r->request_id, FIELD_MAX_BYTES);
            puts_(&l, ",\"method\":");
            put_json_str(&l, r->method, FIELD_MAX_BYTES);
            puts_(&l, ",\"path\":");
            put_json_str(&l, r->path, FIELD_MAX_BYTES);
            puts_(&l, ",\"route\":");
            if (r->route)
                put_json_str(&l, r->route, FIELD_MAX_BYTES);
            else
                puts_(&l, "null");
            snprintf(num, sizeof(num), ",\"status\":%d", r->status);
            puts_(&l, num);
            snprintf(num, sizeof(num), ",\"duration_ms\":%lld",
                     (long long)r->duration_ms);
            puts_(&l, num);
        }
        put(&l, "}", 1);
    } else {
        /* Control bytes from outside input must not forge log lines. */
        for (char *p = message; *p; p++)
            if ((unsigned char)*p < 0x20 && *p != '\t')
                *p = '?';
        bk_rfc3339_format_utc(bk_now_utc(), ts);
        puts_(&l, ts);
        put(&l, " ", 1);
        puts_(&l, level_names[level]);
        put(&l, " ", 1);
        puts_(&l, message);
    }
    fprintf(stderr, "%s\n", out);
}

void bk_log(enum bk_log_level level, const char *fmt, ...)
{
    char message[LINE_MAX_BYTES];
    va_list ap;

    if (level > max_level)
        return;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    emit(level, message, NULL);
}

void bk_log_request(const struct bk_log_request *r)
{
    char message[LINE_MAX_BYTES];

    if (BK_LOG_INFO > max_level)
        return;
    snprintf(message, sizeof(message), "http %s %s %d %lldms id=%s", r->method,
             r->path, r->status, (long long)r->duration_ms, r->request_id);
    emit(BK_LOG_INFO, message, r);
}
