/*
 * This file implements loading one recipe file: reading it (bounded), JSON
 * parsing with cJSON, the top-level fields (name, match, serial, jedec) and
 * the stages array, whose entries recipe-stages.c parses; also the operation
 * names and defaults, and freeing.  Field readers live in recipe-json.c,
 * image checks in recipe-image.c, cross-stage rules in recipe-check.c,
 * recipe sets in recipe-set.c.  The format is documented in
 * jobs/flashd.recipe.5; keep the two in step.
 */
#include "jobs/recipe.h"
#include "jobs/image.h"
#include "jobs/recipe-ops.h"
#include "jobs/recipe-private.h"
#include "protocols/dfuse_mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

DEFINE_CLEANUP_FUNC(cJSON *, cJSON_Delete);

/* ---- names ---- */

/* The op table (jobs/recipe-ops.h) answers every question about an op. */

const char *recipe_op_name(enum recipe_op op)
{
	const struct recipe_op_desc *d = recipe_op_desc(op);

	return d ? d->name : NULL;
}

enum recipe_op recipe_op_from_name(const char *name)
{
	for (int i = 0; i < _RECIPE_OP_MAX; i++)
		if (name && strcmp(recipe_op_desc((enum recipe_op)i)->name, name) == 0)
			return (enum recipe_op)i;
	return _RECIPE_OP_INVALID;
}

bool recipe_op_uses_device(enum recipe_op op)
{
	const struct recipe_op_desc *d = recipe_op_desc(op);

	return d && d->family != RECIPE_FAMILY_NONE;
}

bool recipe_op_device_leaves(enum recipe_op op)
{
	const struct recipe_op_desc *d = recipe_op_desc(op);

	return d && d->leaves;
}

enum recipe_family recipe_op_family(enum recipe_op op)
{
	const struct recipe_op_desc *d = recipe_op_desc(op);

	return d ? d->family : RECIPE_FAMILY_NONE;
}

uint32_t recipe_op_default_timeout_ms(enum recipe_op op)
{
	const struct recipe_op_desc *d = recipe_op_desc(op);

	return d ? d->timeout_ms : 0;
}

static const char *const serial_names[_RECIPE_SERIAL_MAX] = {
	[RECIPE_SERIAL_USB_SERIAL] = "usb_serial",
	[RECIPE_SERIAL_DFUSE_UID] = "dfuse_uid",
	[RECIPE_SERIAL_IMX_OCOTP] = "imx_ocotp",
	[RECIPE_SERIAL_INGENIC_EFUSE] = "ingenic_efuse",
	[RECIPE_SERIAL_FASTBOOT_GETVAR] = "fastboot_getvar",
};

const char *recipe_serial_source_name(enum recipe_serial_source s)
{
	if (s < 0 || s >= _RECIPE_SERIAL_MAX)
		return NULL;
	return serial_names[s];
}

/*
 * Ingenic SoCs and their default d2i_len: T20 0x4000, the rest of the
 * T-series 0x7000, X1000/X2000 none (protocol-ingenic.md §2.2).
 */
static const struct {
	const char *soc;
	uint32_t d2i_len;
} ingenic_socs[] = {
	{ "t20", 0x4000 }, { "t21", 0x7000 }, { "t23", 0x7000 },   { "t30", 0x7000 },
	{ "t31", 0x7000 }, { "t40", 0x7000 }, { "t41", 0x7000 },   { "a1", 0x7000 },
	{ "x1000", 0 },	   { "x1500", 0 },    { "x1830", 0x7000 }, { "x2000", 0 },
};

bool recipe_ingenic_soc_known(const char *soc, uint32_t *ret_d2i_len)
{
	for (size_t i = 0; i < ARRAY_SIZE(ingenic_socs); i++)
		if (soc && strcmp(ingenic_socs[i].soc, soc) == 0) {
			if (ret_d2i_len)
				*ret_d2i_len = ingenic_socs[i].d2i_len;
			return true;
		}
	return false;
}

/* ---- freeing ---- */

