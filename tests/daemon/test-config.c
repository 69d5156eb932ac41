/* Tests for daemon/config.c: the station configuration file. */
#include "daemon/config.h"
#include "tests/lib/test.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

static void write_conf(char *path, const char *text)
{
	int fd = mkstemp(path);
	FILE *f;

	ASSERT_TRUE(fd >= 0);
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
}

TEST(config_reads_every_key)
{
	char path[] = "/tmp/flashd-conf-XXXXXX";
	struct config c;
	struct err e = { 0 };

	write_conf(path, "# station\nstation = line3-st1\nrecipe_dir=/r\n database = /d.db \n"
			 "control_socket = /s\nallow_ports = 1-1.* 2-3\nmax_jobs = 8\n"
			 "grace_sec = 5\nrearm_sec = 7\nslot.1-1.2 = A1 # left hub\n");
	ASSERT_OK(config_defaults(&c));
	ASSERT_OK(config_load(path, &c, &e));
	unlink(path);
	ASSERT_STREQ(c.station, "line3-st1");
	ASSERT_STREQ(c.recipe_dir, "/r");
	ASSERT_STREQ(c.database, "/d.db");
	ASSERT_STREQ(c.control_socket, "/s");
	ASSERT_EQ(c.max_jobs, 8);
	ASSERT_EQ(c.grace_sec, 5);
	ASSERT_EQ(c.rearm_sec, 7);
	ASSERT_EQ(c.n_allow, 2);
	ASSERT_TRUE(config_port_allowed(&c, "1-1.2.3"));
	ASSERT_TRUE(config_port_allowed(&c, "2-3"));
	ASSERT_TRUE(!config_port_allowed(&c, "2-4"));
	ASSERT_STREQ(config_slot_label(&c, "1-1.2"), "A1");
	ASSERT_TRUE(config_slot_label(&c, "1-1.3") == NULL);
	config_free(&c);
}

TEST(config_reads_pending_journal)
{
	char path[] = "/tmp/flashd-conf-XXXXXX";
	struct config c;
	struct err e = { 0 };

	write_conf(path, "pending_journal = /var/spool/flashd/pending\n");
	ASSERT_OK(config_defaults(&c));
	ASSERT_TRUE(c.pending_journal == NULL); /* derived from control_socket */
	ASSERT_OK(config_load(path, &c, &e));
	unlink(path);
	ASSERT_STREQ(c.pending_journal, "/var/spool/flashd/pending");
	config_free(&c);
}

TEST(config_empty_allow_list_allows_every_port)
{
	struct config c;

	ASSERT_OK(config_defaults(&c));
	ASSERT_TRUE(config_port_allowed(&c, "7-1.4"));
	config_free(&c);
}

TEST(config_errors_name_file_and_line)
{
	char path[] = "/tmp/flashd-conf-XXXXXX";
	char want[128];
	struct config c;
	struct err e = { 0 };

	write_conf(path, "station = a\n\ncolour = blue\n");
	ASSERT_OK(config_defaults(&c));
	ASSERT_EQ(config_load(path, &c, &e), -EINVAL);
	snprintf(want, sizeof(want), "%s:3: unknown key 'colour'", path);
	ASSERT_STREQ(e.msg, want);
	config_free(&c);
	unlink(path);

	strcpy(path, "/tmp/flashd-conf-XXXXXX");
	write_conf(path, "max_jobs = lots\n");
	ASSERT_OK(config_defaults(&c));
	err_clear(&e);
	ASSERT_EQ(config_load(path, &c, &e), -EINVAL);
	snprintf(want, sizeof(want), "%s:1: max_jobs: 'lots' is not a number in 1..1024", path);
	ASSERT_STREQ(e.msg, want);
	config_free(&c);
	unlink(path);
}

TEST(config_missing_file_is_enoent)
{
	struct config c;
	struct err e = { 0 };

	ASSERT_OK(config_defaults(&c));
	ASSERT_EQ(config_load("/nonexistent/flashd.conf", &c, &e), -ENOENT);
	ASSERT_CONTAINS(e.msg, "cannot open '/nonexistent/flashd.conf'");
	config_free(&c);
}

/* Issue 13: a directory read as empty config, a FIFO blocked startup forever. */
TEST(config_not_regular_file_is_refused)
{
	char dir[] = "/tmp/test-config.XXXXXX", fifo[64];
	struct config c;
	struct err e = { 0 };

	ASSERT_TRUE(mkdtemp(dir));
	snprintf(fifo, sizeof(fifo), "%s/fifo.conf", dir);
	ASSERT_OK(mkfifo(fifo, 0600));
	ASSERT_OK(config_defaults(&c));
	ASSERT_EQ(config_load(dir, &c, &e), -EINVAL);
	ASSERT_CONTAINS(e.msg, "is not a regular file");
	err_clear(&e);
	alarm(10); /* old code blocked in fopen() */
	ASSERT_EQ(config_load(fifo, &c, &e), -EINVAL);
	alarm(0);
	ASSERT_CONTAINS(e.msg, "is not a regular file");
	ASSERT_CONTAINS(e.msg, fifo);
	config_free(&c);
	unlink(fifo);
	rmdir(dir);
}

TEST_MAIN()
