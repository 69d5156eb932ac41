/*
 * Internal to jobs/recipe*.c: the parser context and helpers shared by the
 * top-level parser (recipe.c), the JSON field readers and problem reporting
 * (recipe-json.c), the image fields (recipe-image.c), the stage parsers
 * (recipe-stages.c), the cross-stage checks (recipe-check.c) and the set
 * loader (recipe-set.c).  Not part of the API; see jobs/recipe.h.
 */
#ifndef FLASHD_JOBS_RECIPE_PRIVATE_H
#define FLASHD_JOBS_RECIPE_PRIVATE_H

#include <cjson/cJSON.h>

#include "jobs/recipe.h"

/* Which protocol an op speaks to the device; a session speaks one. */
enum recipe_family {
	RECIPE_FAMILY_NONE,
	RECIPE_FAMILY_DFUSE,
	RECIPE_FAMILY_SDP,
	RECIPE_FAMILY_FASTBOOT,
	RECIPE_FAMILY_INGENIC,
};

struct recipe_parser {
	const char *file;	    /* recipe path as given, prefixes every message */
	const char *dir;	    /* realpath of the recipe's directory */
	struct recipe_diags *diags; /* may be NULL */
	unsigned problems;	    /* messages reported for this file */
	bool oom;
	const atomic_bool *cancel; /* may be NULL; see recipe_set_load_dir_cancellable() */
	const struct recipe_identity *identity; /* the recipe's, parsed before its stages */
};

/* recipe_load() that stops hashing images once *cancel is true (may be NULL). */
int recipe_load_cancellable(const char *path, const atomic_bool *cancel, struct recipe **ret,
			    struct recipe_diags *diags);

/* Whether the load was asked to stop (recipe_set_load_dir_cancellable()). */
static inline bool recipe_cancelled(const atomic_bool *cancel)
{
	return cancel && atomic_load_explicit(cancel, memory_order_relaxed);
}

/* Report "FILE: JPATH: text" (or "FILE: text" when jpath is NULL) and count it. */
void recipe_problem(struct recipe_parser *p, const char *jpath, const char *fmt, ...)
	_printf_(3, 4);

enum recipe_family recipe_op_family(enum recipe_op op);
/* The whole-stage deadline of an op whose stage gives no "timeout_ms"; 0 for an invalid op. */
uint32_t recipe_op_default_timeout_ms(enum recipe_op op);

/*
 * JSON field readers (recipe-json.c).  base is the JSON path of the object
 * being read ("stages[2]", "match"; NULL or "" at the top level) and names
 * the field in every message.  Paths are cut at RECIPE_JPATH_MAX - 1
 * characters, which only shortens a message.
 */
#define RECIPE_JPATH_MAX 160

/* out (RECIPE_JPATH_MAX bytes) = "base.key", or "key" at the top level. */
void recipe_jpath_key(char *out, const char *base, const char *key);
/* out (RECIPE_JPATH_MAX bytes) = "base[i]". */
void recipe_jpath_index(char *out, const char *base, size_t i);

/* strdup() that sets p->oom when out of memory (and returns NULL). */
char *recipe_strdup(struct recipe_parser *p, const char *s);

/*
 * Report unknown and duplicate keys of obj.  allowed is NULL-terminated;
 * common (may be NULL) is a second list allowed as well.  Returns true when
 * every key is allowed and appears once.
 */
bool recipe_check_keys(struct recipe_parser *p, const cJSON *obj, const char *base,
		       const char *const *allowed, const char *const *common);

/*
 * The getters read obj's key and return 1 = found and valid (output set),
 * 0 = absent (reported if required; output untouched), -1 = reported.
 */

/* Any JSON value; jp (RECIPE_JPATH_MAX bytes) gets the key's path either way. */
int recipe_get_item(struct recipe_parser *p, const cJSON *obj, const char *base, const char *key,
		    bool required, const cJSON **ret, char *jp);
/* A non-empty string, copied into *out (the caller frees it). */
int recipe_get_string(struct recipe_parser *p, const cJSON *obj, const char *base, const char *key,
		      bool required, char **out);
/* A JSON boolean; never required. */
int recipe_get_bool(struct recipe_parser *p, const cJSON *obj, const char *base, const char *key,
		    bool *out);
/* A number as recipe_parse_number() reads it, within min..max. */
int recipe_get_number(struct recipe_parser *p, const cJSON *obj, const char *base, const char *key,
		      bool required, uint64_t min, uint64_t max, uint64_t *out);
/* A USB ID or bcdDevice: a string of exactly 4 hex digits ("0483"). */
int recipe_get_hex16(struct recipe_parser *p, const cJSON *obj, const char *base, const char *key,
		     bool required, uint16_t *out);
/*
 * A string naming one of names[0..n) whose bit is set in allowed; *out gets
 * its index.  Never required: *out keeps its default when absent.
 */
int recipe_get_enum(struct recipe_parser *p, const cJSON *obj, const char *base, const char *key,
		    const char *const *names, int n, unsigned allowed, int *out);

