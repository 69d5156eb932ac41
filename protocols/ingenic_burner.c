/*
 * This file implements the Ingenic burner engine (ingenic_burner.h): the
 * stage-2 "cloner" requests GET_ACK, INIT, WRITE, READ, UPDATE_CFG, REBOOT,
 * GET_CRC and GET_FLASH_INFO of protocol-ingenic.md §3, on top of the
 * transport in ingenic_usb.c and the wire formats in ingenic_cfg.c.
 */
#include "protocols/ingenic_burner.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/crc32.h"
#include "protocols/ingenic_usb.h"

#define PREFIX_RET(r, e, ...) err_prefix(e, r, __VA_ARGS__)

/* GET_FLASH_INFO: the host reads 3 bytes although the device writes a u32 (§3.5). */
#define BURNER_JEDEC_LEN 3
/* GET_CRC answers {int32 ack; u32 crc} (§3.1). */
#define BURNER_CRC_REPLY_LEN 8
/* Ack values of the burner, U-Boot's errno numbering (§3.6). */
#define BURNER_ACK_EPERM (-1)
#define BURNER_ACK_EIO (-5)
#define BURNER_ACK_EBUSY (-16)
#define BURNER_ACK_EINVAL (-22)
#define BURNER_ACK_ENOSYS (-38)
/* After REBOOT: GET_CPU_INFO every 50 ms until the device is gone. */
#define BURNER_REBOOT_POLL_MS 50
/*
 * Erase time per KiB assumed for a partition erase until one was timed:
 * a 64 KiB block erase, typically 150 ms on the W25Q128JV (datasheet tBE2)
 * and the XM25QH128A; only drives the progress shown, never a deadline.
 */
#define BURNER_ERASE_TYP_US_PER_KIB 2344
/* Learned by the last timed partition erase of this process (0: none yet):
 * one station flashes the same parts, so the next board starts from it. */
static _Atomic uint64_t burner_erase_learned_us_per_kib;

struct burner {
	struct usb_dev *usb; /* not owned */
	unsigned int pct;
	bool claimed;
	char cpu[INGENIC_CPU_INFO_LEN + 1];
	bool configured;
	struct ingenic_cfg cfg;
	/* partition erase mode: partitions already erased by a first write */
	bool part_erased[INGENIC_CFG_MAX_PARTS];
	uint64_t write_len; /* the running burner_write(): its phase's total */
};

static unsigned int ms(const struct burner *b, unsigned int v)
{
	return ingenic_usb_scale(v, b->pct);
}

static int32_t le32(const uint8_t *p)
{
	return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
			 (uint32_t)p[3] << 24);
}

int burner_open(struct usb_dev *usb, struct burner **ret, struct err *e)
{
	uint8_t raw[INGENIC_CPU_INFO_LEN];
	struct burner *b;
	int r;

	b = calloc(1, sizeof(*b));
	if (!b)
		return err_set(e, -ENOMEM, "burner: out of memory");
	b->usb = usb;
	b->pct = 100;
	r = usb_claim(usb, e);
	if (r < 0) {
		free(b);
		return r;
	}
	b->claimed = true;
	r = ingenic_usb_in(usb, INGENIC_USB_GET_CPU_INFO, 0, raw, sizeof(raw),
			   ms(b, BURNER_CTRL_TIMEOUT_MS), e);
	if (r < 0) {
		burner_close(b);
		return PREFIX_RET(r, e, "burner: GET_CPU_INFO");
	}
	if (ingenic_cfg_cpu_kind(raw, (size_t)r, b->cpu) == INGENIC_CPU_ROM) {
		r = err_set(e, -EPROTO, "burner: not running, CPU info is the boot ROM's '%s'",
			    b->cpu);
		burner_close(b);
		return r;
	}
	*ret = b;
	return 0;
}

struct burner *burner_close(struct burner *b)
{
	if (!b)
		return NULL;
	if (b->claimed)
		usb_release(b->usb);
	free(b);
	return NULL;
}

void burner_set_deadline_pct(struct burner *b, unsigned int pct)
{
	b->pct = pct ? pct : 100;
}

const char *burner_cpu_info(const struct burner *b)
{
	return b->cpu;
}

