/* base/log.c — line logger. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/time.h"
#include "base/banned.h"

static enum bk_log_level max_level = BK_LOG_INFO;

void bk_log_set_level(enum bk_log_level level)
{
    max_level = level;
}

enum bk_err bk_log_level_parse(const char *s, enum bk_log_level *out)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (enum bk_log_level)i;
            return BK_OK;
        }
    }
    return BK_E_INVALID;
}

void bk_log(enum bk_log_level level, const char *fmt, ...)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    char line[2048], ts[BK_RFC3339_MAX];
    va_list ap;
    int n;

    if (level > max_level)
        return;
    bk_rfc3339_format_utc(bk_now_utc(), ts);
    n = snprintf(line, sizeof(line), "%s %s ", ts, names[level]);
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    /* Control bytes from outside input must not forge log lines. */
    for (char *p = line + n; *p; p++)
        if ((unsigned char)*p < 0x20 && *p != '\t')
            *p = '?';
    fprintf(stderr, "%s\n", line);
}
