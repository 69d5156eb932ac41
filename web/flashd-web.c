/*
 * flashd-web: the line's wall screen, read-only API and metrics of a
 * flashing station (web/web.h, web/flashd-web.8).
 *
 *   flashd-web [--config /etc/flashd/web.conf] [--check-config]
 *
 * One libmicrohttpd daemon (a small thread pool on epoll; /events clients
 * are suspended while they have nothing to read) and one thread reading
 * flashd's event stream.  SIGTERM/SIGINT stop it.
 */
#include "web/web.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "common/log.h"
#include "common/version.h"

#define THREADS 4
#define CONNECTION_LIMIT 1000
#define IDLE_TIMEOUT_SEC 60 /* a client that takes nothing for this long is closed */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	(void)version;
	(void)upload_data;
	/* Read-only: a request body is never read, the answer is queued at once. */
	*upload_data_size = 0;
	(void)con_cls;
	return web_route(cls, conn, method, url);
}

/* libmicrohttpd's messages about a client going away: routine for /events, not logged. */
static const char *const client_noise[] = {
	"Failed to send the response body", /* an /events client went away */
};

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	for (size_t i = 0; i < sizeof(client_noise) / sizeof(client_noise[0]); i++)
		if (strncmp(msg, client_noise[i], strlen(client_noise[i])) == 0)
			return;
	log_msg(LOG_WARNING, "http: %s", msg);
}

static int listen_addr(const struct web_config *cfg, struct sockaddr_storage *ss)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, cfg->listen_host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(cfg->listen_port);
		return AF_INET;
	}
	if (inet_pton(AF_INET6, cfg->listen_host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(cfg->listen_port);
		return AF_INET6;
	}
	return -EINVAL;
}

static int start_httpd(struct web *w)
{
	struct sockaddr_storage ss;
	int family = listen_addr(&w->cfg, &ss);
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
			 MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;

	if (family < 0)
		return family;
	if (family == AF_INET6)
		flags |= MHD_USE_IPv6;
	w->httpd = MHD_start_daemon(flags, w->cfg.listen_port, NULL, NULL, on_request, w,
				    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_SOCK_ADDR,
				    (struct sockaddr *)&ss, MHD_OPTION_THREAD_POOL_SIZE,
				    (unsigned)THREADS, MHD_OPTION_CONNECTION_LIMIT,
				    (unsigned)CONNECTION_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
				    (unsigned)IDLE_TIMEOUT_SEC, MHD_OPTION_END);
	return w->httpd ? 0 : -EADDRNOTAVAIL;
}

/* Block SIGTERM/SIGINT in every thread, then wait for one in main. */
static void block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	pthread_sigmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: flashd-web [--config FILE] [--check-config] [--log-stderr] [--version] [--help]\n"
		"  default config " WEB_CONFIG_DEFAULT_PATH " (see flashd-web(8))\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "log-stderr", no_argument, NULL, 'l' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *path = NULL;
	bool check = false, explicit = false;
	struct web w = { 0 };
	struct err e = { 0 };
	sigset_t set;
	int c, sig, r;

	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			explicit = true;
			break;
		case 'C':
			check = true;
			break;
		case 'l':
			log_set_stderr(1);
			break;
		case 'V':
			printf("flashd-web %s\n", FLASHD_VERSION);
			return 0;
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
	/* The default file may be absent (defaults); one named on the command line may not. */
	if (!explicit && access(WEB_CONFIG_DEFAULT_PATH, F_OK) == 0)
		path = WEB_CONFIG_DEFAULT_PATH;
	r = web_config_load(path, &w.cfg, &e);
	if (r < 0) {
		fprintf(stderr, "flashd-web: %s\n", e.msg);
		web_config_free(&w.cfg);
		return 1;
	}
	if (check) {
		printf("listen %s:%u\ndatabase %s\ncontrol_socket %s\nevents_socket %s\nslots %zu\n",
		       w.cfg.listen_host, w.cfg.listen_port, w.cfg.database, w.cfg.control_socket,
		       w.cfg.events_socket, w.cfg.flashd.n_slots);
		web_config_free(&w.cfg);
		return 0;
	}
	block_signals(&set);
	r = events_new(&w, w.cfg.events_socket, &w.events);
	if (r >= 0)
		r = start_httpd(&w);
	if (r < 0) {
		log_msg(LOG_ERR, "cannot listen on %s:%u: %s", w.cfg.listen_host, w.cfg.listen_port,
			strerror(-r));
	} else {
		log_msg(LOG_INFO, "flashd-web %s listening on http://%s%s%s:%u/", FLASHD_VERSION,
			strchr(w.cfg.listen_host, ':') ? "[" : "", w.cfg.listen_host,
			strchr(w.cfg.listen_host, ':') ? "]" : "", w.cfg.listen_port);
		sigwait(&set, &sig);
		log_msg(LOG_INFO, "flashd-web stopping (%s)", strsignal(sig));
	}
	/* Suspended streams must be resumed (and ended) before the daemon stops. */
	events_shutdown(w.events);
	if (w.httpd)
		MHD_stop_daemon(w.httpd);
	events_free(w.events);
	web_config_free(&w.cfg);
	return r < 0 ? 1 : 0;
}
