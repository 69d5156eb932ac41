/*
 * One flashd per station and database.  Stations may share a database file
 * (each recovers only its own units at start, db_recover_interrupted()),
 * but two flashd with the same station name on one file would each take
 * the other's running units for a crashed predecessor's and mark them
 * interrupted.  So a flashd holds an exclusive flock(2) on a lock file next
 * to the database, one per station name, for as long as it runs; the kernel
 * drops it when the process ends, however it ends.
 */
#ifndef FLASHD_DB_STATION_LOCK_H
#define FLASHD_DB_STATION_LOCK_H

#include "common/err.h"

/*
 * Take the lock of station on the database at db_path: "<db_path>.station-
 * <name>.lock" (name bytes other than [A-Za-z0-9._-] as %XX), holding this
 * process's pid.  Returns the lock's fd (close it to release), -EBUSY when
 * another process holds it (err names it and its pid), or -errno.
 */
int db_station_lock(const char *db_path, const char *station, struct err *err);

#endif
