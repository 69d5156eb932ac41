/*
 * This file implements the rig's sysfs tree and uevents on umockdev 0.17.16
 * (see testbed.h).  Records go through umockdev_testbed_add_from_string(),
 * which writes every attribute before it sends "add" (umockdev #173), so a
 * client never sees a half-built device.  Remove is "remove" uevent first,
 * then remove_device() (0.17.16's remove_device sends nothing).
 */
#include "tests/sim/testbed.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "tests/sim/shim/flashsim-ioc.h"
#include "tests/sim/usbfs.h"

/* xHCI 0000:00:14.0: its USB2 root hub is bus 1; with "usb3", its
 * SuperSpeed root hub is bus 2 (xhci registers the USB2 hcd first). */
#define HCD_SYSPATH "/sys/devices/pci0000:00/0000:00:14.0"
#define BUSNUM 1
#define SS_BUSNUM 2
/* A second xHCI, a PCIe card behind a root port, for lines beyond one bus's
 * 127 addresses (USB 2.0 §9.4.6: 7-bit device address): its USB2 root hub is
 * bus 3 (ports "3-P"), its SuperSpeed root hub bus 4 ("usb3"), as Linux
 * numbers the second host controller's buses after the first one's. */
#define HCD2_SYSPATH "/sys/devices/pci0000:00/0000:00:1c.0/0000:03:00.0"
#define BUSNUM2 3
/* Ports per hub: the external hubs' maxchild, used for the root hubs too. */
#define HUB_PORTS 7

/* Hub descriptors: root hub 1d6b:0002 (Linux Foundation 2.0 root hub) and a
 * generic 7-port USB 2.0 hub 05e3:0608; one interrupt status endpoint each. */
static const uint8_t root_hub_desc[] = {
	0x12, 0x01, 0x00, 0x02, 0x09, 0x00, 0x01, 0x40, 0x6b, 0x1d, 0x02, 0x00, 0x01, 0x06, 0x03,
	0x02, 0x01, 0x01, 0x09, 0x02, 0x19, 0x00, 0x01, 0x01, 0x00, 0xe0, 0x00, 0x09, 0x04, 0x00,
	0x00, 0x01, 0x09, 0x00, 0x00, 0x00, 0x07, 0x05, 0x81, 0x03, 0x04, 0x00, 0x0c,
};
/* The SuperSpeed halves: root hub 1d6b:0003 and a USB 3.0 hub 05e3:0612
 * (bcdUSB 3.00, bDeviceProtocol 3, bMaxPacketSize0 9 = 512 bytes), the
 * interrupt endpoint with its SuperSpeed companion (USB 3.2 §9.6.7). */
static const uint8_t ss_root_hub_desc[] = {
	0x12, 0x01, 0x00, 0x03, 0x09, 0x00, 0x03, 0x09, 0x6b, 0x1d, 0x03, 0x00, 0x01,
	0x06, 0x03, 0x02, 0x01, 0x01, 0x09, 0x02, 0x1f, 0x00, 0x01, 0x01, 0x00, 0xe0,
	0x00, 0x09, 0x04, 0x00, 0x00, 0x01, 0x09, 0x00, 0x00, 0x00, 0x07, 0x05, 0x81,
	0x03, 0x04, 0x00, 0x0c, 0x06, 0x30, 0x00, 0x00, 0x02, 0x00,
};
static const uint8_t ss_hub_desc[] = {
	0x12, 0x01, 0x00, 0x03, 0x09, 0x00, 0x03, 0x09, 0xe3, 0x05, 0x12, 0x06, 0x60,
	0x88, 0x00, 0x01, 0x00, 0x01, 0x09, 0x02, 0x1f, 0x00, 0x01, 0x01, 0x00, 0xe0,
	0x00, 0x09, 0x04, 0x00, 0x00, 0x01, 0x09, 0x00, 0x00, 0x00, 0x07, 0x05, 0x81,
	0x13, 0x02, 0x00, 0x08, 0x06, 0x30, 0x00, 0x00, 0x02, 0x00,
};
static const uint8_t ext_hub_desc[] = {
	0x12, 0x01, 0x00, 0x02, 0x09, 0x00, 0x01, 0x40, 0xe3, 0x05, 0x08, 0x06, 0x60, 0x88, 0x00,
	0x01, 0x00, 0x01, 0x09, 0x02, 0x19, 0x00, 0x01, 0x01, 0x00, 0xe0, 0x32, 0x09, 0x04, 0x00,
	0x00, 0x01, 0x09, 0x00, 0x00, 0x00, 0x07, 0x05, 0x81, 0x03, 0x01, 0x00, 0x0c,
};

