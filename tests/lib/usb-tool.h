/*
 * Shared by the engine test tools in tests/tools/ (dfuse-tool, imx-tool,
 * ingenic-tool): find a device by its port path the way dfu-util -p and the
 * flashsim scenarios write it ("1-1.2.3"), open it, and map image files.
 * Header-only: each tool is one program.  ingenic-raw deliberately does not
 * use it (it shares no code with flashd's side of the protocol).
 */
#ifndef FLASHD_TESTS_USB_TOOL_H
#define FLASHD_TESTS_USB_TOOL_H

#include <errno.h>
#include <fcntl.h>
#include <libusb.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "protocols/usb.h"

/* Print the tools' one error line (what the test scripts grep:
 * "error=ENAME code=-N msg=WHAT: message") and return exit status 1. */
static inline int tool_fail(const char *what, int code, const struct err *e)
{
	const char *name = strerrorname_np(-code);

	printf("error=%s code=%d msg=%s: %s\n", name ? name : "?", code, what,
	       e && e->msg[0] ? e->msg : strerror(-code));
	fflush(stdout);
	return 1;
}

/* "bus-port.port..." of dev. */
static inline void tool_port_path(libusb_device *dev, char *buf, size_t size)
{
	uint8_t ports[8];
	int n = libusb_get_port_numbers(dev, ports, sizeof(ports));
	size_t o = (size_t)snprintf(buf, size, "%u", libusb_get_bus_number(dev));

	for (int i = 0; i < n && o < size; i++)
		o += (size_t)snprintf(buf + o, size - o, "%c%u", i ? '.' : '-', ports[i]);
}

/* First interface with class (cls, sub, proto) of dev; sub/proto -1 = any; -1 if none. */
static inline int tool_find_intf(libusb_device *dev, int cls, int sub, int proto)
{
	struct libusb_config_descriptor *cfg;
	int found = -1;

	if (libusb_get_active_config_descriptor(dev, &cfg) < 0)
		return -1;
	for (int i = 0; i < cfg->bNumInterfaces && found < 0; i++) {
		const struct libusb_interface_descriptor *a = &cfg->interface[i].altsetting[0];

		if (a->bInterfaceClass == cls && (sub < 0 || a->bInterfaceSubClass == sub) &&
		    (proto < 0 || a->bInterfaceProtocol == proto))
			found = a->bInterfaceNumber;
	}
	libusb_free_config_descriptor(cfg);
	return found;
}

/*
 * Open the first device at `port` (NULL: any) that want() accepts; want()
 * returns the interface number to use, or < 0 to skip the device.
 * Returns 0 with *ret (and *ret_intf, *ret_dd if not NULL), or -errno
 * (-ENODEV when nothing matched).
 */
static inline int tool_open_port(libusb_context *ctx, const char *port,
				 int (*want)(libusb_device *dev, void *ud), void *ud,
				 libusb_device_handle **ret, int *ret_intf,
				 struct libusb_device_descriptor *ret_dd)
{
	libusb_device **list;
	ssize_t n = libusb_get_device_list(ctx, &list);
	int r = -ENODEV;

	for (ssize_t i = 0; i < n; i++) {
		char path[64];
		int intf;

		tool_port_path(list[i], path, sizeof(path));
		if (port && strcmp(path, port) != 0)
			continue;
		intf = want(list[i], ud);
		if (intf < 0)
			continue;
		if (ret_dd)
			libusb_get_device_descriptor(list[i], ret_dd);
		r = usb_errno(libusb_open(list[i], ret));
		if (r == 0 && ret_intf)
			*ret_intf = intf;
		break;
	}
	if (n >= 0)
		libusb_free_device_list(list, 1);
	return r;
}

/* A read-only mapping of a whole file. */
struct tool_map {
	uint8_t *data;
	size_t len;
};

static inline int tool_map_file(const char *path, struct tool_map *m)
{
	struct stat st;
	int fd, r = 0;

	*m = (struct tool_map){ 0 };
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	m->len = (size_t)st.st_size;
	m->data = m->len ? mmap(NULL, m->len, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
	if (m->len && m->data == MAP_FAILED)
		r = -errno;
	close(fd);
	if (r < 0)
		*m = (struct tool_map){ 0 };
	return r;
}

static inline void tool_unmap(struct tool_map *m)
{
	if (m->len && m->data)
		munmap(m->data, m->len);
	*m = (struct tool_map){ 0 };
}

#endif
