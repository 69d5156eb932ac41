/*
 * The op table: one row per recipe operation, X(ID, stem, fields...).
 *  - ID names the enum value RECIPE_OP_<ID> (jobs/recipe.h);
 *  - stem names the runner, int job_run_<stem>(), which the op's family
 *    file defines (jobs/job-dfuse.c, job-dfuse-rdp.c, job-imx.c,
 *    job-ingenic.c; await in job.c) and jobs/recipe-ops.h declares;
 *  - fields are the designated initialisers of its struct recipe_op_desc
 *    (jobs/recipe-ops.h): name, family, default deadline, whether the device
 *    leaves, parser, release, memory-plan contribution, images the job maps.
 * Adding an op is its family file plus one row here.  The order is the
 * enum's: append, never reorder.  Only jobs/recipe-ops.c expands the fields.
 *
 * Default deadlines: generous, from the timing notes.  DfuSe mass erase can
 * take 32 s on F4 (protocol-dfu.md §2.8); SDP ROM + DDR init <= 10 s and
 * re-enumeration 10-15 s (protocol-imx-sdp-fastboot.md §8.3); fastboot flash
 * to eMMC/NOR takes minutes (§4.6); Ingenic chip erase at INIT 15-120 s, and
 * GET_ACK blocks while the burner writes (protocol-ingenic.md §3.6).
 * fastboot.oem format writes a GPT: like a UCmd.  The option-byte ops write,
 * the ROM resets and re-enumerates (boot ~0.1 s, USB enumeration seconds);
 * read unprotect adds a mass erase of up to 32 s (§2.8) and Betaflight waits
 * 20 s on top (protocol-dfu.md §3.5).
 */
#ifndef FLASHD_JOBS_RECIPE_OP_LIST_H
#define FLASHD_JOBS_RECIPE_OP_LIST_H

#define RECIPE_OP_IMAGE(member) offsetof(struct recipe_stage, u.member)

