/* This file implements the per-station lock of a database (see db/station-lock.h). */
#include "db/station-lock.h"

#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static int lock_path(const char *db_path, const char *station, char *buf, size_t size)
{
	size_t o;
	int n = snprintf(buf, size, "%s.station-", db_path);

	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	o = (size_t)n;
	for (const unsigned char *p = (const unsigned char *)station; *p; p++) {
		bool plain = isalnum(*p) || *p == '.' || *p == '_' || *p == '-';

		n = plain ? snprintf(buf + o, size - o, "%c", *p)
			  : snprintf(buf + o, size - o, "%%%02X", *p);
		if (n < 0 || (size_t)n >= size - o)
			return -ENAMETOOLONG;
		o += (size_t)n;
	}
	n = snprintf(buf + o, size - o, ".lock");
	return n < 0 || (size_t)n >= size - o ? -ENAMETOOLONG : 0;
}

/* The pid the holder wrote, 0 if unknown. */
static long holder_pid(int fd)
{
	char b[32] = { 0 };
	ssize_t n = pread(fd, b, sizeof(b) - 1, 0);

	return n > 0 ? strtol(b, NULL, 10) : 0;
}

int db_station_lock(const char *db_path, const char *station, struct err *err)
{
	char path[4096], pid[32];
	int fd, r, len;

	r = lock_path(db_path, station, path, sizeof(path));
	if (r < 0)
		return err_set(err, r, "station lock for '%s': path too long", station);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0)
		return err_set(err, -errno, "cannot open the station lock '%s': %s", path,
			       strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		r = errno == EWOULDBLOCK ? -EBUSY : -errno;
		if (r == -EBUSY)
			err_set(err, r,
				"another flashd (pid %ld) runs station '%s' on database '%s': one flashd per station and database",
				holder_pid(fd), station, db_path);
		else
			err_set(err, r, "cannot lock '%s': %s", path, strerror(-r));
		close(fd);
		return r;
	}
	len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
		r = -errno;
		close(fd);
		return err_set(err, r, "cannot write the station lock '%s': %s", path,
			       strerror(-r));
	}
	return fd;
}
