/*
 * The job state machine (jobs/job.c) against a fake engine, with no rig and
 * no USB: stage order and the stage rows, await and the device generations
 * (leave_gen / dev_gen / used_gen), job_has_unused_device(), retries,
 * deadlines, cancel, and a unit row that cannot be written.
 *
 * The fake is a link-time substitution: this file defines the functions of
 * jobs/job-session.c, job-dfuse.c, job-imx.c and job-ingenic.c, so the
 * linker takes job.o (and the real db/, recipe and image code) from the
 * archives but never those members.  Each test scripts what the engine
 * calls do in call order (succeed, fail with an errno, block until
 * cancelled, pause until the test lets go), and the test thread plays the
 * daemon's loop thread (job_device_arrived/gone, job_cancel,
 * job_check_deadline).  The database is a real SQLite file; rows are read
 * back through a second connection.
 *
 * The last cases run the station's port state machine (daemon/station.c)
 * the same way, with a fake hotplug (daemon/hotplug.c substituted): the
 * rearm rule for a unit that passed and comes back, and a board swapped in
 * while a job fails.  `make check-tsan` runs this program under
 * ThreadSanitizer (tests/jobs/test-job-states-tsan.sh).
 *
 * The database failing mid-job (a stage row, the whole-unit verify row, the
 * result; with a deadline or a cancel meanwhile) is a real SQLite write
 * failure: RLIMIT_FSIZE at the size of the WAL, as tests/db/test-pending.c
 * makes it.  The job's records then go to the pending queue (db/pending.h)
 * and the station stops taking boards until they are written.
 */
#include "daemon/hotplug.h"
#include "daemon/station.h"
#include "db/db.h"
#include "jobs/job-private.h"
#include "jobs/recipe-sha256.h"
#include "protocols/crc32.h"
#include "tests/db/db-test-util.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Every wait of the test is bounded: a broken job fails the case, never hangs it. */
#define WAIT_MS 10000

enum act {
	ACT_OK,	   /* succeed; like every transfer, honour the cancel flag first */
	ACT_FAIL,  /* fail with step.code */
	ACT_BLOCK, /* a long transfer: poll the cancel flag (real engines: <= 250 ms slices) */
	ACT_PAUSE, /* wait for fake_resume(), then fail with step.code if set, else as ACT_OK */
	ACT_PAUSE_DONE, /* the last transfer is done: wait for fake_resume(), then succeed */
};

struct step {
	enum act act;
	int code;
};

static struct fake {
	pthread_mutex_t lock;
	struct step steps[16];
	size_t n_steps, next;
	char trace[1024];
	bool session_open;
	bool paused, resume, blocked;
	unsigned awaiting;
	bool count_rows; /* trace the number of stage rows seen by each engine call */
	unsigned closes, pause_close_at; /* pause in the pause_close_at'th job_session_close() */
	bool plan_writes; /* fastboot.flash writes verify_data at eMMC 0 (job-verify.c plan) */
	bool pause_crc, bad_crc; /* the verify read-back: pause first / answer a wrong CRC */
	bool units_at_open;	 /* record the fewest unit rows any job_session_open() saw */
	long long min_units;
	bool done;
	enum job_result result;
	char failed[64];
	char error[ERR_MSG_MAX];
	struct job *job;
	const char *db_path;
} fk = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void trace_add(const char *fmt, ...) _printf_(1, 2);
static void trace_add(const char *fmt, ...)
{
	size_t n = strlen(fk.trace);
	va_list ap;

	if (n && n < sizeof(fk.trace) - 1)
		fk.trace[n++] = ' ';
	va_start(ap, fmt);
	vsnprintf(fk.trace + n, sizeof(fk.trace) - n, fmt, ap);
	va_end(ap);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Poll cond under the fake's lock until it holds or WAIT_MS passed. */
#define WAIT_UNTIL(cond)                                                                           \
	do {                                                                                       \
		bool _ok = false;                                                                  \
		for (int _i = 0; _i < WAIT_MS && !_ok; _i++) {                                     \
			pthread_mutex_lock(&fk.lock);                                              \
			_ok = (cond);                                                              \
			pthread_mutex_unlock(&fk.lock);                                            \
			if (!_ok)                                                                  \
				usleep(1000);                                                      \
		}                                                                                  \
		if (!_ok) {                                                                        \
			rescue();                                                                  \
			TEST_FAIL("timed out waiting for %s", #cond);                              \
		}                                                                                  \
	} while (0)

/* A failed wait: stop the job so the next case starts clean. */
static void rescue(void)
{
	pthread_mutex_lock(&fk.lock);
	fk.resume = true;
	pthread_mutex_unlock(&fk.lock);
	if (fk.job) {
		job_cancel(fk.job);
		job_join(fk.job);
	}
}

static long long stage_rows(void)
{
	char sql[128];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM unit_stages WHERE unit_id = %lld",
		 (long long)job_unit_id(fk.job));
	return raw_int(fk.db_path, sql);
}

/* ---- the fake engine: stands in for jobs/job-session.c and the family engines */

/* A new case: the script of its engine calls, nothing traced yet. */
static void fake_reset(const struct step *steps, size_t n_steps)
{
	pthread_mutex_lock(&fk.lock);
	memset(fk.steps, 0, sizeof(fk.steps));
	if (n_steps)
		memcpy(fk.steps, steps, n_steps * sizeof(*steps));
	fk.n_steps = n_steps;
	fk.next = 0;
	fk.trace[0] = 0;
	fk.session_open = fk.paused = fk.resume = fk.blocked = fk.done = fk.count_rows = false;
	fk.awaiting = 0;
	fk.closes = fk.pause_close_at = 0;
	fk.plan_writes = fk.pause_crc = fk.bad_crc = false;
	fk.job = NULL;
	fk.units_at_open = false;
	fk.min_units = -1;
	pthread_mutex_unlock(&fk.lock);
}

int job_session_open(struct job *j, struct err *e)
{
	(void)e;
	pthread_mutex_lock(&fk.lock);
	if (fk.units_at_open) {
		/* The first touch of the board: which rows are durable by now? */
		long long n = raw_int(fk.db_path, "SELECT count(*) FROM units");

		if (fk.min_units < 0 || n < fk.min_units)
			fk.min_units = n;
	}
	/* Like the real one: a no-op while the session is open. */
	if (!fk.session_open)
		trace_add("open(%u)", j->cur.devnum);
	fk.session_open = true;
	pthread_mutex_unlock(&fk.lock);
	return 0;
}

static void fake_pause(void);

void job_session_close(struct job *j)
{
	bool pause;

	(void)j;
	pthread_mutex_lock(&fk.lock);
	if (fk.session_open)
		trace_add("close");
	fk.session_open = false;
	pause = ++fk.closes == fk.pause_close_at;
	pthread_mutex_unlock(&fk.lock);
	/* The job's last close comes after its last stage row, before its result. */
	if (pause)
		fake_pause();
}

static int fake_cancelled(struct job *j, struct err *e)
{
	if (atomic_load(&j->cancel))
		return err_set(e, -ECANCELED, "fake transfer: cancelled");
	return 0;
}

/* Wait until the test calls fake_resume(). */
static void fake_pause(void)
{
	pthread_mutex_lock(&fk.lock);
	fk.paused = true;
	while (!fk.resume) {
		pthread_mutex_unlock(&fk.lock);
		usleep(1000);
		pthread_mutex_lock(&fk.lock);
	}
	fk.paused = fk.resume = false;
	pthread_mutex_unlock(&fk.lock);
}

static int fake_engine(struct job *j, const char *name, struct err *e)
{
	struct step s = { ACT_OK, 0 };
	long long rows = fk.count_rows ? stage_rows() : -1;
	size_t call;

	pthread_mutex_lock(&fk.lock);
	call = fk.next++;
	if (call < fk.n_steps)
		s = fk.steps[call];
	if (rows >= 0)
		trace_add("%s[rows=%lld]", name, rows);
	else
		trace_add("%s", name);
	pthread_mutex_unlock(&fk.lock);

	switch (s.act) {
	case ACT_FAIL:
		return err_set(e, s.code, "fake failure %d on call %zu", s.code, call);
	case ACT_BLOCK:
		pthread_mutex_lock(&fk.lock);
		fk.blocked = true;
		pthread_mutex_unlock(&fk.lock);
		while (!atomic_load(&j->cancel))
			usleep(2000);
		return fake_cancelled(j, e);
	case ACT_PAUSE_DONE:
		fake_pause();
		return 0;
	case ACT_PAUSE:
		fake_pause();
		if (s.code)
			return err_set(e, s.code, "fake failure %d on call %zu", s.code, call);
		return fake_cancelled(j, e);
	case ACT_OK:
		break;
	}
	return fake_cancelled(j, e);
}

/* What a fake fastboot.flash wrote, for the whole-unit verification to re-read. */
static const uint8_t verify_data[] = "bytes the fake flash stage wrote";

static int fake_fastboot(struct job *j, const struct recipe_stage *st, const char *name,
			 struct err *e)
{
	int r = fake_engine(j, name, e);

	if (r >= 0 && fk.plan_writes && st->op == RECIPE_OP_FASTBOOT_FLASH) {
		struct job_range w = { .mem = JOB_MEM_MMC,
				       .len = sizeof(verify_data),
				       .data = verify_data,
				       .stage = (unsigned)(st - j->recipe->stages) };

		job_plan_write(j, &w);
	}
	return r;
}

/*
 * Every op's runner (jobs/recipe-op-list.h) is the fake engine, generated
 * from the op table so a new op needs nothing here; dfuse.read_uid and
 * dfuse.leave name the fake call after the stage's label, fastboot ops may
 * plan a write.  await's runner is job.c's own: its generated name is sent
 * to an unused symbol.
 */
static int fake_run(struct job *j, const struct recipe_stage *st, const char *name, struct err *e)
{
	if (st->op == RECIPE_OP_DFUSE_READ_UID || st->op == RECIPE_OP_DFUSE_LEAVE)
		return fake_engine(j, st->label, e);
	if (recipe_op_desc(st->op)->family == RECIPE_FAMILY_FASTBOOT)
		return fake_fastboot(j, st, name, e);
	return fake_engine(j, name, e);
}

#define job_run_await test_job_states_unused_await
#define FAKE_RUN(id, stem, ...)                                                                    \
	int job_run_##stem(struct job *j, const struct recipe_stage *st, const char *name,         \
			   struct err *e)                                                          \
	{                                                                                          \
		return fake_run(j, st, name, e);                                                   \
	}
