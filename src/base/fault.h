/* base/fault.h — fault-injection points for tests (STYLE.md "fault
 * injection for the store and the jobs").
 * In builds with BK_FAULT_INJECTION (the test build), bk_fault("name")
 * returns true for the first N hits of the point when the environment has
 * BOOKINGD_FAULTS="name=N[,other=M]" ("name=*" fails every hit, "name=%K"
 * every K-th hit: the K-th, 2K-th...). A spec ending in "@serving"
 * ("store.commit=%3@serving") counts only the hits after bk_fault_serving()
 * (called once `bookingd serve` takes requests), so that start-up, which
 * refuses to start on any store error, is left alone. In every other build
 * both are constants and cost nothing.
 * tests/integration/test_fault_points.py finds every bk_fault("...") in
 * src/ and runs the daemon with each armed: a new point is covered by
 * being written this way (a literal name). */
#ifndef BK_BASE_FAULT_H
#define BK_BASE_FAULT_H

#include <stdbool.h>

/* Liveness points, armed the same way but not failures of a request (so
 * test_fault_points.py, which arms every bk_fault("...") literal, leaves
 * them to test_readiness.py):
 * - bk_fault_hold("name") stalls the calling thread: when the point is
 *   hit, the thread waits while the file named by BOOKINGD_FAULT_HOLD_FILE
 *   exists (looking every 20 ms, for 120 s at most), so that a test can
 *   hang a thread and let it go again by deleting the file;
 * - bk_fault_kill("name") is true when the point is hit: the caller's
 *   thread then ends (a worker that died). */
#ifdef BK_FAULT_INJECTION
bool bk_fault(const char *point);
void bk_fault_hold(const char *point);
bool bk_fault_kill(const char *point);
void bk_fault_serving(void);
#else
#define bk_fault(point)      ((void)(point), false)
#define bk_fault_hold(point) ((void)(point))
#define bk_fault_kill(point) ((void)(point), false)
#define bk_fault_serving()   ((void)0)
#endif

#endif
