/*
 * One descriptor per recipe operation, as libusb keeps one backend table:
 * everything flashd knows about an op in one place.  The loader (recipe.c,
 * recipe-stages.c), the cross-stage checks (recipe-check.c) and the job
 * runner (job.c) look an op up here instead of switching on it.  The rows
 * are in jobs/recipe-op-list.h; each op's runner is in its family file.
 * Internal to jobs/.
 */
#ifndef FLASHD_JOBS_RECIPE_OPS_H
#define FLASHD_JOBS_RECIPE_OPS_H

#include "jobs/recipe-private.h"

struct job;

/* The bytes a stage writes, for the recipe's overlap check (recipe-check.c). */
struct recipe_target {
	int kind;	     /* 1 DfuSe alt, 3 Ingenic flash (fastboot: recipe-plan-fastboot.c) */
	unsigned sub;	     /* alt, or Ingenic flash type */
	uint64_t start, end; /* [start, end) */
	const char *key;     /* JSON key the message points at */
};

/* Whether a stage of the op may or must say "irreversible": true. */
enum recipe_irreversible {
	RECIPE_IRREVERSIBLE_REFUSED,  /* never (the default) */
	RECIPE_IRREVERSIBLE_REQUIRED, /* always: the op cannot be undone */
	RECIPE_IRREVERSIBLE_PARSER,   /* the op's checks decide (RDP level 2, OTP downloads) */
};

/* Where an op stands to the Ingenic burner of its session (recipe-check.c). */
enum recipe_burner {
	RECIPE_BURNER_NONE,   /* not an Ingenic op, or needs no burner */
	RECIPE_BURNER_STARTS, /* ingenic.boot: starts it (once per session) */
	RECIPE_BURNER_NEEDS,  /* talks to it: needs ingenic.boot earlier on this device */
};

#define RECIPE_OP_IMAGES_MAX 3

struct recipe_op_desc {
	const char *name;	   /* as written in "op" */
	enum recipe_family family; /* the protocol it speaks; NONE: needs no device */
	uint32_t timeout_ms;	   /* default whole-stage deadline */
	bool leaves;		   /* the device goes away after it */
	/* Sends nothing to the device's storage (RAM loads, reads, resets):
	 * an identity pool's 'reuse' still holds after it (job-identity.c). */
	bool stores_nothing;
	enum recipe_irreversible irreversible;
	const char *irreversible_why; /* REQUIRED: "burns eFuses" */
	enum recipe_burner burner;
	/* The op's own fields of stage o (at JSON path b) into s; true when valid. */
	bool (*parse)(struct recipe_parser *p, const cJSON *o, const char *b,
		      struct recipe_stage *s);
	/* Free what parse allocated; NULL when nothing. */
	void (*release)(struct recipe_stage *s);
	/* Memory-plan contribution: the range the stage writes (resolved: its
	 * offsets are absolute); false or NULL when it writes none. */
	bool (*target)(const struct recipe_stage *s, bool resolved, struct recipe_target *t);
	/* The images the job maps before touching the board: offsets of
	 * struct recipe_image members in the stage (RECIPE_OP_IMAGE()), 0 ends
	 * the list; an image without a path (an optional one not given) is
	 * skipped. */
	size_t images[RECIPE_OP_IMAGES_MAX];
	/* Run the stage on the job's thread: job_run_<stem>() of its row. */
	int (*run)(struct job *j, const struct recipe_stage *st, const char *name, struct err *e);
};

/* The runners, int job_run_<stem>(), one per row of RECIPE_OPS, defined by the family files. */
#define RECIPE_OP_DECLARE_RUN(id, stem, ...)                                                       \
	int job_run_##stem(struct job *j, const struct recipe_stage *st, const char *name,         \
			   struct err *e);
RECIPE_OPS(RECIPE_OP_DECLARE_RUN)
#undef RECIPE_OP_DECLARE_RUN

/* The descriptor of op; NULL for an invalid value. */
const struct recipe_op_desc *recipe_op_desc(enum recipe_op op);