RECIPE_OPS(FAKE_RUN)
#undef FAKE_RUN
#undef job_run_await

/* The whole-unit verification's read-backs: the fake engine writes nothing
 * into the job's plan, so verification never asks; defined so the real
 * family files are not linked in. */
int job_dfuse_read(struct job *j, uint8_t alt, uint32_t addr, uint8_t *buf, size_t len,
		   struct err *e)
{
	(void)j, (void)alt, (void)addr, (void)buf, (void)len;
	return err_set(e, -EOPNOTSUPP, "fake engine: no read-back");
}

int job_ingenic_read(struct job *j, const struct recipe_stage *writer, uint64_t off, uint8_t *buf,
		     size_t len, struct err *e)
{
	(void)j, (void)writer, (void)off, (void)buf, (void)len;
	return err_set(e, -EOPNOTSUPP, "fake engine: no read-back");
}

int job_fastboot_locate(struct job *j, const char *part, unsigned *hwpart, uint64_t *base,
			struct err *e)
{
	(void)j, (void)part;
	if (!fk.plan_writes)
		return err_set(e, -EOPNOTSUPP, "fake engine: no read-back");
	/* Partitions start at byte 0 of the user area in the fake. */
	*hwpart = 0;
	*base = 0;
	return 0;
}

int job_fastboot_crc(struct job *j, unsigned hwpart, uint64_t off, uint64_t len, uint32_t *crc,
		     struct err *e)
{
	bool pause, bad;

	(void)hwpart, (void)off;
	if (!fk.plan_writes)
		return err_set(e, -EOPNOTSUPP, "fake engine: no read-back");
	pthread_mutex_lock(&fk.lock);
	trace_add("crc");
	pause = fk.pause_crc;
	bad = fk.bad_crc;
	pthread_mutex_unlock(&fk.lock);
	if (pause)
		fake_pause();
	*crc = crc32_update(0, verify_data, len < sizeof(verify_data) ? len : sizeof(verify_data));
	if (bad)
		*crc ^= 1;
	return fake_cancelled(j, e);
}

/* ---- observer: the daemon's view, from the job thread */

static void obs_awaiting(void *ud, uint16_t vid, uint16_t pid)
{
	(void)ud;
	pthread_mutex_lock(&fk.lock);
	trace_add("await(%04x:%04x)", vid, pid);
	fk.awaiting++;
	pthread_mutex_unlock(&fk.lock);
}

static void obs_done(void *ud, enum job_result result, const char *failed_stage, const char *error)
{
	(void)ud;
	pthread_mutex_lock(&fk.lock);
	fk.done = true;
	fk.result = result;
	snprintf(fk.failed, sizeof(fk.failed), "%s", failed_stage ? failed_stage : "(null)");
	snprintf(fk.error, sizeof(fk.error), "%s", error ? error : "(null)");
	pthread_mutex_unlock(&fk.lock);
}

/* ---- a database that stops taking writes -------------------------------- */

static struct rlimit saved_fsize;
static bool disk_is_full;

/*
 * From now on no file of this process may grow past the size of the
 * database's WAL: every commit fails (EFBIG, SQLite's "disk I/O error"),
 * reads still work.  The WAL is first padded by 512 KiB (a table of the
 * test's own), so the test's log file stays below the limit.
 */
static void disk_full(const char *db_path)
{
	char wal[600];
	struct stat sb;
	struct rlimit rl;

	raw_exec(db_path, "CREATE TABLE IF NOT EXISTS test_pad (x); "
			  "INSERT INTO test_pad VALUES (zeroblob(524288))");
	snprintf(wal, sizeof(wal), "%s-wal", db_path);
	if (stat(wal, &sb) < 0)
		TEST_FAIL("stat %s: %s", wal, strerror(errno));
	signal(SIGXFSZ, SIG_IGN);
	if (!disk_is_full)
		getrlimit(RLIMIT_FSIZE, &saved_fsize);
	rl = saved_fsize;
	rl.rlim_cur = (rlim_t)sb.st_size;
	if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
		TEST_FAIL("setrlimit: %s", strerror(errno));
	disk_is_full = true;
}

/* Space again (also what a case that failed while full left behind). */
static void disk_freed(void)
{
	if (!disk_is_full)
		return;
	disk_is_full = false;
	if (setrlimit(RLIMIT_FSIZE, &saved_fsize) < 0)
		TEST_FAIL("setrlimit: %s", strerror(errno));
}

/* ---- one job on a fresh database */

#define STAGE(o, l, ...) ((struct recipe_stage){ .op = RECIPE_OP_##o, .label = l, __VA_ARGS__ })
#define AWAIT(l, v, p, ...) STAGE(AWAIT, l, .u.await = { .vid = v, .pid = p }, ##__VA_ARGS__)

static struct rig {
	struct db *db;
	pthread_mutex_t db_lock;
	struct db_pending *pending; /* rig_use_pending(), else NULL: records written at once */
	struct image_cache *images;
	struct job_env env;
	struct recipe recipe;
	struct recipe_stage stages[8];
	struct recipe_image image;
	char image_path[512];
	char db_path[512];
} rig;

/* A real image file: job.c maps every image of the recipe before stage 0. */
static void make_image(struct recipe_image *img, char *path, size_t size)
{
	static const char data[] = "fake image";
	struct recipe_sha256 c;
	FILE *f;

	img->file = "image.bin";
	snprintf(path, size, "%s", tpath("image.bin"));
	img->path = path;
	f = fopen(img->path, "w");
	ASSERT_TRUE(f);
	ASSERT_EQ(fwrite(data, 1, sizeof(data), f), sizeof(data));
	ASSERT_EQ(fclose(f), 0);
	img->size = img->write_size = sizeof(data);
	recipe_sha256_init(&c);
	recipe_sha256_update(&c, data, sizeof(data));
	recipe_sha256_final(&c, img->sha256);
}

static void set_images(struct recipe_stage *st, const struct recipe_image *img)
{
	switch (st->op) {
	case RECIPE_OP_DFUSE_DOWNLOAD:
		st->u.dfuse_download.image = *img;
		break;
	case RECIPE_OP_SDP_BOOT:
		st->u.sdp_boot.image = *img;
		break;
	case RECIPE_OP_FASTBOOT_FLASH:
		st->u.fastboot_flash.image = *img;
		break;
	case RECIPE_OP_INGENIC_BOOT:
		st->u.ingenic_boot.spl = st->u.ingenic_boot.burner = *img;
		break;
	case RECIPE_OP_INGENIC_WRITE:
		st->u.ingenic_write.image = *img;
		break;
	default:
		break;
	}
}

static struct job_device device(unsigned devnum, uint16_t vid, uint16_t pid)
{
	struct job_device d = {
		.port = "1-1", .vid = vid, .pid = pid, .busnum = 1, .devnum = devnum
	};

	snprintf(d.devnode, sizeof(d.devnode), "/dev/bus/usb/001/%03u", devnum);
	return d;
}