static void stage_release(struct recipe_stage *s)
{
	const struct recipe_op_desc *d = recipe_op_desc(s->op);

	free(s->label);
	if (d && d->release)
		d->release(s);
}

struct recipe *recipe_free(struct recipe *r)
{
	if (!r)
		return NULL;
	free(r->name);
	free(r->description);
	free(r->dfuse_layout);
	free(r->path);
	free(r->dir);
	for (size_t i = 0; i < r->match.n_ports; i++)
		free(r->match.ports[i]);
	free(r->match.ports);
	free(r->serial.var);
	free(r->jedec);
	for (size_t i = 0; i < r->n_stages; i++)
		stage_release(&r->stages[i]);
	free(r->stages);
	recipe_identity_release(&r->identity);
	free(r);
	return NULL;
}

/* ---- top level ---- */

static bool parse_match(struct recipe_parser *p, const cJSON *root, struct recipe *r)
{
	static const char *const keys[] = { "vid", "pid", "bcd_min", "bcd_max", "ports", NULL };
	struct recipe_match *m = &r->match;
	char jp[RECIPE_JPATH_MAX], pj[RECIPE_JPATH_MAX];
	const cJSON *o, *ports;
	bool ok;
	int rmin, rmax;

	if (recipe_get_item(p, root, NULL, "match", true, &o, jp) <= 0)
		return false;
	if (!cJSON_IsObject(o)) {
		recipe_problem(p, jp, "not an object");
		return false;
	}
	ok = recipe_check_keys(p, o, "match", keys, NULL);
	ok = recipe_get_hex16(p, o, "match", "vid", true, &m->vid) > 0 && ok;
	ok = recipe_get_hex16(p, o, "match", "pid", true, &m->pid) > 0 && ok;
	m->bcd_min = 0x0000;
	m->bcd_max = 0xffff;
	rmin = recipe_get_hex16(p, o, "match", "bcd_min", false, &m->bcd_min);
	rmax = recipe_get_hex16(p, o, "match", "bcd_max", false, &m->bcd_max);
	ok = rmin >= 0 && rmax >= 0 && ok;
	if (rmin >= 0 && rmax >= 0 && m->bcd_min > m->bcd_max) {
		recipe_problem(p, "match.bcd_max", "below bcd_min");
		ok = false;
	}
	if (recipe_get_item(p, o, "match", "ports", false, &ports, jp) <= 0)
		return ok;
	if (!cJSON_IsArray(ports)) {
		recipe_problem(p, jp, "not an array");
		return false;
	}
	m->n_ports = (size_t)cJSON_GetArraySize(ports);
	if (m->n_ports == 0 || m->n_ports > RECIPE_PORTS_MAX) {
		recipe_problem(p, jp, "needs 1 to %d port globs (leave it out to match any port)",
			       RECIPE_PORTS_MAX);
		m->n_ports = 0;
		return false;
	}
	m->ports = calloc(m->n_ports, sizeof(*m->ports));
	if (!m->ports) {
		p->oom = true;
		m->n_ports = 0;
		return false;
	}
	size_t i = 0;
	for (const cJSON *e = ports->child; e; e = e->next, i++) {
		recipe_jpath_index(pj, jp, i);
		if (!cJSON_IsString(e)) {
			recipe_problem(p, pj, "not a string");
			ok = false;
		} else if (!recipe_port_glob_valid(e->valuestring)) {
			recipe_problem(p, pj, "bad port glob '%s'", e->valuestring);
			ok = false;
		} else {
			m->ports[i] = recipe_strdup(p, e->valuestring);
		}
	}
	return ok;
}

