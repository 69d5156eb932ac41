/*
 * Shipping the outbox: the hello that learns the server's high-water mark
 * for this station and proves the station database is the one the server
 * knows, then batches of entries, each one INSERT (one transaction) that a
 * re-send leaves unchanged.
 */
#ifndef FLASHD_SYNC_SHIP_H
#define FLASHD_SYNC_SHIP_H

#include "common/err.h"
#include "db/db.h"
#include "db/outbox.h"
#include "sync/config.h"

#include <errno.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * Say hello as c->station with db's uuid; *hw is the highest seq the
 * server holds from this station.  Refusals (sync_refused()): the name or
 * the database belongs to another station (-EREMOTEIO), or the database
 * is behind the server or differs from it at *hw (-ESTALE: restored from
 * an old backup).
 */
int sync_hello(PGconn *pg, struct db *db, const struct sync_config *c, int64_t *hw,
	       struct err *err);

/* Once per connection, after the hello: the staging table of sync_send_start(). */
int sync_stage_init(PGconn *pg, struct err *err);

/*
 * Insert batch b (db_outbox_read_copy()) as station's entries, in one
 * transaction, in two halves: start copies b and sends the INSERT without
 * waiting for it (the caller reads the next batch while the server works);
 * finish waits for it and commits.  After a failed half the caller drops
 * the connection (which rolls back).
 */
int sync_send_start(PGconn *pg, const char *station, const struct db_outbox_batch *b,
		    struct err *err);
int sync_send_finish(PGconn *pg, const struct db_outbox_batch *b, struct err *err);

/* Whether an error of this module or sync/pg.h means "refuse to go on". */
static inline bool sync_refused(int code)
{
	return code == -EREMOTEIO || code == -ESTALE;
}

#endif