static void rig_setup(const char *name, const struct recipe_stage *stages, size_t n,
		      const struct step *steps, size_t n_steps)
{
	struct err e = { 0 };

	if (fk.job) /* left by a failed case */
		rescue();
	disk_freed();
	fake_reset(steps, n_steps);

	memset(&rig, 0, sizeof(rig));
	snprintf(rig.db_path, sizeof(rig.db_path), "%s", tpath(name));
	fk.db_path = rig.db_path;
	ASSERT_OK(db_open(rig.db_path, DB_OPEN_CREATE, &rig.db, &e));
	ASSERT_OK(image_cache_new(&rig.images));
	pthread_mutex_init(&rig.db_lock, NULL);
	rig.env = (struct job_env){ .db = rig.db,
				    .db_lock = &rig.db_lock,
				    .images = rig.images,
				    .station = "test-station",
				    .version = "test",
				    .deadline_pct = 100 };
	memcpy(rig.stages, stages, n * sizeof(*stages));
	make_image(&rig.image, rig.image_path, sizeof(rig.image_path));
	for (size_t i = 0; i < n; i++)
		set_images(&rig.stages[i], &rig.image);
	rig.recipe = (struct recipe){ .name = "states", .stages = rig.stages, .n_stages = n };
}

static void rig_start(void)
{
	static const struct job_observer obs = { .awaiting = obs_awaiting, .done = obs_done };
	struct job_device d = device(1, 0x0483, 0xdf11);
	struct err e = { 0 };
	struct job *j = NULL;

	ASSERT_OK(job_new(&rig.env, &rig.recipe, &d, "A1", &obs, &j));
	fk.job = j;
	ASSERT_OK(job_start(j, &e));
}

static void rig_wait_done(void)
{
	WAIT_UNTIL(fk.done);
	job_join(fk.job);
}

static void rig_teardown(void)
{
	fk.job = job_free(fk.job);
	rig.pending = db_pending_free(rig.pending);
	image_cache_free(rig.images);
	db_close(rig.db);
	pthread_mutex_destroy(&rig.db_lock);
}

static void fake_resume(void)
{
	pthread_mutex_lock(&fk.lock);
	fk.resume = true;
	pthread_mutex_unlock(&fk.lock);
}

/* Give a job that would wrongly take a device the time to do it. */
static void settle(void)
{
	usleep(100 * 1000);
}

#define ASSERT_TRACE(expect)                                                                       \
	do {                                                                                       \
		pthread_mutex_lock(&fk.lock);                                                      \
		char _t[sizeof(fk.trace)];                                                         \
		memcpy(_t, fk.trace, sizeof(_t));                                                  \
		pthread_mutex_unlock(&fk.lock);                                                    \
		ASSERT_STREQ(_t, expect);                                                          \
	} while (0)

/* Column of the unit row. */
#define ASSERT_UNIT(col, expect)                                                                   \
	ASSERT_SQL_TEXT(rig.db_path, "SELECT ifnull(" col ", '(null)') FROM units", expect)

/* Every stage row, in idx order: "idx:name:result" joined by spaces. */
#define ASSERT_STAGES(expect)                                                                      \
	ASSERT_SQL_TEXT(rig.db_path,                                                               \
			"SELECT group_concat(idx || ':' || name || ':' || result, ' ') FROM "      \
			"(SELECT * FROM unit_stages ORDER BY idx)",                                \
			expect)

#define ASSERT_STAGE_ERROR(idx, expect)                                                            \
	ASSERT_SQL_TEXT(rig.db_path,                                                               \
			"SELECT ifnull(error, '(null)') FROM unit_stages WHERE idx = " #idx,       \
			expect)

/* ---- stage order and rows */

TEST(stages_run_in_order_and_rows_follow)
{
	const struct recipe_stage st[] = {
		STAGE(DFUSE_READ_UID, "uid"),
		STAGE(FASTBOOT_GETVAR, "getvar"),
		STAGE(INGENIC_CONFIG, "config"),
		STAGE(SDP_BOOT, "boot"),
	};

	rig_setup("order.db", st, ARRAY_SIZE(st), NULL, 0);
	fk.count_rows = true;
	rig_start();
	rig_wait_done();
	/* Each stage's row is written when it ends, before the next stage starts. */
	ASSERT_TRACE("open(1) uid[rows=0] getvar[rows=1] config[rows=2] boot[rows=3] close");
	ASSERT_STAGES("0:uid:pass 1:getvar:pass 2:config:pass 3:boot:pass");
	ASSERT_EQ(raw_int(rig.db_path, "SELECT count(*) FROM unit_stages a JOIN unit_stages b "
				       "ON b.idx = a.idx + 1 WHERE b.started_at < a.started_at"),
		  0);
	ASSERT_UNIT("result", "pass");
	ASSERT_UNIT("failed_stage", "(null)");
	ASSERT_UNIT("error", "(null)");
	ASSERT_UNIT("slot", "A1");
	ASSERT_EQ(fk.result, JOB_PASS);
	ASSERT_TRUE(!job_has_unused_device(fk.job));
	rig_teardown();
}

TEST(failed_stage_ends_the_job)
{
	const struct recipe_stage st[] = {
		STAGE(FASTBOOT_GETVAR, "first"),
		STAGE(FASTBOOT_ERASE, "second"),
		STAGE(FASTBOOT_GETVAR, "third"),
	};
	const struct step steps[] = { { ACT_OK }, { ACT_FAIL, -EIO } };

	rig_setup("fail.db", st, ARRAY_SIZE(st), steps, ARRAY_SIZE(steps));
	rig_start();
	rig_wait_done();
	ASSERT_TRACE("open(1) first second close");
	ASSERT_STAGES("0:first:pass 1:second:fail");
	ASSERT_STAGE_ERROR(1, "fake failure -5 on call 1");
	ASSERT_UNIT("result", "fail");
	ASSERT_UNIT("failed_stage", "second");
	ASSERT_UNIT("error", "fake failure -5 on call 1");
	ASSERT_EQ(fk.result, JOB_FAIL);
	ASSERT_STREQ(fk.failed, "second");
	rig_teardown();
}

/* ---- retries */

TEST(retry_succeeds_on_a_fresh_session)
{
	const struct recipe_stage st[] = { STAGE(FASTBOOT_FLASH, "flash", .retries = 2) };
	const struct step steps[] = { { ACT_FAIL, -EIO }, { ACT_FAIL, -EPIPE }, { ACT_OK } };

	rig_setup("retry.db", st, ARRAY_SIZE(st), steps, ARRAY_SIZE(steps));
	rig_start();
	rig_wait_done();
	ASSERT_TRACE("open(1) flash close open(1) flash close open(1) flash close");
	ASSERT_STAGES("0:flash:pass");
	ASSERT_UNIT("result", "pass");
	rig_teardown();
}

TEST(retries_exhausted_keep_the_last_error)
{
	const struct recipe_stage st[] = { STAGE(FASTBOOT_FLASH, "flash", .retries = 1) };
	const struct step steps[] = { { ACT_FAIL, -EIO }, { ACT_FAIL, -EPROTO }, { ACT_OK } };

	rig_setup("retry-out.db", st, ARRAY_SIZE(st), steps, ARRAY_SIZE(steps));
	rig_start();
	rig_wait_done();
	ASSERT_TRACE("open(1) flash close open(1) flash close");
	ASSERT_STAGES("0:flash:fail");
	ASSERT_STAGE_ERROR(0, "fake failure -71 on call 1");
	ASSERT_UNIT("error", "fake failure -71 on call 1");
	rig_teardown();
}

TEST(no_retry_after_the_device_is_gone)
{
	const struct recipe_stage st[] = { STAGE(FASTBOOT_FLASH, "flash", .retries = 3) };
	const struct step steps[] = { { ACT_FAIL, -ENODEV } };

	rig_setup("noretry.db", st, ARRAY_SIZE(st), steps, ARRAY_SIZE(steps));
	rig_start();
	rig_wait_done();
	ASSERT_TRACE("open(1) flash close");
	ASSERT_UNIT("result", "fail");
	rig_teardown();
}

/* ---- await and the device generations */

