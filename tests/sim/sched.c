/*
 * This file implements the rig's timer thread: a binary min-heap of
 * (deadline, sequence) ordered timers and a condition variable on
 * CLOCK_MONOTONIC.  One thread serves all boards; work done per timer is
 * short (complete a URB, step a board), so one thread keeps 32 boards in step.
 */
#include "tests/sim/sched.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <time.h>

struct timer {
	uint64_t when;
	uint64_t seq; /* FIFO among equal deadlines */
	sched_fn_t fn;
	void *arg;
	bool owned; /* arg is malloc'd and ours to free if the timer never fires */
};

struct sched {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct timer *heap;
	size_t n, cap;
	uint64_t seq;
	bool stop;
};

uint64_t sched_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static bool before(const struct timer *a, const struct timer *b)
{
	return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static void heap_up(struct timer *h, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;
		struct timer t;

		if (!before(&h[i], &h[p]))
			break;
		t = h[i];
		h[i] = h[p];
		h[p] = t;
		i = p;
	}
}

static void heap_down(struct timer *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		struct timer t;

		if (l < n && before(&h[l], &h[m]))
			m = l;
		if (r < n && before(&h[r], &h[m]))
			m = r;
		if (m == i)
			break;
		t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

static void *sched_main(void *p)
{
	struct sched *s = p;

	/* Device times are the model: wake at the deadline, not up to 50 us
	 * later (the default timer slack), which every transfer would add. */
	prctl(PR_SET_TIMERSLACK, 1UL);
	pthread_mutex_lock(&s->lock);
	while (!s->stop) {
		uint64_t now = sched_now_ns();
		struct timer t;

		if (s->n == 0) {
			pthread_cond_wait(&s->cond, &s->lock);
			continue;
		}
		if (s->heap[0].when > now) {
			struct timespec ts = {
				.tv_sec = (time_t)(s->heap[0].when / 1000000000ull),
				.tv_nsec = (long)(s->heap[0].when % 1000000000ull),
			};

			pthread_cond_timedwait(&s->cond, &s->lock, &ts);
			continue;
		}
		t = s->heap[0];
		s->heap[0] = s->heap[--s->n];
		heap_down(s->heap, s->n, 0);
		/* Callbacks take board locks and may add timers: run unlocked. */
		pthread_mutex_unlock(&s->lock);
		t.fn(t.arg);
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int sched_new(struct sched **ret)
{
	struct sched *s = calloc(1, sizeof(*s));
	pthread_condattr_t ca;
	int r;

	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cond, &ca);
	pthread_condattr_destroy(&ca);
	r = pthread_create(&s->thread, NULL, sched_main, s);
	if (r) {
		free(s);
		return -r;
	}
	*ret = s;
	return 0;
}

void sched_stop(struct sched *s)
{
	bool joined;

	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	joined = s->stop;
	s->stop = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (joined)
		return;
	pthread_join(s->thread, NULL);
	/*
	 * Board events still pending at exit (a reboot scheduled as the command
	 * ended) never run: their owned args are freed.  Transfer timers (not
	 * owned: a URB, a claim retry) fire now, in order, as if board time
	 * froze: their client gets its answer at once and what they hold is
	 * given back.  Stopped, their own sched_add() calls fail, so they end.
	 */
	pthread_mutex_lock(&s->lock);
	while (s->n) {
		struct timer t = s->heap[0];

		s->heap[0] = s->heap[--s->n];
		heap_down(s->heap, s->n, 0);
		pthread_mutex_unlock(&s->lock);
		if (t.owned)
			free(t.arg);
		else
			t.fn(t.arg);
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
}

struct sched *sched_free(struct sched *s)
{
	if (!s)
		return NULL;
	sched_stop(s);
	free(s->heap);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s);
	return NULL;
}

static int add(struct sched *s, uint64_t delay_ns, sched_fn_t fn, void *arg, bool owned)
{
	struct timer t = {
		.when = sched_now_ns() + delay_ns, .fn = fn, .arg = arg, .owned = owned
	};

	pthread_mutex_lock(&s->lock);
	/* Stopped: a client still talking to a board after the command exited
	 * gets its transfer completed at once by the caller, never run later. */
	if (s->stop) {
		pthread_mutex_unlock(&s->lock);
		return -ESHUTDOWN;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct timer *h = realloc(s->heap, cap * sizeof(*h));

		if (!h) {
			pthread_mutex_unlock(&s->lock);
			return -ENOMEM;
		}
		s->heap = h;
		s->cap = cap;
	}
	t.seq = s->seq++;
	s->heap[s->n] = t;
	heap_up(s->heap, s->n++);
	if (s->heap[0].seq == t.seq)
		pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

int sched_add(struct sched *s, uint64_t delay_ns, sched_fn_t fn, void *arg)
{
	return add(s, delay_ns, fn, arg, false);
}

int sched_add_owned(struct sched *s, uint64_t delay_ns, sched_fn_t fn, void *arg)
{
	return add(s, delay_ns, fn, arg, true);
}
