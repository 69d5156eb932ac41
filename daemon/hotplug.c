/*
 * This file implements daemon/hotplug.h over libudev: the monitor socket is
 * an sd-event I/O source; each usb_device add/remove is turned into a
 * struct hotplug_event.
 */
#include "daemon/hotplug.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libudev.h>

#include "common/log.h"
#include "daemon/port-peer.h"

struct hotplug {
	struct udev *udev;
	struct udev_monitor *monitor;
	sd_event_source *source;
	hotplug_cb_t cb;
	hotplug_burst_cb_t burst; /* NULL: events one by one */
	void *userdata;
};

/*
 * How long ago udev first saw d, from its USEC_INITIALIZED property
 * (CLOCK_MONOTONIC us, set by udevd when it first handles the device and
 * kept across "change" events and udevd restarts; a re-enumeration is a
 * new device and gets a new one).  -1 if absent or in the future.
 */
static int64_t age_ms(struct udev_device *d)
{
	const char *s = udev_device_get_property_value(d, "USEC_INITIALIZED");
	unsigned long long init;
	struct timespec ts;
	char *end;
	int64_t now;

	if (!s || !*s)
		return -1;
	errno = 0;
	init = strtoull(s, &end, 10);
	if (errno || *end || init == 0)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	if (init > (unsigned long long)now)
		return -1;
	return (now - (int64_t)init) / 1000;
}

static unsigned hex_or(const char *s, unsigned dflt)
{
	char *end;
	unsigned long v;

	if (!s)
		return dflt;
	v = strtoul(s, &end, 16);
	return end == s ? dflt : (unsigned)v;
}

/*
 * Fill ev from a udev device.  The kernel's PRODUCT=vid/pid/bcd property is
 * present on add and remove alike; sysfs attributes are gone on remove.
 * Returns false for devices that are not boards (root hubs, hubs, no node).
 */
static bool event_from_device(struct udev_device *d, enum hotplug_action action,
			      struct hotplug_event *ev)
{
	const char *name = udev_device_get_sysname(d);
	const char *node = udev_device_get_devnode(d);
	const char *product = udev_device_get_property_value(d, "PRODUCT");
	const char *s;
	unsigned vid = 0, pid = 0, bcd = 0;

	if (!name || !strchr(name, '-') || !node)
		return false; /* root hub ("usb1") or no device node */
	s = udev_device_get_sysattr_value(d, "bDeviceClass");
	if (s && hex_or(s, 0) == 0x09)
		return false; /* a hub */
	*ev = (struct hotplug_event){ .action = action };
	snprintf(ev->port, sizeof(ev->port), "%s", name);
	port_peer_physical(d, ev->port, sizeof(ev->port)); /* "2-1.3" -> "1-1.3" */
	snprintf(ev->devnode, sizeof(ev->devnode), "%s", node);
	if (!product || sscanf(product, "%x/%x/%x", &vid, &pid, &bcd) < 2) {
		vid = hex_or(udev_device_get_sysattr_value(d, "idVendor"), 0);
		pid = hex_or(udev_device_get_sysattr_value(d, "idProduct"), 0);
		bcd = hex_or(udev_device_get_sysattr_value(d, "bcdDevice"), 0);
	}
	ev->vid = (uint16_t)vid;
	ev->pid = (uint16_t)pid;
	ev->bcd = (uint16_t)bcd;
	s = udev_device_get_property_value(d, "BUSNUM");
	ev->busnum = s ? (unsigned)strtoul(s, NULL, 10) : 0;
	s = udev_device_get_property_value(d, "DEVNUM");
	ev->devnum = s ? (unsigned)strtoul(s, NULL, 10) : 0;
	ev->age_ms = -1;
	if (action == HOTPLUG_ADD) {
		s = udev_device_get_sysattr_value(d, "serial");
		snprintf(ev->serial, sizeof(ev->serial), "%s", s ? s : "");
		ev->age_ms = age_ms(d);
	}
	return true;
}