/* Stage parsers and releases shared by several ops (recipe-stages.c). */
bool recipe_parse_no_args(struct recipe_parser *p, const cJSON *o, const char *b,
			  struct recipe_stage *s);

/* Per-op parsers (recipe-stages.c). */
bool recipe_parse_dfuse_download(struct recipe_parser *p, const cJSON *o, const char *b,
				 struct recipe_stage *s);
bool recipe_parse_dfuse_read_uid(struct recipe_parser *p, const cJSON *o, const char *b,
				 struct recipe_stage *s);
bool recipe_parse_dfuse_leave(struct recipe_parser *p, const cJSON *o, const char *b,
			      struct recipe_stage *s);
bool recipe_parse_sdp_boot(struct recipe_parser *p, const cJSON *o, const char *b,
			   struct recipe_stage *s);
bool recipe_parse_await(struct recipe_parser *p, const cJSON *o, const char *b,
			struct recipe_stage *s);
bool recipe_parse_fastboot_getvar(struct recipe_parser *p, const cJSON *o, const char *b,
				  struct recipe_stage *s);
bool recipe_parse_fastboot_flash(struct recipe_parser *p, const cJSON *o, const char *b,
				 struct recipe_stage *s);
bool recipe_parse_fastboot_erase(struct recipe_parser *p, const cJSON *o, const char *b,
				 struct recipe_stage *s);
bool recipe_parse_fastboot_ucmd(struct recipe_parser *p, const cJSON *o, const char *b,
				struct recipe_stage *s);
bool recipe_parse_fastboot_oem(struct recipe_parser *p, const cJSON *o, const char *b,
			       struct recipe_stage *s);
bool recipe_parse_fastboot_gpt(struct recipe_parser *p, const cJSON *o, const char *b,
			       struct recipe_stage *s);
bool recipe_parse_ingenic_boot(struct recipe_parser *p, const cJSON *o, const char *b,
			       struct recipe_stage *s);
bool recipe_parse_ingenic_config(struct recipe_parser *p, const cJSON *o, const char *b,
				 struct recipe_stage *s);
bool recipe_parse_ingenic_write(struct recipe_parser *p, const cJSON *o, const char *b,
				struct recipe_stage *s);
bool recipe_parse_ingenic_secure_boot(struct recipe_parser *p, const cJSON *o, const char *b,
				      struct recipe_stage *s);
bool recipe_parse_dfuse_option_bytes(struct recipe_parser *p, const cJSON *o, const char *b,
				     struct recipe_stage *s);
bool recipe_parse_dfuse_read_protect(struct recipe_parser *p, const cJSON *o, const char *b,
				     struct recipe_stage *s);
bool recipe_parse_dfuse_read_unprotect(struct recipe_parser *p, const cJSON *o, const char *b,
				       struct recipe_stage *s);

/* Per-op releases (recipe-stages.c). */
void recipe_release_dfuse_download(struct recipe_stage *s);
void recipe_release_dfuse_option_bytes(struct recipe_stage *s);
void recipe_release_sdp_boot(struct recipe_stage *s);
void recipe_release_fastboot_getvar(struct recipe_stage *s);
void recipe_release_fastboot_flash(struct recipe_stage *s);
void recipe_release_fastboot_erase(struct recipe_stage *s);
void recipe_release_fastboot_ucmd(struct recipe_stage *s);
void recipe_release_fastboot_oem(struct recipe_stage *s);
void recipe_release_fastboot_gpt(struct recipe_stage *s);
void recipe_release_ingenic_boot(struct recipe_stage *s);
void recipe_release_ingenic_config(struct recipe_stage *s);
void recipe_release_ingenic_write(struct recipe_stage *s);
void recipe_release_ingenic_secure_boot(struct recipe_stage *s);

/* Per-op memory-plan contributions (recipe-check.c). */
bool recipe_target_dfuse_download(const struct recipe_stage *s, bool resolved,
				  struct recipe_target *t);
bool recipe_target_ingenic_write(const struct recipe_stage *s, bool resolved,
				 struct recipe_target *t);

#endif
