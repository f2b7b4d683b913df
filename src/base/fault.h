/* base/fault.h — fault-injection points for tests (STYLE.md "fault
 * injection for the store and the jobs").
 * In builds with BK_FAULT_INJECTION (the test build), bk_fault("name")
 * returns true for the first N hits of the point when the environment has
 * BOOKINGD_FAULTS="name=N[,other=M]" ("name=*" fails every hit). In every
 * other build it is the constant false and costs nothing. */
#ifndef BK_BASE_FAULT_H
#define BK_BASE_FAULT_H

#include <stdbool.h>

/* bk_fault_hold("name"): a point that stalls the calling thread instead
 * of failing. When bk_fault("name") would return true, the thread waits
 * while the file named by BOOKINGD_FAULT_HOLD_FILE exists (looking every
 * 20 ms, for 120 s at most), so that a test can hang a thread and let it
 * go again by deleting the file. */
#ifdef BK_FAULT_INJECTION
bool bk_fault(const char *point);
void bk_fault_hold(const char *point);
#else
#define bk_fault(point)      ((void)(point), false)
#define bk_fault_hold(point) ((void)(point))
#endif

#endif
