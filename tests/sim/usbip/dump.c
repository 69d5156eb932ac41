/*
 * This file implements --out DIR: each board's memories as
 * <id>.<memory>.bin and summary.json with flashsim's per-board fields
 * (tests/sim/README.md "Dump") plus the USB/IP ones (usbip/README.md).
 */
#include "tests/sim/usbip/usbip-sim.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/sim/usbip/sha256.h"

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

static cJSON *board_json(struct port *p, const char *dir, int *err)
{
	cJSON *o = cJSON_CreateObject(), *mem = cJSON_CreateObject();
	cJSON *faults = cJSON_CreateArray(), *log = cJSON_CreateArray();
	char path[1024], sum[SHA256_HEX_LEN];
	struct sim_board_stats st;
	const uint8_t *data;
	const char *name, *f;
	size_t len;

	pthread_mutex_lock(&p->lock);
	cJSON_AddStringToObject(o, "id", p->cfg->id);
	cJSON_AddStringToObject(o, "type", p->cfg->type);
	cJSON_AddStringToObject(o, "port", p->cfg->port);
	cJSON_AddNumberToObject(o, "vhci_port", p->vport);
	cJSON_AddStringToObject(o, "state", sim_board_state(p->board));
	cJSON_AddBoolToObject(o, "on_bus", p->on_bus_at_exit);
	cJSON_AddNumberToObject(o, "enumerations", p->enumerations);
	for (unsigned i = 0; sim_board_memory(p->board, i, &name, &data, &len); i++) {
		cJSON *m = cJSON_CreateObject();
		int r;

		sha256_hex(data, len, sum);
		cJSON_AddStringToObject(m, "sha256", sum);
		cJSON_AddNumberToObject(m, "size", (double)len);
		cJSON_AddItemToObject(mem, name, m);
		snprintf(path, sizeof(path), "%s/%s.%s.bin", dir, p->cfg->id, name);
		r = write_file(path, data, len);
		if (r < 0) {
			app_log("cannot write '%s': %s", path, strerror(-r));
			*err = r;
		}
	}
	cJSON_AddItemToObject(o, "memories", mem);
	sim_board_stats(p->board, &st);
	cJSON_AddNumberToObject(o, "requests", (double)st.requests);
	cJSON_AddNumberToObject(o, "bytes_in", (double)st.bytes_in);
	cJSON_AddNumberToObject(o, "bytes_out", (double)st.bytes_out);
	cJSON_AddNumberToObject(o, "forbidden", st.forbidden);
	for (unsigned i = 0; (f = sim_board_fault_log(p->board, i)); i++)
		cJSON_AddItemToArray(faults, cJSON_CreateString(f));
	cJSON_AddItemToObject(o, "faults_fired", faults);
	cJSON_AddNumberToObject(o, "requests_after_config", (double)p->after_config);
	cJSON_AddNumberToObject(o, "kernel_requests_after_config", (double)p->after_config_kernel);
	for (unsigned i = 0; i < p->n_after_config_log; i++)
		cJSON_AddItemToArray(log, cJSON_CreateString(p->after_config_log[i]));
	cJSON_AddItemToObject(o, "after_config_log", log);
	pthread_mutex_unlock(&p->lock);
	return o;
}

int usim_dump(struct app *a, const char *dir)
{
	cJSON *root = cJSON_CreateObject(), *boards = cJSON_CreateArray();
	char path[1024];
	char *text;
	int err = 0, r;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		r = -errno;
		app_log("cannot create '%s': %s", dir, strerror(-r));
		cJSON_Delete(root);
		cJSON_Delete(boards);
		return r;
	}
	cJSON_AddNumberToObject(root, "time_scale", a->scn->time_scale);
	cJSON_AddNumberToObject(root, "rig_error", a->rig_error);
	for (size_t i = 0; i < a->n_ports; i++)
		cJSON_AddItemToArray(boards, board_json(&a->ports[i], dir, &err));
	cJSON_AddItemToObject(root, "boards", boards);
	text = cJSON_Print(root);
	snprintf(path, sizeof(path), "%s/summary.json", dir);
	r = text ? write_file(path, text, strlen(text)) : -ENOMEM;
	if (r < 0) {
		app_log("cannot write '%s': %s", path, strerror(-r));
		err = r;
	}
	cJSON_free(text);
	cJSON_Delete(root);
	return err;
}
