/*
 * Internal to protocols/dfuse*.c: the engine state and the helpers shared by
 * the session (dfuse.c), the DfuSe commands (dfuse-commands.c) and the data
 * path (dfuse-load.c).  Not part of the API; see protocols/dfuse.h.
 */
#ifndef FLASHD_PROTOCOLS_DFUSE_PRIVATE_H
#define FLASHD_PROTOCOLS_DFUSE_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>

#include "protocols/dfuse.h"

struct dfuse {
	struct usb_dev *usb;
	struct dfu_func_desc desc;
	unsigned int n_alts;
	struct dfuse_alt alts[DFUSE_MAX_ALTS];
	unsigned int cur; /* index into alts */
	unsigned int deadline_pct;
	enum dfu_hold hold; /* learned by dfu_wait_done() for this session (dfu.h) */
	bool claimed;
	bool left;
	struct dfuse_erased *erased; /* caller's set (dfuse_use_erased()), or NULL: per call */
	unsigned int erased_tag;
	/* Erase phase of the running download: bytes of sectors erased / to erase. */
	uint64_t erase_done, erase_total;
	uint64_t erase_t0_ms;
};

/* ms scaled by dfuse_set_deadline_pct(): at least 1, at most UINT32_MAX. */
unsigned int dfuse_scale(const struct dfuse *d, uint64_t ms);

/*
 * r is the result of request req (e.g. "DNLOAD").  If it was -EPIPE, ask the
 * device why and return the errno its status means, with a message;
 * otherwise return r unchanged.
 */
int dfuse_explain_stall(struct dfuse *d, int r, const char *req, struct err *e);

/*
 * After a failure: back to dfuIDLE if we can (not when unplugged or after a
 * leave), leaving the first error's message alone.  Returns r.
 */
int dfuse_recover(struct dfuse *d, int r);

/*
 * The DfuSe commands without the recovery of their public versions, for
 * sequences that recover once at their end (dfuse-commands.c).  Each leaves
 * the device in dfuDNLOAD-IDLE on success; the message names the command.
 */
int dfuse_set_address_raw(struct dfuse *d, uint32_t addr, struct err *e);
/* Erase the sector at start; size (bytes) sets the deadline. */
int dfuse_erase_raw(struct dfuse *d, uint32_t start, uint32_t size, struct err *e);
int dfuse_mass_erase_raw(struct dfuse *d, struct err *e);

#endif
