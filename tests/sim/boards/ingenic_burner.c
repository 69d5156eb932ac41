/*
 * This file implements the Ingenic stage-2 burner ("cloner", new layout,
 * §3) for SFC NOR: GET_ACK, INIT, UPDATE_CFG with its TLVs, WRITE with the
 * JAMCRC check and erase-on-first-write, READ + GET_CRC, GET_FLASH_INFO,
 * REBOOT.  Flash work runs "inside the completion handler" as the real
 * burner does: the board is busy meanwhile and every request, GET_ACK
 * included, waits until it is done (§0.4).
 */
#include "tests/sim/boards/ingenic.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define VR_GET_CPU_INFO 0x00
#define VR_SET_DATA_ADDR 0x01
#define VR_SET_DATA_LEN 0x02
#define VR_GET_ACK 0x10
#define VR_INIT 0x11
#define VR_WRITE 0x12
#define VR_READ 0x13
#define VR_UPDATE_CFG 0x14
#define VR_SYNC_TIME 0x15
#define VR_REBOOT 0x16
#define VR_POWEROFF 0x17
#define VR_GET_CRC 0x19
#define VR_GET_FLASH_INFO 0x26

#define CMD_LEN 40		/* sizeof(union cmd) (§3.2) */
#define OPS_SFC_NOR 0x00060000u /* medium SPISFC 6, sub SFC_NOR 0 (§3.3) */
#define ARGS_MAX (1u << 20)	/* the burner's args buffer (§3.4) */
#define DATA_MAX (32u << 20)	/* model limit for one WRITE */

/* TLV magics (§3.4). */
#define TLV_DBG 0x44424700u
#define TLV_POLI 0x504f4c49u
#define TLV_SFC 0x53464300u
#define NOR_MAGIC 0x726f6eu
/* nor_partition.manager_mode: each write erases its own range (§3.6, [NORPART]). */
#define MTD_D_MODE 1

/* Offsets inside the SFC body: spi_param (7 words), then burner_params
 * (§3.4; IFT file offsets minus the body start 0xD0). */
#define SFC_NOR_MAGIC 0x1c
#define SFC_NAME 0x24
#define SFC_ID 0x44
/* spi_nor_info commands, 6 bytes each: u16 cmd, dummy, addr bytes, mode. */
#define SFC_READ_STD 0x48
#define SFC_WRITE_STD 0x54
#define SFC_SECTOR_ERASE 0x60
#define SFC_EN4BYTE 0x6c
#define SFC_CHIP_SIZE 0xa0
#define SFC_PAGE_SIZE 0xa4
#define SFC_ERASE_SIZE 0xa8
#define SFC_PARTS 0xb0
#define SFC_PART_LEN 48
#define SFC_NUM_PARTS (SFC_PARTS + 10 * SFC_PART_LEN)
#define SFC_MIN_BODY (SFC_NUM_PARTS + 4)

static uint64_t get_le64(const uint8_t *p)
{
	return sim_get_le32(p) | (uint64_t)sim_get_le32(p + 4) << 32;
}

void ingenic_burner_enter(struct ingenic *g)
{
	g->stage = INGENIC_BURNER;
	g->ack = 0;
	g->full_size = 0;
	memset(&g->cfg, 0, sizeof(g->cfg));
	g->init_done = false;
	g->erased_parts = 0;
	g->pend = INGENIC_PEND_NONE;
	g->r_queued = false;
	g->r_ack = 0;
}

static void burner_reply(struct sim_xfer *x, const void *d, size_t n)
{
	if (n > x->len)
		n = x->len;
	memcpy(x->data, d, n);
	x->actual = n;
}

/* The read/program/erase/EN4B commands the SFC will send to the chip. */
static void burner_parse_nor_cmds(struct ingenic *g, const uint8_t *d)
{
	const struct spinor_host h = {
		.set = 1,
		.read_op = d[SFC_READ_STD],
		.read_ab = d[SFC_READ_STD + 3],
		.write_op = d[SFC_WRITE_STD],
		.write_ab = d[SFC_WRITE_STD + 3],
		.erase_op = d[SFC_SECTOR_ERASE],
		.erase_ab = d[SFC_SECTOR_ERASE + 3],
		.en4b_op = d[SFC_EN4BYTE],
	};

	spinor_set_host(&g->flash, &h);
}

