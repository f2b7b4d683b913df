/* core/tz.c — time zones over libical.
 * libical resolves a local time inside a gap with the offset after it and a
 * repeated local time with its second occurrence; RFC 5545 asks for the
 * opposite, so local-to-UTC is resolved here from UTC offsets alone. */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libical/ical.h>

#include "core/tz.h"
#include "base/time.h"
#include "base/banned.h"

/* libical loads builtin zones into a shared array; loading is serialized
 * here so that concurrent first uses of a zone never race, and each zone's
 * table of changes is expanded once, at load, through 2100 (later lookups
 * then only read it). */
static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;

#define COVERAGE_UTC 4133980800LL /* 2101-01-01T00:00:00Z */

/* ---- Which names are zones --------------------------------------------
 * The tz database's own index, tzdata.zi, lists every zone ("Z NAME ...")
 * and every link ("L TARGET NAME"). A name is accepted when it is a zone,
 * a link, or a symbolic link in the zoneinfo directory to a zone's file
 * (Debian keeps some old names, Asia/Calcutta, only as such); it is loaded
 * under its zone's canonical name, so at most one copy of each of the
 * database's zones is ever loaded, whatever names clients send. The
 * zoneinfo directory's other files — posix/ and right/ copies, localtime,
 * Factory, posixrules — are not zones. */
#define ZONEINFO "/usr/share/zoneinfo"

struct zone_name {
    char *name;
    char *target;          /* a link's target as written, else NULL */
    const char *canonical; /* the zone's name, or NULL: not accepted */
};

static pthread_once_t names_once = PTHREAD_ONCE_INIT;
static struct zone_name *names;
static size_t n_names;

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct zone_name *)a)->name,
                  ((const struct zone_name *)b)->name);
}

static void add_name(size_t *cap, const char *name, const char *target)
{
    if (n_names == *cap) {
        size_t c = *cap ? *cap * 2 : 1024;
        struct zone_name *bigger = realloc(names, c * sizeof(*names));
        if (!bigger)
            return;
        names = bigger;
        *cap = c;
    }
    names[n_names].name = strdup(name);
    names[n_names].target = target ? strdup(target) : NULL;
    names[n_names].canonical = NULL;
    if (names[n_names].name && (!target || names[n_names].target))
        n_names++;
}

static struct zone_name *lookup(const char *name)
{
    struct zone_name key;

    key.name = (char *)name;
    return n_names ? bsearch(&key, names, n_names, sizeof(*names), by_name)
                   : NULL;
}

/* Reads tzdata.zi once: a zone is its own canonical name, a link takes
 * its target's when the target is a zone. */
static void load_names(void)
{
    FILE *f = fopen(ZONEINFO "/tzdata.zi", "r");
    char line[512], a[128], b[128];
    size_t cap = 0;

    if (!f)
        return;
    while (fgets(line, sizeof(line), f)) {
        /* Factory is the database's placeholder ("-00"), no place. */
        if (line[0] == 'Z' && sscanf(line, "Z %127s", a) == 1 &&
            strcmp(a, "Factory") != 0)
            add_name(&cap, a, NULL);
        else if (line[0] == 'L' && sscanf(line, "L %127s %127s", a, b) == 2)
            add_name(&cap, b, a);
    }
    fclose(f);
    qsort(names, n_names, sizeof(*names), by_name);
    for (size_t i = 0; i < n_names; i++)
        if (!names[i].target)
            names[i].canonical = names[i].name;
    for (size_t i = 0; i < n_names; i++) {
        struct zone_name *t;
        if (!names[i].target)
            continue;
        t = lookup(names[i].target);
        names[i].canonical = t && !t->target ? t->name : NULL;
    }
}

/* ---- Names outside the index ------------------------------------------
 * A name the index does not list costs three system calls (lstat,
 * readlink, realpath) to learn whether it is an old name kept as a link.
 * Their answer, a zone or none, is remembered in a small fixed table
 * (direct-mapped by a hash of the name, the newest answer replacing the
 * slot's), so a client repeating a name that is no zone costs no further
 * system calls, and any number of distinct names costs no memory past
 * the table. */
#define PROBE_CACHE_SLOTS BK_TZ_PROBE_CACHE_SLOTS
#define NAME_MAX_LEN      64 /* name_ok's bound */

