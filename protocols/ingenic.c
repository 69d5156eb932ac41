/*
 * This file implements the Ingenic boot-ROM engine (ingenic.h): CPU info,
 * memory access through the ROM's download path, the eFuse shadow UID read
 * and the boot chain ROM -> SPL -> burner (protocol-ingenic.md §2, §5).
 */
#include "protocols/ingenic.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocols/ingenic_usb.h"

#define PREFIX_RET(r, e, ...) err_prefix(e, r, __VA_ARGS__)

/* Stage-1 padding unit of the first-generation XBurst1 ROMs (§2.3, [TDFU-boot]). */
#define INGENIC_SPL_ALIGN 32
/*
 * SPL load limits: how much the ROM can hold at spl_addr before DDR is up.
 * d2i_len is not one (§2.3: it is what the ROM moves to I-cache): a real
 * T31 takes a 32,384-byte SPL with d2i_len 0x7000 (ingenic-flash-tool's
 * log, §0 of its README).  No ROM document gives the T-series figure; the
 * bound used is the 128 KiB L2 cache that must hold cache-as-RAM from
 * 0x80000000 (T20/T30/T31 "L2 Cache 128KB", themactep/wiki
 * en/hardware-ingenic.md), minus the 0x1800 below the SPL (inference).
 * X1000/X1500: 16 KiB TCSM at 0xF4000000, SPL at +0x1800 -> 0x2800
 * (Rockbox target/mips/ingenic_x1000 SPL linker script, [RB-jz-x1000]).
 * X2000: not known (0, no check).  Same table in tests/sim/boards/README.md.
 */
#define INGENIC_SPL_MAX_CAR (0x20000u - 0x1800u)
#define INGENIC_SPL_MAX_TCSM (0x4000u - 0x1800u)

/*
 * §2.2 memory maps: T-series and X1830 use cache-as-RAM at 0x8000xxxx,
 * X1000/X1500 TCSM at 0xF400xxxx, X2000 SRAM at 0xB240xxxx; the burner goes
 * to 0x80100000 everywhere.  d2i_len: 0x4000 on T20, 0x7000 on the other
 * T-series, none on X1000/X2000.  pad_spl_32: T10/T20/T21/T30 (§2.3).
 * efuse_uid: the T-series shadow window (§5); not documented for X parts.
 */
static const struct ingenic_soc socs[] = {
	{ "t20", 0x80001000, 0x80001800, 0x80100000, 0x4000, true, true, INGENIC_SPL_MAX_CAR },
	{ "t21", 0x80001000, 0x80001800, 0x80100000, 0x7000, true, true, INGENIC_SPL_MAX_CAR },
	{ "t23", 0x80001000, 0x80001800, 0x80100000, 0x7000, false, true, INGENIC_SPL_MAX_CAR },
	{ "t30", 0x80001000, 0x80001800, 0x80100000, 0x7000, true, true, INGENIC_SPL_MAX_CAR },
	{ "t31", 0x80001000, 0x80001800, 0x80100000, 0x7000, false, true, INGENIC_SPL_MAX_CAR },
	{ "t40", 0x80001000, 0x80001800, 0x80100000, 0x7000, false, true, INGENIC_SPL_MAX_CAR },
	{ "t41", 0x80001000, 0x80001800, 0x80100000, 0x7000, false, true, INGENIC_SPL_MAX_CAR },
	{ "a1", 0x80001000, 0x80001800, 0x80100000, 0x7000, false, true, INGENIC_SPL_MAX_CAR },
	{ "x1000", 0xf4001000, 0xf4001800, 0x80100000, 0, false, false, INGENIC_SPL_MAX_TCSM },
	{ "x1500", 0xf4001000, 0xf4001800, 0x80100000, 0, false, false, INGENIC_SPL_MAX_TCSM },
	{ "x1830", 0x80001000, 0x80001800, 0x80100000, 0x7000, false, false, INGENIC_SPL_MAX_CAR },
	{ "x2000", 0xb2401000, 0xb2401800, 0x80100000, 0, false, false, 0 },
};

struct ingenic {
	struct usb_dev *usb; /* not owned */
	const struct ingenic_soc *soc;
	unsigned int pct;
	bool claimed;
	bool stage1_started; /* START1 sent: eFuse shadow gone, START1 spent */
};

const struct ingenic_soc *ingenic_soc_find(const char *name)
{
	for (size_t i = 0; name && i < ARRAY_SIZE(socs); i++)
		if (strcmp(socs[i].name, name) == 0)
			return &socs[i];
	return NULL;
}

int ingenic_open(struct usb_dev *usb, const struct ingenic_soc *soc, struct ingenic **ret,
		 struct err *e)
{
	struct ingenic *g;
	int r;

