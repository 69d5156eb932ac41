/*
 * The server end of umockdev's ioctl socket (see ioserv.h for the protocol
 * and why the rig does not use umockdev's own server).
 *
 * Threads: one acceptor per node, blocked in accept(); one detached thread per
 * connection, which reads a request, hands it to ops->request() and waits
 * until somebody completes it.  Completion may come from any thread (the
 * sched thread finishing a delayed URB), so the connection's socket is
 * written by at most one thread at a time: whoever holds the pending request.
 */
#include "tests/sim/ioserv.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "tests/sim/rig.h"

/* libumockdev-preload.c's message codes. */
enum {
	MSG_REQ_IOCTL = 1,
	MSG_DONE = 3,
	MSG_READ_MEM = 5,
	MSG_WRITE_MEM = 6,
	MSG_REQ_READ = 7,
	MSG_REQ_WRITE = 8,
};

/* How often a connection waiting for a completion checks that its client is
 * still alive (a client killed inside a blocking REAPURB). */
#define HUP_CHECK_MS 200

struct ioserv {
	int lfd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const struct ioserv_ops *ops;
	void *ctx;
	pthread_t acceptor;
	bool accepting;
	pthread_mutex_t lock; /* guards clients, n_threads, stopping */
	pthread_cond_t idle;  /* n_threads reached 0 */
	struct ioclient *clients;
	unsigned n_threads;
	bool stopping;
};

struct ioclient {
	struct ioserv *srv; /* valid while the connection thread runs */
	int sock;
	pid_t pid;
	bool direct; /* process_vm_readv/writev work on pid */
	atomic_int refs;
	pthread_mutex_t lock;
	pthread_cond_t done;
	bool pending;
	uint8_t *out; /* queued WRITE_MEM messages (socket path only) */
	size_t out_len, out_cap;
	void *user;
	struct ioclient *prev, *next; /* srv->clients, under srv->lock */
};

