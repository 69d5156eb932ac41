/*
 * This file implements the board core of board.h: the type registry, common
 * options, the USB chapter 9 standard requests (USB 2.0 §9.4), connection
 * state, stats, the fault log and the timing helpers.  Everything
 * protocol-specific lives in a model (board-private.h).
 */
#include "tests/sim/boards/board.h"
#include "tests/sim/boards/board-private.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* USB 2.0 Table 9-4 standard request codes. */
#define USB_REQ_GET_STATUS 0x00
#define USB_REQ_CLEAR_FEATURE 0x01
#define USB_REQ_SET_FEATURE 0x03
#define USB_REQ_SET_ADDRESS 0x05
#define USB_REQ_GET_DESCRIPTOR 0x06
#define USB_REQ_GET_CONFIGURATION 0x08
#define USB_REQ_SET_CONFIGURATION 0x09
#define USB_REQ_GET_INTERFACE 0x0a
#define USB_REQ_SET_INTERFACE 0x0b

/* USB 2.0 §9.6.7: string descriptor 0 lists LANGIDs; 0x0409 is US English. */
#define USB_LANGID_EN_US 0x0409

/*
 * Models are weak references so a model file can be added (or be missing
 * while it is written) without touching this table's users; an absent model
 * has address NULL and is skipped.
 */
extern const struct sim_model sim_imx_sdp_model __attribute__((weak));
extern const struct sim_model sim_ingenic_model __attribute__((weak));

static const struct sim_model *const board_models[] = {
	&sim_stm32_dfuse_model,
	&sim_imx_sdp_model,
	&sim_ingenic_model,
};
#define BOARD_N_MODELS (sizeof(board_models) / sizeof(board_models[0]))

struct sim_board {
	const struct sim_model *model;
	void *priv;
	struct sim_host host;

	/* only valid inside sim_board_new() */
	char *err;
	size_t errlen;

	/* identity */
	uint8_t device_desc[18];
	uint8_t *config_desc;
	size_t config_len;
	enum sim_speed speed;
	/* usb.vid / usb.pid options: a part outside every known ID table */
	int vid_override, pid_override; /* -1: keep the model's */
	char *strings[SIM_BOARD_MAX_STRINGS];
	uint8_t *class_desc;
	size_t class_desc_len;
	uint8_t class_desc_type;
	struct sim_identity identity;

	/* USB device state */
	bool connected;
	bool unplugged;	     /* cable pulled: only replug brings it back */
	unsigned generation; /* bumped on power loss; stale scheduled calls check it */
	uint8_t configuration;
	uint8_t alt[SIM_BOARD_MAX_INTERFACES];

	/* timing */
	double scale;
	uint64_t xfer_overhead_ns;
	uint64_t bulk_overhead_ns; /* per high-speed bulk transfer */
	unsigned packet_overhead;

	/* transfers the board keeps (hang faults) */
	struct sim_xfer **pending;
	size_t n_pending, cap_pending;
	int cur_request; /* bRequest being handled, -1 outside submit */

	struct sim_faults *faults;
	char **fault_log;
	size_t n_fault_log;
	struct sim_board_stats stats;
};

const char *sim_board_type(size_t i)
{
	for (size_t m = 0; m < BOARD_N_MODELS; m++) {
		if (!board_models[m])
			continue;
		for (const char *const *nm = board_models[m]->names; *nm; nm++)
			if (i-- == 0)
				return *nm;
	}
	return NULL;
}

static const struct sim_model *board_find_model(const char *type)
{
	for (size_t i = 0; i < BOARD_N_MODELS; i++)
		if (board_models[i])
			for (const char *const *n = board_models[i]->names; *n; n++)
				if (strcmp(*n, type) == 0)
					return board_models[i];
	return NULL;
}

int sim_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int sim_board_errf(struct sim_board *b, int err, const char *fmt, ...)
{
	va_list ap;

	if (b->err && b->errlen) {
		va_start(ap, fmt);
		vsnprintf(b->err, b->errlen, fmt, ap);
		va_end(ap);
	}
	return err;
}

void sim_board_set_priv(struct sim_board *b, void *priv)
{
	b->priv = priv;
}

void *sim_board_priv(struct sim_board *b)
{
	return b->priv;
}

int sim_parse_u64(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end)
		return -EINVAL;
	*ret = v;
	return 0;
}