static bool parse_serial(struct recipe_parser *p, const cJSON *root, struct recipe *r)
{
	static const char *const keys[] = { "source", "var", "ocotp_words", NULL };
	struct recipe_serial *sr = &r->serial;
	char jp[RECIPE_JPATH_MAX], wj[RECIPE_JPATH_MAX];
	const cJSON *o, *words;
	int src = RECIPE_SERIAL_USB_SERIAL, rw;
	bool ok = true;

	sr->source = RECIPE_SERIAL_USB_SERIAL;
	if (recipe_get_item(p, root, NULL, "serial", false, &o, jp) <= 0)
		return true;
	if (cJSON_IsString(o)) {
		/* Shorthand: "serial": "usb_serial". */
		cJSON tmp = { .string = (char *)"source" };
		cJSON wrap = { .child = &tmp, .type = cJSON_Object };

		tmp.type = cJSON_String;
		tmp.valuestring = o->valuestring;
		if (recipe_get_enum(p, &wrap, NULL, "source", serial_names, _RECIPE_SERIAL_MAX,
				    0x1f, &src) < 0)
			return false;
		/* Re-report nothing: a shorthand has no arguments. */
		sr->source = src;
		goto defaults;
	}
	if (!cJSON_IsObject(o)) {
		recipe_problem(p, jp, "not a string or an object");
		return false;
	}
	ok = recipe_check_keys(p, o, "serial", keys, NULL);
	if (!cJSON_GetObjectItemCaseSensitive(o, "source")) {
		recipe_problem(p, "serial.source", "missing");
		return false;
	}
	if (recipe_get_enum(p, o, "serial", "source", serial_names, _RECIPE_SERIAL_MAX, 0x1f,
			    &src) < 0)
		return false;
	sr->source = src;
	if (recipe_get_string(p, o, "serial", "var", false, &sr->var) < 0)
		ok = false;
	else if (sr->var && sr->source != RECIPE_SERIAL_FASTBOOT_GETVAR) {
		recipe_problem(p, "serial.var", "only used with source fastboot_getvar");
		ok = false;
	}
	rw = recipe_get_item(p, o, "serial", "ocotp_words", sr->source == RECIPE_SERIAL_IMX_OCOTP,
			     &words, wj);
	if (rw < 0) {
		ok = false;
	} else if (rw > 0 && sr->source != RECIPE_SERIAL_IMX_OCOTP) {
		recipe_problem(p, wj, "only used with source imx_ocotp");
		ok = false;
	} else if (rw > 0) {
		int n = cJSON_IsArray(words) ? cJSON_GetArraySize(words) : -1;
		size_t i = 0;

		if (n < 1 || n > 4) {
			recipe_problem(p, wj, "needs an array of 1 to 4 register addresses");
			return false;
		}
		for (const cJSON *e = words->child; e; e = e->next, i++) {
			uint64_t v;

			recipe_jpath_index(jp, wj, i);
			if (!recipe_parse_number(e, &v)) {
				recipe_problem(p, jp, "not a number");
				ok = false;
			} else if (v > UINT32_MAX || v % 4) {
				recipe_problem(p, jp, "not a 32-bit register address");
				ok = false;
			} else {
				sr->ocotp_words[i] = (uint32_t)v;
			}
		}
		sr->n_ocotp_words = (size_t)n;
	}
defaults:
	if (sr->source == RECIPE_SERIAL_FASTBOOT_GETVAR && !sr->var)
		sr->var = recipe_strdup(p, "serialno");
	return ok;
}

static bool parse_jedec(struct recipe_parser *p, const cJSON *root, struct recipe *r)
{
	char jp[RECIPE_JPATH_MAX], ej[RECIPE_JPATH_MAX];
	const cJSON *o;
	bool ok = true;
	int n;
	size_t i = 0;

	if (recipe_get_item(p, root, NULL, "jedec", false, &o, jp) <= 0)
		return true;
	n = cJSON_IsArray(o) ? cJSON_GetArraySize(o) : -1;
	if (n < 1 || n > RECIPE_JEDEC_MAX) {
		recipe_problem(p, jp, "needs an array of 1 to %d JEDEC IDs", RECIPE_JEDEC_MAX);
		return false;
	}
	r->jedec = calloc((size_t)n, sizeof(*r->jedec));
	if (!r->jedec) {
		p->oom = true;
		return false;
	}
	for (const cJSON *e = o->child; e; e = e->next, i++) {
		recipe_jpath_index(ej, jp, i);
		if (!cJSON_IsString(e)) {
			recipe_problem(p, ej, "not a string");
			ok = false;
		} else if (!recipe_parse_hex(e->valuestring, 6, &r->jedec[i])) {
			recipe_problem(p, ej, "not 6 hex digits: '%s'", e->valuestring);
			ok = false;
		}
	}
	r->n_jedec = (size_t)n;
	return ok;
}

