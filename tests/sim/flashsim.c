/*
 * flashsim: run a command against simulated USB boards.
 *
 *   flashsim --scenario FILE.json [--dump-dir DIR] -- COMMAND [ARGS...]
 *
 * This file holds main(): it puts itself under the umockdev preload (plus
 * our shim), builds the testbed from the scenario, spawns COMMAND with
 * posix_spawn under the same preload, runs the timeline until COMMAND exits,
 * then dumps the boards.  Exit status: COMMAND's, or 70 on a rig error.
 * How it works and the gotchas handled: tests/sim/README.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glib-unix.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/sim/dump.h"
#include "tests/sim/hubbw.h"
#include "tests/sim/rig.h"
#include "tests/sim/simdev.h"
#include "tests/sim/testbed.h"

#define EXIT_RIG 70
#define PRELOAD "libumockdev-preload.so.0"
#define SHIM "libflashsim-shim.so"
/* systemd's 50-default.conf value; 0.17.16 aborts on a full uevent queue. */
#define DGRAM_QLEN 512

extern char **environ;

void rig_log(const char *fmt, ...)
{
	va_list ap;

	fputs("flashsim: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void rig_debug(const char *fmt, ...)
{
	va_list ap;

	if (!getenv("FLASHSIM_DEBUG"))
		return;
	fprintf(stderr, "flashsim[%.3f]: ", (double)sched_now_ns() / 1e9);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: flashsim --scenario FILE.json [--dump-dir DIR] -- COMMAND [ARGS...]\n");
}

/*
 * The testbed API must run under the preload (test-rigs.md §1.5(b)), and the
 * shim must come before it (gotcha 6).  Re-exec once with both.  Returns only
 * on error, or 0 if already preloaded.
 */
static int ensure_preloaded(char **argv)
{
	const char *cur = getenv("LD_PRELOAD");
	char exe[PATH_MAX], shim[PATH_MAX + 32];
	g_autofree char *dir = NULL, *val = NULL;
	ssize_t n;

	if (cur && strstr(cur, PRELOAD))
		return 0;
	if (getenv("FLASHSIM_REEXEC")) {
		rig_log("re-exec did not bring in %s", PRELOAD);
		return -ELOOP;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		return -errno;
	exe[n] = '\0';
	dir = g_path_get_dirname(exe);
	if (getenv("FLASHSIM_SHIM"))
		snprintf(shim, sizeof(shim), "%s", getenv("FLASHSIM_SHIM"));
	else
		snprintf(shim, sizeof(shim), "%s/%s", dir, SHIM);
	if (access(shim, R_OK) < 0) {
		rig_log("cannot find the shim '%s' (build it with make)", shim);
		return -ENOENT;
	}
	val = cur && *cur ? g_strdup_printf("%s:%s:%s", shim, PRELOAD, cur)
			  : g_strdup_printf("%s:%s", shim, PRELOAD);
	setenv("LD_PRELOAD", val, 1);
	setenv("FLASHSIM_REEXEC", "1", 1);
	execv(exe, argv);
	rig_log("cannot re-exec '%s': %m", exe);
	return -errno;
}

/* Returns the pacing interval needed between plug events. */
static unsigned raise_dgram_qlen(void)
{
	char buf[32];
	int fd = open("/proc/sys/net/unix/max_dgram_qlen", O_RDWR | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 5;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n > 0) {
		buf[n] = '\0';
		if (atoi(buf) >= DGRAM_QLEN) {
			close(fd);
			return 0;
		}
	}
	n = snprintf(buf, sizeof(buf), "%d\n", DGRAM_QLEN);
	if (pwrite(fd, buf, (size_t)n, 0) != n) {
		close(fd);
		rig_debug("cannot raise net.unix.max_dgram_qlen: pacing plug events");
		return 5;
	}
	close(fd);
	return 0;
}

struct child {
	GPid pid;
	int status; /* exit status to return */
	bool done;
	GMainLoop *loop;
};

/* Boards with plug_on_sigusr1 arrive now (scenario.h). */
static gboolean on_sigusr1(gpointer p)
{
	struct rig *r = p;

	for (size_t i = 0; i < r->n_devs; i++)
		simdev_plug_on_signal(&r->devs[i]);
	return G_SOURCE_CONTINUE;
}

static void child_exited(GPid pid, gint wstatus, gpointer p)
{
	struct child *c = p;

	c->done = true;
	if (WIFEXITED(wstatus))
		c->status = WEXITSTATUS(wstatus);
	else if (WIFSIGNALED(wstatus))
		c->status = 128 + WTERMSIG(wstatus);
	else
		c->status = EXIT_RIG;
	g_spawn_close_pid(pid);
	g_main_loop_quit(c->loop);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "scenario", required_argument, NULL, 's' },
		{ "dump-dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char *scn_path = NULL, *dump_dir = NULL;
	struct rig rig = { 0 };
	struct child child = { 0 };
	char err[512];
	int c, r, status = EXIT_RIG;
	pid_t pid;

	while ((c = getopt_long(argc, argv, "+s:d:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			scn_path = optarg;
			break;
		case 'd':
			dump_dir = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_RIG;
		}
	}
	if (!scn_path || optind >= argc) {
		usage(stderr);
		return EXIT_RIG;
	}
	/* Parse before the re-exec so that a bad file fails fast and plainly. */
	r = scenario_load(scn_path, &rig.scn, err, sizeof(err));
	if (r < 0) {
		rig_log("%s", err);
		return EXIT_RIG;
	}
	rig.usbfs_mem_limit = (size_t)rig.scn->usbfs_memory_mb << 20;
	r = hubbw_load(scn_path, rig.scn->hubs, rig.scn->n_hubs, &rig.hubbw, err, sizeof(err));
	if (r < 0) {
		rig_log("%s", err);
		scenario_free(rig.scn);
		return EXIT_RIG;
	}
	if (ensure_preloaded(argv) < 0) {
		hubbw_free(rig.hubbw);
		scenario_free(rig.scn);
		return EXIT_RIG;
	}
	unsetenv("FLASHSIM_REEXEC");
	rig.pace_ms = raise_dgram_qlen();
	pthread_mutex_init(&rig.opq_lock, NULL);
	g_queue_init(&rig.opq);

	/* The testbed first, before any other thread (test-rigs.md §1.5(d)). */
	r = testbed_new(&rig);
	if (r < 0) {
		rig_log("cannot create the umockdev testbed: %s", strerror(-r));
		goto out;
	}
	r = sched_new(&rig.sched);
	if (r < 0) {
		rig_log("cannot start the timer thread: %s", strerror(-r));
		goto out;
	}
	rig.loop = g_main_loop_new(NULL, FALSE);
	for (size_t i = 0; i < rig.scn->n_hubs; i++) {
		r = testbed_add_hub(&rig, rig.scn->hubs[i]);
		if (r < 0) {
			rig_log("%s: hubs: cannot add hub '%s'", scn_path, rig.scn->hubs[i]);
			goto out;
		}
	}
	rig.devs = calloc(rig.scn->n_boards ? rig.scn->n_boards : 1, sizeof(*rig.devs));
	if (!rig.devs)
		goto out;
	for (size_t i = 0; i < rig.scn->n_boards; i++) {
		r = simdev_init(&rig.devs[i], &rig, &rig.scn->boards[i], err, sizeof(err));
		rig.n_devs = i + 1;
		if (r < 0) {
			rig_log("%s: boards[%zu] ('%s'): %s", scn_path, i, rig.scn->boards[i].id,
				err);
			goto out;
		}
	}
	rig.t0 = sched_now_ns();
	for (size_t i = 0; i < rig.n_devs; i++) {
		r = simdev_start(&rig.devs[i]);
		if (r < 0) {
			rig_log("boards[%zu] ('%s'): cannot plug in: %s", i, rig.devs[i].cfg->id,
				strerror(-r));
			goto out;
		}
	}

	g_unix_signal_add(SIGUSR1, on_sigusr1, &rig);
	/* The child inherits LD_PRELOAD (shim + umockdev) and UMOCKDEV_DIR. */
	r = posix_spawnp(&pid, argv[optind], NULL, NULL, argv + optind, environ);
	if (r) {
		rig_log("cannot run '%s': %s", argv[optind], strerror(r));
		goto out;
	}
	child.pid = pid;
	child.loop = rig.loop;
	g_child_watch_add(pid, child_exited, &child);
	g_main_loop_run(rig.loop);
	if (!child.done) {
		/* A rig error ended the loop: stop the command, keep its status out. */
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
	}
	/* Clients the command left behind may still be talking to the boards:
	 * freeze board time now (their transfers complete at once), free the
	 * timer thread only after simdev_fini() has ended their connections. */
	sched_stop(rig.sched);
	r = dump_write(&rig, dump_dir, child.status);
	if (rig.rig_error || r < 0)
		status = EXIT_RIG;
	else
		status = child.status;
out:
	sched_stop(rig.sched);
	for (size_t i = 0; i < rig.n_devs; i++)
		simdev_fini(&rig.devs[i]);
	rig.sched = sched_free(rig.sched);
	free(rig.devs);
	g_queue_clear_full(&rig.opq, free);
	testbed_free(&rig);
	if (rig.loop)
		g_main_loop_unref(rig.loop);
	scenario_free(rig.scn);
	hubbw_free(rig.hubbw);
	pthread_mutex_destroy(&rig.opq_lock);
	return status;
}
