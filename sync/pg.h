/*
 * The PostgreSQL connection of flashd-sync (libpq).  The password never
 * sits in the configuration: it is read from a systemd credential
 * (LoadCredential=, $CREDENTIALS_DIRECTORY) and handed to libpq apart from
 * the connection string, and the connection is named in logs by user,
 * host, port and database only, never by its connection string.
 */
#ifndef FLASHD_SYNC_PG_H
#define FLASHD_SYNC_PG_H

#include "common/err.h"
#include "sync/config.h"

#include <libpq-fe.h>
#include <stddef.h>

/* Connect; *ret owns the connection (PQfinish()).  -ECONNREFUSED and friends on failure. */
int sync_pg_connect(const struct sync_config *c, PGconn **ret, struct err *err);

/* "user@host:port/db" of an open connection, for logs and STATUS=. */
void sync_pg_describe(PGconn *pg, char *buf, size_t size);

/*
 * Set err from a failed result (may be NULL) and the connection: the
 * server's message and SQLSTATE.  Returns -EREMOTEIO for a refusal of
 * flashd's own (SQLSTATE FDxxx), -ECONNRESET when the connection is gone,
 * -EIO otherwise.
 */
int sync_pg_err(PGconn *pg, PGresult *res, struct err *err, const char *what);

#endif
