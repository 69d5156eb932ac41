/*
 * The rig context shared by flashsim's modules.
 *
 * struct rig is owned by main (flashsim.c) and passed explicitly; there is no
 * other mutable global state.  Threads:
 *   - main thread: GLib main loop; scenario timeline, sysfs and uevents
 *     (umockdev 0.17.16's uevent synthesis is not thread-safe: one thread);
 *   - one connection thread per open fd of a node (ioserv.c): its
 *     ioctl/read requests (usbfs.c);
 *   - the sched thread (sched.c): delayed completions and board timers.
 * Locking: one recursive mutex per board (struct simdev.lock) guards the
 * board, its nodes, their open fds and URBs.  Boards never share state, so a
 * per-board lock lets 32 boards' clients be served at once and the sched
 * thread step board A meanwhile.  It is recursive so that a board callback
 * re-entering the rig under the lock cannot deadlock (it was needed when
 * umockdev's client finalisation ran our destroy-notify under it).
 * Lock order: board lock -> sched lock (sched_add under the board lock).
 */
#ifndef FLASHSIM_RIG_H
#define FLASHSIM_RIG_H

#include <glib.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <umockdev.h>

#include "tests/sim/boards/board.h"
#include "tests/sim/scenario.h"
#include "tests/sim/sched.h"

struct usbnode;

/* One board on one port. */
struct simdev {
	struct rig *rig;
	const struct scn_board *cfg;
	pthread_mutex_t lock;
	struct sim_board *board;
	struct sim_host host;
	char syspath[256]; /* /sys/devices/.../1-1.2.3 */
	/* Where the current enumeration is: cfg->port and syspath, or their
	 * SuperSpeed peer ("2-1.2.3") for a SuperSpeed identity.  Main thread. */
	char cur_port[64];
	char cur_syspath[256];
	struct usbnode *node;  /* current enumeration; NULL when off the bus */
	GPtrArray *old_nodes;  /* earlier enumerations, kept until the end for late clients */
	bool cable;	       /* plugged in per scenario timeline */
	bool signal_plugged;   /* plug_on_sigusr1: SIGUSR1 came */
	bool enum_queued;      /* an enumerate request is queued on the main loop */
	unsigned enumerations; /* how many times it appeared on the bus */
	uint64_t ioctls;
	/* CLOCK_MONOTONIC ns (shared by every process on the machine): when the
	 * add uevent of the current enumeration was sent, and the first transfer
	 * a client submitted after it (0: none yet). */
	uint64_t plugged_at_ns;
	uint64_t first_request_ns;
};

struct rig {
	UMockdevTestbed *tb;
	char *root; /* testbed root ($UMOCKDEV_DIR) */
	struct sched *sched;
	struct scenario *scn;
	struct simdev *devs;
	size_t n_devs;
	unsigned next_devnum[2];  /* per host controller (testbed.c), main thread only */
	bool devnum_used[2][128]; /* main thread only: held by a hub or a plugged board */
	GMainLoop *loop;
	uint64_t t0;
	int rig_error; /* first fatal rig error (-errno), 0 if none */
	/* Sysfs/uevent work queued for the main thread, run in order and paced
	 * (umockdev 0.17.16 aborts when a client's uevent queue is full). */
	pthread_mutex_t opq_lock; /* pthread, not GMutex: ThreadSanitizer sees pthread locks */
	GQueue opq;
	bool opq_armed;
	uint64_t last_op_ns;
	unsigned pace_ms;
	struct hubbw *hubbw; /* the shared-bus model (hubbw.h); NULL: none */
	/* usbfs memory of every URB in flight on this host, bytes, and its
	 * bound (scenario usbfs_memory_mb; 0: none): usbfs.c */
	atomic_size_t usbfs_mem_used;
	size_t usbfs_mem_limit;
};

/* Log a rig message to stderr ("flashsim: ..."). */
void rig_log(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
/* Debug log, only with FLASHSIM_DEBUG set. */
void rig_debug(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

#endif
