/*
 * This file implements the URB stream of one connection: reading
 * CMD_SUBMIT/CMD_UNLINK from the socket, handing transfers to the board,
 * and sending RET_SUBMIT/RET_UNLINK (test-rigs.md §2.1, §2.3).
 *
 * A URB lives in the port's table from submission until its RET_SUBMIT is
 * sent or it is unlinked.  States: IN_BOARD (the board returned PENDING and
 * will call complete()), QUEUED (the result is known, a sched timer sends it
 * after the board's delay).  The timer carries (port, connection gen,
 * seqnum), not a pointer, so an unlink or a disconnect simply makes it find
 * nothing.  vhci_hcd tears the device down if a RET_SUBMIT arrives for a
 * seqnum it has given back (vhci_rx.c "cannot find a urb"), so an unlinked
 * URB must never be answered.
 */
#include "tests/sim/usbip/usbip-sim.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Standard requests and descriptor types (USB 2.0 §9.4, Tables 9-4, 9-5). */
#define USB_REQ_GET_DESCRIPTOR 0x06
#define USB_REQ_SET_CONFIGURATION 0x09
#define USB_DT_STRING 0x03
#define USB_DT_INTERFACE 0x04
#define USB_DT_ENDPOINT 0x05
#define USB_DIR_IN 0x80
/* HID 1.11 §7.1, §7.2: class code, report descriptor type, requests. */
#define USB_CLASS_HID 0x03
#define HID_DT_REPORT 0x22
#define HID_REQ_GET_REPORT 0x01
#define HID_REQ_SET_IDLE 0x0a

/* usbfs caps one URB at usbfs_memory_mb (16 MiB by default); anything far
 * beyond that is a corrupt stream, not a transfer. */
#define RX_MAX_LEN (64u << 20)
#define RX_MAX_ISO_PACKETS 1024
/* Messages handled per wakeup before the reader looks at the other ports. */
#define RX_BUDGET 64

enum urb_state { URB_IN_BOARD, URB_QUEUED };

struct urb {
	struct urb *next;
	uint32_t seqnum;
	enum urb_state state;
	bool in;    /* direction of the pipe: IN data goes back in RET_SUBMIT */
	bool early; /* the board completed it inside sim_board_submit() */
	uint32_t flags;
	size_t len;	/* transfer_buffer_length */
	size_t out_len; /* OUT data bytes following the header */
	bool iso;
	uint8_t ep; /* endpoint address with direction bit; 0 for control */
	struct sim_xfer x;
	uint8_t buf[]; /* len bytes: OUT data, or room for IN data */
};

struct done_call {
	struct port *p;
	unsigned gen;
	uint32_t seqnum;
};

static void urb_link(struct port *p, struct urb *u)
{
	u->next = p->urbs;
	p->urbs = u;
}

static void urb_unlink(struct port *p, struct urb *u)
{
	for (struct urb **pp = &p->urbs; *pp; pp = &(*pp)->next) {
		if (*pp == u) {
			*pp = u->next;
			return;
		}
	}
}

static struct urb *urb_find(struct port *p, uint32_t seqnum)
{
	for (struct urb *u = p->urbs; u; u = u->next)
		if (u->seqnum == seqnum)
			return u;
	return NULL;
}

static void urb_debug(struct port *p, const struct urb *u, const char *what)
{
	const struct sim_setup *s = &u->x.setup;

	if (p->app->debug < 2)
		return;
	if (u->ep == 0)
		app_debug(p->app, 2,
			  "%s: seq %u ctrl %02x %02x %04x %04x %u: %s status %d actual %zu",
			  p->cfg->id, u->seqnum, s->bmRequestType, s->bRequest, s->wValue,
			  s->wIndex, s->wLength, what, u->x.status, u->x.actual);
	else
		app_debug(p->app, 2, "%s: seq %u ep 0x%02x len %zu: %s status %d actual %zu",
			  p->cfg->id, u->seqnum, u->ep, u->len, what, u->x.status, u->x.actual);
}

/* Send u's RET_SUBMIT (lock held).  A failed write marks the port broken;
 * the top-level caller drops the connection (port_settle). */
