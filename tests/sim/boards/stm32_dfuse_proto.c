/*
 * This file implements the DFU 1.1 class requests with ST's DfuSe extension
 * as the STM32F405/407 ROM answers them (protocol-dfu.md §1.3-§1.7,
 * §2.2-§2.5, §3.5).  The rules that shape it:
 *
 *  - A DNLOAD only stores the block; the command or write runs when the
 *    host sends the GETSTATUS that reports dfuDNBUSY [AN2662 §4.5.2].  The
 *    ROM then does not service EP0 until the flash operation ends, so any
 *    request arriving earlier completes only then (busy_delay()); option
 *    busy=stall STALLs it instead, as L43x ROMs do [SF#40].  The next
 *    GETSTATUS reports dfuDNLOAD-IDLE or dfuERROR with the status.
 *  - Errors set dfuERROR + status and STALL the request (§1.7), except
 *    errors of an executed operation, which the following GETSTATUS shows.
 *  - bwPollTimeout is what the ROM claims, not the real duration (§2.8).
 */
#include "tests/sim/boards/stm32_dfuse.h"

#include <errno.h>
#include <string.h>

/* DFU 1.1 class requests (protocol-dfu.md §1.3). */
#define DFU_DETACH 0
#define DFU_DNLOAD 1
#define DFU_UPLOAD 2
#define DFU_GETSTATUS 3
#define DFU_CLRSTATUS 4
#define DFU_GETSTATE 5
#define DFU_ABORT 6

/* DfuSe commands in DNLOAD block 0 (§2.2). */
#define DFUSE_CMD_GET 0x00
#define DFUSE_CMD_SET_ADDRESS 0x21
#define DFUSE_CMD_ERASE 0x41
#define DFUSE_CMD_READ_UNPROTECT 0x92

static int dfuse_stall(struct stm32_dfuse *d, struct sim_xfer *x, uint8_t status)
{
	d->state = DFU_STATE_ERROR;
	d->status = status;
	d->op = DFUSE_OP_NONE;
	x->status = -EPIPE;
	x->actual = 0;
	return SIM_XFER_DONE;
}

static void dfuse_reply(struct sim_xfer *x, const void *data, size_t len)
{
	size_t n = len < x->len ? len : x->len;

	memcpy(x->data, data, n);
	x->actual = n;
}

/* Reported poll timeout in ms, scaled like every other time. */
static uint32_t dfuse_poll_ms(struct sim_board *b, double ms)
{
	double v = ms * sim_board_time_scale(b) + 0.5;

	return v >= 0xffffff ? 0xffffff : (uint32_t)v;
}

static int dfuse_status_reply(struct stm32_dfuse *d, struct sim_xfer *x, uint8_t state,
			      uint32_t poll_ms)
{
	uint8_t r[6] = {
		d->status, poll_ms & 0xff, (poll_ms >> 8) & 0xff, (poll_ms >> 16) & 0xff, state, 0,
	};

	dfuse_reply(x, r, sizeof(r));
	return SIM_XFER_DONE;
}

/* A request the busy_delay() held back is handled at the end of the busy
 * time: the operation is over. */
static void dfuse_settle(struct stm32_dfuse *d)
{
	if (d->state != DFU_STATE_DNBUSY)
		return;
	d->op = DFUSE_OP_NONE;
	if (d->op_status != DFU_STATUS_OK) {
		d->state = DFU_STATE_ERROR;
		d->status = d->op_status;
	} else {
		d->state = DFU_STATE_DNLOAD_SYNC;
	}
}

int stm32_dfuse_busy_delay(struct sim_board *b, uint64_t *delay_ns)
{
	struct stm32_dfuse *d = sim_board_priv(b);
	uint64_t now = sim_board_now_ns(b);

	*delay_ns = 0;
	if (d->state != DFU_STATE_DNBUSY || now >= d->busy_until)
		return 0;
	if (d->busy_stall)
		return -EPIPE;
	*delay_ns = d->busy_until - now;
	return 0;
}

/* Fault actions at a step that are the same everywhere; returns true if
 * the fault consumed the transfer (*ret set). */
