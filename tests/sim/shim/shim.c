/*
 * libflashsim-shim.so: preloaded into every process under flashsim, BEFORE
 * libumockdev-preload.so.0.  It fixes three things umockdev 0.17.16 gets
 * wrong for multi-process rigs (tests/sim/README.md, "Gotchas"):
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
 *
 * Never sanitized (the clients are not), no GLib, libc only.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
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
	fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
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

int close(int fd)
{
	close_fn next = (close_fn)dlsym(RTLD_NEXT, "close");
	int saved = errno;

	for (int i = 0; i < MAX_TRACKED; i++) {
		if (bound[i].path[0] && bound[i].fd == fd) {
			int lk = event_lock();

			unlink(bound[i].path);
			bound[i].path[0] = '\0';
			event_unlock(lk);
		}
	}
	if (is_sim_node(fd))
		next_ioctl()(fd, FLASHSIM_IOC_CLOSE, 0);
	errno = saved;
	return next(fd);
}

static off_t sim_seek(int fd, off_t off, int whence, int *handled)
{
	struct flashsim_seek sk = { .offset = off, .whence = whence };

	*handled = 0;
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
