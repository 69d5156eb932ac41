/*
 * This file holds the SPI-NOR parts table of spinor_parts.h.
 *
 * Sources, cited per entry:
 *  - the part's datasheet (document name; the sections named are the
 *    "Manufacturer and Device Identification" table for the JEDEC ID, the
 *    "Instruction Set" table for opcodes and the "Status Registers" section
 *    for the Quad Enable bit);
 *  - [VDB]: Ingenic's own Cloner parts list, configs/spiflashinfo.cfg, as
 *    bundled in will-tm/ingenic-flash-tool src/ingenic_flash/firmware/
 *    (protocol-ingenic.md §3.4, [IFT-db]); "norkeyN" names its line.  Its
 *    QE columns are (cmd, bit, ..., len): 31h/bit 1/len 1 = SR2_31,
 *    01h/bit 9/len 2 = SR2_01, 01h/bit 6/len 1 = SR1_B6;
 *  - [LNX]: the Linux drivers/mtd/spi-nor/<vendor>.c entry with the same ID
 *    (and its notes on 4-byte opcodes and QE), read for the ID and size.
 * Facts only; no code was taken from either.
 *
 * Erase: every part here has 20h (4 KiB), 52h (32 KiB) and D8h (64 KiB).
 * Parts > 16 MiB: every one here has the dedicated 4-byte opcodes (13h
 * read, 12h program, 21h/DCh erase), so EN4B is never needed and the chip
 * stays in 3-byte mode for the boot ROM (protocol-ingenic.md §4.2 step 11,
 * §4.4).
 */
#include "protocols/spinor_parts.h"

#include <errno.h>
#include <string.h>

#define MIB(n) ((uint32_t)(n) << 20)
#define ERASE_4_32_64                                                                              \
	.op_se_4k = SPINOR_OP_SE_4K, .op_be_32k = SPINOR_OP_BE_32K, .op_be_64k = SPINOR_OP_BE_64K