/*
 * Wait for the reply of GET_ACK or GET_CRC (first word: ack).  The request
 * does not complete while the burner works (§0.4); each transfer gets a
 * slice of BURNER_ACK_SLICE_MS and is re-issued until deadline_ms, and an
 * ack of -EBUSY ("accepted, data not yet processed") is polled again.
 */
static int wait_reply(struct burner *b, enum ingenic_usb_req req, const char *what,
		      unsigned int deadline_ms, uint8_t *buf, uint16_t len, struct err *e)
{
	uint64_t t0 = usb_now_ms();
	int r;

	for (;;) {
		uint64_t spent = usb_now_ms() - t0;
		unsigned int slice = ms(b, BURNER_ACK_SLICE_MS);

		if (spent >= deadline_ms)
			return err_set(e, -ETIMEDOUT, "%s: no %s within %u ms", what,
				       ingenic_usb_req_name(req), deadline_ms);
		if (slice > deadline_ms - spent)
			slice = (unsigned int)(deadline_ms - spent);
		r = ingenic_usb_in(b->usb, req, 0, buf, len, slice, e);
		if (r == -ETIMEDOUT) {
			err_clear(e); /* still working, not a failure: ask again */
			continue;
		}
		if (r < 0)
			return PREFIX_RET(r, e, "%s: %s", what, ingenic_usb_req_name(req));
		if (r != len)
			return err_set(e, -EPROTO, "%s: %s answered %d of %u bytes", what,
				       ingenic_usb_req_name(req), r, len);
		if (le32(buf) != BURNER_ACK_EBUSY)
			return 0;
		r = usb_sleep_ms(b->usb, ms(b, BURNER_ACK_BUSY_POLL_MS), e);
		if (r < 0)
			return r;
	}
}

/* GET_ACK: 0 and *ack, or a transfer/timeout error. */
static int get_ack(struct burner *b, const char *what, unsigned int deadline_ms, int32_t *ack,
		   struct err *e)
{
	uint8_t v[4];
	int r = wait_reply(b, INGENIC_USB_GET_ACK, what, deadline_ms, v, sizeof(v), e);

	if (r < 0)
		return r;
	*ack = le32(v);
	return 0;
}

/* A non-zero ack as -errno with a message (the caller names the step). */
static int ack_error(int32_t ack, const char *what, struct err *e)
{
	switch (ack) {
	case BURNER_ACK_EIO:
		return err_set(e, -EIO,
			       "%s: burner reports an I/O error or out of partition (ack %d)", what,
			       ack);
	case BURNER_ACK_EPERM:
		return err_set(e, -EIO, "%s: burner reports a flash or write-back error (ack %d)",
			       what, ack);
	case BURNER_ACK_EINVAL:
		return err_set(e, -EINVAL, "%s: burner reports invalid data or config (ack %d)",
			       what, ack);
	case BURNER_ACK_ENOSYS:
		return err_set(e, -EOPNOTSUPP, "%s: burner has no module for this medium (ack %d)",
			       what, ack);
	default:
		return err_set(e, -EPROTO, "%s: burner answered ack %d", what, ack);
	}
}

/* UPDATE_CFG: 40-byte command with the length, the TLVs as bulk OUT, then ack 0 (§3.1). */
static int update_cfg(struct burner *b, const uint8_t *cfg, size_t len, const char *what,
		      struct err *e)
{
	uint8_t cmd[INGENIC_CMD_LEN];
	int32_t ack;
	int r;

	ingenic_cfg_cmd_update(cmd, (uint32_t)len);
	r = ingenic_usb_out(b->usb, INGENIC_USB_UPDATE_CFG, 0, cmd, sizeof(cmd),
			    ms(b, BURNER_CTRL_TIMEOUT_MS), e);
	if (r < 0)
		return PREFIX_RET(r, e, "%s: UPDATE_CFG", what);
	r = ingenic_usb_bulk_out(b->usb, cfg, len, ms(b, BURNER_BULK_TIMEOUT_MS), e);
	if (r < 0)
		return PREFIX_RET(r, e, "%s: UPDATE_CFG data", what);
	r = get_ack(b, what, ms(b, BURNER_ACK_TIMEOUT_MS), &ack, e);
	if (r < 0)
		return r;
	if (ack != 0)
		return ack_error(ack, what, e);
	return 0;
}