static bool dfuse_fault(struct sim_board *b, struct sim_xfer *x, enum sim_fault_kind k, int *ret)
{
	switch (k) {
	case SIM_FAULT_UNPLUG:
		x->status = -ENODEV;
		*ret = SIM_XFER_DONE;
		return true;
	case SIM_FAULT_STALL:
		/* STALLed before the ROM acted: state unchanged, retry possible. */
		x->status = -EPIPE;
		*ret = SIM_XFER_DONE;
		return true;
	case SIM_FAULT_HANG:
		*ret = sim_board_hang(b, x);
		return true;
	case SIM_FAULT_NONE:
	case SIM_FAULT_PROGRAM_ERROR:
	case SIM_FAULT_CORRUPT_UPLOAD:
	case SIM_FAULT_CORRUPT_DOWNLOAD:
	case SIM_FAULT_DISTURB:
		return false;
	}
	return false;
}

/* ROM system reset after delay_ns: off the bus, back after the boot time. */
static void dfuse_system_reset(struct sim_board *b, struct stm32_dfuse *d, uint64_t delay_ns,
			       uint64_t extra_device_ns)
{
	stm32_power_on_state(d);
	sim_board_disconnect(b, delay_ns);
	/* RM0090 §3.7.3, AN2606: at level 2 boot from system memory is
	 * disabled: the ROM never runs again, no DFU device comes back. */
	if (*stm32_rdp_byte(d) == 0xcc) {
		d->rom_disabled = true;
		return;
	}
	sim_board_connect(b, delay_ns + sim_board_scaled(b, extra_device_ns + d->t.boot));
}

/*
 * Flash that programs whole units only (L4: 64-bit double-words, RM0351
 * §3.3.7).  A block at an address off the unit raises PGAERR: errPROG
 * (assumption: the ROM maps every flash-interface error to it).  A block
 * whose length is not a multiple of the unit loses its tail: the ROM
 * programs the whole double-words and drops the rest without an error, the
 * bug dfu-util users pad their images against (README "stm32l476-dfuse").
 * Returns the DFU status; shortens d->buf_len.
 */
static uint8_t dfuse_write_units(struct stm32_dfuse *d, size_t off)
{
	if (off % d->part->prog_unit)
		return DFU_STATUS_ERR_PROG;
	d->buf_len -= d->buf_len % d->part->prog_unit;
	return DFU_STATUS_OK;
}

/*
 * Write one block; returns the DFU status.  A write over bits that are
 * already 0 cannot set them to 1 (RM0090 §3.5.4).  The F4 flash interface
 * raises no error for this (PGSERR/PGPERR/PGAERR/WRPERR are about sequence,
 * size, alignment and protection), so a ROM can only notice by reading
 * back; the DFU status for "programmed memory failed verification" is
 * errVERIFY (0x07), which is also what the earlier umockdev experiment used
 * and what hosts such as dfu-util print verbatim.  Option nor_status=prog
 * models a ROM mapping it to errPROG instead, nor_status=silent a ROM that
 * does not verify at all (the data is then silently AND-ed).
 */