static void reply(struct port *p, struct urb *u)
{
	uint8_t hdr[USBIP_HDR_SIZE];
	size_t actual = u->x.actual;
	int32_t status = u->x.status;
	int r;

	urb_debug(p, u, "reply");
	if (p->fd < 0 || p->broken)
		return;
	/* vhci_rx refuses more data than the URB's buffer (usbip_recv_xbuff). */
	if (actual > u->len)
		actual = u->len;
	/* What an HCD does with URB_SHORT_NOT_OK on a short IN transfer. */
	if (status == 0 && u->in && actual < u->len && (u->flags & USBIP_URB_SHORT_NOT_OK))
		status = -EREMOTEIO;
	usbip_ret_submit_encode(hdr, u->seqnum, status, (uint32_t)actual, 0);
	r = usbip_send(p->fd, hdr, sizeof(hdr), u->in ? u->buf : NULL, u->in ? actual : 0);
	if (r < 0)
		port_write_failed(p, r);
}

static void done_cb(void *arg)
{
	struct done_call *d = arg;
	struct port *p = d->p;
	struct urb *u;

	pthread_mutex_lock(&p->lock);
	if (d->gen == p->gen) {
		u = urb_find(p, d->seqnum);
		if (u && u->state == URB_QUEUED) {
			reply(p, u);
			urb_unlink(p, u);
			free(u);
		}
	}
	port_settle(p);
	pthread_mutex_unlock(&p->lock);
	free(d);
}

/* The result of u is known: send it after delay_ns (lock held; u is in the table). */
static void finish(struct port *p, struct urb *u, uint64_t delay_ns)
{
	struct done_call *d;

	u->state = URB_QUEUED;
	if (delay_ns > 0) {
		d = malloc(sizeof(*d));
		if (d) {
			*d = (struct done_call){ p, p->gen, u->seqnum };
			if (sched_add_owned(p->app->sched, delay_ns, done_cb, d) == 0)
				return;
			free(d);
		}
		/* No memory for a timer: answer early rather than never. */
	}
	reply(p, u);
	urb_unlink(p, u);
	free(u);
}

void urb_host_complete(void *ctx, struct sim_xfer *x)
{
	struct port *p = ctx;
	struct urb *u = x->host_priv;

	if (u == p->submitting) {
		/* Completed before submit() returned PENDING: handled there. */
		u->early = true;
		return;
	}
	finish(p, u, x->delay_ns);
}

/* Endpoint type from the current configuration descriptor.  Returns 0,
 * -ENOENT (no such endpoint) or -EPIPE (isochronous: not emulated). */
static int ep_type(struct port *p, uint8_t addr, enum sim_xfer_type *ret)
{
	const struct sim_identity *id = sim_board_identity(p->board);
	const uint8_t *d = id->config_desc;
	size_t n = id->config_desc ? id->config_len : 0;

	for (size_t o = 0; o + 2 <= n && d[o] >= 2 && o + d[o] <= n; o += d[o]) {
		if (d[o + 1] != USB_DT_ENDPOINT || d[o] < 7 || d[o + 2] != addr)
			continue;
		switch (d[o + 3] & 3) {
		case 2:
			*ret = SIM_XFER_BULK;
			return 0;
		case 3:
			*ret = SIM_XFER_INTERRUPT;
			return 0;
		default:
			return -EPIPE;
		}
	}
	return -ENOENT;
}

/* In the current configuration: is string_idx (> 0) its iConfiguration or
 * an interface's iInterface, or is interface hid_intf (>= 0) a HID one? */
static bool config_has(struct port *p, int hid_intf, int string_idx)
{
	const struct sim_identity *id = sim_board_identity(p->board);
	const uint8_t *d = id->config_desc;
	size_t n = id->config_desc ? id->config_len : 0;

	if (string_idx > 0 && n >= 9 && d[6] == string_idx)
		return true;
	for (size_t o = 0; o + 2 <= n && d[o] >= 2 && o + d[o] <= n; o += d[o]) {
		if (d[o + 1] != USB_DT_INTERFACE || d[o] < 9)
			continue;
		if (string_idx > 0 && d[o + 8] == string_idx)
			return true;
		if (hid_intf >= 0 && d[o + 2] == hid_intf && d[o + 5] == USB_CLASS_HID)
			return true;
	}
	return false;
}

/*
 * Does the kernel send this by itself after SET_CONFIGURATION (no client
 * involved)?  From the 6.1 source: usb_set_configuration() reads
 * iConfiguration and usb_create_sysfs_intf_files() each interface's
 * iInterface, once (usb_cache_string); usbhid on a HID interface sends
 * SET_IDLE, reads the report descriptor (usbhid_parse) and may GET_REPORT
 * (usbhid_init_reports).
 */
