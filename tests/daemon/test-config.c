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

/* Load text as a config; returns config_load's result, message in e. */
static int load_text(const char *text, struct config *c, struct err *e, char path[static 32])
{
	int r;

	strcpy(path, "/tmp/flashd-conf-XXXXXX");
	write_conf(path, text);
	err_clear(e);
	if (config_defaults(c) < 0)
		return -ENOMEM;
	r = config_load(path, c, e);
	unlink(path);
	return r;
}

/* Issue 17: '#' inside a value truncated it (db=/var/lib/line#3.db became /var/lib/line). */
TEST(config_hash_inside_a_value_is_kept)
{
	char path[32];
	struct config c;
	struct err e = { 0 };

	ASSERT_OK(load_text("database = /var/lib/line#3.db   # line 3's log\n#whole line\n"
			    "station = st#1\n",
			    &c, &e, path));
	ASSERT_STREQ(c.database, "/var/lib/line#3.db");
	ASSERT_STREQ(c.station, "st#1");
	config_free(&c);
}

/* Issue 17: bad values were accepted or described wrongly; each says file:line and why. */
TEST(config_refuses_bad_values_with_file_line)
{
	static const struct {
		const char *text, *msg;
	} cases[] = {
		{ "max_jobs = 2000\n", ":1: max_jobs: 2000 is out of range 1..1024" },
		{ "grace_sec = -1\n", ":1: grace_sec: '-1' is not a number in 0..3600" },
		{ "\nstation = a\nstation = b\n", ":3: station: set again (first on line 2)" },
		{ "slot.1-1.2 = A1\nslot.1-1.2 = A2\n",
		  ":2: slot.1-1.2: port already labelled 'A1'" },
		{ "slot.1-1.2 = A1\nslot.1-1.3 = A1\n",
		  ":2: slot.1-1.3: label 'A1' is already port 1-1.2's" },
		{ "slot.hub3 = A1\n", ":1: slot.hub3: 'hub3' is not a USB port path (e.g. 1-1.2)" },
		{ "allow_ports = 1-1.* 1-[2\n", ":1: allow_ports: '1-[2' is not a port-path glob" },
		{ "allow_ports = usb1\n", ":1: allow_ports: 'usb1' is not a port-path glob" },
		{ "database = flashd.db\n", ":1: database: 'flashd.db' is not an absolute path" },
		{ "station =\n", ":1: station: empty value" },
	};
	char path[32];
	struct config c;
	struct err e = { 0 };

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int r = load_text(cases[i].text, &c, &e, path);

		if (r >= 0)
			TEST_FAIL("accepted: %s", cases[i].text);
		ASSERT_CONTAINS(e.msg, path);
		ASSERT_CONTAINS(e.msg, cases[i].msg);
		config_free(&c);
	}
	/* An empty allow list is every port, as documented. */
	ASSERT_OK(load_text("allow_ports =\nslot.1-1.2.3 = A3\n", &c, &e, path));
	ASSERT_EQ(c.n_allow, 0);
	config_free(&c);
}

TEST_MAIN()