/* The bus of a port path: "3-1.2" -> 3. */
static unsigned port_bus(const char *port)
{
	return (unsigned)strtoul(port, NULL, 10);
}

/* The host controller of a bus: 0 (buses 1, 2) or 1 (buses 3, 4). */
static unsigned bus_hc(unsigned bus)
{
	return bus >= BUSNUM2 ? 1 : 0;
}

static const char *hcd_syspath(unsigned bus)
{
	return bus_hc(bus) ? HCD2_SYSPATH : HCD_SYSPATH;
}

void testbed_syspath(const char *port, char *buf, size_t len)
{
	/* The root hub "usbB" of the port's bus B ("2-1.3": usb2). */
	size_t n = (size_t)snprintf(buf, len, "%s/usb%.*s", hcd_syspath(port_bus(port)),
				    (int)strcspn(port, "-"), port);

	for (size_t i = 2; port[i - 1] && n < len; i++) {
		if (port[i] != '.' && port[i] != '\0')
			continue;
		n += (size_t)snprintf(buf + n, len - n, "/%.*s", (int)i, port);
	}
}

static const char *speed_text(enum sim_speed s)
{
	return s == SIM_SPEED_LOW     ? "1.5"
	       : s == SIM_SPEED_HIGH  ? "480"
	       : s == SIM_SPEED_SUPER ? "5000"
				      : "12";
}

/* A growing record string. */
struct rec {
	GString *s;
};

