/*
 * Tests for protocols/spinor_parts.c and the burner config built from it
 * (ingenic_cfg_nor_from_part / ingenic_cfg_nor_for_jedec): every table
 * entry against an expectation written out here from the datasheets the
 * table cites, down to the config bytes at the file offsets of
 * protocol-ingenic.md §3.4 ([IFT-db]: name 0xF4, id 0x114, opcodes 0x118,
 * SR ops 0x142, modes 0x15A, sizes 0x170, the mini copy at 0x36C).
 */
#include "protocols/ingenic_cfg.h"
#include "protocols/spinor_parts.h"

#include <errno.h>

#include "tests/lib/test.h"

/* File offsets in the built config (DBG + POLI + SFC, §3.4). */
#define O_QUAD_MODE_WORD 0xd4 /* spi_param.sfc_quad_mode */
#define O_NAME 0xf4
#define O_ID 0x114
#define O_OPS 0x118 /* 7 x 6: read, read_quad, pp, pp_quad, erase, wren, en4b */
#define O_SR 0x142  /* 3 x 8: quad_set, quad_get, busy */
#define O_QUAD_MODE 0x15a
#define O_ADDR_MODE 0x15c
#define O_CHIP_SIZE 0x170
#define O_PAGE 0x174
#define O_ERASE 0x178
#define O_ERASE_CMD 0x17c
#define O_MINI 0x36c

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* What each part must be, from its datasheet; QE as (write cmd, bit, len). */
static const struct want {
	uint32_t jedec;
	uint32_t mib;
	bool four;
	uint8_t qe_cmd, qe_bit, qe_len;
} wants[] = {
	{ 0xef4017, 8, false, 0x31, 1, 1 },  { 0xef7017, 8, false, 0x31, 1, 1 },
	{ 0xef4018, 16, false, 0x31, 1, 1 }, { 0xef7018, 16, false, 0x31, 1, 1 },
	{ 0xef4019, 32, true, 0x31, 1, 1 },  { 0xef7019, 32, true, 0x31, 1, 1 },
	{ 0xef4020, 64, true, 0x31, 1, 1 }, /* W25Q512JV: capacity byte 0x20 */
	{ 0xc84017, 8, false, 0x31, 1, 1 },  { 0xc84018, 16, false, 0x31, 1, 1 },
	{ 0xc84019, 32, true, 0, 0, 0 }, /* GD25Q256 C/D disagree on QE: none */
	{ 0xc22017, 8, false, 0x01, 6, 1 },  { 0xc22018, 16, false, 0x01, 6, 1 },
	{ 0xc22019, 32, true, 0x01, 6, 1 },  { 0x207017, 8, false, 0, 0, 0 },
	{ 0x207018, 16, false, 0, 0, 0 },    { 0x206018, 16, false, 0x01, 6, 1 },
	{ 0x1c7017, 8, false, 0, 0, 0 },     { 0x1c7018, 16, false, 0, 0, 0 },
	{ 0x684017, 8, false, 0x31, 1, 1 },  { 0x684018, 16, false, 0x31, 1, 1 },
	{ 0x5e4017, 8, false, 0x31, 1, 1 },  { 0x5e4018, 16, false, 0x31, 1, 1 },
	{ 0x856017, 8, false, 0x31, 1, 1 },  { 0x856018, 16, false, 0x31, 1, 1 },
	{ 0x852018, 16, false, 0x31, 1, 1 },
};
#define N_WANTS (sizeof(wants) / sizeof(wants[0]))

static const struct want *want_for(uint32_t jedec)
{
	for (size_t i = 0; i < N_WANTS; i++)
		if (wants[i].jedec == jedec)
			return &wants[i];
	return NULL;
}

/* One partition over the whole chip, config from the table, built. */
static void build_for(const struct spinor_part *p, uint8_t *b)
{
	struct ingenic_cfg c;
	struct err e = { 0 };

	ingenic_cfg_init(&c);
	ASSERT_OK(ingenic_cfg_add_partition(&c, "all", 0, p->size, &e));
	ASSERT_OK(ingenic_cfg_nor_for_jedec(p->jedec, NULL, &c.nor, &e));
	ASSERT_EQ(ingenic_cfg_build(&c, b, INGENIC_CFG_FULL_LEN, &e), INGENIC_CFG_FULL_LEN);
}

static void check_op(const uint8_t *o, uint8_t cmd, uint8_t dummy, uint8_t ab, uint8_t mode)
{
	ASSERT_EQ(rd16(o), cmd);
	ASSERT_EQ(o[2], dummy);
	ASSERT_EQ(o[3], ab);
	ASSERT_EQ(o[4], mode);
	ASSERT_EQ(o[5], 0);
}

