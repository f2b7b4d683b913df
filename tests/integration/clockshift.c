/* tests/integration/clockshift.c — an LD_PRELOAD shim that shifts the wall
 * clock of one process, for the clock-step tests (test_clock.py).
 * clock_gettime(CLOCK_REALTIME*), gettimeofday() and time() return the real
 * time plus an offset in milliseconds read from the file named by
 * BK_CLOCKSHIFT_FILE (missing or empty: 0), read again at most every 20 ms
 * of the real monotonic clock, so a test steps the clock by rewriting the
 * file. The monotonic clocks are left alone. Not part of bookingd. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

typedef int (*clock_gettime_fn)(clockid_t, struct timespec *);

static clock_gettime_fn real_clock_gettime(void)
{
    static clock_gettime_fn fn;
    clock_gettime_fn f = __atomic_load_n(&fn, __ATOMIC_ACQUIRE);

    if (!f) {
        f = (clock_gettime_fn)dlsym(RTLD_NEXT, "clock_gettime");
        __atomic_store_n(&fn, f, __ATOMIC_RELEASE);
    }
    return f;
}

/* The offset in ms, from the file, cached for 20 ms. */
static int64_t offset_ms(void)
{
    static int64_t cached, read_at_ns = -1;
    struct timespec now;
    int64_t now_ns, at = __atomic_load_n(&read_at_ns, __ATOMIC_ACQUIRE);
    const char *path = getenv("BK_CLOCKSHIFT_FILE");
    char buf[32];
    ssize_t n;
    int fd;

    real_clock_gettime()(CLOCK_MONOTONIC, &now);
    now_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
    if (at >= 0 && now_ns - at < 20000000)
        return __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (!path || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        n = 0;
    else {
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
    }
    buf[n > 0 ? n : 0] = '\0';
    __atomic_store_n(&cached, strtoll(buf, NULL, 10), __ATOMIC_RELAXED);
    __atomic_store_n(&read_at_ns, now_ns, __ATOMIC_RELEASE);
    return __atomic_load_n(&cached, __ATOMIC_RELAXED);
}

static void shift(struct timespec *ts)
{
    int64_t ns = (int64_t)ts->tv_nsec + (offset_ms() % 1000) * 1000000;

    ts->tv_sec += (time_t)(offset_ms() / 1000);
    while (ns < 0) {
        ns += 1000000000;
        ts->tv_sec--;
    }
    while (ns >= 1000000000) {
        ns -= 1000000000;
        ts->tv_sec++;
    }
    ts->tv_nsec = (long)ns;
}

int clock_gettime(clockid_t id, struct timespec *ts)
{
    int r = real_clock_gettime()(id, ts);

    if (r == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE))
        shift(ts);
    return r;
}

int gettimeofday(struct timeval *tv, void *tz)
{
    struct timespec ts;

    (void)tz;
    clock_gettime(CLOCK_REALTIME, &ts);
    tv->tv_sec = ts.tv_sec;
    tv->tv_usec = ts.tv_nsec / 1000;
    return 0;
}

time_t time(time_t *t)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    if (t)
        *t = ts.tv_sec;
    return ts.tv_sec;
}
