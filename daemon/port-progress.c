/* This file implements the operators' progress view (daemon/port-progress.h). */
#include "daemon/port-progress.h"

#include <stdio.h>
#include <string.h>

#include "jobs/recipe.h"

/* A modelled phase never shows done before the device says so. */
#define MODEL_MAX_PERMILLE 950

void port_progress_start(struct port *p, uint64_t now_ms)
{
	p->prog = (struct port_progress){ .start_ms = now_ms, .eta_ms = -1 };
}

/* Done of a phase the device works through silently: advanced with time. */
static uint64_t modelled_done(const struct port_live *l, uint64_t now)
{
	uint64_t spent = now > l->phase_ms ? now - l->phase_ms : 0, permille;

	if (!l->est_ms || l->done >= l->total)
		return l->done;
	permille = spent * 1000 / l->est_ms;
	if (permille > MODEL_MAX_PERMILLE)
		permille = MODEL_MAX_PERMILLE;
	return l->done + (l->total - l->done) * permille / 1000;
}

/* Bytes a stage puts on the unit (its image as written), 0 for the others. */
static uint64_t stage_bytes(const struct recipe_stage *st)
{
	switch (st->op) {
	case RECIPE_OP_DFUSE_DOWNLOAD:
		return st->u.dfuse_download.image.write_size;
	case RECIPE_OP_SDP_BOOT:
		return st->u.sdp_boot.image.write_size;
	case RECIPE_OP_FASTBOOT_FLASH:
		return st->u.fastboot_flash.image.write_size;
	case RECIPE_OP_INGENIC_WRITE:
		return st->u.ingenic_write.image.write_size;
	default:
		return 0;
	}
}

/*
 * Time left: the running phase at its own rate (or the rest of its model),
 * then the later stages' images, written and read back, at the unit's
 * rate so far.  -1 while no rate was seen.
 */
static int64_t unit_eta(const struct port *p, const struct port_live *l, uint64_t now)
{
	const struct port_progress *g = &p->prog;
	uint64_t left_ms = 0, later = 0, bytes = l->seen_bytes + g->done, ms = l->seen_ms;

	ms += now > g->start_ms ? now - g->start_ms : 0;
	if (l->est_ms) {
		uint64_t spent = now > l->phase_ms ? now - l->phase_ms : 0;

		left_ms = spent < l->est_ms ? l->est_ms - spent : 0;
	} else if (g->total > g->done) {
		if (!g->rate_bps)
			return -1;
		left_ms = (g->total - g->done) * 1000 / g->rate_bps;
	}
	for (size_t i = (size_t)l->stage_idx + 1; p->recipe && i < p->recipe->n_stages; i++)
		later += 2 * stage_bytes(&p->recipe->stages[i]);
	if (later) {
		if (!bytes || !ms)
			return -1;
		left_ms += later * ms / bytes;
	}
	return (int64_t)left_ms;
}

void port_progress_phase_end(struct port_live *l, uint64_t now)
{
	l->seen_bytes += modelled_done(l, now);
	l->seen_ms += l->phase_start_ms && now > l->phase_start_ms ? now - l->phase_start_ms : 0;
	l->phase_start_ms = now;
}

void port_progress_update(struct port *p, uint64_t now)
{
	struct port_progress *g = &p->prog;
	struct port_live l;
	uint64_t spent, start;

	pthread_mutex_lock(&p->live_lock);
	l = p->live;
	pthread_mutex_unlock(&p->live_lock);
	start = l.phase_start_ms && l.phase_start_ms <= now ? l.phase_start_ms : now;
	if (strcmp(l.phase, g->phase) || l.stage_idx != g->stage_idx || start != g->start_ms) {
		/* A phase this view has not shown yet. */
		snprintf(g->phase, sizeof(g->phase), "%s", l.phase);
		g->stage_idx = l.stage_idx;
		g->start_ms = start;
		g->done = 0;
	}
	/* Never backwards within a phase: a model may run ahead of the device. */
	if (modelled_done(&l, now) > g->done)
		g->done = modelled_done(&l, now);
	g->total = l.total;
	spent = now > g->start_ms ? now - g->start_ms : 0;
	g->rate_bps = spent ? g->done * 1000 / spent : 0;
	g->eta_ms = unit_eta(p, &l, now);
	p->rate_bps = g->rate_bps;
}
