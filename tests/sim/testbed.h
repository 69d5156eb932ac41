/*
 * The fake sysfs and uevents of the rig: a umockdev testbed holding root hub
 * usb1, external hubs and boards at kernel-like paths
 * (/sys/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1.2/1-1.2.3), with every
 * attribute and property libusb 1.0.26 and libudev read
 * (rig-umockdev-experiment.md gotcha 1, test-rigs.md §1.3).  Hubs are full
 * usb_device entries with nodes, so libusb links parents and reports port
 * paths like 1-1.2.3.
 *
 * Main thread only (umockdev 0.17.16 uevent synthesis is not thread-safe).
 * The process must run under libumockdev-preload (test-rigs.md §1.5(b)).
 */
#ifndef FLASHSIM_TESTBED_H
#define FLASHSIM_TESTBED_H

#include "tests/sim/rig.h"

/* Create the testbed and root hub; sets rig->tb, rig->root.  Returns 0 or -errno. */
int testbed_new(struct rig *r);
/* Add a hub at port ("1-1.2"); its parent must exist.  Returns 0 or -errno. */
int testbed_add_hub(struct rig *r, const char *port);
/* sysfs path of the device at port. */
void testbed_syspath(const char *port, char *buf, size_t len);
/* Enumerate dev with its board's current identity: new devnum, node, sysfs,
 * add uevents.  Returns 0 or -errno. */
int testbed_add_board(struct simdev *dev);
/* Take dev's current node off the bus: remove uevents, sysfs, node file. */
void testbed_remove_board(struct simdev *dev);
/* Free the testbed (after all boards are removed and the sched is stopped). */
void testbed_free(struct rig *r);

#endif
