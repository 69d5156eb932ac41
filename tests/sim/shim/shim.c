/*
 * libflashsim-shim.so: preloaded into every process under flashsim, BEFORE
 * libumockdev-preload.so.0.  It fixes four things umockdev 0.17.16 gets
 * wrong for multi-process or many-board rigs (tests/sim/README.md, "Gotchas"):
 *
 * 1. uevent sockets (rig-umockdev-experiment.md, gotcha 6).  umockdev binds
 *    the AF_UNIX socket replacing a netlink uevent socket to
 *    $UMOCKDEV_DIR/event<fd> after unlinking that path, so two processes
 *    whose monitors share an fd number steal each other's events.  We bind it
 *    to event<fd>_<pid> instead; umockdev's sender globs "event[0-9]*", so it
 *    still finds it.  umockdev's socket() still registers the fd, so its
 *    recvmsg() credential faking keeps working.  We call bind(2) directly:
 *    umockdev reaches libc through dlopen, so only a shim in front sees it.
 * 2. close() of a simulated usbfs node is reported to flashsim at once with
 *    a private ioctl (gotcha 7: umockdev tells the handler only when the next
 *    client connects), so claims are released as the kernel releases them.
 * 3. lseek() on a node: the node is a FIFO (poll gate) but usbfs files seek
 *    (libusb_wrap_sys_device rewinds before reading descriptors).
 * 4. More than ~45 open nodes per process: the shim serves usbfs nodes
 *    itself (section 4 below), reaping from a completion ring in its own
 *    memory that flashsim fills (one round trip per transfer, not three).
 *
 * Never sanitized (the clients are not), no GLib, libc only.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <linux/usbdevice_fs.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "flashsim-ioc.h"

#define MAX_TRACKED 64

/* event socket fds we bound, and their paths, to unlink at close: this
 * process-private table is the shim's only state (fds are process-wide). */
static struct {
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
} bound[MAX_TRACKED];

typedef int (*close_fn)(int);

/* A process that exits without closing its monitor (most do) must not leave
 * its socket behind: umockdev's sender aborts on a socket nobody listens on.
 * flashsim also sweeps sockets of dead processes (kill -9 skips this). */
/*
 * Unlinks take flashsim's event lock: umockdev's sender lists the sockets and
 * then connects to each, and one unlinked in between aborts it (ENOENT).
 * flashsim creates the lock file at start and holds the lock while umockdev
 * removes the tree at exit (which aborts on a file gone under it too), so a
 * missing lock file means that removal has begun: leave the socket to it.
 * Raw syscalls: umockdev's wrappers are not needed for a plain file.
 */
static int event_lock(void)
{
	const char *root = getenv("UMOCKDEV_DIR");
	char path[512];
	int fd;

	if (!root)
		return -1;
	snprintf(path, sizeof(path), "%s/" FLASHSIM_EVENT_LOCK, root);
	fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDWR | O_CLOEXEC);
	if (fd >= 0 && flock(fd, LOCK_EX) < 0) {
		syscall(SYS_close, fd);
		fd = -1;
	}
	return fd;
}

static void event_unlock(int fd)
{
	if (fd >= 0)
		syscall(SYS_close, fd);
}

__attribute__((destructor)) static void shim_unlink_all(void)
{
	int lk = -1;

	for (int i = 0; i < MAX_TRACKED; i++)
		if (bound[i].path[0]) {
			if (lk < 0)
				lk = event_lock();
			if (lk >= 0)
				unlink(bound[i].path);
			bound[i].path[0] = '\0';
		}
	event_unlock(lk);
}
typedef int (*ioctl_fn)(int, unsigned long, ...);

static int is_sim_node(int fd)
{
	const char *root = getenv("UMOCKDEV_DIR");
	char link[64], target[512];
	struct stat st;
	ssize_t n;

	if (!root || fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode))
		return 0;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	/* Raw syscall: umockdev's readlink() wrapper rewrites testbed paths. */
	n = syscall(SYS_readlink, link, target, sizeof(target) - 1);
	if (n <= 0)
		return 0;
	target[n] = '\0';
	return strncmp(target, root, strlen(root)) == 0 && strstr(target, "/dev/bus/usb/") != NULL;
}

