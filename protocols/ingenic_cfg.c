/*
 * This file implements the Ingenic burner wire formats (ingenic_cfg.h):
 * JAMCRC, the 40-byte command block, the UPDATE_CFG parameter TLVs and the
 * GET_CPU_INFO / GET_FLASH_INFO decoders, after protocol-ingenic.md §3.
 * Pure: no USB, no state.
 */
#include "protocols/ingenic_cfg.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "protocols/crc32.h"

/*
 * Little-endian writer over a caller's buffer.  Positions are checked once,
 * up front, by the builders (they know their exact length), so the writers
 * themselves only assert the invariant through the `end` pointer.
 */
struct wr {
	uint8_t *p, *end;
};

static void put_u8(struct wr *w, uint8_t v)
{
	if (w->p < w->end)
		*w->p++ = v;
}

static void put_u16(struct wr *w, uint16_t v)
{
	put_u8(w, (uint8_t)v);
	put_u8(w, (uint8_t)(v >> 8));
}

static void put_u32(struct wr *w, uint32_t v)
{
	put_u16(w, (uint16_t)v);
	put_u16(w, (uint16_t)(v >> 16));
}

static void put_u64(struct wr *w, uint64_t v)
{
	put_u32(w, (uint32_t)v);
	put_u32(w, (uint32_t)(v >> 32));
}

static void put_zero(struct wr *w, size_t n)
{
	while (n--)
		put_u8(w, 0);
}

/* A fixed-size, NUL-padded string field. */
static void put_name(struct wr *w, const char *s, size_t field)
{
	size_t n = strnlen(s, field - 1);

	for (size_t i = 0; i < field; i++)
		put_u8(w, i < n ? (uint8_t)s[i] : 0);
}

uint32_t ingenic_cfg_ops(enum ingenic_flash flash)
{
	switch (flash) {
	case INGENIC_FLASH_SFC_NOR:
		return INGENIC_OPS(INGENIC_MEDIUM_SPISFC, 0);
	case INGENIC_FLASH_SFC_NAND:
		return INGENIC_OPS(INGENIC_MEDIUM_SPISFC, 1);
	case INGENIC_FLASH_MMC0:
		return INGENIC_OPS(INGENIC_MEDIUM_MMC, 0);
	case INGENIC_FLASH_MMC1:
		return INGENIC_OPS(INGENIC_MEDIUM_MMC, 1);
	}
	return 0;
}

void ingenic_cfg_init(struct ingenic_cfg *c)
{
	*c = (struct ingenic_cfg){
		.flash = INGENIC_FLASH_SFC_NOR,
		.erase = INGENIC_ERASE_PARTITION,
		.transfer_check = true,
		.write_back_check = true,
		.transfer_size = INGENIC_CFG_TRANSFER_SIZE,
		.sfc_hz = INGENIC_CFG_SFC_HZ,
	};
}

int ingenic_cfg_add_partition(struct ingenic_cfg *c, const char *name, uint32_t offset,
			      uint32_t size, struct err *e)
{
	struct ingenic_cfg_partition *p;
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n >= INGENIC_CFG_NAME_LEN)
		return err_set(e, -EINVAL, "partition name '%s': 1 to %d characters",
			       name ? name : "", INGENIC_CFG_NAME_LEN - 1);
	if (size == 0)
		return err_set(e, -EINVAL, "partition '%s': size 0", name);
	if ((uint64_t)offset + size > UINT32_MAX + 1ull)
		return err_set(e, -ERANGE, "partition '%s': 0x%08x + 0x%08x beyond 4 GiB", name,
			       offset, size);
	if (c->n_parts >= INGENIC_CFG_MAX_PARTS)
		return err_set(e, -ENOSPC, "partition '%s': the burner takes at most %d", name,
			       INGENIC_CFG_MAX_PARTS);
	for (unsigned int i = 0; i < c->n_parts; i++) {
		const struct ingenic_cfg_partition *q = &c->parts[i];

		if (strcmp(q->name, name) == 0)
			return err_set(e, -EEXIST, "partition '%s' defined twice", name);
		if ((uint64_t)offset < (uint64_t)q->offset + q->size &&
		    (uint64_t)q->offset < (uint64_t)offset + size)
			return err_set(e, -EEXIST, "partition '%s' overlaps '%s'", name, q->name);
	}
	p = &c->parts[c->n_parts++];
	memset(p, 0, sizeof(*p));
	memcpy(p->name, name, n);
	p->offset = offset;
	p->size = size;
	return 0;
}