	if (!soc)
		return err_set(e, -EINVAL, "Ingenic ROM: no SoC given");
	g = calloc(1, sizeof(*g));
	if (!g)
		return err_set(e, -ENOMEM, "Ingenic ROM: out of memory");
	g->usb = usb;
	g->soc = soc;
	g->pct = 100;
	r = usb_claim(usb, e);
	if (r < 0) {
		free(g);
		return r;
	}
	g->claimed = true;
	*ret = g;
	return 0;
}

struct ingenic *ingenic_close(struct ingenic *g)
{
	if (!g)
		return NULL;
	if (g->claimed)
		usb_release(g->usb);
	free(g);
	return NULL;
}

void ingenic_set_deadline_pct(struct ingenic *g, unsigned int pct)
{
	g->pct = pct ? pct : 100;
}

static unsigned int ms(const struct ingenic *g, unsigned int v)
{
	return ingenic_usb_scale(v, g->pct);
}

int ingenic_cpu_info(struct ingenic *g, unsigned int timeout_ms, struct ingenic_cpu_info *ret,
		     struct err *e)
{
	int r;

	memset(ret, 0, sizeof(*ret));
	r = ingenic_usb_in(g->usb, INGENIC_USB_GET_CPU_INFO, 0, ret->raw, INGENIC_CPU_INFO_LEN,
			   timeout_ms ? timeout_ms : ms(g, INGENIC_CTRL_TIMEOUT_MS), e);
	if (r < 0)
		return PREFIX_RET(r, e, "GET_CPU_INFO");
	ret->len = (size_t)r;
	ret->kind = ingenic_cfg_cpu_kind(ret->raw, ret->len, ret->text);
	if (r == 0)
		return err_set(e, -EPROTO, "GET_CPU_INFO: empty answer");
	return 0;
}

/* SET_DATA_ADDR then SET_DATA_LEN, the vendor Cloner's order (§2.1). */
static int set_addr_len(struct ingenic *g, uint32_t addr, uint32_t len, struct err *e)
{
	int r;

	r = ingenic_usb_out(g->usb, INGENIC_USB_SET_DATA_ADDR, addr, NULL, 0,
			    ms(g, INGENIC_CTRL_TIMEOUT_MS), e);
	if (r < 0)
		return PREFIX_RET(r, e, "SET_DATA_ADDR 0x%08x", addr);
	r = ingenic_usb_out(g->usb, INGENIC_USB_SET_DATA_LEN, len, NULL, 0,
			    ms(g, INGENIC_CTRL_TIMEOUT_MS), e);
	if (r < 0)
		return PREFIX_RET(r, e, "SET_DATA_LEN %u", len);
	return 0;
}

/* Memory write with progress relative to a running total. */
static int load(struct ingenic *g, uint32_t addr, const uint8_t *buf, size_t len,
		usb_progress_cb_t progress, void *ud, uint64_t *done, uint64_t total, struct err *e)
{
	int r;

	if (len == 0 || len > UINT32_MAX)
		return err_set(e, -EINVAL, "load 0x%08x: length %zu", addr, len);
	r = set_addr_len(g, addr, (uint32_t)len, e);
	if (r < 0)
		return r;
	for (size_t o = 0; o < len; o += INGENIC_ROM_BULK_MAX) {
		size_t n = len - o < INGENIC_ROM_BULK_MAX ? len - o : INGENIC_ROM_BULK_MAX;

		r = ingenic_usb_bulk_out(g->usb, buf + o, n, ms(g, INGENIC_BULK_TIMEOUT_MS), e);
		if (r < 0)
			return PREFIX_RET(r, e, "at 0x%08zx", (size_t)addr + o);
		if (done) {
			*done += n;
			if (progress)
				progress(ud, *done, total);
		}
	}
	return 0;
}

int ingenic_write_mem(struct ingenic *g, uint32_t addr, const uint8_t *buf, size_t len,
		      struct err *e)
{
	int r = load(g, addr, buf, len, NULL, NULL, NULL, 0, e);

	return r < 0 ? PREFIX_RET(r, e, "write memory") : 0;
}

int ingenic_read_mem(struct ingenic *g, uint32_t addr, uint8_t *buf, size_t len, struct err *e)
{
	int r;

	if (len == 0 || len > UINT32_MAX)
		return err_set(e, -EINVAL, "read memory 0x%08x: length %zu", addr, len);
	r = set_addr_len(g, addr, (uint32_t)len, e);
	if (r < 0)
		return PREFIX_RET(r, e, "read memory");
	r = ingenic_usb_bulk_in(g->usb, buf, len, ms(g, INGENIC_READ_TIMEOUT_MS), e);
	if (r < 0)
		return PREFIX_RET(r, e, "read memory 0x%08x", addr);
	if ((size_t)r != len)
		return err_set(e, -EIO, "read memory 0x%08x: short read, %d of %zu bytes", addr, r,
			       len);
	return 0;
}