static void attr(struct rec *r, const char *name, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static void attr(struct rec *r, const char *name, const char *fmt, ...)
{
	va_list ap;
	char v[256];

	va_start(ap, fmt);
	vsnprintf(v, sizeof(v), fmt, ap);
	va_end(ap);
	/* sysfs attributes end in a newline; the record format escapes it. */
	g_string_append_printf(r->s, "A: %s=%s\\n\n", name, v);
}

static void prop(struct rec *r, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void prop(struct rec *r, const char *fmt, ...)
{
	va_list ap;

	g_string_append(r->s, "E: ");
	va_start(ap, fmt);
	g_string_append_vprintf(r->s, fmt, ap);
	va_end(ap);
	g_string_append_c(r->s, '\n');
}

static void string_attr(struct rec *r, const char *name, const char *v)
{
	char clean[128];
	size_t i;

	if (!v)
		return;
	for (i = 0; v[i] && i < sizeof(clean) - 1; i++)
		clean[i] =
			(v[i] == '\\' || v[i] == '\n' || (unsigned char)v[i] < 0x20) ? '_' : v[i];
	clean[i] = '\0';
	attr(r, name, "%s", clean);
}

/* Append the usb_device record for syspath with descriptor blob d. */
static void device_record(struct rec *r, const char *syspath, const char *sysname,
			  const char *devpath, unsigned busnum, unsigned devnum, const uint8_t *d,
			  size_t len, enum sim_speed speed, const char *mfr, const char *product,
			  const char *serial)
{
	unsigned vid = d[8] | d[9] << 8, pid = d[10] | d[11] << 8, bcd = d[12] | d[13] << 8;
	unsigned bcdusb = d[2] | d[3] << 8;
	const uint8_t *cfg = d + 18;

	g_string_append_printf(r->s, "P: %s\n", syspath + strlen("/sys"));
	prop(r, "SUBSYSTEM=usb");
	prop(r, "DEVNAME=/dev/bus/usb/%03u/%03u", busnum, devnum);
	prop(r, "DEVTYPE=usb_device");
	prop(r, "DRIVER=usb");
	prop(r, "PRODUCT=%x/%x/%x", vid, pid, bcd);
	prop(r, "TYPE=%u/%u/%u", d[4], d[5], d[6]);
	prop(r, "busnum=%03u", busnum);
	prop(r, "DEVNUM=%03u", devnum);
	prop(r, "MAJOR=189");
	prop(r, "MINOR=%u", (busnum - 1) * 128 + devnum - 1);
	prop(r, "ID_VENDOR_ID=%04x", vid);
	prop(r, "ID_MODEL_ID=%04x", pid);
	prop(r, "ID_REVISION=%04x", bcd);
	prop(r, "ID_BUS=usb");
	/* udevd stamps every device it first sees with CLOCK_MONOTONIC us (the
	 * kernel gives no arrival time); flashd reads it at coldplug.  The
	 * record is built right before its add uevent. */
	prop(r, "USEC_INITIALIZED=%" G_GINT64_FORMAT, g_get_monotonic_time());
	if (serial) {
		prop(r, "ID_SERIAL=%04x_%04x_%s", vid, pid, serial);
		prop(r, "ID_SERIAL_SHORT=%s", serial);
	}
	attr(r, "busnum", "%u", busnum);
	attr(r, "devnum", "%u", devnum);
	attr(r, "devpath", "%s", devpath);
	attr(r, "dev", "189:%u", (busnum - 1) * 128 + devnum - 1);
	attr(r, "speed", "%s", speed_text(speed));
	attr(r, "version", "%2x.%02x", bcdusb >> 8, bcdusb & 0xff);
	attr(r, "idVendor", "%04x", vid);
	attr(r, "idProduct", "%04x", pid);
	attr(r, "bcdDevice", "%04x", bcd);
	attr(r, "bDeviceClass", "%02x", d[4]);
	attr(r, "bDeviceSubClass", "%02x", d[5]);
	attr(r, "bDeviceProtocol", "%02x", d[6]);
	attr(r, "bMaxPacketSize0", "%u", d[7]);
	attr(r, "bNumConfigurations", "%u", d[17]);
	attr(r, "bConfigurationValue", "%u", len > 23 ? cfg[5] : 0);
	attr(r, "bNumInterfaces", "%2u", len > 22 ? cfg[4] : 0);
	attr(r, "bmAttributes", "%02x", len > 25 ? cfg[7] : 0);
	attr(r, "bMaxPower", "%umA", len > 26 ? cfg[8] * 2 : 0);
	attr(r, "authorized", "1");
	attr(r, "removable", "unknown");
	string_attr(r, "manufacturer", mfr);
	string_attr(r, "product", product);
	string_attr(r, "serial", serial);
	g_string_append(r->s, "H: descriptors=");
	for (size_t i = 0; i < len; i++)
		g_string_append_printf(r->s, "%02x", d[i]);
	g_string_append(r->s, "\n");
	(void)sysname;
}

/*
 * umockdev 0.17.16's uevent sender aborts when a client's event socket has
 * no listener (sendmsg_one: "cannot connect to client's event socket").
 * The shim names each socket event<fd>_<pid> and unlinks it at close and
 * exit; a client killed outright leaves it behind, so before every uevent we
 * unlink the sockets whose process is gone.
 */
/* Gone or a zombie: either way nobody reads its socket any more. */
static bool process_gone(pid_t pid)
{
	char path[64], buf[256], *p;
	FILE *f;
	bool zombie = false;

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	/* "pid (comm) S ...": the state follows the last ')'. */
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) && p[1] == ' ')
		zombie = p[2] == 'Z';
	fclose(f);
	return zombie;
}

static void sweep_dead_event_sockets(struct rig *r)
{
	GDir *dir = g_dir_open(r->root, 0, NULL);
	const char *name;

	if (!dir)
		return;
	while ((name = g_dir_read_name(dir))) {
		const char *us = strchr(name, '_');
		long pid;

		if (strncmp(name, "event", 5) || !us)
			continue;
		pid = strtol(us + 1, NULL, 10);
		if (pid > 0 && process_gone((pid_t)pid)) {
			g_autofree char *path = g_build_filename(r->root, name, NULL);

			unlink(path);
		}
	}
	g_dir_close(dir);
}

