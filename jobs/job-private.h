/*
 * Internals shared by the job runner (job.c), the device session
 * (job-session.c) and the per-family stage implementations (job-dfuse.c ...).
 * Not an API: only jobs/ includes this.
 */
#ifndef FLASHD_JOBS_JOB_PRIVATE_H
#define FLASHD_JOBS_JOB_PRIVATE_H

#include <pthread.h>
#include <stdatomic.h>

#include "db/units.h"
#include "jobs/job.h"
#include "jobs/recipe-ops.h"
#include "protocols/dfuse.h"
#include "protocols/usb.h"

/* One device session: from open (or an await) until the device leaves. */
/* Which family engine a device session holds (job_session.proto). */
enum job_session_family {
	JOB_SESSION_NONE = 0,
	JOB_SESSION_IMX,
	JOB_SESSION_INGENIC,
};

struct imx_session;
struct ingenic_session;
struct job_identity;
/* Close a family's engine state (job-imx.c, job-ingenic.c). */
void job_imx_session_close(struct imx_session *s);
void job_ingenic_session_close(struct ingenic_session *s);

struct job_session {
	int fd; /* the devnode, kept open while libusb uses it */
	/* The session's own libusb context: synchronous transfers make the
	 * calling thread handle the context's events, so job threads sharing
	 * one context take turns on its event lock and every completion wakes
	 * all of them (32 boards: 2.7x the modelled time, tests/bench/README.md).
	 * NULL: the station's env->usb is used (libusb_init failed). */
	libusb_context *ctx;
	libusb_device_handle *handle;
	struct usb_dev usb;
	struct dfuse *dfuse; /* DfuSe engine, opened on first use */
	/* Other families' engine state, owned by the session and closed when
	 * it ends; `family` tells which member is live. */
	enum job_session_family family;
	union {
		struct imx_session *imx;	 /* SDP on the ROM, fastboot after */
		struct ingenic_session *ingenic; /* ROM, then the burner */
	} proto;
};

/*
 * Whole-unit verification (job-verify.c): what one device memory must hold
 * at the end.  A range points into the image mapping the job keeps until it
 * ends (map_images() in job.c), so no bytes are copied.
 */
enum job_mem {
	JOB_MEM_DFUSE, /* a DfuSe alt, 32-bit addresses */
	JOB_MEM_NOR,   /* the Ingenic burner's flash, byte offsets */
	JOB_MEM_MMC,   /* fastboot eMMC: raw byte offsets, or a partition's own offsets */
};

struct job_range {
	enum job_mem mem;
	uint8_t alt;	  /* JOB_MEM_DFUSE */
	const char *part; /* JOB_MEM_MMC partition (recipe string), NULL: raw offsets */
	uint64_t addr, len;
	const uint8_t *data;	/* the expected bytes (NULL with fill) */
	unsigned stage;		/* recipe index of the stage that wrote them */
	uint64_t stage_len;	/* what that stage wrote there (set by job_plan_write) */
	const char *unreadable; /* why the device cannot read them back, or NULL */
	/* The stage read all its bytes back after its own last write and they
	 * matched; cleared by any later write or erase of the same memory, so
	 * while set the unit verify pass need not read them again. */
	bool read_back_last;
	/* A sparse image's FILL chunk: the bytes are fill[0..3] repeated, from
	 * fill[0] at addr (job_plan_write rotates it when addr moves). */
	bool is_fill;
	uint8_t fill[4];
	/* JOB_MEM_MMC: the span the stage wrote over all its ranges (a sparse
	 * image's RAW and FILL chunks), for the row's target; 0/0: addr/len. */
	uint64_t stage_addr, stage_span;
	/* JOB_MEM_MMC raw offsets written under a U-Boot name ("gpt", "mbr"):
	 * the name the rows give them. */
	const char *label;
	/* The row's image when the recipe has none for the stage (the table a
	 * fastboot.gpt stage builds), else NULL. */
	const struct recipe_image *image;
};