static uint8_t dfuse_write(struct sim_board *b, struct stm32_dfuse *d, int *region)
{
	uint8_t *mem = stm32_map(d, sim_board_alt(b, 0), d->op_addr, d->buf_len, true, region);
	size_t off;
	int r;

	if (!mem)
		return DFU_STATUS_ERR_TARGET;
	switch (*region) {
	case 0:
	case 2:
		off = d->op_addr - (*region ? d->part->otp_base : STM32_FLASH_BASE);
		if (*region == 0 && d->part->prog_unit > 1) {
			r = dfuse_write_units(d, off);
			if (r != DFU_STATUS_OK)
				return r;
		}
		if (*region == 2 && d->part->otp_locks) {
			/* RM0090 §3.8: lock byte i at 0x00 locks OTP block i (32 bytes). */
			for (size_t i = off; i < off + d->buf_len && i < 512; i++)
				if (d->otp.mem[512 + i / 32] == 0x00)
					return DFU_STATUS_ERR_WRITE;
		}
		r = sim_nor_program(*region ? &d->otp : &d->flash, off, d->buf, d->buf_len);
		if (r < 0)
			return DFU_STATUS_ERR_TARGET;
		if (r == 0 && d->nor_status == DFUSE_NOR_VERIFY)
			return DFU_STATUS_ERR_VERIFY;
		if (r == 0 && d->nor_status == DFUSE_NOR_PROG)
			return DFU_STATUS_ERR_PROG;
		return DFU_STATUS_OK;
	case 1: {
		bool was_protected = stm32_rdp_active(d);

		memcpy(mem, d->buf, d->buf_len);
		/* RDP level 2 is irreversible on silicon: never in a test. */
		if (*stm32_rdp_byte(d) == 0xcc)
			sim_board_count_forbidden(b);
		/* Level 1 -> 0 mass-erases the flash (RM0090 §3.7.3, RM0351 §3.5.1). */
		if (was_protected && !stm32_rdp_active(d))
			sim_nor_erase(&d->flash, 0, d->flash.size);
		return DFU_STATUS_OK;
	}
	case 3:
		memcpy(mem, d->buf, d->buf_len);
		return DFU_STATUS_OK;
	default:
		return DFU_STATUS_ERR_TARGET;
	}
}

static uint64_t dfuse_erase_ns(struct stm32_dfuse *d, int sector)
{
	uint32_t size = d->sector_off[sector + 1] - d->sector_off[sector];

	if (d->part->page_size)
		return d->t.erase_page;
	if (size <= 16384)
		return d->t.erase_16k;
	if (size <= 65536)
		return d->t.erase_64k;
	return d->t.erase_128k;
}

/* Read Unprotect (§3.5): mass erase if protected, RDP to level 0, reset. */
static int dfuse_unprotect(struct sim_board *b, struct stm32_dfuse *d, struct sim_xfer *x)
{
	bool was = stm32_rdp_active(d);
	uint32_t poll = dfuse_poll_ms(b, d->t.poll_command_ms);

	d->state = DFU_STATE_DNBUSY;
	dfuse_status_reply(d, x, DFU_STATE_DNBUSY, poll);
	if (was)
		sim_nor_erase(&d->flash, 0, d->flash.size);
	*stm32_rdp_byte(d) = 0xaa;
	/* The ROM drops off right after the reply; it cannot answer again. */
	dfuse_system_reset(b, d, x->delay_ns + sim_board_scaled(b, d->t.command),
			   was ? d->t.mass_erase : 0);
	return SIM_XFER_DONE;
}