static int send_all(int fd, const void *p, size_t len)
{
	const uint8_t *b = p;

	while (len) {
		ssize_t n = send(fd, b, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

/* 1 with len bytes, 0 on EOF before the first byte, -errno otherwise. */
static int recv_all(int fd, void *p, size_t len)
{
	uint8_t *b = p;
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(fd, b + got, len - got, MSG_WAITALL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return got ? -EIO : 0;
		got += (size_t)n;
	}
	return 1;
}

struct ioclient *ioclient_ref(struct ioclient *c)
{
	atomic_fetch_add(&c->refs, 1);
	return c;
}

void ioclient_unref(struct ioclient *c)
{
	if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	close(c->sock);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->done);
	free(c->out);
	free(c);
}

void ioclient_set_user(struct ioclient *c, void *p)
{
	c->user = p;
}

void *ioclient_user(const struct ioclient *c)
{
	return c->user;
}

/* Copy straight from/to the client's memory: 0, -EFAULT, or 1 when the
 * kernel does not let us (then the socket is used from now on). */
static int direct_copy(struct ioclient *c, bool write, unsigned long addr, void *buf, size_t len)
{
	struct iovec local = { buf, len }, remote = { (void *)addr, len };
	ssize_t n;

	if (!c->direct)
		return 1;
	n = write ? process_vm_writev(c->pid, &local, 1, &remote, 1, 0)
		  : process_vm_readv(c->pid, &local, 1, &remote, 1, 0);
	if (n == (ssize_t)len)
		return 0;
	if (n >= 0 || errno == EFAULT)
		return -EFAULT;
	/* EPERM (ptrace rules), ENOSYS, ESRCH (a forked child using the fd):
	 * the socket works for everybody. */
	c->direct = false;
	return 1;
}

int ioclient_read(struct ioclient *c, unsigned long addr, void *buf, size_t len)
{
	unsigned long msg[3] = { MSG_READ_MEM, addr, len };
	int r;

	if (!len)
		return 0;
	r = direct_copy(c, false, addr, buf, len);
	if (r <= 0)
		return r;
	r = send_all(c->sock, msg, sizeof(msg));
	if (r < 0)
		return r;
	r = recv_all(c->sock, buf, len);
	return r == 1 ? 0 : -EIO;
}

int ioclient_write(struct ioclient *c, unsigned long addr, const void *buf, size_t len)
{
	unsigned long msg[3] = { MSG_WRITE_MEM, addr, len };
	size_t need;
	int r;

	if (!len)
		return 0;
	r = direct_copy(c, true, addr, (void *)buf, len);
	if (r <= 0)
		return r;
	need = c->out_len + sizeof(msg) + len;
	if (need > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 256;
		uint8_t *p;

		while (cap < need)
			cap *= 2;
		p = realloc(c->out, cap);
		if (!p)
			return -ENOMEM;
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, msg, sizeof(msg));
	memcpy(c->out + c->out_len + sizeof(msg), buf, len);
	c->out_len = need;
	return 0;
}

int ioclient_direct(const struct ioclient *c)
{
	return c->direct;
}

int ioclient_poke(struct ioclient *c, const struct iovec *local, const struct iovec *remote,
		  unsigned long n)
{
	size_t total = 0;
	ssize_t w;

	if (!c->direct)
		return -ENOTSUP;
	for (unsigned long i = 0; i < n; i++)
		total += local[i].iov_len;
	w = process_vm_writev(c->pid, local, n, remote, n, 0);
	if (w < 0)
		return -errno;
	return (size_t)w == total ? 0 : -EFAULT;
}

int ioclient_peek(struct ioclient *c, unsigned long addr, void *buf, size_t len)
{
	struct iovec local = { buf, len }, remote = { (void *)addr, len };
	ssize_t n;

	if (!c->direct)
		return -ENOTSUP;
	n = process_vm_readv(c->pid, &local, 1, &remote, 1, 0);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EFAULT;
}

void ioclient_complete(struct ioclient *c, long ret, int err)
{
	unsigned long msg[3] = { MSG_DONE, (unsigned long)ret, (unsigned long)err };
	struct iovec iov[2] = { { c->out, c->out_len }, { msg, sizeof(msg) } };
	struct msghdr mh = { .msg_iov = c->out_len ? iov : iov + 1,
			     .msg_iovlen = c->out_len ? 2 : 1 };
	size_t total = c->out_len + sizeof(msg);
	ssize_t n;

	/* One sendmsg: the client takes the writes and DONE without a round trip.
	 * A dead client (EPIPE) is noticed by the connection thread. */
	do
		n = sendmsg(c->sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n >= 0 && (size_t)n < total) {
		uint8_t *all = malloc(total);

		if (all) {
			memcpy(all, c->out, c->out_len);
			memcpy(all + c->out_len, msg, sizeof(msg));
			send_all(c->sock, all + n, total - (size_t)n);
			free(all);
		}
	}
	c->out_len = 0;
	pthread_mutex_lock(&c->lock);
	c->pending = false;
	pthread_cond_signal(&c->done);
	pthread_mutex_unlock(&c->lock);
}

static bool peer_gone(int sock)
{
	struct pollfd p = { .fd = sock, .events = POLLRDHUP };

	return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* Wait until the pending request is completed; false if the client went away. */
static bool wait_completed(struct ioclient *c)
{
	bool alive = true;

	pthread_mutex_lock(&c->lock);
	while (c->pending && alive) {
		struct timespec t;

		clock_gettime(CLOCK_REALTIME, &t);
		t.tv_nsec += HUP_CHECK_MS * 1000000L;
		if (t.tv_nsec >= 1000000000L) {
			t.tv_sec++;
			t.tv_nsec -= 1000000000L;
		}
		if (pthread_cond_timedwait(&c->done, &c->lock, &t) == ETIMEDOUT && c->pending)
			alive = !peer_gone(c->sock);
	}
	pthread_mutex_unlock(&c->lock);
	return alive;
}

static void *connection_main(void *p)
{
	struct ioclient *c = p;
	struct ioserv *s = c->srv;
	unsigned long m[3];

	for (;;) {
		int r = recv_all(c->sock, m, sizeof(m));

		if (r <= 0)
			break;
		if (m[0] != MSG_REQ_IOCTL && m[0] != MSG_REQ_READ && m[0] != MSG_REQ_WRITE) {
			rig_log("%s: unknown ioctl socket message %lu, dropping the client",
				s->path, m[0]);
			break;
		}
		pthread_mutex_lock(&c->lock);
		c->pending = true;
		pthread_mutex_unlock(&c->lock);
		s->ops->request(s->ctx, c, (enum ioclient_op)m[0], m[1], m[2]);
		if (!wait_completed(c))
			break;
	}
	s->ops->closed(s->ctx, c);
	shutdown(c->sock, SHUT_RDWR);
	pthread_mutex_lock(&s->lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->srv = NULL;
	if (--s->n_threads == 0)
		pthread_cond_broadcast(&s->idle);
	pthread_mutex_unlock(&s->lock);
	ioclient_unref(c);
	return NULL;
}

/* Threads of the rig never take signals: flashsim's main loop does. */
static int start_thread(pthread_t *t, bool detached, void *(*fn)(void *), void *arg)
{
	pthread_attr_t a;
	sigset_t all, old;
	int r;

	pthread_attr_init(&a);
	if (detached)
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	/* The handlers need little stack; 32 boards x several fds add up. */
	pthread_attr_setstacksize(&a, 256 * 1024);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(t, &a, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&a);
	return -r;
}

static int client_start(struct ioserv *s, int sock)
{
	struct ioclient *c = calloc(1, sizeof(*c));
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	pthread_t t;
	int r;

	if (!c)
		return -ENOMEM;
	c->sock = sock;
	c->srv = s;
	atomic_init(&c->refs, 1);
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->done, NULL);
	/* FLASHSIM_IOCTL_VIA_SOCKET=1: the fallback for clients the kernel does
	 * not let us reach, forced (tests/sim/test-flashsim.sh). */
	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0 && cred.pid > 0) {
		const char *v = getenv("FLASHSIM_IOCTL_VIA_SOCKET");

		c->pid = cred.pid;
		c->direct = !(v && *v == '1');
	}
	rig_debug("%s: client pid %d, memory %s", s->path, (int)c->pid,
		  c->direct ? "direct" : "through the socket");
	pthread_mutex_lock(&s->lock);
	r = s->stopping ? -ESHUTDOWN : start_thread(&t, true, connection_main, c);
	if (r == 0) {
		c->next = s->clients;
		if (c->next)
			c->next->prev = c;
		s->clients = c;
		s->n_threads++;
	}
	pthread_mutex_unlock(&s->lock);
	if (r < 0)
		ioclient_unref(c);
	return r;
}

static void *acceptor_main(void *p)
{
	struct ioserv *s = p;

	for (;;) {
		int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			break; /* EINVAL after ioserv_stop()'s shutdown() */
		}
		if (client_start(s, fd) < 0) {
			rig_log("%s: cannot serve a client", s->path);
			close(fd);
		}
	}
	return NULL;
}

static int mkdir_parents(char *path)
{
	for (char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			int r = -errno;

			*p = '/';
			return r;
		}
		*p = '/';
	}
	return 0;
}

