/*
 * This file implements "flashctl devices": the boards on the station now,
 * one line each: port, slot, VID:PID, which boot ROM or loader it is, its
 * USB serial, the recipe that matches it (or why none does) and its state.
 * The station's answer to `dfu-util -l`, `fastboot devices` and the
 * Ingenic tool's `detect`.
 *
 *   flashctl devices [--recipes DIR] [--socket PATH] [--json]
 *
 * Devices come from udev (as flashd's coldplug sees them), recipes from the
 * recipe directory with the daemon's own matcher, state and slot from the
 * running daemon's status when it answers ("flashd not running" otherwise).
 */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <libudev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/flashctl.h"
#include "daemon/port-peer.h"
#include "jobs/recipe.h"

#define RECIPES_DEFAULT "/etc/flashd/recipes"
#define CONTROL_DEFAULT "/run/flashd/control"

/* What a VID:PID is (udev/70-flashd.rules; ../shared/docs protocol files). */
static const struct family {
	uint16_t vid, pid; /* pid 0: any */
	const char *what;
} families[] = {
	{ 0x0483, 0xdf11, "STM32 DfuSe ROM" },	    { 0x15a2, 0, "i.MX SDP ROM" },
	{ 0x1fc9, 0x0151, "i.MX SPL SDP gadget" },  { 0x1fc9, 0x0152, "i.MX SPL SDP gadget" },
	{ 0x1fc9, 0, "i.MX SDP/SDPS ROM" },	    { 0x0525, 0xb4a4, "U-Boot SPL SDP gadget" },
	{ 0x0525, 0xa4a5, "U-Boot fastboot" },	    { 0x18d1, 0x0d02, "U-Boot fastboot" },
	{ 0xa108, 0xc309, "Ingenic T-series ROM" }, { 0xa108, 0, "Ingenic ROM" },
};

static const char *family_of(uint16_t vid, uint16_t pid)
{
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
		if (families[i].vid == vid && (!families[i].pid || families[i].pid == pid))
			return families[i].what;
	return NULL;
}

static unsigned hex_attr(struct udev_device *d, const char *name)
{
	const char *s = udev_device_get_sysattr_value(d, name);

	return s ? (unsigned)strtoul(s, NULL, 16) : 0;
}

/* The daemon's entry for port, or NULL. */
static const cJSON *daemon_port(const cJSON *status, const char *port)
{
	const cJSON *p;

	cJSON_ArrayForEach(p, cJSON_GetObjectItem(status, "ports"))
	{
		const cJSON *path = cJSON_GetObjectItem(p, "port");

		if (cJSON_IsString(path) && !strcmp(path->valuestring, port))
			return p;
	}
	return NULL;
}

static const char *json_str(const cJSON *o, const char *key, const char *dflt)
{
	const cJSON *v = cJSON_GetObjectItem(o, key);

	return cJSON_IsString(v) && *v->valuestring ? v->valuestring : dflt;
}

struct devices_opts {
	const char *recipes, *socket;
	bool json;
};

/* One device: a row for the table or an object for --json. */
static int print_device(struct udev_device *d, const struct recipe_set *set, const cJSON *status,
			const struct devices_opts *o, cJSON *arr)
{
	char port[64];
	const char *serial = udev_device_get_sysattr_value(d, "serial");
	uint16_t vid = (uint16_t)hex_attr(d, "idVendor"), pid = (uint16_t)hex_attr(d, "idProduct");
	uint16_t bcd = (uint16_t)hex_attr(d, "bcdDevice");
	const char *what = family_of(vid, pid);
	const struct recipe *r = NULL;
	const cJSON *dp;
	char recipe[300], state[64], id[10];
	struct err e = { 0 };

	/* The physical port, as flashd names it (port-peer.h). */
	snprintf(port, sizeof(port), "%s", udev_device_get_sysname(d));
	port_peer_physical(d, port, sizeof(port));
	dp = daemon_port(status, port);
	if (!set)
		snprintf(recipe, sizeof(recipe), "(recipes not loaded)");
	else if (recipe_set_match(set, vid, pid, bcd, port, &r, &e) == 0)
		snprintf(recipe, sizeof(recipe), "%s", r->name);
	else if (!what)
		return 0; /* neither a known loader nor a recipe's: not a board */
	else
		snprintf(recipe, sizeof(recipe), "none: %s", e.msg);
	snprintf(state, sizeof(state), "%s",
		 !status ? "flashd not running" : json_str(dp, "state", "not seen by flashd"));
	snprintf(id, sizeof(id), "%04x:%04x", vid, pid);
	if (o->json) {
		cJSON *j = cJSON_CreateObject();

		if (!j)
			return -1;
		cJSON_AddStringToObject(j, "port", port);
		if (dp && json_str(dp, "slot", NULL))
			cJSON_AddStringToObject(j, "slot", json_str(dp, "slot", NULL));
		else
			cJSON_AddNullToObject(j, "slot");
		cJSON_AddStringToObject(j, "usb_id", id);
		cJSON_AddStringToObject(j, "what", what ? what : "");
		cJSON_AddStringToObject(j, "serial", serial ? serial : "");
		cJSON_AddStringToObject(j, "recipe", r ? r->name : "");
		cJSON_AddStringToObject(j, "recipe_error", r ? "" : recipe);
		cJSON_AddStringToObject(j, "state", state);
		cJSON_AddItemToArray(arr, j);
		return 0;
	}
	printf("%-12s %-5s %-9s  %-22s %-24s %-20s %s\n", port, json_str(dp, "slot", "-"), id,
	       what ? what : "-", serial && *serial ? serial : "-", state, recipe);
	return 0;
}

