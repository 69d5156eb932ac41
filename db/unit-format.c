/* This file implements the unit's stable text formats (db/unit-format.h). */
#include "db/unit-format.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *const db_unit_columns[DB_UNIT_N_COLUMNS] = {
	"id",		"station", "port",	 "slot",	"recipe",      "recipe_sha256",
	"vid",		"pid",	   "serial",	 "chip_uid",	"jedec_id",    "result",
	"failed_stage", "error",   "started_at", "finished_at", "duration_ms", "flashd_version",
};

const char *db_fmt_iso(int64_t ms, char buf[DB_ISO_MAX])
{
	time_t t;
	struct tm tm;
	size_t n;

	if (ms < 0) {
		buf[0] = '\0';
		return buf;
	}
	t = (time_t)(ms / 1000);
	gmtime_r(&t, &tm);
	n = strftime(buf, DB_ISO_MAX, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, DB_ISO_MAX - n, ".%03dZ", (int)(ms % 1000));
	return buf;
}

void db_unit_fields(const struct db_unit_row *r, const char *out[DB_UNIT_N_COLUMNS],
		    char bufs[8][DB_ISO_MAX])
{
	snprintf(bufs[0], DB_ISO_MAX, "%" PRId64, r->id);
	snprintf(bufs[2], DB_ISO_MAX, "%04x", r->vid & 0xffff);
	snprintf(bufs[3], DB_ISO_MAX, "%04x", r->pid & 0xffff);
	snprintf(bufs[6], DB_ISO_MAX, "%" PRId64, r->duration_ms);
	out[0] = bufs[0];
	out[1] = r->station;
	out[2] = r->port;
	out[3] = r->slot;
	out[4] = r->recipe;
	out[5] = r->recipe_sha256;
	out[6] = r->vid >= 0 ? bufs[2] : NULL;
	out[7] = r->pid >= 0 ? bufs[3] : NULL;
	out[8] = r->serial;
	out[9] = r->chip_uid;
	out[10] = r->jedec_id;
	out[11] = r->result;
	out[12] = r->failed_stage;
	out[13] = r->error;
	out[14] = r->started_at >= 0 ? db_fmt_iso(r->started_at, bufs[4]) : NULL;
	out[15] = r->finished_at >= 0 ? db_fmt_iso(r->finished_at, bufs[5]) : NULL;
	out[16] = r->duration_ms >= 0 ? bufs[6] : NULL;
	out[17] = r->flashd_version;
}

void db_csv_field(FILE *f, const char *s, bool last)
{
	if (s && strpbrk(s, ",\"\n\r")) {
		fputc('"', f);
		for (; *s; s++) {
			if (*s == '"')
				fputc('"', f);
			fputc(*s, f);
		}
		fputc('"', f);
	} else if (s) {
		fputs(s, f);
	}
	fputc(last ? '\n' : ',', f);
}

int db_unit_identity_append(const struct db_identity_row *r, void *ud)
{
	FILE *f = ud;

	if (strcmp(r->state, "released") != 0) /* gave it back: not the unit's */
		fprintf(f, "%s%s=%s", ftell(f) ? ";" : "", r->pool, r->value);
	return 0;
}

int db_unit_identities_text(struct db *db, int64_t unit_id, char **text, struct err *e)
{
	size_t len;
	FILE *f = open_memstream(text, &len);
	int rc;

	if (!f)
		return -ENOMEM;
	rc = db_query_unit_identities(db, unit_id, db_unit_identity_append, f, e);
	if (fclose(f) != 0 && rc >= 0)
		rc = -ENOMEM;
	if (rc < 0) {
		free(*text);
		*text = NULL;
	}
	return rc;
}

void db_unit_csv_header(FILE *f)
{
	for (size_t i = 0; i < DB_UNIT_N_COLUMNS; i++)
		db_csv_field(f, db_unit_columns[i], false);
	db_csv_field(f, "identities", true);
}

void db_unit_csv_row(FILE *f, const struct db_unit_row *r, const char *identities)
{
	const char *v[DB_UNIT_N_COLUMNS];
	char bufs[8][DB_ISO_MAX];

	db_unit_fields(r, v, bufs);
	for (size_t i = 0; i < DB_UNIT_N_COLUMNS; i++)
		db_csv_field(f, v[i], false);
	db_csv_field(f, identities, true);
}