static void check_bytes(const struct spinor_part *p, const struct want *w, const uint8_t *b)
{
	uint8_t ab = w->four ? 4 : 3;

	ASSERT_STREQ((const char *)b + O_NAME, p->name);
	ASSERT_EQ(rd32(b + O_ID), w->jedec);
	ASSERT_EQ(rd32(b + O_CHIP_SIZE), w->mib << 20);
	ASSERT_EQ(rd32(b + O_PAGE), 256);
	ASSERT_EQ(rd32(b + O_ERASE), 65536);
	ASSERT_EQ(rd32(b + O_ERASE_CMD), 0xc7);
	/* > 16 MiB: the dedicated 4-byte opcodes, never EN4B (ROM reboots in 3-byte mode). */
	check_op(b + O_OPS + 0, w->four ? 0x13 : 0x03, 0, ab, 0);
	check_op(b + O_OPS + 6, w->four ? 0x6c : 0x6b, 8, ab, 5);
	check_op(b + O_OPS + 12, w->four ? 0x12 : 0x02, 0, ab, 0);
	check_op(b + O_OPS + 24, w->four ? 0xdc : 0xd8, 0, ab, 0);
	check_op(b + O_OPS + 30, 0x06, 0, 0, 0);
	check_op(b + O_OPS + 36, 0, 0, 0, 0);
	/* Quad Enable: write op, then its read-back op, then the busy poll. */
	ASSERT_EQ(rd16(b + O_SR), w->qe_cmd);
	ASSERT_EQ(b[O_SR + 2], w->qe_bit);
	ASSERT_EQ(b[O_SR + 5], w->qe_len);
	ASSERT_EQ(rd16(b + O_SR + 8), w->qe_cmd == 0 ? 0 : w->qe_cmd == 0x31 ? 0x35 : 0x05);
	ASSERT_EQ(rd16(b + O_SR + 16), 0x05);
	ASSERT_EQ(b[O_SR + 16 + 5], 1);
	ASSERT_EQ(rd16(b + O_QUAD_MODE), w->qe_cmd != 0);
	ASSERT_EQ(rd16(b + O_ADDR_MODE), 0);
	/* Quad is not switched on unless asked. */
	ASSERT_EQ(rd32(b + O_QUAD_MODE_WORD), 0);
	/* The mini copy the SPL reads carries the same identity and read command. */
	ASSERT_STREQ((const char *)b + O_MINI, p->name);
	ASSERT_EQ(rd32(b + O_MINI + 32), w->jedec);
	check_op(b + O_MINI + 36, w->four ? 0x13 : 0x03, 0, ab, 0);
}

TEST(spinor_every_entry_builds_its_datasheet_config_bytes)
{
	uint8_t b[INGENIC_CFG_FULL_LEN];
	size_t n = 0;

	for (const struct spinor_part *p; (p = spinor_part_at(n)); n++) {
		const struct want *w = want_for(p->jedec);

		ASSERT_TRUE(w != NULL);
		ASSERT_TRUE(p->source && strlen(p->source) > 20);
		memset(b, 0xaa, sizeof(b));
		build_for(p, b);
		check_bytes(p, w, b);
	}
	ASSERT_EQ(n, N_WANTS);
}

TEST(spinor_table_has_the_t_series_parts_of_issue_14)
{
	static const char *const fams[] = { "W25Q64",	 "W25Q128",  "W25Q256",	  "GD25Q64",
					    "GD25Q128",	 "GD25Q256", "MX25L64",	  "MX25L128",
					    "MX25L256",	 "XM25QH64", "XM25QH128", "EN25QH64",
					    "EN25QH128", "BY25Q64",  "BY25Q128",  "ZB25VQ64",
					    "ZB25VQ128", "P25Q64",   "P25Q128" };

	for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
		bool found = false;

		for (size_t i = 0; spinor_part_at(i); i++)
			found = found ||
				!strncmp(spinor_part_at(i)->name, fams[f], strlen(fams[f]));
		if (!found)
			ASSERT_STREQ(fams[f], "in the table");
	}
}

TEST(spinor_ids_are_unique)
{
	for (size_t i = 0; spinor_part_at(i); i++)
		for (size_t k = i + 1; spinor_part_at(k); k++)
			ASSERT_TRUE(spinor_part_at(i)->jedec != spinor_part_at(k)->jedec);
}

