/* base/time.c — civil-date arithmetic and RFC 3339.
 * The day-number conversion is the well-known era-based algorithm for the
 * proleptic Gregorian calendar (400-year eras of 146097 days). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/time.h"
#include "base/banned.h"

int64_t bk_floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

int64_t bk_days_from_civil(int y, int m, int d)
{
    int64_t yy = (int64_t)y - (m <= 2);
    int64_t era = bk_floordiv(yy, 400);
    int64_t yoe = yy - era * 400;                        /* [0, 399] */
    int64_t mp = (m + 9) % 12;                           /* March = 0 */
    int64_t doy = (153 * mp + 2) / 5 + d - 1;            /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; /* [0, 146096] */
    return era * 146097 + doe - 719468;
}

void bk_civil_from_days(int64_t days, int *y, int *m, int *d)
{
    int64_t z = days + 719468;
    int64_t era = bk_floordiv(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int dd = (int)(doy - (153 * mp + 2) / 5 + 1);
    int mm = (int)(mp < 10 ? mp + 3 : mp - 9);

    *y = (int)(yoe + era * 400 + (mm <= 2));
    *m = mm;
    *d = dd;
}

int bk_weekday(int64_t days)
{
    /* 1970-01-01 was a Thursday (3 with Monday = 0). */
    return (int)(((days % 7) + 7 + 3) % 7);
}

static int days_in_month(int y, int m)
{
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dim[m - 1];
}

bool bk_date_valid(int y, int m, int d)
{
    return y >= 1 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 &&
           d <= days_in_month(y, m);
}

static bool digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

enum bk_err bk_date_parse(const char *s, int64_t *days)
{
    int y, m, d;

    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-' ||
        !digits(s, 4, &y) || !digits(s + 5, 2, &m) || !digits(s + 8, 2, &d))
        return BK_E_MALFORMED;
    if (!bk_date_valid(y, m, d))
        return BK_E_INVALID;
    *days = bk_days_from_civil(y, m, d);
    return BK_OK;
}

void bk_date_format(int64_t days, char out[11])
{
    int y, m, d;
    bk_civil_from_days(days, &y, &m, &d);
    y = ((y % 10000) + 10000) % 10000;
    out[0] = (char)('0' + y / 1000);
    out[1] = (char)('0' + y / 100 % 10);
    out[2] = (char)('0' + y / 10 % 10);
    out[3] = (char)('0' + y % 10);
    out[4] = '-';
    out[5] = (char)('0' + m / 10);
    out[6] = (char)('0' + m % 10);
    out[7] = '-';
    out[8] = (char)('0' + d / 10);
    out[9] = (char)('0' + d % 10);
    out[10] = '\0';
}

enum bk_err bk_hhmm_parse(const char *s, bool allow_24, int *minutes)
{
    int h, m;

    if (!s || strlen(s) != 5 || s[2] != ':' || !digits(s, 2, &h) ||
        !digits(s + 3, 2, &m) || m > 59)
        return BK_E_MALFORMED;
    if (h > 23 && !(allow_24 && h == 24 && m == 0))
        return BK_E_MALFORMED;
    *minutes = h * 60 + m;
    return BK_OK;
}

void bk_hhmm_format(int minutes, char out[6])
{
    if (minutes < 0 || minutes > 1440)
        minutes = 0;
    out[0] = (char)('0' + minutes / 600);
    out[1] = (char)('0' + minutes / 60 % 10);
    out[2] = ':';
    out[3] = (char)('0' + minutes % 60 / 10);
    out[4] = (char)('0' + minutes % 10);
    out[5] = '\0';
}

#define RFC3339_MIN_UTC (-62135596800LL) /* 0001-01-01T00:00:00Z */
#define RFC3339_MAX_UTC 253402300799LL   /* 9999-12-31T23:59:59Z */

enum bk_err bk_rfc3339_parse(const char *s, int64_t *utc, int32_t *offset_sec)
{
    int y, mo, d, h, mi, se, oh = 0, om = 0, sign = 0;
    const char *p;
    int64_t t;