static bool kernel_request(struct port *p, const struct urb *u)
{
	const struct sim_setup *s = &u->x.setup;
	uint8_t idx = s->wValue & 0xff;

	if (u->ep != 0)
		return false;
	if (s->bmRequestType == 0x80 && s->bRequest == USB_REQ_GET_DESCRIPTOR &&
	    s->wValue >> 8 == USB_DT_STRING && idx &&
	    !(p->strings_read[idx / 8] & (1u << (idx % 8)))) {
		p->strings_read[idx / 8] |= (uint8_t)(1u << (idx % 8));
		return config_has(p, -1, idx);
	}
	if ((s->bmRequestType == 0x21 && s->bRequest == HID_REQ_SET_IDLE) ||
	    (s->bmRequestType == 0xa1 && s->bRequest == HID_REQ_GET_REPORT) ||
	    (s->bmRequestType == 0x81 && s->bRequest == USB_REQ_GET_DESCRIPTOR &&
	     s->wValue >> 8 == HID_DT_REPORT))
		return config_has(p, s->wIndex & 0xff, 0);
	return false;
}

/* Count transfers after the kernel's SET_CONFIGURATION (summary.json): a
 * board no client opened has requests_after_config 0. */
static void note_after_config(struct port *p, const struct urb *u)
{
	const struct sim_setup *s = &u->x.setup;
	bool control = u->ep == 0, kernel;
	char text[80];

	if (!p->configured) {
		if (control && s->bmRequestType == 0 && s->bRequest == USB_REQ_SET_CONFIGURATION)
			p->configured = true;
		return;
	}
	kernel = kernel_request(p, u);
	if (kernel)
		p->after_config_kernel++;
	else
		p->after_config++;
	if (p->n_after_config_log >= USIM_AFTER_CONFIG_LOG)
		return;
	if (control)
		snprintf(text, sizeof(text), "ctrl %02x %02x %04x %04x %u%s", s->bmRequestType,
			 s->bRequest, s->wValue, s->wIndex, s->wLength, kernel ? " (kernel)" : "");
	else
		snprintf(text, sizeof(text), "%s 0x%02x %zu",
			 u->x.type == SIM_XFER_BULK ? "bulk" : "intr", u->ep, u->len);
	p->after_config_log[p->n_after_config_log] = strdup(text);
	if (p->after_config_log[p->n_after_config_log])
		p->n_after_config_log++;
}

/* A complete CMD_SUBMIT: give it to the board (lock held). */
static void submit(struct port *p, struct urb *u, const uint8_t setup[8])
{
	struct sim_xfer *x = &u->x;
	int r = 0;

	x->ep = u->ep;
	x->data = u->buf;
	x->len = u->len;
	x->host_priv = u;
	if (u->ep == 0) {
		x->type = SIM_XFER_CONTROL;
		/* The setup packet travels little-endian, as on the bus. */
		x->setup = (struct sim_setup){
			.bmRequestType = setup[0],
			.bRequest = setup[1],
			.wValue = (uint16_t)(setup[2] | setup[3] << 8),
			.wIndex = (uint16_t)(setup[4] | setup[5] << 8),
			.wLength = (uint16_t)(setup[6] | setup[7] << 8),
		};
	} else {
		r = u->iso ? -EPIPE : ep_type(p, u->ep, &x->type);
		if (r == -ENOENT)
			app_debug(p->app, 1, "%s: transfer to unknown endpoint 0x%02x: STALL",
				  p->cfg->id, u->ep);
	}
	urb_link(p, u);
	if (r < 0) {
		/* NEEDSWORK: isochronous URBs would need ISO descriptors back. */
		x->status = -EPIPE;
		x->actual = 0;
		finish(p, u, 0);
		return;
	}
	note_after_config(p, u);
	urb_debug(p, u, "submit");
	p->submitting = u;
	r = sim_board_submit(p->board, x);
	p->submitting = NULL;
	if (r == SIM_XFER_PENDING && !u->early) {
		u->state = URB_IN_BOARD;
		return;
	}
	finish(p, u, x->delay_ns);
}

/* CMD_UNLINK (lock held): -ECONNRESET if we still had the URB, 0 if its
 * RET_SUBMIT is already out (usbip_protocol.rst, vhci_rx.c). */
static void unlink_urb(struct port *p, const struct usbip_cmd *c)
{
	struct urb *u = urb_find(p, c->unlink_seqnum);
	uint8_t hdr[USBIP_HDR_SIZE];
	int32_t status = 0;
	int r;

	if (u) {
		urb_debug(p, u, u->state == URB_IN_BOARD ? "unlink pending" : "unlink queued");
		if (u->state == URB_IN_BOARD)
			sim_board_cancel(p->board, &u->x);
		urb_unlink(p, u);
		free(u);
		status = -ECONNRESET;
	} else {
		app_debug(p->app, 2, "%s: unlink seq %u: already answered", p->cfg->id,
			  c->unlink_seqnum);
	}
	usbip_ret_unlink_encode(hdr, c->seqnum, status);
	r = usbip_send(p->fd, hdr, sizeof(hdr), NULL, 0);
	if (r < 0)
		port_write_failed(p, r);
}

