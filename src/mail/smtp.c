/* mail/smtp.c — one email through libcurl (smtp.h). libcurl composes the
 * MIME structure and its transfer encodings and speaks SMTP; this file
 * chooses the parts, encodes the header texts, and sorts the outcome into
 * sent, retry later and refused for good. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "mail/smtp.h"
#include "base/str.h"
#include "base/time.h"
#include "base/banned.h"

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
/* Each thread's easy handle, kept between messages so that libcurl's
 * connection cache (in the handle) reuses the SMTP connection — the TCP
 * and TLS handshakes, EHLO and AUTH — for the next message to the same
 * server. Cleaned up when the thread exits. */
static pthread_key_t handle_key;

static void handle_free(void *h)
{
    curl_easy_cleanup(h);
}

static void global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    (void)pthread_key_create(&handle_key, handle_free);
}

/* The calling thread's handle, reset to no options (its connections
 * kept); NULL when none can be made. */
static CURL *thread_handle(void)
{
    CURL *h = pthread_getspecific(handle_key);

    if (h) {
        curl_easy_reset(h);
        return h;
    }
    h = curl_easy_init();
    if (h && pthread_setspecific(handle_key, h) != 0) {
        curl_easy_cleanup(h);
        h = NULL;
    }
    return h;
}

void bk_smtp_global_init(void)
{
    pthread_once(&global_once, global_init);
}

#define INSECURE "smtp+insecure://"

enum bk_err bk_smtp_url_check(const char *url, struct bk_errbuf *err)
{
    const char *rest = NULL, *at, *host;

    if (strncmp(url, "smtp://", 7) == 0)
        rest = url + 7;
    else if (strncmp(url, "smtps://", 8) == 0)
        rest = url + 8;
    else if (strncmp(url, INSECURE, strlen(INSECURE)) == 0)
        rest = url + strlen(INSECURE);
    if (!rest)
        return bk_fail(err, BK_E_CONFIG,
                       "must be smtp://USER:PASSWORD@HOST:587 (STARTTLS), "
                       "smtps://USER:PASSWORD@HOST:465 or "
                       "smtp+insecure://HOST:PORT");
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return bk_fail(err, BK_E_CONFIG,
                           "must not contain spaces or control characters");
    at = strrchr(rest, '@');
    host = at ? at + 1 : rest;
    if (!*host || *host == ':' || *host == '/')
        return bk_fail(err, BK_E_CONFIG, "names no host");
    if (strlen(url) > 1000)
        return bk_fail(err, BK_E_CONFIG, "is longer than 1000 bytes");
    return BK_OK;
}

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Padded standard base64 of n bytes into out (4*ceil(n/3)+1 bytes). */
static void base64(const unsigned char *p, size_t n, char *out)
{
    size_t i;

    for (i = 0; i + 2 < n; i += 3) {
        *out++ = b64[p[i] >> 2];
        *out++ = b64[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
        *out++ = b64[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)];
        *out++ = b64[p[i + 2] & 63];
    }
    if (i < n) {
        *out++ = b64[p[i] >> 2];
        if (i + 1 < n) {
            *out++ = b64[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
            *out++ = b64[(p[i + 1] & 15) << 2];
        } else {
            *out++ = b64[(p[i] & 3) << 4];
            *out++ = '=';
        }
        *out++ = '=';
    }
    *out = '\0';
}

char *bk_smtp_encode_words(const char *s, struct bk_arena *arena)
{
    size_t len = strlen(s), n = 0, o = 0;
    char *clean = bk_arena_alloc(arena, len + 1), *out;
    bool plain = true;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            continue; /* CR, LF, TAB...: never into a header */
        if (c >= 0x80 || strchr("\"()<>@,;:\\[]=?_", c))
            plain = false;
        clean[n++] = (char)c;
    }
    clean[n] = '\0';
    if (plain)
        return clean;
    /* 45 bytes of text make 60 of base64: a word of 72 characters. */
    out = bk_arena_alloc(arena, (n / 45 + 1) * 80 + 1);
    for (size_t i = 0; i < n;) {
        size_t take = n - i > 45 ? 45 : n - i;
        /* Never split a UTF-8 sequence: back off continuation bytes. */
        while (i + take < n && take > 1 &&
               ((unsigned char)clean[i + take] & 0xc0) == 0x80)
            take--;
        if (o)
            out[o++] = ' ';
        memcpy(out + o, "=?UTF-8?B?", 10);
        o += 10;
        base64((const unsigned char *)clean + i, take, out + o);
        o += strlen(out + o);
        memcpy(out + o, "?=", 2);
        o += 2;
        i += take;
    }
    out[o] = '\0';
    return out;
}