/*
 * umockdev's sender lists the event sockets, then connects to each: a client
 * closing its monitor in between (the shim unlinks the socket) made the
 * connect fail with ENOENT and umockdev abort.  Sends and the shim's unlinks
 * take the same flock (a fresh open per call: flock excludes per open file,
 * so threads exclude each other too).  Returns the lock fd, or -1 (then
 * unlocked, as before).
 */
static int event_lock(struct rig *r)
{
	g_autofree char *path = g_build_filename(r->root, FLASHSIM_EVENT_LOCK, NULL);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

	if (fd >= 0 && flock(fd, LOCK_EX) < 0) {
		close(fd);
		fd = -1;
	}
	if (fd >= 0)
		sweep_dead_event_sockets(r);
	return fd;
}

/* The shim only locks an existing file: its absence tells it the tree is
 * being removed (see testbed_free()). */
static int create_event_lock(struct rig *r)
{
	g_autofree char *path = g_build_filename(r->root, FLASHSIM_EVENT_LOCK, NULL);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

	if (fd < 0) {
		int err = -errno;

		rig_log("cannot create %s: %s", path, strerror(-err));
		return err;
	}
	close(fd);
	return 0;
}

static void event_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* drops the flock */
}

static int add_record(struct rig *r, GString *s)
{
	g_autoptr(GError) err = NULL;
	int lk = event_lock(r);
	bool ok;

	ok = umockdev_testbed_add_from_string(r->tb, s->str, &err);
	event_unlock(lk);
	if (!ok) {
		rig_log("cannot add device: %s", err->message);
		return -EIO;
	}
	return 0;
}

static void remove_record(struct rig *r, const char *path)
{
	int lk = event_lock(r);

	umockdev_testbed_uevent(r->tb, path, "remove");
	umockdev_testbed_remove_device(r->tb, path);
	event_unlock(lk);
}

/* The port directories of a hub: the kernel names them "<hub>-port<N>"
 * under the hub's interface (drivers/usb/core/port.c,
 * usb_hub_create_port_device: parent hub->intfdev, "%s-port%d"). */
static void port_dir(struct rig *r, const char *syspath, const char *sysname, unsigned port,
		     char *buf, size_t len)
{
	const char *devpath = strchr(sysname, '-') ? strchr(sysname, '-') + 1 : "0";
	unsigned bus = (unsigned)strtoul(sysname + strcspn(sysname, "0123456789"), NULL, 10);

	/* The interface is "<bus>-<devpath>:1.0" (message.c usb_set_configuration). */
	snprintf(buf, len, "%s%s/%u-%s:1.0/%s-port%u", r->root, syspath, bus, devpath, sysname,
		 port);
}

/*
 * The next free device number (one pool per host controller, for both its
 * buses in a USB3 rig), as the kernel picks it (cyclic,
 * skipping numbers still held, drivers/usb/core/hub.c choose_devnum()): a
 * long run re-enumerates boards hundreds of times and must not reuse a
 * number a plugged board or a hub still has (umockdev aborts on the node).
 * 0 if all 127 are taken.
 */
static unsigned take_devnum(struct rig *r, unsigned bus)
{
	unsigned hc = bus_hc(bus);

	for (unsigned i = 0; i < 127; i++) {
		unsigned n = (r->next_devnum[hc] - 1 + i) % 127 + 1;

		if (!r->devnum_used[hc][n]) {
			r->devnum_used[hc][n] = true;
			r->next_devnum[hc] = n % 127 + 1;
			return n;
		}
	}
	return 0;
}

/*
 * The devnum of a node path ".../dev/bus/usb/001/005" back to the pool.
 * umockdev 0.17.16's remove leaves the device's /sys/dev/char link and its
 * dev/.node entry behind, and its next add of that number aborts on them.
 */