TEST(await_takes_only_a_device_that_arrived_after_the_leave)
{
	const struct recipe_stage st[] = {
		STAGE(FASTBOOT_GETVAR, "getvar"),
		STAGE(FASTBOOT_REBOOT, "reboot"),
		AWAIT("wait", 0x18d1, 0x4ee0),
		STAGE(FASTBOOT_GETVAR, "after"),
	};
	const struct step steps[] = { { ACT_PAUSE } };
	struct job_device older = device(5, 0x18d1, 0x4ee0);
	struct job_device wrong = device(6, 0x18d1, 0x0d02);
	struct job_device right = device(7, 0x18d1, 0x4ee0);

	rig_setup("await.db", st, ARRAY_SIZE(st), steps, ARRAY_SIZE(steps));
	rig_start();
	/* The expected VID/PID, but before the stage that sends the board away. */
	WAIT_UNTIL(fk.paused);
	job_device_arrived(fk.job, &older);
	fake_resume();
	WAIT_UNTIL(fk.awaiting == 1);
	settle();
	ASSERT_TRACE("open(1) getvar reboot close await(18d1:4ee0)");
	/* Newer, but another VID/PID (e.g. an SPL stage). */
	job_device_arrived(fk.job, &wrong);
	settle();
	ASSERT_TRACE("open(1) getvar reboot close await(18d1:4ee0)");
	ASSERT_TRUE(job_has_unused_device(fk.job));
	job_device_arrived(fk.job, &right);
	rig_wait_done();
	ASSERT_TRACE("open(1) getvar reboot close await(18d1:4ee0) open(7) after close");
	ASSERT_STAGES("0:getvar:pass 1:reboot:pass 2:wait:pass 3:after:pass");
	ASSERT_UNIT("result", "pass");
	ASSERT_TRUE(!job_has_unused_device(fk.job));
	rig_teardown();
}

TEST(await_takes_a_device_that_came_back_during_the_leave)
{
	const struct recipe_stage st[] = {
		STAGE(DFUSE_LEAVE, "leave"),
		AWAIT("wait", 0x0483, 0xdf11),
		STAGE(DFUSE_READ_UID, "uid"),
	};
	const struct step steps[] = { { ACT_PAUSE } };
	struct job_device back = device(9, 0x0483, 0xdf11);

	rig_setup("await-fast.db", st, ARRAY_SIZE(st), steps, ARRAY_SIZE(steps));
	rig_start();
	/* A fast board re-enumerates before the leave stage returned. */
	WAIT_UNTIL(fk.paused);
	job_device_gone(fk.job);
	job_device_arrived(fk.job, &back);
	fake_resume();
	rig_wait_done();
	ASSERT_TRACE("open(1) leave close await(0483:df11) open(9) uid close");
	ASSERT_UNIT("result", "pass");
	rig_teardown();
}

TEST(await_ignores_a_device_that_left_again)
{
	const struct recipe_stage st[] = {
		STAGE(DFUSE_LEAVE, "leave"),
		AWAIT("wait", 0x0483, 0xdf11),
		STAGE(DFUSE_READ_UID, "uid"),
	};
	const struct step steps[] = { { ACT_PAUSE } };
	struct job_device flicker = device(3, 0x0483, 0xdf11);
	struct job_device stays = device(4, 0x0483, 0xdf11);

	rig_setup("await-gone.db", st, ARRAY_SIZE(st), steps, ARRAY_SIZE(steps));
	rig_start();
	/* Newer than the leave and the expected VID/PID, but gone again
	 * before the await looks: it must not be opened. */
	WAIT_UNTIL(fk.paused);
	job_device_gone(fk.job);
	job_device_arrived(fk.job, &flicker);
	job_device_gone(fk.job);
	fake_resume();
	WAIT_UNTIL(fk.awaiting == 1);
	settle();
	ASSERT_TRACE("open(1) leave close await(0483:df11)");
	ASSERT_TRUE(!job_has_unused_device(fk.job));
	job_device_arrived(fk.job, &stays);
	rig_wait_done();
	ASSERT_TRACE("open(1) leave close await(0483:df11) open(4) uid close");
	ASSERT_UNIT("result", "pass");
	rig_teardown();
}

TEST(device_arriving_while_the_job_fails_is_unused)
{
	const struct recipe_stage st[] = { STAGE(INGENIC_WRITE, "write") };
	/* The operator swaps boards while the write runs: it fails, NO_DEVICE. */
	const struct step steps[] = { { ACT_PAUSE, -ENODEV } };
	struct job_device next = device(2, 0x0483, 0xdf11);

	rig_setup("unused.db", st, ARRAY_SIZE(st), steps, ARRAY_SIZE(steps));
	rig_start();
	WAIT_UNTIL(fk.paused);
	ASSERT_TRUE(!job_has_unused_device(fk.job));
	job_device_gone(fk.job);
	job_device_arrived(fk.job, &next);
	fake_resume();
	rig_wait_done();
	ASSERT_UNIT("result", "fail");
	ASSERT_TRUE(job_has_unused_device(fk.job));
	job_device_gone(fk.job);
	ASSERT_TRUE(!job_has_unused_device(fk.job));
	rig_teardown();
}

TEST(device_back_after_the_last_stage_is_unused)
{
	const struct recipe_stage st[] = { STAGE(INGENIC_REBOOT, "reboot") };
	struct job_device back = device(2, 0x601a, 0x4770);

	rig_setup("back.db", st, ARRAY_SIZE(st), NULL, 0);
	rig_start();
	rig_wait_done();
	ASSERT_UNIT("result", "pass");
	ASSERT_TRUE(!job_has_unused_device(fk.job));
	job_device_gone(fk.job);
	job_device_arrived(fk.job, &back);
	ASSERT_TRUE(job_has_unused_device(fk.job));
	rig_teardown();
}

/* ---- deadlines */

TEST(deadline_stops_the_running_stage)
{
	const struct recipe_stage st[] = {
		STAGE(DFUSE_DOWNLOAD, "download", .timeout_ms = 60000, .retries = 2),
		STAGE(DFUSE_LEAVE, "leave"),
	};
	const struct step steps[] = { { ACT_BLOCK } };

	rig_setup("deadline.db", st, ARRAY_SIZE(st), steps, ARRAY_SIZE(steps));
	rig_start();
	WAIT_UNTIL(fk.blocked);
	ASSERT_TRUE(!job_check_deadline(fk.job, mono_ms()));
	ASSERT_TRUE(job_check_deadline(fk.job, mono_ms() + 60001));
	ASSERT_TRUE(!job_check_deadline(fk.job, mono_ms() + 60001)); /* already stopping */
	rig_wait_done();
	/* A timeout is not retried, and the next stage never runs. */
	ASSERT_TRACE("open(1) download close");
	ASSERT_STAGES("0:download:fail");
	ASSERT_STAGE_ERROR(0, "stage 'download' exceeded its timeout");
	ASSERT_UNIT("result", "fail");
	ASSERT_UNIT("failed_stage", "download");
	ASSERT_UNIT("error", "stage 'download' exceeded its timeout");
	ASSERT_EQ(fk.result, JOB_FAIL);
	rig_teardown();
}

TEST(deadline_after_the_last_transfer_spares_the_next_stage)
{
	const struct recipe_stage st[] = {
		STAGE(FASTBOOT_FLASH, "flash", .timeout_ms = 1000),
		STAGE(FASTBOOT_GETVAR, "getvar", .timeout_ms = 1000),
	};
	const struct step steps[] = { { ACT_PAUSE_DONE }, { ACT_OK } };

	rig_setup("deadline-late.db", st, ARRAY_SIZE(st), steps, ARRAY_SIZE(steps));
	rig_start();
	WAIT_UNTIL(fk.paused);
	ASSERT_TRUE(job_check_deadline(fk.job, mono_ms() + 1001));
	fake_resume();
	rig_wait_done();
	ASSERT_TRACE("open(1) flash getvar close");
	ASSERT_STAGES("0:flash:pass 1:getvar:pass");
	ASSERT_UNIT("result", "pass");
	/* No stage runs: nothing to stop. */
	ASSERT_TRUE(!job_check_deadline(fk.job, UINT64_MAX));
	rig_teardown();
}

TEST(deadline_ends_an_await)
{
	const struct recipe_stage st[] = {
		STAGE(FASTBOOT_REBOOT, "reboot"),
		AWAIT("wait", 0x18d1, 0x4ee0, .timeout_ms = 3000),
		STAGE(FASTBOOT_GETVAR, "after"),
	};

	rig_setup("deadline-await.db", st, ARRAY_SIZE(st), NULL, 0);
	rig_start();
	WAIT_UNTIL(fk.awaiting == 1);
	ASSERT_TRUE(job_check_deadline(fk.job, mono_ms() + 3001));
	rig_wait_done();
	ASSERT_TRACE("open(1) reboot close await(18d1:4ee0)");
	ASSERT_STAGES("0:reboot:pass 1:wait:fail");
	ASSERT_STAGE_ERROR(1, "no 18d1:4ee0 appeared on port 1-1 within 3000 ms");
	ASSERT_UNIT("result", "fail");
	ASSERT_UNIT("failed_stage", "wait");
	rig_teardown();
}

/* ---- cancel (daemon shutdown) */

