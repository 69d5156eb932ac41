/*
 * flashd-hooks (web/hooks.h, flashd-hooks(8)): one poll() loop reads
 * flashd's event stream, starts the hooks of each finished unit with
 * posix_spawn (never a shell of its own), feeds them the unit as JSON on
 * stdin, kills the ones that outlive hook.timeout and logs every exit.
 *
 *   flashd-hooks [--config FILE] [--socket PATH] [--log-stderr]
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/version.h"
#include "web/hooks.h"

extern char **environ;

/* Reconnect to flashd after this long, doubling up to the maximum. */
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 10000
/* A line longer than this is not flashd's: reconnect. */
#define LINE_MAX_BYTES (4u << 20)
/* Hook runs waiting for a free slot; more are dropped (and logged). */
#define QUEUE_MAX 1024

/* A hook to run (queued) or running (pid > 0). */
struct run {
	const struct hook *hook;
	char *input; /* the unit's JSON, '\n'-terminated */
	size_t off, len;
	char **envp;
	int64_t unit;
	char result[16], serial[128], port[64];
	pid_t pid;
	int in_fd;
	uint64_t started_ms, deadline_ms;
	bool killed;
};

struct hooksd {
	struct hooks_conf conf;
	int sigfd;
	int sfd; /* the event stream, -1 while not connected */
	char *buf;
	size_t len, cap;
	uint64_t reconnect_ms, backoff_ms;
	bool said_lost; /* "cannot connect" logged once per outage */
	char station[128];
	struct run *running; /* conf.max_running slots, pid 0: free */
	struct run *queue;   /* FIFO of QUEUE_MAX */
	size_t q_head, q_len;
	bool stopping;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct log_ctx run_ctx(const struct run *r)
{
	return (struct log_ctx){ .port = r->port,
				 .unit = r->unit,
				 .serial = r->serial[0] ? r->serial : NULL,
				 .result = r->result };
}

static void run_release(struct run *r)
{
	free(r->input);
	for (size_t i = 0; r->envp && r->envp[i]; i++)
		free(r->envp[i]);
	free(r->envp);
	if (r->in_fd >= 0)
		close(r->in_fd);
	*r = (struct run){ .in_fd = -1 };
}

/* ---- starting hooks ------------------------------------------------------- */

/* The environment plus FLASHD_* variables naming the unit (for sh -c hooks). */
static char **make_env(const struct run *r, const char *slot, const char *recipe)
{
	const char *vars[][2] = { { "FLASHD_RESULT", r->result }, { "FLASHD_SERIAL", r->serial },
				  { "FLASHD_PORT", r->port },	  { "FLASHD_SLOT", slot },
				  { "FLASHD_RECIPE", recipe },	  { "FLASHD_UNIT_ID", NULL } };
	size_t n = 0, k = 0;
	char **env;

	while (environ[n])
		n++;
	env = calloc(n + ARRAY_SIZE(vars) + 1, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "FLASHD_", 7) && !(env[k++] = strdup(environ[i])))
			goto fail;
	for (size_t i = 0; i < ARRAY_SIZE(vars); i++) {
		int rr = vars[i][1] ? asprintf(&env[k], "%s=%s", vars[i][0], vars[i][1])
				    : asprintf(&env[k], "%s=%lld", vars[i][0], (long long)r->unit);

		if (rr < 0) {
			env[k] = NULL;
			goto fail;
		}
		k++;
	}
	return env;
fail:
	for (size_t i = 0; i < k; i++)
		free(env[i]);
	free(env);
	return NULL;
}

/* Spawn r->hook: own process group (killed whole), default signals, stdin a pipe. */
static int spawn(struct run *r)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, deflt;
	int pfd[2], rr;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	sigemptyset(&none);
	sigfillset(&deflt);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[0], STDIN_FILENO);
	posix_spawnattr_init(&at);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
					      POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &deflt);
	rr = posix_spawn(&r->pid, r->hook->argv[0], &fa, &at, r->hook->argv, r->envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(pfd[0]);
	if (rr) {
		close(pfd[1]);
		r->pid = 0;
		return -rr;
	}
	r->in_fd = pfd[1];
	fcntl(r->in_fd, F_SETFL, O_NONBLOCK);
	return 0;
}