static void release_devnum(struct rig *r, const char *devnode)
{
	const char *slash = strrchr(devnode, '/');
	unsigned n = slash ? (unsigned)strtoul(slash + 1, NULL, 10) : 0;
	unsigned bus = BUSNUM;
	char path[600];

	if (n == 0 || n > 127)
		return;
	/* ".../usb/002/005": the bus is the directory (SuperSpeed boards: bus 2). */
	if (slash - devnode >= 4 && slash[-4] == '/')
		bus = (unsigned)strtoul(slash - 3, NULL, 10);
	snprintf(path, sizeof(path), "%s/sys/dev/char/189:%u", r->root, (bus - 1) * 128 + n - 1);
	unlink(path);
	snprintf(path, sizeof(path), "%s/dev/.node/bus_usb_%03u_%03u", r->root, bus, n);
	unlink(path);
	r->devnum_used[bus_hc(bus)][n] = false;
}

/* Hubs and root hub: nodes are regular files holding the descriptors, so
 * read() works; nobody drives a hub. */
static int add_hub_dev(struct rig *r, unsigned busnum, const char *syspath, const char *sysname,
		       const char *devpath, const uint8_t *d, size_t len, const char *product)
{
	g_autoptr(GString) s = g_string_new(NULL);
	struct rec rec = { s };
	unsigned devnum = take_devnum(r, busnum);
	char node[512];
	int rr;

	if (!devnum)
		return -ENOSPC;
	snprintf(node, sizeof(node), "%s/dev/bus/usb/%03u", r->root, busnum);
	g_mkdir_with_parents(node, 0755);
	snprintf(node + strlen(node), sizeof(node) - strlen(node), "/%03u", devnum);
	if (!g_file_set_contents(node, (const char *)d, (gssize)len, NULL))
		return -EIO;
	device_record(&rec, syspath, sysname, devpath, busnum, devnum, d, len,
		      (d[2] | d[3] << 8) >= 0x300 ? SIM_SPEED_SUPER : SIM_SPEED_HIGH, "Linux",
		      product, NULL);
	attr(&rec, "maxchild", "%u", HUB_PORTS);
	rr = add_record(r, s);
	if (rr < 0)
		return rr;
	g_string_truncate(s, 0);
	g_string_append_printf(s, "P: %s/%u-%s:1.0\n", syspath + strlen("/sys"), busnum, devpath);
	prop(&rec, "SUBSYSTEM=usb");
	prop(&rec, "DEVTYPE=usb_interface");
	prop(&rec, "DRIVER=hub");
	prop(&rec, "INTERFACE=9/0/0");
	attr(&rec, "bInterfaceNumber", "00");
	attr(&rec, "bInterfaceClass", "09");
	rr = add_record(r, s);
	for (unsigned i = 1; rr == 0 && i <= HUB_PORTS; i++) {
		port_dir(r, syspath, sysname, i, node, sizeof(node));
		if (g_mkdir_with_parents(node, 0755) < 0)
			rr = -errno;
	}
	return rr;
}

/* The relative path from directory `from` to `to` (both absolute, below a
 * common directory), as sysfs writes its links. */
static void relative_path(const char *from, const char *to, char *buf, size_t len)
{
	size_t common = 0, n;

	for (size_t i = 0; from[i] && from[i] == to[i]; i++)
		if (from[i] == '/')
			common = i + 1;
	/* One "../" per component of `from` below the common directory. */
	n = (size_t)snprintf(buf, len, "../");
	for (const char *p = from + common; *p && n < len; p++)
		if (*p == '/')
			n += (size_t)snprintf(buf + n, len - n, "../");
	snprintf(buf + n, len > n ? len - n : 0, "%s", to + common);
}

/*
 * The two halves of a USB3 port: a "peer" link from each port directory to
 * the other (drivers/usb/core/port.c link_peers: sysfs_create_link(...,
 * "peer") both ways; Documentation/ABI/testing/sysfs-bus-usb,
 * .../<hub_interface>/port<X>/peer).
 */
