/*
 * This file implements the dump directory written when the command exits:
 * memory images, their SHA-256 and per-board counters in summary.json.
 */
#include "tests/sim/dump.h"
#include "tests/sim/hubbw.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static int write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "we");

	if (!f)
		return -errno;
	if (len && fwrite(data, 1, len, f) != len) {
		fclose(f);
		return -EIO;
	}
	return fclose(f) ? -errno : 0;
}

static cJSON *board_json(struct simdev *d, const char *dir, int *err)
{
	cJSON *o = cJSON_CreateObject(), *mem = cJSON_CreateObject(), *faults = cJSON_CreateArray();
	struct sim_board_stats st;
	const uint8_t *data;
	const char *name, *f;
	size_t len;
	char path[1024];

	pthread_mutex_lock(&d->lock);
	cJSON_AddStringToObject(o, "id", d->cfg->id);
	cJSON_AddStringToObject(o, "type", d->cfg->type);
	cJSON_AddStringToObject(o, "port", d->cfg->port);
	cJSON_AddStringToObject(o, "state", sim_board_state(d->board));
	cJSON_AddBoolToObject(o, "on_bus", d->node != NULL);
	cJSON_AddNumberToObject(o, "enumerations", d->enumerations);
	for (unsigned i = 0; sim_board_memory(d->board, i, &name, &data, &len); i++) {
		g_autofree char *sum = g_compute_checksum_for_data(G_CHECKSUM_SHA256, data, len);
		cJSON *m = cJSON_CreateObject();

		cJSON_AddStringToObject(m, "sha256", sum);
		cJSON_AddNumberToObject(m, "size", (double)len);
		cJSON_AddItemToObject(mem, name, m);
		if (dir) {
			int r;

			snprintf(path, sizeof(path), "%s/%s.%s.bin", dir, d->cfg->id, name);
			r = write_file(path, data, len);
			if (r < 0) {
				rig_log("cannot write '%s': %s", path, strerror(-r));
				*err = r;
			}
		}
	}
	cJSON_AddItemToObject(o, "memories", mem);
	sim_board_stats(d->board, &st);
	cJSON_AddNumberToObject(o, "requests", (double)st.requests);
	cJSON_AddNumberToObject(o, "bytes_in", (double)st.bytes_in);
	cJSON_AddNumberToObject(o, "bytes_out", (double)st.bytes_out);
	cJSON_AddNumberToObject(o, "forbidden", st.forbidden);
	cJSON_AddNumberToObject(o, "ioctls", (double)d->ioctls);
	/* CLOCK_MONOTONIC ns; exact in a double below 2^53 ns (104 days of uptime). */
	if (d->plugged_at_ns)
		cJSON_AddNumberToObject(o, "plugged_at_ns", (double)d->plugged_at_ns);
	else
		cJSON_AddNullToObject(o, "plugged_at_ns");
	if (d->first_request_ns)
		cJSON_AddNumberToObject(o, "first_request_ns", (double)d->first_request_ns);
	else
		cJSON_AddNullToObject(o, "first_request_ns");
	for (unsigned i = 0; (f = sim_board_fault_log(d->board, i)); i++)
		cJSON_AddItemToArray(faults, cJSON_CreateString(f));
	cJSON_AddItemToObject(o, "faults_fired", faults);
	pthread_mutex_unlock(&d->lock);
	return o;
}

/* The shared-bus model's links that carried traffic (README "Shared bus"). */
static cJSON *hubs_json(struct hubbw *h)
{
	cJSON *a = cJSON_CreateArray();
	struct hubbw_stat st;

	for (size_t i = 0; hubbw_stat(h, i, &st); i++) {
		cJSON *o;

		if (!st.bytes)
			continue;
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "link", st.name);
		cJSON_AddNumberToObject(o, "capacity", st.capacity);
		cJSON_AddNumberToObject(o, "bytes", (double)st.bytes);
		cJSON_AddNumberToObject(o, "busy_ns", (double)st.busy_ns);
		cJSON_AddNumberToObject(o, "wait_ns", (double)st.wait_ns);
		cJSON_AddNumberToObject(o, "first_ns", (double)st.first_ns);
		cJSON_AddNumberToObject(o, "last_ns", (double)st.last_ns);
		cJSON_AddItemToArray(a, o);
	}
	return a;
}

int dump_write(struct rig *r, const char *dir, int child_status)
{
	cJSON *root = cJSON_CreateObject(), *boards = cJSON_CreateArray();
	char path[1024];
	char *text;
	int err = 0, rr;

	if (dir && g_mkdir_with_parents(dir, 0755) < 0) {
		rr = -errno;
		rig_log("cannot create dump dir '%s': %s", dir, strerror(-rr));
		cJSON_Delete(root);
		cJSON_Delete(boards);
		return rr;
	}
	cJSON_AddNumberToObject(root, "command_status", child_status);
	cJSON_AddNumberToObject(root, "time_scale", r->scn->time_scale);
	for (size_t i = 0; i < r->n_devs; i++)
		cJSON_AddItemToArray(boards, board_json(&r->devs[i], dir, &err));
	cJSON_AddItemToObject(root, "boards", boards);
	if (r->hubbw)
		cJSON_AddItemToObject(root, "hub_links", hubs_json(r->hubbw));
	if (dir) {
		text = cJSON_Print(root);
		snprintf(path, sizeof(path), "%s/summary.json", dir);
		rr = text ? write_file(path, text, strlen(text)) : -ENOMEM;
		if (rr < 0) {
			rig_log("cannot write '%s': %s", path, strerror(-rr));
			err = rr;
		}
		cJSON_free(text);
	}
	cJSON_Delete(root);
	return err;
}
