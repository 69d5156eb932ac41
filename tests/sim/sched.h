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
/* Stop the thread; pending sched_add() timers fire at once, in order,
 * sched_add_owned() ones are dropped (args freed); later sched_add() calls
 * fail with -ESHUTDOWN, so threads still serving clients may go on calling
 * it.  Idempotent. */
void sched_stop(struct sched *s);
/* Stop, then free: only once no other thread can call sched_add(). */
struct sched *sched_free(struct sched *s);

/* Run fn(arg) after delay_ns.  Returns 0, -ENOMEM, or -ESHUTDOWN once
 * stopped (fn is not called; an owned arg stays the caller's). */
int sched_add(struct sched *s, uint64_t delay_ns, sched_fn_t fn, void *arg);
/* The same for a malloc'd arg that fn frees: freed by sched_stop() if the
 * timer is still pending then. */
int sched_add_owned(struct sched *s, uint64_t delay_ns, sched_fn_t fn, void *arg);

#endif
