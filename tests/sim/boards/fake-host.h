/*
 * A fake host for driving board models directly through board.h in unit
 * tests: a virtual clock the test advances, a scheduler queue and an event
 * log.  After each transfer the host "waits" for the completion, i.e. the
 * clock moves by delay_ns.
 */
#ifndef FLASHD_TESTS_SIM_BOARDS_FAKE_HOST_H
#define FLASHD_TESTS_SIM_BOARDS_FAKE_HOST_H

#include "tests/sim/boards/board.h"

#include <stdint.h>
#include <string.h>

#define MAX_SCHED 32
#define MAX_EVENTS 32

struct fake {
	uint64_t now;
	struct sim_board *b;
	struct {
		uint64_t at;
		void (*fn)(struct sim_board *b, void *arg);
		void *arg;
	} sched[MAX_SCHED];
	int n_sched;
	struct {
		enum sim_board_event ev;
		uint64_t at;
	} ev[MAX_EVENTS];
	int n_ev;
	int completed;
};

static inline uint64_t fake_now(void *ctx)
{
	return ((struct fake *)ctx)->now;
}

static inline void fake_complete(void *ctx, struct sim_xfer *x)
{
	(void)x;
	((struct fake *)ctx)->completed++;
}

static inline void fake_event(void *ctx, enum sim_board_event ev, uint64_t delay_ns)
{
	struct fake *f = ctx;

	if (f->n_ev < MAX_EVENTS) {
		f->ev[f->n_ev].ev = ev;
		f->ev[f->n_ev].at = f->now + delay_ns;
		f->n_ev++;
	}
}

static inline void fake_schedule(void *ctx, uint64_t delay_ns,
				 void (*fn)(struct sim_board *b, void *arg), void *arg)
{
	struct fake *f = ctx;

	if (f->n_sched < MAX_SCHED) {
		f->sched[f->n_sched].at = f->now + delay_ns;
		f->sched[f->n_sched].fn = fn;
		f->sched[f->n_sched].arg = arg;
		f->n_sched++;
	}
}

/* Move the clock, running scheduled calls in time order as they fall due. */
static inline void fake_advance(struct fake *f, uint64_t ns)
{
	uint64_t end = f->now + ns;

	for (;;) {
		int best = -1;

		for (int i = 0; i < f->n_sched; i++)
			if (f->sched[i].at <= end &&
			    (best < 0 || f->sched[i].at < f->sched[best].at))
				best = i;
		if (best < 0)
			break;
		if (f->sched[best].at > f->now)
			f->now = f->sched[best].at;
		void (*fn)(struct sim_board *, void *) = f->sched[best].fn;
		void *arg = f->sched[best].arg;

		f->sched[best] = f->sched[--f->n_sched];
		fn(f->b, arg);
	}
	f->now = end;
}

static inline int fake_new(struct fake *f, const char *type, const struct sim_opt *opts, size_t n,
			   char *err, size_t errlen)
{
	struct sim_host h = {
		.ctx = f,
		.now_ns = fake_now,
		.complete = fake_complete,
		.event = fake_event,
		.schedule = fake_schedule,
	};

	memset(f, 0, sizeof(*f));
	f->now = 1000000000ull;
	return sim_board_new(type, opts, n, &h, &f->b, err, errlen);
}

#endif
