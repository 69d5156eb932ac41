/*
 * This file implements attaching a board to vhci_hcd without usbip/usbipd
 * (test-rigs.md §2.2): a socketpair(AF_UNIX, SOCK_STREAM), the line
 * "<port> <sockfd> <devid> <speed>" written to vhci_hcd.0/attach, then our
 * copy of the kernel's end closed (the kernel holds a reference).
 *
 * A port whose last connection was just closed is torn down by the kernel
 * asynchronously (vhci_shutdown_connection, then vhci_device_reset); until
 * then attach_store() refuses it with EBUSY ("port %d already used").  So
 * an attach is retried every ATTACH_RETRY_NS for up to ATTACH_TIMEOUT_NS, on
 * sched timers, never by sleeping.
 *
 * Loopback mode (--loopback DIR, host tests without vhci_hcd): the same
 * line goes to the UNIX socket DIR/port-P.sock with the kernel's end passed
 * as SCM_RIGHTS; the peer answers with an errno number ("0", "16") as the
 * sysfs write would.  Everything else is the same code path.
 */
#include "tests/sim/usbip/usbip-sim.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define ATTACH_RETRY_NS (15 * 1000 * 1000ull)
#define ATTACH_TIMEOUT_NS (5 * 1000 * 1000 * 1000ull)
#define LOOPBACK_TIMEOUT_S 2

struct retry_call {
	struct port *p;
	unsigned seq;
};

int vhci_check(const struct app *a, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct stat st;

	if (a->loopback_dir) {
		if (stat(a->loopback_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
			snprintf(err, errlen, "--loopback '%s': not a directory", a->loopback_dir);
			return -ENOTDIR;
		}
		return 0;
	}
	snprintf(path, sizeof(path), "%s/attach", a->vhci_dir);
	if (access(path, W_OK) < 0) {
		int r = -errno;

		snprintf(err, errlen,
			 "cannot write '%s': %s (vhci_hcd needs root and 'modprobe vhci-hcd')",
			 path, strerror(-r));
		return r;
	}
	/* Scenario ports "1-P" name devices on bus 1: that must be vhci_hcd.0's
	 * high-speed root hub, i.e. no other USB controller came first. */
	snprintf(path, sizeof(path), "%s/usb1", a->vhci_dir);
	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen,
			 "'%s' does not exist: bus 1 is not vhci_hcd.0's high-speed root hub "
			 "(another USB host controller registered first), so ports \"1-P\" "
			 "would not name the simulated boards",
			 path);
		return -ENODEV;
	}
	return 0;
}

static int sysfs_attach(const struct port *p, const char *line)
{
	char path[PATH_MAX];
	size_t len = strlen(line);
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/attach", p->app->vhci_dir);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, line, len);
	if (n < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	close(fd);
	return (size_t)n == len ? 0 : -EIO;
}

static int loopback_talk(int s, const char *line, int kfd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = (void *)line, .iov_len = strlen(line) };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = u.buf,
		.msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	char reply[16];
	size_t got = 0;
	ssize_t n;
	long e;

	memset(&u, 0, sizeof(u));
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &kfd, sizeof(int));
	n = sendmsg(s, &msg, MSG_NOSIGNAL);
	if (n < 0)
		return -errno;
	if ((size_t)n != iov.iov_len)
		return -EIO;
	/* The peer answers with the errno the sysfs write would give. */
	while (got < sizeof(reply) - 1) {
		n = read(s, reply + got, sizeof(reply) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	reply[got] = '\0';
	errno = 0;
	e = strtol(reply, NULL, 10);
	if (got == 0 || errno || e < 0 || e > 4095)
		return -EPROTO;
	return (int)-e;
}

static int loopback_attach(const struct port *p, const char *line, int kfd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = LOOPBACK_TIMEOUT_S };
	int s, r;

	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/port-%u.sock",
			     p->app->loopback_dir, p->vport + 1) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	/* This blocks the sched thread: bounded, and only in the host test. */
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		r = -errno;
	else
		r = loopback_talk(s, line, kfd);
	close(s);
	return r;
}

/* One attempt.  Returns 0 with our end of the connection in *ret, or -errno. */
static int attach_once(struct port *p, int *ret)
{
	const struct sim_identity *id = sim_board_identity(p->board);
	char line[64];
	int sv[2], r;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	/* enum sim_speed has the values of the kernel's enum usb_device_speed;
	 * anything but 5 (super) goes to the high-speed root hub. */
	snprintf(line, sizeof(line), "%u %d %u %u", p->vport, sv[1], p->devid, (unsigned)id->speed);
	app_debug(p->app, 2, "%s: attach '%s'", p->cfg->id, line);
	r = p->app->loopback_dir ? loopback_attach(p, line, sv[1]) : sysfs_attach(p, line);
	/* The kernel (or the loopback peer) holds its own reference now. */
	close(sv[1]);
	if (r < 0) {
		close(sv[0]);
		return r;
	}
	*ret = sv[0];
	return 0;
}

static bool retryable(const struct app *a, int r)
{
	/* EBUSY: the port's last connection is still being torn down.  EINVAL
	 * is retried too in case a kernel reports a port in transition so;
	 * 6.1 gives it only for bad arguments (valid_args, sockfd_lookup),
	 * which then fail after ATTACH_TIMEOUT_NS. */
	if (r == -EBUSY || r == -EINVAL)
		return true;
	/* The loopback peer is not listening (yet). */
	return a->loopback_dir && (r == -ENOENT || r == -ECONNREFUSED);
}

static void retry_cb(void *arg);

static void attach_try(struct port *p)
{
	struct retry_call *rc;
	int fd = -1, r;

	r = attach_once(p, &fd);
	if (r == 0) {
		p->attaching = false;
		port_conn_up(p, fd);
		return;
	}
	if (retryable(p->app, r) && sched_now_ns() < p->attach_deadline) {
		rc = malloc(sizeof(*rc));
		if (rc) {
			*rc = (struct retry_call){ p, p->attach_seq };
			if (sched_add_owned(p->app->sched, ATTACH_RETRY_NS, retry_cb, rc) == 0) {
				app_debug(p->app, 2, "%s: attach: %s, retrying", p->cfg->id,
					  strerror(-r));
				return;
			}
			free(rc);
		}
	}
	p->attaching = false;
	if (p->app->loopback_dir)
		port_log(p, "cannot attach through '%s/port-%u.sock': %s", p->app->loopback_dir,
			 p->vport + 1, strerror(-r));
	else
		port_log(p, "cannot attach to vhci port %u ('%s/attach'): %s", p->vport,
			 p->app->vhci_dir, strerror(-r));
	app_fail(p->app, r);
}

static void retry_cb(void *arg)
{
	struct retry_call *rc = arg;
	struct port *p = rc->p;

	pthread_mutex_lock(&p->lock);
	if (rc->seq == p->attach_seq && p->attaching && p->fd < 0)
		attach_try(p);
	pthread_mutex_unlock(&p->lock);
	free(rc);
}

void vhci_attach_start(struct port *p)
{
	p->attach_seq++;
	p->attaching = true;
	p->attach_deadline = sched_now_ns() + ATTACH_TIMEOUT_NS;
	attach_try(p);
}

void vhci_attach_cancel(struct port *p)
{
	if (!p->attaching)
		return;
	p->attaching = false;
	p->attach_seq++;
}