static int on_monitor(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct hotplug *h = userdata;
	struct udev_device *d;
	unsigned n = 0;

	(void)src;
	(void)fd;
	(void)revents;
	if (h->burst)
		h->burst(h->userdata, true);
	/* Drain everything queued: the umockdev sender aborts when a monitor
	 * falls behind (test-rigs.md §1.5 c), and so would a real burst.  Past
	 * HOTPLUG_BURST_MAX the loop serves its other sources first; the fd
	 * is still readable, so it comes back here at once. */
	while (n < HOTPLUG_BURST_MAX && (d = udev_monitor_receive_device(h->monitor))) {
		const char *action = udev_device_get_action(d);
		struct hotplug_event ev;

		n++;
		if (action && (!strcmp(action, "add") || !strcmp(action, "remove")) &&
		    event_from_device(d, !strcmp(action, "add") ? HOTPLUG_ADD : HOTPLUG_REMOVE,
				      &ev))
			h->cb(h->userdata, &ev);
		udev_device_unref(d);
	}
	if (h->burst)
		h->burst(h->userdata, false);
	return 0;
}

void hotplug_set_burst(struct hotplug *h, hotplug_burst_cb_t cb)
{
	h->burst = cb;
}

int hotplug_new(sd_event *loop, hotplug_cb_t cb, void *userdata, struct hotplug **ret)
{
	struct hotplug *h;
	int r;

	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->cb = cb;
	h->userdata = userdata;
	h->udev = udev_new();
	if (!h->udev) {
		r = -ENOMEM;
		goto fail;
	}
	h->monitor = udev_monitor_new_from_netlink(h->udev, "udev");
	if (!h->monitor) {
		r = -errno ? -errno : -EIO;
		goto fail;
	}
	r = udev_monitor_filter_add_match_subsystem_devtype(h->monitor, "usb", "usb_device");
	if (r < 0)
		goto fail;
	/* Large receive buffer: 32 boards may arrive within a millisecond. */
	udev_monitor_set_receive_buffer_size(h->monitor, 4 * 1024 * 1024);
	r = udev_monitor_enable_receiving(h->monitor);
	if (r < 0)
		goto fail;
	r = sd_event_add_io(loop, &h->source, udev_monitor_get_fd(h->monitor), EPOLLIN, on_monitor,
			    h);
	if (r < 0)
		goto fail;
	sd_event_source_set_description(h->source, "udev-monitor");
	*ret = h;
	return 0;
fail:
	hotplug_free(h);
	return r;
}

int hotplug_coldplug(struct hotplug *h)
{
	struct udev_enumerate *en = udev_enumerate_new(h->udev);
	struct udev_list_entry *it;
	int r;

	if (!en)
		return -ENOMEM;
	r = udev_enumerate_add_match_subsystem(en, "usb");
	if (r >= 0)
		r = udev_enumerate_add_match_property(en, "DEVTYPE", "usb_device");
	if (r >= 0)
		r = udev_enumerate_scan_devices(en);
	if (r < 0) {
		udev_enumerate_unref(en);
		return r;
	}
	udev_list_entry_foreach(it, udev_enumerate_get_list_entry(en))
	{
		struct udev_device *d =
			udev_device_new_from_syspath(h->udev, udev_list_entry_get_name(it));
		struct hotplug_event ev;

		if (!d)
			continue;
		if (event_from_device(d, HOTPLUG_ADD, &ev)) {
			ev.coldplug = true;
			h->cb(h->userdata, &ev);
		}
		udev_device_unref(d);
	}
	udev_enumerate_unref(en);
	return 0;
}

struct hotplug *hotplug_free(struct hotplug *h)
{
	if (!h)
		return NULL;
	sd_event_source_disable_unref(h->source);
	udev_monitor_unref(h->monitor);
	udev_unref(h->udev);
	free(h);
	return NULL;
}