int burner_read_jedec(struct burner *b, enum ingenic_flash flash, uint32_t *ret, struct err *e)
{
	uint8_t buf[INGENIC_CFG_POLICY_LEN], raw[BURNER_JEDEC_LEN];
	struct ingenic_cfg c;
	ssize_t n;
	uint32_t id;
	int r;

	if (flash != INGENIC_FLASH_SFC_NOR)
		return err_set(e, -EOPNOTSUPP, "JEDEC ID: only SFC NOR reports one");
	ingenic_cfg_init(&c);
	c.flash = flash;
	n = ingenic_cfg_build_policy(&c, buf, sizeof(buf), e);
	if (n < 0)
		return (int)n;
	/* The burner now holds only the policy: a flash config must be sent again. */
	b->configured = false;
	r = update_cfg(b, buf, (size_t)n, "JEDEC ID: policy config", e);
	if (r < 0)
		return r;
	r = ingenic_usb_in(b->usb, INGENIC_USB_GET_FLASH_INFO, 0, raw, sizeof(raw),
			   ms(b, BURNER_CTRL_TIMEOUT_MS), e);
	if (r < 0)
		return PREFIX_RET(r, e, "JEDEC ID: GET_FLASH_INFO");
	if (r != BURNER_JEDEC_LEN)
		return err_set(e, -EPROTO, "JEDEC ID: GET_FLASH_INFO answered %d of %d bytes", r,
			       BURNER_JEDEC_LEN);
	id = ingenic_cfg_jedec(raw);
	/* The burner answers 0 when RDID failed (§3.5); all ones is a floating bus. */
	if (id == 0 || id == 0xffffff)
		return err_set(e, -EIO, "JEDEC ID: no SPI NOR answered (0x%06x)", id);
	*ret = id;
	return 0;
}

static void set_config(struct burner *b, const struct ingenic_cfg *cfg)
{
	b->cfg = *cfg;
	b->configured = true;
	memset(b->part_erased, 0, sizeof(b->part_erased));
}

void burner_assume_config(struct burner *b, const struct ingenic_cfg *cfg)
{
	set_config(b, cfg);
}

static void erase_phase_begin(struct burner *b, uint64_t bytes);
static void erase_phase_end(struct burner *b, uint64_t bytes, uint64_t spent_ms);

int burner_configure(struct burner *b, const struct ingenic_cfg *cfg, struct err *e)
{
	uint8_t buf[INGENIC_CFG_FULL_LEN];
	unsigned int deadline;
	uint64_t t0;
	int32_t ack;
	ssize_t n;
	int r;

	n = ingenic_cfg_build(cfg, buf, sizeof(buf), e);
	if (n < 0)
		return (int)n;
	b->configured = false;
	r = update_cfg(b, buf, (size_t)n, "flash config", e);
	if (r < 0)
		return r;
	r = ingenic_usb_out(b->usb, INGENIC_USB_INIT, 0, NULL, 0, ms(b, BURNER_CTRL_TIMEOUT_MS), e);
	if (r < 0)
		return PREFIX_RET(r, e, "INIT");
	deadline = cfg->erase == INGENIC_ERASE_CHIP ? BURNER_INIT_ERASE_TIMEOUT_MS
						    : BURNER_INIT_TIMEOUT_MS;
	t0 = usb_now_ms();
	if (cfg->erase == INGENIC_ERASE_CHIP)
		erase_phase_begin(b, cfg->nor.chip_size);
	r = get_ack(b, cfg->erase == INGENIC_ERASE_CHIP ? "INIT (chip erase)" : "INIT",
		    ms(b, deadline), &ack, e);
	if (r < 0)
		return r;
	if (cfg->erase == INGENIC_ERASE_CHIP)
		erase_phase_end(b, cfg->nor.chip_size, usb_now_ms() - t0);
	if (ack != 0)
		return ack_error(ack, "INIT", e);
	set_config(b, cfg);
	return 0;
}

/*
 * Deadline of the GET_ACK after one WRITE: the vendor's 50 s plus the erase
 * the burner does inside this write (§3.6): the whole partition on its
 * first write (spi_erase 0), the chunk's own blocks in MTD_D_MODE.
 */