struct job_plan {
	struct job_range *v;
	size_t n, cap;
	bool dirty;	 /* written or erased since the last read-back pass */
	bool oom;	 /* a range could not be kept: the plan is incomplete */
	unsigned passes; /* read-back passes so far (their stage rows' idx) */
	void **kept;	 /* buffers ranges point into, freed with the plan */
	size_t n_kept;
};

/* The phase shown (job-progress.c); job thread only. */
struct job_progress {
	enum usb_phase phase; /* 0: none yet in this stage */
	uint64_t total;	      /* the phase's total, 0: the engine's total - base */
	uint64_t base;	      /* engine byte count at which the phase began */
	uint64_t last;	      /* the engine's last byte count */
	bool accumulate;      /* unit verify: counts restart per range, add them */
	uint64_t acc;
};

struct job {
	const struct job_env *env;
	const struct recipe *recipe;
	struct job_observer obs;
	char *slot;
	pthread_t thread;
	bool thread_started;

	pthread_mutex_t lock; /* guards the block below */
	pthread_cond_t cond;
	struct job_device dev; /* newest device seen on the port */
	unsigned dev_gen;      /* bumped on every arrival */
	unsigned used_gen;     /* dev_gen of the device the job took last */
	bool dev_present;
	int stop_reason;      /* 0, -ECANCELED (shutdown) or -ETIMEDOUT (deadline) */
	uint64_t deadline_ms; /* running stage, 0 = none */

	atomic_int cancel; /* engines' cancel flag, set with stop_reason */

	/* job thread only */
	struct image *images[RECIPE_STAGES_MAX * 3]; /* every image, mapped at job start */
	size_t n_images;
	int64_t unit_id;
	int64_t started_ms;
	int64_t last_stage_ms; /* started_at of the unit's last stage row (stage_started_at()) */
	bool result_pending;   /* the finish went to the pending queue */
	struct job_device cur; /* device of the current session */
	unsigned leave_gen;    /* dev_gen when the device was told to leave */
	struct job_session s;
	/* DfuSe sectors erased so far in this job, across stages and sessions:
	 * a later stage keeps what an earlier one wrote into a shared sector. */
	struct dfuse_erased dfuse_erased;
	struct job_plan plan; /* expected final contents (job-verify.c) */
	struct job_progress prog;
	char serial[128];
	char chip_uid[64];
	char jedec[16];
	/* What a passing stage wants said in its row's error column (e.g. the
	 * NOR range an Ingenic write erased; job_stage_note()); cleared when
	 * each stage starts. */
	char stage_note[ERR_MSG_MAX];
	struct job_identity *identity; /* job-identity.c; NULL: the recipe draws no values */
};

/* job-session.c: open the current device (bounded retries for the transient
 * BUSY/ACCESS/NO_DEVICE seen right after plug-in) / close it. */
int job_session_open(struct job *j, struct err *e);
void job_session_close(struct job *j);

/* job-progress.c: phases and bytes to the observer.  The session's usb_dev
 * reports phases to job_phase_cb; job_progress_cb() goes to
 * job_progress_bytes().  reset: a stage begins; unit_verify: the read-back
 * pass begins. */
void job_phase_cb(void *ud, enum usb_phase ph, uint64_t done, uint64_t total, uint64_t est_ms);
void job_progress_bytes(struct job *j, uint64_t done, uint64_t total);
void job_progress_reset(struct job *j);
void job_progress_unit_verify(struct job *j);

/* job.c helpers for stage implementations */
void job_progress_cb(void *ud, uint64_t done, uint64_t total);
/* Record what the device told about itself; NULL or empty fields are left
 * as they are (the serial also goes to the live status). */
void job_set_identity(struct job *j, const struct db_unit_identity *id);
/* One image a stage wrote, or a range the verify stage read back. */
struct job_image_row {
	const char *stage;		  /* the stage's name */
	const char *target;		  /* "alt0:0x08000000", "0x400", a partition */
	const struct recipe_image *image; /* file, size and pin */
	bool has_host_crc, has_dev_crc;
	uint32_t host_crc, dev_crc;
	bool verified; /* device CRC or read-back matched */
};
void job_record_image(struct job *j, const struct job_image_row *row);
/* Map a recipe image through the shared cache. */
int job_image_get(struct job *j, const struct recipe_image *ri, struct image **ret, struct err *e);

