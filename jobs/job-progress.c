/*
 * Live progress of a job (job-private.h): the engines' byte counts and
 * phase reports (protocols/usb.h) turned into one phase at a time with its
 * own done/total, for the observer.  Job thread only; the observer copies
 * what it keeps under its own lock, never across USB I/O.
 */
#include "jobs/job-private.h"

static const char *const phase_names[] = {
	[USB_PHASE_ERASE] = "erase",
	[USB_PHASE_TRANSFER] = "transfer",
	[USB_PHASE_WRITE] = "write",
	[USB_PHASE_VERIFY] = "verify",
};

static void report(struct job *j, uint64_t done, uint64_t total, uint64_t est_ms)
{
	const char *name = j->prog.phase ? phase_names[j->prog.phase] : "";

	if (j->obs.phase)
		j->obs.phase(j->obs.userdata, name, done, total, est_ms);
	if (j->obs.progress)
		j->obs.progress(j->obs.userdata, done, total);
}

void job_progress_reset(struct job *j)
{
	j->prog = (struct job_progress){ 0 };
}

void job_progress_unit_verify(struct job *j)
{
	uint64_t total = 0;

	for (size_t i = 0; i < j->plan.n; i++)
		if (!j->plan.v[i].unreadable)
			total += j->plan.v[i].len;
	/* job_verify() counts each range from 0: add them up. */
	j->prog = (struct job_progress){ .phase = USB_PHASE_VERIFY,
					 .total = total,
					 .accumulate = true };
	report(j, 0, total, 0);
}

void job_phase_cb(void *ud, enum usb_phase ph, uint64_t done, uint64_t total, uint64_t est_ms)
{
	struct job *j = ud;
	struct job_progress *p = &j->prog;

	if (p->accumulate)
		return; /* the unit verify is one phase, whatever its reads report */
	p->phase = ph;
	p->total = total;
	/* The byte count goes on from p->last; it stands for `done` now. */
	p->base = ph == USB_PHASE_ERASE || p->last < done ? 0 : p->last - done;
	report(j, done, total, est_ms);
}

void job_progress_bytes(struct job *j, uint64_t done, uint64_t total)
{
	struct job_progress *p = &j->prog;
	uint64_t d, t;

	if (!p->phase || p->phase == USB_PHASE_ERASE) {
		/* Bytes without a phase report (sdp.boot): they are written. */
		*p = (struct job_progress){ .phase = USB_PHASE_WRITE,
					    .base = p->last,
					    .last = p->last };
	}
	if (!p->accumulate && done < p->base)
		p->base = 0; /* the engine counts a new piece from 0 */
	if (p->accumulate && done < p->last)
		p->acc += p->last;
	p->last = done;
	d = p->acc + (done >= p->base ? done - p->base : 0);
	t = p->total ? p->total : total >= p->base ? total - p->base : 0;
	report(j, d, t, 0);
}