void bk_smtp_date(int64_t utc, char out[40])
{
    static const char *const wd[] = {"Mon", "Tue", "Wed", "Thu",
                                     "Fri", "Sat", "Sun"};
    static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int64_t days = bk_floordiv(utc, 86400), sec = utc - days * 86400;
    int y, m, d;

    bk_civil_from_days(days, &y, &m, &d);
    snprintf(out, 40, "%s, %02d %s %04d %02d:%02d:%02d +0000",
             wd[bk_weekday(days)], d, mon[m - 1], y, (int)(sec / 3600),
             (int)(sec / 60 % 60), (int)(sec % 60));
}

/* The first refusal (4xx, 5xx) the server sent, for the error of a
 * message it did not take; not the 221 of the QUIT that follows. */
struct reply {
    char line[200];
};

static int on_debug(CURL *h, curl_infotype type, char *data, size_t size,
                    void *ctx)
{
    struct reply *r = ctx;
    size_t n = size;

    (void)h;
    if (type != CURLINFO_HEADER_IN || r->line[0] || size < 3 ||
        (data[0] != '4' && data[0] != '5'))
        return 0;
    while (n && (data[n - 1] == '\n' || data[n - 1] == '\r'))
        n--;
    if (n >= sizeof(r->line))
        n = sizeof(r->line) - 1;
    for (size_t i = 0; i < n; i++) /* the server's text goes into logs */
        r->line[i] = (unsigned char)data[i] < 0x20 ? ' ' : data[i];
    r->line[n] = '\0';
    return 0;
}

static const char *address(const char *name, const char *addr,
                           struct bk_arena *arena)
{
    if (!name || !*name)
        return bk_arena_printf(arena, "<%s>", addr);
    return bk_arena_printf(arena, "%s <%s>", bk_smtp_encode_words(name, arena),
                           addr);
}

static curl_mimepart *add_text(curl_mime *mime, const char *data,
                               const char *type)
{
    curl_mimepart *p = curl_mime_addpart(mime);

    curl_mime_data(p, data, CURL_ZERO_TERMINATED);
    curl_mime_type(p, type);
    curl_mime_encoder(p, "quoted-printable");
    return p;
}

enum bk_err bk_smtp_send(const struct bk_smtp *smtp,
                         const struct bk_mail_message *m,
                         struct bk_arena *arena, struct bk_errbuf *err)
{
    CURL *h = NULL;
    curl_mime *mime = NULL, *alt = NULL;
    curl_mimepart *part;
    struct curl_slist *headers = NULL, *rcpt = NULL;
    struct reply reply = {""};
    char curl_err[CURL_ERROR_SIZE] = "", date[40];
    const char *url = smtp->url;
    long use_ssl = CURLUSESSL_ALL, code = 0, fresh = 0;
    CURLcode rc;
    enum bk_err e = BK_OK;

    if (!bk_email_valid(m->from_addr) || !bk_email_valid(m->to_addr) ||
        strpbrk(m->to_addr, "<>\"\r\n,;") ||
        strpbrk(m->from_addr, "<>\"\r\n,;"))
        return bk_fail(err, BK_E_INVALID, "not a sendable address: '%s'",
                       m->to_addr);
    if (strncmp(url, INSECURE, strlen(INSECURE)) == 0) {
        url = bk_arena_printf(arena, "smtp://%s", url + strlen(INSECURE));
        use_ssl = CURLUSESSL_NONE;
    } else if (strncmp(url, "smtps://", 8) == 0) {
        use_ssl = CURLUSESSL_ALL; /* implicit TLS */
    }
    bk_smtp_global_init();
    h = thread_handle();
    if (!h)
        return bk_fail(err, BK_E_IO, "SMTP: curl_easy_init failed");