int ingenic_read_uid(struct ingenic *g, struct ingenic_uid *ret, struct err *e)
{
	struct ingenic_cpu_info ci;
	bool zero = true;
	int r;

	if (!g->soc->efuse_uid)
		return err_set(e, -EOPNOTSUPP,
			       "read UID: no eFuse shadow read known for SoC '%s' (T-series only)",
			       g->soc->name);
	if (g->stage1_started)
		return err_set(e, -EPROTO,
			       "read UID: stage-1 code already ran, the eFuse shadow is cleared");
	/* A burner left running by an earlier session means the SPL ran too. */
	r = ingenic_cpu_info(g, 0, &ci, e);
	if (r < 0)
		return PREFIX_RET(r, e, "read UID");
	if (ci.kind == INGENIC_CPU_BURNER)
		return err_set(
			e, -EPROTO,
			"read UID: the burner already runs (CPU info '%s'), the eFuse shadow is cleared",
			ci.text);
	r = ingenic_read_mem(g, INGENIC_EFUSE_SHADOW_ADDR, ret->shadow, INGENIC_EFUSE_SHADOW_LEN,
			     e);
	if (r < 0)
		return PREFIX_RET(r, e, "read UID");
	memcpy(ret->uid, ret->shadow, INGENIC_UID_LEN);
	for (unsigned int i = 0; i < INGENIC_UID_LEN; i++) {
		zero = zero && ret->uid[i] == 0;
		snprintf(ret->hex + 2 * i, 3, "%02X", ret->uid[i]);
	}
	if (zero)
		return err_set(
			e, -ENODATA,
			"read UID: eFuse shadow at 0x%08x reads as zeros (stage-1 code ran, or unfused part)",
			INGENIC_EFUSE_SHADOW_ADDR);
	return 0;
}

int ingenic_read_soc_id(struct ingenic *g, uint32_t *ret, struct err *e)
{
	uint8_t b[4];
	int r;

	r = ingenic_read_mem(g, INGENIC_SOC_ID_ADDR, b, sizeof(b), e);
	if (r < 0)
		return PREFIX_RET(r, e, "read SoC ID");
	*ret = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
	return 0;
}

/*
 * Poll GET_CPU_INFO until it answers; with ref, until it answers something
 * other than ref that is not a ROM string.  A stage that is busy (SPL training DDR) does not answer EP0:
 * each poll then times out, which is expected, not an error.
 */
static int wait_cpu(struct ingenic *g, const char *what, const struct ingenic_cpu_info *ref,
		    struct ingenic_cpu_info *ret, uint64_t *waited, struct err *e)
{
	uint64_t t0 = usb_now_ms(), limit = ms(g, INGENIC_START_WAIT_MS);
	struct ingenic_cpu_info ci = { 0 };
	bool answered = false;
	int r, last = -ETIMEDOUT;

	for (;;) {
		r = ingenic_cpu_info(g, ms(g, INGENIC_START_POLL_TIMEOUT_MS), &ci, e);
		if (r == -ENODEV || r == -ECANCELED)
			return PREFIX_RET(r, e, "%s", what);
		if (r == 0) {
			answered = true;
			if (!ref || (ci.kind != INGENIC_CPU_ROM &&
				     (ci.len != ref->len || memcmp(ci.raw, ref->raw, ci.len) != 0)))
				break;
		} else {
			last = r;
		}
		if (usb_now_ms() - t0 >= limit) {
			if (answered)
				return err_replace(
					e, -EPROTO,
					"%s: CPU info still '%s' after %llu ms, the burner did not start",
					what, ci.text, (unsigned long long)limit);
			return err_replace(e, last == -EPIPE ? -EPIPE : -ETIMEDOUT,
					   "%s: no answer to GET_CPU_INFO within %llu ms", what,
					   (unsigned long long)limit);
		}
		r = usb_sleep_ms(g->usb, ms(g, INGENIC_START_POLL_MS), e);
		if (r < 0)
			return r;
	}
	*ret = ci;
	*waited = usb_now_ms() - t0;
	return 0;
}