int sim_parse_double(const char *s, double *ret)
{
	char *end;
	double v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v < 0)
		return -EINVAL;
	*ret = v;
	return 0;
}

int sim_parse_bool(const char *s, bool *ret)
{
	if (!s)
		return -EINVAL;
	if (!strcmp(s, "1") || !strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on")) {
		*ret = true;
		return 0;
	}
	if (!strcmp(s, "0") || !strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off")) {
		*ret = false;
		return 0;
	}
	return -EINVAL;
}

/* Options every board understands; -ENOENT if `key` is not one. */
static int board_common_option(struct sim_board *b, const char *key, const char *value)
{
	uint64_t u;
	int r;

	if (!strcmp(key, "timing.scale")) {
		if (sim_parse_double(value, &b->scale) < 0)
			return sim_board_errf(b, -EINVAL, "option '%s': bad value '%s'", key,
					      value);
		return 0;
	}
	if (!strcmp(key, "timing.xfer_overhead_us")) {
		if (sim_parse_u64(value, &u) < 0)
			return sim_board_errf(b, -EINVAL, "option '%s': bad value '%s'", key,
					      value);
		b->xfer_overhead_ns = u * 1000;
		return 0;
	}
	if (!strcmp(key, "timing.bulk_overhead_us")) {
		if (sim_parse_u64(value, &u) < 0)
			return sim_board_errf(b, -EINVAL, "option '%s': bad value '%s'", key,
					      value);
		b->bulk_overhead_ns = u * 1000;
		return 0;
	}
	if (!strcmp(key, "timing.packet_overhead_bytes")) {
		if (sim_parse_u64(value, &u) < 0 || u > 1000)
			return sim_board_errf(b, -EINVAL, "option '%s': bad value '%s'", key,
					      value);
		b->packet_overhead = u;
		return 0;
	}
	if (!strcmp(key, "usb.vid") || !strcmp(key, "usb.pid")) {
		char *end;
		unsigned long id = strtoul(value, &end, 16);

		if (!*value || *end || id > 0xffff)
			return sim_board_errf(b, -EINVAL,
					      "option '%s': '%s' is not a 4-digit hex ID", key,
					      value);
		*(key[4] == 'v' ? &b->vid_override : &b->pid_override) = (int)id;
		return 0;
	}
	if (!strncmp(key, "faults.", 7)) {
		r = sim_faults_option(&b->faults, key, value, b->err, b->errlen);
		return r;
	}
	return -ENOENT;
}

