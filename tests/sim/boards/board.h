/*
 * Simulated boards: a transport-neutral model of a USB device.
 *
 * A board is what a real board looks like from the USB cable: descriptors, a
 * string table, and answers to transfers on its endpoints, each with the time
 * the device and the bus would take.  A front-end (the umockdev rig in
 * tests/sim/, later a USB/IP server for the VM rig) turns kernel-level traffic
 * into struct sim_xfer, hands it to the board, and delivers the completion
 * after the delay the board asked for.  This layer includes libc only: no
 * umockdev, no libusb, no GLib.
 *
 * Threading: a board is not thread-safe.  The front-end serialises every call
 * into one board (one lock per board) and calls host callbacks' targets with
 * that lock held.  Host callbacks (struct sim_host) are only ever invoked from
 * inside a sim_board_* call or a scheduled function, never from another
 * thread.
 *
 * Time: models work in device time (what a real part takes, from datasheets)
 * and convert with the board's time scale before handing delays to the host:
 * real delay = device time x scale.  Scale 1.0 is real time; tests use small
 * scales.  Reported protocol timeouts (e.g. DFU bwPollTimeout) are scaled
 * the same way so that a client honouring them stays in step.
 *
 * Ownership: the front-end owns the board (sim_board_new / sim_board_free).
 * The board owns its descriptors and memories; pointers it returns stay valid
 * until the next call that may change them (noted per function) or free.
 */
#ifndef FLASHD_SIM_BOARD_H
#define FLASHD_SIM_BOARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sim_board;

enum sim_speed {
	SIM_SPEED_LOW = 1,
	SIM_SPEED_FULL = 2,
	SIM_SPEED_HIGH = 3,
	/* The kernel's enum usb_device_speed numbering (4 is wireless). */
	SIM_SPEED_SUPER = 5,
};

/* USB setup packet, host byte order. */
struct sim_setup {
	uint8_t bmRequestType;
	uint8_t bRequest;
	uint16_t wValue;
	uint16_t wIndex;
	uint16_t wLength;
};

enum sim_xfer_type {
	SIM_XFER_CONTROL,
	SIM_XFER_BULK,
	SIM_XFER_INTERRUPT,
};

/*
 * One transfer.  The front-end fills the request part; the board fills the
 * result part.  For control transfers `data`/`len` are the data stage only
 * (setup is separate); direction comes from setup.bmRequestType bit 7 or,
 * for bulk/interrupt, from bit 7 of `ep`.
 */
struct sim_xfer {
	/* request */
	enum sim_xfer_type type;
	uint8_t ep;		/* endpoint address incl. direction bit; 0x00 for control */
	struct sim_setup setup; /* control only */
	uint8_t *data;		/* OUT: bytes from the host; IN: room for len bytes */
	size_t len;

	/* result, set by the board */
	int status;	   /* 0, -EPIPE (STALL), -ENODEV (gone), -EPROTO, -EOVERFLOW */
	size_t actual;	   /* data-stage bytes transferred */
	uint64_t delay_ns; /* real (scaled) time until the completion is visible */

	void *host_priv; /* front-end's own pointer; the board never touches it */
};

/* Return values of sim_board_submit(). */
enum {
	SIM_XFER_DONE = 0,    /* result filled in; deliver after delay_ns */
	SIM_XFER_PENDING = 1, /* the board keeps it; sim_host.complete() later, or never */
};

/* Events a board raises towards its front-end. */
enum sim_board_event {
	SIM_EV_DISCONNECT, /* the device drops off the bus (leave, reboot, fault unplug) */
	SIM_EV_CONNECT,	   /* it comes back, possibly with a new identity (re-enumeration) */
};

/*
 * Services the front-end provides.  All callbacks run with the board lock
 * held, from inside a board call or a scheduled function.
 */