static ioctl_fn next_ioctl(void)
{
	return (ioctl_fn)dlsym(RTLD_NEXT, "ioctl");
}

int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	const char *root = getenv("UMOCKDEV_DIR");
	int domain = 0;
	socklen_t dl = sizeof(domain);

	if (root && addr && addr->sa_family == AF_NETLINK &&
	    getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dl) == 0 && domain == AF_UNIX) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int r, lk;

		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/event%d_%d", root, fd,
			 (int)getpid());
		lk = event_lock();
		if (lk < 0) {
			/* flashsim is removing the tree: no new files in it */
			errno = ENODEV;
			return -1;
		}
		unlink(sa.sun_path);
		r = (int)syscall(SYS_bind, fd, (struct sockaddr *)&sa, sizeof(sa));
		event_unlock(lk);
		if (r == 0) {
			for (int i = 0; i < MAX_TRACKED; i++) {
				if (bound[i].path[0] == '\0') {
					bound[i].fd = fd;
					memcpy(bound[i].path, sa.sun_path, sizeof(sa.sun_path));
					break;
				}
			}
		}
		return r;
	}
	return ((int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "bind"))(
		fd, addr, len);
}

/*
 * 4. usbfs nodes are served here, not by umockdev's preload.  0.17.16 keeps
 *    every fd it emulates in a table of 50 entries per process (fd_map,
 *    FD_MAP_MAX; "fd_map_add(): overflow" abort), so one flashd held ~45
 *    boards.  open() of /dev/bus/usb/BBB/DDD that exists in the testbed
 *    opens the testbed node with a raw syscall, so umockdev never sees the
 *    fd, connects to flashsim's ioctl socket for the node and speaks the
 *    preload's protocol (tests/sim/ioserv.h) for ioctl(), read(), write(),
 *    lseek() and close() of that fd, in a table indexed by fd.  Everything
 *    else (poll, fstat, fcntl) works on the real FIFO as before.
 */
#define SIMFD_MAX 4096

/* libumockdev-preload.c's message codes (ioserv.c has the server's). */
enum {
	MSG_REQ_IOCTL = 1,
	MSG_DONE = 3,
	MSG_READ_MEM = 5,
	MSG_WRITE_MEM = 6,
	MSG_REQ_READ = 7,
	MSG_REQ_WRITE = 8,
};

struct simfd {
	int sock;
	bool gone;		    /* flashsim ended the connection: the device is gone */
	pthread_mutex_t lock;	    /* one request in flight per fd, as in the preload */
	struct flashsim_ring *ring; /* NULL: every reap asks flashsim */
};

static struct simfd *simfds[SIMFD_MAX]; /* __atomic access */