static int link_peer_ports(struct rig *r, const char *syspath2, const char *name2,
			   const char *syspath3, const char *name3)
{
	char p2[512], p3[512], link[600], rel[600];

	for (unsigned i = 1; i <= HUB_PORTS; i++) {
		port_dir(r, syspath2, name2, i, p2, sizeof(p2));
		port_dir(r, syspath3, name3, i, p3, sizeof(p3));
		snprintf(link, sizeof(link), "%s/peer", p2);
		relative_path(p2, p3, rel, sizeof(rel));
		if (symlink(rel, link) < 0)
			return -errno;
		snprintf(link, sizeof(link), "%s/peer", p3);
		relative_path(p3, p2, rel, sizeof(rel));
		if (symlink(rel, link) < 0)
			return -errno;
	}
	return 0;
}

static bool scenario_uses_bus(const struct scenario *s, unsigned bus)
{
	for (size_t i = 0; i < s->n_boards; i++)
		if (port_bus(s->boards[i].port) == bus)
			return true;
	for (size_t i = 0; i < s->n_hubs; i++)
		if (port_bus(s->hubs[i]) == bus)
			return true;
	return false;
}

/* The second controller's root hubs: usb3 (bus 3) and, with "usb3", its
 * SuperSpeed half usb4 (bus 4), only when a scenario port is on bus 3, so
 * every other scenario's sysfs is as before. */
static int add_second_hc(struct rig *r)
{
	int rr = add_hub_dev(r, BUSNUM2, HCD2_SYSPATH "/usb3", "usb3", "0", root_hub_desc,
			     sizeof(root_hub_desc), "xHCI Host Controller");

	if (rr < 0 || !r->scn->usb3)
		return rr;
	rr = add_hub_dev(r, BUSNUM2 + 1, HCD2_SYSPATH "/usb4", "usb4", "0", ss_root_hub_desc,
			 sizeof(ss_root_hub_desc), "xHCI Host Controller");
	if (rr < 0)
		return rr;
	return link_peer_ports(r, HCD2_SYSPATH "/usb3", "usb3", HCD2_SYSPATH "/usb4", "usb4");
}

int testbed_new(struct rig *r)
{
	int rr;

	r->tb = umockdev_testbed_new();
	if (!r->tb)
		return -ENOMEM;
	if (!umockdev_in_mock_environment()) {
		rig_log("not running under libumockdev-preload");
		return -ENXIO;
	}
	r->root = umockdev_testbed_get_root_dir(r->tb);
	rr = create_event_lock(r);
	if (rr < 0)
		return rr;
	r->next_devnum[0] = r->next_devnum[1] = 1;
	rr = add_hub_dev(r, BUSNUM, HCD_SYSPATH "/usb1", "usb1", "0", root_hub_desc,
			 sizeof(root_hub_desc), "xHCI Host Controller");
	if (rr == 0 && r->scn->usb3) {
		rr = add_hub_dev(r, SS_BUSNUM, HCD_SYSPATH "/usb2", "usb2", "0", ss_root_hub_desc,
				 sizeof(ss_root_hub_desc), "xHCI Host Controller");
		if (rr == 0)
			rr = link_peer_ports(r, HCD_SYSPATH "/usb1", "usb1", HCD_SYSPATH "/usb2",
					     "usb2");
	}
	if (rr == 0 && scenario_uses_bus(r->scn, BUSNUM2))
		rr = add_second_hc(r);
	return rr;
}

/* The SuperSpeed peer of a USB2 port path: "1-1.2" -> "2-1.2" ("3-" -> "4-"). */
static void ss_port(const char *port, char *buf, size_t len)
{
	snprintf(buf, len, "%u%s", port_bus(port) + 1, port + strcspn(port, "-"));
}