/* clang-format off: one part per entry, its source last, as a datasheet table reads */
static const struct spinor_part parts[] = {
	/* Winbond: QE = SR2 bit 1 (S9), Write Status Register-2 is 31h. */
	{ .name = "W25Q64JV-IQ",
	  .jedec = 0xef4017,
	  .size = MIB(8),
	  .page = 256,
	  ERASE_4_32_64,
	  .addr = SPINOR_ADDR_3B,
	  .qe = SPINOR_QE_SR2_31,
	  .op_pp_quad = SPINOR_OP_PP_QUAD,
	  .source =
		  "Winbond W25Q64JV datasheet: Manufacturer and Device Identification (EF 4017), "
		  "Instruction Set, Status Register-2 (QE S9, 31h); [VDB] norkey15; [LNX] winbond.c w25q64" },
	{ .name = "W25Q64JV-IM",
	  .jedec = 0xef7017,
	  .size = MIB(8),
	  .page = 256,
	  ERASE_4_32_64,
	  .addr = SPINOR_ADDR_3B,
	  .qe = SPINOR_QE_SR2_31,
	  .op_pp_quad = SPINOR_OP_PP_QUAD,
	  .source =
		  "Winbond W25Q64JV-DTR datasheet: Manufacturer and Device Identification (EF 7017), "
		  "Status Register-2 (QE S9, 31h); [LNX] winbond.c w25q64jvm" },
	{ .name = "W25Q128JV-IQ",
	  .jedec = 0xef4018,
	  .size = MIB(16),
	  .page = 256,
	  ERASE_4_32_64,
	  .addr = SPINOR_ADDR_3B,
	  .qe = SPINOR_QE_SR2_31,
	  .op_pp_quad = SPINOR_OP_PP_QUAD,
	  .source =
		  "Winbond W25Q128JV datasheet: Manufacturer and Device Identification (EF 4018), "
		  "Instruction Set, Status Register-2 (QE S9, 31h); [VDB] norkey4; [LNX] winbond.c w25q128" },
	{ .name = "W25Q128JV-IM",
	  .jedec = 0xef7018,
	  .size = MIB(16),
	  .page = 256,
	  ERASE_4_32_64,
	  .addr = SPINOR_ADDR_3B,
	  .qe = SPINOR_QE_SR2_31,
	  .op_pp_quad = SPINOR_OP_PP_QUAD,
	  .source =
		  "Winbond W25Q128JV datasheet: Manufacturer and Device Identification (EF 7018 for "
		  "-IM/-JM); [VDB] norkey54; [LNX] winbond.c w25q128jv; protocol-ingenic.md §0.6" },
	{ .name = "W25Q256JV-IQ",
	  .jedec = 0xef4019,
	  .size = MIB(32),
	  .page = 256,
	  ERASE_4_32_64,
	  .addr = SPINOR_ADDR_4B_OPS,
	  .qe = SPINOR_QE_SR2_31,
	  .op_pp_quad = SPINOR_OP_PP_QUAD,
	  .source =
		  "Winbond W25Q256JV datasheet: Manufacturer and Device Identification (EF 4019), "
		  "Instruction Set (13h/12h/21h/DCh 4-byte forms), Status Register-2 (QE S9, 31h); "
		  "[VDB] norkey5; [LNX] winbond.c w25q256 (JV has 4B opcodes, FV does not)" },
	{ .name = "W25Q256JV-IM",
	  .jedec = 0xef7019,
	  .size = MIB(32),
	  .page = 256,
	  ERASE_4_32_64,
	  .addr = SPINOR_ADDR_4B_OPS,
	  .qe = SPINOR_QE_SR2_31,
	  .op_pp_quad = SPINOR_OP_PP_QUAD,
	  .source =
		  "Winbond W25Q256JV-DTR datasheet: Manufacturer and Device Identification (EF 7019), "
		  "Instruction Set (4-byte forms); [VDB] norkey55; [LNX] winbond.c w25q256jvm" },
	{ .name = "W25Q512JV-IQ",
	  .jedec = 0xef4020,
	  .size = MIB(64),
	  .page = 256,
	  ERASE_4_32_64,
	  .addr = SPINOR_ADDR_4B_OPS,
	  .qe = SPINOR_QE_SR2_31,
	  .op_pp_quad = SPINOR_OP_PP_QUAD,
	  .source =
		  "Winbond W25Q512JV datasheet: Manufacturer and Device Identification (EF 4020: the "
		  "capacity byte is not log2 of 64 MiB), Instruction Set (4-byte forms); [VDB] norkey40; "
		  "[LNX] winbond.c w25q512jvq" },

	/* GigaDevice */
	{ .name = "GD25Q64C",
	  .jedec = 0xc84017,
	  .size = MIB(8),
	  .page = 256,
	  ERASE_4_32_64,
	  .addr = SPINOR_ADDR_3B,
	  .qe = SPINOR_QE_SR2_31,
	  .op_pp_quad = SPINOR_OP_PP_QUAD,
	  .source =
		  "GigaDevice GD25Q64C datasheet: Manufacturer and Device Identification (C8 4017), "
		  "Status Register (QE S9, Write Status Register-2 31h); [VDB] norkey17; [LNX] gigadevice.c gd25q64" },
	{ .name = "GD25Q128C",
	  .jedec = 0xc84018,
	  .size = MIB(16),
	  .page = 256,
	  ERASE_4_32_64,
	  .addr = SPINOR_ADDR_3B,
	  .qe = SPINOR_QE_SR2_31,
	  .op_pp_quad = SPINOR_OP_PP_QUAD,
	  .source =
		  "GigaDevice GD25Q127C/GD25Q128C datasheet: Manufacturer and Device Identification "
		  "(C8 4018), Status Register (QE S9, 31h); [VDB] norkey0; [LNX] gigadevice.c gd25q128" },
	/*
	 * GD25Q256C keeps QE in SR1 bit 6 ([LNX] gd25q256 fixup), GD25Q256D in
	 * SR2 bit 1 ([VDB] norkey1 vs norkey23), both answer C84019: the ID
	 * cannot tell which QE bit to set, so quad stays off for it.
	 */
	{ .name = "GD25Q256",
	  .jedec = 0xc84019,
	  .size = MIB(32),
	  .page = 256,
	  ERASE_4_32_64,
	  .addr = SPINOR_ADDR_4B_OPS,
	  .qe = SPINOR_QE_NONE,
	  .op_pp_quad = SPINOR_OP_PP_QUAD,
	  .source =
		  "GigaDevice GD25Q256C and GD25Q256D datasheets: Manufacturer and Device "
		  "Identification (C8 4019), Instruction Set (13h/12h/21h/DCh); [LNX] gigadevice.c "
		  "gd25q256 (SPI_NOR_4B_OPCODES, QE SR1 bit 6 on C); [VDB] norkey1, norkey23" },

	/* Macronix: QE = SR bit 6, written with 01h; 4PP is 38h (1-4-4). */
	{ .name = "MX25L6433F",
	  .jedec = 0xc22017,
	  .size = MIB(8),
	  .page = 256,
	  ERASE_4_32_64,
	  .addr = SPINOR_ADDR_3B,
	  .qe = SPINOR_QE_SR1_B6,
	  .op_pp_quad = SPINOR_OP_PP_QUAD_MX,
	  .source =
		  "Macronix MX25L6433F datasheet: ID Definitions table (C2 2017), Status Register "
		  "(QE bit 6), Command Set (4PP 38h); [VDB] norkey19; [LNX] macronix.c mx25l6405d (same ID)" },
	{ .name = "MX25L12845G",
	  .jedec = 0xc22018,
	  .size = MIB(16),
	  .page = 256,
	  ERASE_4_32_64,
	  .addr = SPINOR_ADDR_3B,
	  .qe = SPINOR_QE_SR1_B6,
	  .op_pp_quad = SPINOR_OP_PP_QUAD_MX,
	  .source =
		  "Macronix MX25L12833F/MX25L12845G datasheets: ID Definitions table (C2 2018), "
		  "Status Register (QE bit 6), Command Set (4PP 38h); [VDB] norkey7; [LNX] macronix.c "
		  "mx25l12805d (same ID)" },
	/* MX25L25635E (same ID, end of life) lacks the 4-byte opcodes ([LNX]); not supported. */
	{ .name = "MX25L25645G",
	  .jedec = 0xc22019,
	  .size = MIB(32),
	  .page = 256,
	  ERASE_4_32_64,
	  .addr = SPINOR_ADDR_4B_OPS,
	  .qe = SPINOR_QE_SR1_B6,
	  .op_pp_quad = SPINOR_OP_PP_QUAD_MX,
	  .source = "Macronix MX25L25645G datasheet: ID Definitions table (C2 2019), Command Set "
		    "(READ4B 13h, PP4B 12h, SE4B 21h, BE4B DCh), Status Register (QE bit 6); [VDB] "
		    "norkey8; [LNX] macronix.c mx25l25635e (4B opcodes on F/G, not on E)" },

	/* XMC */
	{ .name = "XM25QH64A",
	  .jedec = 0x207017,
	  .size = MIB(8),
	  .page = 256,
	  ERASE_4_32_64,
	  .addr = SPINOR_ADDR_3B,
	  .qe = SPINOR_QE_NONE,
	  .op_pp_quad = SPINOR_OP_PP_QUAD,
	  .source = "XMC XM25QH64A datasheet: Manufacturer and Device Identification (20 7017); "
		    "[LNX] xmc.c XM25QH64A; QE as XM25QH128A ([VDB] norkey20: no QE op)" },
	{ .name = "XM25QH128A",
	  .jedec = 0x207018,
	  .size = MIB(16),
	  .page = 256,
	  ERASE_4_32_64,
	  .addr = SPINOR_ADDR_3B,
	  .qe = SPINOR_QE_NONE,
	  .op_pp_quad = SPINOR_OP_PP_QUAD,
	  .source =
		  "XMC XM25QH128A datasheet: Manufacturer and Device Identification (20 7018); "
		  "[VDB] norkey20 (no QE op, quad mode 0); [LNX] xmc.c XM25QH128A; protocol-ingenic.md §0.6" },
	{ .name = "XM25QH128B",
	  .jedec = 0x206018,
	  .size = MIB(16),
	  .page = 256,
	  ERASE_4_32_64,
	  .addr = SPINOR_ADDR_3B,
	  .qe = SPINOR_QE_SR1_B6,
	  .op_pp_quad = SPINOR_OP_PP_QUAD,
	  .source =
		  "XMC XM25QH128B datasheet: Manufacturer and Device Identification (20 6018), "
		  "Status Register (QE bit 6); [VDB] norkey26 (01h bit 6); protocol-ingenic.md §0.6" },

	/* Eon: no QE bit in the status register; [VDB] runs them single-line. */
	{ .name = "EN25QH64A",
	  .jedec = 0x1c7017,
	  .size = MIB(8),
	  .page = 256,
	  ERASE_4_32_64,
	  .addr = SPINOR_ADDR_3B,
	  .qe = SPINOR_QE_NONE,
	  .op_pp_quad = SPINOR_OP_PP_QUAD,
	  .source = "Eon EN25QH64A datasheet: Read Identification (1C 7017), Status Register; "
		    "[LNX] eon.c en25qh64" },
	{ .name = "EN25QH128A",
	  .jedec = 0x1c7018,
	  .size = MIB(16),
	  .page = 256,
	  ERASE_4_32_64,
	  .addr = SPINOR_ADDR_3B,
	  .qe = SPINOR_QE_NONE,
	  .op_pp_quad = SPINOR_OP_PP_QUAD,
	  .source = "Eon EN25QH128A datasheet: Read Identification (1C 7018), Status Register; "
		    "[VDB] norkey24 (quad mode 0); [LNX] eon.c en25qh128" },

	/* Boya */
	{ .name = "BY25Q64AS",
	  .jedec = 0x684017,
	  .size = MIB(8),
	  .page = 256,
	  ERASE_4_32_64,
	  .addr = SPINOR_ADDR_3B,
	  .qe = SPINOR_QE_SR2_31,
	  .op_pp_quad = SPINOR_OP_PP_QUAD,
	  .source = "Boya BY25Q64AS datasheet: Manufacturer and Device Identification (68 4017), "
		    "Status Register (QE S9, 31h); [VDB] norkey22" },
	{ .name = "BY25Q128AS",
	  .jedec = 0x684018,
	  .size = MIB(16),
	  .page = 256,
	  ERASE_4_32_64,
	  .addr = SPINOR_ADDR_3B,
	  .qe = SPINOR_QE_SR2_31,
	  .op_pp_quad = SPINOR_OP_PP_QUAD,
	  .source = "Boya BY25Q128AS datasheet: Manufacturer and Device Identification (68 4018), "
		    "Status Register (QE S9, 31h); [VDB] norkey21; [LNX] id_collision by25q128as" },

	/* Zbit */
	{ .name = "ZB25VQ64A",
	  .jedec = 0x5e4017,
	  .size = MIB(8),
	  .page = 256,
	  ERASE_4_32_64,
	  .addr = SPINOR_ADDR_3B,
	  .qe = SPINOR_QE_SR2_31,
	  .op_pp_quad = SPINOR_OP_PP_QUAD,
	  .source = "Zbit ZB25VQ64A datasheet: Manufacturer and Device Identification (5E 4017), "
		    "Status Register (QE S9, 31h); [VDB] norkey43" },
	{ .name = "ZB25VQ128A",
	  .jedec = 0x5e4018,
	  .size = MIB(16),
	  .page = 256,
	  ERASE_4_32_64,
	  .addr = SPINOR_ADDR_3B,
	  .qe = SPINOR_QE_SR2_31,
	  .op_pp_quad = SPINOR_OP_PP_QUAD,
	  .source = "Zbit ZB25VQ128A datasheet: Manufacturer and Device Identification (5E 4018), "
		    "Status Register (QE S9, 31h); [VDB] norkey58; [LNX] zbit.c zb25vq128" },

	/* Puya */
	{ .name = "P25Q64H",
	  .jedec = 0x856017,
	  .size = MIB(8),
	  .page = 256,
	  ERASE_4_32_64,
	  .addr = SPINOR_ADDR_3B,
	  .qe = SPINOR_QE_SR2_31,
	  .op_pp_quad = SPINOR_OP_PP_QUAD,
	  .source =
		  "Puya P25Q64H datasheet: Manufacturer and Device Identification (85 6017), "
		  "Status Register (QE S9, 31h); [VDB] norkey41 (same ID, named PY25Q64H there)" },
	{ .name = "P25Q128H",
	  .jedec = 0x856018,
	  .size = MIB(16),
	  .page = 256,
	  ERASE_4_32_64,
	  .addr = SPINOR_ADDR_3B,
	  .qe = SPINOR_QE_SR2_31,
	  .op_pp_quad = SPINOR_OP_PP_QUAD,
	  .source = "Puya P25Q128H datasheet: Manufacturer and Device Identification (85 6018), "
		    "Status Register (QE S9, 31h)" },
	{ .name = "PY25Q128HA",
	  .jedec = 0x852018,
	  .size = MIB(16),
	  .page = 256,
	  ERASE_4_32_64,
	  .addr = SPINOR_ADDR_3B,
	  .qe = SPINOR_QE_SR2_31,
	  .op_pp_quad = SPINOR_OP_PP_QUAD,
	  .source = "Puya PY25Q128HA datasheet: Manufacturer and Device Identification (85 2018), "
		    "Status Register (QE S9, 31h); [VDB] norkey37" },
};
/* clang-format on */
#define N_PARTS (sizeof(parts) / sizeof(parts[0]))

const struct spinor_part *spinor_part_find(uint32_t jedec)
{
	for (size_t i = 0; i < N_PARTS; i++)
		if (parts[i].jedec == jedec)
			return &parts[i];
	return NULL;
}

const struct spinor_part *spinor_part_at(size_t i)
{
	return i < N_PARTS ? &parts[i] : NULL;
}

static const char *const qe_names[_SPINOR_QE_MAX] = {
	[SPINOR_QE_NONE] = "none",
	[SPINOR_QE_SR2_31] = "sr2_31",
	[SPINOR_QE_SR2_01] = "sr2_01",
	[SPINOR_QE_SR1_B6] = "sr1_bit6",
};

const char *spinor_qe_name(enum spinor_qe qe)
{
	return (unsigned int)qe < _SPINOR_QE_MAX ? qe_names[qe] : "?";
}

int spinor_qe_parse(const char *name)
{
	for (int i = 0; i < _SPINOR_QE_MAX; i++)
		if (strcmp(qe_names[i], name) == 0)
			return i;
	return -EINVAL;
}
