/*
 * This file implements scenario parsing with cJSON.  Errors name the file and
 * the JSON path of the offending value, as flashctl does for recipes.
 */
#include "tests/sim/scenario.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ctx {
	const char *file;
	char *err;
	size_t errlen;
};

static int fail(struct ctx *c, int r, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(c->err, c->errlen, "%s: ", c->file);

	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < c->errlen)
		vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return r;
}

int scenario_port_valid(const char *port)
{
	const char *p;
	int depth = 0;

	/* Bus 1: the xHCI's USB2 root hub; bus 3: a second controller's
	 * (testbed.c, beyond one bus's 127 addresses). */
	if (strncmp(port, "1-", 2) != 0 && strncmp(port, "3-", 2) != 0)
		return 0;
	p = port + 2;
	for (;;) {
		char *end;
		long v = strtol(p, &end, 10);

		if (end == p || v < 1 || v > 15 || *p == '0')
			return 0;
		if (++depth > 7)
			return 0;
		if (*end == '\0')
			return 1;
		if (*end != '.')
			return 0;
		p = end + 1;
	}
}

static int add_hub(struct scenario *s, const char *port)
{
	char **h;

	for (size_t i = 0; i < s->n_hubs; i++)
		if (strcmp(s->hubs[i], port) == 0)
			return 0;
	h = realloc(s->hubs, (s->n_hubs + 1) * sizeof(*h));
	if (!h)
		return -ENOMEM;
	s->hubs = h;
	h[s->n_hubs] = strdup(port);
	if (!h[s->n_hubs])
		return -ENOMEM;
	s->n_hubs++;
	return 0;
}

