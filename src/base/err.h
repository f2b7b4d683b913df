/* base/err.h — the one error enum and the human-readable error buffer.
 * Mapping an error to an HTTP status lives in api/errors.c, nowhere else. */
#ifndef BK_BASE_ERR_H
#define BK_BASE_ERR_H

#include <stddef.h>

/* Every fallible function returns one of these. Numbers are never reused. */
enum bk_err {
    BK_OK = 0,
    BK_E_INVALID = 1,   /* well-formed input with an invalid field */
    BK_E_MALFORMED = 2, /* unparseable input (JSON, query, body) */
    BK_E_NOT_FOUND = 3,
    BK_E_CONFLICT = 4,         /* state conflict (e.g. row still referenced) */
    BK_E_SLOT_UNAVAILABLE = 5, /* the slot is not free at commit time */
    BK_E_ILLEGAL_TRANSITION = 6, /* booking lifecycle refuses the move */
    BK_E_DUPLICATE = 7,          /* a unique key (slug, email, uid) exists */
    BK_E_UNAUTHORIZED = 8,
    BK_E_FORBIDDEN = 9,
    BK_E_TOO_LARGE = 10, /* a size cap was exceeded */
    BK_E_UNSUPPORTED_MEDIA = 11,
    BK_E_RATE_LIMITED = 12,
    BK_E_UNAVAILABLE = 13,   /* a dependency or feature is not available */
    BK_E_BUSY = 14,          /* database busy; the caller may retry */
    BK_E_IO = 15,            /* storage or network I/O failed */
    BK_E_INTERNAL = 16,      /* a bug: an invariant did not hold */
    BK_E_CONFIG = 17,        /* invalid configuration */
    BK_E_RETRY = 18,         /* transient: run the job again later */
    BK_E_STALE = 19,         /* a job lease was lost to another worker */
    BK_E_METHOD = 20,        /* HTTP method not allowed on the path */
    BK_E_SERIALIZATION = 21, /* the database aborted the transaction
                              * (serialization failure, deadlock): run
                              * the whole transaction again */
    BK_E_STORAGE_FULL = 22,  /* the database cannot write for want of room
                              * (disk full, quota) or of another resource
                              * (PostgreSQL class 53); reads may still
                              * work: retry later */
};

#define BK_MUST_CHECK   __attribute__((warn_unused_result))
#define BK_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Detail for humans, filled by the function that failed (optional: every
 * function accepts err == NULL). `msg` is one short sentence without a final
 * period; `field` names the offending input field ("start",
 * "attendee.email"), empty when none; `code` overrides the default
 * machine-readable code of the error ("invalid_json"), empty when none. */
struct bk_errbuf {
    char msg[256];
    char field[96];
    char code[40];
};

/* Returns a static lower_snake name of `e` ("slot_unavailable"). */
const char *bk_err_name(enum bk_err e);

/* Clears all three parts; err may be NULL. */
void bk_errbuf_clear(struct bk_errbuf *err);

/* Sets err->msg from a printf format and returns `e`, so a failing path can
 * `return bk_fail(err, BK_E_INVALID, "...")`. err may be NULL. */
enum bk_err bk_fail(struct bk_errbuf *err, enum bk_err e, const char *fmt, ...)
    BK_PRINTF(3, 4);

/* Like bk_fail, and also names the input field. */
enum bk_err bk_fail_field(struct bk_errbuf *err, enum bk_err e,
                          const char *field, const char *fmt, ...)
    BK_PRINTF(4, 5);

/* Sets the machine-readable code override; err may be NULL. */
void bk_errbuf_code(struct bk_errbuf *err, const char *code);

#endif
