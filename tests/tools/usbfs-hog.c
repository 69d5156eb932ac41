/*
 * This file implements usbfs-hog, a test client that holds usbfs memory:
 * it submits one bulk IN of N bytes to a device that will not answer it
 * (an i.MX in U-Boot fastboot waits for a command first) and keeps it in
 * flight until stdin closes or SIGTERM, as another program on the host
 * would.  usbfs charges the URB's buffer against usbcore.usbfs_memory_mb
 * while it is in flight (drivers/usb/core/devio.c), so what is left for
 * everyone else is known (tests/sim/test-usbfs-memory.sh).  libusb and
 * libc only.
 *
 *   usbfs-hog -p PORT -n BYTES [-e EP]
 *
 * Prints "held BYTES" once the URB is submitted.  Exit: 0, 1 on a libusb
 * error, 2 usage, 3 no device on PORT.
 */
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libusb.h>

/* "1-1.2.3" of a device: bus, then the port numbers. */
static void port_path(libusb_device *dev, char *buf, size_t size)
{
	uint8_t ports[8];
	int n = libusb_get_port_numbers(dev, ports, sizeof(ports));
	size_t o = (size_t)snprintf(buf, size, "%u", libusb_get_bus_number(dev));

	for (int i = 0; i < n && o < size; i++)
		o += (size_t)snprintf(buf + o, size - o, "%c%u", i ? '.' : '-', ports[i]);
}

static libusb_device_handle *open_port(libusb_context *ctx, const char *port)
{
	libusb_device **list;
	libusb_device_handle *h = NULL;
	ssize_t n = libusb_get_device_list(ctx, &list);
	char path[64];

	for (ssize_t i = 0; i < n && !h; i++) {
		port_path(list[i], path, sizeof(path));
		if (strcmp(path, port) == 0 && libusb_open(list[i], &h) < 0)
			h = NULL;
	}
	if (n >= 0)
		libusb_free_device_list(list, 1);
	return h;
}

static void LIBUSB_CALL on_done(struct libusb_transfer *t)
{
	*(int *)t->user_data = 1;
}

int main(int argc, char **argv)
{
	const char *port = NULL;
	long bytes = 0;
	unsigned ep = 0x81;
	libusb_context *ctx;
	libusb_device_handle *h;
	struct libusb_transfer *t;
	unsigned char *buf;
	int opt, done = 0, r;

	while ((opt = getopt(argc, argv, "p:n:e:")) != -1) {
		if (opt == 'p')
			port = optarg;
		else if (opt == 'n')
			bytes = strtol(optarg, NULL, 0);
		else if (opt == 'e')
			ep = (unsigned)strtoul(optarg, NULL, 0);
		else
			return 2;
	}
	if (!port || bytes <= 0 || bytes > (64L << 20)) {
		fprintf(stderr, "usage: usbfs-hog -p PORT -n BYTES [-e EP]\n");
		return 2;
	}
	if (libusb_init(&ctx) < 0)
		return 1;
	h = open_port(ctx, port);
	if (!h) {
		fprintf(stderr, "usbfs-hog: no device on port %s\n", port);
		return 3;
	}
	buf = malloc((size_t)bytes);
	t = libusb_alloc_transfer(0);
	if (!buf || !t || libusb_claim_interface(h, 0) < 0)
		return 1;
	libusb_fill_bulk_transfer(t, h, (unsigned char)ep, buf, (int)bytes, on_done, &done, 0);
	r = libusb_submit_transfer(t);
	if (r < 0) {
		fprintf(stderr, "usbfs-hog: submit: %s\n", libusb_strerror(r));
		return 1;
	}
	printf("held %ld\n", bytes);
	fflush(stdout);
	/* Until stdin closes (or a signal ends the process). */
	for (;;) {
		struct pollfd p = { .fd = 0, .events = POLLIN };
		struct timeval tv = { 0, 100000 };
		char c;

		libusb_handle_events_timeout_completed(ctx, &tv, &done);
		if (done || (poll(&p, 1, 0) > 0 && read(0, &c, 1) <= 0))
			break;
	}
	if (!done) {
		libusb_cancel_transfer(t);
		while (!done)
			libusb_handle_events_completed(ctx, &done);
	}
	libusb_free_transfer(t);
	free(buf);
	libusb_release_interface(h, 0);
	libusb_close(h);
	libusb_exit(ctx);
	return 0;
}