int sim_board_new(const char *type, const struct sim_opt *opts, size_t n_opts,
		  const struct sim_host *host, struct sim_board **ret, char *err, size_t errlen)
{
	const struct sim_model *m;
	struct sim_board *b;
	int r;

	if (err && errlen)
		err[0] = '\0';
	if (!type || !ret) {
		if (err && errlen)
			snprintf(err, errlen, "no board type");
		return -EINVAL;
	}
	m = board_find_model(type);
	if (!m) {
		if (err && errlen)
			snprintf(err, errlen, "unknown board type '%s'", type);
		return -EINVAL;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		if (err && errlen)
			snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	b->model = m;
	b->vid_override = b->pid_override = -1;
	if (host)
		b->host = *host;
	b->err = err;
	b->errlen = errlen;
	b->scale = 1.0;
	/*
	 * Assumption, not a measurement: a full-speed control transfer behind
	 * a high-speed hub costs about one 1 ms frame of scheduling (setup,
	 * status stage, transaction-translator splits) on top of its data.
	 */
	b->xfer_overhead_ns = 1000000;
	/*
	 * A high-speed bulk transfer waits about one 125 us microframe for the
	 * host controller to reach it and report its completion (Linux
	 * ehci-hcd: interrupt threshold log2_irq_thresh 0 = 1 microframe).
	 */
	b->bulk_overhead_ns = 125000;
	/* Per data packet: SYNC, PID, CRC16, EOP, handshake, inter-packet gap. */
	b->packet_overhead = 13;
	b->cur_request = -1;

	r = m->create(b, type);
	if (r < 0)
		goto fail;
	for (size_t i = 0; i < n_opts; i++) {
		const char *key = opts[i].key, *value = opts[i].value;

		if (!key || !value) {
			r = sim_board_errf(b, -EINVAL, "option %zu: missing key or value", i);
			goto fail;
		}
		r = board_common_option(b, key, value);
		if (r == -ENOENT)
			r = m->option ? m->option(b, key, value) : -ENOENT;
		if (r == -ENOENT) {
			r = sim_board_errf(b, -EINVAL, "unknown option '%s' for board type '%s'",
					   key, type);
			goto fail;
		}
		if (r < 0)
			goto fail;
	}
	r = sim_faults_validate(b->faults, m->steps, err, errlen);
	if (r < 0)
		goto fail;
	b->connected = true;
	r = m->start(b);
	if (r < 0)
		goto fail;
	b->err = NULL;
	b->errlen = 0;
	*ret = b;
	return 0;
fail:
	if (r == -ENOMEM && err && errlen && !err[0])
		snprintf(err, errlen, "out of memory");
	b->err = NULL;
	sim_board_free(b);
	return r;
}

struct sim_board *sim_board_free(struct sim_board *b)
{
	if (!b)
		return NULL;
	if (b->model && b->model->destroy)
		b->model->destroy(b);
	free(b->config_desc);
	for (size_t i = 0; i < SIM_BOARD_MAX_STRINGS; i++)
		free(b->strings[i]);
	free(b->class_desc);
	free(b->pending);
	sim_faults_free(b->faults);
	for (size_t i = 0; i < b->n_fault_log; i++)
		free(b->fault_log[i]);
	free(b->fault_log);
	free(b);
	return NULL;
}

/* Descriptors and strings */

int sim_board_set_descriptors(struct sim_board *b, const uint8_t *dev, const uint8_t *cfg,
			      size_t cfg_len, enum sim_speed speed)
{
	uint8_t *c;

	if (cfg_len < 9 || dev[0] != 18)
		return -EINVAL;
	c = malloc(cfg_len);
	if (!c)
		return -ENOMEM;
	memcpy(c, cfg, cfg_len);
	/* wTotalLength is the core's business: it always matches. */
	sim_put_le16(c + 2, cfg_len);
	memcpy(b->device_desc, dev, 18);
	if (b->vid_override >= 0)
		sim_put_le16(b->device_desc + 8, (uint16_t)b->vid_override);
	if (b->pid_override >= 0)
		sim_put_le16(b->device_desc + 10, (uint16_t)b->pid_override);
	free(b->config_desc);
	b->config_desc = c;
	b->config_len = cfg_len;
	b->speed = speed;
	return 0;
}

int sim_board_set_string(struct sim_board *b, uint8_t idx, const char *s)
{
	char *d = NULL;

	if (idx == 0 || idx >= SIM_BOARD_MAX_STRINGS)
		return -EINVAL;
	/* A string descriptor holds at most (255 - 2) / 2 characters. */
	if (s && strlen(s) > 126)
		return -EINVAL;
	if (s) {
		d = strdup(s);
		if (!d)
			return -ENOMEM;
	}
	free(b->strings[idx]);
	b->strings[idx] = d;
	return 0;
}

int sim_board_set_class_descriptor(struct sim_board *b, uint8_t type, const uint8_t *d, size_t len)
{
	uint8_t *c = NULL;

	if (len) {
		c = malloc(len);
		if (!c)
			return -ENOMEM;
		memcpy(c, d, len);
	}
	free(b->class_desc);
	b->class_desc = c;
	b->class_desc_len = len;
	b->class_desc_type = type;
	return 0;
}

const struct sim_identity *sim_board_identity(struct sim_board *b)
{
	struct sim_identity *id = &b->identity;

	id->device_desc = b->device_desc;
	id->config_desc = b->config_desc;
	id->config_len = b->config_len;
	id->speed = b->speed;
	id->manufacturer = b->device_desc[14] ? b->strings[b->device_desc[14]] : NULL;
	id->product = b->device_desc[15] ? b->strings[b->device_desc[15]] : NULL;
	id->serial = b->device_desc[16] ? b->strings[b->device_desc[16]] : NULL;
	return id;
}

uint8_t sim_board_alt(struct sim_board *b, uint8_t intf)
{
	return intf < SIM_BOARD_MAX_INTERFACES ? b->alt[intf] : 0;
}

uint8_t sim_board_configuration(struct sim_board *b)
{
	return b->configuration;
}

/* Host services */

uint64_t sim_board_now_ns(struct sim_board *b)
{
	return b->host.now_ns ? b->host.now_ns(b->host.ctx) : 0;
}

void sim_board_schedule(struct sim_board *b, uint64_t delay_ns,
			void (*fn)(struct sim_board *b, void *arg), void *arg)
{
	if (b->host.schedule)
		b->host.schedule(b->host.ctx, delay_ns, fn, arg);
}

static void board_forget_pending(struct sim_board *b)
{
	b->n_pending = 0;
}

void sim_board_disconnect(struct sim_board *b, uint64_t delay_ns)
{
	board_forget_pending(b);
	if (!b->connected)
		return;
	b->connected = false;
	b->generation++;
	if (b->host.event)
		b->host.event(b->host.ctx, SIM_EV_DISCONNECT, delay_ns);
}

static void board_reset_usb_state(struct sim_board *b)
{
	b->configuration = 0;
	memset(b->alt, 0, sizeof(b->alt));
}

static void board_connect_now(struct sim_board *b, void *arg)
{
	unsigned gen = (unsigned)(uintptr_t)arg;

	/* The cable was pulled (or another reset happened) meanwhile. */
	if (gen != b->generation || b->unplugged || b->connected)
		return;
	board_reset_usb_state(b);
	b->connected = true;
	if (b->host.event)
		b->host.event(b->host.ctx, SIM_EV_CONNECT, 0);
}

void sim_board_connect(struct sim_board *b, uint64_t delay_ns)
{
	void *arg = (void *)(uintptr_t)b->generation;

	if (b->host.schedule) {
		b->host.schedule(b->host.ctx, delay_ns, board_connect_now, arg);
		return;
	}
	/* No scheduler: come back at once, let the front-end delay the event. */
	if (b->unplugged || b->connected)
		return;
	board_reset_usb_state(b);
	b->connected = true;
	if (b->host.event)
		b->host.event(b->host.ctx, SIM_EV_CONNECT, delay_ns);
}

bool sim_board_connected(struct sim_board *b)
{
	return b->connected;
}

void sim_board_unplug(struct sim_board *b)
{
	bool was = b->connected;

	board_forget_pending(b);
	b->unplugged = true;
	b->connected = false;
	b->generation++;
	if (b->model->power_off)
		b->model->power_off(b);
	if (was && b->host.event)
		b->host.event(b->host.ctx, SIM_EV_DISCONNECT, 0);
}

void sim_board_replug(struct sim_board *b)
{
	if (b->connected) {
		/* Replug without unplug: a power cycle all the same. */
		sim_board_unplug(b);
	}
	b->unplugged = false;
	b->generation++;
	board_reset_usb_state(b);
	if (b->model->power_on)
		b->model->power_on(b);
	b->connected = true;
	if (b->host.event)
		b->host.event(b->host.ctx, SIM_EV_CONNECT, 0);
}

void sim_board_reset(struct sim_board *b)
{
	if (!b->connected)
		return;
	board_forget_pending(b);
	board_reset_usb_state(b);
	if (b->model->usb_reset)
		b->model->usb_reset(b);
}

/* Time */

double sim_board_time_scale(struct sim_board *b)
{
	return b->scale;
}

uint64_t sim_board_scaled(struct sim_board *b, uint64_t device_ns)
{
	double v = (double)device_ns * b->scale;

	if (v <= 0)
		return 0;
	if (v >= 1.8e19)
		return UINT64_MAX / 2;
	return (uint64_t)v;
}

uint64_t sim_board_bus_ns(struct sim_board *b, size_t len)
{
	static const uint64_t bit_ps[] = {
		[SIM_SPEED_LOW] = 666667, /* 1.5 Mbit/s */
		[SIM_SPEED_FULL] = 83333, /* 12 Mbit/s */
		[SIM_SPEED_HIGH] = 2083,  /* 480 Mbit/s */
		[SIM_SPEED_SUPER] = 250,  /* 5 Gbit/s, 8b/10b: 4 Gbit/s of data */
	};
	/* bcdUSB 3.x: bMaxPacketSize0 is an exponent (9: 512 bytes, USB 3.2 §9.6.1). */
	unsigned mps = b->speed == SIM_SPEED_SUPER ? 1u << (b->device_desc[7] & 15)
		       : b->device_desc[7]	   ? b->device_desc[7]
						   : 64;
	uint64_t packets = (len + mps - 1) / mps;
	uint64_t bytes, ps;

	if (b->speed < SIM_SPEED_LOW || b->speed > SIM_SPEED_SUPER || !bit_ps[b->speed])
		return b->xfer_overhead_ns;
	/* Setup packet (8 bytes) plus data packets, each with its overhead;
	 * bit stuffing adds up to 1/6, counted as its average 1/12. */
	bytes = 8 + b->packet_overhead + len + packets * b->packet_overhead;
	ps = bytes * 8 * bit_ps[b->speed];
	ps += ps / 12;
	return b->xfer_overhead_ns + ps / 1000;
}

/*
 * High-speed bulk (USB 2.0 §5.8.4, table 5-10): at most 13 packets of 512
 * bytes per 125 us microframe, 53.248 MB/s of payload; a short last packet
 * still takes its slot.  Plus the per-transfer overhead, not a 1 ms frame.
 */
static uint64_t board_hs_bulk_ns(struct sim_board *b, size_t len)
{
	uint64_t packets = len ? (len + 511) / 512 : 1;

	return b->bulk_overhead_ns + packets * 125000 / 13;
}

uint64_t sim_board_xfer_ns(struct sim_board *b, const struct sim_xfer *x, size_t len)
{
	if (x->type == SIM_XFER_BULK && b->speed == SIM_SPEED_HIGH)
		return board_hs_bulk_ns(b, len);
	return sim_board_bus_ns(b, len);
}

/* Stats, faults */

void sim_board_count_forbidden(struct sim_board *b)
{
	b->stats.forbidden++;
}

void sim_board_stats(struct sim_board *b, struct sim_board_stats *st)
{
	*st = b->stats;
}

const char *sim_board_fault_log(struct sim_board *b, unsigned idx)
{
	return idx < b->n_fault_log ? b->fault_log[idx] : NULL;
}

static void board_log_fault(struct sim_board *b, const char *text)
{
	char **n, *s;

	b->stats.faults_fired++;
	s = strdup(text);
	if (!s)
		return;
	n = realloc(b->fault_log, (b->n_fault_log + 1) * sizeof(*n));
	if (!n) {
		free(s);
		return;
	}
	b->fault_log = n;
	b->fault_log[b->n_fault_log++] = s;
}

static enum sim_fault_kind board_fault_check(struct sim_board *b, const char *step, unsigned kinds)
{
	char log[160];
	enum sim_fault_kind k;

	if (!b->faults)
		return SIM_FAULT_NONE;
	k = sim_faults_check(b->faults, step, b->cur_request, b->stats.bytes_out, kinds, log,
			     sizeof(log));
	if (k == SIM_FAULT_NONE)
		return k;
	board_log_fault(b, log);
	if (k == SIM_FAULT_UNPLUG) {
		/* The board loses power: the model forgets its volatile state. */
		b->unplugged = true;
		if (b->model->power_off)
			b->model->power_off(b);
		sim_board_disconnect(b, 0);
	}
	return k;
}

enum sim_fault_kind sim_board_fault_step(struct sim_board *b, const char *step, unsigned kinds)
{
	return board_fault_check(b, step, kinds);
}

int sim_board_hang(struct sim_board *b, struct sim_xfer *x)
{
	struct sim_xfer **n;

	if (b->n_pending == b->cap_pending) {
		size_t cap = b->cap_pending ? b->cap_pending * 2 : 4;

		n = realloc(b->pending, cap * sizeof(*n));
		if (!n) {
			/* Cannot keep it: a hang that times out looks the same. */
			x->status = -ETIMEDOUT;
			return SIM_XFER_DONE;
		}
		b->pending = n;
		b->cap_pending = cap;
	}
	b->pending[b->n_pending++] = x;
	return SIM_XFER_PENDING;
}

void sim_board_cancel(struct sim_board *b, struct sim_xfer *x)
{
	for (size_t i = 0; i < b->n_pending; i++) {
		if (b->pending[i] == x) {
			memmove(&b->pending[i], &b->pending[i + 1],
				(b->n_pending - i - 1) * sizeof(*b->pending));
			b->n_pending--;
			return;
		}
	}
	if (b->model->cancel)
		b->model->cancel(b, x);
}

/* Standard requests */

static void board_reply(struct sim_xfer *x, const void *data, size_t len)
{
	size_t n = len < x->len ? len : x->len;

	if (n > x->setup.wLength)
		n = x->setup.wLength;
	if (n)
		memcpy(x->data, data, n);
	x->actual = n;
}

static int board_get_string(struct sim_board *b, struct sim_xfer *x, uint8_t idx)
{
	uint8_t d[256];
	const char *s;
	size_t n;

	if (idx == 0) {
		d[0] = 4;
		d[1] = SIM_USB_DT_STRING;
		sim_put_le16(d + 2, USB_LANGID_EN_US);
		board_reply(x, d, 4);
		return 0;
	}
	if (idx >= SIM_BOARD_MAX_STRINGS || !b->strings[idx])
		return -EPIPE;
	s = b->strings[idx];
	n = strlen(s);
	d[0] = 2 + 2 * n;
	d[1] = SIM_USB_DT_STRING;
	/* ASCII to UTF-16LE. */
	for (size_t i = 0; i < n; i++) {
		d[2 + 2 * i] = (uint8_t)s[i];
		d[3 + 2 * i] = 0;
	}
	board_reply(x, d, d[0]);
	return 0;
}

static int board_get_descriptor(struct sim_board *b, struct sim_xfer *x)
{
	uint8_t type = x->setup.wValue >> 8, idx = x->setup.wValue & 0xff;

	switch (type) {
	case SIM_USB_DT_DEVICE:
		board_reply(x, b->device_desc, sizeof(b->device_desc));
		return 0;
	case SIM_USB_DT_CONFIG:
		if (idx != 0 || !b->config_desc)
			return -EPIPE;
		board_reply(x, b->config_desc, b->config_len);
		return 0;
	case SIM_USB_DT_STRING:
		return board_get_string(b, x, idx);
	default:
		if (b->class_desc && type == b->class_desc_type && idx == 0) {
			board_reply(x, b->class_desc, b->class_desc_len);
			return 0;
		}
		return -EPIPE;
	}
}

/* Number of interfaces and alt settings, read from the config descriptor. */
static bool board_has_alt(struct sim_board *b, uint8_t intf, uint8_t alt)
{
	for (size_t o = 0; o + 1 < b->config_len && b->config_desc[o]; o += b->config_desc[o]) {
		const uint8_t *d = b->config_desc + o;

		if (d[1] == SIM_USB_DT_INTERFACE && o + 3 < b->config_len && d[2] == intf &&
		    d[3] == alt)
			return true;
	}
	return false;
}

/* Returns 0, -EPIPE, or -ENOENT for "not a core request". */
static int board_standard(struct sim_board *b, struct sim_xfer *x)
{
	const struct sim_setup *s = &x->setup;
	uint8_t recip = s->bmRequestType & SIM_USB_RECIP_MASK;
	bool in = s->bmRequestType & SIM_USB_DIR_IN;
	uint8_t v[2] = { 0, 0 };
	int r;

	switch (s->bRequest) {
	case USB_REQ_GET_DESCRIPTOR:
		if (!in)
			return -EPIPE;
		return board_get_descriptor(b, x);
	case USB_REQ_GET_STATUS:
		if (!in)
			return -EPIPE;
		/* Device: bit 0 self-powered, from bmAttributes 0x40. */
		if (recip == SIM_USB_RECIP_DEVICE && b->config_len >= 9 &&
		    (b->config_desc[7] & 0x40))
			v[0] = 1;
		board_reply(x, v, 2);
		return 0;
	case USB_REQ_CLEAR_FEATURE:
	case USB_REQ_SET_FEATURE:
		/* ENDPOINT_HALT on EP0 or remote wakeup: nothing to do. */
		return in ? -EPIPE : 0;
	case USB_REQ_SET_ADDRESS:
		return 0;
	case USB_REQ_GET_CONFIGURATION:
		if (!in)
			return -EPIPE;
		board_reply(x, &b->configuration, 1);
		return 0;
	case USB_REQ_SET_CONFIGURATION:
		if (in)
			return -EPIPE;
		if ((s->wValue & 0xff) != 0 &&
		    (!b->config_desc || (s->wValue & 0xff) != b->config_desc[5]))
			return -EPIPE;
		b->configuration = s->wValue & 0xff;
		memset(b->alt, 0, sizeof(b->alt));
		if (b->model->set_interface)
			for (uint8_t i = 0; b->config_desc && i < b->config_desc[4] &&
					    i < SIM_BOARD_MAX_INTERFACES;
			     i++)
				b->model->set_interface(b, i, 0);
		return 0;
	case USB_REQ_GET_INTERFACE:
		if (!in || s->wIndex >= SIM_BOARD_MAX_INTERFACES || !board_has_alt(b, s->wIndex, 0))
			return -EPIPE;
		board_reply(x, &b->alt[s->wIndex], 1);
		return 0;
	case USB_REQ_SET_INTERFACE:
		if (in || s->wIndex >= SIM_BOARD_MAX_INTERFACES ||
		    !board_has_alt(b, s->wIndex, s->wValue & 0xff) || s->wValue > 0xff)
			return -EPIPE;
		if (b->model->set_interface) {
			r = b->model->set_interface(b, s->wIndex, s->wValue);
			if (r < 0)
				return -EPIPE;
		}
		b->alt[s->wIndex] = s->wValue;
		return 0;
	default:
		return -ENOENT;
	}
}

int sim_board_submit(struct sim_board *b, struct sim_xfer *x)
{
	bool in, control = x->type == SIM_XFER_CONTROL;
	uint64_t busy = 0;
	enum sim_fault_kind k;
	int r;

	b->stats.requests++;
	x->status = 0;
	x->actual = 0;
	x->delay_ns = 0;
	if (!b->connected) {
		x->status = -ENODEV;
		return SIM_XFER_DONE;
	}
	if (control) {
		in = x->setup.bmRequestType & SIM_USB_DIR_IN;
		if (x->len > x->setup.wLength)
			x->len = x->setup.wLength;
	} else {
		in = x->ep & SIM_USB_DIR_IN;
	}
	if (!in)
		b->stats.bytes_out += x->len;
	if (!control && !b->model->data) {
		/* No data endpoints: the kernel would not even submit this,
		 * an unknown endpoint is a protocol error. */
		x->status = -EPIPE;
		return SIM_XFER_DONE;
	}

	/* Data endpoints carry no bRequest: request-matched faults skip them. */
	b->cur_request = control ? x->setup.bRequest : -1;
	k = board_fault_check(b, NULL, SIM_FAULT_TRANSFER_KINDS);
	if (k == SIM_FAULT_UNPLUG) {
		x->status = -ENODEV;
		r = SIM_XFER_DONE;
		goto out;
	}
	if (k == SIM_FAULT_STALL) {
		x->status = -EPIPE;
		r = SIM_XFER_DONE;
		goto out;
	}
	if (k == SIM_FAULT_HANG) {
		r = sim_board_hang(b, x);
		goto out;
	}

	if (b->model->busy_delay && b->model->busy_delay(b, &busy) == -EPIPE) {
		x->status = -EPIPE;
		x->delay_ns = sim_board_scaled(b, sim_board_xfer_ns(b, x, 0));
		r = SIM_XFER_DONE;
		goto out;
	}
	x->delay_ns = busy + sim_board_scaled(b, sim_board_xfer_ns(b, x, x->len));

	if (!control) {
		r = b->model->data(b, x);
	} else if ((x->setup.bmRequestType & SIM_USB_TYPE_MASK) == SIM_USB_TYPE_STANDARD) {
		r = board_standard(b, x);
		/* Unknown standard requests STALL, as the ROM's stack does. */
		x->status = r == -ENOENT ? -EPIPE : r;
		r = SIM_XFER_DONE;
	} else {
		r = b->model->request(b, x);
	}
out:
	b->cur_request = -1;
	if (r == SIM_XFER_DONE && in && x->status == 0)
		b->stats.bytes_in += x->actual;
	if (r == SIM_XFER_DONE && !in && x->status == 0)
		x->actual = x->len;
	return r;
}

void sim_board_complete(struct sim_board *b, struct sim_xfer *x)
{
	bool in = x->type == SIM_XFER_CONTROL ? x->setup.bmRequestType & SIM_USB_DIR_IN
					      : x->ep & SIM_USB_DIR_IN;

	if (x->status == 0 && in)
		b->stats.bytes_in += x->actual;
	if (x->status == 0 && !in)
		x->actual = x->len;
	if (b->host.complete)
		b->host.complete(b->host.ctx, x);
}

bool sim_board_memory(struct sim_board *b, unsigned idx, const char **name, const uint8_t **data,
		      size_t *len)
{
	if (!b->model->memory)
		return false;
	return b->model->memory(b, idx, name, data, len);
}

const char *sim_board_state(struct sim_board *b)
{
	if (b->unplugged)
		return "unplugged";
	return b->model->state ? b->model->state(b) : (b->connected ? "connected" : "disconnected");
}