/* Add every ancestor hub of port ("1-1.2.3" -> "1-1", "1-1.2"), parents first. */
static int add_ancestors(struct scenario *s, const char *port, bool self)
{
	char buf[64];
	size_t len = strlen(port);

	if (len >= sizeof(buf))
		return -EINVAL;
	for (size_t i = 2; i <= len; i++) {
		if (i == len ? !self : port[i] != '.')
			continue;
		memcpy(buf, port, i);
		buf[i] = '\0';
		if (add_hub(s, buf) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int push_opt(struct scn_board *b, const char *key, const char *value)
{
	struct sim_opt *o = realloc(b->opts, (b->n_opts + 1) * sizeof(*o));

	if (!o)
		return -ENOMEM;
	b->opts = o;
	o[b->n_opts].key = strdup(key);
	o[b->n_opts].value = strdup(value);
	if (!o[b->n_opts].key || !o[b->n_opts].value)
		return -ENOMEM;
	b->n_opts++;
	return 0;
}

/* Flatten item under dotted key prefix into b's options. */
static int flatten(struct ctx *c, struct scn_board *b, const char *jpath, const char *key,
		   const cJSON *item)
{
	char val[64], k[256], jp[512];
	const cJSON *ch;
	int i = 0, r;

	if (cJSON_IsObject(item) || cJSON_IsArray(item)) {
		cJSON_ArrayForEach(ch, item)
		{
			if (cJSON_IsObject(item)) {
				snprintf(k, sizeof(k), "%s.%s", key, ch->string);
				snprintf(jp, sizeof(jp), "%s.%s", jpath, ch->string);
			} else {
				snprintf(k, sizeof(k), "%s.%d", key, i);
				snprintf(jp, sizeof(jp), "%s[%d]", jpath, i);
			}
			i++;
			r = flatten(c, b, jp, k, ch);
			if (r < 0)
				return r;
		}
		return 0;
	}
	if (cJSON_IsString(item))
		return push_opt(b, key, item->valuestring);
	if (cJSON_IsBool(item))
		return push_opt(b, key, cJSON_IsTrue(item) ? "true" : "false");
	if (cJSON_IsNumber(item)) {
		double d = item->valuedouble;

		if (d == (double)(long long)d && d > -1e15 && d < 1e15)
			snprintf(val, sizeof(val), "%lld", (long long)d);
		else
			snprintf(val, sizeof(val), "%.17g", d);
		return push_opt(b, key, val);
	}
	return fail(c, -EINVAL, "%s: null is not a board option value", jpath);
}

static int get_ms(struct ctx *c, const cJSON *v, const char *jpath, long *out)
{
	if (!v || cJSON_IsNull(v)) {
		*out = SCN_NO_TIME;
		return 0;
	}
	if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 1e9)
		return fail(c, -EINVAL, "%s: not a time in ms >= 0", jpath);
	*out = (long)v->valuedouble;
	return 0;
}

static int parse_board(struct ctx *c, struct scenario *s, const cJSON *o, int idx)
{
	struct scn_board *b = &s->boards[idx];
	char jp[64], jk[256];
	const cJSON *ch;
	bool has_scale = false;
	int r;

	snprintf(jp, sizeof(jp), "boards[%d]", idx);
	if (!cJSON_IsObject(o))
		return fail(c, -EINVAL, "%s: not an object", jp);
	cJSON_ArrayForEach(ch, o)
	{
		const char *k = ch->string;

		snprintf(jk, sizeof(jk), "%s.%s", jp, k);
		if (!strcmp(k, "id") || !strcmp(k, "type") || !strcmp(k, "port")) {
			if (!cJSON_IsString(ch) || !ch->valuestring[0])
				return fail(c, -EINVAL, "%s: not a non-empty string", jk);
			char **dst = !strcmp(k, "id")	  ? &b->id
				     : !strcmp(k, "type") ? &b->type
							  : &b->port;
			*dst = strdup(ch->valuestring);
			if (!*dst)
				return -ENOMEM;
		} else if (!strcmp(k, "plug_ms")) {
			r = get_ms(c, ch, jk, &b->plug_ms);
			if (r < 0)
				return r;
		} else if (!strcmp(k, "unplug_ms")) {
			r = get_ms(c, ch, jk, &b->unplug_ms);
			if (r < 0)
				return r;
		} else if (!strcmp(k, "replug_ms")) {
			r = get_ms(c, ch, jk, &b->replug_ms);
			if (r < 0)
				return r;
		} else if (!strcmp(k, "plug_on_sigusr1") || !strcmp(k, "replug_on_sigusr1")) {
			if (!cJSON_IsBool(ch))
				return fail(c, -EINVAL, "%s: not true or false", jk);
			*(k[0] == 'p' ? &b->plug_on_sigusr1 : &b->replug_on_sigusr1) =
				cJSON_IsTrue(ch);
		} else {
			if (!strcmp(k, "timing") && cJSON_GetObjectItemCaseSensitive(ch, "scale"))
				has_scale = true;
			r = flatten(c, b, jk, k, ch);
			if (r < 0)
				return r;
		}
	}
	if (!b->id)
		return fail(c, -EINVAL, "%s.id: missing", jp);
	if (!b->type)
		return fail(c, -EINVAL, "%s.type: missing", jp);
	if (!b->port)
		return fail(c, -EINVAL, "%s.port: missing", jp);
	if (!scenario_port_valid(b->port))
		return fail(c, -EINVAL, "%s.port: '%s' is not a port path like \"1-1.2\"", jp,
			    b->port);
	for (int i = 0; i < idx; i++) {
		if (!strcmp(s->boards[i].id, b->id))
			return fail(c, -EINVAL, "%s.id: duplicate id '%s'", jp, b->id);
		if (!strcmp(s->boards[i].port, b->port))
			return fail(c, -EINVAL, "%s.port: '%s' already used by board '%s'", jp,
				    b->port, s->boards[i].id);
	}
	if (b->plug_on_sigusr1 && (b->plug_ms != SCN_NO_TIME || b->unplug_ms != SCN_NO_TIME ||
				   b->replug_ms != SCN_NO_TIME))
		return fail(c, -EINVAL,
			    "%s.plug_on_sigusr1: no plug_ms, unplug_ms or replug_ms with it", jp);
	if (b->replug_on_sigusr1 &&
	    (b->plug_on_sigusr1 || b->unplug_ms != SCN_NO_TIME || b->replug_ms != SCN_NO_TIME))
		return fail(
			c, -EINVAL,
			"%s.replug_on_sigusr1: no plug_on_sigusr1, unplug_ms or replug_ms with it",
			jp);
	if (b->plug_ms == SCN_NO_TIME)
		b->plug_ms = 0;
	/* Without unplug_ms, replug_ms is a power cycle: the cable is pulled
	 * and plugged straight back in (a new board on the same port). */
	if (b->replug_ms != SCN_NO_TIME && b->unplug_ms != SCN_NO_TIME &&
	    b->replug_ms < b->unplug_ms)
		return fail(c, -EINVAL, "%s.replug_ms: must not come before unplug_ms", jp);
	if (b->unplug_ms != SCN_NO_TIME && b->unplug_ms < b->plug_ms)
		return fail(c, -EINVAL, "%s.unplug_ms: before plug_ms", jp);
	if (!has_scale) {
		char v[64];

		snprintf(v, sizeof(v), "%.17g", s->time_scale);
		if (push_opt(b, "timing.scale", v) < 0)
			return -ENOMEM;
	}
	return add_ancestors(s, b->port, false);
}

static int parse(struct ctx *c, struct scenario *s, const cJSON *root)
{
	const cJSON *v, *ch;
	int i, r;

	if (!cJSON_IsObject(root))
		return fail(c, -EINVAL, "(top): not an object");
	cJSON_ArrayForEach(ch, root)
	{
		if (strcmp(ch->string, "time_scale") && strcmp(ch->string, "hubs") &&
		    strcmp(ch->string, "boards") && strcmp(ch->string, "usb3") &&
		    strcmp(ch->string, "hub_bandwidth") && strcmp(ch->string, "usbfs_memory_mb") &&
		    ch->string[0] != '_')
			return fail(c, -EINVAL, "%s: unknown key (use '_' prefix for comments)",
				    ch->string);
	}
	s->time_scale = 1.0;
	v = cJSON_GetObjectItemCaseSensitive(root, "time_scale");
	if (v) {
		if (!cJSON_IsNumber(v) || !(v->valuedouble > 0) || v->valuedouble > 1000)
			return fail(c, -EINVAL, "time_scale: not a number in (0, 1000]");
		s->time_scale = v->valuedouble;
	}
	s->usbfs_memory_mb = 16;
	v = cJSON_GetObjectItemCaseSensitive(root, "usbfs_memory_mb");
	if (v) {
		if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 65536 ||
		    v->valuedouble != (unsigned)v->valuedouble)
			return fail(c, -EINVAL,
				    "usbfs_memory_mb: not a whole number in [0, 65536]");
		s->usbfs_memory_mb = (unsigned)v->valuedouble;
	}
	v = cJSON_GetObjectItemCaseSensitive(root, "usb3");
	if (v && !cJSON_IsBool(v))
		return fail(c, -EINVAL, "usb3: not a boolean");
	s->usb3 = cJSON_IsTrue(v);
	v = cJSON_GetObjectItemCaseSensitive(root, "hubs");
	if (v) {
		if (!cJSON_IsArray(v))
			return fail(c, -EINVAL, "hubs: not an array");
		i = 0;
		cJSON_ArrayForEach(ch, v)
		{
			if (!cJSON_IsString(ch) || !scenario_port_valid(ch->valuestring))
				return fail(c, -EINVAL, "hubs[%d]: not a port path like \"1-1.2\"",
					    i);
			if (add_ancestors(s, ch->valuestring, true) < 0)
				return -ENOMEM;
			i++;
		}
	}
	v = cJSON_GetObjectItemCaseSensitive(root, "boards");
	if (!cJSON_IsArray(v))
		return fail(c, -EINVAL, "boards: missing or not an array");
	s->n_boards = (size_t)cJSON_GetArraySize(v);
	s->boards = calloc(s->n_boards ? s->n_boards : 1, sizeof(*s->boards));
	if (!s->boards)
		return -ENOMEM;
	for (size_t k = 0; k < s->n_boards; k++)
		s->boards[k].plug_ms = s->boards[k].unplug_ms = s->boards[k].replug_ms =
			SCN_NO_TIME;
	i = 0;
	cJSON_ArrayForEach(ch, v)
	{
		r = parse_board(c, s, ch, i);
		if (r < 0)
			return r;
		i++;
	}
	/* A board port must not also be a hub. */
	for (size_t k = 0; k < s->n_boards; k++)
		for (size_t h = 0; h < s->n_hubs; h++)
			if (!strcmp(s->hubs[h], s->boards[k].port))
				return fail(c, -EINVAL, "boards[%zu].port: '%s' is a hub", k,
					    s->boards[k].port);
	return 0;
}

int scenario_load(const char *path, struct scenario **ret, char *err, size_t errlen)
{
	struct ctx c = { .file = path, .err = err, .errlen = errlen };
	struct scenario *s;
	cJSON *root;
	char *text;
	long len;
	FILE *f;
	int r;

	f = fopen(path, "re");
	if (!f)
		return fail(&c, -errno, "cannot open: %m");
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	text = len >= 0 ? malloc((size_t)len + 1) : NULL;
	if (!text || fread(text, 1, (size_t)len, f) != (size_t)len) {
		fclose(f);
		free(text);
		return fail(&c, -EIO, "cannot read");
	}
	fclose(f);
	text[len] = '\0';
	root = cJSON_Parse(text);
	if (!root) {
		const char *at = cJSON_GetErrorPtr();
		int line = 1;

		for (const char *p = text; at && p < at; p++)
			line += *p == '\n';
		free(text);
		return fail(&c, -EBADMSG, "JSON syntax error near line %d", line);
	}
	free(text);
	s = calloc(1, sizeof(*s));
	if (!s) {
		cJSON_Delete(root);
		return -ENOMEM;
	}
	r = parse(&c, s, root);
	cJSON_Delete(root);
	if (r < 0) {
		if (r == -ENOMEM)
			fail(&c, r, "out of memory");
		scenario_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

struct scenario *scenario_free(struct scenario *s)
{
	if (!s)
		return NULL;
	for (size_t i = 0; i < s->n_hubs; i++)
		free(s->hubs[i]);
	free(s->hubs);
	for (size_t i = 0; i < s->n_boards; i++) {
		struct scn_board *b = &s->boards[i];

		for (size_t k = 0; k < b->n_opts; k++) {
			free((char *)b->opts[k].key);
			free((char *)b->opts[k].value);
		}
		free(b->opts);
		free(b->id);
		free(b->type);
		free(b->port);
	}
	free(s->boards);
	free(s);
	return NULL;
}