/* A whole header is in rx->hdr.  Returns 0 or -errno (stream unusable). */
static int rx_header(struct port *p)
{
	struct rx *rx = &p->rx;
	struct usbip_cmd c;
	struct urb *u;
	size_t len;
	bool iso;

	if (usbip_cmd_decode(rx->hdr, &c) < 0) {
		port_log(p, "unknown USB/IP command %u (seqnum %u)", c.command, c.seqnum);
		return -EBADMSG;
	}
	if (c.command == USBIP_CMD_UNLINK) {
		unlink_urb(p, &c);
		return 0;
	}
	iso = c.number_of_packets > 0;
	if (c.transfer_buffer_length < 0 || (uint32_t)c.transfer_buffer_length > RX_MAX_LEN ||
	    c.number_of_packets > RX_MAX_ISO_PACKETS || c.ep > 15) {
		port_log(p, "malformed CMD_SUBMIT (seqnum %u, ep %u, length %d, packets %d)",
			 c.seqnum, c.ep, c.transfer_buffer_length, c.number_of_packets);
		return -EMSGSIZE;
	}
	len = (size_t)c.transfer_buffer_length;
	u = calloc(1, sizeof(*u) + len);
	if (!u)
		return -ENOMEM;
	u->seqnum = c.seqnum;
	u->in = c.direction == USBIP_DIR_IN;
	u->flags = c.transfer_flags;
	u->len = len;
	u->out_len = u->in ? 0 : len;
	u->iso = iso;
	u->ep = c.ep == 0 ? 0 : (uint8_t)(c.ep | (u->in ? USB_DIR_IN : 0));
	rx->urb = u;
	rx->data_got = 0;
	rx->skip = iso ? (size_t)c.number_of_packets * USBIP_ISO_DESC_SIZE : 0;
	/* Decoded at submit time, once the data stage has arrived. */
	memcpy(rx->setup, c.setup, sizeof(rx->setup));
	return 0;
}

/* recv() what is there.  Returns 1 with *got > 0, 0 if nothing is ready,
 * -ECONNRESET at end of stream, or -errno. */
static int rx_recv(struct port *p, void *buf, size_t len, size_t *got)
{
	ssize_t n = recv(p->fd, buf, len, MSG_DONTWAIT);

	if (n > 0) {
		*got = (size_t)n;
		return 1;
	}
	if (n == 0)
		return -ECONNRESET;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return 0;
	return -errno;
}

int urb_rx(struct port *p)
{
	struct rx *rx = &p->rx;
	unsigned handled = 0;
	uint8_t junk[256];
	size_t got = 0;
	int r;

	while (handled < RX_BUDGET && p->fd >= 0 && !p->broken) {
		struct urb *u = rx->urb;

		if (!u) {
			r = rx_recv(p, rx->hdr + rx->hdr_got, USBIP_HDR_SIZE - rx->hdr_got, &got);
			if (r <= 0)
				return r;
			rx->hdr_got += got;
			if (rx->hdr_got < USBIP_HDR_SIZE)
				continue;
			rx->hdr_got = 0;
			r = rx_header(p);
			if (r < 0)
				return r;
			if (!rx->urb)
				handled++;
			continue;
		}
		if (rx->data_got == u->out_len && rx->skip == 0) {
			rx->urb = NULL;
			submit(p, u, rx->setup);
			handled++;
			continue;
		}
		if (rx->data_got < u->out_len) {
			r = rx_recv(p, u->buf + rx->data_got, u->out_len - rx->data_got, &got);
			if (r <= 0)
				return r;
			rx->data_got += got;
		} else {
			r = rx_recv(p, junk, rx->skip < sizeof(junk) ? rx->skip : sizeof(junk),
				    &got);
			if (r <= 0)
				return r;
			rx->skip -= got;
		}
	}
	return 0;
}

void urb_drop_all(struct port *p)
{
	struct urb *u;

	while ((u = p->urbs)) {
		p->urbs = u->next;
		/* The board may still hold it (no disconnect event yet). */
		if (u->state == URB_IN_BOARD)
			sim_board_cancel(p->board, &u->x);
		free(u);
	}
	free(p->rx.urb);
	memset(&p->rx, 0, sizeof(p->rx));
}