static unsigned int write_deadline(struct burner *b, unsigned int part, uint64_t off, size_t n)
{
	const struct ingenic_cfg *c = &b->cfg;
	uint64_t blk = c->nor.erase_size ? c->nor.erase_size : 64 * 1024, erase_bytes = 0, v;

	if (c->erase == INGENIC_ERASE_PARTITION && !b->part_erased[part])
		erase_bytes = c->parts[part].size;
	else if (c->erase == INGENIC_ERASE_RANGE)
		erase_bytes = (off + n + blk - 1) / blk * blk - off / blk * blk;
	v = BURNER_ACK_TIMEOUT_MS + (erase_bytes + blk - 1) / blk * BURNER_ERASE_MS_PER_BLOCK;
	return ms(b, v > UINT32_MAX ? UINT32_MAX : (unsigned int)v);
}

/* Bytes the burner erases inside the next WRITE's reply before writing
 * (the whole partition on its first write, §3.6), 0 if none. */
static uint64_t pending_part_erase(const struct burner *b, unsigned int part)
{
	if (b->cfg.erase == INGENIC_ERASE_PARTITION && !b->part_erased[part])
		return b->cfg.parts[part].size;
	return 0;
}

/* The erase phase starts: its expected time from the learned (or typical) rate. */
static void erase_phase_begin(struct burner *b, uint64_t bytes)
{
	uint64_t us = burner_erase_learned_us_per_kib;

	if (!us)
		us = BURNER_ERASE_TYP_US_PER_KIB;
	usb_phase(b->usb, USB_PHASE_ERASE, 0, bytes, (bytes + 1023) / 1024 * us / 1000 + 1);
}

/* The reply came: the erase is over; learn its rate for the next one. */
static void erase_phase_end(struct burner *b, uint64_t bytes, uint64_t spent_ms)
{
	if (bytes >= 64 * 1024 && spent_ms > 0)
		burner_erase_learned_us_per_kib = spent_ms * 1000 / (bytes / 1024);
	usb_phase(b->usb, USB_PHASE_ERASE, bytes, bytes, 0);
}

static int write_chunk(struct burner *b, unsigned int part, uint64_t off, const uint8_t *p,
		       size_t n, struct err *e)
{
	uint8_t cmd[INGENIC_CMD_LEN];
	uint32_t jam = ingenic_cfg_jamcrc(INGENIC_JAMCRC_INIT, p, n);
	uint64_t erase_bytes, t0;
	char what[48];
	int32_t ack;
	int r;

	snprintf(what, sizeof(what), "write 0x%08llx", (unsigned long long)off);
	ingenic_cfg_cmd_write(cmd, off, n, ingenic_cfg_ops(b->cfg.flash), jam);
	r = ingenic_usb_out(b->usb, INGENIC_USB_WRITE, 0, cmd, sizeof(cmd),
			    ms(b, BURNER_CTRL_TIMEOUT_MS), e);
	if (r < 0)
		return PREFIX_RET(r, e, "%s: WRITE", what);
	r = ingenic_usb_bulk_out(b->usb, p, n, ms(b, BURNER_BULK_TIMEOUT_MS), e);
	if (r < 0)
		return PREFIX_RET(r, e, "%s: data", what);
	erase_bytes = pending_part_erase(b, part);
	t0 = usb_now_ms();
	if (erase_bytes)
		erase_phase_begin(b, erase_bytes);
	r = get_ack(b, what, write_deadline(b, part, off, n), &ack, e);
	if (r < 0)
		return r;
	if (erase_bytes) {
		erase_phase_end(b, erase_bytes, usb_now_ms() - t0);
		usb_phase(b->usb, USB_PHASE_WRITE, 0, b->write_len, 0);
	}
	/* The partition erase happened (or failed half-way); never budget it twice. */
	b->part_erased[part] = true;
	if (ack == BURNER_ACK_EINVAL && b->cfg.transfer_check)
		/* With transfer_data_chk the burner recomputes the JAMCRC of what it got (§3.6). */
		return err_set(
			e, -EILSEQ,
			"%s: device CRC check failed (ack %d, host JAMCRC 0x%08x, %zu bytes)", what,
			ack, jam, n);
	if (ack != 0)
		return ack_error(ack, what, e);
	return 0;
}

/*
 * Length of the next WRITE at flash offset pos: a full transfer_size chunk,
 * or for the rest a whole number of erase blocks and then the sub-block
 * tail, because the burner rounds a piece of at least one block up to
 * whole blocks (§3.6).  In MTD_D_MODE each WRITE erases the blocks it
 * touches, so a write that starts inside a block first fills that block:
 * no later chunk then shares (and erases) a block an earlier one wrote.
 */
