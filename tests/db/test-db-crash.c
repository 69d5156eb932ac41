/*
 * Crash test for db/: a child process writes units as the daemon would and
 * is SIGKILLed in the middle of the job stream.  After reopening, the unit
 * that was running must be 'interrupted' after recovery, every unit the
 * child saw finished must still be 'pass' with its image, and the file
 * must pass PRAGMA integrity_check.
 */
#include "db/db.h"
#include "db/units.h"
#include "tests/db/db-test-util.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>

/* Child: report ids on fd as "F <id>" (finished, durable) and "R <id>" (left running). */
static void child_main(const char *path, int fd)
{
	struct db_unit_start st = { .station = "crash",
				    .port = "1-1",
				    .slot = NULL,
				    .recipe = "r",
				    .flashd_version = "test" };
	struct db_unit_image im = { .stage = "flash",
				    .file = "app.bin",
				    .size = 4096,
				    .has_host_crc32 = true,
				    .host_crc32 = 0xdeadbeef,
				    .has_device_crc32 = true,
				    .device_crc32 = 0xdeadbeef,
				    .verified = true };
	struct err e = { 0 };
	struct db *db = NULL;
	char line[64];
	int64_t id;

	if (db_open(path, DB_OPEN_CREATE, &db, &e) < 0)
		_exit(2);
	for (int i = 0;; i++) {
		if (db_unit_begin(db, &st, &id, &e) < 0 || db_unit_image(db, id, &im, &e) < 0)
			_exit(3);
		if (i == 20) {
			/* This one never finishes: the daemon "dies" during its job. */
			snprintf(line, sizeof(line), "R %lld\n", (long long)id);
			if (write(fd, line, strlen(line)) < 0)
				_exit(4);
			continue;
		}
		if (db_unit_finish(db, id, DB_RESULT_PASS, NULL, NULL, &e) < 0)
			_exit(5);
		snprintf(line, sizeof(line), "F %lld\n", (long long)id);
		if (write(fd, line, strlen(line)) < 0)
			_exit(4);
	}
}

TEST(db_sigkill_mid_job_leaves_interrupted_row_and_intact_file)
{
	const char *p = tpath("crash.db");
	int64_t finished[4096], running = -1;
	int fds[2], status, n_fin = 0, n_after = 0, recovered;
	struct err e = { 0 };
	struct db *db = NULL;
	char buf[65536], sql[128];
	size_t len = 0;
	ssize_t r;
	FILE *f;
	pid_t pid;

	ASSERT_EQ(pipe(fds), 0);
	pid = fork();
	ASSERT_TRUE(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		child_main(p, fds[1]);
		_exit(0);
	}
	close(fds[1]);

	/* Kill once the running unit exists and a few more units finished after it. */
	while (n_after < 10 && (r = read(fds[0], buf + len, sizeof(buf) - 1 - len)) > 0) {
		len += (size_t)r;
		buf[len] = '\0';
		n_after = 0;
		if (strstr(buf, "R ")) {
			for (char *q = strstr(buf, "R "); (q = strchr(q, '\n')); q++)
				n_after++;
			n_after--; /* the R line itself */
		}
	}
	kill(pid, SIGKILL);
	while ((r = read(fds[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)r;
	buf[len] = '\0';
	close(fds[0]);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	f = fmemopen(buf, len, "r");
	ASSERT_TRUE(f != NULL);
	for (;;) {
		char kind;
		long long id;

		if (fscanf(f, " %c %lld", &kind, &id) != 2)
			break;
		if (kind == 'R')
			running = id;
		else if (n_fin < (int)ARRAY_SIZE(finished))
			finished[n_fin++] = id;
	}
	fclose(f);
	ASSERT_TRUE(running > 0);
	ASSERT_TRUE(n_fin >= 30);

	/* The daemon starts again. */
	ASSERT_OK(db_open(p, 0, &db, &e));
	recovered = db_recover_interrupted(db, NULL, &e);
	ASSERT_OK(recovered);
	/* The never-finished unit, plus the one in flight at the kill if any. */
	ASSERT_TRUE(recovered == 1 || recovered == 2);
	db = db_close(db);

	ASSERT_SQL_TEXT(p, "PRAGMA integrity_check", "ok");
	ASSERT_TRUE(raw_text(p, "PRAGMA foreign_key_check") == NULL);
	snprintf(sql, sizeof(sql), "SELECT result FROM units WHERE id = %lld", (long long)running);
	ASSERT_SQL_TEXT(p, sql, "interrupted");
	ASSERT_EQ(raw_int(p, "SELECT count(*) FROM units WHERE result = 'running'"), 0);
	for (int i = 0; i < n_fin; i++) {
		snprintf(
			sql, sizeof(sql),
			"SELECT result || '|' || (duration_ms IS NOT NULL) FROM units WHERE id = %lld",
			(long long)finished[i]);
		ASSERT_SQL_TEXT(p, sql, "pass|1");
	}
	ASSERT_TRUE(raw_int(p, "SELECT count(*) FROM units WHERE result = 'pass'") >= n_fin);
	ASSERT_EQ(raw_int(p, "SELECT count(*) FROM unit_images i JOIN units u ON u.id = i.unit_id "
			     "WHERE u.result = 'pass' AND i.host_crc32 = 3735928559"),
		  raw_int(p, "SELECT count(*) FROM units WHERE result = 'pass'"));
}

TEST_MAIN()