/* Decode the TLVs of an UPDATE_CFG; the new config replaces the old one. */
static int32_t burner_parse_cfg(struct ingenic *g, const uint8_t *p, uint32_t len)
{
	struct ingenic_cfg *c = &g->cfg;
	uint32_t off = 0;

	memset(c, 0, sizeof(*c));
	spinor_set_host(&g->flash, NULL);
	c->present = true;
	/* Without a DBG record both checks stay on, as the vendor cfg sets
	 * them (transfer_data_chk 1, read_back_chk 1: §3.6 [TC-ref]). */
	c->transfer_data_chk = 1;
	c->write_back_chk = 1;
	while (off + 8 <= len) {
		uint32_t magic = sim_get_le32(p + off), size = sim_get_le32(p + off + 4);
		const uint8_t *d = p + off + 8;

		if (magic == 0 || size > len - off - 8)
			break;
		if (off == 0)
			c->first_is_poli = magic == TLV_POLI;
		if (magic == TLV_POLI && size >= 36) {
			c->poli = true;
			c->use_sfc_nor = sim_get_le32(d + 20);
		} else if (magic == TLV_DBG && size >= 12) {
			c->dbg = true;
			c->transfer_data_chk = sim_get_le32(d + 4);
			c->write_back_chk = sim_get_le32(d + 8);
		} else if (magic == TLV_SFC && size >= 28) {
			c->sfc = true;
			c->download_params = sim_get_le32(d);
			c->quad = sim_get_le32(d + 4);
			c->erase_block = sim_get_le32(d + 8);
			c->spi_erase = sim_get_le32(d + 12);
			c->frequency = sim_get_le32(d + 16);
			if (size >= SFC_MIN_BODY && sim_get_le32(d + SFC_NOR_MAGIC) == NOR_MAGIC) {
				c->sfc_valid = true;
				c->jedec = sim_get_le32(d + SFC_ID);
				c->chip_size = sim_get_le32(d + SFC_CHIP_SIZE);
				c->page_size = sim_get_le32(d + SFC_PAGE_SIZE);
				c->erase_size = sim_get_le32(d + SFC_ERASE_SIZE);
				burner_parse_nor_cmds(g, d);
				c->n_part = sim_get_le32(d + SFC_NUM_PARTS);
				if (c->n_part > 10)
					c->n_part = 10;
				for (unsigned i = 0; i < c->n_part; i++) {
					const uint8_t *e = d + SFC_PARTS + i * SFC_PART_LEN;

					memcpy(c->part[i].name, e, 32);
					c->part[i].name[32] = '\0';
					c->part[i].size = sim_get_le32(e + 32);
					c->part[i].offset = sim_get_le32(e + 36);
					c->part[i].manager_mode = sim_get_le32(e + 44);
				}
			}
		}
		/* Unknown magics are only logged by the burner. */
		off += 8 + size;
		if (off % 4)
			break; /* "misaligned pointer" ends the walk */
	}
	g->erased_parts = 0;
	return 0;
}

/* Partition holding flash offset `off` (-1: none, "out of partition"). */
static int burner_partition(const struct ingenic *g, uint64_t off, uint64_t *start, uint64_t *end)
{
	const struct ingenic_cfg *c = &g->cfg;
	uint64_t chip = g->flash.nor.size;

	for (unsigned i = 0; i < c->n_part; i++) {
		uint64_t s = c->part[i].offset;
		/* Size -1 (0xFFFFFFFF): to the end of the chip. */
		uint64_t e = c->part[i].size == 0xffffffffu ? chip : s + c->part[i].size;

		if (e > chip)
			e = chip;
		if (off >= s && off < e) {
			*start = s;
			*end = e;
			return i;
		}
	}
	return -1;
}

/*
 * Bytes sfc_program works on: a length of at least one spi_erase_block_size
 * is rounded up to whole blocks (§3.6, [SFC-nor]); the extra bytes are what
 * the data buffer held past the received data (ingenic_buf_reserve() makes
 * that room, zero-filled when new).
 */
static uint32_t burner_program_len(const struct ingenic_cfg *c, uint32_t n)
{
	uint32_t blk = c->erase_block;

	if (!blk || blk > DATA_MAX || n < blk || n % blk == 0)
		return n;
	return (uint32_t)(((uint64_t)n + blk - 1) / blk * blk);
}