static size_t next_chunk(const struct ingenic_cfg *c, uint64_t pos, size_t left)
{
	size_t blk = c->nor.erase_size ? c->nor.erase_size : 64 * 1024;
	size_t lead = pos % blk ? blk - (size_t)(pos % blk) : 0;

	if (c->erase == INGENIC_ERASE_RANGE && lead && left > lead)
		return lead;
	if (left >= c->transfer_size)
		return c->transfer_size;
	if (left > blk && left % blk)
		return left - left % blk;
	return left;
}

static int read_chunk(struct burner *b, uint64_t off, uint8_t *p, size_t n, struct err *e)
{
	uint8_t cmd[INGENIC_CMD_LEN], reply[BURNER_CRC_REPLY_LEN];
	char what[48];
	uint32_t dev, jam;
	int32_t ack;
	int r;

	snprintf(what, sizeof(what), "read 0x%08llx", (unsigned long long)off);
	ingenic_cfg_cmd_read(cmd, off, n, ingenic_cfg_ops(b->cfg.flash));
	r = ingenic_usb_out(b->usb, INGENIC_USB_READ, 0, cmd, sizeof(cmd),
			    ms(b, BURNER_CTRL_TIMEOUT_MS), e);
	if (r < 0)
		return PREFIX_RET(r, e, "%s: READ", what);
	/* GET_CRC waits for the flash read, then queues the bulk IN data (§3.6). */
	r = wait_reply(b, INGENIC_USB_GET_CRC, what, ms(b, BURNER_ACK_TIMEOUT_MS), reply,
		       sizeof(reply), e);
	if (r < 0)
		return r;
	ack = le32(reply);
	if (ack != 0)
		return ack_error(ack, what, e);
	dev = (uint32_t)le32(reply + 4);
	r = ingenic_usb_bulk_in(b->usb, p, n, ms(b, BURNER_BULK_TIMEOUT_MS), e);
	if (r < 0)
		return PREFIX_RET(r, e, "%s: data", what);
	if ((size_t)r != n)
		return err_set(e, -EIO, "%s: short read, %d of %zu bytes", what, r, n);
	jam = ingenic_cfg_jamcrc(INGENIC_JAMCRC_INIT, p, n);
	if (b->cfg.transfer_check && jam != dev)
		return err_set(e, -EILSEQ, "%s: JAMCRC of the data 0x%08x, burner reported 0x%08x",
			       what, jam, dev);
	r = get_ack(b, what, ms(b, BURNER_ACK_TIMEOUT_MS), &ack, e);
	if (r < 0)
		return r;
	if (ack != 0)
		return ack_error(ack, what, e);
	return 0;
}

static int check_range(struct burner *b, const char *what, uint64_t offset, size_t len,
		       struct err *e)
{
	int part;

	if (!b->configured)
		return err_set(e, -EPROTO, "%s: no flash config sent to the burner", what);
	if (len == 0 || len > UINT32_MAX)
		return err_set(e, -EINVAL, "%s 0x%08llx: length %zu", what,
			       (unsigned long long)offset, len);
	part = ingenic_cfg_find_partition(&b->cfg, offset, len, e);
	if (part < 0)
		return PREFIX_RET(part, e, "%s", what);
	return part;
}

int burner_read(struct burner *b, uint64_t offset, uint8_t *buf, size_t len,
		usb_progress_cb_t progress, void *ud, struct err *e)
{
	int r = check_range(b, "read", offset, len, e);

	if (r < 0)
		return r;
	for (size_t o = 0; o < len;) {
		size_t n = len - o < b->cfg.transfer_size ? len - o : b->cfg.transfer_size;

		r = read_chunk(b, offset + o, buf + o, n, e);
		if (r < 0)
			return r;
		o += n;
		if (progress)
			progress(ud, o, len);
	}
	return 0;
}