TEST(cancel_interrupts_the_running_stage)
{
	const struct recipe_stage st[] = {
		STAGE(INGENIC_BOOT, "boot"),
		STAGE(INGENIC_WRITE, "write", .retries = 2),
		STAGE(INGENIC_REBOOT, "reboot"),
	};
	const struct step steps[] = { { ACT_OK }, { ACT_BLOCK } };

	rig_setup("cancel.db", st, ARRAY_SIZE(st), steps, ARRAY_SIZE(steps));
	rig_start();
	WAIT_UNTIL(fk.blocked);
	job_cancel(fk.job);
	rig_wait_done();
	ASSERT_TRACE("open(1) boot write close");
	ASSERT_STAGES("0:boot:pass 1:write:interrupted");
	ASSERT_STAGE_ERROR(1, "flashd stopping: job interrupted in stage 'write'");
	ASSERT_UNIT("result", "interrupted");
	ASSERT_UNIT("failed_stage", "write");
	ASSERT_EQ(fk.result, JOB_INTERRUPTED);
	ASSERT_STREQ(fk.error, "flashd stopping: job interrupted in stage 'write'");
	rig_teardown();
}

TEST(cancel_interrupts_an_await)
{
	const struct recipe_stage st[] = {
		STAGE(SDP_BOOT, "boot"),
		AWAIT("wait", 0x0525, 0xa4a5),
	};

	rig_setup("cancel-await.db", st, ARRAY_SIZE(st), NULL, 0);
	rig_start();
	WAIT_UNTIL(fk.awaiting == 1);
	job_cancel(fk.job);
	rig_wait_done();
	ASSERT_STAGES("0:boot:pass 1:wait:interrupted");
	ASSERT_UNIT("result", "interrupted");
	ASSERT_UNIT("error", "flashd stopping: job interrupted in stage 'wait'");
	rig_teardown();
}

TEST(cancel_outranks_a_deadline)
{
	const struct recipe_stage st[] = { STAGE(FASTBOOT_FLASH, "flash", .timeout_ms = 1000) };
	const struct step steps[] = { { ACT_PAUSE } };

	rig_setup("cancel-deadline.db", st, ARRAY_SIZE(st), steps, ARRAY_SIZE(steps));
	rig_start();
	WAIT_UNTIL(fk.paused);
	ASSERT_TRUE(job_check_deadline(fk.job, mono_ms() + 1001));
	job_cancel(fk.job);
	fake_resume();
	rig_wait_done();
	ASSERT_STAGES("0:flash:interrupted");
	ASSERT_UNIT("result", "interrupted");
	rig_teardown();
}

TEST(cancel_stops_the_retries)
{
	const struct recipe_stage st[] = { STAGE(FASTBOOT_FLASH, "flash", .retries = 3) };
	const struct step steps[] = { { ACT_FAIL, -EIO }, { ACT_BLOCK } };

	rig_setup("cancel-retry.db", st, ARRAY_SIZE(st), steps, ARRAY_SIZE(steps));
	rig_start();
	WAIT_UNTIL(fk.blocked);
	job_cancel(fk.job);
	rig_wait_done();
	ASSERT_TRACE("open(1) flash close open(1) flash close");
	ASSERT_UNIT("result", "interrupted");
	rig_teardown();
}

/* ---- the unit row cannot be written */

TEST(no_stage_runs_without_the_unit_row)
{
	const struct recipe_stage st[] = { STAGE(DFUSE_DOWNLOAD, "download") };
	static const struct job_observer obs = { .awaiting = obs_awaiting, .done = obs_done };
	struct job_device d = device(1, 0x0483, 0xdf11);
	struct err e = { 0 };
	struct job *j = NULL;

	rig_setup("dbfail.db", st, ARRAY_SIZE(st), NULL, 0);
	/* A real SQLite failure on the insert (as a full disk or a broken file
	 * would give), raised by a trigger another connection added. */
	raw_exec(rig.db_path, "CREATE TRIGGER no_units BEFORE INSERT ON units "
			      "BEGIN SELECT RAISE(ABORT, 'disk says no'); END");
	ASSERT_OK(job_new(&rig.env, &rig.recipe, &d, NULL, &obs, &j));
	fk.job = j;
	ASSERT_TRUE(job_start(j, &e) < 0);
	ASSERT_CONTAINS(e.msg, "cannot record the unit on port '1-1'");
	settle();
	ASSERT_TRACE("");
	ASSERT_TRUE(!fk.done);
	ASSERT_EQ(raw_int(rig.db_path, "SELECT count(*) FROM units"), 0);
	rig_teardown();
}

/* ---- the database stops taking writes mid-job (db/pending.h) ------------
 *
 * The job goes on (its row is durable, the board is half flashed); every
 * record it could not write is kept pending, in order, and written once the
 * database takes writes again: the rows then say what happened, never
 * 'running', and 'pass' only for a unit that passed. */

/* The job records through a pending queue, as in the daemon (memory only). */
static void rig_use_pending(void)
{
	struct err e = { 0 };

	ASSERT_OK(db_pending_new(NULL, rig.db_path, &rig.pending, &e));
	rig.env.pending = rig.pending;
}

/* The database takes writes again: what the daemon's loop does then (db_try_replay()). */
static void rig_replay(struct db_pending_replay_stats *rs)
{
	struct err e = { 0 };
	int r;

	pthread_mutex_lock(&rig.db_lock);
	r = db_pending_replay(rig.pending, rig.db, rs, &e);
	pthread_mutex_unlock(&rig.db_lock);
	if (r < 0)
		TEST_FAIL("replay: %d %s", r, e.msg);
	ASSERT_TRUE(!db_pending_blocked(rig.pending));
	ASSERT_EQ(db_pending_count(rig.pending), 0);
	ASSERT_EQ(rs->dropped, 0);
}

#define ASSERT_NOTHING_RUNNING()                                                                   \
	ASSERT_EQ(raw_int(rig.db_path, "SELECT count(*) FROM units WHERE result = 'running' OR "   \
				       "id IN (SELECT unit_id FROM unit_stages WHERE "             \
				       "result NOT IN ('pass', 'fail', 'interrupted'))"),          \
		  0)

TEST(db_failing_mid_job_keeps_the_rows_pending_until_written)
{
	const struct recipe_stage st[] = {
		STAGE(FASTBOOT_GETVAR, "first"),
		STAGE(FASTBOOT_ERASE, "second"),
		STAGE(FASTBOOT_GETVAR, "third"),
	};
	const struct step steps[] = { { ACT_OK }, { ACT_PAUSE } };
	struct db_pending_replay_stats rs;
	int64_t ended;
	char sql[160];

	rig_setup("dbmid.db", st, ARRAY_SIZE(st), steps, ARRAY_SIZE(steps));
	rig_use_pending();
	rig_start();
	WAIT_UNTIL(fk.paused);
	disk_full(rig.db_path);
	fake_resume();
	rig_wait_done();
	ended = db_now_ms();
	ASSERT_TRACE("open(1) first second third close");
	ASSERT_EQ(fk.result, JOB_PASS);
	/* Stages 1 and 2 and the finish are kept, in that order; the database
	 * holds only what was written before and says nothing untrue. */
	ASSERT_TRUE(job_result_pending(fk.job));
	ASSERT_TRUE(db_pending_blocked(rig.pending));
	ASSERT_EQ(db_pending_count(rig.pending), 3);
	ASSERT_EQ(db_pending_finishes(rig.pending), 1);
	ASSERT_TRUE(db_pending_has_unit(rig.pending, job_unit_id(fk.job)));
	ASSERT_STAGES("0:first:pass");
	ASSERT_UNIT("result", "running");

	disk_freed();
	usleep(20 * 1000);
	rig_replay(&rs);
	ASSERT_EQ(rs.written, 3);
	ASSERT_EQ(rs.finished[DB_RESULT_PASS], 1);
	ASSERT_STAGES("0:first:pass 1:second:pass 2:third:pass");
	ASSERT_UNIT("result", "pass");
	ASSERT_UNIT("failed_stage", "(null)");
	ASSERT_NOTHING_RUNNING();
	/* The rows keep the times they happened, not the replay's. */
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM units WHERE finished_at <= %lld",
		 (long long)ended);
	ASSERT_EQ(raw_int(rig.db_path, sql), 1);
	ASSERT_EQ(raw_int(rig.db_path, "SELECT count(*) FROM unit_stages a JOIN unit_stages b "
				       "ON b.idx = a.idx + 1 WHERE b.started_at < a.started_at"),
		  0);
	rig_teardown();
}