/* The GETSTATUS that finds a stored block: execute it, report dfuDNBUSY. */
static int dfuse_execute(struct sim_board *b, struct stm32_dfuse *d, struct sim_xfer *x)
{
	static const char *const steps[] = {
		[DFUSE_OP_SET_ADDRESS] = "set_address", [DFUSE_OP_ERASE] = "erase",
		[DFUSE_OP_MASS_ERASE] = "mass_erase",	[DFUSE_OP_UNPROTECT] = "unprotect",
		[DFUSE_OP_WRITE] = "download",
	};
	unsigned kinds = SIM_FAULT_TRANSFER_KINDS;
	enum sim_fault_kind k;
	uint64_t dur = d->t.command;
	double poll = d->t.poll_command_ms;
	int sector, region = -1, ret;
	bool rdp = stm32_rdp_active(d);

	if (d->op == DFUSE_OP_WRITE)
		kinds |= SIM_FAULT_PROGRAM_ERROR;
	if (d->op == DFUSE_OP_ERASE)
		kinds |= SIM_FAULT_DISTURB;
	k = sim_board_fault_step(b, steps[d->op], kinds);
	if (dfuse_fault(b, x, k, &ret))
		return ret;

	d->op_status = DFU_STATUS_OK;
	switch (d->op) {
	case DFUSE_OP_NONE:
		break;
	case DFUSE_OP_SET_ADDRESS:
		/* Betaflight: with RDP active even Set-Address fails (§3.5). */
		if (rdp)
			d->op_status = DFU_STATUS_ERR_VENDOR;
		else
			d->pointer = d->op_addr;
		break;
	case DFUSE_OP_ERASE:
		poll = d->t.poll_erase_ms;
		sector = stm32_sector_of(d, d->op_addr);
		if (rdp) {
			d->op_status = DFU_STATUS_ERR_VENDOR;
		} else if (sector < 0 || sim_board_alt(b, 0) != 0) {
			/* Not an erasable address of the selected memory [AN2662 Fig. 57]. */
			d->op_status = DFU_STATUS_ERR_TARGET;
		} else {
			sim_nor_erase(&d->flash, d->sector_off[sector],
				      d->sector_off[sector + 1] - d->sector_off[sector]);
			if (k == SIM_FAULT_DISTURB && d->sector_off[sector] > 0)
				sim_nor_disturb(&d->flash, d->sector_off[sector] - 1);
			dur = dfuse_erase_ns(d, sector);
		}
		break;
	case DFUSE_OP_MASS_ERASE:
		poll = d->t.poll_mass_erase_ms;
		if (rdp) {
			d->op_status = DFU_STATUS_ERR_VENDOR;
		} else {
			sim_nor_erase(&d->flash, 0, d->flash.size);
			dur = d->t.mass_erase;
		}
		break;
	case DFUSE_OP_UNPROTECT:
		return dfuse_unprotect(b, d, x);
	case DFUSE_OP_WRITE:
		poll = d->t.poll_write_ms;
		if (rdp) {
			/* AN2662 Fig. 57: writes under read protection: errVENDOR. */
			d->op_status = DFU_STATUS_ERR_VENDOR;
		} else if (k == SIM_FAULT_PROGRAM_ERROR) {
			/* The flash interface flags a programming error (PGSERR
			 * class); the ROM gives up on the block: errPROG. */
			d->op_status = DFU_STATUS_ERR_PROG;
		} else {
			d->op_status = dfuse_write(b, d, &region);
			dur += d->part->prog_unit > 1
				       ? d->buf_len / d->part->prog_unit * d->t.dword_program
				       : (d->buf_len + 3) / 4 * d->t.word_program;
			if (region == 1 && d->op_status == DFU_STATUS_OK) {
				/* Option bytes written: the ROM resets the system [AN2662 Fig. 57]. */
				d->state = DFU_STATE_DNBUSY;
				dfuse_status_reply(d, x, DFU_STATE_DNBUSY, dfuse_poll_ms(b, poll));
				dfuse_system_reset(
					b, d, x->delay_ns + sim_board_scaled(b, d->t.option_write),
					0);
				return SIM_XFER_DONE;
			}
		}
		break;
	}
	d->state = DFU_STATE_DNBUSY;
	d->busy_until = sim_board_now_ns(b) + x->delay_ns + sim_board_scaled(b, dur);
	return dfuse_status_reply(d, x, DFU_STATE_DNBUSY, dfuse_poll_ms(b, poll));
}

static int dfuse_getstatus(struct sim_board *b, struct stm32_dfuse *d, struct sim_xfer *x)
{
	enum sim_fault_kind k = sim_board_fault_step(b, "getstatus", SIM_FAULT_TRANSFER_KINDS);
	int ret;

	if (dfuse_fault(b, x, k, &ret))
		return ret;
	switch (d->state) {
	case DFU_STATE_DNLOAD_SYNC:
		if (d->op != DFUSE_OP_NONE)
			return dfuse_execute(b, d, x);
		d->state = DFU_STATE_DNLOAD_IDLE;
		return dfuse_status_reply(d, x, d->state, 0);
	case DFU_STATE_MANIFEST_SYNC:
		k = sim_board_fault_step(b, "manifest", SIM_FAULT_TRANSFER_KINDS);
		if (dfuse_fault(b, x, k, &ret))
			return ret;
		/* Leave (§2.5): answer dfuMANIFEST, free USB, jump to the pointer.
		 * Manifestation-intolerant: it never answers again. */
		d->state = DFU_STATE_MANIFEST;
		dfuse_status_reply(d, x, DFU_STATE_MANIFEST,
				   dfuse_poll_ms(b, d->t.poll_manifest_ms));
		d->left = true;
		d->jump_addr = d->pointer;
		sim_board_disconnect(b, x->delay_ns + sim_board_scaled(b, d->t.leave));
		return SIM_XFER_DONE;
	default:
		return dfuse_status_reply(d, x, d->state, 0);
	}
}

