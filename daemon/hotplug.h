/*
 * USB hotplug for flashd: a libudev monitor (subsystem usb, devtype
 * usb_device) attached to the sd-event loop, plus a coldplug scan so boards
 * already plugged at start-up are served.  Each board becomes one struct
 * hotplug_event keyed by its port path (the sysfs name, e.g. "1-1.2.3"),
 * which stays the same across re-enumeration while the devnum changes
 * (test-rigs.md §5.6).  Hubs and root hubs are not reported.
 *
 * Tag filters are deliberately not used: umockdev does not set the tag bloom
 * filter (test-rigs.md §1.5 a), and we filter on subsystem/devtype anyway.
 */
#ifndef FLASHD_DAEMON_HOTPLUG_H
#define FLASHD_DAEMON_HOTPLUG_H

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

enum hotplug_action {
	HOTPLUG_ADD,
	HOTPLUG_REMOVE,
};

struct hotplug_event {
	enum hotplug_action action;
	char port[64];	  /* "1-1.2.3" */
	char devnode[64]; /* "/dev/bus/usb/001/005" */
	uint16_t vid, pid, bcd;
	char serial[128]; /* iSerial as the kernel read it; "" if none (add only) */
	unsigned busnum, devnum;
	bool coldplug; /* add only: already present when flashd started */
	/* add only: how long ago udev first saw this device (its USEC_INITIALIZED,
	 * CLOCK_MONOTONIC), -1 if unknown.  A coldplugged board that has not
	 * re-enumerated since its unit passed is told apart from a new one by
	 * this (daemon/station.c). */
	int64_t age_ms;
};

typedef void (*hotplug_cb_t)(void *userdata, const struct hotplug_event *ev);

/*
 * The events of one read of the monitor (every uevent pending, at most
 * HOTPLUG_BURST_MAX) come between a call with begin true and one with begin
 * false: the station writes the unit rows of a burst of boards in one
 * commit (daemon/station.c).
 */
typedef void (*hotplug_burst_cb_t)(void *userdata, bool begin);

/* Bounded, so a storm of uevents never starves the loop's other sources. */
#define HOTPLUG_BURST_MAX 64

struct hotplug;

/* Start monitoring; events are delivered from the loop.  Returns 0 or -errno. */
int hotplug_new(sd_event *loop, hotplug_cb_t cb, void *userdata, struct hotplug **ret);

/* Bracket each read of the monitor with cb (userdata as hotplug_new()'s). */
void hotplug_set_burst(struct hotplug *h, hotplug_burst_cb_t cb);

/* Report every board already present as HOTPLUG_ADD (call once, after setup). */
int hotplug_coldplug(struct hotplug *h);

struct hotplug *hotplug_free(struct hotplug *h);

#endif