#define RECIPE_OPS(X)                                                                              \
	X(DFUSE_DOWNLOAD, dfuse_download, .name = "dfuse.download", .family = RECIPE_FAMILY_DFUSE, \
	  .timeout_ms = 120000, .parse = recipe_parse_dfuse_download,                              \
	  .release = recipe_release_dfuse_download, .target = recipe_target_dfuse_download,        \
	  .irreversible = RECIPE_IRREVERSIBLE_PARSER, /* OTP only: recipe_check_identity() */      \
	  .images = { RECIPE_OP_IMAGE(dfuse_download.image) })                                     \
	X(DFUSE_READ_UID, dfuse_read_uid, .name = "dfuse.read_uid", .stores_nothing = true,        \
	  .family = RECIPE_FAMILY_DFUSE, .timeout_ms = 5000, .parse = recipe_parse_dfuse_read_uid) \
	X(DFUSE_LEAVE, dfuse_leave, .name = "dfuse.leave", .stores_nothing = true,                 \
	  .family = RECIPE_FAMILY_DFUSE, .timeout_ms = 5000, .leaves = true,                       \
	  .parse = recipe_parse_dfuse_leave)                                                       \
	X(SDP_BOOT, sdp_boot, .name = "sdp.boot", .stores_nothing = true,                          \
	  .family = RECIPE_FAMILY_SDP, .timeout_ms = 30000, .leaves = true,                        \
	  .parse = recipe_parse_sdp_boot, .release = recipe_release_sdp_boot,                      \
	  .images = { RECIPE_OP_IMAGE(sdp_boot.image) })                                           \
	X(AWAIT, await, .name = "await", .stores_nothing = true, .family = RECIPE_FAMILY_NONE,     \
	  .timeout_ms = 15000, .parse = recipe_parse_await)                                        \
	X(FASTBOOT_GETVAR, fastboot_getvar, .name = "fastboot.getvar", .stores_nothing = true,     \
	  .family = RECIPE_FAMILY_FASTBOOT, .timeout_ms = 5000,                                    \
	  .parse = recipe_parse_fastboot_getvar, .release = recipe_release_fastboot_getvar)        \
	X(FASTBOOT_FLASH, fastboot_flash, .name = "fastboot.flash",                                \
	  .family = RECIPE_FAMILY_FASTBOOT, .timeout_ms = 300000,                                  \
	  .parse = recipe_parse_fastboot_flash, .release = recipe_release_fastboot_flash,          \
	  .images = { RECIPE_OP_IMAGE(fastboot_flash.image) })                                     \
	X(FASTBOOT_ERASE, fastboot_erase, .name = "fastboot.erase",                                \
	  .family = RECIPE_FAMILY_FASTBOOT, .timeout_ms = 60000,                                   \
	  .parse = recipe_parse_fastboot_erase, .release = recipe_release_fastboot_erase)          \
	X(FASTBOOT_UCMD, fastboot_ucmd, .name = "fastboot.ucmd", .family = RECIPE_FAMILY_FASTBOOT, \
	  .timeout_ms = 30000, .parse = recipe_parse_fastboot_ucmd,                                \
	  .release = recipe_release_fastboot_ucmd)                                                 \
	X(FASTBOOT_REBOOT, fastboot_reboot, .name = "fastboot.reboot", .stores_nothing = true,     \
	  .family = RECIPE_FAMILY_FASTBOOT, .timeout_ms = 5000, .leaves = true,                    \
	  .parse = recipe_parse_no_args)                                                           \
	X(FASTBOOT_CONTINUE, fastboot_continue, .name = "fastboot.continue",                       \
	  .stores_nothing = true, .family = RECIPE_FAMILY_FASTBOOT, .timeout_ms = 5000,            \
	  .leaves = true, .parse = recipe_parse_no_args)                                           \
	X(INGENIC_BOOT, ingenic_boot, .name = "ingenic.boot", .stores_nothing = true,              \
	  .family = RECIPE_FAMILY_INGENIC, .timeout_ms = 30000, .burner = RECIPE_BURNER_STARTS,    \
	  .parse = recipe_parse_ingenic_boot, .release = recipe_release_ingenic_boot,              \
	  .images = { RECIPE_OP_IMAGE(ingenic_boot.spl), RECIPE_OP_IMAGE(ingenic_boot.burner),     \
		      RECIPE_OP_IMAGE(ingenic_boot.ginfo) })                                       \
	X(INGENIC_CHECK_JEDEC, ingenic_check_jedec, .name = "ingenic.check_jedec",                 \
	  .stores_nothing = true, .family = RECIPE_FAMILY_INGENIC, .timeout_ms = 5000,             \
	  .burner = RECIPE_BURNER_NEEDS, .parse = recipe_parse_no_args)                            \
	X(INGENIC_CONFIG, ingenic_config, .name = "ingenic.config",                                \
	  .family = RECIPE_FAMILY_INGENIC, .timeout_ms = 200000, .burner = RECIPE_BURNER_NEEDS,    \
	  .parse = recipe_parse_ingenic_config, .release = recipe_release_ingenic_config)          \
	X(INGENIC_WRITE, ingenic_write, .name = "ingenic.write", .family = RECIPE_FAMILY_INGENIC,  \
	  .timeout_ms = 600000, .burner = RECIPE_BURNER_NEEDS,                                     \
	  .parse = recipe_parse_ingenic_write, .release = recipe_release_ingenic_write,            \
	  .target = recipe_target_ingenic_write,                                                   \
	  .images = { RECIPE_OP_IMAGE(ingenic_write.image) })                                      \
	X(INGENIC_REBOOT, ingenic_reboot, .name = "ingenic.reboot", .stores_nothing = true,        \
	  .family = RECIPE_FAMILY_INGENIC, .timeout_ms = 5000, .leaves = true,                     \
	  .burner = RECIPE_BURNER_NEEDS, .parse = recipe_parse_no_args)                            \
	X(INGENIC_SECURE_BOOT, ingenic_secure_boot, .name = "ingenic.secure_boot",                 \
	  .family = RECIPE_FAMILY_INGENIC, .timeout_ms = 60000, .burner = RECIPE_BURNER_NEEDS,     \
	  .irreversible = RECIPE_IRREVERSIBLE_REQUIRED, .irreversible_why = "burns eFuses",        \
	  .parse = recipe_parse_ingenic_secure_boot,                                               \
	  .release = recipe_release_ingenic_secure_boot)                                           \
	X(FASTBOOT_OEM, fastboot_oem, .name = "fastboot.oem", .family = RECIPE_FAMILY_FASTBOOT,    \
	  .timeout_ms = 30000, .parse = recipe_parse_fastboot_oem,                                 \
	  .release = recipe_release_fastboot_oem)                                                  \
	X(FASTBOOT_GPT, fastboot_gpt, .name = "fastboot.gpt", .family = RECIPE_FAMILY_FASTBOOT,    \
	  .timeout_ms = 30000, .parse = recipe_parse_fastboot_gpt,                                 \
	  .release = recipe_release_fastboot_gpt)                                                  \
	X(DFUSE_OPTION_BYTES, dfuse_option_bytes, .name = "dfuse.option_bytes",                    \
	  .family = RECIPE_FAMILY_DFUSE, .timeout_ms = 30000,                                      \
	  .irreversible = RECIPE_IRREVERSIBLE_PARSER, .parse = recipe_parse_dfuse_option_bytes,    \
	  .release = recipe_release_dfuse_option_bytes)                                            \
	X(DFUSE_READ_PROTECT, dfuse_read_protect, .name = "dfuse.read_protect",                    \
	  .family = RECIPE_FAMILY_DFUSE, .timeout_ms = 30000,                                      \
	  .irreversible = RECIPE_IRREVERSIBLE_PARSER, .parse = recipe_parse_dfuse_read_protect)    \
	X(DFUSE_READ_UNPROTECT, dfuse_read_unprotect, .name = "dfuse.read_unprotect",              \
	  .family = RECIPE_FAMILY_DFUSE, .timeout_ms = 60000,                                      \
	  .parse = recipe_parse_dfuse_read_unprotect)

#endif