int ingenic_cfg_find_partition(const struct ingenic_cfg *c, uint64_t offset, uint64_t len,
			       struct err *e)
{
	for (unsigned int i = 0; i < c->n_parts; i++) {
		const struct ingenic_cfg_partition *p = &c->parts[i];

		if (offset >= p->offset && offset + len <= (uint64_t)p->offset + p->size)
			return (int)i;
	}
	/* The burner itself would answer "out of partition" with -EIO (§3.6). */
	return err_set(e, -ERANGE, "0x%08llx..0x%08llx lies in no single partition",
		       (unsigned long long)offset, (unsigned long long)(offset + len));
}

int ingenic_cfg_nor_generic(uint32_t jedec, struct ingenic_nor_info *ret, struct err *e)
{
	unsigned int cap = jedec & 0xff;
	bool four_byte;
	uint8_t ab;

	if (jedec == 0 || jedec == 0xffffff)
		return err_set(e, -EINVAL, "JEDEC ID 0x%06x: no flash answered", jedec);
	if (cap < 0x10 || cap > 0x1c)
		return err_set(
			e, -EOPNOTSUPP,
			"JEDEC ID 0x%06x: capacity byte 0x%02x is not a power of two we know",
			jedec, cap);
	four_byte = cap > 0x18;
	ab = four_byte ? 4 : 3;
	*ret = (struct ingenic_nor_info){
		.jedec = jedec,
		/* 25-series common set; dummy in bits, mode 0 = single-line SPI. */
		.read_standard = { four_byte ? 0x13 : 0x03, 0, ab, 0 },
		.read_quad = { four_byte ? 0x6c : 0x6b, 8, ab, 0 },
		.write_standard = { four_byte ? 0x12 : 0x02, 0, ab, 0 },
		.write_quad = { four_byte ? 0x34 : 0x32, 0, ab, 0 },
		.sector_erase = { four_byte ? 0xdc : 0xd8, 0, ab, 0 },
		.wr_en = { 0x06, 0, 0, 0 },
		/* EN4B left out on purpose above 16 MiB (header comment). */
		.en4byte = { 0, 0, 0, 0 },
		.busy = { 0x05, 0, 1, 0, 1, 0 },
		.addr_ops_mode = four_byte ? 1 : 0,
		/* Conservative 25-series datasheet timings, ns. */
		.t_chsh = 5,
		.t_slch = 5,
		.t_shsl_rd = 20,
		.t_shsl_wr = 50,
		.chip_size = 1u << cap,
		.page_size = 256,
		.erase_size = 64 * 1024,
		.chip_erase_cmd = 0xc7,
	};
	snprintf(ret->name, sizeof(ret->name), "jedec-%06x", jedec);
	return 0;
}

/* Ingenic SFC transfer modes (spiflashinfo.cfg column 4): 1-1-1, 1-1-4, 1-4-4. */
#define SFC_TM_STD 0
#define SFC_TM_QUAD_DATA 5
#define SFC_TM_QUAD_IO 6

/* Quad Enable write and read-back per method ([IFT-db] spiflashinfo.cfg columns). */
static const struct {
	struct ingenic_nor_sr set, get;
} qe_ops[_SPINOR_QE_MAX] = {
	[SPINOR_QE_NONE] = { { 0 }, { 0 } },
	/* {cmd, bit_shift, mask, val, len, dummy} */
	[SPINOR_QE_SR2_31] = { { SPINOR_OP_WRSR2, 1, 1, 1, 1, 0 },
			       { SPINOR_OP_RDSR2, 1, 1, 1, 1, 0 } },
	[SPINOR_QE_SR2_01] = { { SPINOR_OP_WRSR, 9, 1, 1, 2, 0 },
			       { SPINOR_OP_RDSR2, 1, 1, 1, 1, 0 } },
	[SPINOR_QE_SR1_B6] = { { SPINOR_OP_WRSR, 6, 1, 1, 1, 0 },
			       { SPINOR_OP_RDSR, 6, 1, 1, 1, 0 } },
};