/*
 * A stage whose device resets by itself and comes back (dfuse.option_bytes,
 * dfuse.read_protect, dfuse.read_unprotect: no await in the recipe): call
 * job_expect_reset() before the request that resets it, then
 * job_await_reset() (closes the session; back: waits for the device to
 * reappear on the port with the same VID/PID and opens it).
 */
void job_expect_reset(struct job *j);
int job_await_reset(struct job *j, bool back, struct err *e);
/* A note for the running stage's row when it passes (say what was set). */
void job_stage_note(struct job *j, const char *fmt, ...) _printf_(2, 3);

/* The stages' runners, job_run_<stem>(), are declared with the op table (jobs/recipe-ops.h). */

/* job-dfuse.c: the session's DfuSe engine, opened on first use. */
int job_dfuse_open(struct job *j, struct err *e);
/* job-imx-sdpv.c: sdp.boot on the SPL's SDP gadget and on stream ROMs
 * (job_run_sdp_boot() hands over to these). */
struct imx_spl;
struct imx_soc;
const struct imx_spl *job_imx_spl(struct job *j);
int job_imx_spl_boot(struct job *j, const struct recipe_stage *st, const char *name,
		     const struct imx_spl *spl, struct err *e);
int job_imx_sdps_boot(struct job *j, const struct recipe_stage *st, const char *name,
		      const struct imx_soc *soc, struct err *e);

/*
 * job-verify.c: the plan.  A write supersedes the bytes of earlier ranges it
 * overlaps on the same memory; an erase removes them (the recipe planned
 * it).  Out of memory is remembered and fails the read-back pass.
 */
int job_plan_write(struct job *j, const struct job_range *r);
void job_plan_erase(struct job *j, enum job_mem mem, uint8_t alt, const char *part, uint64_t addr,
		    uint64_t len);
void job_plan_release(struct job_plan *p);
/* Keep buf (malloc'd) until the job ends: ranges may point into it.  0, or
 * -ENOMEM (buf freed, the plan marked incomplete). */
int job_plan_keep(struct job *j, void *buf);
/* A read-back pass is due before `next` (NULL: after the last stage). */
bool job_verify_due(const struct job *j, const struct recipe_stage *next);
/* What a pass tells beside its result: text "" when there is nothing. */
struct job_verify_note {
	char text[ERR_MSG_MAX];
	bool warning; /* some range could not be read back: not verified */
};
/*
 * Read every range of the plan back and compare; one image row (stage
 * "verify") per range.  A range its own stage read back after the job's
 * last write to that memory is not read again (job_range.read_back_last).
 * Returns 0, or the first failure (-EILSEQ: bytes lost, naming the stage,
 * address and both CRCs).  note says what was not read back (a warning) or
 * what the stages' own read-backs covered.
 */
int job_verify(struct job *j, struct job_verify_note *note, struct err *e);

/* Per-family read-back for job-verify.c, on the open session. */
int job_dfuse_read(struct job *j, uint8_t alt, uint32_t addr, uint8_t *buf, size_t len,
		   struct err *e);
int job_ingenic_read(struct job *j, const struct recipe_stage *writer, uint64_t off, uint8_t *buf,
		     size_t len, struct err *e);
/* Where a JOB_MEM_MMC range's offsets start: the eMMC hardware partition
 * (0 user area, 1/2 boot0/boot1) and the byte offset in it.  NULL part:
 * raw offsets (0, 0). */
int job_fastboot_locate(struct job *j, const char *part, unsigned *hwpart, uint64_t *base,
			struct err *e);
int job_fastboot_crc(struct job *j, unsigned hwpart, uint64_t off, uint64_t len, uint32_t *crc,
		     struct err *e);

#endif
