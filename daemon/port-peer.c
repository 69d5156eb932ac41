/* This file implements daemon/port-peer.h over libudev and sysfs links. */
#include "daemon/port-peer.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libudev.h>

#include "common/log.h"

/* The port number of a device on its hub: the last component of its name
 * ("2-1.3" -> 3, "2-4" -> 4).  0 if there is none. */
static unsigned port_number(const char *sysname)
{
	const char *dot = strrchr(sysname, '.'), *dash = strrchr(sysname, '-');
	const char *p = dot && dot > dash ? dot : dash;
	char *end;
	unsigned long n;

	if (!p)
		return 0;
	n = strtoul(p + 1, &end, 10);
	return *end || n == 0 || n > 255 ? 0 : (unsigned)n;
}

/* A hub is SuperSpeed or faster by its link speed in Mbit/s ("5000"). */
static int hub_is_superspeed(struct udev_device *hub)
{
	const char *s = udev_device_get_sysattr_value(hub, "speed");

	return s && strtoul(s, NULL, 10) >= 5000;
}

/*
 * Read the peer link of port n of hub: the name of the peer port's
 * directory ("1-1-port3", "usb1-port3") in name.  Returns 0, -ENOENT if the
 * port has no peer, or -errno.
 */
static int read_peer(struct udev_device *hub, unsigned n, char *name, size_t len)
{
	const char *bus = udev_device_get_sysattr_value(hub, "busnum");
	const char *devpath = udev_device_get_sysattr_value(hub, "devpath");
	char path[PATH_MAX], target[PATH_MAX];
	const char *base;
	ssize_t r;

	if (!bus || !devpath)
		return -ENOENT;
	/* The hub's interface is "<bus>-<devpath>:1.0" (usb_set_configuration),
	 * its ports "<hub>-port<N>" below it (usb_hub_create_port_device). */
	snprintf(path, sizeof(path), "%s/%s-%s:1.0/%s-port%u/peer", udev_device_get_syspath(hub),
		 bus, devpath, udev_device_get_sysname(hub), n);
	r = readlink(path, target, sizeof(target) - 1);
	if (r < 0)
		return -errno;
	target[r] = '\0';
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (strlen(base) >= len)
		return -ENAMETOOLONG;
	memcpy(name, base, strlen(base) + 1);
	return 0;
}

/* The device name on port directory name: "1-1-port3" -> "1-1.3",
 * "usb1-port3" (a root hub's) -> "1-3".  Returns 0 or -EINVAL. */
static int device_on_port(const char *name, char *out, size_t len)
{
	const char *p = strstr(name, "-port"), *next;
	char *end;
	unsigned long n;
	int w;

	for (; p && (next = strstr(p + 1, "-port")); p = next)
		;
	if (!p || p == name)
		return -EINVAL;
	n = strtoul(p + 5, &end, 10);
	if (*end || n == 0)
		return -EINVAL;
	if (!strncmp(name, "usb", 3))
		w = snprintf(out, len, "%.*s-%lu", (int)(p - name - 3), name + 3, n);
	else
		w = snprintf(out, len, "%.*s.%lu", (int)(p - name), name, n);
	return w < 0 || (size_t)w >= len ? -EINVAL : 0;
}

int port_peer_physical(struct udev_device *d, char *port, size_t len)
{
	struct udev_device *hub =
		udev_device_get_parent_with_subsystem_devtype(d, "usb", "usb_device");
	unsigned n = port_number(udev_device_get_sysname(d));
	char peer[128], physical[64];
	int r;

	if (!hub || !n || !hub_is_superspeed(hub))
		return 0;
	r = read_peer(hub, n, peer, sizeof(peer));
	if (r == -ENOENT)
		return 0; /* a SuperSpeed-only port: it is its own physical port */
	if (r == 0)
		r = device_on_port(peer, physical, sizeof(physical));
	if (r < 0) {
		log_msg(LOG_WARNING, "Cannot find the USB2 peer of port '%s', naming it '%s': %s",
			port, port, strerror(-r));
		return r;
	}
	log_msg(LOG_DEBUG, "Port '%s' is the SuperSpeed half of port '%s'", port, physical);
	snprintf(port, len, "%s", physical);
	return 1;
}