static void start_queued(struct hooksd *h)
{
	for (unsigned i = 0; i < h->conf.max_running && h->q_len; i++) {
		struct run *slot = &h->running[i];
		struct log_ctx c;
		int r;

		if (slot->pid)
			continue;
		*slot = h->queue[h->q_head];
		h->q_head = (h->q_head + 1) % QUEUE_MAX;
		h->q_len--;
		slot->started_ms = mono_ms();
		slot->deadline_ms = slot->started_ms + h->conf.timeout_ms;
		r = spawn(slot);
		c = run_ctx(slot);
		if (r < 0) {
			log_ev(LOG_ERR, NULL, &c, "Hook '%s' for unit %lld could not start: %s",
			       slot->hook->line, (long long)slot->unit, strerror(-r));
			run_release(slot);
			continue;
		}
		log_ev(LOG_INFO, NULL, &c, "Hook '%s' started for unit %lld (%s), pid %d",
		       slot->hook->line, (long long)slot->unit, slot->result, (int)slot->pid);
	}
}

static const char *str_of(const cJSON *o, const char *key)
{
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));

	return v ? v : "";
}

/* Queue hook for the unit; input is the JSON the hook reads. */
static void enqueue(struct hooksd *h, const struct hook *hook, const cJSON *unit, const char *port,
		    const char *input)
{
	struct run *r;
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(unit, "id");

	if (h->q_len == QUEUE_MAX) {
		log_msg(LOG_ERR, "Hook '%s' for unit %.0f not run: %d hooks already wait",
			hook->line, cJSON_IsNumber(id) ? id->valuedouble : 0, QUEUE_MAX);
		return;
	}
	r = &h->queue[(h->q_head + h->q_len) % QUEUE_MAX];
	*r = (struct run){ .hook = hook, .in_fd = -1 };
	r->unit = cJSON_IsNumber(id) ? (int64_t)id->valuedouble : 0;
	snprintf(r->result, sizeof(r->result), "%s", str_of(unit, "result"));
	snprintf(r->serial, sizeof(r->serial), "%s", str_of(unit, "serial"));
	snprintf(r->port, sizeof(r->port), "%s", port);
	r->len = strlen(input) + 1;
	r->input = malloc(r->len);
	r->envp = make_env(r, str_of(unit, "slot"), str_of(unit, "recipe"));
	if (!r->input || !r->envp) {
		log_msg(LOG_ERR, "Hook '%s' for unit %lld not run: out of memory", hook->line,
			(long long)r->unit);
		run_release(r);
		return;
	}
	memcpy(r->input, input, r->len - 1);
	r->input[r->len - 1] = '\n';
	h->q_len++;
}

/*
 * A unit finished: its hooks read the unit object of the event, with
 * "port" and "station" added (flashd-hooks(8), INPUT).
 */
static void on_unit(struct hooksd *h, cJSON *event)
{
	cJSON *unit = cJSON_GetObjectItemCaseSensitive(event, "unit");
	const char *port = str_of(event, "port"), *result;
	_cleanup_free_ char *input = NULL;

	if (!cJSON_IsObject(unit))
		return;
	result = str_of(unit, "result");
	cJSON_AddStringToObject(unit, "port", port);
	cJSON_AddStringToObject(unit, "station", h->station);
	input = cJSON_PrintUnformatted(unit);
	if (!input)
		return;
	for (size_t i = 0; i < h->conf.n_hooks; i++)
		if (hooks_match(h->conf.hooks[i].when, result))
			enqueue(h, &h->conf.hooks[i], unit, port, input);
	start_queued(h);
}

/* ---- the event stream ----------------------------------------------------- */

static void disconnect(struct hooksd *h, const char *why)
{
	if (h->sfd < 0)
		return;
	close(h->sfd);
	h->sfd = -1;
	h->len = 0;
	log_msg(LOG_WARNING,
		"Event stream '%s' lost (%s): reconnecting; units finished meanwhile get no hooks",
		h->conf.events_socket, why);
	h->backoff_ms = BACKOFF_MIN_MS;
	h->reconnect_ms = mono_ms() + h->backoff_ms;
}

static void try_connect(struct hooksd *h)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", h->conf.events_socket);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		h->sfd = fd;
		h->said_lost = false;
		return;
	}
	if (!h->said_lost)
		log_msg(LOG_WARNING, "Cannot connect to the event stream '%s': %s; retrying",
			h->conf.events_socket, strerror(errno));
	h->said_lost = true;
	if (fd >= 0)
		close(fd);
	h->reconnect_ms = mono_ms() + h->backoff_ms;
	h->backoff_ms = h->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : h->backoff_ms * 2;
}

