/*
 * This file implements the job's device session: opening the unit's USB
 * device by its device node and closing it again.
 *
 * The node is opened with open(2) and handed to libusb_wrap_sys_device(),
 * so flashd never scans the bus and never touches a device that is not the
 * one udev reported on this port.  Right after plug-in the first open can
 * fail transiently (BUSY/ACCESS while udev applies the rules, NO_DEVICE
 * while the kernel finishes enumeration: test-rigs.md §5.2), so it is
 * retried a bounded number of times.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "jobs/job-private.h"

/* Attempts and first back-off for the first open: 5 tries, 50..800 ms. */
#define JOB_OPEN_TRIES 5
#define JOB_OPEN_BACKOFF_MS 50

static bool open_error_is_transient(int r)
{
	return r == -EBUSY || r == -EACCES || r == -ENODEV || r == -ENOENT;
}

static int open_once(struct job *j, struct err *e)
{
	libusb_device_handle *h = NULL;
	uint8_t intf = 0;
	int fd, r;

	/* Options set on the NULL context (NO_DEVICE_DISCOVERY) apply to new
	 * contexts too, so this scans nothing. */
	if (!j->s.ctx && libusb_init(&j->s.ctx) < 0)
		j->s.ctx = NULL;
	fd = open(j->cur.devnode, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, -errno, "open '%s': %s", j->cur.devnode, strerror(errno));
	r = usb_errno(libusb_wrap_sys_device(j->s.ctx ? j->s.ctx : j->env->usb, (intptr_t)fd, &h));
	if (r < 0) {
		close(fd);
		return err_set(e, r, "libusb cannot use '%s': %s", j->cur.devnode, strerror(-r));
	}
	r = usb_first_interface(h, &intf);
	if (r < 0) {
		libusb_close(h);
		close(fd);
		return err_set(e, r, "reading the configuration of '%s': %s", j->cur.devnode,
			       strerror(-r));
	}
	j->s.fd = fd;
	j->s.handle = h;
	usb_dev_init(&j->s.usb, h, intf);
	j->s.usb.cancel = &j->cancel;
	j->s.usb.phase = job_phase_cb;
	j->s.usb.phase_ud = j;
	return 0;
}

int job_session_open(struct job *j, struct err *e)
{
	unsigned backoff =
		JOB_OPEN_BACKOFF_MS * (j->env->deadline_pct ? j->env->deadline_pct : 100) / 100;
	int r = 0;

	if (j->s.handle)
		return 0;
	for (int i = 0; i < JOB_OPEN_TRIES; i++) {
		r = open_once(j, e);
		if (r >= 0 || !open_error_is_transient(r))
			break;
		if (usb_sleep_ms(&j->s.usb, backoff, NULL) < 0 || atomic_load(&j->cancel))
			break;
		backoff *= 2;
	}
	if (r < 0)
		err_prefix(e, r, "port %s", j->cur.port);
	return r;
}

void job_session_close(struct job *j)
{
	j->s.dfuse = dfuse_close(j->s.dfuse);
	switch (j->s.family) {
	case JOB_SESSION_IMX:
		job_imx_session_close(j->s.proto.imx);
		break;
	case JOB_SESSION_INGENIC:
		job_ingenic_session_close(j->s.proto.ingenic);
		break;
	case JOB_SESSION_NONE:
		break;
	}
	j->s.family = JOB_SESSION_NONE;
	memset(&j->s.proto, 0, sizeof(j->s.proto));
	if (j->s.handle)
		libusb_close(j->s.handle);
	j->s.handle = NULL;
	if (j->s.fd >= 0)
		close(j->s.fd);
	j->s.fd = -1;
	if (j->s.ctx)
		libusb_exit(j->s.ctx);
	j->s.ctx = NULL;
}
