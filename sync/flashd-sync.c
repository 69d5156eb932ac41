/*
 * flashd-sync: ships the station outbox (db/outbox.h) to the fleet's
 * PostgreSQL (flashd-sync(8)).  It only reads the station database, so it
 * runs in group flashd-read; flashd itself opens no network connection.
 *
 * The server is the only state: the high-water mark is read back from it
 * at every (re)connection, so a crash, a kill -9 or a batch whose commit
 * was lost with the connection re-sends from the server's mark, and the
 * re-sent entries insert nothing (keyed by station and seq).
 */
#include "common/log.h"
#include "common/version.h"
#include "db/db.h"
#include "db/outbox.h"
#include "sync/backoff.h"
#include "sync/config.h"
#include "sync/pg.h"
#include "sync/schema.h"
#include "sync/ship.h"
#include "sync/status.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

/* Exit status of a refusal (another station's name or database, an old backup). */
#define EXIT_REFUSED 3
/* Reopen the station database this often when idle: it may have been replaced. */
#define REOPEN_IDLE_MS 10000

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct session {
	PGconn *pg;
	struct db *db;
	char uuid[DB_UUID_LEN];
	int64_t high_water;
	int64_t opened_ms; /* when db was opened */
	int64_t lag_ms;	   /* when the lag was last counted */
	/* Read while the server worked on the batch before it, which ended at high_water. */
	struct db_outbox_batch next;
};

/* Drop the server connection; the station database stays open for the lag. */
static void session_close_pg(struct session *s)
{
	if (s->pg)
		PQfinish(s->pg);
	s->pg = NULL;
	/* The next hello may answer another mark. */
	db_outbox_batch_clear(&s->next);
}

/* Close both; the last mark known from the server stays, for the lag. */
static void session_close(struct session *s)
{
	int64_t hw = s->high_water;

	session_close_pg(s);
	db_close(s->db);
	*s = (struct session){ .high_water = hw };
}