    bk_smtp_date(m->date_utc, date);
    headers =
        curl_slist_append(headers, bk_arena_printf(arena, "Date: %s", date));
    headers = curl_slist_append(
        headers, bk_arena_printf(arena, "From: %s",
                                 address(m->from_name, m->from_addr, arena)));
    headers = curl_slist_append(
        headers, bk_arena_printf(arena, "To: %s",
                                 address(m->to_name, m->to_addr, arena)));
    headers = curl_slist_append(
        headers, bk_arena_printf(arena, "Subject: %s",
                                 bk_smtp_encode_words(m->subject, arena)));
    headers = curl_slist_append(
        headers, bk_arena_printf(arena, "Message-ID: %s", m->message_id));
    headers = curl_slist_append(headers, "Auto-Submitted: auto-generated");
    rcpt = curl_slist_append(rcpt, bk_arena_printf(arena, "<%s>", m->to_addr));

    /* multipart/mixed [ multipart/alternative [ text, html, calendar ],
     * invite.ics, attachment ] */
    mime = curl_mime_init(h);
    alt = curl_mime_init(h);
    add_text(alt, m->text, "text/plain; charset=UTF-8");
    add_text(alt, m->html, "text/html; charset=UTF-8");
    if (m->ics && m->ics_method)
        add_text(alt, m->ics,
                 bk_arena_printf(arena,
                                 "text/calendar; charset=UTF-8; "
                                 "method=%s",
                                 m->ics_method));
    part = curl_mime_addpart(mime);
    curl_mime_subparts(part, alt);
    alt = NULL; /* owned by part now */
    curl_mime_type(part, "multipart/alternative");
    if (m->ics) {
        part = curl_mime_addpart(mime);
        curl_mime_data(part, m->ics, CURL_ZERO_TERMINATED);
        curl_mime_type(part, m->ics_method
                                 ? bk_arena_printf(arena,
                                                   "application/ics; method=%s",
                                                   m->ics_method)
                                 : "application/ics");
        curl_mime_filename(part, "invite.ics");
        curl_mime_encoder(part, "base64");
    }
    if (m->attach) {
        part = curl_mime_addpart(mime);
        curl_mime_data(part, m->attach, m->attach_len);
        curl_mime_type(part, m->attach_type);
        curl_mime_filename(part, m->attach_name);
        curl_mime_encoder(part, "base64");
    }

    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_USE_SSL, use_ssl);
    if (smtp->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, smtp->ca_file);
    curl_easy_setopt(h, CURLOPT_MAIL_FROM,
                     bk_arena_printf(arena, "<%s>", m->from_addr));
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_MIMEPOST, mime);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)smtp->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)smtp->timeout_ms);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, on_debug);
    curl_easy_setopt(h, CURLOPT_DEBUGDATA, &reply);
    curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);

    rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &fresh);
    if (rc != CURLE_OK && code == 0 && fresh == 0) {
        /* A kept connection the server had closed (an idle time-out) and
         * no reply: once more on a new one. No 250 came, so the server
         * took nothing. */
        curl_err[0] = '\0';
        reply.line[0] = '\0';
        curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
        rc = curl_easy_perform(h);
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    }
    if (rc == CURLE_OK)
        goto out;
    if (code >= 500 && code < 600)
        e = bk_fail(err, BK_E_INVALID, "SMTP refused: %s",
                    reply.line[0] ? reply.line : curl_err);
    else if (code >= 400 && code < 500)
        e = bk_fail(err, BK_E_RETRY, "SMTP: %s",
                    reply.line[0] ? reply.line : curl_err);
    else
        e = bk_fail(err, BK_E_IO, "SMTP: %s",
                    curl_err[0] ? curl_err : curl_easy_strerror(rc));
out:
    /* The handle stays the thread's (with its connection); what it
     * borrowed from this call goes. */
    curl_easy_reset(h);
    curl_mime_free(mime);
    curl_mime_free(alt);
    curl_slist_free_all(headers);
    curl_slist_free_all(rcpt);
    return e;
}