int testbed_add_hub(struct rig *r, const char *port)
{
	char syspath[512], ss_syspath[512], ss[64];
	int rr;

	testbed_syspath(port, syspath, sizeof(syspath));
	rr = add_hub_dev(r, port_bus(port), syspath, port, strchr(port, '-') + 1, ext_hub_desc,
			 sizeof(ext_hub_desc), "USB2.0 Hub");
	if (rr < 0 || !r->scn->usb3)
		return rr;
	ss_port(port, ss, sizeof(ss));
	testbed_syspath(ss, ss_syspath, sizeof(ss_syspath));
	rr = add_hub_dev(r, port_bus(ss), ss_syspath, ss, strchr(ss, '-') + 1, ss_hub_desc,
			 sizeof(ss_hub_desc), "USB3.0 Hub");
	if (rr < 0)
		return rr;
	return link_peer_ports(r, syspath, port, ss_syspath, ss);
}

static void interface_records(struct rec *rec, const char *syspath, const char *sysname,
			      const uint8_t *d, size_t len)
{
	const uint8_t *p = d + 18, *end = d + len;
	unsigned vid = d[8] | d[9] << 8, pid = d[10] | d[11] << 8, bcd = d[12] | d[13] << 8;
	unsigned cfgval = len > 23 ? d[18 + 5] : 1;

	while (p + 2 <= end && p[0] >= 2 && p + p[0] <= end) {
		/* Alternate setting 0 only: sysfs shows the current altsetting. */
		if (p[1] == 4 && p[0] >= 9 && p[3] == 0) {
			g_string_append_printf(rec->s, "\nP: %s/%s:%u.%u\n",
					       syspath + strlen("/sys"), sysname, cfgval, p[2]);
			prop(rec, "SUBSYSTEM=usb");
			prop(rec, "DEVTYPE=usb_interface");
			prop(rec, "PRODUCT=%x/%x/%x", vid, pid, bcd);
			prop(rec, "TYPE=%u/%u/%u", d[4], d[5], d[6]);
			prop(rec, "INTERFACE=%u/%u/%u", p[5], p[6], p[7]);
			attr(rec, "bInterfaceNumber", "%02x", p[2]);
			attr(rec, "bAlternateSetting", "%2u", p[3]);
			attr(rec, "bNumEndpoints", "%02x", p[4]);
			attr(rec, "bInterfaceClass", "%02x", p[5]);
			attr(rec, "bInterfaceSubClass", "%02x", p[6]);
			attr(rec, "bInterfaceProtocol", "%02x", p[7]);
		}
		p += p[0];
	}
}

/*
 * Where the board enumerates: a SuperSpeed device links on the SuperSpeed
 * half of its port and appears on the SuperSpeed bus (the hub's USB 3.0
 * and USB 2.0 halves are separate devices, USB 3.2 §10.1), anything else on
 * the USB2 bus.  Sets cur_port, cur_syspath and *busnum; -EINVAL without a
 * SuperSpeed root hub.
 */
static int place_board(struct simdev *dev, enum sim_speed speed, unsigned *busnum)
{
	bool super = speed == SIM_SPEED_SUPER;

	if (super && !dev->rig->scn->usb3) {
		rig_log("%s: the board enumerates at SuperSpeed, the scenario has no \"usb3\": true",
			dev->cfg->id);
		return -EINVAL;
	}
	if (super)
		ss_port(dev->cfg->port, dev->cur_port, sizeof(dev->cur_port));
	else
		snprintf(dev->cur_port, sizeof(dev->cur_port), "%s", dev->cfg->port);
	testbed_syspath(dev->cur_port, dev->cur_syspath, sizeof(dev->cur_syspath));
	*busnum = port_bus(dev->cur_port);
	return 0;
}

