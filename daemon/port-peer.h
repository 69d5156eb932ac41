/*
 * A board's physical port.  A USB3 port is two ports to Linux: the USB2
 * half on a USB2 hub (bus 1, "1-1.3") and the SuperSpeed half on the
 * SuperSpeed hub of the same USB3 hub (bus 2, "2-1.3"), and the kernel
 * links the two with a "peer" link in each port's directory
 * (/sys/bus/usb/devices/<hub>/<bus>-<devpath>:1.0/<hub>-port<N>/peer;
 * Documentation/ABI/testing/sysfs-bus-usb, drivers/usb/core/port.c).
 * A boot ROM enumerates on the USB2 half; a U-Boot gadget on a USB3
 * controller (i.MX8MP) comes back on the SuperSpeed half.  flashd names a
 * port after its USB2 half, so slots, allow_ports, recipe "ports" globs,
 * the database and a job awaiting re-enumeration see one port.
 */
#ifndef FLASHD_DAEMON_PORT_PEER_H
#define FLASHD_DAEMON_PORT_PEER_H

#include <stddef.h>

struct udev_device;

/*
 * port holds the sysname of d ("2-1.3"); if d sits on a SuperSpeed hub
 * port with a peer, rewrite it to the peer's name ("1-1.3").  Works for
 * "remove" events too (it reads the hub, not d).  Returns 1 if rewritten,
 * 0 if port stays (not SuperSpeed, no peer), or -errno (logged; port
 * stays).
 */
int port_peer_physical(struct udev_device *d, char *port, size_t len);

#endif