struct probe_entry {
    char name[NAME_MAX_LEN + 1]; /* "" = empty slot */
    const char *canonical;       /* NULL: not a zone */
};

static pthread_mutex_t probe_lock = PTHREAD_MUTEX_INITIALIZER;
static struct probe_entry probe_cache[PROBE_CACHE_SLOTS];
static size_t n_probe_entries;
static uint64_t n_probes;

static const char *probe_link(const char *name);

static size_t probe_slot(const char *name)
{
    uint32_t h = 2166136261u; /* FNV-1a */

    for (const char *p = name; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return h % PROBE_CACHE_SLOTS;
}

static bool probe_cached(const char *name, const char **canonical)
{
    struct probe_entry *e = &probe_cache[probe_slot(name)];
    bool hit;

    pthread_mutex_lock(&probe_lock);
    hit = e->name[0] && strcmp(e->name, name) == 0;
    if (hit)
        *canonical = e->canonical;
    pthread_mutex_unlock(&probe_lock);
    return hit;
}

static void probe_remember(const char *name, const char *canonical)
{
    struct probe_entry *e = &probe_cache[probe_slot(name)];

    if (strlen(name) > NAME_MAX_LEN)
        return;
    pthread_mutex_lock(&probe_lock);
    if (!e->name[0])
        n_probe_entries++;
    memcpy(e->name, name, strlen(name) + 1);
    e->canonical = canonical;
    pthread_mutex_unlock(&probe_lock);
}

void bk_tz_probe_stats(size_t *entries, uint64_t *probes)
{
    pthread_mutex_lock(&probe_lock);
    *entries = n_probe_entries;
    pthread_mutex_unlock(&probe_lock);
    *probes = __atomic_load_n(&n_probes, __ATOMIC_RELAXED);
}

/* The canonical zone name of an accepted name, or NULL. */
static const char *canonical_name(const char *name)
{
    struct zone_name *hit;
    const char *rel = NULL;

    pthread_once(&names_once, load_names);
    if (!n_names) {
        /* No index (a trimmed tz database): the directory's own files,
         * less those that are not zones. */
        static const char *const not_zones[] = {"posix/",     "right/",
                                                "localtime",  "Factory",
                                                "posixrules", "Etc/Unknown"};
        for (size_t i = 0; i < sizeof(not_zones) / sizeof(not_zones[0]); i++)
            if (strncmp(name, not_zones[i], strlen(not_zones[i])) == 0)
                return NULL;
        return name;
    }
    hit = lookup(name);
    if (hit)
        return hit->canonical;
    if (probe_cached(name, &rel))
        return rel;
    rel = probe_link(name);
    probe_remember(name, rel);
    return rel;
}

/* An old name kept only as a symbolic link to a zone's file — itself a
 * link, not a file reached through one (posix/ may be a link to the
 * directory itself): its zone's canonical name, or NULL. Three system
 * calls; canonical_name remembers the answer (probe_cache). */
static const char *probe_link(const char *name)
{
    struct zone_name *hit;
    char path[PATH_MAX], real[PATH_MAX];
    struct stat sb;
    ssize_t n;
    const char *rel;

    if (strncmp(name, "posix/", 6) == 0 || strncmp(name, "right/", 6) == 0 ||
        strcmp(name, "posixrules") == 0)
        return NULL;
    __atomic_add_fetch(&n_probes, 1, __ATOMIC_RELAXED);
    if (snprintf(path, sizeof(path), "%s/%s", ZONEINFO, name) >=
            (int)sizeof(path) ||
        lstat(path, &sb) != 0 || !S_ISLNK(sb.st_mode) ||
        (n = readlink(path, real, sizeof(real) - 1)) <= 0 || real[0] == '/' ||
        !realpath(path, real) ||
        strncmp(real, ZONEINFO "/", sizeof(ZONEINFO)) != 0)
        return NULL;
    rel = real + sizeof(ZONEINFO);
    hit = lookup(rel);
    return hit && !hit->target ? hit->canonical : NULL;
}

static icaltimezone *zone_of(const struct bk_tz *tz)
{
    return (icaltimezone *)(void *)tz;
}

static bool name_ok(const char *name)
{
    size_t n = 0;

    if (!name || !*name || *name == '/' || *name == '.')
        return false;
    for (const char *p = name; *p; p++, n++) {
        char c = *p;
        if (n >= 64)
            return false;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '/' || c == '_' || c == '+' ||
              c == '-'))
            return false;
        if (c == '/' && (p[1] == '/' || p[1] == '.' || p[1] == '\0'))
            return false;
    }
    return true;
}

