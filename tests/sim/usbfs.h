/*
 * usbdevfs emulation for one enumeration of a simulated board: a device node
 * /dev/bus/usb/BBB/DDD (a FIFO poll gate, gate.h) whose ioctl socket
 * (ioserv.h) is served by code that turns usbdevfs ioctls and read() into
 * struct sim_xfer for the board (tests/sim/boards/board.h), as
 * drivers/usb/core/devio.c would.
 *
 * Kernel behaviour mirrored (test-rigs.md §1.3, rig-umockdev-experiment.md):
 * per-fd claims with EBUSY, implicit claims by control/bulk traffic,
 * completed URBs kept aside until reaped, control actual_length excluding the
 * setup packet, DISCARDURB EINVAL when not pending, and on disconnect:
 * in-flight URBs complete with -ESHUTDOWN, new ioctls get ENODEV, reap gives
 * ENODEV once drained and the gate stays readable.
 *
 * Threads: requests are served on the thread of their client's connection
 * (ioserv.h); usbnode_* with "dev lock" below are called with simdev.lock
 * held, from any thread.
 */
#ifndef FLASHSIM_USBFS_H
#define FLASHSIM_USBFS_H

#include "tests/sim/rig.h"

/*
 * Create the node for dev's current identity: FIFO at
 * <root>/dev/bus/usb/BBB/DDD, ioctl socket listening (before the add uevent,
 * gotcha 3).  desc is the device + config descriptor blob (copied) that
 * read() returns.  Main thread, dev lock not held.  Returns 0 or -errno.
 */
int usbnode_new(struct simdev *dev, unsigned busnum, unsigned devnum, const uint8_t *desc,
		size_t desc_len, enum sim_speed speed, struct usbnode **ret);

/* "/dev/bus/usb/BBB/DDD" */
const char *usbnode_devnode(const struct usbnode *n);

/* The device left the bus (dev lock held). */
void usbnode_disconnect(struct usbnode *n);

/* Remove the node file and its ioctl socket; clients that have it open are
 * still served (main thread, no lock). */
void usbnode_detach(struct usbnode *n);

/* Free (after the sched thread has stopped and the testbed is gone). */
struct usbnode *usbnode_free(struct usbnode *n);

/* sim_host.complete for boards: ctx is the struct simdev. */
void usbfs_host_complete(void *ctx, struct sim_xfer *x);

#endif
