/*
 * The rig's shared-bus model (hubbw.h; figures and sources in
 * tests/sim/README.md, "Shared bus").
 *
 * Each modelled link (a hub's upstream port, a Transaction Translator) is a
 * FIFO server with a fixed capacity: a transfer occupies it for bytes /
 * capacity, starting when the link is free, and completes no earlier than the
 * end of its occupancy on every link it crosses.  Work-conserving and
 * serialising, not per-microframe: with transfers of many packets the
 * aggregate is what the bus allows, which is what a line builder sizes.
 */
#include "tests/sim/hubbw.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Bulk payload per second the bus can carry (USB 2.0 §5.8.4, tables 5-10
 * and 5-9 of the spec): high speed 13 x 512-byte packets per 125 us
 * microframe, full speed 19 x 64-byte packets per 1 ms frame.
 */
#define HS_BULK_BPS (13.0 * 512 * 8000) /* 53.248 MB/s */
#define FS_BULK_BPS (19.0 * 64 * 1000)	/* 1.216 MB/s */
#define MAX_PORTS 15
#define MAX_LINKS_PER_HUB (1 + MAX_PORTS)

struct link {
	char name[48];
	double capacity;     /* bytes per device second */
	uint64_t busy_until; /* real ns */
	uint64_t bytes, busy_ns, wait_ns, first_ns, last_ns;
};

struct hub {
	char port[32];
	enum sim_speed speed;
	bool multi_tt;
	struct link up;
	struct link tt[MAX_PORTS + 1]; /* single: tt[0]; multi: tt[downstream port] */
};

struct hubbw {
	pthread_mutex_t lock;
	struct hub *hubs;
	size_t n_hubs;
};

static int fail(char *err, size_t errlen, int r, const char *fmt, const char *path, const char *key,
		const char *what)
{
	snprintf(err, errlen, fmt, path, key, what);
	return r;
}

static bool is_hub(char *const *hubs, size_t n, const char *port)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(hubs[i], port))
			return true;
	return false;
}

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long len;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)len + 1);
		if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
			free(buf);
			buf = NULL;
		} else if (buf) {
			buf[len] = '\0';
		}
	}
	fclose(f);
	return buf;
}

static void link_init(struct link *l, const char *hub, const char *suffix, double capacity)
{
	snprintf(l->name, sizeof(l->name), "%s%s", hub, suffix);
	l->capacity = capacity;
}

/* One "PORT": { "speed": ..., "tt": ... } entry. */
static int parse_hub(struct hub *h, const cJSON *o, const char *path, char *err, size_t errlen)
{
	const cJSON *sp = cJSON_GetObjectItemCaseSensitive(o, "speed");
	const cJSON *tt = cJSON_GetObjectItemCaseSensitive(o, "tt");
	const cJSON *ch;
	char suffix[16];

	if (!cJSON_IsObject(o))
		return fail(err, errlen, -EINVAL, "%s: hub_bandwidth.%s: %s", path, o->string,
			    "not an object");
	cJSON_ArrayForEach(ch, o)
	{
		if (strcmp(ch->string, "speed") && strcmp(ch->string, "tt") && ch->string[0] != '_')
			return fail(err, errlen, -EINVAL, "%s: hub_bandwidth.%s: %s", path,
				    o->string, "unknown key (speed, tt)");
	}
	if (!cJSON_IsString(sp) ||
	    (strcmp(sp->valuestring, "high") && strcmp(sp->valuestring, "full")))
		return fail(err, errlen, -EINVAL, "%s: hub_bandwidth.%s.speed: %s", path, o->string,
			    "not \"high\" or \"full\"");
	if (tt && (!cJSON_IsString(tt) ||
		   (strcmp(tt->valuestring, "single") && strcmp(tt->valuestring, "multi"))))
		return fail(err, errlen, -EINVAL, "%s: hub_bandwidth.%s.tt: %s", path, o->string,
			    "not \"single\" or \"multi\"");
	snprintf(h->port, sizeof(h->port), "%s", o->string);
	h->speed = !strcmp(sp->valuestring, "high") ? SIM_SPEED_HIGH : SIM_SPEED_FULL;
	/* A hub without a tt key is single-TT: the cheap and common kind. */
	h->multi_tt = tt && !strcmp(tt->valuestring, "multi");
	link_init(&h->up, h->port, "", h->speed == SIM_SPEED_HIGH ? HS_BULK_BPS : FS_BULK_BPS);
	for (unsigned p = 0; p <= MAX_PORTS; p++) {
		snprintf(suffix, sizeof(suffix), p ? "/tt%u" : "/tt", p);
		link_init(&h->tt[p], h->port, suffix, FS_BULK_BPS);
	}
	return 0;
}