/* A WRITE's data is all in: check, erase, program; sets ack and busy time. */
static void burner_write(struct sim_board *b, enum sim_fault_kind k)
{
	struct ingenic *g = ingenic(b);
	const struct ingenic_cfg *c = &g->cfg;
	uint64_t t = g->t.command, off = g->w_part + g->w_off, ps, pe;
	uint32_t len;
	int part, ok;

	if (k == SIM_FAULT_CORRUPT_DOWNLOAD && g->w_len)
		g->buf[g->w_len / 2] ^= 0x10;
	if (c->transfer_data_chk && ingenic_jamcrc(g->buf, g->w_len) != g->w_crc) {
		g->ack = -EINVAL; /* "crc is errr!" (§3.6) */
		goto out;
	}
	if (g->w_ops != OPS_SFC_NOR) {
		g->ack = -ENOSYS; /* no module for this medium */
		goto out;
	}
	/* Assumption: without a flash config or INIT the SFC module has no
	 * parameters; the burner reports a missing config as -EINVAL. */
	if (!c->sfc_valid || !g->init_done) {
		g->ack = -EINVAL;
		goto out;
	}
	len = burner_program_len(c, g->w_len);
	part = burner_partition(g, off, &ps, &pe);
	if (part < 0 || off + len > g->flash.nor.size) {
		g->ack = -EIO; /* "out of partition" */
		goto out;
	}
	if (c->spi_erase == 0 && c->part[part].manager_mode == MTD_D_MODE) {
		/* MTD_D_MODE: each write erases the blocks it covers. */
		t += spinor_erase(&g->flash, off, len, c->erase_size);
	} else if (c->spi_erase == 0 && !(g->erased_parts & (1u << part))) {
		/* spi_erase 0: the first write into a partition erases all of it. */
		t += spinor_erase(&g->flash, ps, pe - ps, c->erase_size);
		g->erased_parts |= 1u << part;
	}
	if (k == SIM_FAULT_PROGRAM_ERROR) {
		g->ack = -1; /* flash error */
		goto out;
	}
	t += spinor_program(&g->flash, off, g->buf, len, &ok);
	if (k == SIM_FAULT_DISTURB && off > 0)
		sim_nor_disturb(&g->flash.nor, off - 1);
	/* Over unerased cells the array keeps old & new; only the read-back
	 * check notices (-1), otherwise the error passes silently. */
	g->ack = ok == 1 || !c->write_back_chk ? 0 : -1;
out:
	ingenic_set_busy(b, t, "writing");
}

static int burner_init(struct sim_board *b)
{
	struct ingenic *g = ingenic(b);
	enum sim_fault_kind k;
	uint64_t t = g->t.command;

	/* Once per session (§3.1). */
	if (g->init_done) {
		g->ack = 0;
		return 0;
	}
	if (!g->cfg.sfc_valid) {
		g->ack = -EINVAL;
		return 0;
	}
	k = sim_board_fault_step(b, "init", SIM_FAULT_PROGRAM_ERROR);
	g->init_done = true;
	/* Assumption: INIT issues the config's EN4B (if any) to the chip. */
	spinor_host_init(&g->flash);
	g->ack = 0;
	if (g->cfg.spi_erase == 1) {
		/* Chip erase at INIT, GET_ACK blocks until it is done (§3.6). */
		if (k == SIM_FAULT_PROGRAM_ERROR)
			g->ack = -1;
		else
			t += spinor_chip_erase(&g->flash);
	}
	ingenic_set_busy(b, t, "erasing");
	return 0;
}

/* READ: the data and its CRC wait for GET_CRC, which starts the bulk IN. */
static void burner_read(struct sim_board *b)
{
	struct ingenic *g = ingenic(b);
	uint64_t off = g->w_part + g->w_off, t = g->t.command;
	uint32_t lanes, freq;
	uint8_t *p;

	g->r_queued = false;
	g->r_len = 0;
	g->r_crc = 0;
	if (g->w_ops != OPS_SFC_NOR) {
		g->r_ack = -ENOSYS;
	} else if (!g->cfg.sfc_valid) {
		g->r_ack = -EINVAL;
	} else if (off > g->flash.nor.size || g->w_len > g->flash.nor.size - off) {
		g->r_ack = -EIO;
	} else {
		p = realloc(g->rbuf, g->w_len ? g->w_len : 1);
		if (!p) {
			g->r_ack = -ENOMEM;
			goto out;
		}
		g->rbuf = p;
		spinor_read(&g->flash, (uint32_t)off, p, (uint32_t)g->w_len);
		g->r_len = g->w_len;
		g->r_crc = ingenic_jamcrc(p, g->w_len);
		g->r_ack = 0;
		/* Read at the configured SFC clock, 1 or 4 data lines. */
		freq = g->cfg.frequency ? g->cfg.frequency : 50000000;
		lanes = g->cfg.quad ? 4 : 1;
		t += (uint64_t)g->w_len * 8 * 1000000000ull / ((uint64_t)freq * lanes);
	}
out:
	g->ack = g->r_ack;
	ingenic_set_busy(b, t, "reading");
}

