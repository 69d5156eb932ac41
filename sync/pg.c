/*
 * This file implements the PostgreSQL connection of flashd-sync (see
 * sync/pg.h): the credential, the connection and its errors.
 */
#include "sync/pg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The password from $CREDENTIALS_DIRECTORY/<name>, first line; "" if there is none. */
static int read_credential(const char *name, char *buf, size_t size, struct err *err)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	char path[1024];
	ssize_t n;
	int fd;

	buf[0] = '\0';
	if (!name[0] || !dir || !dir[0])
		return 0;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return err_set(err, -errno, "credential '%s': %s", name, strerror(errno));
	}
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return err_set(err, -errno, "credential '%s': %s", name, strerror(errno));
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return 0;
}

int sync_pg_connect(const struct sync_config *c, PGconn **ret, struct err *err)
{
	/* "dbname" with expand_dbname: the connection string; the password apart. */
	const char *keys[4] = { "dbname", "application_name" };
	const char *vals[4] = { c->server, "flashd-sync" };
	char password[512];
	PGconn *pg;
	int rc;

	rc = read_credential(c->password_credential, password, sizeof(password), err);
	if (rc < 0)
		return rc;
	if (password[0]) {
		keys[2] = "password";
		vals[2] = password;
	}
	pg = PQconnectdbParams(keys, vals, 1);
	explicit_bzero(password, sizeof(password));
	if (!pg)
		return err_set(err, -ENOMEM, "connect: out of memory");
	if (PQstatus(pg) != CONNECTION_OK) {
		/* libpq's message names host and reason, never the password. */
		char msg[ERR_MSG_MAX];

		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(pg));
		for (char *p = msg; *p; p++)
			if (*p == '\n')
				*p = *(p + 1) ? ' ' : '\0';
		err_set(err, -ECONNREFUSED, "connect: %s", msg);
		PQfinish(pg);
		return -ECONNREFUSED;
	}
	*ret = pg;
	return 0;
}

void sync_pg_describe(PGconn *pg, char *buf, size_t size)
{
	const char *host = PQhost(pg);

	snprintf(buf, size, "%s@%s:%s/%s", PQuser(pg), host && host[0] ? host : "localhost",
		 PQport(pg), PQdb(pg));
}

int sync_pg_err(PGconn *pg, PGresult *res, struct err *err, const char *what)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorMessage(res) : NULL;
	char text[ERR_MSG_MAX];
	int code = -EIO;

	if (!msg || !msg[0])
		msg = PQerrorMessage(pg);
	snprintf(text, sizeof(text), "%s", msg);
	text[strcspn(text, "\n")] = '\0';
	if (state && strncmp(state, "FD", 2) == 0)
		code = -EREMOTEIO;
	else if (PQstatus(pg) != CONNECTION_OK)
		code = -ECONNRESET;
	return err_set(err, code, "%s: %s%s%s", what, text, state ? " SQLSTATE " : "",
		       state ? state : "");
}
