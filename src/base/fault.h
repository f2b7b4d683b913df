/* base/fault.h — fault-injection points for tests (STYLE.md "fault
 * injection for the store and the jobs").
 * In builds with BK_FAULT_INJECTION (the test build), bk_fault("name")
 * returns true for the first N hits of the point when the environment has
 * BOOKINGD_FAULTS="name=N[,other=M]" ("name=*" fails every hit). In every
 * other build it is the constant false and costs nothing. */
#ifndef BK_BASE_FAULT_H
#define BK_BASE_FAULT_H

#include <stdbool.h>

#ifdef BK_FAULT_INJECTION
bool bk_fault(const char *point);
#else
#define bk_fault(point) ((void)(point), false)
#endif

#endif
