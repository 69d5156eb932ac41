/*
 * Private ioctls between libflashsim-shim.so (in the client) and flashsim's
 * usbfs emulation.  They travel over umockdev's ioctl socket like any usbdevfs
 * ioctl.  Type 'U' numbers from 0xf0 are unused by usbdevfs.
 */
#ifndef FLASHSIM_IOC_H
#define FLASHSIM_IOC_H

#include <stdint.h>
#include <sys/ioctl.h>

/* The client is closing this fd: release claims and URBs now
 * (rig-umockdev-experiment.md, gotcha 7: umockdev 0.17.16 tells us too late). */
#define FLASHSIM_IOC_CLOSE _IO('U', 0xf0)

/* lseek() on the node: the FIFO cannot seek, usbfs can (descriptor read()). */
struct flashsim_seek {
	int64_t offset; /* in: offset; out: new position */
	int32_t whence;
	int32_t pad;
};
#define FLASHSIM_IOC_SEEK _IOWR('U', 0xf1, struct flashsim_seek)

/*
 * Completion ring (tests/sim/README.md, "The completion ring").  The shim
 * registers one per usbfs fd right after open; flashsim then writes each
 * completed URB's data and status into the client's memory when the URB
 * completes (process_vm_writev), appends the client's URB address here and
 * opens the fd's own poll gate.  The shim reaps from the ring without a round
 * trip and shuts the gate when it finds the ring empty.  usbfs copies the
 * data at reap time instead; a client cannot tell, as it must not touch a
 * submitted URB before reaping it.
 *
 * head, spill and gone are written by flashsim only, tail by the client only.
 * A slot is written before head moves past it (one process_vm_writev, in
 * iovec order).
 */
#define FLASHSIM_RING_SLOTS 256
struct flashsim_ring {
	uint64_t head;	/* URBs appended */
	uint64_t spill; /* nonzero: completed URBs wait in flashsim (ring was full) */
	uint64_t gone;	/* nonzero: the device is gone, reaps end in ENODEV */
	uint64_t tail;	/* URBs the client took */
	uint64_t urb[FLASHSIM_RING_SLOTS];
};

struct flashsim_ring_reg {
	uint64_t ring;	/* in: address of the client's struct flashsim_ring */
	char gate[512]; /* out: the fd's own poll gate (a FIFO), to open and unlink */
};
/* ENOTTY: no ring (flashsim cannot write the client's memory directly). */
#define FLASHSIM_IOC_RING _IOWR('U', 0xf2, struct flashsim_ring_reg)

/* Lock file in $UMOCKDEV_DIR: flashsim holds it (flock) while it sends
 * uevents, the shim while it unlinks a closing client's event socket. */
#define FLASHSIM_EVENT_LOCK ".flashsim-event-lock"

#endif
