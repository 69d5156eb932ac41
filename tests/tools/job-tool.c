/*
 * job-tool: runs one recipe on the board at one port, the way flashd's job
 * runner does, without the daemon around it.  For the job-runner tests under
 * flashsim:
 *
 *   job-tool --db FILE --recipe FILE --port 1-1 [--deadline-pct N] [--wait-ms N]
 *
 * It waits (up to --wait-ms) for the port's device to show up in udev, runs
 * the job, hands re-enumerated devices to it, and exits 0 on pass, 1 on
 * fail, 3 on interrupted, 2 on usage or setup errors.  The database row is
 * what the tests check.
 */
#include <errno.h>
#include <getopt.h>
#include <libudev.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "db/db.h"
#include "jobs/job.h"
#include "jobs/recipe.h"

struct tool {
	volatile int done;
	enum job_result result;
	pthread_mutex_t lock;
};

static void on_done(void *ud, enum job_result result, const char *failed_stage, const char *error)
{
	struct tool *t = ud;

	printf("result %s%s%s%s%s\n", job_result_name(result), failed_stage ? " stage=" : "",
	       failed_stage ? failed_stage : "", error ? " error=" : "", error ? error : "");
	pthread_mutex_lock(&t->lock);
	t->result = result;
	t->done = 1;
	pthread_mutex_unlock(&t->lock);
}

static bool device_from_udev(struct udev_device *d, struct job_device *dev)
{
	const char *node = udev_device_get_devnode(d), *name = udev_device_get_sysname(d);
	const char *product = udev_device_get_property_value(d, "PRODUCT");
	const char *serial = udev_device_get_sysattr_value(d, "serial");
	unsigned vid, pid, bcd = 0;

	if (!node || !product || sscanf(product, "%x/%x/%x", &vid, &pid, &bcd) < 2)
		return false;
	*dev = (struct job_device){ .vid = (uint16_t)vid,
				    .pid = (uint16_t)pid,
				    .bcd = (uint16_t)bcd };
	snprintf(dev->port, sizeof(dev->port), "%s", name);
	snprintf(dev->devnode, sizeof(dev->devnode), "%s", node);
	snprintf(dev->usb_serial, sizeof(dev->usb_serial), "%s", serial ? serial : "");
	return true;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	const char *db_path = NULL, *recipe_path = NULL, *port = NULL;
	unsigned deadline_pct = 100, wait_ms = 5000;
	struct recipe_diags diags = RECIPE_DIAGS_INIT;
	struct tool t = { .lock = PTHREAD_MUTEX_INITIALIZER };
	pthread_mutex_t db_lock = PTHREAD_MUTEX_INITIALIZER;
	static const struct option opts[] = {
		{ "db", 1, NULL, 'd' },	     { "recipe", 1, NULL, 'r' },
		{ "port", 1, NULL, 'p' },    { "deadline-pct", 1, NULL, 'D' },
		{ "wait-ms", 1, NULL, 'w' }, {}
	};
	struct udev *udev;
	struct udev_monitor *mon;
	struct udev_device *d;
	struct job_device dev;
	struct recipe *recipe = NULL;
	struct db *db = NULL;
	struct image_cache *images = NULL;
	libusb_context *usb = NULL;
	struct job *job = NULL;
	struct err e = { 0 };
	uint64_t t0;
	int c, rc = 2;
	bool found = false;
	char syspath[256];

	log_set_stderr(1);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
		switch (c) {
		case 'd':
			db_path = optarg;
			break;
		case 'r':
			recipe_path = optarg;
			break;
		case 'p':
			port = optarg;
			break;
		case 'D':
			deadline_pct = (unsigned)atoi(optarg);
			break;
		case 'w':
			wait_ms = (unsigned)atoi(optarg);
			break;
		default:
			return 2;
		}
	}
	if (!db_path || !recipe_path || !port) {
		fprintf(stderr, "usage: job-tool --db FILE --recipe FILE --port PATH\n");
		return 2;
	}
	if (recipe_load(recipe_path, &recipe, &diags) < 0) {
		for (size_t i = 0; i < diags.n; i++)
			fprintf(stderr, "%s\n", diags.msgs[i]);
		recipe_diags_release(&diags);
		return 2;
	}
	if (db_open(db_path, DB_OPEN_CREATE, &db, &e) < 0) {
		fprintf(stderr, "job-tool: %s\n", e.msg);
		goto out;
	}
	if (image_cache_new(&images) < 0 || libusb_init(&usb) < 0)
		goto out;

	/* The monitor first, then the look-up: no arrival can fall between. */
	udev = udev_new();
	mon = udev_monitor_new_from_netlink(udev, "udev");
	udev_monitor_filter_add_match_subsystem_devtype(mon, "usb", "usb_device");
	udev_monitor_enable_receiving(mon);
	snprintf(syspath, sizeof(syspath), "/sys/bus/usb/devices/%s", port);
	/* Coldplug: a board plugged before we started; otherwise its add uevent,
	 * which comes after all of its sysfs attributes are written. */
	d = udev_device_new_from_syspath(udev, syspath);
	if (d) {
		found = device_from_udev(d, &dev);
		udev_device_unref(d);
	}
	t0 = mono_ms();
	while (!found && mono_ms() - t0 < wait_ms) {
		struct pollfd p = { udev_monitor_get_fd(mon), POLLIN, 0 };

		poll(&p, 1, 50);
		while ((d = udev_monitor_receive_device(mon))) {
			const char *action = udev_device_get_action(d);

			if (!found && action && !strcmp(action, "add") &&
			    !strcmp(udev_device_get_sysname(d), port))
				found = device_from_udev(d, &dev);
			udev_device_unref(d);
		}
	}
	if (!found) {
		fprintf(stderr, "job-tool: no device on port '%s'\n", port);
		goto out_udev;
	}

	struct job_env env = { .usb = usb,
			       .db = db,
			       .db_lock = &db_lock,
			       .images = images,
			       .station = "test-station",
			       .version = "test",
			       .deadline_pct = deadline_pct };
	struct job_observer obs = { .userdata = &t, .done = on_done };

	if (job_new(&env, recipe, &dev, NULL, &obs, &job) < 0 || job_start(job, &e) < 0) {
		fprintf(stderr, "job-tool: %s\n", e.msg);
		goto out_udev;
	}
	printf("unit %lld serial '%s' devnode %s\n", (long long)job_unit_id(job), dev.usb_serial,
	       dev.devnode);
	for (;;) {
		struct pollfd p = { udev_monitor_get_fd(mon), POLLIN, 0 };
		int done;

		pthread_mutex_lock(&t.lock);
		done = t.done;
		pthread_mutex_unlock(&t.lock);
		if (done)
			break;
		job_check_deadline(job, mono_ms());
		if (poll(&p, 1, 50) > 0) {
			while ((d = udev_monitor_receive_device(mon))) {
				const char *action = udev_device_get_action(d);

				if (!strcmp(udev_device_get_sysname(d), port) && action) {
					if (!strcmp(action, "remove"))
						job_device_gone(job);
					else if (!strcmp(action, "add") &&
						 device_from_udev(d, &dev))
						job_device_arrived(job, &dev);
				}
				udev_device_unref(d);
			}
		}
	}
	job_join(job);
	rc = t.result == JOB_PASS ? 0 : t.result == JOB_FAIL ? 1 : 3;
	job_free(job);
out_udev:
	udev_monitor_unref(mon);
	udev_unref(udev);
out:
	if (usb)
		libusb_exit(usb);
	image_cache_free(images);
	db_close(db);
	recipe_free(recipe);
	return rc;
}