int hubbw_load(const char *path, char *const *hubs, size_t n_hubs, struct hubbw **ret, char *err,
	       size_t errlen)
{
	char *text = read_all(path);
	cJSON *root, *cfg, *ch;
	struct hubbw *h = NULL;
	int r = 0;
	size_t i = 0;

	*ret = NULL;
	if (!text)
		return fail(err, errlen, -errno ? -errno : -EIO, "%s: %s%s", path, "",
			    "cannot read");
	root = cJSON_Parse(text);
	free(text);
	cfg = cJSON_GetObjectItemCaseSensitive(root, "hub_bandwidth");
	if (!cfg)
		goto out;
	if (!cJSON_IsObject(cfg)) {
		r = fail(err, errlen, -EINVAL, "%s: %s: %s", path, "hub_bandwidth",
			 "not an object");
		goto out;
	}
	h = calloc(1, sizeof(*h));
	if (h)
		h->hubs = calloc((size_t)cJSON_GetArraySize(cfg) + 1, sizeof(*h->hubs));
	if (!h || !h->hubs) {
		r = -ENOMEM;
		goto out;
	}
	pthread_mutex_init(&h->lock, NULL);
	cJSON_ArrayForEach(ch, cfg)
	{
		if (!is_hub(hubs, n_hubs, ch->string)) {
			r = fail(err, errlen, -EINVAL, "%s: hub_bandwidth.%s: %s", path, ch->string,
				 "not a hub of the scenario");
			goto out;
		}
		r = parse_hub(&h->hubs[i++], ch, path, err, errlen);
		if (r < 0)
			goto out;
	}
	h->n_hubs = i;
	*ret = h;
	h = NULL;
out:
	hubbw_free(h);
	cJSON_Delete(root);
	return r;
}

struct hubbw *hubbw_free(struct hubbw *h)
{
	if (!h)
		return NULL;
	if (h->hubs)
		pthread_mutex_destroy(&h->lock);
	free(h->hubs);
	free(h);
	return NULL;
}

static struct hub *find_hub(struct hubbw *h, const char *port, size_t len)
{
	for (size_t i = 0; i < h->n_hubs; i++)
		if (strlen(h->hubs[i].port) == len && !strncmp(h->hubs[i].port, port, len))
			return &h->hubs[i];
	return NULL;
}

/* Occupy l for `bytes` from now_ns on (lock held); returns the real end. */
static uint64_t link_take(struct link *l, size_t bytes, double scale, uint64_t now_ns)
{
	uint64_t dev_ns = (uint64_t)((double)bytes * 1e9 / l->capacity);
	uint64_t start = l->busy_until > now_ns ? l->busy_until : now_ns;

	if (!bytes)
		return now_ns;
	l->busy_until = start + (uint64_t)((double)dev_ns * scale);
	l->bytes += bytes;
	l->busy_ns += dev_ns;
	l->wait_ns += (uint64_t)((double)(start - now_ns) / scale);
	if (!l->first_ns)
		l->first_ns = start;
	l->last_ns = l->busy_until;
	return l->busy_until;
}

/*
 * Walk from the device's port up to the root: every modelled hub on the way
 * adds its upstream link; the first high-speed hub above a full- or
 * low-speed device adds the TT that translates for it.
 */
uint64_t hubbw_delay(struct hubbw *h, const char *port, enum sim_speed speed, size_t bytes,
		     double scale, uint64_t now_ns, uint64_t board_delay_ns)
{
	uint64_t done = now_ns + board_delay_ns, end;
	bool translated = speed == SIM_SPEED_HIGH;
	const char *dot;
	size_t len = strlen(port);

	if (!h || !bytes || !(scale > 0))
		return board_delay_ns;
	pthread_mutex_lock(&h->lock);
	while ((dot = memrchr(port, '.', len))) {
		struct hub *hub = find_hub(h, port, (size_t)(dot - port));
		unsigned down = (unsigned)atoi(dot + 1);

		if (hub && !translated && hub->speed == SIM_SPEED_HIGH) {
			struct link *tt = &hub->tt[hub->multi_tt && down <= MAX_PORTS ? down : 0];

			end = link_take(tt, bytes, scale, now_ns);
			done = end > done ? end : done;
			translated = true;
		}
		if (hub) {
			end = link_take(&hub->up, bytes, scale, now_ns);
			done = end > done ? end : done;
		}
		len = (size_t)(dot - port);
	}
	pthread_mutex_unlock(&h->lock);
	return done - now_ns;
}

int hubbw_stat(struct hubbw *h, size_t i, struct hubbw_stat *st)
{
	size_t hub = i / MAX_LINKS_PER_HUB, k = i % MAX_LINKS_PER_HUB;
	struct link *l;

	if (!h || hub >= h->n_hubs)
		return 0;
	pthread_mutex_lock(&h->lock);
	l = k == 0 ? &h->hubs[hub].up : &h->hubs[hub].tt[k - 1];
	*st = (struct hubbw_stat){
		.name = l->name,
		.bytes = l->bytes,
		.busy_ns = l->busy_ns,
		.wait_ns = l->wait_ns,
		.first_ns = l->first_ns,
		.last_ns = l->last_ns,
		.capacity = l->capacity,
	};
	pthread_mutex_unlock(&h->lock);
	return 1;
}