TEST(spinor_capacity_byte_is_not_log2_for_w25q512)
{
	struct ingenic_nor_info n;

	ASSERT_OK(ingenic_cfg_nor_for_jedec(0xef4020, NULL, &n, NULL));
	ASSERT_EQ(n.chip_size, 64u << 20);
	ASSERT_STREQ(n.name, "W25Q512JV-IQ");
}

TEST(spinor_unknown_id_fails_naming_the_three_bytes)
{
	struct ingenic_nor_info n;
	struct err e = { 0 };

	ASSERT_EQ(ingenic_cfg_nor_for_jedec(0xaa4018, NULL, &n, &e), -EOPNOTSUPP);
	ASSERT_TRUE(strstr(e.msg, "aa 40 18") != NULL);
	ASSERT_TRUE(strstr(e.msg, "\"nor\"") != NULL);
	err_clear(&e);
	ASSERT_EQ(ingenic_cfg_nor_for_jedec(0, NULL, &n, &e), -EINVAL);
	ASSERT_EQ(ingenic_cfg_nor_for_jedec(0xffffff, NULL, &n, &e), -EINVAL);
}

TEST(spinor_unknown_id_with_given_parameters)
{
	const struct spinor_part g = {
		.name = "recipe",
		.size = 32u << 20,
		.page = 256,
		.op_be_64k = SPINOR_OP_BE_64K,
		.addr = SPINOR_ADDR_4B_OPS,
		.qe = SPINOR_QE_SR1_B6,
		.op_pp_quad = SPINOR_OP_PP_QUAD,
	};
	struct ingenic_nor_info n;

	ASSERT_OK(ingenic_cfg_nor_for_jedec(0xaa4019, &g, &n, NULL));
	ASSERT_EQ(n.jedec, 0xaa4019);
	ASSERT_EQ(n.chip_size, 32u << 20);
	ASSERT_EQ(n.write_standard.cmd, 0x12);
	ASSERT_EQ(n.write_standard.addr_bytes, 4);
	ASSERT_EQ(n.quad_set.cmd, 0x01);
	ASSERT_EQ(n.quad_set.bit_shift, 6);
	/* A known ID keeps the table's entry even when parameters are given. */
	ASSERT_OK(ingenic_cfg_nor_for_jedec(0xef4017, &g, &n, NULL));
	ASSERT_EQ(n.chip_size, 8u << 20);
}

TEST(spinor_given_parameters_beyond_16mib_need_4_byte)
{
	const struct spinor_part g = {
		.name = "recipe",
		.size = 32u << 20,
		.page = 256,
		.op_be_64k = SPINOR_OP_BE_64K,
		.addr = SPINOR_ADDR_3B,
	};
	struct ingenic_nor_info n;
	struct err e = { 0 };

	ASSERT_EQ(ingenic_cfg_nor_for_jedec(0xaa4019, &g, &n, &e), -EINVAL);
	ASSERT_TRUE(strstr(e.msg, "4-byte") != NULL);
}

TEST(spinor_quad_mode_only_with_a_quad_enable_method)
{
	uint8_t b[INGENIC_CFG_FULL_LEN];
	struct ingenic_cfg c;
	struct err e = { 0 };

	ingenic_cfg_init(&c);
	c.quad = true;
	ASSERT_OK(ingenic_cfg_add_partition(&c, "all", 0, 16u << 20, &e));
	ASSERT_OK(ingenic_cfg_nor_for_jedec(0xc22018, NULL, &c.nor, &e)); /* MX25L12845G */
	ASSERT_EQ(ingenic_cfg_build(&c, b, sizeof(b), &e), INGENIC_CFG_FULL_LEN);
	ASSERT_EQ(rd32(b + O_QUAD_MODE_WORD), 1);
	/* Macronix 4PP is 38h on 1-4-4 (mode 6). */
	check_op(b + O_OPS + 18, 0x38, 0, 3, 6);
	ASSERT_OK(ingenic_cfg_nor_for_jedec(0x207018, NULL, &c.nor, &e)); /* XM25QH128A */
	ASSERT_EQ(ingenic_cfg_build(&c, b, sizeof(b), &e), -EINVAL);
	ASSERT_TRUE(strstr(e.msg, "XM25QH128A has no Quad Enable") != NULL);
}

TEST(spinor_qe_names_round_trip)
{
	for (int i = 0; i < _SPINOR_QE_MAX; i++)
		ASSERT_EQ(spinor_qe_parse(spinor_qe_name((enum spinor_qe)i)), i);
	ASSERT_EQ(spinor_qe_parse("sr3"), -EINVAL);
}

TEST_MAIN()
