/*
 * The stable column set of a unit as flashctl log/export and flashd-web's
 * API print it (daemon/flashctl-qa.c documents the columns): as text
 * fields and as one CSV line (JSON: flashctl_unit_json(), daemon/flashctl.h).  Shared so the CSV a QA tool
 * downloads from flashd-web is byte for byte the one `flashctl export` writes.
 */
#ifndef FLASHD_DB_UNIT_FORMAT_H
#define FLASHD_DB_UNIT_FORMAT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "db/query.h"

#define DB_ISO_MAX 32
#define DB_UNIT_N_COLUMNS 18

extern const char *const db_unit_columns[DB_UNIT_N_COLUMNS];

/* ms since the epoch as "2026-01-01T00:00:01.000Z"; "" for -1. */
const char *db_fmt_iso(int64_t ms, char buf[DB_ISO_MAX]);

/* The unit as its stable columns, as text (NULL = absent); bufs hold numbers. */
void db_unit_fields(const struct db_unit_row *r, const char *out[DB_UNIT_N_COLUMNS],
		    char bufs[8][DB_ISO_MAX]);

/* One CSV field (RFC 4180 quoting when needed), then ',' or the line end. */
void db_csv_field(FILE *f, const char *s, bool last);

/*
 * The unit's identities as the export's last column,
 * "serial=SN1;mac=02:00:00:00:00:01" (values it gave back left out), into
 * *text (malloc'd, "" if none).
 */
int db_unit_identities_text(struct db *db, int64_t unit_id, char **text, struct err *e);
/* The same, one identity at a time: a db_identity_cb_t appending to the FILE * ud. */
int db_unit_identity_append(const struct db_identity_row *r, void *ud);

/* The header line and one unit line of the CSV export: the unit columns and
 * "identities" (db_unit_identities_text()). */
void db_unit_csv_header(FILE *f);
void db_unit_csv_row(FILE *f, const struct db_unit_row *r, const char *identities);

#endif