    if (!s || strlen(s) < 20 || strlen(s) > 40)
        return BK_E_MALFORMED;
    if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) ||
        s[7] != '-' || !digits(s + 8, 2, &d) ||
        (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2, &h) ||
        s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
        !digits(s + 17, 2, &se))
        return BK_E_MALFORMED;
    if (!bk_date_valid(y, mo, d) || h > 23 || mi > 59 || se > 59)
        return BK_E_MALFORMED;
    p = s + 19;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return BK_E_MALFORMED;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p == '-' ? -1 : 1;
        if (!digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om) ||
            oh > 23 || om > 59)
            return BK_E_MALFORMED;
        p += 6;
    } else {
        return BK_E_MALFORMED;
    }
    if (*p)
        return BK_E_MALFORMED;
    t = bk_days_from_civil(y, mo, d) * BK_SECS_PER_DAY + h * 3600 + mi * 60 +
        se;
    t -= (int64_t)sign * (oh * 3600 + om * 60);
    /* An offset can carry the instant past year 9999 or before year 1,
     * where bk_rfc3339_format_utc could not write it back. */
    if (t < RFC3339_MIN_UTC || t > RFC3339_MAX_UTC)
        return BK_E_MALFORMED;
    if (utc)
        *utc = t;
    if (offset_sec)
        *offset_sec = sign * (oh * 3600 + om * 60);
    return BK_OK;
}

bool bk_rfc3339_has_fraction(const char *s)
{
    if (!s || strlen(s) < 20 || s[19] != '.')
        return false;
    for (s += 20; *s >= '0' && *s <= '9'; s++)
        if (*s != '0')
            return true;
    return false;
}

static char *two_digits(char *p, int v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
    return p + 2;
}

/* "YYYY-MM-DDTHH:MM:SS" of the wall clock; the year is taken modulo
 * 10000. Written by hand: printf was most of a slots answer's time. */
static size_t format_wall(int64_t wall, char *out, size_t size)
{
    int64_t days = bk_floordiv(wall, BK_SECS_PER_DAY);
    int64_t sod = wall - days * BK_SECS_PER_DAY;
    int y, m, d;
    char *p = out;

    bk_civil_from_days(days, &y, &m, &d);
    if (y < 0 || size < 20) { /* before year 0: printf's "-001" */
        snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d", y % 10000, m, d,
                 (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60));
        return strlen(out);
    }
    y %= 10000;
    p = two_digits(p, y / 100);
    p = two_digits(p, y % 100);
    *p++ = '-';
    p = two_digits(p, m);
    *p++ = '-';
    p = two_digits(p, d);
    *p++ = 'T';
    p = two_digits(p, (int)(sod / 3600));
    *p++ = ':';
    p = two_digits(p, (int)(sod / 60 % 60));
    *p++ = ':';
    p = two_digits(p, (int)(sod % 60));
    *p = '\0';
    return (size_t)(p - out);
}

void bk_rfc3339_format_utc(int64_t utc, char out[BK_RFC3339_MAX])
{
    size_t n = format_wall(utc, out, BK_RFC3339_MAX);
    out[n] = 'Z';
    out[n + 1] = '\0';
}

void bk_rfc3339_format_offset(int64_t utc, int32_t offset_sec,
                              char out[BK_RFC3339_MAX])
{
    int32_t a = offset_sec < 0 ? -offset_sec : offset_sec;
    size_t n;

    n = format_wall(utc + offset_sec, out, BK_RFC3339_MAX);
    if (a / 3600 >= 100) { /* no zone's: printf's wider hours */
        snprintf(out + n, BK_RFC3339_MAX - n, "%c%02d:%02d",
                 offset_sec < 0 ? '-' : '+', (int)(a / 3600),
                 (int)(a / 60 % 60));
        return;
    }
    out[n] = offset_sec < 0 ? '-' : '+';
    two_digits(out + n + 1, (int)(a / 3600));
    out[n + 3] = ':';
    two_digits(out + n + 4, (int)(a / 60 % 60));
    out[n + 6] = '\0';
}

int64_t bk_now_utc(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

int64_t bk_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t bk_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t bk_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