int ioserv_new(const char *sockpath, const struct ioserv_ops *ops, void *ctx, struct ioserv **ret)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ioserv *s;
	int r;

	if (strlen(sockpath) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	strcpy(s->path, sockpath);
	strcpy(sa.sun_path, sockpath);
	s->ops = ops;
	s->ctx = ctx;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->idle, NULL);
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	r = s->lfd < 0 ? -errno : mkdir_parents(s->path);
	if (r == 0)
		unlink(s->path);
	if (r == 0 &&
	    (bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s->lfd, 64) < 0))
		r = -errno;
	if (r == 0)
		r = start_thread(&s->acceptor, false, acceptor_main, s);
	if (r < 0) {
		ioserv_free(s);
		return r;
	}
	s->accepting = true;
	*ret = s;
	return 0;
}

void ioserv_stop(struct ioserv *s)
{
	if (!s || !s->accepting)
		return;
	s->accepting = false;
	unlink(s->path);
	shutdown(s->lfd, SHUT_RDWR);
	pthread_join(s->acceptor, NULL);
	/* Nothing accepts any more: the socket need not wait for ioserv_free(). */
	close(s->lfd);
	s->lfd = -1;
}

void ioserv_free(struct ioserv *s)
{
	if (!s)
		return;
	ioserv_stop(s);
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	for (struct ioclient *c = s->clients; c; c = c->next)
		shutdown(c->sock, SHUT_RDWR); /* recv() sees EOF, a waiter sees HUP */
	while (s->n_threads)
		pthread_cond_wait(&s->idle, &s->lock);
	pthread_mutex_unlock(&s->lock);
	if (s->lfd >= 0)
		close(s->lfd);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->idle);
	free(s);
}
