/*
 * This file implements generic fault specs: parsing the flattened scenario
 * options "faults.<i>.<field>" and matching them against board events.
 *
 * A fault fires when all of its triggers match one event:
 *   after_bytes  more than this many OUT data bytes were submitted so far
 *   step         the model reached this named step (sim_board_fault_step())
 *   request      the transfer being handled has this bRequest
 * The first `skip` matches are ignored; it then fires `count` times.
 *
 * Two kinds of events exist.  Transfer submission (step NULL) can fire
 * unplug, stall and hang faults that have no `step` trigger.  A model step
 * fires faults naming that step, plus program_error/corrupt_upload/disturb
 * faults without a step, which only a model step can act on.  So every fault has
 * exactly one place where it is evaluated and skip counts are unambiguous.
 */
#include "tests/sim/boards/board-private.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Scenario files are hand-written: a few faults per board at most. */
#define FAULTS_MAX 64

struct fault {
	bool used;
	enum sim_fault_kind kind;
	bool has_after;
	uint64_t after_bytes;
	char *step;
	bool has_request;
	unsigned request;
	uint64_t skip;
	uint64_t count;
	uint64_t seen;
	uint64_t fired;
};

struct sim_faults {
	struct fault f[FAULTS_MAX];
	unsigned n; /* highest used index + 1 */
};

static const struct {
	const char *name;
	enum sim_fault_kind kind;
} fault_kinds[] = {
	{ "unplug", SIM_FAULT_UNPLUG },
	{ "stall", SIM_FAULT_STALL },
	{ "hang", SIM_FAULT_HANG },
	{ "program_error", SIM_FAULT_PROGRAM_ERROR },
	{ "corrupt_upload", SIM_FAULT_CORRUPT_UPLOAD },
	{ "corrupt_download", SIM_FAULT_CORRUPT_DOWNLOAD },
	{ "disturb", SIM_FAULT_DISTURB },
};

const char *sim_fault_kind_name(enum sim_fault_kind k)
{
	for (size_t i = 0; i < sizeof(fault_kinds) / sizeof(fault_kinds[0]); i++)
		if (fault_kinds[i].kind == k)
			return fault_kinds[i].name;
	return "none";
}

static int faults_err(char *err, size_t errlen, const char *fmt, const char *a, const char *b)
{
	if (err && errlen)
		snprintf(err, errlen, fmt, a, b);
	return -EINVAL;
}

int sim_faults_option(struct sim_faults **fp, const char *key, const char *value, char *err,
		      size_t errlen)
{
	const char *p = key + strlen("faults."), *field;
	struct sim_faults *fs = *fp;
	struct fault *f;
	char *end;
	unsigned long idx;
	uint64_t u;

	if (*p < '0' || *p > '9')
		return faults_err(err, errlen, "unknown option '%s'%s", key, "");
	idx = strtoul(p, &end, 10);
	if (*end != '.' || idx >= FAULTS_MAX)
		return faults_err(err, errlen, "unknown option '%s'%s", key,
				  idx >= FAULTS_MAX ? " (too many faults)" : "");
	field = end + 1;
	if (!fs) {
		fs = calloc(1, sizeof(*fs));
		if (!fs)
			return -ENOMEM;
		*fp = fs;
	}
	f = &fs->f[idx];
	if (!f->used) {
		f->used = true;
		f->count = 1;
		if (idx + 1 > fs->n)
			fs->n = idx + 1;
	}
	if (!strcmp(field, "kind")) {
		for (size_t i = 0; i < sizeof(fault_kinds) / sizeof(fault_kinds[0]); i++) {
			if (!strcmp(value, fault_kinds[i].name)) {
				f->kind = fault_kinds[i].kind;
				return 0;
			}
		}
		return faults_err(err, errlen, "option '%s': unknown fault kind '%s'", key, value);
	}
	if (!strcmp(field, "step")) {
		char *s = strdup(value);

		if (!s)
			return -ENOMEM;
		free(f->step);
		f->step = s;
		return 0;
	}
	if (sim_parse_u64(value, &u) < 0)
		goto bad_number;
	if (!strcmp(field, "after_bytes")) {
		f->has_after = true;
		f->after_bytes = u;
	} else if (!strcmp(field, "request")) {
		if (u > 255)
			goto bad_number;
		f->has_request = true;
		f->request = u;
	} else if (!strcmp(field, "skip")) {
		f->skip = u;
	} else if (!strcmp(field, "count")) {
		f->count = u;
	} else {
		return faults_err(err, errlen, "unknown option '%s'%s", key, "");
	}
	return 0;
bad_number:
	if (strcmp(field, "after_bytes") && strcmp(field, "request") && strcmp(field, "skip") &&
	    strcmp(field, "count"))
		return faults_err(err, errlen, "unknown option '%s'%s", key, "");
	return faults_err(err, errlen, "option '%s': bad number '%s'", key, value);
}

