/*
 * usbip-sim: the simulated boards of tests/sim/boards served to the kernel's
 * vhci_hcd over USB/IP (shared/docs/test-rigs.md §2), for the system-test
 * VM.  This header is the program's internal API: the context, one port
 * per board, and the verbs the files offer each other.
 *
 * Files: main.c (options, timeline, signals, the reader loop), port.c (a
 * board's sim_host callbacks, connection up/down, board events, timeline
 * steps), urb.c (the URB stream of one connection), vhci.c (attach through
 * sysfs or the loopback socket), dump.c (--out), sha256.c.
 *
 * Threads:
 *   - main: polls every connected socket and reads requests (urb.c);
 *   - sched (tests/sim/sched.c): delayed completions, board timers, board
 *     events, the scenario timeline and attach retries.
 * Locking: one mutex per port guards its board, socket, URB table and
 * counters (board.h: every board call and host callback serialised per
 * board).  Host callbacks run with it held and never take it again.
 * Writes to a socket happen with its port lock held.  Lock order: port
 * lock -> sched lock, port lock -> app lock.
 */
#ifndef FLASHD_SIM_USBIP_SIM_H
#define FLASHD_SIM_USBIP_SIM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tests/sim/boards/board.h"
#include "tests/sim/scenario.h"
#include "tests/sim/sched.h"
#include "tests/sim/usbip/usbip.h"

/* Exit status on a rig error (bad scenario, attach failed ...). */
#define USIM_EXIT_RIG 2
/* vhci_hcd.0's high-speed root hub has ports 1..15 (CONFIG_USBIP_VHCI_HC_PORTS). */
#define USIM_MAX_PORTS 15
/* How many transfers after SET_CONFIGURATION summary.json lists as text. */
#define USIM_AFTER_CONFIG_LOG 16

struct urb;

/* Receive state of one connection: a header, then its OUT data and ISO
 * descriptors (which are read and dropped). */
struct rx {
	uint8_t hdr[USBIP_HDR_SIZE];
	size_t hdr_got;
	struct urb *urb;  /* CMD_SUBMIT whose payload is being read, not yet in the table */
	uint8_t setup[8]; /* its setup packet, as on the wire */
	size_t data_got;
	size_t skip; /* ISO descriptor bytes still to discard */
};

/* One board on one vhci port.  Owned by struct app; fields below `lock` are
 * guarded by it. */
struct port {
	struct app *app;
	const struct scn_board *cfg;
	unsigned vport; /* vhci port number: P-1 for "1-P" */
	uint32_t devid;
	pthread_mutex_t lock;

	struct sim_board *board;
	struct sim_host host;
	bool cable;   /* plugged in per the scenario timeline */
	bool powered; /* the board is on the bus as far as it knows (last event) */

	/* The connection: our end of the socketpair, -1 when off the bus.
	 * gen changes whenever it comes or goes, so late timers and the
	 * reader's snapshot can tell they are stale. */
	int fd;
	unsigned gen;
	int broken; /* -errno: a write failed inside a callback; drop at the end */
	struct rx rx;
	struct urb *urbs;	/* submitted, not answered (newest first) */
	struct urb *submitting; /* inside sim_board_submit() right now */

	/* attach with retries (vhci.c) */
	bool attaching;
	unsigned attach_seq;
	uint64_t attach_deadline;

	/* counters for summary.json */
	unsigned enumerations;
	bool configured;	      /* SET_CONFIGURATION seen in this enumeration */
	uint64_t after_config;	      /* transfers after it, except the kernel's own */
	uint64_t after_config_kernel; /* those the kernel sends by itself (urb.c) */
	uint8_t strings_read[32];     /* string indices read after it (bitmap) */
	char *after_config_log[USIM_AFTER_CONFIG_LOG];
	unsigned n_after_config_log;
	bool on_bus_at_exit;
};

/* The program.  Owned by main(). */
struct app {
	struct scenario *scn;
	const char *scn_path;
	struct sched *sched;
	struct port *ports;
	size_t n_ports;
	const char *vhci_dir;	  /* /sys/devices/platform/vhci_hcd.0 */
	const char *loopback_dir; /* NULL: real vhci_hcd */
	int debug;		  /* USBIP_SIM_DEBUG / FLASHSIM_DEBUG: 1 events, 2 every URB */
	int wake[2];		  /* pipe: wakes the reader loop (new socket, stop) */

	pthread_mutex_t lock; /* guards the two below */
	int rig_error;	      /* first fatal error (-errno), 0 if none */
	bool stop;
};

/* main.c: logging to stderr with the "usbip-sim: " prefix. */
void app_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void app_debug(const struct app *a, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Wake the reader loop (any thread, any lock). */
void app_wake(struct app *a);
/* A rig error: remember it, stop the program (exit status 2). */
void app_fail(struct app *a, int err);
/* Stop the program normally (--duration-ms). */
void app_stop(struct app *a);

/* port.c */
/* Create the board of cfg on vhci port vport.  Returns 0 or -errno with a
 * message in err. */
int port_init(struct port *p, struct app *a, const struct scn_board *cfg, unsigned vport, char *err,
	      size_t errlen);
/* Free the board (sched stopped, connection dropped). */
void port_fini(struct port *p);
/* Log "usbip-sim: <id> port <port>: ..." */
void port_log(const struct port *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Arm plug/unplug/replug relative to now.  Returns 0 or -ENOMEM. */
int port_start(struct port *p);
/* A socket was attached: serve it (lock held). */
void port_conn_up(struct port *p, int fd);
/* Close the connection, forget its URBs (lock held).  why: for the log. */
void port_conn_drop(struct port *p, const char *why);
/* End of a top-level entry (reader, timer): drop the connection if a write
 * failed meanwhile (lock held). */
void port_settle(struct port *p);
/* A reply write failed (lock held, possibly inside a board callback). */
void port_write_failed(struct port *p, int err);

/* urb.c */
/* Read and handle what the socket has (lock held, main thread).  Returns 0,
 * or -errno when the connection is over (-ECONNRESET: the peer closed it;
 * -EBADMSG/-EMSGSIZE: a malformed stream). */
int urb_rx(struct port *p);
/* Forget every URB of the connection, cancelling the board's (lock held). */
void urb_drop_all(struct port *p);
/* sim_host.complete. */
void urb_host_complete(void *ctx, struct sim_xfer *x);

/* vhci.c */
/* Check that vhci_hcd is there and bus 1 is vhci_hcd.0's HS root hub (not in
 * loopback mode).  Returns 0 or -errno with a message in err. */
int vhci_check(const struct app *a, char *err, size_t errlen);
/* Attach the board's current identity to its port, retrying while the port
 * is still busy from the last connection (lock held; the result arrives
 * through port_conn_up() or app_fail()). */
void vhci_attach_start(struct port *p);
/* Forget an attach in progress (lock held). */
void vhci_attach_cancel(struct port *p);

/* dump.c: memories and summary.json into dir (sched stopped).  Returns 0 or
 * -errno (logged). */
int usim_dump(struct app *a, const char *dir);

#endif