/* The libc (or umockdev) function behind us, looked up once. */
#define NEXT(name, type)                                                                           \
	({                                                                                         \
		static __typeof__(type) fn_;                                                       \
		__typeof__(type) f_ = __atomic_load_n(&fn_, __ATOMIC_ACQUIRE);                     \
		if (!f_) {                                                                         \
			f_ = (__typeof__(type))dlsym(RTLD_NEXT, #name);                            \
			__atomic_store_n(&fn_, f_, __ATOMIC_RELEASE);                              \
		}                                                                                  \
		f_;                                                                                \
	})

static struct simfd *simfd_get(int fd)
{
	if (fd < 0 || fd >= SIMFD_MAX)
		return NULL;
	return __atomic_load_n(&simfds[fd], __ATOMIC_ACQUIRE);
}

/* All of len bytes over the socket (raw syscalls: umockdev wraps send and
 * recv).  0, or -1 with errno (EPIPE for a peer that closed). */
static int sock_xfer(int sock, void *buf, size_t len, bool out)
{
	uint8_t *b = buf;

	while (len) {
		long n = out ? syscall(SYS_sendto, sock, b, len, MSG_NOSIGNAL, NULL, 0)
			     : syscall(SYS_recvfrom, sock, b, len, MSG_WAITALL, NULL, NULL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			errno = EPIPE;
		if (n <= 0)
			return -1;
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One exchange: the request, then the server's memory accesses until DONE.
 * The per-fd lock keeps other threads' exchanges apart.  Signals are not
 * blocked, unlike the preload's remote_emulate(): two rt_sigprocmask calls
 * per ioctl were a tenth of a 128-board run's client CPU, the transfers
 * restart after EINTR, and a handler doing USB I/O on the fd it interrupted
 * is not something libusb or flashd do (it would wait on the lock). */
static long sim_call(struct simfd *f, unsigned long cmd, unsigned long a1, unsigned long a2)
{
	unsigned long m[3] = { cmd, a1, a2 };
	long ret = -1;
	int err = ENODEV, r;

	pthread_mutex_lock(&f->lock);
	r = f->gone ? -1 : sock_xfer(f->sock, m, sizeof(m), true);
	while (r == 0) {
		r = sock_xfer(f->sock, m, sizeof(m), false);
		if (r < 0)
			break;
		if (m[0] == MSG_DONE) {
			ret = (long)m[1];
			err = (int)m[2];
			break;
		}
		if (m[0] != MSG_READ_MEM && m[0] != MSG_WRITE_MEM) {
			fprintf(stderr, "flashsim-shim: unknown ioctl socket message %lu\n", m[0]);
			abort();
		}
		r = sock_xfer(f->sock, (void *)m[1], m[2], m[0] == MSG_READ_MEM);
		if (r < 0 && errno == EFAULT) {
			fprintf(stderr, "flashsim-shim: bad client memory %#lx + %lu\n", m[1],
				m[2]);
			abort();
		}
	}
	if (r < 0)
		f->gone = true; /* flashsim ended: ENODEV from now on, as usbfs */
	pthread_mutex_unlock(&f->lock);
	errno = err;
	return ret;
}

static int sim_connect(const char *root, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s;

	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/ioctl%s", root, path) >=
	    sizeof(sa.sun_path))
		return -1;
	s = (int)syscall(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s >= 0 && syscall(SYS_connect, s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		syscall(SYS_close, s);
		s = -1;
	}
	return s;
}

/*
 * The completion ring (flashsim-ioc.h): flashsim writes each completed URB
 * into our memory and appends it here, so a reap is a load, not a round
 * trip.  The fd becomes a FIFO of its own (the gate flashsim opens when it
 * appends); we shut it when we find nothing to reap.  Shutting, then looking
 * once more, cannot lose a wake-up: flashsim appends before it opens.
 */
static void ring_setup(int fd, int flags, struct simfd *f)
{
	struct flashsim_ring_reg reg = { 0 };
	struct flashsim_ring *ring = calloc(1, sizeof(*ring));
	int g;

	if (!ring)
		return;
	reg.ring = (uint64_t)(uintptr_t)ring;
	if (sim_call(f, MSG_REQ_IOCTL, (unsigned int)FLASHSIM_IOC_RING, (unsigned long)&reg) < 0) {
		free(ring); /* socket clients: every reap asks flashsim */
		return;
	}
	reg.gate[sizeof(reg.gate) - 1] = '\0';
	/* Nonblocking: the shim fills it (usbfs fds are blocking, but nobody
	 * reads or writes the node through the FIFO). */
	g = (int)syscall(SYS_openat, AT_FDCWD, reg.gate, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (g < 0 || syscall(SYS_dup3, g, fd, flags & O_CLOEXEC) < 0) {
		fprintf(stderr, "flashsim-shim: cannot open the fd's gate %s\n", reg.gate);
		abort();
	}
	syscall(SYS_close, g);
	f->ring = ring;
}

static bool gate_shut(int fd)
{
	static const char page[4096];

	return syscall(SYS_write, fd, page, sizeof(page)) >= 0 || errno == EAGAIN;
}

static void gate_reopen(int fd)
{
	char page[4096];

	while (syscall(SYS_read, fd, page, sizeof(page)) > 0)
		;
}

/* REAPURBNDELAY from the ring: 0 with *arg set, -1 with EAGAIN, or 1: ask
 * flashsim (URBs wait there, or the device is gone: it says ENODEV). */
static int ring_reap(int fd, struct simfd *f, void **arg)
{
	struct flashsim_ring *r = f->ring;
	int ret = 1;

	pthread_mutex_lock(&f->lock);
	for (int shut = 0; shut < 2; shut++) {
		uint64_t head = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);

		if (head != r->tail) {
			*arg = (void *)(uintptr_t)r->urb[r->tail % FLASHSIM_RING_SLOTS];
			__atomic_store_n(&r->tail, r->tail + 1, __ATOMIC_RELEASE);
			ret = 0;
			break;
		}
		if (__atomic_load_n(&r->spill, __ATOMIC_ACQUIRE) ||
		    __atomic_load_n(&r->gone, __ATOMIC_ACQUIRE))
			break;
		if (shut) {
			errno = EAGAIN;
			ret = -1;
			break;
		}
		gate_shut(fd);
		/* Anything that came meanwhile: the gate opens again for it. */
		if (__atomic_load_n(&r->head, __ATOMIC_ACQUIRE) != r->tail ||
		    __atomic_load_n(&r->spill, __ATOMIC_ACQUIRE) ||
		    __atomic_load_n(&r->gone, __ATOMIC_ACQUIRE))
			gate_reopen(fd);
	}
	pthread_mutex_unlock(&f->lock);
	return ret;
}

/* A reap of a ring fd; blocking REAPURB waits for the gate here. */
static int ring_ioctl_reap(int fd, struct simfd *f, unsigned long request, void *arg)
{
	for (;;) {
		int r = ring_reap(fd, f, (void **)arg);
		struct pollfd p = { .fd = fd, .events = POLLOUT };

		if (r == 1)
			return (int)sim_call(f, MSG_REQ_IOCTL, (unsigned int)USBDEVFS_REAPURBNDELAY,
					     (unsigned long)arg);
		if (r == 0 || request != (unsigned int)USBDEVFS_REAPURB)
			return r;
		while (syscall(SYS_poll, &p, 1, -1) < 0 && errno == EINTR)
			;
	}
}

/* Open a simulated node ourselves.  *handled 0: not a testbed node (or an
 * fd beyond the table), the caller goes on to umockdev. */
static int sim_open(const char *path, int flags, mode_t mode, int *handled)
{
	const char *root = getenv("UMOCKDEV_DIR");
	char node[PATH_MAX];
	struct simfd *f;
	struct stat st;
	int fd;

	*handled = 0;
	if (!root || !path || strncmp(path, "/dev/bus/usb/", 13) != 0 ||
	    (size_t)snprintf(node, sizeof(node), "%s%s", root, path) >= sizeof(node))
		return -1;
	fd = (int)syscall(SYS_openat, AT_FDCWD, node, flags, mode);
	if (fd < 0 && errno == ENOENT)
		return -1; /* not in the testbed: umockdev leaves the path alone too */
	*handled = 1;
	if (fd < 0)
		return -1;
	/* Board nodes are FIFOs (the poll gate); hub nodes and directories,
	 * which have no ioctl socket of their own, stay umockdev's, as do fd
	 * numbers beyond the table. */
	if (fd >= SIMFD_MAX || syscall(SYS_fstat, fd, &st) < 0 || !S_ISFIFO(st.st_mode)) {
		syscall(SYS_close, fd);
		*handled = 0;
		return -1;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		syscall(SYS_close, fd);
		errno = ENOMEM;
		return -1;
	}
	f->sock = sim_connect(root, path);
	if (f->sock < 0) {
		/* Unplugged between the node check and now: the kernel says
		 * ENODEV for a node whose device is gone. */
		free(f);
		syscall(SYS_close, fd);
		errno = ENODEV;
		return -1;
	}
	pthread_mutex_init(&f->lock, NULL);
	ring_setup(fd, flags, f);
	__atomic_store_n(&simfds[fd], f, __ATOMIC_RELEASE);
	return fd;
}

/* close() of one of ours: flashsim releases claims now (FLASHSIM_IOC_CLOSE),
 * then the connection goes (the server's closed()).  The table entry goes
 * before the fd, so its number cannot be reused under us. */
static void sim_close(int fd, struct simfd *f)
{
	__atomic_store_n(&simfds[fd], NULL, __ATOMIC_RELEASE);
	sim_call(f, MSG_REQ_IOCTL, (unsigned int)FLASHSIM_IOC_CLOSE, 0);
	syscall(SYS_close, f->sock);
	pthread_mutex_destroy(&f->lock);
	free(f->ring);
	free(f);
}

#define WRAP_SIM_OPEN(name)                                                                        \
	int name(const char *path, int flags, ...)                                                 \
	{                                                                                          \
		mode_t mode = 0;                                                                   \
		int handled, fd;                                                                   \
		if (flags & (O_CREAT | O_TMPFILE)) {                                               \
			va_list ap;                                                                \
			va_start(ap, flags);                                                       \
			mode = va_arg(ap, mode_t);                                                 \
			va_end(ap);                                                                \
		}                                                                                  \
		fd = sim_open(path, flags, mode, &handled);                                        \
		if (handled)                                                                       \
			return fd;                                                                 \
		return NEXT(name, int (*)(const char *, int, ...))(path, flags, mode);             \
	}

#define WRAP_SIM_OPEN2(name)                                                                       \
	int name(const char *path, int flags)                                                      \
	{                                                                                          \
		int handled, fd = sim_open(path, flags, 0, &handled);                              \
		if (handled)                                                                       \
			return fd;                                                                 \
		return NEXT(name, int (*)(const char *, int))(path, flags);                        \
	}

/* openat() with an absolute path ignores dirfd; libusb and flashd use
 * absolute node paths. */
#define WRAP_SIM_OPENAT(name)                                                                      \
	int name(int dirfd, const char *path, int flags, ...)                                      \
	{                                                                                          \
		mode_t mode = 0;                                                                   \
		int handled, fd;                                                                   \
		if (flags & (O_CREAT | O_TMPFILE)) {                                               \
			va_list ap;                                                                \
			va_start(ap, flags);                                                       \
			mode = va_arg(ap, mode_t);                                                 \
			va_end(ap);                                                                \
		}                                                                                  \
		fd = sim_open(path, flags, mode, &handled);                                        \
		if (handled)                                                                       \
			return fd;                                                                 \
		return NEXT(name, int (*)(int, const char *, int, ...))(dirfd, path, flags, mode); \
	}

#define WRAP_SIM_OPENAT2(name)                                                                     \
	int name(int dirfd, const char *path, int flags)                                           \
	{                                                                                          \
		int handled, fd = sim_open(path, flags, 0, &handled);                              \
		if (handled)                                                                       \
			return fd;                                                                 \
		return NEXT(name, int (*)(int, const char *, int))(dirfd, path, flags);            \
	}

WRAP_SIM_OPEN(open)
WRAP_SIM_OPEN(open64)
WRAP_SIM_OPEN2(__open_2)
WRAP_SIM_OPEN2(__open64_2)
WRAP_SIM_OPENAT(openat)
WRAP_SIM_OPENAT(openat64)
WRAP_SIM_OPENAT2(__openat_2)
WRAP_SIM_OPENAT2(__openat64_2)

/*
 * Nothing to reap while the node's poll gate is shut (tests/sim/gate.h: the
 * rig keeps the FIFO full, no POLLOUT, exactly while no URB of the node is
 * reapable and the device is present).  libusb asks once more after each
 * URB it reaps; answering that EAGAIN here saves a round trip to flashsim,
 * a third of a transfer's.  A URB completing meanwhile is simply reaped on
 * the next wake-up, as if it had completed a moment later.
 */
static bool sim_nothing_to_reap(int fd, struct simfd *f, unsigned long request)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };

	if (request != (unsigned int)USBDEVFS_REAPURBNDELAY ||
	    __atomic_load_n(&f->gone, __ATOMIC_RELAXED))
		return false;
	return syscall(SYS_poll, &p, 1, 0) == 0;
}

int ioctl(int fd, unsigned long request, ...)
{
	struct simfd *f = simfd_get(fd);
	va_list ap;
	void *arg;

	/* At most one argument, a pointer or an int (as the preload assumes). */
	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (f && f->ring &&
	    (request == (unsigned int)USBDEVFS_REAPURBNDELAY ||
	     request == (unsigned int)USBDEVFS_REAPURB))
		return ring_ioctl_reap(fd, f, request, arg);
	if (f && sim_nothing_to_reap(fd, f, request)) {
		errno = EAGAIN;
		return -1;
	}
	if (f)
		return (int)sim_call(f, MSG_REQ_IOCTL, (unsigned int)request, (unsigned long)arg);
	return NEXT(ioctl, ioctl_fn)(fd, request, arg);
}

ssize_t read(int fd, void *buf, size_t count)
{
	struct simfd *f = simfd_get(fd);

	if (f)
		return sim_call(f, MSG_REQ_READ, (unsigned long)buf, count);
	return NEXT(read, ssize_t(*)(int, void *, size_t))(fd, buf, count);
}

ssize_t write(int fd, const void *buf, size_t count)
{
	struct simfd *f = simfd_get(fd);

	if (f)
		return sim_call(f, MSG_REQ_WRITE, (unsigned long)buf, count);
	return NEXT(write, ssize_t(*)(int, const void *, size_t))(fd, buf, count);
}

int close(int fd)
{
	close_fn next = (close_fn)dlsym(RTLD_NEXT, "close");
	struct simfd *f = simfd_get(fd);
	int saved = errno;

	for (int i = 0; i < MAX_TRACKED; i++) {
		if (bound[i].path[0] && bound[i].fd == fd) {
			int lk = event_lock();

			if (lk >= 0)
				unlink(bound[i].path);
			bound[i].path[0] = '\0';
			event_unlock(lk);
		}
	}
	if (f)
		sim_close(fd, f);
	else if (is_sim_node(fd))
		next_ioctl()(fd, FLASHSIM_IOC_CLOSE, 0);
	errno = saved;
	return next(fd);
}

static off_t sim_seek(int fd, off_t off, int whence, int *handled)
{
	struct flashsim_seek sk = { .offset = off, .whence = whence };
	struct simfd *f = simfd_get(fd);

	*handled = 0;
	if (f) {
		*handled = 1;
		if (sim_call(f, MSG_REQ_IOCTL, (unsigned int)FLASHSIM_IOC_SEEK,
			     (unsigned long)&sk) < 0)
			return -1;
		return (off_t)sk.offset;
	}
	if (!is_sim_node(fd))
		return -1;
	*handled = 1;
	if (next_ioctl()(fd, FLASHSIM_IOC_SEEK, &sk) < 0)
		return -1;
	return (off_t)sk.offset;
}

off_t lseek(int fd, off_t off, int whence)
{
	int handled;
	off_t r = sim_seek(fd, off, whence, &handled);

	if (handled)
		return r;
	return ((off_t(*)(int, off_t, int))dlsym(RTLD_NEXT, "lseek"))(fd, off, whence);
}

off_t lseek64(int fd, off_t off, int whence) __attribute__((alias("lseek")));
