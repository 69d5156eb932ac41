/*
 * This file implements the FIFO poll gate (see gate.h).  The pipe is shrunk
 * to one page so that "full" and "empty" are one read()/write() apart.
 * Raw syscalls: flashsim runs under umockdev's preload, whose read()/write()
 * wrappers look up every fd first, and a gate moves once or twice per transfer.
 */
#include "tests/sim/gate.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define GATE_PAGE 4096

static int fill(int fd)
{
	char page[GATE_PAGE];
	ssize_t n;

	memset(page, 0, sizeof(page));
	n = syscall(SYS_write, fd, page, sizeof(page));
	if (n < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

int gate_create(struct gate *g, const char *path)
{
	int r;

	g->fd = -1;
	g->open = false;
	unlink(path);
	if (mkfifo(path, 0666) < 0)
		return -errno;
	g->fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (g->fd < 0)
		return -errno;
	if (fcntl(g->fd, F_SETPIPE_SZ, GATE_PAGE) < 0) {
		r = -errno;
		goto err_close;
	}
	r = fill(g->fd);
	if (r < 0)
		goto err_close;
	return 0;
err_close:
	close(g->fd);
	g->fd = -1;
	return r;
}

void gate_open(struct gate *g)
{
	char page[GATE_PAGE];

	if (g->fd < 0 || g->open)
		return;
	/* Drain everything: a partial page would still leave POLLOUT off. */
	while (syscall(SYS_read, g->fd, page, sizeof(page)) > 0)
		;
	g->open = true;
}

void gate_drain(struct gate *g)
{
	g->open = false;
	gate_open(g);
}

void gate_close(struct gate *g)
{
	if (g->fd < 0 || !g->open)
		return;
	fill(g->fd);
	g->open = false;
}

void gate_destroy(struct gate *g)
{
	if (g->fd >= 0)
		close(g->fd);
	g->fd = -1;
}