int testbed_add_board(struct simdev *dev)
{
	struct rig *r = dev->rig;
	const struct sim_identity *id;
	g_autoptr(GString) s = g_string_new(NULL);
	g_autoptr(GString) intf = g_string_new(NULL);
	struct rec rec = { s }, irec = { intf };
	struct usbnode *node;
	uint8_t *blob;
	size_t len;
	unsigned busnum, devnum;
	int rr;

	pthread_mutex_lock(&dev->lock);
	id = sim_board_identity(dev->board);
	/* The kernel's generic driver selects the first configuration during
	 * enumeration (usb_choose_configuration); clients then find the device
	 * configured, and a GET_CONFIGURATION answers its value. */
	if (id->config_len >= 9) {
		struct sim_xfer cfg = { .type = SIM_XFER_CONTROL,
					.setup = { 0x00, 0x09, id->config_desc[5], 0, 0 } };

		sim_board_submit(dev->board, &cfg);
		id = sim_board_identity(dev->board);
	}
	len = 18 + id->config_len;
	blob = g_malloc(len);
	memcpy(blob, id->device_desc, 18);
	memcpy(blob + 18, id->config_desc, id->config_len);
	rr = place_board(dev, id->speed, &busnum);
	if (rr < 0) {
		pthread_mutex_unlock(&dev->lock);
		g_free(blob);
		return rr;
	}
	devnum = take_devnum(r, busnum);
	if (!devnum) {
		g_free(blob);
		pthread_mutex_unlock(&dev->lock);
		return -ENOSPC;
	}
	device_record(&rec, dev->cur_syspath, dev->cur_port, strchr(dev->cur_port, '-') + 1, busnum,
		      devnum, blob, len, id->speed, id->manufacturer, id->product, id->serial);
	interface_records(&irec, dev->cur_syspath, dev->cur_port, blob, len);
	if (intf->len && intf->str[0] == '\n')
		g_string_erase(intf, 0, 1);
	pthread_mutex_unlock(&dev->lock);

	/* Node and handler before the add uevent (gotcha 3). */
	rr = usbnode_new(dev, busnum, devnum, blob, len, id->speed, &node);
	g_free(blob);
	if (rr < 0)
		return rr;
	pthread_mutex_lock(&dev->lock);
	dev->node = node;
	dev->enumerations++;
	dev->plugged_at_ns = 0;
	dev->first_request_ns = 0;
	pthread_mutex_unlock(&dev->lock);
	rig_debug("%s: add %s at %s", dev->cfg->id, usbnode_devnode(node), dev->cur_port);
	/* The device first, alone: add_from_string() sends a record's add uevent
	 * right after writing its attributes, so the time after this call is when
	 * the device's uevent went out.  Its interfaces follow (as the kernel
	 * sends them); on a disk-backed /tmp their attribute files take
	 * milliseconds, which must not count as the client's latency. */
	rr = add_record(r, s);
	pthread_mutex_lock(&dev->lock);
	dev->plugged_at_ns = sched_now_ns();
	pthread_mutex_unlock(&dev->lock);
	if (rr < 0 || !intf->len)
		return rr;
	return add_record(r, intf);
}

void testbed_remove_board(struct simdev *dev)
{
	struct rig *r = dev->rig;
	struct usbnode *node;
	g_autofree char *prefix = NULL;
	GDir *dir;
	const char *name;
	char path[600];

	pthread_mutex_lock(&dev->lock);
	node = dev->node;
	dev->node = NULL;
	if (node)
		g_ptr_array_add(dev->old_nodes, node);
	pthread_mutex_unlock(&dev->lock);
	if (!node)
		return;
	rig_debug("%s: remove %s", dev->cfg->id, usbnode_devnode(node));
	/* Interfaces go first, as the kernel sends them. */
	prefix = g_strdup_printf("%s:", dev->cur_port);
	dir = g_dir_open(dev->cur_syspath, 0, NULL);
	while (dir && (name = g_dir_read_name(dir))) {
		if (!g_str_has_prefix(name, prefix))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dev->cur_syspath, name);
		remove_record(r, path);
	}
	if (dir)
		g_dir_close(dir);
	remove_record(r, dev->cur_syspath);
	release_devnum(r, usbnode_devnode(node));
	usbnode_detach(node);
}

void testbed_free(struct rig *r)
{
	/* umockdev removes the tree file by file and aborts on one gone under
	 * it: a client still exiting must not unlink its socket meanwhile. */
	int lk = r->tb ? event_lock(r) : -1;

	if (r->tb)
		g_object_unref(r->tb);
	event_unlock(lk);
	r->tb = NULL;
	g_free(r->root);
	r->root = NULL;
}
