/* mail/smtp.h — composing one email with libcurl's MIME API and sending it
 * with libcurl's SMTP client. What to send (who, which texts, the invite)
 * is mail.c's; here it becomes RFC 5322 headers (names and subjects as RFC
 * 2047 encoded words), a multipart/mixed body of a multipart/alternative
 * (text, HTML and, for an iMIP invite, text/calendar; method=...) and the
 * invite again as an .ics attachment (RFC 6047), then any other
 * attachment (the invoice PDF of a paid confirmation). */
#ifndef BK_MAIL_SMTP_H
#define BK_MAIL_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/err.h"

/* Where and how to send: from BOOKINGD_SMTP_URL. Strings are borrowed for
 * the process's life. */
struct bk_smtp {
    const char *url;     /* smtp://USER:PASSWORD@HOST:587 (STARTTLS required),
                            smtps://...:465, smtp+insecure://HOST:PORT */
    const char *ca_file; /* PEM bundle to verify the server; NULL: the
                            system's */
    int64_t connect_timeout_ms;
    int64_t timeout_ms; /* the whole transaction */
};

/* One message. Strings are borrowed for the call; names may be NULL. No
 * field reaches a header unencoded: names and the subject become encoded
 * words (with control characters dropped), addresses must pass
 * bk_email_valid. */
struct bk_mail_message {
    const char *from_name;
    const char *from_addr;
    const char *to_name;
    const char *to_addr;
    const char *subject;
    const char *message_id; /* "<...>" */
    int64_t date_utc;
    const char *text; /* UTF-8, LF lines */
    const char *html;
    const char *ics;        /* the invite (core/ics.h), or NULL */
    const char *ics_method; /* "REQUEST", "CANCEL": adds the text/calendar
                               alternative; NULL: the attachment only */
    /* One more attachment (base64), or attach NULL: attach_len bytes of
     * type attach_type ("application/pdf") named attach_name (plain
     * ASCII: "INV-2026-0001.pdf"). */
    const char *attach;
    size_t attach_len;
    const char *attach_type;
    const char *attach_name;
};

/* Calls curl_global_init once; call from the main thread before any other
 * thread starts. */
void bk_smtp_global_init(void);

/* Checks a BOOKINGD_SMTP_URL: BK_E_CONFIG with err->msg naming what is
 * wrong, never the password. */
BK_MUST_CHECK enum bk_err bk_smtp_url_check(const char *url,
                                            struct bk_errbuf *err);

/* Sends m. BK_OK when the server accepted it (250 after DATA);
 * BK_E_INVALID when it refused it for good (a 5xx reply, quoted in
 * err->msg) or m cannot be sent (a bad address); BK_E_RETRY for a 4xx
 * reply; BK_E_IO when no transaction happened (connection, TLS, time-out).
 * Thread-safe: each thread keeps one curl handle, whose connection to the
 * server is reused by its next message (a connection the server closed
 * meanwhile is replaced once, transparently); the handle is freed when the
 * thread exits. */
BK_MUST_CHECK enum bk_err bk_smtp_send(const struct bk_smtp *smtp,
                                       const struct bk_mail_message *m,
                                       struct bk_arena *arena,
                                       struct bk_errbuf *err);

/* RFC 2047 "B" encoded words for a header text (UTF-8), split at
 * character boundaries into words of at most 75 characters separated by a
 * space; control characters are dropped first. Plain printable ASCII
 * without specials is returned as it is. In arena. */
char *bk_smtp_encode_words(const char *s, struct bk_arena *arena);

/* "Fri, 01 Dec 2026 09:00:00 +0000" (RFC 5322 §3.3) into out. */
void bk_smtp_date(int64_t utc, char out[40]);

#endif