/* A non-negative integer: a JSON integer or a string in C base-0 form ("0x08000000", "1024"). */
bool recipe_parse_number(const cJSON *it, uint64_t *out);
/* Exactly digits hex digits, no prefix, either case. */
bool recipe_parse_hex(const char *s, size_t digits, uint32_t *out);

/*
 * Image fields (recipe-image.c).  The "file" and "sha256" keys of obj (a
 * stage, or a nested image object): the file must resolve inside p->dir and
 * is read once to check its sha256 and probe for an Android sparse header.
 * Fills img as far as it got (img->file and img->path are freed with the
 * recipe).  Returns true when both keys are valid and the file matches.
 */
bool recipe_get_image(struct recipe_parser *p, const cJSON *obj, const char *base,
		      struct recipe_image *img);
/* A nested image object such as ingenic.boot "spl": { "file": ..., "sha256": ... }; 1/0/-1. */
int recipe_get_image_object(struct recipe_parser *p, const cJSON *obj, const char *base,
			    const char *key, bool required, struct recipe_image *img);

/*
 * Parse one element of "stages" (o, at JSON path b) into s: the keys every
 * stage takes, then the op's own fields (recipe-stages.c).  Returns true
 * when every field was valid; s->op stays _RECIPE_OP_INVALID when "op" is
 * missing or unknown.
 */
bool recipe_parse_stage(struct recipe_parser *p, const cJSON *o, const char *b,
			struct recipe_stage *s);

/*
 * Cross-stage validation on a parsed recipe: reachability, sessions, Ingenic
 * ordering, overlapping writes, serial source and JEDEC list.  stage_ok[i] is
 * false for stages whose own fields had problems (skipped where a check would
 * only repeat them).  Resolves ingenic.write offsets to absolute ones.
 */
void recipe_check(struct recipe_parser *p, struct recipe *r, const bool *stage_ok);

/* recipe-gpt.c: a fastboot.flash to U-Boot's "gpt" or "mbr" name must carry
 * a table U-Boot accepts; other names pass.  False (problem at jp_file
 * naming the file) when it does not. */
bool recipe_check_table_image(struct recipe_parser *p, const char *jp_file, const char *name,
			      const struct recipe_image *img);

/* recipe-gpt.c: disk_size and partitions of a fastboot.gpt stage at b: the
 * layout must fit a GPT on that disk.  False when a problem was reported. */
bool recipe_parse_gpt_fields(struct recipe_parser *p, const cJSON *o, const char *b,
			     struct recipe_fastboot_gpt *g);

/* recipe-stages.c: .dfu suffix VID/PID against each dfuse.download's device. */
void recipe_check_dfu_ids(struct recipe_parser *p, const struct recipe *r, const bool *stage_ok);

/*
 * recipe-plan-ingenic.c: the Ingenic memory plan.  Which NOR bytes each
 * ingenic.config (chip erase) and ingenic.write (partition or range erase,
 * in RECIPE_INGENIC_PLAN_ERASE blocks) erases; an erase of bytes an earlier
 * ingenic.write wrote is refused unless the stage has destroys_earlier.
 * Partitions must fit the smallest chip of the "jedec" list.  resolved[i]
 * says stage i's write offset is absolute (recipe_check()).
 */
void recipe_plan_ingenic(struct recipe_parser *p, const struct recipe *r, const bool *stage_ok,
			 const bool *resolved);

/*
 * recipe-plan-fastboot.c: the fastboot memory plan.  A flash or erase of a
 * partition an earlier stage flashed, a raw range overlapping an earlier
 * one, or a gpt/mbr flash after partition writes is refused unless the
 * stage has destroys_earlier.
 */
void recipe_plan_fastboot(struct recipe_parser *p, const struct recipe *r, const bool *stage_ok);

/*
 * recipe-plan-dfuse-rdp.c: after a stage that sets STM32 read protection
 * level 1 no DfuSe stage but dfuse.read_unprotect may follow (the ROM
 * refuses reads and writes); after level 2 no stage at all; a
 * dfuse.read_unprotect after downloads needs destroys_earlier.
 */
void recipe_plan_dfuse_rdp(struct recipe_parser *p, const struct recipe *r, const bool *stage_ok);

/* recipe-sdp-spl.c: sdp.boot's "skip_spl" / "offset" (the SPL gadget's write). */
struct recipe_sdp_boot;
bool recipe_parse_sdp_spl(struct recipe_parser *p, const cJSON *o, const char *b,
			  struct recipe_sdp_boot *a);

/*
 * recipe-identity.c: the top-level "identity" object (pools, per-unit image
 * templates, rework rule), parsed before the stages (sets p->identity);
 * a stage's "identity": NAME naming one of its images (in place of "file"
 * and "sha256"); the cross-stage rule that a dfuse.download into STM32 OTP
 * needs "irreversible": true (and only such a one may have it).
 */
bool recipe_parse_identity(struct recipe_parser *p, const cJSON *root, struct recipe *r);
bool recipe_get_identity_image(struct recipe_parser *p, const cJSON *o, const char *b,
			       struct recipe_image *img);
void recipe_check_identity(struct recipe_parser *p, const struct recipe *r, const bool *stage_ok);
void recipe_identity_release(struct recipe_identity *id);

#endif
