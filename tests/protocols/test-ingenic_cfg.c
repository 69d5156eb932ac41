/*
 * Tests for protocols/ingenic_cfg.c: JAMCRC, the 40-byte command block, the
 * UPDATE_CFG TLVs byte by byte at the offsets protocol-ingenic.md §3.4
 * decodes from the vendor's prj008 cfg2_bulk.bin (file offsets there are
 * the offsets in our buffer: same DBG + POLI + SFC order), the JEDEC reply
 * and the CPU-info classifier.
 */
#include "protocols/ingenic_cfg.h"

#include <errno.h>

#include "tests/lib/test.h"

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint64_t rd64(const uint8_t *p)
{
	return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

TEST(ingenic_jamcrc_check_value_is_340bc6d9)
{
	/* §0.3: the check value for "123456789". */
	ASSERT_EQ(ingenic_cfg_jamcrc(INGENIC_JAMCRC_INIT, "123456789", 9), 0x340bc6d9);
}

TEST(ingenic_jamcrc_is_not_of_zlib_and_incremental)
{
	uint32_t c = INGENIC_JAMCRC_INIT;

	/* zlib crc32("123456789") = 0xcbf43926, JAMCRC is its complement. */
	ASSERT_EQ(ingenic_cfg_jamcrc(INGENIC_JAMCRC_INIT, "123456789", 9), ~0xcbf43926u);
	ASSERT_EQ(ingenic_cfg_jamcrc(INGENIC_JAMCRC_INIT, "", 0), 0xffffffff);
	c = ingenic_cfg_jamcrc(c, "1234", 4);
	c = ingenic_cfg_jamcrc(c, "56789", 5);
	ASSERT_EQ(c, 0x340bc6d9);
}

TEST(ingenic_cmd_write_layout_new_cloner)
{
	uint8_t c[INGENIC_CMD_LEN];

	memset(c, 0xaa, sizeof(c));
	ingenic_cfg_cmd_write(c, 0x2c0000, 0x20000, 0x00060000, 0xdeadbeef);
	/* §3.2: partition u64 @0, offset u64 @8, length u64 @16, ops @24, crc @28, pad. */
	ASSERT_EQ(rd64(c + 0), 0);
	ASSERT_EQ(rd64(c + 8), 0x2c0000);
	ASSERT_EQ(rd64(c + 16), 0x20000);
	ASSERT_EQ(rd32(c + 24), 0x00060000);
	ASSERT_EQ(rd32(c + 28), 0xdeadbeef);
	ASSERT_TRUE(all_zero(c + 32, 8));
	/* Exact first bytes: offset 0x002c0000 little-endian at +8. */
	ASSERT_EQ(c[8], 0x00);
	ASSERT_EQ(c[9], 0x00);
	ASSERT_EQ(c[10], 0x2c);
	ASSERT_EQ(c[26], 0x06);
	ASSERT_EQ(c[28], 0xef);
}

TEST(ingenic_cmd_read_has_no_crc)
{
	uint8_t c[INGENIC_CMD_LEN];

	memset(c, 0xaa, sizeof(c));
	ingenic_cfg_cmd_read(c, 0x1000, 0x800, 0x00060000);
	ASSERT_EQ(rd64(c + 8), 0x1000);
	ASSERT_EQ(rd64(c + 16), 0x800);
	ASSERT_EQ(rd32(c + 24), 0x00060000);
	ASSERT_TRUE(all_zero(c + 28, 12));
}

TEST(ingenic_cmd_update_length_first)
{
	uint8_t c[INGENIC_CMD_LEN];

	memset(c, 0xaa, sizeof(c));
	ingenic_cfg_cmd_update(c, 976);
	ASSERT_EQ(c[0], 0xd0);
	ASSERT_EQ(c[1], 0x03);
	ASSERT_TRUE(all_zero(c + 2, 38));
}

TEST(ingenic_ops_values)
{
	ASSERT_EQ(ingenic_cfg_ops(INGENIC_FLASH_SFC_NOR), 0x00060000);
	ASSERT_EQ(ingenic_cfg_ops(INGENIC_FLASH_SFC_NAND), 0x00060001);
	ASSERT_EQ(ingenic_cfg_ops(INGENIC_FLASH_MMC0), 0x00020000);
	ASSERT_EQ(ingenic_cfg_ops(INGENIC_FLASH_MMC1), 0x00020001);
}

TEST(ingenic_policy_only_config_exact_bytes)
{
	uint8_t b[INGENIC_CFG_POLICY_LEN + 10];
	struct ingenic_cfg c;
	ssize_t n;

	ingenic_cfg_init(&c);
	memset(b, 0xaa, sizeof(b));
	n = ingenic_cfg_build_policy(&c, b, sizeof(b), NULL);
	ASSERT_EQ(n, 172 + 8);
	/* 'POLI' magic as LE u32: wire bytes "ILOP" (§3.4). */
	ASSERT_EQ(b[0], 'I');
	ASSERT_EQ(b[1], 'L');
	ASSERT_EQ(b[2], 'O');
	ASSERT_EQ(b[3], 'P');
	ASSERT_EQ(rd32(b + 4), 164);
	/* use_sfc_nor is the sixth flag; everything else zero. */
	for (int i = 0; i < 9; i++)
		ASSERT_EQ(rd32(b + 8 + 4 * i), i == 5);
	ASSERT_TRUE(all_zero(b + 8 + 36, 128));
	/* terminator record */
	ASSERT_TRUE(all_zero(b + 172, 8));
	ASSERT_EQ(b[180], 0xaa);
}

TEST(ingenic_policy_too_small_is_emsgsize)
{
	uint8_t b[100];
	struct ingenic_cfg c;
	struct err e = { 0 };

	ingenic_cfg_init(&c);
	ASSERT_EQ(ingenic_cfg_build_policy(&c, b, sizeof(b), &e), -EMSGSIZE);
	ASSERT_TRUE(strstr(e.msg, "180") != NULL);
}

static void t31_cfg(struct ingenic_cfg *c)
{
	ingenic_cfg_init(c);
	ASSERT_OK(ingenic_cfg_add_partition(c, "uboot", 0, 0x40000, NULL));
	ASSERT_OK(ingenic_cfg_add_partition(c, "kernel", 0x40000, 0x280000, NULL));
	ASSERT_OK(ingenic_cfg_add_partition(c, "rootfs", 0x2c0000, 0xd40000, NULL));
	ASSERT_OK(ingenic_cfg_nor_generic(0xef7018, &c->nor, NULL));
}

TEST(ingenic_full_config_tlv_offsets_match_vendor_cfg2)
{
	uint8_t b[INGENIC_CFG_FULL_LEN];
	struct ingenic_cfg c;
	ssize_t n;

	t31_cfg(&c);
	memset(b, 0xaa, sizeof(b));
	n = ingenic_cfg_build(&c, b, sizeof(b), NULL);
	/* cfg2 is 976 bytes (§4.2 step 12) + our 8-byte terminator. */
	ASSERT_EQ(n, 976 + 8);

	/* DBG @0: 'DBG\0' = wire "\0GBD", 20 bytes. */
	ASSERT_EQ(rd32(b + 0), 0x44424700);
	ASSERT_TRUE(memcmp(b, "\0GBD", 4) == 0);
	ASSERT_EQ(rd32(b + 4), 20);
	ASSERT_EQ(rd32(b + 8), 0);	  /* log_enabled */
	ASSERT_EQ(rd32(b + 12), 1);	  /* transfer_data_chk */
	ASSERT_EQ(rd32(b + 16), 1);	  /* write_back_chk */
	ASSERT_EQ(rd32(b + 20), 0x20000); /* transfer_size */
	ASSERT_EQ(rd32(b + 24), 0);

	/* POLI @28 (0x1C), 164 bytes. */
	ASSERT_EQ(rd32(b + 28), 0x504f4c49);
	ASSERT_EQ(rd32(b + 32), 164);
	ASSERT_EQ(rd32(b + 36 + 20), 1);

	/* SFC header @0xC8, body @0xD0, 0x300 bytes. */
	ASSERT_EQ(rd32(b + 0xc8), 0x53464300);
	ASSERT_TRUE(memcmp(b + 0xc8, "\0CFS", 4) == 0);
	ASSERT_EQ(rd32(b + 0xcc), 0x300);
	/* spi_param: download_params, quad, erase block, spi_erase, freq, reserve, 0x6800 @0xE8 */
	ASSERT_EQ(rd32(b + 0xd0), 0);
	ASSERT_EQ(rd32(b + 0xd4), 0);
	ASSERT_EQ(rd32(b + 0xd8), 0x10000);
	ASSERT_EQ(rd32(b + 0xdc), 0); /* partition erase: spi_erase 0 */
	ASSERT_EQ(rd32(b + 0xe0), 50000000);
	ASSERT_EQ(rd32(b + 0xe4), 0);
	ASSERT_EQ(rd32(b + 0xe8), 0x6800);
	/* burner_params: "nor" magic @0xEC, version 1, name @0xF4, id @0x114 */
	ASSERT_EQ(rd32(b + 0xec), 0x726f6e);
	ASSERT_EQ(rd32(b + 0xf0), 1);
	ASSERT_STREQ((const char *)b + 0xf4, "jedec-ef7018");
	ASSERT_EQ(rd32(b + 0x114), 0xef7018);
	/* the id as the doc shows it: 18 70 ef 00 */
	ASSERT_EQ(b[0x114], 0x18);
	ASSERT_EQ(b[0x115], 0x70);
	ASSERT_EQ(b[0x116], 0xef);
	/* 7 opcodes x 6 bytes @0x118: READ 03, FAST/QUAD 6B, PP 02, QPP 32, BE D8, WREN 06, EN4B - */
	ASSERT_EQ(rd16(b + 0x118), 0x03);
	ASSERT_EQ(b[0x11b], 3); /* address bytes */
	ASSERT_EQ(rd16(b + 0x11e), 0x6b);
	ASSERT_EQ(b[0x120], 8); /* dummy bits */
	ASSERT_EQ(rd16(b + 0x124), 0x02);
	ASSERT_EQ(rd16(b + 0x12a), 0x32);
	ASSERT_EQ(rd16(b + 0x130), 0xd8);
	ASSERT_EQ(rd16(b + 0x136), 0x06);
	ASSERT_EQ(rd16(b + 0x13c), 0x00);
	/* SR ops 3 x 8 @0x142: busy = RDSR 05, bit 0, mask 1 */
	ASSERT_EQ(rd16(b + 0x152), 0x05);
	ASSERT_EQ(b[0x155], 1);
	/* quad mode @0x15A, addr mode @0x15C, timings @0x160 */
	ASSERT_EQ(rd16(b + 0x15a), 0);
	ASSERT_EQ(rd16(b + 0x15c), 0);
	ASSERT_EQ(rd32(b + 0x160), 5);
	ASSERT_EQ(rd32(b + 0x16c), 50);
	/* chip size @0x170, page @0x174, erase size @0x178, chip erase cmd @0x17C */
	ASSERT_EQ(rd32(b + 0x170), 16 << 20);
	ASSERT_EQ(rd32(b + 0x174), 256);
	ASSERT_EQ(rd32(b + 0x178), 0x10000);
	ASSERT_EQ(rd32(b + 0x17c), 0xc7);
	/* partitions @0x180, 48 bytes each: name[32], size, offset, mask_flags, manager_mode */
	ASSERT_STREQ((const char *)b + 0x180, "uboot");
	ASSERT_EQ(rd32(b + 0x180 + 32), 0x40000);
	ASSERT_EQ(rd32(b + 0x180 + 36), 0);
	ASSERT_STREQ((const char *)b + 0x1b0, "kernel");
	ASSERT_EQ(rd32(b + 0x1b0 + 32), 0x280000);
	ASSERT_EQ(rd32(b + 0x1b0 + 36), 0x40000);
	ASSERT_EQ(rd32(b + 0x1b0 + 44), 0); /* MTD_MODE */
	ASSERT_STREQ((const char *)b + 0x1e0, "rootfs");
	ASSERT_EQ(rd32(b + 0x1e0 + 36), 0x2c0000);
	ASSERT_TRUE(all_zero(b + 0x210, 7 * 48));
	/* num_partition_info @0x360, fs_erase_size, uk_quad; mini copy @0x36C */
	ASSERT_EQ(rd32(b + 0x360), 3);
	ASSERT_EQ(rd32(b + 0x364), 0x10000);
	ASSERT_EQ(rd32(b + 0x368), 0);
	ASSERT_STREQ((const char *)b + 0x36c, "jedec-ef7018");
	ASSERT_EQ(rd32(b + 0x36c + 32), 0xef7018);
	ASSERT_EQ(rd32(b + 0x3d0 - 12), 16 << 20); /* mini: chip, page, erase size last */
	ASSERT_EQ(rd32(b + 0x3d0 - 4), 0x10000);
	/* terminator at 0x3D0 = 976 */
	ASSERT_TRUE(all_zero(b + 0x3d0, 8));
}

TEST(ingenic_chip_erase_and_range_modes)
{
	uint8_t b[INGENIC_CFG_FULL_LEN];
	struct ingenic_cfg c;

	t31_cfg(&c);
	c.erase = INGENIC_ERASE_CHIP;
	c.transfer_check = false;
	c.transfer_size = 1024 * 1024;
	ASSERT_EQ(ingenic_cfg_build(&c, b, sizeof(b), NULL), 984);
	ASSERT_EQ(rd32(b + 12), 0);
	ASSERT_EQ(rd32(b + 20), 0x100000);
	ASSERT_EQ(rd32(b + 0xdc), 1);
	ASSERT_EQ(rd32(b + 0x180 + 44), 0);
	c.erase = INGENIC_ERASE_RANGE;
	ASSERT_EQ(ingenic_cfg_build(&c, b, sizeof(b), NULL), 984);
	ASSERT_EQ(rd32(b + 0xdc), 0);
	ASSERT_EQ(rd32(b + 0x180 + 44), 1); /* MTD_D_MODE: each write erases its own range */
}

TEST(ingenic_config_refuses_bad_input)
{
	uint8_t b[INGENIC_CFG_FULL_LEN];
	struct ingenic_cfg c;
	struct err e = { 0 };

	ingenic_cfg_init(&c);
	ASSERT_OK(ingenic_cfg_nor_generic(0xef4018, &c.nor, NULL));
	ASSERT_EQ(ingenic_cfg_build(&c, b, sizeof(b), &e), -EINVAL);
	ASSERT_TRUE(strstr(e.msg, "no partitions") != NULL);
	t31_cfg(&c);
	c.transfer_size = 100000;
	err_clear(&e);
	ASSERT_EQ(ingenic_cfg_build(&c, b, sizeof(b), &e), -EINVAL);
	t31_cfg(&c);
	err_clear(&e);
	ASSERT_EQ(ingenic_cfg_build(&c, b, 500, &e), -EMSGSIZE);
	c.flash = INGENIC_FLASH_MMC0;
	err_clear(&e);
	ASSERT_EQ(ingenic_cfg_build(&c, b, sizeof(b), &e), -EOPNOTSUPP);
	t31_cfg(&c);
	ASSERT_OK(ingenic_cfg_nor_generic(0xef4017, &c.nor, NULL)); /* 8 MiB: rootfs too far */
	err_clear(&e);
	ASSERT_EQ(ingenic_cfg_build(&c, b, sizeof(b), &e), -ERANGE);
	ASSERT_TRUE(strstr(e.msg, "'rootfs'") != NULL);
}

TEST(ingenic_partitions_checked)
{
	struct ingenic_cfg c;
	struct err e = { 0 };

	ingenic_cfg_init(&c);
	ASSERT_OK(ingenic_cfg_add_partition(&c, "a", 0, 0x10000, &e));
	err_clear(&e);
	ASSERT_EQ(ingenic_cfg_add_partition(&c, "a", 0x10000, 0x10000, &e), -EEXIST);
	err_clear(&e);
	ASSERT_EQ(ingenic_cfg_add_partition(&c, "b", 0x8000, 0x10000, &e), -EEXIST);
	ASSERT_TRUE(strstr(e.msg, "overlaps 'a'") != NULL);
	err_clear(&e);
	ASSERT_EQ(ingenic_cfg_add_partition(&c, "", 0x10000, 1, &e), -EINVAL);
	ASSERT_EQ(
		ingenic_cfg_add_partition(&c, "0123456789012345678901234567890123", 0x10000, 1, &e),
		-EINVAL);
	err_clear(&e);
	ASSERT_EQ(ingenic_cfg_add_partition(&c, "z", 0x10000, 0, &e), -EINVAL);
	err_clear(&e);
	ASSERT_EQ(ingenic_cfg_add_partition(&c, "z", 0xffff0000, 0x20000, &e), -ERANGE);
	for (int i = 1; i < INGENIC_CFG_MAX_PARTS; i++) {
		char n[8];

		snprintf(n, sizeof(n), "p%d", i);
		err_clear(&e);
		ASSERT_OK(ingenic_cfg_add_partition(&c, n, 0x10000u * (uint32_t)i, 0x10000, &e));
	}
	err_clear(&e);
	ASSERT_EQ(ingenic_cfg_add_partition(&c, "x", 0x100000, 1, &e), -ENOSPC);
	err_clear(&e);
	ASSERT_EQ(ingenic_cfg_find_partition(&c, 0x20000, 0x10000, &e), 2);
	err_clear(&e);
	ASSERT_EQ(ingenic_cfg_find_partition(&c, 0x1f000, 0x2000, &e), -ERANGE);
	ASSERT_TRUE(strstr(e.msg, "0x0001f000..0x00021000") != NULL);
}

TEST(ingenic_nor_generic_from_jedec)
{
	struct ingenic_nor_info n;
	struct err e = { 0 };

	ASSERT_OK(ingenic_cfg_nor_generic(0x206018, &n, &e)); /* XM25QH128B */
	ASSERT_EQ(n.chip_size, 16 << 20);
	ASSERT_EQ(n.read_standard.cmd, 0x03);
	ASSERT_EQ(n.read_standard.addr_bytes, 3);
	/* 32 MiB: 4-byte opcodes, no EN4B (§3.4 [IFT-db]) */
	ASSERT_OK(ingenic_cfg_nor_generic(0xef4019, &n, &e));
	ASSERT_EQ(n.chip_size, 32 << 20);
	ASSERT_EQ(n.read_standard.cmd, 0x13);
	ASSERT_EQ(n.write_standard.cmd, 0x12);
	ASSERT_EQ(n.sector_erase.cmd, 0xdc);
	ASSERT_EQ(n.sector_erase.addr_bytes, 4);
	ASSERT_EQ(n.en4byte.cmd, 0);
	ASSERT_EQ(ingenic_cfg_nor_generic(0, &n, &e), -EINVAL);
	ASSERT_EQ(ingenic_cfg_nor_generic(0xffffff, &n, &e), -EINVAL);
	ASSERT_EQ(ingenic_cfg_nor_generic(0xc22039, &n, &e), -EOPNOTSUPP);
}

TEST(ingenic_jedec_is_little_endian_three_bytes)
{
	const uint8_t raw[3] = { 0x18, 0x70, 0xef };

	/* §0.6: 18 70 ef is 0xEF7018 (W25Q128JV-M), not XM25QH128. */
	ASSERT_EQ(ingenic_cfg_jedec(raw), 0xef7018);
}

TEST(ingenic_cpu_info_kinds)
{
	char t[INGENIC_CPU_INFO_LEN + 1];

	ASSERT_EQ(ingenic_cfg_cpu_kind((const uint8_t *)"T 3 1 V ", 8, t), INGENIC_CPU_ROM);
	ASSERT_STREQ(t, "T 3 1 V ");
	ASSERT_EQ(ingenic_cfg_cpu_kind((const uint8_t *)"BOOTx1830", 8, t), INGENIC_CPU_BURNER);
	ASSERT_STREQ(t, "BOOTx183");
	ASSERT_EQ(ingenic_cfg_cpu_kind((const uint8_t *)"PRJ\0\0\0\0\0", 8, t), INGENIC_CPU_BURNER);
	ASSERT_STREQ(t, "PRJ");
	ASSERT_EQ(ingenic_cfg_cpu_kind((const uint8_t *)"X2500\0\0\0", 8, t), INGENIC_CPU_BURNER);
	ASSERT_EQ(ingenic_cfg_cpu_kind((const uint8_t *)"JZ4770V1", 8, t), INGENIC_CPU_ROM);
	ASSERT_EQ(ingenic_cfg_cpu_kind((const uint8_t *)"X1000_v1", 8, t), INGENIC_CPU_ROM);
	ASSERT_EQ(ingenic_cfg_cpu_kind((const uint8_t *)"zz\x01", 3, t), INGENIC_CPU_UNKNOWN);
	ASSERT_STREQ(t, "zz.");
}

TEST_MAIN()
