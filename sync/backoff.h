/*
 * Retry delays after a failure: exponential from min to max, with "equal
 * jitter" (half the delay fixed, half random) so stations cut off by the
 * same outage do not all come back in the same millisecond.
 */
#ifndef FLASHD_SYNC_BACKOFF_H
#define FLASHD_SYNC_BACKOFF_H

struct backoff {
	int min_ms, max_ms;
	int cur_ms; /* the ceiling of the next delay */
	unsigned seed;
};

void backoff_init(struct backoff *b, int min_ms, int max_ms, unsigned seed);

/* The next delay, in [cur/2, cur]; cur then doubles, up to max. */
int backoff_next(struct backoff *b);

/* A success: the next failure starts at min again. */
void backoff_reset(struct backoff *b);

#endif