static bool check_name(struct recipe_parser *p, const char *name)
{
	size_t n = strlen(name);

	if (n > RECIPE_NAME_MAX) {
		recipe_problem(p, "name", "longer than %d characters", RECIPE_NAME_MAX);
		return false;
	}
	for (const char *c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '_' || *c == '-' || *c == '.')) {
			recipe_problem(p, "name",
				       "'%s': use letters, digits, '.', '_' and '-' only", name);
			return false;
		}
	return true;
}

/* "dfuse_layout": a DfuSe layout string with at most RECIPE_DFUSE_PLAN_SECTORS sectors. */
static bool parse_dfuse_layout(struct recipe_parser *p, const cJSON *root, struct recipe *r)
{
	struct dfuse_layout l;
	struct err e = { 0 };
	unsigned n = 0;

	if (recipe_get_string(p, root, NULL, "dfuse_layout", false, &r->dfuse_layout) <= 0)
		return r->dfuse_layout || !cJSON_HasObjectItem(root, "dfuse_layout");
	if (dfuse_mem_parse(r->dfuse_layout, &l, &e) < 0) {
		recipe_problem(p, "dfuse_layout", "not a DfuSe layout string: %s", e.msg);
		return false;
	}
	for (unsigned i = 0; i < l.n_segments; i++)
		n += l.seg[i].n_sectors;
	if (n > RECIPE_DFUSE_PLAN_SECTORS) {
		recipe_problem(p, "dfuse_layout", "%u sectors, at most %d are supported", n,
			       RECIPE_DFUSE_PLAN_SECTORS);
		return false;
	}
	return true;
}

static void parse_root(struct recipe_parser *p, const cJSON *root, struct recipe *r)
{
	static const char *const keys[] = { "name",   "description", "match",
					    "serial", "jedec",	     "dfuse_layout",
					    "stages", "identity",    NULL };
	_cleanup_free_ bool *stage_ok = NULL;
	char jp[RECIPE_JPATH_MAX], sj[RECIPE_JPATH_MAX];
	const cJSON *stages;
	bool ok;
	size_t i;
	int n;

	if (!cJSON_IsObject(root)) {
		recipe_problem(p, NULL, "not a JSON object");
		return;
	}
	ok = recipe_check_keys(p, root, NULL, keys, NULL);
	if (recipe_get_string(p, root, NULL, "name", true, &r->name) > 0)
		ok = check_name(p, r->name) && ok;
	ok = recipe_get_string(p, root, NULL, "description", false, &r->description) >= 0 && ok;
	ok = parse_match(p, root, r) && ok;
	ok = parse_serial(p, root, r) && ok;
	ok = parse_jedec(p, root, r) && ok;
	ok = parse_dfuse_layout(p, root, r) && ok;
	ok = recipe_parse_identity(p, root, r) && ok;
	(void)ok;

	if (recipe_get_item(p, root, NULL, "stages", true, &stages, jp) <= 0)
		return;
	if (!cJSON_IsArray(stages)) {
		recipe_problem(p, jp, "not an array");
		return;
	}
	n = cJSON_GetArraySize(stages);
	if (n == 0 || n > RECIPE_STAGES_MAX) {
		recipe_problem(p, jp, "needs 1 to %d stages", RECIPE_STAGES_MAX);
		return;
	}
	r->stages = calloc((size_t)n, sizeof(*r->stages));
	stage_ok = calloc((size_t)n, sizeof(*stage_ok));
	if (!r->stages || !stage_ok) {
		p->oom = true;
		return;
	}
	r->n_stages = (size_t)n;
	i = 0;
	for (const cJSON *e = stages->child; e; e = e->next, i++) {
		recipe_jpath_index(sj, "stages", i);
		stage_ok[i] = recipe_parse_stage(p, e, sj, &r->stages[i]);
	}
	recipe_check(p, r, stage_ok);
	recipe_check_dfu_ids(p, r, stage_ok);
	recipe_check_identity(p, r, stage_ok);
}