static int dfuse_dnload(struct sim_board *b, struct stm32_dfuse *d, struct sim_xfer *x)
{
	uint16_t block = x->setup.wValue;
	size_t len = x->len;

	(void)b;
	if (d->state != DFU_STATE_IDLE && d->state != DFU_STATE_DNLOAD_IDLE)
		return dfuse_stall(d, x, DFU_STATUS_ERR_STALLEDPKT);
	if (len == 0) {
		/* Zero-length DNLOAD: leave request (§2.5), any block number. */
		d->state = DFU_STATE_MANIFEST_SYNC;
		return SIM_XFER_DONE;
	}
	if (len > d->transfer_size)
		return dfuse_stall(d, x, DFU_STATUS_ERR_STALLEDPKT);
	if (block == 0) {
		uint8_t cmd = x->data[0];

		if (cmd == DFUSE_CMD_SET_ADDRESS && len == 5) {
			d->op = DFUSE_OP_SET_ADDRESS;
		} else if (cmd == DFUSE_CMD_ERASE && len == 5) {
			d->op = DFUSE_OP_ERASE;
		} else if (cmd == DFUSE_CMD_ERASE && len == 1) {
			d->op = DFUSE_OP_MASS_ERASE;
		} else if (cmd == DFUSE_CMD_READ_UNPROTECT && len == 1) {
			d->op = DFUSE_OP_UNPROTECT;
		} else {
			/* Unsupported command: STALL, dfuERROR/errSTALLEDPKT [AN2662 Fig. 55]. */
			return dfuse_stall(d, x, DFU_STATUS_ERR_STALLEDPKT);
		}
		if (len == 5)
			d->op_addr = sim_get_le32(x->data + 1);
	} else if (block == 1) {
		/* Not used by DfuSe; ST's stack ignores it on DNLOAD [STLIB]. */
		d->op = DFUSE_OP_NONE;
	} else {
		/* Address from the advertised (compile-time) transfer size, not
		 * from wLength [STLIB]: short blocks followed by more land wrong. */
		d->op = DFUSE_OP_WRITE;
		d->op_addr = d->pointer + (uint32_t)(block - 2) * d->transfer_size;
		memcpy(d->buf, x->data, len);
		d->buf_len = len;
	}
	d->state = DFU_STATE_DNLOAD_SYNC;
	return SIM_XFER_DONE;
}

static int dfuse_upload(struct sim_board *b, struct stm32_dfuse *d, struct sim_xfer *x)
{
	static const uint8_t cmds[] = { DFUSE_CMD_GET, DFUSE_CMD_SET_ADDRESS, DFUSE_CMD_ERASE,
					DFUSE_CMD_READ_UNPROTECT };
	uint16_t block = x->setup.wValue;
	enum sim_fault_kind k;
	const uint8_t *mem;
	uint32_t addr;
	int region, ret;

	if (d->state != DFU_STATE_IDLE && d->state != DFU_STATE_UPLOAD_IDLE)
		return dfuse_stall(d, x, DFU_STATUS_ERR_STALLEDPKT);
	if (x->len > d->transfer_size)
		return dfuse_stall(d, x, DFU_STATUS_ERR_STALLEDPKT);
	if (block == 0) {
		/* Get Commands (§2.2): the F1/F4 ROM list. */
		dfuse_reply(x, cmds, sizeof(cmds));
		d->state = x->len >= sizeof(cmds) ? DFU_STATE_IDLE : DFU_STATE_UPLOAD_IDLE;
		return SIM_XFER_DONE;
	}
	if (block == 1)
		return dfuse_stall(d, x, DFU_STATUS_ERR_STALLEDPKT);
	/* AN2662 §4.4.1: read protection refuses every read: errVENDOR. */
	if (stm32_rdp_active(d))
		return dfuse_stall(d, x, DFU_STATUS_ERR_VENDOR);
	addr = d->pointer + (uint32_t)(block - 2) * d->transfer_size;
	mem = stm32_map(d, sim_board_alt(b, 0), addr, x->len, false, &region);
	if (!mem)
		return dfuse_stall(d, x, DFU_STATUS_ERR_TARGET);
	k = sim_board_fault_step(b, "upload", SIM_FAULT_TRANSFER_KINDS | SIM_FAULT_CORRUPT_UPLOAD);
	if (dfuse_fault(b, x, k, &ret))
		return ret;
	memcpy(x->data, mem, x->len);
	x->actual = x->len;
	if (k == SIM_FAULT_CORRUPT_UPLOAD && x->len)
		x->data[x->len / 2] ^= 0x10;
	d->state = DFU_STATE_UPLOAD_IDLE;
	return SIM_XFER_DONE;
}

