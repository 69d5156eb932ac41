/*
 * This file implements the text of pool values (see db/pool.h): counter
 * formats with date codes and a Luhn check digit, MAC address text, and
 * the names of kinds and policies.  Pure functions, no database.
 */
#include "db/pool.h"

#include "common/macro.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const kind_names[_DB_POOL_KIND_MAX] = {
	[DB_POOL_COUNTER] = "counter",
	[DB_POOL_MAC] = "mac",
	[DB_POOL_LIST] = "list",
};

static const char *const policy_names[_DB_POOL_POLICY_MAX] = {
	[DB_POOL_BURN] = "burn",
	[DB_POOL_REUSE] = "reuse",
};

const char *db_pool_kind_name(enum db_pool_kind k)
{
	return k >= 0 && k < _DB_POOL_KIND_MAX ? kind_names[k] : NULL;
}

enum db_pool_kind db_pool_kind_from_name(const char *s)
{
	for (int i = 0; s && i < _DB_POOL_KIND_MAX; i++)
		if (strcmp(s, kind_names[i]) == 0)
			return (enum db_pool_kind)i;
	return _DB_POOL_KIND_INVALID;
}

const char *db_pool_policy_name(enum db_pool_policy p)
{
	return p >= 0 && p < _DB_POOL_POLICY_MAX ? policy_names[p] : NULL;
}

enum db_pool_policy db_pool_policy_from_name(const char *s)
{
	for (int i = 0; s && i < _DB_POOL_POLICY_MAX; i++)
		if (strcmp(s, policy_names[i]) == 0)
			return (enum db_pool_policy)i;
	return _DB_POOL_POLICY_INVALID;
}

/* Luhn mod 10 (ISO/IEC 7812-1 annex B): the digit that makes digits+it valid. */
static char luhn_digit(const char *s, size_t len)
{
	unsigned sum = 0;
	bool dbl = true; /* the rightmost payload digit is doubled */

	for (size_t i = len; i-- > 0;) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			continue;
		d = (unsigned)(s[i] - '0');
		if (dbl)
			d = d * 2 > 9 ? d * 2 - 9 : d * 2;
		sum += d;
		dbl = !dbl;
	}
	return (char)('0' + (10 - sum % 10) % 10);
}

struct fmt_out {
	char *buf;
	size_t size, len;
};

static int put(struct fmt_out *o, const char *s, size_t n, struct err *err)
{
	if (o->len + n + 1 > o->size)
		return err_set(err, -ENAMETOOLONG, "counter value longer than %zu characters",
			       o->size - 1);
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
	return 0;
}

/* One {field} (name points after '{', n characters up to '}'). */
static int put_field(struct fmt_out *o, const char *name, size_t n, int64_t seq,
		     const struct tm *tm, unsigned *n_seq, struct err *err)
{
	char tmp[32];
	int w = 0;

	if (n == 3 && memcmp(name, "seq", 3) == 0) {
		snprintf(tmp, sizeof(tmp), "%" PRId64, seq);
	} else if (n > 4 && memcmp(name, "seq:", 4) == 0) {
		if (sscanf(name + 4, "%2d", &w) != 1 || w < 1 || w > 19 ||
		    strspn(name + 4, "0123456789") != n - 4)
			return err_set(err, -EINVAL, "counter format: bad width in {%.*s} (1..19)",
				       (int)n, name);
		snprintf(tmp, sizeof(tmp), "%0*" PRId64, w, seq);
		if (strlen(tmp) > (size_t)w)
			return err_set(err, -EINVAL,
				       "counter format: number %" PRId64 " does not fit {%.*s}",
				       seq, (int)n, name);
	} else if (n == 2 && memcmp(name, "yy", 2) == 0) {
		strftime(tmp, sizeof(tmp), "%g", tm);
	} else if (n == 4 && memcmp(name, "yyyy", 4) == 0) {
		strftime(tmp, sizeof(tmp), "%G", tm);
	} else if (n == 2 && memcmp(name, "ww", 2) == 0) {
		strftime(tmp, sizeof(tmp), "%V", tm);
	} else if (n == 4 && memcmp(name, "luhn", 4) == 0) {
		tmp[0] = luhn_digit(o->buf, o->len);
		tmp[1] = '\0';
	} else {
		return err_set(
			err, -EINVAL,
			"counter format: unknown field {%.*s} (seq, seq:N, yy, yyyy, ww, luhn)",
			(int)n, name);
	}
	if (n >= 3 && memcmp(name, "seq", 3) == 0)
		(*n_seq)++;
	return put(o, tmp, strlen(tmp), err);
}

int db_pool_format_counter(const char *format, int64_t seq, int64_t now_ms, char *buf, size_t size,
			   struct err *err)
{
	struct fmt_out o = { .buf = buf, .size = size };
	time_t t = (time_t)((now_ms > 0 ? now_ms : db_now_ms()) / 1000);
	unsigned n_seq = 0;
	struct tm tm;
	int rc;

	if (!format || !*format || !buf || size < 2)
		return err_set(err, -EINVAL, "counter format: empty");
	buf[0] = '\0';
	gmtime_r(&t, &tm);
	for (const char *p = format; *p;) {
		const char *end;

		if (*p == '{') {
			end = strchr(p, '}');
			if (!end)
				return err_set(err, -EINVAL, "counter format '%s': '{' without '}'",
					       format);
			rc = put_field(&o, p + 1, (size_t)(end - p - 1), seq, &tm, &n_seq, err);
			p = end + 1;
		} else if (*p == '}' || *p < 0x21 || *p > 0x7e) {
			return err_set(
				err, -EINVAL,
				"counter format '%s': literal characters must be printable ASCII without braces or spaces",
				format);
		} else {
			rc = put(&o, p++, 1, err);
		}
		if (rc < 0)
			return rc;
	}
	if (n_seq != 1)
		return err_set(err, -EINVAL, "counter format '%s': needs {seq} or {seq:N} once",
			       format);
	return 0;
}

int db_pool_parse_mac(const char *s, int64_t *mac)
{
	unsigned b[6];
	char sep[5], end;
	int64_t v = 0;

	if (!s || strlen(s) != 17 ||
	    sscanf(s, "%2x%c%2x%c%2x%c%2x%c%2x%c%2x%c", &b[0], &sep[0], &b[1], &sep[1], &b[2],
		   &sep[2], &b[3], &sep[3], &b[4], &sep[4], &b[5], &end) != 11)
		return -EINVAL;
	for (int i = 0; i < 5; i++)
		if (sep[i] != sep[0] || (sep[i] != ':' && sep[i] != '-'))
			return -EINVAL;
	for (int i = 0; i < 17; i++)
		if (i % 3 != 2 && !strchr("0123456789abcdefABCDEF", s[i]))
			return -EINVAL;
	for (int i = 0; i < 6; i++)
		v = v << 8 | b[i];
	*mac = v;
	return 0;
}

void db_pool_mac_text(int64_t mac, char buf[18])
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", (unsigned)(mac >> 40) & 0xff,
		 (unsigned)(mac >> 32) & 0xff, (unsigned)(mac >> 24) & 0xff,
		 (unsigned)(mac >> 16) & 0xff, (unsigned)(mac >> 8) & 0xff, (unsigned)mac & 0xff);
}