/* Read the whole recipe file (bounded) into a NUL-terminated buffer. */
static int read_file(struct recipe_parser *p, const char *path, char **ret, size_t *ret_len)
{
	/* Non-blocking open: a FIFO must be refused, not hang "recipe check" or SIGHUP. */
	_cleanup_close_ int fd = open_regular(path);
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	ssize_t n;

	if (fd == -EINVAL) {
		recipe_problem(p, NULL, "'%s' is not a regular file", path);
		return -EINVAL;
	}
	if (fd < 0) {
		recipe_problem(p, NULL, "cannot open: %s", strerror(-fd));
		return fd;
	}
	buf = malloc(RECIPE_FILE_MAX + 1);
	if (!buf)
		return -ENOMEM;
	while ((n = read(fd, buf + len, RECIPE_FILE_MAX + 1 - len)) != 0) {
		if (n < 0) {
			int r = -errno;

			if (errno == EINTR)
				continue;
			recipe_problem(p, NULL, "cannot read: %s", strerror(errno));
			return r;
		}
		len += (size_t)n;
		if (len > RECIPE_FILE_MAX) {
			recipe_problem(p, NULL, "larger than %d bytes", RECIPE_FILE_MAX);
			return -EFBIG;
		}
	}
	buf[len] = '\0';
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

/* Directory part of path, resolved; "." for a bare file name. */
static char *recipe_dir_of(const char *path)
{
	_cleanup_free_ char *copy = strdup(path);
	char *slash;

	if (!copy)
		return NULL;
	slash = strrchr(copy, '/');
	if (!slash)
		return realpath(".", NULL);
	if (slash == copy)
		slash[1] = '\0';
	else
		*slash = '\0';
	return realpath(copy, NULL);
}

int recipe_load(const char *path, struct recipe **ret, struct recipe_diags *diags)
{
	return recipe_load_cancellable(path, NULL, ret, diags);
}

int recipe_load_cancellable(const char *path, const atomic_bool *cancel, struct recipe **ret,
			    struct recipe_diags *diags)
{
	struct recipe_parser p = { .file = path, .diags = diags, .cancel = cancel };
	_cleanup_(recipe_freep) struct recipe *r = NULL;
	_cleanup_(cJSON_Deletep) cJSON *root = NULL;
	_cleanup_free_ char *buf = NULL;
	struct recipe_sha256 c;
	const char *end = NULL;
	size_t len = 0;
	int k;

	if (!path || !ret)
		return -EINVAL;
	k = read_file(&p, path, &buf, &len);
	if (k < 0)
		return k;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->path = strdup(path);
	r->dir = recipe_dir_of(path);
	if (!r->path)
		return -ENOMEM;
	if (!r->dir) {
		k = -errno;
		recipe_problem(&p, NULL, "cannot resolve its directory: %s", strerror(errno));
		return k;
	}
	p.dir = r->dir;
	recipe_sha256_init(&c);
	recipe_sha256_update(&c, buf, len);
	recipe_sha256_final(&c, r->sha256);

	/* Length includes the NUL: cJSON checks the terminator within the buffer. */
	root = cJSON_ParseWithLengthOpts(buf, len + 1, &end, true);
	if (!root) {
		unsigned line = 1, col = 1;

		for (const char *s = buf; end && s < end && *s; s++) {
			if (*s == '\n') {
				line++;
				col = 1;
			} else {
				col++;
			}
		}
		recipe_problem(&p, NULL, "invalid JSON at line %u, column %u", line, col);
		return -EBADMSG;
	}
	parse_root(&p, root, r);
	if (p.oom)
		return -ENOMEM;
	if (p.problems)
		return -EBADMSG;
	*ret = TAKE_PTR(r);
	return 0;
}