int stm32_dfuse_request(struct sim_board *b, struct sim_xfer *x)
{
	struct stm32_dfuse *d = sim_board_priv(b);
	const struct sim_setup *s = &x->setup;
	bool in = s->bmRequestType & SIM_USB_DIR_IN;
	uint8_t state;

	/* Only class requests to interface 0 exist on this ROM. */
	if ((s->bmRequestType & SIM_USB_TYPE_MASK) != SIM_USB_TYPE_CLASS ||
	    (s->bmRequestType & SIM_USB_RECIP_MASK) != SIM_USB_RECIP_INTERFACE ||
	    (s->wIndex & 0xff) != 0) {
		x->status = -EPIPE;
		return SIM_XFER_DONE;
	}
	/* Level 2 (a replug powers it up): no ROM answers DFU requests. */
	if (d->rom_disabled) {
		x->status = -EPIPE;
		return SIM_XFER_DONE;
	}
	dfuse_settle(d);
	switch (s->bRequest) {
	case DFU_DNLOAD:
		if (in)
			break;
		return dfuse_dnload(b, d, x);
	case DFU_UPLOAD:
		if (!in)
			break;
		return dfuse_upload(b, d, x);
	case DFU_GETSTATUS:
		if (!in)
			break;
		return dfuse_getstatus(b, d, x);
	case DFU_CLRSTATUS:
		if (in)
			break;
		if (d->state == DFU_STATE_ERROR) {
			d->state = DFU_STATE_IDLE;
			d->status = DFU_STATUS_OK;
		} else {
			/* ST's stack: CLRSTATUS outside dfuERROR enters it with
			 * errUNKNOWN; a second one clears (§1.7, [BF#5348]). */
			d->state = DFU_STATE_ERROR;
			d->status = DFU_STATUS_ERR_UNKNOWN;
		}
		return SIM_XFER_DONE;
	case DFU_GETSTATE:
		if (!in)
			break;
		state = d->state;
		dfuse_reply(x, &state, 1);
		return SIM_XFER_DONE;
	case DFU_ABORT:
		if (in)
			break;
		switch (d->state) {
		case DFU_STATE_IDLE:
		case DFU_STATE_DNLOAD_SYNC:
		case DFU_STATE_DNLOAD_IDLE:
		case DFU_STATE_MANIFEST_SYNC:
		case DFU_STATE_UPLOAD_IDLE:
			d->state = DFU_STATE_IDLE;
			d->status = DFU_STATUS_OK;
			d->op = DFUSE_OP_NONE;
			break;
		default:
			/* ST's stack ignores ABORT elsewhere (no STALL). */
			break;
		}
		return SIM_XFER_DONE;
	case DFU_DETACH:
		if (in)
			break;
		/* bitWillDetach: the ROM restarts its USB by itself and comes
		 * back in DFU mode (BOOT0 still high) [STLIB DFU_Detach]. */
		d->state = DFU_STATE_IDLE;
		d->status = DFU_STATUS_OK;
		d->op = DFUSE_OP_NONE;
		d->pointer = STM32_FLASH_BASE;
		sim_board_disconnect(b, x->delay_ns + sim_board_scaled(b, d->t.leave));
		sim_board_connect(b, x->delay_ns + sim_board_scaled(b, d->t.leave + d->t.boot));
		return SIM_XFER_DONE;
	default:
		break;
	}
	return dfuse_stall(d, x, DFU_STATUS_ERR_STALLEDPKT);
}
