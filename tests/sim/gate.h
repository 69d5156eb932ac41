/*
 * The poll gate of a simulated usbfs node (rig-umockdev-experiment.md,
 * gotcha 4).  The node is a FIFO whose one-page buffer the rig keeps full:
 * clients polling for POLLOUT (libusb, sd-event/epoll) sleep until the rig
 * opens the gate by draining the page, because a URB became reapable.
 * Readiness is per node, not per fd.  Client read() never reaches the FIFO
 * (usbfs.c answers it), so only the rig moves bytes through it.
 * Not thread-safe: the caller holds the board lock.
 */
#ifndef FLASHSIM_GATE_H
#define FLASHSIM_GATE_H

#include <stdbool.h>

struct gate {
	int fd; /* O_RDWR|O_NONBLOCK on the FIFO; -1 when closed */
	bool open;
};

/* mkfifo path, open it and fill it (gate closed).  Returns 0 or -errno. */
int gate_create(struct gate *g, const char *path);
/* Make every opener see POLLOUT.  Idempotent. */
void gate_open(struct gate *g);
/* Open even if somebody else shut it: the per-fd gates of the completion
 * ring, which the client's shim shuts itself (shim.c).  Idempotent. */
void gate_drain(struct gate *g);
/* Fill the pipe again: POLLOUT goes away.  Idempotent. */
void gate_close(struct gate *g);
void gate_destroy(struct gate *g);

#endif