static void on_line(struct hooksd *h, const char *line)
{
	cJSON *ev = cJSON_Parse(line);
	const char *type = str_of(ev, "type");

	if (!ev) {
		log_msg(LOG_WARNING, "Event stream: a line that is not JSON, ignored");
		return;
	}
	if (!strcmp(type, "hello")) {
		snprintf(h->station, sizeof(h->station), "%s", str_of(ev, "station"));
		h->backoff_ms = BACKOFF_MIN_MS;
		log_msg(LOG_INFO, "Event stream of station '%s' (flashd %s) connected, %zu hook(s)",
			h->station, str_of(ev, "version"), h->conf.n_hooks);
	} else if (!strcmp(type, "unit")) {
		on_unit(h, ev);
	} else if (!strcmp(type, "dropped")) {
		log_msg(LOG_ERR,
			"Event stream: flashd dropped %.0f event(s) for us (hooks too slow to read?); units among them get no hooks",
			cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(ev, "count")));
	}
	cJSON_Delete(ev);
}

static void read_stream(struct hooksd *h)
{
	char *nl;
	ssize_t n;

	if (h->cap - h->len < 65536) {
		char *b = h->len + 65536 > LINE_MAX_BYTES ? NULL : realloc(h->buf, h->len + 65536);

		if (!b) {
			disconnect(h, "line too long");
			return;
		}
		h->buf = b;
		h->cap = h->len + 65536;
	}
	n = recv(h->sfd, h->buf + h->len, h->cap - h->len - 1, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		disconnect(h, n ? strerror(errno) : "flashd closed it");
		return;
	}
	h->len += (size_t)n;
	h->buf[h->len] = '\0';
	while ((nl = memchr(h->buf, '\n', h->len))) {
		size_t used = (size_t)(nl - h->buf) + 1;

		*nl = '\0';
		on_line(h, h->buf);
		if (h->sfd < 0)
			return;
		memmove(h->buf, h->buf + used, h->len - used);
		h->len -= used;
		h->buf[h->len] = '\0';
	}
}

/* ---- running hooks -------------------------------------------------------- */

/* Feed stdin; a hook that does not read it (EPIPE) is no error. */
static void write_input(struct run *r)
{
	ssize_t n = write(r->in_fd, r->input + r->off, r->len - r->off);

	if (n < 0 && errno == EAGAIN)
		return;
	if (n > 0)
		r->off += (size_t)n;
	if (n < 0 || r->off == r->len) {
		close(r->in_fd);
		r->in_fd = -1;
	}
}

static void log_exit(const struct run *r, int status)
{
	struct log_ctx c = run_ctx(r);
	uint64_t ms = mono_ms() - r->started_ms;

	if (r->killed)
		log_ev(LOG_ERR, NULL, &c,
		       "Hook '%s' for unit %lld killed: still running after hook.timeout (%llu ms)",
		       r->hook->line, (long long)r->unit, (unsigned long long)ms);
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		log_ev(LOG_INFO, NULL, &c,
		       "Hook '%s' for unit %lld exited with status 0 after %llu ms", r->hook->line,
		       (long long)r->unit, (unsigned long long)ms);
	else if (WIFEXITED(status))
		log_ev(LOG_WARNING, NULL, &c,
		       "Hook '%s' for unit %lld failed: exit status %d after %llu ms",
		       r->hook->line, (long long)r->unit, WEXITSTATUS(status),
		       (unsigned long long)ms);
	else
		log_ev(LOG_WARNING, NULL, &c,
		       "Hook '%s' for unit %lld failed: killed by signal %d after %llu ms",
		       r->hook->line, (long long)r->unit, WTERMSIG(status), (unsigned long long)ms);
}

static void reap(struct hooksd *h)
{
	siginfo_t si;
	int status;

	for (;;) {
		si.si_pid = 0;
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || !si.si_pid)
			break;
		/* What it left in its process group goes too; killed before
		 * the reap, so its pid (the group's id) cannot be reused yet. */
		kill(-si.si_pid, SIGKILL);
		if (waitpid(si.si_pid, &status, 0) < 0)
			break;
		for (unsigned i = 0; i < h->conf.max_running; i++)
			if (h->running[i].pid == si.si_pid) {
				log_exit(&h->running[i], status);
				run_release(&h->running[i]);
			}
	}
	start_queued(h);
}

static void kill_overdue(struct hooksd *h, uint64_t now)
{
	for (unsigned i = 0; i < h->conf.max_running; i++) {
		struct run *r = &h->running[i];

		if (r->pid && !r->killed && now >= r->deadline_ms) {
			kill(-r->pid, SIGKILL);
			r->killed = true;
		}
	}
}

static unsigned n_running(const struct hooksd *h)
{
	unsigned n = 0;

	for (unsigned i = 0; i < h->conf.max_running; i++)
		n += h->running[i].pid != 0;
	return n;
}

/* ---- the loop -------------------------------------------------------------- */