int sim_faults_validate(struct sim_faults *fs, const char *const *steps, char *err, size_t errlen)
{
	char key[32];

	if (!fs)
		return 0;
	for (unsigned i = 0; i < fs->n; i++) {
		struct fault *f = &fs->f[i];
		bool known = false;

		if (!f->used)
			continue;
		snprintf(key, sizeof(key), "faults.%u.kind", i);
		if (f->kind == SIM_FAULT_NONE)
			return faults_err(err, errlen, "option '%s' missing%s", key, "");
		if (!f->step)
			continue;
		for (const char *const *s = steps; s && *s; s++)
			if (!strcmp(*s, f->step))
				known = true;
		snprintf(key, sizeof(key), "faults.%u.step", i);
		if (!known)
			return faults_err(err, errlen,
					  "option '%s': unknown step '%s' for this board", key,
					  f->step);
	}
	return 0;
}

struct sim_faults *sim_faults_free(struct sim_faults *fs)
{
	if (!fs)
		return NULL;
	for (unsigned i = 0; i < FAULTS_MAX; i++)
		free(fs->f[i].step);
	free(fs);
	return NULL;
}

static bool faults_match(const struct fault *f, const char *step, int request, uint64_t bytes_out)
{
	if (!step) {
		if (f->step || !(f->kind & SIM_FAULT_TRANSFER_KINDS))
			return false;
	} else if (f->step) {
		if (strcmp(f->step, step))
			return false;
	} else if (f->kind & SIM_FAULT_TRANSFER_KINDS) {
		return false;
	}
	if (f->has_request && (request < 0 || (unsigned)request != f->request))
		return false;
	if (f->has_after && bytes_out <= f->after_bytes)
		return false;
	return true;
}

static void faults_describe(const struct fault *f, uint64_t bytes_out, char *log, size_t loglen)
{
	int n = snprintf(log, loglen, "%s", sim_fault_kind_name(f->kind));

	if (n < 0 || (size_t)n >= loglen)
		return;
	if (f->has_after)
		n += snprintf(log + n, loglen - n, " after %" PRIu64 " bytes (%" PRIu64 " sent)",
			      f->after_bytes, bytes_out);
	if ((size_t)n < loglen && f->step)
		n += snprintf(log + n, loglen - n, " at step %s", f->step);
	if ((size_t)n < loglen && f->has_request)
		n += snprintf(log + n, loglen - n, " on request %u", f->request);
	if ((size_t)n < loglen && (f->skip || f->count != 1))
		snprintf(log + n, loglen - n, " (firing %" PRIu64 ")", f->fired);
}

enum sim_fault_kind sim_faults_check(struct sim_faults *fs, const char *step, int request,
				     uint64_t bytes_out, unsigned kinds, char *log, size_t loglen)
{
	if (!fs)
		return SIM_FAULT_NONE;
	for (unsigned i = 0; i < fs->n; i++) {
		struct fault *f = &fs->f[i];

		if (!f->used || !(f->kind & kinds) || f->fired >= f->count)
			continue;
		if (!faults_match(f, step, request, bytes_out))
			continue;
		if (++f->seen <= f->skip)
			continue;
		f->fired++;
		faults_describe(f, bytes_out, log, loglen);
		return f->kind;
	}
	return SIM_FAULT_NONE;
}
