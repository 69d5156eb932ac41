/*
 * usbip-sim: serve simulated USB boards to the kernel's vhci_hcd over
 * USB/IP, for the system-test VM (tests/sim/usbip/README.md).
 *
 *   usbip-sim [--vhci DIR] [--loopback DIR] [--out DIR] [--ready FILE]
 *             [--duration-ms N] SCENARIO.json
 *
 * This file holds main(): options, the scenario checks USB/IP imposes (a
 * flat topology on bus 1), signals, the reader loop that polls every
 * connected socket, and the orderly exit (detach, dump).  Exit status 0, or
 * 2 on a rig error with a "usbip-sim: ..." message.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/sim/usbip/usbip-sim.h"

#define DEFAULT_VHCI "/sys/devices/platform/vhci_hcd.0"

/* The only file-scope state: what the signal handler needs. */
static volatile sig_atomic_t sig_stop;
static int sig_wake_fd = -1;

void app_log(const char *fmt, ...)
{
	va_list ap;

	fputs("usbip-sim: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void app_debug(const struct app *a, int level, const char *fmt, ...)
{
	va_list ap;

	if (a->debug < level)
		return;
	fprintf(stderr, "usbip-sim[%.3f]: ", (double)sched_now_ns() / 1e9);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void app_wake(struct app *a)
{
	/* A full pipe already means "wake up". */
	(void)!write(a->wake[1], "w", 1);
}

void app_fail(struct app *a, int err)
{
	pthread_mutex_lock(&a->lock);
	if (!a->rig_error)
		a->rig_error = err < 0 ? err : -EIO;
	pthread_mutex_unlock(&a->lock);
	app_wake(a);
}

void app_stop(struct app *a)
{
	pthread_mutex_lock(&a->lock);
	a->stop = true;
	pthread_mutex_unlock(&a->lock);
	app_wake(a);
}

static bool app_done(struct app *a)
{
	bool done;

	pthread_mutex_lock(&a->lock);
	done = a->stop || a->rig_error;
	pthread_mutex_unlock(&a->lock);
	return done || sig_stop;
}

static void on_signal(int sig)
{
	int e = errno;

	(void)sig;
	sig_stop = 1;
	if (sig_wake_fd >= 0)
		(void)!write(sig_wake_fd, "s", 1);
	errno = e;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: usbip-sim [--vhci DIR] [--loopback DIR] [--out DIR] [--ready FILE]\n"
		   "                 [--duration-ms N] SCENARIO.json\n");
}

/* "1-P", P in 1..15: vhci_hcd.0's high-speed root hub has no hubs below it
 * (test-rigs.md §2.2 "Topology is flat").  Returns the vhci port or -1. */
static int flat_port(const char *port)
{
	char *end;
	long v;

	if (strncmp(port, "1-", 2) != 0)
		return -1;
	v = strtol(port + 2, &end, 10);
	if (end == port + 2 || *end || v < 1 || v > USIM_MAX_PORTS)
		return -1;
	return (int)v - 1;
}

/* Returns 0 or -EINVAL (logged). */
static int check_topology(const struct app *a)
{
	const struct scenario *s = a->scn;

	for (size_t i = 0; i < s->n_boards; i++) {
		if (flat_port(s->boards[i].port) < 0) {
			app_log("%s port %s: USB/IP topology is flat: only root-hub ports 1-1 ... "
				"1-%d of vhci_hcd.0 exist, no hubs (%s: boards[%zu].port)",
				s->boards[i].id, s->boards[i].port, USIM_MAX_PORTS, a->scn_path, i);
			return -EINVAL;
		}
	}
	if (s->n_hubs) {
		app_log("%s: hubs: USB/IP topology is flat, '%s' cannot exist", a->scn_path,
			s->hubs[0]);
		return -EINVAL;
	}
	return 0;
}

static int write_ready(const char *path)
{
	FILE *f = fopen(path, "we");

	if (!f)
		return -errno;
	fprintf(f, "%ld\n", (long)getpid());
	return fclose(f) ? -errno : 0;
}

static void duration_cb(void *arg)
{
	app_stop(arg);
}

struct watch {
	struct port *p;
	int fd;
	unsigned gen;
};

static void read_port(struct app *a, const struct watch *w)
{
	struct port *p = w->p;
	int r;

	pthread_mutex_lock(&p->lock);
	/* The connection may have gone (or a new one come) since the snapshot. */
	if (p->fd == w->fd && p->gen == w->gen) {
		r = urb_rx(p);
		if (r == -ECONNRESET)
			port_log(p, "%s closed the connection: off the bus",
				 a->loopback_dir
					 ? "the loopback peer"
					 : "vhci_hcd (detach, or it refused a reply: see dmesg)");
		else if (r < 0)
			port_log(p, "dropping the connection: %s", strerror(-r));
		if (r < 0)
			port_conn_drop(p, "read failed");
		port_settle(p);
	}
	pthread_mutex_unlock(&p->lock);
}

/* The reader loop: until a signal, --duration-ms or a rig error. */
static int run(struct app *a)
{
	struct pollfd *pfd = calloc(a->n_ports + 1, sizeof(*pfd));
	struct watch *w = calloc(a->n_ports + 1, sizeof(*w));
	char drain[64];
	int r = 0;

	if (!pfd || !w) {
		free(pfd);
		free(w);
		return -ENOMEM;
	}
	while (!app_done(a)) {
		size_t n = 1;

		pfd[0] = (struct pollfd){ .fd = a->wake[0], .events = POLLIN };
		for (size_t i = 0; i < a->n_ports; i++) {
			struct port *p = &a->ports[i];

			pthread_mutex_lock(&p->lock);
			if (p->fd >= 0) {
				w[n] = (struct watch){ p, p->fd, p->gen };
				pfd[n] = (struct pollfd){ .fd = p->fd, .events = POLLIN };
				n++;
			}
			pthread_mutex_unlock(&p->lock);
		}
		if (poll(pfd, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			app_log("poll: %s", strerror(-r));
			break;
		}
		if (pfd[0].revents)
			while (read(a->wake[0], drain, sizeof(drain)) > 0)
				;
		for (size_t i = 1; i < n; i++)
			if (pfd[i].revents)
				read_port(a, &w[i]);
	}
	free(pfd);
	free(w);
	return r;
}

static int setup_signals(struct app *a)
{
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };

	sig_wake_fd = a->wake[1];
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0)
		return -errno;
	/* A vanished peer shows as EPIPE from send() (MSG_NOSIGNAL too). */
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

/* Stop timers, detach every board (closing a socket unplugs it in the
 * kernel), then dump. */
static int shutdown_all(struct app *a, const char *out_dir)
{
	int r = 0;

	a->sched = sched_free(a->sched);
	for (size_t i = 0; i < a->n_ports; i++) {
		struct port *p = &a->ports[i];

		pthread_mutex_lock(&p->lock);
		p->on_bus_at_exit = p->fd >= 0;
		vhci_attach_cancel(p);
		port_conn_drop(p, "exit");
		pthread_mutex_unlock(&p->lock);
	}
	if (out_dir)
		r = usim_dump(a, out_dir);
	return r;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "vhci", required_argument, NULL, 'v' },
		{ "loopback", required_argument, NULL, 'l' },
		{ "out", required_argument, NULL, 'o' },
		{ "ready", required_argument, NULL, 'r' },
		{ "duration-ms", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct app a = { .vhci_dir = DEFAULT_VHCI, .wake = { -1, -1 } };
	const char *out_dir = NULL, *ready = NULL, *env;
	long duration_ms = -1;
	sigset_t block, old;
	char err[512];
	int c, r, status = USIM_EXIT_RIG;

	while ((c = getopt_long(argc, argv, "v:l:o:r:d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'v':
			a.vhci_dir = optarg;
			break;
		case 'l':
			a.loopback_dir = optarg;
			break;
		case 'o':
			out_dir = optarg;
			break;
		case 'r':
			ready = optarg;
			break;
		case 'd':
			duration_ms = strtol(optarg, NULL, 10);
			if (duration_ms <= 0) {
				app_log("--duration-ms: '%s' is not a positive number", optarg);
				return USIM_EXIT_RIG;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return USIM_EXIT_RIG;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return USIM_EXIT_RIG;
	}
	env = getenv("USBIP_SIM_DEBUG");
	a.debug = env ? atoi(env) : getenv("FLASHSIM_DEBUG") ? 1 : 0;
	a.scn_path = argv[optind];
	pthread_mutex_init(&a.lock, NULL);

	r = scenario_load(a.scn_path, &a.scn, err, sizeof(err));
	if (r < 0) {
		app_log("%s", err);
		goto out;
	}
	if (check_topology(&a) < 0)
		goto out;
	r = vhci_check(&a, err, sizeof(err));
	if (r < 0) {
		app_log("%s", err);
		goto out;
	}
	if (pipe2(a.wake, O_NONBLOCK | O_CLOEXEC) < 0) {
		app_log("pipe: %m");
		goto out;
	}
	r = setup_signals(&a);
	if (r < 0) {
		app_log("sigaction: %s", strerror(-r));
		goto out;
	}
	/* Signals go to this thread (its poll), not to the sched thread. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	r = sched_new(&a.sched);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0) {
		app_log("cannot start the timer thread: %s", strerror(-r));
		goto out;
	}
	a.ports = calloc(a.scn->n_boards ? a.scn->n_boards : 1, sizeof(*a.ports));
	if (!a.ports)
		goto out;
	for (size_t i = 0; i < a.scn->n_boards; i++) {
		const struct scn_board *b = &a.scn->boards[i];

		r = port_init(&a.ports[i], &a, b, (unsigned)flat_port(b->port), err, sizeof(err));
		a.n_ports = i + 1;
		if (r < 0) {
			app_log("%s: boards[%zu] ('%s'): %s", a.scn_path, i, b->id, err);
			goto out;
		}
	}
	for (size_t i = 0; i < a.n_ports; i++) {
		r = port_start(&a.ports[i]);
		if (r < 0) {
			app_log("cannot arm the timeline: %s", strerror(-r));
			goto out;
		}
	}
	if (duration_ms > 0 &&
	    sched_add(a.sched, (uint64_t)duration_ms * 1000000ull, duration_cb, &a) < 0)
		goto out;
	if (ready) {
		r = write_ready(ready);
		if (r < 0) {
			app_log("cannot write '%s': %s", ready, strerror(-r));
			goto out;
		}
	}
	app_debug(&a, 1, "%zu boards, timeline armed", a.n_ports);

	r = run(&a);
	if (shutdown_all(&a, out_dir) < 0 || r < 0 || a.rig_error)
		status = USIM_EXIT_RIG;
	else
		status = 0;
out:
	a.sched = sched_free(a.sched);
	for (size_t i = 0; i < a.n_ports; i++) {
		pthread_mutex_lock(&a.ports[i].lock);
		port_conn_drop(&a.ports[i], "exit");
		pthread_mutex_unlock(&a.ports[i].lock);
		port_fini(&a.ports[i]);
	}
	free(a.ports);
	scenario_free(a.scn);
	sig_wake_fd = -1;
	if (a.wake[0] >= 0)
		close(a.wake[0]);
	if (a.wake[1] >= 0)
		close(a.wake[1]);
	pthread_mutex_destroy(&a.lock);
	return status;
}