struct sim_host {
	void *ctx;
	/* Monotonic real time in ns. */
	uint64_t (*now_ns)(void *ctx);
	/* A transfer the board returned PENDING for has finished: deliver it after
	 * x->delay_ns.  The board no longer references x afterwards. */
	void (*complete)(void *ctx, struct sim_xfer *x);
	/* Connect/disconnect after delay_ns (real time).  On SIM_EV_DISCONNECT the
	 * front-end fails every outstanding transfer as the kernel does (the board
	 * forgets its pending ones itself before raising the event). */
	void (*event)(void *ctx, enum sim_board_event ev, uint64_t delay_ns);
	/* Call fn(board, arg) after delay_ns (real time), with the board lock held.
	 * Pending scheduled calls are dropped when the board is freed. */
	void (*schedule)(void *ctx, uint64_t delay_ns, void (*fn)(struct sim_board *b, void *arg),
			 void *arg);
};

/* Scenario options: the front-end passes JSON scalars as strings. */
struct sim_opt {
	const char *key;
	const char *value;
};

/*
 * Create a board of `type` (e.g. "stm32f405-dfuse").  Options are board
 * specific (documented in tests/sim/boards/README.md); an unknown key or bad value is
 * an error naming it.  Returns 0 or -EINVAL/-ENOMEM with a message in
 * err[errlen].  The board starts connected.
 */
int sim_board_new(const char *type, const struct sim_opt *opts, size_t n_opts,
		  const struct sim_host *host, struct sim_board **ret, char *err, size_t errlen);
struct sim_board *sim_board_free(struct sim_board *b);

/* Name of the i-th board type (all names of all linked models); NULL past the end. */
const char *sim_board_type(size_t i);

/* Current identity, for enumeration (sysfs attributes, usbfs read(), USB/IP).
 * Valid until the next SIM_EV_CONNECT or free. */
struct sim_identity {
	const uint8_t *device_desc; /* 18 bytes */
	const uint8_t *config_desc; /* the single configuration, wTotalLength bytes */
	size_t config_len;
	enum sim_speed speed;
	const char *manufacturer, *product, *serial; /* ASCII; NULL if absent */
};
const struct sim_identity *sim_board_identity(struct sim_board *b);

/*
 * Submit a transfer.  Standard requests (GET_DESCRIPTOR, SET_CONFIGURATION,
 * SET_INTERFACE, GET_STATUS, CLEAR_FEATURE ...) are answered by the board core
 * unless the model overrides them; the front-end turns usbfs SETINTERFACE /
 * SETCONFIGURATION / CLEAR_HALT ioctls into the control requests the kernel
 * would send.  Returns SIM_XFER_DONE or SIM_XFER_PENDING.
 */
int sim_board_submit(struct sim_board *b, struct sim_xfer *x);

/* The host gave up on a PENDING transfer (discard/unlink/timeout).  The board
 * drops it; the front-end completes it as cancelled itself. */
void sim_board_cancel(struct sim_board *b, struct sim_xfer *x);

/* USB port reset from the host (usbfs RESET). */
void sim_board_reset(struct sim_board *b);

/* The cable was pulled (scenario unplug).  The board forgets pending
 * transfers and stays unpowered until sim_board_replug(). */
void sim_board_unplug(struct sim_board *b);
/* Plugged back in: power-on reset, the ROM starts again.  Memories persist. */
void sim_board_replug(struct sim_board *b);

/* Named memories for dumps: index 0..n-1; returns false past the end. */
bool sim_board_memory(struct sim_board *b, unsigned idx, const char **name, const uint8_t **data,
		      size_t *len);

/* Short state for summary.json, e.g. "dfu-idle", "left", "unplugged". */
const char *sim_board_state(struct sim_board *b);

/* Counters for summary.json. */
struct sim_board_stats {
	uint64_t requests;     /* transfers submitted */
	uint64_t bytes_in;     /* data bytes device -> host */
	uint64_t bytes_out;    /* data bytes host -> device */
	unsigned faults_fired; /* see sim_board_fault_log() */
	unsigned forbidden;    /* requests a test must treat as a failure (e.g. eFuse writes) */
};
void sim_board_stats(struct sim_board *b, struct sim_board_stats *st);

/* i-th fired fault as a short text ("unplug after 150000 bytes"); NULL past the end. */
const char *sim_board_fault_log(struct sim_board *b, unsigned idx);

#endif
