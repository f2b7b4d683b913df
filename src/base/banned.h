/* base/banned.h — functions bookingd must not call (STYLE.md "Bounded input").
 * Include it last in every .c file under src/: a call to a banned function
 * then fails to compile. scripts/check-source.sh checks that it is there. */
#ifndef BK_BASE_BANNED_H
#define BK_BASE_BANNED_H

#define BK_BANNED(func) sorry_##func##_is_banned_in_bookingd

#undef strcpy
#define strcpy(x, y) BK_BANNED(strcpy)
#undef strcat
#define strcat(x, y) BK_BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) BK_BANNED(strncpy)
#undef strncat
#define strncat(x, y, n) BK_BANNED(strncat)
#undef sprintf
#define sprintf(...) BK_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BK_BANNED(vsprintf)
#undef strtok
#define strtok(x, y) BK_BANNED(strtok)
#undef atoi
#define atoi(x) BK_BANNED(atoi)
#undef atol
#define atol(x) BK_BANNED(atol)
#undef gmtime
#define gmtime(t) BK_BANNED(gmtime)
#undef localtime
#define localtime(t) BK_BANNED(localtime)
#undef gets
#define gets(x) BK_BANNED(gets)

#endif