/* The 4-byte-address form of a 3-byte opcode (spinor_parts.h). */
static uint16_t op_4b(uint8_t op)
{
	switch (op) {
	case SPINOR_OP_READ:
		return SPINOR_OP_READ_4B;
	case SPINOR_OP_READ_QUAD:
		return SPINOR_OP_READ_QUAD_4B;
	case SPINOR_OP_PP:
		return SPINOR_OP_PP_4B;
	case SPINOR_OP_PP_QUAD:
		return SPINOR_OP_PP_QUAD_4B;
	case SPINOR_OP_PP_QUAD_MX:
		return 0x3e; /* Macronix 4PP4B */
	case SPINOR_OP_BE_64K:
		return SPINOR_OP_BE_64K_4B;
	default:
		return 0;
	}
}

static struct ingenic_nor_cmd nor_cmd(const struct spinor_part *p, uint8_t op, uint8_t dummy,
				      uint8_t mode)
{
	bool four = p->addr == SPINOR_ADDR_4B_OPS;

	return (struct ingenic_nor_cmd){ four ? op_4b(op) : op, dummy, four ? 4 : 3, mode };
}

int ingenic_cfg_nor_from_part(const struct spinor_part *p, struct ingenic_nor_info *ret,
			      struct err *e)
{
	if (!p->size || !p->page || !p->op_be_64k || (unsigned int)p->qe >= _SPINOR_QE_MAX)
		return err_set(e, -EINVAL, "SPI-NOR part %s: no size, page or 64 KiB block erase",
			       p->name);
	if (strlen(p->name) >= INGENIC_CFG_NAME_LEN)
		return err_set(e, -EINVAL, "SPI-NOR part name '%s' longer than %d characters",
			       p->name, INGENIC_CFG_NAME_LEN - 1);
	if (p->size > SPINOR_3B_LIMIT && p->addr != SPINOR_ADDR_4B_OPS)
		return err_set(e, -EINVAL, "SPI-NOR part %s: %u bytes need 4-byte addressing",
			       p->name, p->size);
	*ret = (struct ingenic_nor_info){
		.jedec = p->jedec,
		.read_standard = nor_cmd(p, SPINOR_OP_READ, 0, SFC_TM_STD),
		.read_quad = nor_cmd(p, SPINOR_OP_READ_QUAD, 8, SFC_TM_QUAD_DATA),
		.write_standard = nor_cmd(p, SPINOR_OP_PP, 0, SFC_TM_STD),
		.write_quad = nor_cmd(p, p->op_pp_quad, 0,
				      p->op_pp_quad == SPINOR_OP_PP_QUAD_MX ? SFC_TM_QUAD_IO
									    : SFC_TM_QUAD_DATA),
		.sector_erase = nor_cmd(p, p->op_be_64k, 0, SFC_TM_STD),
		.wr_en = { SPINOR_OP_WREN, 0, 0, 0 },
		/* EN4B left out: the chip must stay in 3-byte mode for the ROM. */
		.en4byte = { 0, 0, 0, 0 },
		.quad_set = qe_ops[p->qe].set,
		.quad_get = qe_ops[p->qe].get,
		.busy = { SPINOR_OP_RDSR, 0, 1, 0, 1, 0 },
		.quad_ops_mode = p->qe != SPINOR_QE_NONE,
		/*
		 * How EN4B is issued (0 direct, 1 after WREN: [IFT-db]
		 * spiflash_db.py); EN4B is never sent, and the vendor table
		 * has 0 for every part here.
		 */
		.addr_ops_mode = 0,
		/* Conservative 25-series timings, as ingenic_cfg_nor_generic(). */
		.t_chsh = 5,
		.t_slch = 5,
		.t_shsl_rd = 20,
		.t_shsl_wr = 50,
		.chip_size = p->size,
		.page_size = p->page,
		.erase_size = 64 * 1024,
		.chip_erase_cmd = SPINOR_OP_CHIP_ERASE,
	};
	memcpy(ret->name, p->name, strlen(p->name));
	return 0;
}

int ingenic_cfg_nor_for_jedec(uint32_t jedec, const struct spinor_part *given,
			      struct ingenic_nor_info *ret, struct err *e)
{
	const struct spinor_part *p = spinor_part_find(jedec);
	struct spinor_part g;