static int32_t offset_of_utc(icaltimezone *z, int64_t utc)
{
    struct icaltimetype tt;
    int is_daylight = 0;

    tt = icaltime_from_timet_with_zone((time_t)utc, 0,
                                       icaltimezone_get_utc_timezone());
    return (int32_t)icaltimezone_get_utc_offset_of_utc_time(z, &tt,
                                                            &is_daylight);
}

void bk_tz_init(void)
{
    icalerror_set_errors_are_fatal(0);
}

const struct bk_tz *bk_tz_utc(void)
{
    return (const struct bk_tz *)(void *)icaltimezone_get_utc_timezone();
}

const struct bk_tz *bk_tz_get(const char *name)
{
    icaltimezone *z;

    if (!name_ok(name))
        return NULL;
    if (strcmp(name, "UTC") == 0)
        return bk_tz_utc();
    name = canonical_name(name);
    if (!name)
        return NULL;
    pthread_mutex_lock(&load_lock);
    z = icaltimezone_get_builtin_timezone(name);
    if (z)
        (void)offset_of_utc(z, COVERAGE_UTC);
    pthread_mutex_unlock(&load_lock);
    return (const struct bk_tz *)(void *)z;
}

const char *bk_tz_name(const struct bk_tz *tz)
{
    icaltimezone *z = zone_of(tz);
    const char *loc;

    if (z == icaltimezone_get_utc_timezone())
        return "UTC";
    loc = icaltimezone_get_location(z);
    return loc ? loc : icaltimezone_get_tzid(z);
}

int32_t bk_tz_offset_at(const struct bk_tz *tz, int64_t utc)
{
    icaltimezone *z = zone_of(tz);

    if (z == icaltimezone_get_utc_timezone())
        return 0;
    return offset_of_utc(z, utc);
}

int32_t bk_tz_offset_span(const struct bk_tz *tz, int64_t utc,
                          int64_t *until_utc)
{
    int32_t off = bk_tz_offset_at(tz, utc);
    int64_t lo = utc, hi = utc + BK_SECS_PER_DAY;

    if (zone_of(tz) == icaltimezone_get_utc_timezone()) {
        *until_utc = INT64_MAX;
        return 0;
    }
    if (bk_tz_offset_at(tz, hi) == off) {
        *until_utc = hi;
        return off;
    }
    /* One change in (lo, hi]: the first second with the new offset. */
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (bk_tz_offset_at(tz, mid) == off)
            lo = mid;
        else
            hi = mid;
    }
    *until_utc = hi;
    return off;
}

int64_t bk_tz_local_to_utc(const struct bk_tz *tz, int64_t local)
{
    /* The offsets in force a day before and a day after bound the choices
     * (no zone changes offset twice within two days). A candidate u is a
     * reading of `local` when the offset at u maps u back to `local`. */
    int32_t before = bk_tz_offset_at(tz, local - BK_SECS_PER_DAY);
    int32_t after = bk_tz_offset_at(tz, local + BK_SECS_PER_DAY);
    int64_t u_before = local - before, u_after = local - after;
    bool ok_before = bk_tz_offset_at(tz, u_before) == before;
    bool ok_after = bk_tz_offset_at(tz, u_after) == after;

    if (ok_before && ok_after) /* a repeated hour: the first occurrence */
        return u_before < u_after ? u_before : u_after;
    if (ok_before)
        return u_before;
    if (ok_after)
        return u_after;
    /* A gap: read with the offset in force before it. */
    return u_before;
}

int64_t bk_tz_utc_to_local(const struct bk_tz *tz, int64_t utc)
{
    return utc + bk_tz_offset_at(tz, utc);
}

int64_t bk_tz_local_date(const struct bk_tz *tz, int64_t utc)
{
    return bk_floordiv(bk_tz_utc_to_local(tz, utc), BK_SECS_PER_DAY);
}
