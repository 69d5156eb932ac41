/*
 * This file implements GET /metrics (web/web.h): Prometheus text format
 * 0.0.4, computed on each scrape from the database (read-only, one read
 * transaction per query) and flashd's status document.
 *
 *   flashd_units_total{recipe,result}          finished units (pass, fail, interrupted)
 *   flashd_unit_duration_seconds{recipe}       histogram of finished units' durations
 *   flashd_stage_duration_seconds{recipe,stage} histogram of stage durations
 *   flashd_bytes_written_total{family}         image bytes written, by board family (VID)
 *   flashd_ports{state}                        ports by state now (configured slots
 *                                              without a board count as empty)
 *   flashd_up                                  1 if flashd's status could be read
 *   flashd_db_write_errors_total               flashd's status database.write_errors
 *   flashd_db_pending_records                  records waiting for the database
 *   flashd_build_info{version}                 always 1
 *   flashd_sync_*{station}                     flashd-sync's lag (sync/status.h), copied
 *                                              from its metrics file when there is one
 */
#include "web/web.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/version.h"
#include "daemon/ports.h"
#include "db/db.h"
#include "db/query.h"

static const double unit_buckets[] = { 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600 };
static const double stage_buckets[] = { 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600 };
#define N_BUCKETS (sizeof(unit_buckets) / sizeof(unit_buckets[0]))
_Static_assert(N_BUCKETS == sizeof(stage_buckets) / sizeof(stage_buckets[0]), "bucket counts");

/* Board family by the USB vendor a unit started with (udev/70-flashd.rules). */
static const struct {
	int vid;
	const char *family;
} families[] = {
	{ 0x0483, "stm32" },			       /* STM32 system bootloader, DfuSe */
	{ 0x15a2, "imx" },			       /* i.MX boot ROM, SDP */
	{ 0x1fc9, "imx" },			       /* i.MX under NXP's VID */
	{ 0x0525, "imx" },			       /* U-Boot SPL/fastboot gadget after SDP */
	{ 0x18d1, "fastboot" }, { 0xa108, "ingenic" }, /* Ingenic boot ROM */
};

static const char *family_of(int vid)
{
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
		if (families[i].vid == vid)
			return families[i].family;
	return "other";
}

/* One labelled series: a counter, or a histogram when buckets is set. */
struct series {
	char *labels; /* rendered: recipe="x",stage="y" */
	double value; /* counter; histogram sum */
	uint64_t count;
	uint64_t bucket[N_BUCKETS];
};

struct family_set {
	struct series *v;
	size_t n;
	bool oom;
};