	if (jedec == 0 || jedec == 0xffffff)
		return err_set(e, -EINVAL, "JEDEC ID 0x%06x: no flash answered", jedec);
	if (p)
		return ingenic_cfg_nor_from_part(p, ret, e);
	if (!given)
		return err_set(
			e, -EOPNOTSUPP,
			"SPI-NOR JEDEC ID %02x %02x %02x is not in the parts table; give its "
			"parameters in the recipe (ingenic.config \"nor\")",
			jedec >> 16, (jedec >> 8) & 0xff, jedec & 0xff);
	g = *given;
	g.jedec = jedec;
	return ingenic_cfg_nor_from_part(&g, ret, e);
}

static void put_tlv_head(struct wr *w, uint32_t magic, uint32_t len)
{
	put_u32(w, magic);
	put_u32(w, len);
}

/* POLI body (164 bytes): nine use_* flags, then offsets[32] (unused: zero). */
static void put_policy(struct wr *w, const struct ingenic_cfg *c)
{
	put_tlv_head(w, INGENIC_TLV_POLI, INGENIC_TLV_POLI_LEN);
	put_u32(w, 0);					/* use_nand_mgr */
	put_u32(w, 0);					/* use_nand_mtd */
	put_u32(w, c->flash == INGENIC_FLASH_MMC0);	/* use_mmc0 */
	put_u32(w, c->flash == INGENIC_FLASH_MMC1);	/* use_mmc1 */
	put_u32(w, 0);					/* use_mmc2 */
	put_u32(w, c->flash == INGENIC_FLASH_SFC_NOR);	/* use_sfc_nor */
	put_u32(w, c->flash == INGENIC_FLASH_SFC_NAND); /* use_sfc_nand */
	put_u32(w, 0);					/* use_spi_nand */
	put_u32(w, 0);					/* use_spi_nor */
	put_zero(w, 32 * 4);
}

static void put_cmd(struct wr *w, const struct ingenic_nor_cmd *c)
{
	/* 6 bytes each in the bundled burners (§3.4): u16 cmd, 3 x u8, pad. */
	put_u16(w, c->cmd);
	put_u8(w, c->dummy_bits);
	put_u8(w, c->addr_bytes);
	put_u8(w, c->mode);
	put_u8(w, 0);
}

static void put_sr(struct wr *w, const struct ingenic_nor_sr *s)
{
	/* 8 bytes each (§3.4): u16 cmd, 5 x u8, pad. */
	put_u16(w, s->cmd);
	put_u8(w, s->bit_shift);
	put_u8(w, s->mask);
	put_u8(w, s->val);
	put_u8(w, s->len);
	put_u8(w, s->dummy);
	put_u8(w, 0);
}

/*
 * spi_nor_info, 140 bytes: body offsets 0x24..0xB0, i.e. file offsets
 * 0xF4 (name) .. 0x180 (after chip_erase_cmd) in §3.4.
 */
static void put_nor_info(struct wr *w, const struct ingenic_nor_info *n)
{
	put_name(w, n->name, INGENIC_CFG_NAME_LEN);
	put_u32(w, n->jedec);
	put_cmd(w, &n->read_standard);
	put_cmd(w, &n->read_quad);
	put_cmd(w, &n->write_standard);
	put_cmd(w, &n->write_quad);
	put_cmd(w, &n->sector_erase);
	put_cmd(w, &n->wr_en);
	put_cmd(w, &n->en4byte);
	put_sr(w, &n->quad_set);
	put_sr(w, &n->quad_get);
	put_sr(w, &n->busy);
	put_u16(w, n->quad_ops_mode);
	put_u16(w, n->addr_ops_mode);
	put_u16(w, 0); /* alignment of the u32 timings (0x15E -> 0x160) */
	put_u32(w, n->t_chsh);
	put_u32(w, n->t_slch);
	put_u32(w, n->t_shsl_rd);
	put_u32(w, n->t_shsl_wr);
	put_u32(w, n->chip_size);
	put_u32(w, n->page_size);
	put_u32(w, n->erase_size);
	put_u32(w, n->chip_erase_cmd);
}

/*
 * mini_spi_nor_info, the trailing 100-byte copy at file offset 0x36C (§3.4).
 * Its layout is not in the doc; these fields (what the SPL needs to read
 * and boot) add up to exactly the 100 bytes left in the 0x300 body
 * (inference).  NEEDSWORK: confirm against a vendor cfg2 with a known chip.
 */
