/* base/fault.c — counted fault points, test builds only. */
#include "base/fault.h"

#ifdef BK_FAULT_INJECTION
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/banned.h"

#define MAX_POINTS 16

struct point {
    char name[64];
    long remaining; /* -1: always */
    long every;     /* > 0: every every-th hit instead */
    long hits;
    bool after_serving; /* "@serving": counts once serving */
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct point points[MAX_POINTS];
static int n_points;
static bool serving;

static void load(void)
{
    const char *env = getenv("BOOKINGD_FAULTS");
    const char *p = env;

    while (p && *p && n_points < MAX_POINTS) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (eq && (size_t)(eq - p) < sizeof(points[0].name)) {
            struct point *pt = &points[n_points++];
            memcpy(pt->name, p, (size_t)(eq - p));
            pt->name[eq - p] = '\0';
            const char *at = memchr(eq, '@', len - (size_t)(eq - p));
            pt->after_serving =
                at && (size_t)(p + len - at) == 8 && !memcmp(at, "@serving", 8);
            if (eq[1] == '%')
                pt->every = strtol(eq + 2, NULL, 10);
            else
                pt->remaining = eq[1] == '*' ? -1 : strtol(eq + 1, NULL, 10);
        }
        p = comma ? comma + 1 : NULL;
    }
}

bool bk_fault(const char *name)
{
    bool hit = false;

    pthread_once(&once, load);
    if (!n_points)
        return false;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < n_points; i++) {
        if (strcmp(points[i].name, name) != 0 ||
            (points[i].after_serving && !serving))
            continue;
        if (points[i].every > 0) {
            hit = ++points[i].hits % points[i].every == 0;
        } else if (points[i].remaining < 0) {
            hit = true;
        } else if (points[i].remaining > 0) {
            points[i].remaining--;
            hit = true;
        }
    }
    pthread_mutex_unlock(&lock);
    return hit;
}

void bk_fault_serving(void)
{
    pthread_mutex_lock(&lock);
    serving = true;
    pthread_mutex_unlock(&lock);
}

bool bk_fault_kill(const char *name)
{
    return bk_fault(name);
}

void bk_fault_hold(const char *name)
{
    const char *file;
    struct timespec pause = {.tv_sec = 0, .tv_nsec = 20 * 1000000L};

    if (!bk_fault(name))
        return;
    file = getenv("BOOKINGD_FAULT_HOLD_FILE");
    for (int i = 0; file && i < 120 * 50 && access(file, F_OK) == 0; i++)
        nanosleep(&pause, NULL);
}
#else
/* ISO C forbids an empty translation unit. */
typedef int bk_fault_unused;
#endif