/* Label values escape \ " and newline (exposition format). */
static void put_label(FILE *f, const char *name, const char *value, bool first)
{
	fprintf(f, "%s%s=\"", first ? "" : ",", name);
	for (const char *p = value ? value : ""; *p; p++) {
		if (*p == '\\' || *p == '"')
			fputc('\\', f);
		if (*p == '\n')
			fputs("\\n", f);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

/* The series with these labels (name1=v1[,name2=v2]), created at zero. */
static struct series *series_get(struct family_set *fs, const char *n1, const char *v1,
				 const char *n2, const char *v2)
{
	char *labels = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&labels, &len);
	struct series *s;

	if (!f) {
		fs->oom = true;
		return NULL;
	}
	put_label(f, n1, v1, true);
	if (n2)
		put_label(f, n2, v2, false);
	fclose(f);
	for (size_t i = 0; labels && i < fs->n; i++)
		if (strcmp(fs->v[i].labels, labels) == 0) {
			free(labels);
			return &fs->v[i];
		}
	s = labels ? realloc(fs->v, (fs->n + 1) * sizeof(*s)) : NULL;
	if (!s) {
		free(labels);
		fs->oom = true;
		return NULL;
	}
	fs->v = s;
	s = &fs->v[fs->n++];
	*s = (struct series){ .labels = labels };
	return s;
}

static void observe(struct series *s, const double *buckets, double x)
{
	if (!s)
		return;
	s->value += x;
	s->count++;
	for (size_t i = 0; i < N_BUCKETS; i++)
		if (x <= buckets[i])
			s->bucket[i]++;
}

static void set_free(struct family_set *fs)
{
	for (size_t i = 0; i < fs->n; i++)
		free(fs->v[i].labels);
	free(fs->v);
	*fs = (struct family_set){ 0 };
}

static void print_header(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void print_counters(FILE *f, const char *name, const struct family_set *fs)
{
	for (size_t i = 0; i < fs->n; i++)
		fprintf(f, "%s{%s} %.17g\n", name, fs->v[i].labels, fs->v[i].value);
}

static void print_histograms(FILE *f, const char *name, const struct family_set *fs,
			     const double *buckets)
{
	for (size_t i = 0; i < fs->n; i++) {
		const struct series *s = &fs->v[i];

		for (size_t b = 0; b < N_BUCKETS; b++)
			fprintf(f, "%s_bucket{%s,le=\"%g\"} %" PRIu64 "\n", name, s->labels,
				buckets[b], s->bucket[b]);
		fprintf(f, "%s_bucket{%s,le=\"+Inf\"} %" PRIu64 "\n", name, s->labels, s->count);
		fprintf(f, "%s_sum{%s} %.17g\n%s_count{%s} %" PRIu64 "\n", name, s->labels,
			s->value, name, s->labels, s->count);
	}
}

struct db_metrics {
	struct family_set units, durations, bytes, stages;
	int64_t unit_id; /* the unit of the last row: a unit comes once per image */
};

static int on_unit_image(const struct db_unit_row *u, const struct db_image_row *im, void *ud)
{
	struct db_metrics *m = ud;
	bool finished = strcmp(u->result, "running") != 0;

	if (u->id != m->unit_id) {
		m->unit_id = u->id;
		if (finished) {
			struct series *s =
				series_get(&m->units, "recipe", u->recipe, "result", u->result);

			if (s)
				s->value++;
		}
		if (finished && u->duration_ms >= 0)
			observe(series_get(&m->durations, "recipe", u->recipe, NULL, NULL),
				unit_buckets, (double)u->duration_ms / 1000);
	}
	if (im && im->size > 0) {
		struct series *s = series_get(&m->bytes, "family", family_of(u->vid), NULL, NULL);

		if (s)
			s->value += (double)im->size;
	}
	return 0;
}

static int on_stage(const struct db_stage_time_row *r, void *ud)
{
	struct db_metrics *m = ud;

	if (r->duration_ms >= 0)
		observe(series_get(&m->stages, "recipe", r->recipe, "stage", r->stage),
			stage_buckets, (double)r->duration_ms / 1000);
	return 0;
}

static int collect_db(struct web *w, struct db_metrics *m, struct err *e)
{
	_cleanup_db_ struct db *db = NULL;
	int rc;

	m->unit_id = -1;
	rc = db_open(w->cfg.database, DB_OPEN_READONLY, &db, e);
	if (rc >= 0)
		rc = db_query_units_images(db, NULL, on_unit_image, m, e);
	if (rc >= 0)
		rc = db_query_stage_times(db, NULL, on_stage, m, e);
	if (rc >= 0 && (m->units.oom || m->durations.oom || m->bytes.oom || m->stages.oom))
		rc = -ENOMEM;
	return rc;
}

static void print_db(FILE *f, const struct db_metrics *m)
{
	print_header(
		f, "flashd_units_total", "counter",
		"Finished units in the station database by recipe and result (pass, fail, interrupted).");
	print_counters(f, "flashd_units_total", &m->units);
	print_header(f, "flashd_unit_duration_seconds", "histogram",
		     "Duration of finished units, from the first stage to the result.");
	print_histograms(f, "flashd_unit_duration_seconds", &m->durations, unit_buckets);
	print_header(f, "flashd_stage_duration_seconds", "histogram",
		     "Duration of recipe stages by recipe and stage name.");
	print_histograms(f, "flashd_stage_duration_seconds", &m->stages, stage_buckets);
	print_header(
		f, "flashd_bytes_written_total", "counter",
		"Image bytes written to boards, by board family (the USB vendor the unit started with).");
	print_counters(f, "flashd_bytes_written_total", &m->bytes);
}

static double num(cJSON *o, const char *k)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* Ports by state, the configured slots flashd has no port for counted as empty. */
static void print_ports(FILE *f, struct web *w, cJSON *status)
{
	cJSON *ports = cJSON_GetObjectItemCaseSensitive(status, "ports"), *p;
	const struct config *fc = &w->cfg.flashd;

	print_header(f, "flashd_ports", "gauge", "Ports of the station by state.");
	for (enum port_state st = PORT_EMPTY; st <= PORT_DONE; st++) {
		const char *name = port_state_name(st);
		unsigned n = 0;

		cJSON_ArrayForEach(p, ports)
		{
			cJSON *s = cJSON_GetObjectItemCaseSensitive(p, "state");

			n += cJSON_IsString(s) && strcmp(s->valuestring, name) == 0;
		}
		if (st == PORT_EMPTY)
			for (size_t i = 0; i < fc->n_slots; i++) {
				bool seen = false;

				cJSON_ArrayForEach(p, ports)
				{
					cJSON *pp = cJSON_GetObjectItemCaseSensitive(p, "port");

					seen |= cJSON_IsString(pp) &&
						strcmp(pp->valuestring, fc->slots[i].port) == 0;
				}
				n += !seen;
			}
		fprintf(f, "flashd_ports{state=\"%s\"} %u\n", name, n);
	}
}

static void print_status(FILE *f, struct web *w)
{
	_cleanup_free_ char *doc = web_status_json(w);
	cJSON *status = doc ? cJSON_Parse(doc) : NULL;
	cJSON *db = cJSON_GetObjectItemCaseSensitive(status, "database");

	print_header(f, "flashd_up", "gauge",
		     "1 if flashd's status could be read (control socket or event stream).");
	fprintf(f, "flashd_up %d\n", status != NULL);
	print_ports(f, w, status);
	print_header(
		f, "flashd_db_write_errors_total", "counter",
		"Unit records flashd failed to write to the database (status database.write_errors; 0 if flashd does not report it).");
	fprintf(f, "flashd_db_write_errors_total %.17g\n", num(db, "write_errors"));
	print_header(f, "flashd_db_pending_records", "gauge",
		     "Unit records waiting in flashd's pending journal for the database.");
	fprintf(f, "flashd_db_pending_records %.17g\n", num(db, "pending_records"));
	cJSON_Delete(status);
}

/* Larger than flashd-sync ever writes; a bigger file is not its. */
#define SYNC_METRICS_MAX 8192

/*
 * flashd-sync (another service, no HTTP of its own) writes its lag as a
 * text-format file; plant IT scrapes one endpoint, so it is passed on.
 * Only its flashd_sync_ families and their comments; a missing file (no
 * fleet sync on this station) adds nothing.
 */
static void print_sync(FILE *f, const char *path)
{
	char line[512];
	size_t total = 0;
	FILE *in = path && *path ? fopen(path, "re") : NULL;

	if (!in)
		return;
	while (fgets(line, sizeof(line), in) && (total += strlen(line)) <= SYNC_METRICS_MAX) {
		if (!strchr(line, '\n'))
			break; /* a line too long is not flashd-sync's */
		if (!strncmp(line, "flashd_sync_", 12) ||
		    !strncmp(line, "# HELP flashd_sync_", 19) ||
		    !strncmp(line, "# TYPE flashd_sync_", 19))
			fputs(line, f);
	}
	fclose(in);
}

enum MHD_Result web_metrics(struct web_request *rq)
{
	struct db_metrics m = { 0 };
	struct err e = { 0 };
	char *body = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	if (MHD_get_connection_values(rq->conn, MHD_GET_ARGUMENT_KIND, NULL, NULL) > 0)
		return web_error(rq->conn, MHD_HTTP_BAD_REQUEST, "/metrics takes no parameters");
	rc = collect_db(rq->web, &m, &e);
	f = rc >= 0 ? open_memstream(&body, &len) : NULL;
	if (f) {
		print_db(f, &m);
		print_status(f, rq->web);
		print_header(f, "flashd_build_info", "gauge", "Version of flashd-web; always 1.");
		fprintf(f, "flashd_build_info{version=\"%s\"} 1\n", FLASHD_VERSION);
		print_sync(f, rq->web->cfg.sync_metrics);
		if (fclose(f) != 0)
			rc = -ENOMEM;
	}
	set_free(&m.units);
	set_free(&m.durations);
	set_free(&m.bytes);
	set_free(&m.stages);
	if (rc < 0 || !f) {
		free(body);
		return web_error(rq->conn, MHD_HTTP_SERVICE_UNAVAILABLE, "database: %s",
				 e.msg[0] ? e.msg : strerror(rc < 0 ? -rc : ENOMEM));
	}
	return web_reply(rq->conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body,
			 len);
}