TEST(db_failing_mid_job_a_failed_unit_is_written_fail)
{
	const struct recipe_stage st[] = {
		STAGE(FASTBOOT_GETVAR, "first"),
		STAGE(FASTBOOT_ERASE, "second"),
		STAGE(FASTBOOT_GETVAR, "third"),
	};
	const struct step steps[] = { { ACT_OK }, { ACT_PAUSE, -EIO } };
	struct db_pending_replay_stats rs;

	rig_setup("dbmid-fail.db", st, ARRAY_SIZE(st), steps, ARRAY_SIZE(steps));
	rig_use_pending();
	rig_start();
	WAIT_UNTIL(fk.paused);
	disk_full(rig.db_path);
	fake_resume();
	rig_wait_done();
	ASSERT_TRACE("open(1) first second close");
	ASSERT_EQ(fk.result, JOB_FAIL);
	ASSERT_TRUE(job_result_pending(fk.job));
	ASSERT_EQ(db_pending_count(rig.pending), 2);
	ASSERT_UNIT("result", "running");
	disk_freed();
	rig_replay(&rs);
	ASSERT_EQ(rs.finished[DB_RESULT_FAIL], 1);
	ASSERT_STAGES("0:first:pass 1:second:fail");
	ASSERT_STAGE_ERROR(1, "fake failure -5 on call 1");
	ASSERT_UNIT("result", "fail");
	ASSERT_UNIT("failed_stage", "second");
	ASSERT_UNIT("error", "fake failure -5 on call 1");
	ASSERT_NOTHING_RUNNING();
	rig_teardown();
}

TEST(db_failing_at_the_result_keeps_the_pass)
{
	const struct recipe_stage st[] = {
		STAGE(FASTBOOT_GETVAR, "first"),
		STAGE(FASTBOOT_GETVAR, "second"),
	};
	struct db_pending_replay_stats rs;

	rig_setup("dbfinish.db", st, ARRAY_SIZE(st), NULL, 0);
	rig_use_pending();
	/* The job's only close: after both stage rows, before the result. */
	fk.pause_close_at = 1;
	rig_start();
	WAIT_UNTIL(fk.paused);
	ASSERT_STAGES("0:first:pass 1:second:pass");
	disk_full(rig.db_path);
	fake_resume();
	rig_wait_done();
	ASSERT_EQ(fk.result, JOB_PASS);
	ASSERT_TRUE(job_result_pending(fk.job));
	ASSERT_EQ(db_pending_count(rig.pending), 1);
	ASSERT_EQ(db_pending_finishes(rig.pending), 1);
	ASSERT_UNIT("result", "running");
	disk_freed();
	rig_replay(&rs);
	ASSERT_EQ(rs.written, 1);
	ASSERT_EQ(rs.finished[DB_RESULT_PASS], 1);
	ASSERT_UNIT("result", "pass");
	ASSERT_NOTHING_RUNNING();
	rig_teardown();
}

TEST(db_failing_during_the_verify_stage_keeps_its_rows)
{
	const struct recipe_stage st[] = { STAGE(FASTBOOT_FLASH, "flash") };
	struct db_pending_replay_stats rs;

	rig_setup("dbverify.db", st, ARRAY_SIZE(st), NULL, 0);
	rig_use_pending();
	fk.plan_writes = fk.pause_crc = true;
	rig_start();
	WAIT_UNTIL(fk.paused);
	/* The flash stage's row is in; the whole-unit read-back runs. */
	ASSERT_STAGES("0:flash:pass");
	disk_full(rig.db_path);
	fake_resume();
	rig_wait_done();
	ASSERT_TRACE("open(1) flash crc close");
	ASSERT_EQ(fk.result, JOB_PASS);
	/* The verify image row, the verify stage row, the finish. */
	ASSERT_EQ(db_pending_count(rig.pending), 3);
	ASSERT_STAGES("0:flash:pass");
	ASSERT_UNIT("result", "running");
	disk_freed();
	rig_replay(&rs);
	ASSERT_EQ(rs.written, 3);
	ASSERT_STAGES("0:flash:pass 1:verify:pass");
	ASSERT_SQL_TEXT(rig.db_path,
			"SELECT stage || ':' || target || ':' || verified FROM unit_images",
			"verify:0x0:1");
	ASSERT_UNIT("result", "pass");
	ASSERT_NOTHING_RUNNING();
	rig_teardown();
}

TEST(db_failing_during_a_failing_verify_records_fail)
{
	const struct recipe_stage st[] = { STAGE(FASTBOOT_FLASH, "flash") };
	struct db_pending_replay_stats rs;

	rig_setup("dbverify-bad.db", st, ARRAY_SIZE(st), NULL, 0);
	rig_use_pending();
	fk.plan_writes = fk.pause_crc = fk.bad_crc = true;
	rig_start();
	WAIT_UNTIL(fk.paused);
	disk_full(rig.db_path);
	fake_resume();
	rig_wait_done();
	ASSERT_EQ(fk.result, JOB_FAIL);
	ASSERT_STREQ(fk.failed, "verify");
	ASSERT_EQ(db_pending_count(rig.pending), 3);
	disk_freed();
	rig_replay(&rs);
	ASSERT_EQ(rs.finished[DB_RESULT_FAIL], 1);
	ASSERT_STAGES("0:flash:pass 1:verify:fail");
	ASSERT_SQL_TEXT(rig.db_path, "SELECT stage || ':' || verified FROM unit_images",
			"verify:0");
	ASSERT_UNIT("result", "fail");
	ASSERT_UNIT("failed_stage", "verify");
	ASSERT_SQL_TEXT(rig.db_path, "SELECT error LIKE '%no longer holds it%' FROM units", "1");
	ASSERT_NOTHING_RUNNING();
	rig_teardown();
}

TEST(db_failing_deadline_is_recorded_fail_with_its_reason)
{
	const struct recipe_stage st[] = {
		STAGE(DFUSE_DOWNLOAD, "download", .timeout_ms = 60000),
		STAGE(DFUSE_LEAVE, "leave"),
	};
	const struct step steps[] = { { ACT_BLOCK } };
	struct db_pending_replay_stats rs;

	rig_setup("dbdeadline.db", st, ARRAY_SIZE(st), steps, ARRAY_SIZE(steps));
	rig_use_pending();
	rig_start();
	WAIT_UNTIL(fk.blocked);
	disk_full(rig.db_path);
	ASSERT_TRUE(job_check_deadline(fk.job, mono_ms() + 60001));
	rig_wait_done();
	ASSERT_TRACE("open(1) download close");
	ASSERT_EQ(fk.result, JOB_FAIL);
	ASSERT_EQ(db_pending_count(rig.pending), 2);
	ASSERT_UNIT("result", "running");
	disk_freed();
	rig_replay(&rs);
	ASSERT_STAGES("0:download:fail");
	ASSERT_STAGE_ERROR(0, "stage 'download' exceeded its timeout");
	ASSERT_UNIT("result", "fail");
	ASSERT_UNIT("failed_stage", "download");
	ASSERT_UNIT("error", "stage 'download' exceeded its timeout");
	ASSERT_NOTHING_RUNNING();
	rig_teardown();
}

TEST(db_failing_cancel_is_recorded_interrupted_with_its_reason)
{
	const struct recipe_stage st[] = {
		STAGE(INGENIC_BOOT, "boot"),
		STAGE(INGENIC_WRITE, "write"),
		STAGE(INGENIC_REBOOT, "reboot"),
	};
	const struct step steps[] = { { ACT_OK }, { ACT_BLOCK } };
	struct db_pending_replay_stats rs;

	rig_setup("dbcancel.db", st, ARRAY_SIZE(st), steps, ARRAY_SIZE(steps));
	rig_use_pending();
	rig_start();
	WAIT_UNTIL(fk.blocked);
	disk_full(rig.db_path);
	job_cancel(fk.job);
	rig_wait_done();
	ASSERT_EQ(fk.result, JOB_INTERRUPTED);
	ASSERT_EQ(db_pending_count(rig.pending), 2);
	ASSERT_STAGES("0:boot:pass");
	ASSERT_UNIT("result", "running");
	disk_freed();
	rig_replay(&rs);
	ASSERT_EQ(rs.finished[DB_RESULT_INTERRUPTED], 1);
	ASSERT_STAGES("0:boot:pass 1:write:interrupted");
	ASSERT_STAGE_ERROR(1, "flashd stopping: job interrupted in stage 'write'");
	ASSERT_UNIT("result", "interrupted");
	ASSERT_UNIT("failed_stage", "write");
	ASSERT_UNIT("error", "flashd stopping: job interrupted in stage 'write'");
	ASSERT_NOTHING_RUNNING();
	rig_teardown();
}

/* ---- the station's port state machine (daemon/station.c) ---------------
 *
 * The whole station (config, recipes, database, control socket, sd-event
 * loop) with the fake engine below its jobs and a fake hotplug: the test
 * calls the station's hotplug callback as udev would and runs its loop. */

static struct {
	hotplug_cb_t cb;
	void (*burst)(void *ud, bool begin); /* hotplug_burst_cb_t */
	void *ud;
} hp;

int hotplug_new(sd_event *loop, hotplug_cb_t cb, void *userdata, struct hotplug **ret)
{
	(void)loop;
	hp.cb = cb;
	hp.ud = userdata;
	*ret = (struct hotplug *)&hp;
	return 0;
}

void hotplug_set_burst(struct hotplug *h, void (*cb)(void *ud, bool begin))
{
	(void)h;
	hp.burst = cb;
}