/* Read back what burner_write() wrote, chunk by chunk, into one reused buffer. */
static int verify(struct burner *b, uint64_t offset, const uint8_t *buf, size_t len,
		  usb_progress_cb_t progress, void *ud, struct burner_result *res, struct err *e)
{
	_cleanup_free_ uint8_t *tmp = malloc(b->cfg.transfer_size);
	uint32_t crc = 0;
	int r;

	if (!tmp)
		return err_set(e, -ENOMEM, "verify: out of memory");
	usb_phase(b->usb, USB_PHASE_VERIFY, 0, len, 0);
	for (size_t o = 0; o < len;) {
		size_t n = len - o < b->cfg.transfer_size ? len - o : b->cfg.transfer_size;

		r = read_chunk(b, offset + o, tmp, n, e);
		if (r < 0)
			return PREFIX_RET(r, e, "verify");
		crc = crc32_update(crc, tmp, n);
		res->dev_crc = crc;
		if (memcmp(tmp, buf + o, n) != 0) {
			size_t i = 0;

			while (tmp[i] == buf[o + i])
				i++;
			return err_set(
				e, -EILSEQ,
				"verify 0x%08llx: first difference at 0x%08llx (wrote 0x%02x, read 0x%02x)",
				(unsigned long long)(offset + o),
				(unsigned long long)(offset + o + i), buf[o + i], tmp[i]);
		}
		o += n;
		res->bytes_verified = o;
		if (progress)
			progress(ud, len + o, 2 * (uint64_t)len);
	}
	res->verified = true;
	return 0;
}

int burner_write(struct burner *b, uint64_t offset, const uint8_t *buf, size_t len,
		 unsigned int flags, usb_progress_cb_t progress, void *ud,
		 struct burner_result *ret, struct err *e)
{
	struct burner_result res = { 0 };
	bool readback = flags & BURNER_VERIFY_READBACK;
	uint64_t total = readback ? 2 * (uint64_t)len : len;
	int part, r;

	part = check_range(b, "write", offset, len, e);
	if (part < 0) {
		r = part;
		goto out;
	}
	res.device_checked = b->cfg.transfer_check;
	b->write_len = len;
	usb_phase(b->usb, USB_PHASE_WRITE, 0, len, 0);
	/* Hosts announce the whole size first; the burner keeps it as full_size (§3.1). */
	r = ingenic_usb_out(b->usb, INGENIC_USB_SET_DATA_LEN, (uint32_t)len, NULL, 0,
			    ms(b, BURNER_CTRL_TIMEOUT_MS), e);
	if (r < 0) {
		err_prefix(e, r, "write 0x%08llx: SET_DATA_LEN %zu", (unsigned long long)offset,
			   len);
		goto out;
	}
	for (size_t o = 0; o < len;) {
		size_t n = next_chunk(&b->cfg, offset + o, len - o);

		r = write_chunk(b, (unsigned int)part, offset + o, buf + o, n, e);
		if (r < 0)
			goto out;
		res.host_crc = crc32_update(res.host_crc, buf + o, n);
		res.bytes_written += n;
		res.chunks++;
		o += n;
		if (progress)
			progress(ud, o, total);
	}
	r = readback ? verify(b, offset, buf, len, progress, ud, &res, e) : 0;
out:
	if (ret)
		*ret = res;
	return r < 0 ? r : 0;
}

int burner_reboot(struct burner *b, bool *ret_gone, struct err *e)
{
	uint64_t t0;
	bool gone = false;
	uint8_t raw[INGENIC_CPU_INFO_LEN];
	int r;

	/* The burner resets while answering; an error here is expected (§3.1, [IFT-usb]). */
	r = ingenic_usb_out(b->usb, INGENIC_USB_REBOOT, 0, NULL, 0, ms(b, BURNER_CTRL_TIMEOUT_MS),
			    e);
	if (r == -ECANCELED)
		return r;
	b->configured = false;
	t0 = usb_now_ms();
	while (usb_now_ms() - t0 < ms(b, BURNER_REBOOT_GONE_MS)) {
		r = ingenic_usb_in(b->usb, INGENIC_USB_GET_CPU_INFO, 0, raw, sizeof(raw),
				   ms(b, BURNER_REBOOT_POLL_MS), e);
		if (r == -ENODEV) {
			gone = true;
			break;
		}
		r = usb_sleep_ms(b->usb, ms(b, BURNER_REBOOT_POLL_MS), e);
		if (r < 0)
			return r;
	}
	err_clear(e);
	if (ret_gone)
		*ret_gone = gone;
	return 0;
}
