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

/* Lock file in $UMOCKDEV_DIR: flashsim holds it (flock) while it sends
 * uevents, the shim while it unlinks a closing client's event socket. */
#define FLASHSIM_EVENT_LOCK ".flashsim-event-lock"

#endif