int ingenic_boot(struct ingenic *g, const struct ingenic_boot_args *a, usb_progress_cb_t progress,
		 void *ud, struct ingenic_boot_result *ret, struct err *e)
{
	const struct ingenic_soc *soc = g->soc;
	struct ingenic_boot_result res = { 0 };
	uint8_t *spl = NULL;
	size_t spl_len = a->spl_len;
	uint64_t done = 0, total;
	int r;

	if (!a->spl || !a->spl_len || !a->burner || !a->burner_len || (a->ginfo_len && !a->ginfo))
		return err_set(e, -EINVAL, "boot: SPL and burner are required");
	if (soc->pad_spl_32)
		spl_len = (spl_len + INGENIC_SPL_ALIGN - 1) / INGENIC_SPL_ALIGN * INGENIC_SPL_ALIGN;
	/* Only the ROM's load area bounds the SPL, not d2i_len (see spl_max). */
	if (soc->spl_max && spl_len > soc->spl_max)
		return err_set(e, -EMSGSIZE,
			       "boot: SPL is %zu bytes, more than the %s ROM loads (%u)",
			       a->spl_len, soc->name, soc->spl_max);
	if (ret)
		memset(ret, 0, sizeof(*ret));
	total = a->ginfo_len + spl_len + a->burner_len;

	r = ingenic_cpu_info(g, 0, &res.rom, e);
	if (r < 0)
		goto out;
	if (res.rom.kind == INGENIC_CPU_BURNER || g->stage1_started) {
		/* START1 is one-shot on the T-series (§2.1): nothing to redo. */
		r = err_set(e, -EALREADY, "boot: the burner already runs (CPU info '%s')",
			    res.rom.text);
		goto out;
	}

	if (a->ginfo_len) {
		r = load(g, soc->ginfo_addr, a->ginfo, a->ginfo_len, progress, ud, &done, total, e);
		if (r < 0) {
			err_prefix(e, r, "load ginfo 0x%08x", soc->ginfo_addr);
			goto out;
		}
	}
	/* Zero padding for the first-gen ROMs, in a copy only when needed. */
	if (spl_len != a->spl_len) {
		spl = calloc(1, spl_len);
		if (!spl) {
			r = err_set(e, -ENOMEM, "boot: out of memory");
			goto out;
		}
		memcpy(spl, a->spl, a->spl_len);
	}
	r = load(g, soc->spl_addr, spl ? spl : a->spl, spl_len, progress, ud, &done, total, e);
	free(spl);
	spl = NULL;
	if (r < 0) {
		err_prefix(e, r, "load SPL 0x%08x", soc->spl_addr);
		goto out;
	}
	if (a->d2i_len) {
		r = ingenic_usb_out(g->usb, INGENIC_USB_SET_DATA_LEN, a->d2i_len, NULL, 0,
				    ms(g, INGENIC_CTRL_TIMEOUT_MS), e);
		if (r < 0) {
			err_prefix(e, r, "SET_DATA_LEN d2i_len 0x%x", a->d2i_len);
			goto out;
		}
	}
	g->stage1_started = true;
	r = ingenic_usb_out(g->usb, INGENIC_USB_PROGRAM_START1, soc->spl_addr, NULL, 0,
			    ms(g, INGENIC_CTRL_TIMEOUT_MS), e);
	if (r < 0) {
		err_prefix(e, r, "PROGRAM_START1 0x%08x", soc->spl_addr);
		goto out;
	}
	/* The SPL answers with the ROM's string if it returned to the ROM (§2.1), else its own. */
	r = wait_cpu(g, "SPL", NULL, &res.spl, &res.spl_wait_ms, e);
	if (r < 0)
		goto out;

	r = load(g, soc->stage2_addr, a->burner, a->burner_len, progress, ud, &done, total, e);
	if (r < 0) {
		err_prefix(e, r, "load burner 0x%08x", soc->stage2_addr);
		goto out;
	}
	r = ingenic_usb_out(g->usb, INGENIC_USB_FLUSH_CACHES, 0, NULL, 0,
			    ms(g, INGENIC_CTRL_TIMEOUT_MS), e);
	if (r < 0) {
		err_prefix(e, r, "FLUSH_CACHES");
		goto out;
	}
	r = ingenic_usb_out(g->usb, INGENIC_USB_PROGRAM_START2, soc->stage2_addr, NULL, 0,
			    ms(g, INGENIC_CTRL_TIMEOUT_MS), e);
	if (r < 0) {
		err_prefix(e, r, "PROGRAM_START2 0x%08x", soc->stage2_addr);
		goto out;
	}
	/*
	 * Same device, same address: only the CPU string tells that the burner
	 * runs (§0.1).  Compare with what answered before START2 (the ROM's
	 * string, or a resident SPL's own).
	 */
	r = wait_cpu(g, "burner", &res.spl, &res.burner, &res.burner_wait_ms, e);
out:
	if (ret)
		*ret = res;
	return r < 0 ? r : 0;
}