static void on_signal(struct hooksd *h)
{
	struct signalfd_siginfo si;

	while (read(h->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGCHLD)
			continue;
		if (!h->stopping)
			log_msg(LOG_INFO,
				"Stopping: %u hook(s) still running get their timeout, %zu queued are not run",
				n_running(h), h->q_len);
		h->stopping = true;
		while (h->q_len) {
			run_release(&h->queue[h->q_head]);
			h->q_head = (h->q_head + 1) % QUEUE_MAX;
			h->q_len--;
		}
		if (h->sfd >= 0) {
			close(h->sfd);
			h->sfd = -1;
		}
	}
	reap(h);
}

static int timeout_ms(const struct hooksd *h, uint64_t now)
{
	uint64_t next = UINT64_MAX;

	if (h->sfd < 0 && !h->stopping)
		next = h->reconnect_ms;
	for (unsigned i = 0; i < h->conf.max_running; i++)
		if (h->running[i].pid && !h->running[i].killed && h->running[i].deadline_ms < next)
			next = h->running[i].deadline_ms;
	if (next == UINT64_MAX)
		return -1;
	return next <= now ? 0 : (int)(next - now > 60000 ? 60000 : next - now);
}

static int loop(struct hooksd *h)
{
	struct pollfd *pfd = calloc(h->conf.max_running + 2, sizeof(*pfd));

	if (!pfd)
		return -ENOMEM;
	while (!h->stopping || n_running(h)) {
		uint64_t now = mono_ms();
		size_t n = 0;

		if (h->sfd < 0 && !h->stopping && now >= h->reconnect_ms)
			try_connect(h);
		pfd[n++] = (struct pollfd){ .fd = h->sigfd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = h->sfd, .events = POLLIN };
		for (unsigned i = 0; i < h->conf.max_running; i++)
			pfd[n++] =
				(struct pollfd){ .fd = h->running[i].pid ? h->running[i].in_fd : -1,
						 .events = POLLOUT };
		if (poll(pfd, n, timeout_ms(h, now)) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents)
			on_signal(h);
		if (h->sfd >= 0 && pfd[1].revents)
			read_stream(h);
		for (unsigned i = 0; i < h->conf.max_running; i++)
			if (h->running[i].in_fd >= 0 && pfd[i + 2].revents)
				write_input(&h->running[i]);
		kill_overdue(h, mono_ms());
	}
	free(pfd);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: flashd-hooks [--config FILE] [--socket PATH] [--log-stderr] [--help]\n"
		   "Runs the result hooks of FILE (default " HOOKS_DEFAULT_CONFIG
		   ") on each unit flashd finishes.  See flashd-hooks(8).\n");
}

static int setup(struct hooksd *h, const char *config, const char *sock)
{
	struct err e = { 0 };
	sigset_t mask;
	int r;

	r = hooks_conf_defaults(&h->conf);
	if (r == 0 && config)
		r = hooks_conf_load(config, &h->conf, &e);
	if (r < 0) {
		log_msg(LOG_ERR, "Bad configuration: %s", e.msg[0] ? e.msg : strerror(-r));
		return r;
	}
	if (sock) {
		free(h->conf.events_socket);
		if (!(h->conf.events_socket = strdup(sock)))
			return -ENOMEM;
	}
	h->running = calloc(h->conf.max_running, sizeof(*h->running));
	h->queue = calloc(QUEUE_MAX, sizeof(*h->queue));
	if (!h->running || !h->queue)
		return -ENOMEM;
	for (unsigned i = 0; i < h->conf.max_running; i++)
		h->running[i].in_fd = -1;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	h->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (h->sigfd < 0)
		return -errno;
	if (!h->conf.n_hooks)
		log_msg(LOG_WARNING, "No hooks configured: nothing will run");
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "log-stderr", no_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct hooksd h = { .sfd = -1, .sigfd = -1, .backoff_ms = BACKOFF_MIN_MS };
	const char *config = NULL, *sock = NULL;
	int c, r;

	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) >= 0) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 's':
			sock = optarg;
			break;
		case 'l':
			log_set_stderr(1);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	if (!config && access(HOOKS_DEFAULT_CONFIG, F_OK) == 0)
		config = HOOKS_DEFAULT_CONFIG;
	r = setup(&h, config, sock);
	if (r == 0) {
		log_msg(LOG_INFO, "flashd-hooks %s: %zu hook(s), timeout %llu ms, events from '%s'",
			FLASHD_VERSION, h.conf.n_hooks, (unsigned long long)h.conf.timeout_ms,
			h.conf.events_socket);
		r = loop(&h);
	}
	hooks_conf_free(&h.conf);
	free(h.running);
	free(h.queue);
	free(h.buf);
	return r < 0 ? 1 : 0;
}