static void put_mini_info(struct wr *w, const struct ingenic_nor_info *n)
{
	put_name(w, n->name, INGENIC_CFG_NAME_LEN);
	put_u32(w, n->jedec);
	put_cmd(w, &n->read_standard);
	put_cmd(w, &n->read_quad);
	put_cmd(w, &n->wr_en);
	put_cmd(w, &n->en4byte);
	put_sr(w, &n->quad_set);
	put_sr(w, &n->quad_get);
	put_sr(w, &n->busy);
	put_u16(w, n->quad_ops_mode);
	put_u16(w, n->addr_ops_mode);
	put_u32(w, n->chip_size);
	put_u32(w, n->page_size);
	put_u32(w, n->erase_size);
}

static void put_sfc(struct wr *w, const struct ingenic_cfg *c)
{
	uint32_t mode = c->erase == INGENIC_ERASE_RANGE ? INGENIC_MTD_D_MODE : INGENIC_MTD_MODE;

	put_tlv_head(w, INGENIC_TLV_SFC, INGENIC_TLV_SFC_LEN);
	/* spi_param, 7 words */
	put_u32(w, 0);				    /* download_params: never patch the SPL */
	put_u32(w, c->quad);			    /* sfc_quad_mode */
	put_u32(w, c->nor.erase_size);		    /* spi_erase_block_size */
	put_u32(w, c->erase == INGENIC_ERASE_CHIP); /* spi_erase: 1 = chip erase at INIT */
	put_u32(w, c->sfc_hz);			    /* sfc_frequency */
	put_u32(w, 0);				    /* reserve_space */
	put_u32(w, INGENIC_CFG_PARAM_OFFSET);	    /* param_offset (inference) */
	/* burner_params */
	put_u32(w, INGENIC_NOR_PARAMS_MAGIC);
	put_u32(w, INGENIC_NOR_PARAMS_VERSION);
	put_nor_info(w, &c->nor);
	for (unsigned int i = 0; i < INGENIC_CFG_MAX_PARTS; i++) {
		const struct ingenic_cfg_partition *p = &c->parts[i];

		if (i >= c->n_parts) {
			put_zero(w, INGENIC_CFG_NAME_LEN + 16);
			continue;
		}
		put_name(w, p->name, INGENIC_CFG_NAME_LEN);
		put_u32(w, p->size);
		put_u32(w, p->offset);
		put_u32(w, 0); /* mask_flags: writable */
		put_u32(w, mode);
	}
	put_u32(w, c->n_parts);	       /* num_partition_info */
	put_u32(w, c->nor.erase_size); /* fs_erase_size */
	put_u32(w, 0);		       /* uk_quad */
	put_mini_info(w, &c->nor);
}

ssize_t ingenic_cfg_build_policy(const struct ingenic_cfg *c, uint8_t *buf, size_t size,
				 struct err *e)
{
	struct wr w = { buf, buf + size };

	if (size < INGENIC_CFG_POLICY_LEN)
		return err_set(e, -EMSGSIZE, "policy config needs %d bytes, have %zu",
			       INGENIC_CFG_POLICY_LEN, size);
	put_policy(&w, c);
	put_zero(&w, 8);
	return w.p - buf;
}

ssize_t ingenic_cfg_build(const struct ingenic_cfg *c, uint8_t *buf, size_t size, struct err *e)
{
	struct wr w = { buf, buf + size };

	if (c->flash != INGENIC_FLASH_SFC_NOR)
		return err_set(e, -EOPNOTSUPP, "flash config: only SFC NOR is implemented");
	if (c->n_parts == 0)
		return err_set(e, -EINVAL, "flash config: no partitions");
	if (c->transfer_size < INGENIC_CFG_TRANSFER_MIN ||
	    c->transfer_size > INGENIC_CFG_TRANSFER_MAX ||
	    c->transfer_size % INGENIC_CFG_TRANSFER_MIN)
		return err_set(
			e, -EINVAL,
			"flash config: transfer size %u is not a multiple of 64 KiB up to 1 MiB",
			c->transfer_size);
	if (!c->nor.chip_size || !c->nor.page_size || !c->nor.erase_size ||
	    c->transfer_size % c->nor.erase_size)
		return err_set(
			e, -EINVAL,
			"flash config: NOR sizes (chip %u, page %u, erase %u) do not fit transfer size %u",
			c->nor.chip_size, c->nor.page_size, c->nor.erase_size, c->transfer_size);
	if (c->quad && !c->nor.quad_ops_mode)
		return err_set(e, -EINVAL,
			       "flash config: quad mode, but %s has no Quad Enable method",
			       c->nor.name);
	for (unsigned int i = 0; i < c->n_parts; i++)
		if ((uint64_t)c->parts[i].offset + c->parts[i].size > c->nor.chip_size)
			return err_set(e, -ERANGE, "partition '%s' ends beyond the %u-byte flash",
				       c->parts[i].name, c->nor.chip_size);
	if (size < INGENIC_CFG_FULL_LEN)
		return err_set(e, -EMSGSIZE, "flash config needs %d bytes, have %zu",
			       INGENIC_CFG_FULL_LEN, size);

	put_tlv_head(&w, INGENIC_TLV_DBG, INGENIC_TLV_DBG_LEN);
	put_u32(&w, c->log);
	put_u32(&w, c->transfer_check);	  /* transfer_data_chk */
	put_u32(&w, c->write_back_check); /* write_back_chk */
	put_u32(&w, c->transfer_size);
	put_u32(&w, 0); /* stage2_timeout: meaning not documented (§3.4); 0 */
	put_policy(&w, c);
	put_sfc(&w, c);
	put_zero(&w, 8);
	return w.p - buf;
}

