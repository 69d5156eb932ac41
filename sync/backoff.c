/* This file implements the retry delays of flashd-sync (see sync/backoff.h). */
#include "sync/backoff.h"

#include <stdlib.h>

void backoff_init(struct backoff *b, int min_ms, int max_ms, unsigned seed)
{
	*b = (struct backoff){ .min_ms = min_ms, .max_ms = max_ms, .cur_ms = min_ms, .seed = seed };
}

int backoff_next(struct backoff *b)
{
	int half = b->cur_ms / 2;
	int d = b->cur_ms - half + (half ? (int)(rand_r(&b->seed) % (unsigned)(half + 1)) : 0);

	b->cur_ms = b->cur_ms > b->max_ms / 2 ? b->max_ms : b->cur_ms * 2;
	return d;
}

void backoff_reset(struct backoff *b)
{
	b->cur_ms = b->min_ms;
}