/* Blank at offset 0: the ROM finds no boot image and stays in USB boot (§6.3). */
static bool burner_flash_blank(const struct ingenic *g)
{
	size_t n = g->flash.nor.size < 4096 ? g->flash.nor.size : 4096;

	for (size_t i = 0; i < n; i++)
		if (g->flash.nor.mem[i] != 0xff)
			return false;
	return true;
}

int ingenic_burner_request(struct sim_board *b, struct sim_xfer *x)
{
	struct ingenic *g = ingenic(b);
	const struct sim_setup *s = &x->setup;
	bool in = s->bmRequestType & SIM_USB_DIR_IN;
	uint8_t v[8];
	uint64_t d;
	int ret;

	if ((s->bmRequestType & SIM_USB_TYPE_MASK) != SIM_USB_TYPE_VENDOR)
		goto stall;
	switch (s->bRequest) {
	case VR_GET_CPU_INFO:
		if (!in)
			goto stall;
		if (ingenic_fault(b, x, "cpu_info", 0, &ret))
			return ret;
		burner_reply(x, g->burner_info, strlen(g->burner_info));
		return SIM_XFER_DONE;
	case VR_SET_DATA_ADDR:
	case VR_SET_DATA_LEN:
		if (in)
			goto stall;
		g->full_size = (uint32_t)s->wValue << 16 | s->wIndex;
		return SIM_XFER_DONE;
	case VR_GET_ACK:
		if (!in)
			goto stall;
		if (ingenic_fault(b, x, "ack", 0, &ret))
			return ret;
		sim_put_le32(v, (uint32_t)g->ack);
		burner_reply(x, v, 4);
		return SIM_XFER_DONE;
	case VR_INIT:
		if (in)
			goto stall;
		if (ingenic_fault(b, x, "init", 0, &ret))
			return ret;
		return burner_init(b);
	case VR_WRITE:
	case VR_READ:
	case VR_UPDATE_CFG:
		if (in || x->len < (s->bRequest == VR_UPDATE_CFG ? 4 : 28))
			goto stall;
		if (s->bRequest == VR_UPDATE_CFG) {
			if (ingenic_fault(b, x, "config", 0, &ret))
				return ret;
			g->w_len = sim_get_le32(x->data);
			if (g->w_len > ARGS_MAX || ingenic_buf_reserve(g, g->w_len + 1) < 0) {
				g->ack = -EINVAL;
				goto stall;
			}
			g->pend = INGENIC_PEND_CFG;
		} else {
			g->w_part = get_le64(x->data);
			g->w_off = get_le64(x->data + 8);
			d = get_le64(x->data + 16);
			g->w_ops = sim_get_le32(x->data + 24);
			g->w_crc = x->len >= 32 ? sim_get_le32(x->data + 28) : 0;
			if (d > DATA_MAX) {
				g->ack = -EINVAL;
				goto stall;
			}
			g->w_len = d;
			if (s->bRequest == VR_READ) {
				burner_read(b);
				return SIM_XFER_DONE;
			}
			/* Room for the rounding up to whole erase blocks (§3.6). */
			if (ingenic_buf_reserve(g, (size_t)burner_program_len(&g->cfg, g->w_len) +
							   1) < 0) {
				g->ack = -ENOMEM;
				goto stall;
			}
			g->pend = INGENIC_PEND_WRITE;
		}
		/* Preset at SETUP time until the data is in (§3.1). */
		g->ack = -EBUSY;
		g->w_got = 0;
		if (g->w_len == 0) {
			/* Nothing to wait for. */
			g->pend = INGENIC_PEND_NONE;
			if (s->bRequest == VR_UPDATE_CFG)
				g->ack = burner_parse_cfg(g, g->buf, 0);
			else
				burner_write(b, SIM_FAULT_NONE);
		}
		return SIM_XFER_DONE;
	case VR_SYNC_TIME:
		if (in)
			goto stall;
		g->ack = 0;
		return SIM_XFER_DONE;
	case VR_GET_CRC:
		if (!in)
			goto stall;
		if (ingenic_fault(b, x, "read", 0, &ret))
			return ret;
		sim_put_le32(v, (uint32_t)g->r_ack);
		sim_put_le32(v + 4, g->r_crc);
		burner_reply(x, v, 8);
		if (g->r_ack >= 0) {
			g->r_queued = true;
			g->r_pos = 0;
		}
		return SIM_XFER_DONE;
	case VR_GET_FLASH_INFO: {
		const struct ingenic_cfg *c = &g->cfg;
		uint32_t id;

		if (!in)
			goto stall;
		if (ingenic_fault(b, x, "flash_info", 0, &ret))
			return ret;
		/* The info hook wants POLI as the first TLV of the last
		 * UPDATE_CFG with use_sfc_nor set; otherwise it answers 0
		 * (§3.5), which is why hosts send cfg #1 first. */
		id = c->present && c->first_is_poli && c->use_sfc_nor ? ingenic_jedec(g) : 0;
		sim_put_le32(v, id);
		burner_reply(x, v, 4);
		return SIM_XFER_DONE;
	}
	case VR_REBOOT:
	case VR_POWEROFF:
		if (in)
			goto stall;
		if (ingenic_fault(b, x, "reboot", 0, &ret))
			return ret;
		/* Acknowledged, then the part resets and drops off the bus. */
		d = x->delay_ns + sim_board_scaled(b, g->t.reboot);
		if (s->bRequest == VR_POWEROFF) {
			ingenic_rom_power_on(g);
			g->stage = INGENIC_OFF;
			g->busy_what = "powered-off";
			sim_board_disconnect(b, d);
		} else if (burner_flash_blank(g)) {
			ingenic_rom_power_on(g);
			sim_board_disconnect(b, d);
			sim_board_connect(b, d + sim_board_scaled(b, g->t.rom_boot));
		} else {
			/* It boots what it was just given: not USB any more. */
			ingenic_rom_power_on(g);
			g->stage = INGENIC_OFF;
			g->busy_what = "booted-flash";
			sim_board_disconnect(b, d);
		}
		return SIM_XFER_DONE;
	default:
		break;
	}
stall:
	/* Unknown requests: ack = -ENOSYS and a STALL (§3.1). */
	if (s->bRequest != VR_WRITE && s->bRequest != VR_UPDATE_CFG && s->bRequest != VR_READ)
		g->ack = -ENOSYS;
	x->status = -EPIPE;
	return SIM_XFER_DONE;
}