/* Sleep ms, cut short by SIGTERM. */
static void nap(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (!stop && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int open_db(const struct sync_config *c, struct session *s, struct err *err)
{
	int rc = db_open(c->database, DB_OPEN_READONLY, &s->db, err);

	if (rc < 0)
		return rc;
	s->opened_ms = sync_now_ms();
	return db_outbox_station_uuid(s->db, s->uuid, err);
}

static int session_open(const struct sync_config *c, struct session *s, struct sync_status *st,
			struct err *err)
{
	int rc;

	if (!s->db && (rc = open_db(c, s, err)) < 0)
		return rc;
	if ((rc = sync_pg_connect(c, &s->pg, err)) < 0 ||
	    (rc = sync_schema_check(s->pg, err)) < 0 ||
	    (rc = sync_hello(s->pg, s->db, c, &s->high_water, err)) < 0 ||
	    (rc = sync_stage_init(s->pg, err)) < 0)
		return rc;
	sync_pg_describe(s->pg, st->server, sizeof(st->server));
	log_msg(LOG_INFO,
		"connected to %s as station '%s' (database %s): server holds up to seq %lld",
		st->server, c->station, s->uuid, (long long)s->high_water);
	return 0;
}

/* Idle: reopen the station database now and then, and check it did not go backwards. */
static int idle_check(const struct sync_config *c, struct session *s, struct err *err)
{
	char uuid[DB_UUID_LEN];
	int64_t last = 0;
	int rc;

	if (sync_now_ms() - s->opened_ms >= REOPEN_IDLE_MS) {
		memcpy(uuid, s->uuid, sizeof(uuid));
		s->db = db_close(s->db);
		rc = open_db(c, s, err);
		if (rc < 0)
			return rc;
		if (strcmp(uuid, s->uuid) != 0)
			return err_set(err, -EAGAIN, "station database %s replaced by %s", uuid,
				       s->uuid);
	}
	rc = db_outbox_last_seq(s->db, &last, err);
	if (rc < 0)
		return rc;
	if (last < s->high_water)
		return err_set(
			err, -ESTALE,
			"station database went back to seq %lld, the server holds up to %lld: restored from an old backup? Refusing to sync",
			(long long)last, (long long)s->high_water);
	return 0;
}

/* The lag after the last mark known from the server (none yet: after 0). */
static void count_lag(struct session *s, struct sync_status *st, bool force)
{
	struct err e = { 0 };

	if (!s->db || (!force && sync_now_ms() - s->lag_ms < 1000))
		return;
	s->lag_ms = sync_now_ms();
	if (db_outbox_lag(s->db, s->high_water, &st->lag, &st->oldest_ms, &e) < 0)
		log_msg(LOG_WARNING, "%s", e.msg);
	st->high_water = s->high_water;
}

/* The batch after high_water: the one read ahead, else from the database. */
static int take_batch(const struct sync_config *c, struct session *s, struct db_outbox_batch *b,
		      struct err *err)
{
	*b = s->next;
	s->next = (struct db_outbox_batch){ 0 };
	if (b->count > 0)
		return 0;
	db_outbox_batch_clear(b);
	return db_outbox_read_copy(s->db, s->high_water, c->batch, b, err);
}

/*
 * Read the batch after b while the server works on b: flashd-sync's
 * reading then costs no wall time.  A failure here only loses the read-ahead.
 */
static void read_ahead(const struct sync_config *c, struct session *s,
		       const struct db_outbox_batch *b)
{
	struct err e = { 0 };

	if (db_outbox_read_copy(s->db, b->last_seq, c->batch, &s->next, &e) < 0)
		db_outbox_batch_clear(&s->next);
}

/* One batch: 1 if sent, 0 if there was nothing to send. */
static int step(const struct sync_config *c, struct session *s, struct err *err)
{
	struct db_outbox_batch b;
	int rc;

	rc = take_batch(c, s, &b, err);
	if (rc < 0 || b.count == 0) {
		db_outbox_batch_clear(&b);
		return rc;
	}
	rc = sync_send_start(s->pg, c->station, &b, err);
	if (rc == 0) {
		read_ahead(c, s, &b);
		rc = sync_send_finish(s->pg, &b, err);
	}
	if (rc == 0)
		s->high_water = b.last_seq;
	else
		db_outbox_batch_clear(&s->next);
	db_outbox_batch_clear(&b);
	return rc < 0 ? rc : 1;
}

static int refuse(const char *msg)
{
	log_msg(LOG_CRIT, "refusing to sync: %s", msg);
	sd_notifyf(0, "STATUS=refusing to sync: %s", msg);
	return EXIT_REFUSED;
}

static int run(const struct sync_config *c, bool once)
{
	struct session s = { 0 };
	struct sync_status st;
	struct backoff bo;
	struct err e = { 0 };
	bool was_down = false;
	int rc, d;

	sync_status_init(&st, c->lag_log_sec);
	st.station = c->station;
	st.metrics_file = c->metrics_file;
	backoff_init(&bo, c->backoff_min_ms, c->backoff_max_ms,
		     (unsigned)getpid() ^ (unsigned)time(NULL));
	sd_notify(0, "READY=1");
	while (!stop) {
		err_clear(&e);
		rc = s.pg ? 0 : session_open(c, &s, &st, &e);
		if (rc == 0)
			rc = step(c, &s, &e);
		if (rc == 0)
			rc = idle_check(c, &s, &e);
		if (rc < 0) {
			if (sync_refused(rc)) {
				session_close(&s);
				return refuse(e.msg);
			}
			d = backoff_next(&bo);
			snprintf(st.problem, sizeof(st.problem), "%s", e.msg);
			log_msg(was_down ? LOG_INFO : LOG_WARNING, "%s; retrying in %d ms", e.msg,
				d);
			was_down = true;
			/*
			 * Keep the station database for the lag while the server is
			 * away, but reopen it now and then in case it is the problem.
			 */
			if (sync_now_ms() - s.opened_ms < REOPEN_IDLE_MS)
				session_close_pg(&s);
			else
				session_close(&s);
			count_lag(&s, &st, false);
			sync_status_report(&st, true);
			nap(d);
			continue;
		}
		if (was_down) {
			log_msg(LOG_NOTICE, "server back: shipping from seq %lld",
				(long long)s.high_water);
			was_down = false;
			st.problem[0] = '\0';
		}
		backoff_reset(&bo);
		count_lag(&s, &st, rc == 0);
		sync_status_report(&st, false);
		if (rc == 0) {
			if (once)
				break;
			nap(c->poll_ms);
		}
	}
	sync_status_report(&st, true);
	session_close(&s);
	return 0;
}

static int migrate(const struct sync_config *c)
{
	struct err e = { 0 };
	char server[256];
	PGconn *pg = NULL;
	int n;

	if (sync_pg_connect(c, &pg, &e) < 0) {
		log_msg(LOG_ERR, "%s", e.msg);
		return EXIT_FAILURE;
	}
	sync_pg_describe(pg, server, sizeof(server));
	n = sync_schema_migrate(pg, &e);
	PQfinish(pg);
	if (n < 0) {
		log_msg(LOG_ERR, "migrate %s: %s", server, e.msg);
		return EXIT_FAILURE;
	}
	printf("%s: %d migration%s applied\n", server, n, n == 1 ? "" : "s");
	return EXIT_SUCCESS;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: flashd-sync [--config FILE] [--once | --migrate]\n"
		"Ship the flashd station outbox to the fleet PostgreSQL (flashd-sync(8)).\n"
		"  -c, --config FILE  configuration (default " SYNC_DEFAULT_CONFIG ")\n"
		"      --once         ship what is there, then exit\n"
		"      --migrate      apply the fleet schema's migrations (as its owner), then exit\n"
		"      --version      print the version\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' }, { "once", no_argument, NULL, 'o' },
		{ "migrate", no_argument, NULL, 'm' },	    { "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },	    { 0 },
	};
	const char *config = SYNC_DEFAULT_CONFIG;
	bool once = false, do_migrate = false;
	struct sigaction sa = { .sa_handler = on_signal };
	struct sync_config c;
	struct err e = { 0 };
	int o;

	while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			config = optarg;
			break;
		case 'o':
			once = true;
			break;
		case 'm':
			do_migrate = true;
			break;
		case 'V':
			printf("flashd-sync %s\n", FLASHD_VERSION);
			return EXIT_SUCCESS;
		case 'h':
			usage(stdout);
			return EXIT_SUCCESS;
		default:
			usage(stderr);
			return EXIT_FAILURE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EXIT_FAILURE;
	}
	if (sync_config_load(&c, config, &e) < 0) {
		log_msg(LOG_ERR, "%s", e.msg);
		return EXIT_FAILURE;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return do_migrate ? migrate(&c) : run(&c, once);
}
