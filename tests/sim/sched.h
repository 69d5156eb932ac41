/*
 * A timer thread for the rig: delayed URB completions, board-scheduled calls
 * and disconnect events run here, never on a client's connection thread
 * (a delay must not hold the client's next request).
 *
 * Callbacks run on the sched thread with no sched lock held, so they may call
 * sched_add().  Ordering: callbacks due at the same time run in the order
 * they were added.  Owner: main (struct rig).
 */
#ifndef FLASHSIM_SCHED_H
#define FLASHSIM_SCHED_H

#include <stdint.h>

struct sched;

typedef void (*sched_fn_t)(void *arg);

/* Monotonic clock in ns (CLOCK_MONOTONIC). */
uint64_t sched_now_ns(void);

/* Start the thread.  Returns 0 or -errno. */
int sched_new(struct sched **ret);
/* Stop the thread (pending timers are dropped, their args not freed) and free. */
struct sched *sched_free(struct sched *s);

/* Run fn(arg) after delay_ns.  Returns 0 or -ENOMEM. */
int sched_add(struct sched *s, uint64_t delay_ns, sched_fn_t fn, void *arg);
/* The same for a malloc'd arg that fn frees: freed by sched_free() if the
 * timer is still pending then. */
int sched_add_owned(struct sched *s, uint64_t delay_ns, sched_fn_t fn, void *arg);

#endif