static cJSON *daemon_status(const char *socket)
{
	char *text = flashctl_status_fetch(socket);
	cJSON *j = text ? cJSON_Parse(text) : NULL;

	free(text);
	return j;
}

int flashctl_cmd_devices(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "recipes", required_argument, NULL, 'r' },
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{},
	};
	struct devices_opts o = { .recipes = RECIPES_DEFAULT, .socket = CONTROL_DEFAULT };
	struct recipe_diags diags = RECIPE_DIAGS_INIT;
	struct recipe_set *set = NULL;
	struct udev *udev;
	struct udev_enumerate *en;
	struct udev_list_entry *it;
	cJSON *status, *arr = NULL;
	int c, rc = FLASHCTL_EXIT_OK;

	if (getenv("FLASHD_CONTROL"))
		o.socket = getenv("FLASHD_CONTROL");
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
		if (c == 'r')
			o.recipes = optarg;
		else if (c == 's')
			o.socket = optarg;
		else if (c == 'j')
			o.json = true;
		else {
			fprintf(stderr,
				"usage: flashctl devices [--recipes DIR] [--socket PATH] [--json]\n");
			return FLASHCTL_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "flashctl devices: unexpected argument '%s'\n", argv[optind]);
		return FLASHCTL_EXIT_USAGE;
	}
	/* Refused recipes do not stop the listing: their boards say "none". */
	if (recipe_set_load_dir(o.recipes, &set, &diags) < 0)
		fprintf(stderr, "flashctl devices: cannot read recipes from '%s'\n", o.recipes);
	recipe_diags_release(&diags);
	status = daemon_status(o.socket);

	udev = udev_new();
	en = udev ? udev_enumerate_new(udev) : NULL;
	if (!en || udev_enumerate_add_match_subsystem(en, "usb") < 0 ||
	    udev_enumerate_add_match_property(en, "DEVTYPE", "usb_device") < 0 ||
	    udev_enumerate_scan_devices(en) < 0) {
		fprintf(stderr, "flashctl devices: cannot enumerate USB devices through udev\n");
		rc = FLASHCTL_EXIT_ERROR;
		goto out;
	}
	if (o.json)
		arr = cJSON_CreateArray();
	else
		printf("%-12s %-5s %-9s  %-22s %-24s %-20s %s\n", "PORT", "SLOT", "USB ID", "WHAT",
		       "USB SERIAL", "STATE", "RECIPE");
	udev_list_entry_foreach(it, udev_enumerate_get_list_entry(en))
	{
		struct udev_device *d =
			udev_device_new_from_syspath(udev, udev_list_entry_get_name(it));

		if (!d)
			continue;
		/* Root hubs ("usb1") have no port path. */
		if (strchr(udev_device_get_sysname(d), '-'))
			print_device(d, set, status, &o, arr);
		udev_device_unref(d);
	}
	if (arr) {
		char *t = cJSON_Print(arr);

		if (t)
			puts(t);
		free(t);
	}
out:
	cJSON_Delete(arr);
	cJSON_Delete(status);
	udev_enumerate_unref(en);
	udev_unref(udev);
	recipe_set_free(set);
	return rc;
}