int ingenic_burner_data(struct sim_board *b, struct sim_xfer *x)
{
	struct ingenic *g = ingenic(b);
	enum sim_fault_kind k;
	size_t n;
	int ret;

	if (x->ep & SIM_USB_DIR_IN) {
		/* Without GET_CRC the burner queued nothing: NAK forever. */
		if (!g->r_queued)
			return sim_board_hang(b, x);
		k = ingenic_fault(b, x, "read", SIM_FAULT_CORRUPT_UPLOAD, &ret);
		if (k != SIM_FAULT_NONE && k != SIM_FAULT_CORRUPT_UPLOAD)
			return ret;
		n = g->r_len - g->r_pos;
		if (n > x->len)
			n = x->len;
		memcpy(x->data, g->rbuf + g->r_pos, n);
		if (k == SIM_FAULT_CORRUPT_UPLOAD && n)
			x->data[n / 2] ^= 0x10;
		x->actual = n;
		g->r_pos += n;
		if (g->r_pos >= g->r_len)
			g->r_queued = false;
		return SIM_XFER_DONE;
	}

	if (g->pend == INGENIC_PEND_NONE)
		return sim_board_hang(b, x); /* no OUT request queued: NAK forever */
	/* Hosts split one WRITE's data over several bulk transfers (libusb:
	 * 16 KiB URBs): transfer faults may hit any of them, data faults are
	 * decided once, when the data is complete (burner_write). */
	if (ingenic_fault(b, x, g->pend == INGENIC_PEND_CFG ? "config" : "write", 0, &ret))
		return ret;
	/* The burner queued exactly `length` bytes; more is not taken. */
	n = g->w_len - g->w_got;
	if (n > x->len)
		n = x->len;
	memcpy(g->buf + g->w_got, x->data, n);
	g->w_got += n;
	if (g->w_got < g->w_len)
		return SIM_XFER_DONE;
	if (g->pend == INGENIC_PEND_CFG) {
		g->pend = INGENIC_PEND_NONE;
		g->ack = burner_parse_cfg(g, g->buf, g->w_len);
		ingenic_set_busy(b, g->t.command, "config");
		return SIM_XFER_DONE;
	}
	g->pend = INGENIC_PEND_NONE;
	k = sim_board_fault_step(b, "write",
				 SIM_FAULT_PROGRAM_ERROR | SIM_FAULT_CORRUPT_DOWNLOAD |
					 SIM_FAULT_DISTURB);
	burner_write(b, k);
	return SIM_XFER_DONE;
}