static void cmd_rw(uint8_t out[INGENIC_CMD_LEN], uint64_t offset, uint64_t length, uint32_t ops,
		   uint32_t crc)
{
	struct wr w = { out, out + INGENIC_CMD_LEN };

	put_u64(&w, 0); /* partition: added to offset by the burner; 0 for flash */
	put_u64(&w, offset);
	put_u64(&w, length);
	put_u32(&w, ops);
	put_u32(&w, crc);
	put_zero(&w, 8);
}

void ingenic_cfg_cmd_write(uint8_t out[INGENIC_CMD_LEN], uint64_t offset, uint64_t length,
			   uint32_t ops, uint32_t crc)
{
	cmd_rw(out, offset, length, ops, crc);
}

void ingenic_cfg_cmd_read(uint8_t out[INGENIC_CMD_LEN], uint64_t offset, uint64_t length,
			  uint32_t ops)
{
	cmd_rw(out, offset, length, ops, 0);
}

void ingenic_cfg_cmd_update(uint8_t out[INGENIC_CMD_LEN], uint32_t length)
{
	struct wr w = { out, out + INGENIC_CMD_LEN };

	put_u32(&w, length);
	put_zero(&w, INGENIC_CMD_LEN - 4);
}

uint32_t ingenic_cfg_jamcrc(uint32_t crc, const void *buf, size_t len)
{
	/* crc32_update() inverts on entry and exit; JAMCRC only lacks the final inversion. */
	return ~crc32_update(~crc, buf, len);
}

uint32_t ingenic_cfg_jedec(const uint8_t raw[3])
{
	return (uint32_t)raw[2] << 16 | (uint32_t)raw[1] << 8 | raw[0];
}

static bool cpu_is(const char *t, const char *s)
{
	return strcmp(t, s) == 0;
}

enum ingenic_cpu_kind ingenic_cfg_cpu_kind(const uint8_t *raw, size_t n, char *text)
{
	size_t len = n < INGENIC_CPU_INFO_LEN ? n : INGENIC_CPU_INFO_LEN;

	while (len > 0 && raw[len - 1] == 0)
		len--;
	for (size_t i = 0; i < len; i++)
		text[i] = raw[i] >= 0x20 && raw[i] < 0x7f ? (char)raw[i] : '.';
	text[len] = '\0';

	/* ROM strings (§1.1): spaced "T 3 1 V " (T-series), "JZ47xxV1", "X1000_v1". */
	if ((len >= 2 && text[0] == 'T' && text[1] == ' ') || strncmp(text, "JZ47", 4) == 0 ||
	    cpu_is(text, "X1000_v1"))
		return INGENIC_CPU_ROM;
	/* Burner strings (§1.2): "BOOTx1830", "BOOT4775", "Boot4740", "X2500", "A1", "PRJ" ... */
	if (strncmp(text, "BOOT", 4) == 0 || strncmp(text, "Boot", 4) == 0 ||
	    cpu_is(text, "X2500") || cpu_is(text, "X2580") || cpu_is(text, "X2600") ||
	    cpu_is(text, "X2000") || cpu_is(text, "A1") || cpu_is(text, "PRJ"))
		return INGENIC_CPU_BURNER;
	return INGENIC_CPU_UNKNOWN;
}