int hotplug_coldplug(struct hotplug *h)
{
	(void)h;
	return 0;
}

struct hotplug *hotplug_free(struct hotplug *h)
{
	(void)h;
	return NULL;
}

static struct station *st;
static char st_db[600];

/* What a failed case left: stop its jobs so the next case starts clean. */
static void station_abandon(void)
{
	disk_freed();
	if (!st)
		return;
	fake_resume();
	for (size_t i = 0; i < st->ports.n; i++) {
		struct port *p = st->ports.v[i];

		if (p->job) {
			job_cancel(p->job);
			p->job = job_free(p->job);
			/* The port's hold on the recipes, which the job's end drops. */
			recipe_set_unref(p->rs);
			p->rs = NULL;
		}
	}
	st = station_free(st);
}

/* A station whose one recipe runs getvar then reboot on 18d1:4ee0. */
static void station_setup(const char *name, unsigned rearm_sec, const struct step *steps,
			  size_t n_steps)
{
	struct station_options o = { 0 };
	char path[600], conf[600], dir[512];
	FILE *f;

	station_abandon();
	fake_reset(steps, n_steps);

	snprintf(dir, sizeof(dir), "%s", tpath(name));
	ASSERT_OK(mkdir(dir, 0700));
	snprintf(path, sizeof(path), "%s/st.json", dir);
	f = fopen(path, "w");
	ASSERT_TRUE(f);
	fprintf(f, "{ \"name\": \"st\", \"match\": { \"vid\": \"18d1\", \"pid\": \"4ee0\" },\n"
		   "  \"serial\": { \"source\": \"usb_serial\" },\n"
		   "  \"stages\": [ { \"op\": \"fastboot.getvar\", \"name\": \"getvar\", "
		   "\"var\": \"product\" },\n"
		   "              { \"op\": \"fastboot.reboot\", \"name\": \"reboot\" } ] }\n");
	ASSERT_EQ(fclose(f), 0);
	snprintf(st_db, sizeof(st_db), "%s/flashd.db", dir);
	snprintf(conf, sizeof(conf), "%s/flashd.conf", dir);
	f = fopen(conf, "w");
	ASSERT_TRUE(f);
	fprintf(f,
		"station = test\nrecipe_dir = %s\ndatabase = %s\ncontrol_socket = %s/control\n"
		"rearm_sec = %u\n",
		dir, st_db, dir, rearm_sec);
	ASSERT_EQ(fclose(f), 0);
	o.config_path = conf;
	ASSERT_OK(station_new(&o, &st));
	ASSERT_TRUE(hp.cb);
	/* Recipes load on a thread: run the loop until the set is in, so the
	 * board the test plugs next meets a station that can take it. */
	for (uint64_t end = mono_ms() + WAIT_MS; !st->recipes && mono_ms() < end;)
		sd_event_run(st->loop, 10 * 1000);
	ASSERT_TRUE(st->recipes);
}

static void station_teardown(void)
{
	st = station_free(st);
}

/* A board with USB serial SN<board> appears or leaves as device devnum. */
static void hotplug_board(enum hotplug_action action, unsigned devnum, unsigned board)
{
	struct hotplug_event ev = { .action = action,
				    .port = "1-2",
				    .vid = 0x18d1,
				    .pid = 0x4ee0,
				    .busnum = 1,
				    .devnum = devnum };

	snprintf(ev.devnode, sizeof(ev.devnode), "/dev/bus/usb/001/%03u", devnum);
	snprintf(ev.serial, sizeof(ev.serial), "SN%u", board);
	hp.cb(hp.ud, &ev);
}

/* Each new device number is another board. */
static void hotplug(enum hotplug_action action, unsigned devnum)
{
	hotplug_board(action, devnum, devnum);
}

static struct port *station_port(void)
{
	struct port *p = ports_find(&st->ports, "1-2");

	ASSERT_TRUE(p);
	return p;
}

/* Run the station's loop (this thread is its loop thread) until cond holds. */
#define LOOP_UNTIL(cond)                                                                           \
	do {                                                                                       \
		uint64_t _end = mono_ms() + WAIT_MS;                                               \
		while (!(cond) && mono_ms() < _end)                                                \
			sd_event_run(st->loop, 10 * 1000);                                         \
		if (!(cond)) {                                                                     \
			fake_resume();                                                             \
			TEST_FAIL("timed out waiting for %s", #cond);                              \
		}                                                                                  \
	} while (0)

#define PORT_DONE_AND_REAPED (station_port()->state == PORT_DONE && !station_port()->job)

TEST(station_passed_unit_rebooting_is_not_flashed_again)
{
	station_setup("st-rearm", 60, NULL, 0);
	hotplug(HOTPLUG_ADD, 3);
	LOOP_UNTIL(PORT_DONE_AND_REAPED);
	ASSERT_STREQ(station_port()->last_result, "pass");
	/* The unit reboots after fastboot.reboot and comes back on its port:
	 * a new device number, the same board (serial). */
	hotplug(HOTPLUG_REMOVE, 3);
	ASSERT_EQ(station_port()->state, PORT_EMPTY);
	hotplug_board(HOTPLUG_ADD, 4, 3);
	ASSERT_EQ(station_port()->state, PORT_DONE);
	ASSERT_TRUE(!station_port()->job);
	ASSERT_EQ(raw_int(st_db, "SELECT count(*) FROM units"), 1);
	ASSERT_TRACE("open(3) getvar reboot close");
	station_teardown();
}

TEST(station_board_after_the_rearm_time_is_flashed)
{
	station_setup("st-rearm0", 0, NULL, 0);
	hotplug(HOTPLUG_ADD, 3);
	LOOP_UNTIL(PORT_DONE_AND_REAPED);
	hotplug(HOTPLUG_REMOVE, 3);
	hotplug(HOTPLUG_ADD, 4);
	LOOP_UNTIL(PORT_DONE_AND_REAPED);
	ASSERT_EQ(raw_int(st_db, "SELECT count(*) FROM units WHERE result = 'pass'"), 2);
	ASSERT_TRACE("open(3) getvar reboot close open(4) getvar reboot close");
	station_teardown();
}

TEST(station_board_swapped_during_a_failing_job_is_flashed)
{
	/* The first board is pulled mid-stage (its transfer fails NO_DEVICE)
	 * and the next one is plugged before the job ended. */
	const struct step steps[] = { { ACT_PAUSE, -ENODEV } };

	station_setup("st-swap", 60, steps, ARRAY_SIZE(steps));
	hotplug(HOTPLUG_ADD, 3);
	WAIT_UNTIL(fk.paused);
	hotplug(HOTPLUG_REMOVE, 3);
	hotplug(HOTPLUG_ADD, 5);
	ASSERT_TRUE(station_port()->job); /* handed to the running job, no second job */
	fake_resume();
	LOOP_UNTIL(PORT_DONE_AND_REAPED && raw_int(st_db, "SELECT count(*) FROM units") == 2);
	ASSERT_SQL_TEXT(st_db,
			"SELECT group_concat(result || ':' || serial, ' ') FROM "
			"(SELECT * FROM units ORDER BY id)",
			"fail:SN3 pass:SN5");
	ASSERT_TRACE("open(3) getvar close open(5) getvar reboot close");
	station_teardown();
}

TEST(station_passed_unit_back_before_its_job_ended_is_not_flashed)
{
	/* A fast unit re-enumerates while its last stage (reboot) returns. */
	const struct step steps[] = { { ACT_OK }, { ACT_PAUSE_DONE } };

	station_setup("st-fast", 60, steps, ARRAY_SIZE(steps));
	hotplug(HOTPLUG_ADD, 3);
	WAIT_UNTIL(fk.paused);
	hotplug(HOTPLUG_REMOVE, 3);
	hotplug(HOTPLUG_ADD, 4);
	fake_resume();
	LOOP_UNTIL(PORT_DONE_AND_REAPED);
	ASSERT_STREQ(station_port()->last_result, "pass");
	ASSERT_EQ(raw_int(st_db, "SELECT count(*) FROM units"), 1);
	ASSERT_TRACE("open(3) getvar reboot close");
	station_teardown();
}

/* ---- the station while the database does not take writes ---------------- */

/* A board with USB serial SN<devnum> on another port than station_port()'s. */
static void hotplug_on(const char *port, enum hotplug_action action, unsigned devnum)
{
	struct hotplug_event ev = {
		.action = action, .vid = 0x18d1, .pid = 0x4ee0, .busnum = 1, .devnum = devnum
	};

	snprintf(ev.port, sizeof(ev.port), "%s", port);
	snprintf(ev.devnode, sizeof(ev.devnode), "/dev/bus/usb/001/%03u", devnum);
	snprintf(ev.serial, sizeof(ev.serial), "SN%u", devnum);
	hp.cb(hp.ud, &ev);
}

static struct port *station_port_at(const char *path)
{
	struct port *p = ports_find(&st->ports, path);

	ASSERT_TRUE(p);
	return p;
}

/* Run the loop for ms: time for the station to do what it should not. */
static void loop_for(unsigned ms)
{
	for (uint64_t end = mono_ms() + ms; mono_ms() < end;)
		sd_event_run(st->loop, 10 * 1000);
}

#define ASSERT_ST_UNITS(expect)                                                                    \
	ASSERT_SQL_TEXT(st_db,                                                                     \
			"SELECT group_concat(result || ':' || port || ':' || serial, ' ') FROM "   \
			"(SELECT * FROM units ORDER BY id)",                                       \
			expect)

TEST(station_db_failing_mid_job_takes_no_board_until_written)
{
	/* The first board's getvar runs when the disk fills up. */
	const struct step steps[] = { { ACT_PAUSE } };
	char status[384];

	station_setup("st-dbmid", 60, steps, ARRAY_SIZE(steps));
	hotplug(HOTPLUG_ADD, 3);
	WAIT_UNTIL(fk.paused);
	disk_full(st_db);
	fake_resume();
	LOOP_UNTIL(PORT_DONE_AND_REAPED && station_db_blocked(st));
	ASSERT_STREQ(station_port()->last_result, "pass");
	station_status_line(st, status, sizeof(status));
	ASSERT_CONTAINS(status, "Database not writable");
	ASSERT_CONTAINS(status, "not taking boards");
	ASSERT_ST_UNITS("running:1-2:SN3");

	/* A board arriving now is not started: it waits, untouched. */
	hotplug_on("1-3", HOTPLUG_ADD, 7);
	ASSERT_EQ(station_port_at("1-3")->state, PORT_QUEUED);
	ASSERT_TRUE(!station_port_at("1-3")->job);
	loop_for(300);
	ASSERT_EQ(station_port_at("1-3")->state, PORT_QUEUED);

	/* Space again, but the pending records are not written yet (the
	 * station retries every few seconds): still no board is started. */
	disk_freed();
	hotplug_on("1-4", HOTPLUG_ADD, 8);
	ASSERT_EQ(station_port_at("1-4")->state, PORT_QUEUED);
	ASSERT_TRUE(!station_port_at("1-4")->job);
	ASSERT_ST_UNITS("running:1-2:SN3");
	ASSERT_TRACE("open(3) getvar reboot close");

	/* The records are written in order, then the station resumes by itself. */
	LOOP_UNTIL(!station_db_blocked(st));
	ASSERT_SQL_TEXT(st_db,
			"SELECT group_concat(idx || ':' || name || ':' || result, ' ') FROM "
			"(SELECT * FROM unit_stages WHERE unit_id = 1 ORDER BY idx)",
			"0:getvar:pass 1:reboot:pass");
	LOOP_UNTIL(raw_int(st_db, "SELECT count(*) FROM units WHERE result = 'pass'") == 3 &&
		   !station_port_at("1-3")->job && !station_port_at("1-4")->job);
	ASSERT_EQ(raw_int(st_db, "SELECT count(*) FROM units"), 3);
	ASSERT_SQL_TEXT(st_db, "SELECT result || ':' || serial FROM units WHERE id = 1",
			"pass:SN3");
	ASSERT_EQ(raw_int(st_db, "SELECT count(*) FROM units WHERE result = 'running'"), 0);
	station_teardown();
}

/* ---- a burst of boards: one commit for their rows ------------------------ */

#define BURST_N 8

static const char *burst_port(unsigned i)
{
	static char buf[BURST_N][16];

	snprintf(buf[i], sizeof(buf[i]), "1-%u", i + 3);
	return buf[i];
}

/* BURST_N boards plugged at once, read in one go as flashd's hotplug reads
 * its monitor (bracketed by the burst callback, if the station set one). */
static void plug_burst(void)
{
	if (hp.burst)
		hp.burst(hp.ud, true);
	for (unsigned i = 0; i < BURST_N; i++)
		hotplug_on(burst_port(i), HOTPLUG_ADD, 10 + i);
	if (hp.burst)
		hp.burst(hp.ud, false);
}

/* A station whose jobs all block in their first stage, recording at each
 * job's first touch of its board how many unit rows were durable. */
static void burst_setup(const char *name)
{
	struct step steps[BURST_N];

	for (unsigned i = 0; i < BURST_N; i++)
		steps[i] = (struct step){ ACT_BLOCK, 0 };
	station_setup(name, 60, steps, BURST_N);
	pthread_mutex_lock(&fk.lock);
	fk.db_path = st_db;
	fk.units_at_open = true;
	pthread_mutex_unlock(&fk.lock);
}

/* Engine calls so far (the jobs' threads make them). */
static size_t engine_calls(void)
{
	size_t n;

	pthread_mutex_lock(&fk.lock);
	n = fk.next;
	pthread_mutex_unlock(&fk.lock);
	return n;
}

static long long min_units_at_open(void)
{
	long long n;

	pthread_mutex_lock(&fk.lock);
	n = fk.min_units;
	pthread_mutex_unlock(&fk.lock);
	return n;
}

/* Every job blocks in its first stage: no stage row was written, so every
 * commit since c0 is a unit row's (or the replay probe's). */
static void assert_burst_running(long c0, long commits)
{
	ASSERT_EQ(raw_int(st_db, "SELECT count(*) FROM units WHERE result = 'running'"), BURST_N);
	ASSERT_EQ(raw_int(st_db, "SELECT count(*) FROM unit_stages"), 0);
	ASSERT_EQ(wal_commits(st_db) - c0, commits);
	/* No board was touched before all their rows were durable. */
	ASSERT_EQ(min_units_at_open(), BURST_N);
	for (unsigned i = 0; i < BURST_N; i++)
		ASSERT_EQ(station_port_at(burst_port(i))->state, PORT_FLASHING);
}

TEST(station_burst_of_boards_is_one_commit_before_any_board_is_opened)
{
	long c0;

	burst_setup("st-burst");
	c0 = wal_commits(st_db);
	plug_burst();
	WAIT_UNTIL(fk.next == BURST_N);
	/* One fsync for the 8 rows, not 8 in a row on the loop. */
	assert_burst_running(c0, 1);
	ASSERT_EQ(st->n_jobs, BURST_N);
	station_abandon();
}

TEST(station_burst_whose_commit_fails_touches_no_board)
{
	long c0;

	burst_setup("st-burstfull");
	disk_full(st_db);
	plug_burst();
	/* The commit failed: no row, no job, each board waits untouched. */
	for (unsigned i = 0; i < BURST_N; i++) {
		ASSERT_EQ(station_port_at(burst_port(i))->state, PORT_QUEUED);
		ASSERT_TRUE(!station_port_at(burst_port(i))->job);
	}
	ASSERT_TRUE(station_db_blocked(st));
	ASSERT_EQ(st->n_jobs, 0);
	loop_for(300);
	ASSERT_STREQ(fk.trace, "");
	ASSERT_EQ(raw_int(st_db, "SELECT count(*) FROM units"), 0);

	/* Room again: the retry's probe write, then the waiting boards' rows
	 * in one commit, then their jobs. */
	c0 = wal_commits(st_db);
	disk_freed();
	LOOP_UNTIL(!station_db_blocked(st) && engine_calls() == BURST_N);
	assert_burst_running(c0, 2);
	station_abandon();
}

TEST(station_passed_unit_with_its_result_pending_is_not_flashed_again)
{
	station_setup("st-dbfinish", 60, NULL, 0);
	/* Close 1 ends the reboot stage, close 2 the job: after the reboot
	 * stage's row, before the result. */
	pthread_mutex_lock(&fk.lock);
	fk.pause_close_at = 2;
	pthread_mutex_unlock(&fk.lock);
	hotplug(HOTPLUG_ADD, 3);
	WAIT_UNTIL(fk.paused);
	disk_full(st_db);
	fake_resume();
	LOOP_UNTIL(PORT_DONE_AND_REAPED && station_db_blocked(st));
	ASSERT_STREQ(station_port()->last_result, "pass");
	ASSERT_ST_UNITS("running:1-2:SN3");
	/* The unit reboots after fastboot.reboot and comes back on its port
	 * while its pass is still pending: it is that unit, not a new board. */
	hotplug(HOTPLUG_REMOVE, 3);
	hotplug_board(HOTPLUG_ADD, 4, 3);
	ASSERT_TRUE(!station_port()->job);
	disk_freed();
	LOOP_UNTIL(!station_db_blocked(st));
	loop_for(300);
	ASSERT_EQ(station_port()->state, PORT_DONE);
	ASSERT_TRUE(!station_port()->job);
	ASSERT_ST_UNITS("pass:1-2:SN3");
	ASSERT_TRACE("open(3) getvar reboot close");
	station_teardown();
}

TEST_MAIN()
