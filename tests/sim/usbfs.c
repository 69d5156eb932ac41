/*
 * This file implements the usbdevfs ioctls and read() of a simulated node on
 * top of the rig's ioctl socket server (ioserv.h, see usbfs.h).  Client memory
 * is copied in with ioclient_read() when a request arrives and written back
 * with ioclient_write(); a URB's result reaches the client's struct only at
 * reap time (gotcha 5), as the kernel's does.
 */
#include "tests/sim/usbfs.h"

#include <errno.h>
#include <linux/usb/ch9.h>
#include <linux/usbdevice_fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "tests/sim/gate.h"
#include "tests/sim/hubbw.h"
#include "tests/sim/ioserv.h"
#include "tests/sim/shim/flashsim-ioc.h"

#ifndef USBDEVFS_GET_SPEED
#define USBDEVFS_GET_SPEED _IO('U', 31)
#endif

#define MAX_INTF 32
#define CLAIM_RETRY_NS (10 * 1000 * 1000ull)
#define CLAIM_RETRY_MAX 25 /* 250 ms: a crashed client's fd is finalised late (gotcha 7) */

struct usbfd;

enum urb_state { URB_SUBMITTED, URB_READY, URB_DEAD };

struct urb {
	struct usbfd *fd;
	enum urb_state state;
	int refs;
	bool in_board; /* the board returned PENDING and has not completed it */
	/* When the board's own delay ends (a busy hub may deliver later). */
	uint64_t board_done_ns;
	bool control;
	struct sim_xfer x;
	uint8_t *buf; /* the board's data stage */
	/* async (SUBMITURB): the client's URB (address and copy) and buffer */
	unsigned long urb_addr, buf_addr;
	struct usbdevfs_urb urb;
	/* sync (CONTROL/BULK/SETINTERFACE...): the blocked ioctl */
	struct ioclient *sync_client;
	struct rig *mem_rig; /* usbfs memory charged (urb_mem_charge) */
	size_t mem_charge;
	unsigned long sync_buf;
	bool sync_returns_len; /* CONTROL/BULK return the byte count */
};

struct usbfd {
	struct usbnode *node;
	int refs;
	bool closed;
	GQueue ready;		       /* struct urb, completed, not reaped */
	struct ioclient *blocked_reap; /* a REAPURB (blocking) waiting */
	unsigned long blocked_arg;
	int64_t pos; /* read() position in the descriptor blob */
	/* The completion ring (flashsim-ioc.h), if the shim registered one. */
	unsigned long ring_addr; /* 0: none; completions go to ready + the node gate */
	struct ioclient *client; /* the fd's connection, valid until closed */
	uint64_t ring_head, ring_tail_seen;
	bool spilled;		 /* ring->spill says URBs wait in ready */
	struct gate fgate;	 /* the fd's own poll gate */
	char fgate_path[512];	 /* until the client opened it */
	struct usbfd *ring_next; /* usbnode.ring_fds */
};

struct usbnode {
	struct simdev *dev;
	struct ioserv *srv;
	char devnode[32];
	char path[512]; /* the FIFO in the testbed */
	unsigned busnum, devnum;
	enum sim_speed speed;
	struct gate gate;
	bool gone;
	uint8_t *desc;
	size_t desc_len;
	uint8_t ep_intf[32]; /* endpoint index -> interface number, 0xff unknown */
	uint32_t intf_mask;
	struct usbfd *claim[MAX_INTF];
	GQueue inflight;	/* struct urb, submitted */
	unsigned n_ready;	/* URBs in the ready queues of fds without a ring */
	struct usbfd *ring_fds; /* fds with a completion ring */
	unsigned gate_seq;
};

struct claim_retry {
	struct usbnode *node;
	struct ioclient *client;
	struct usbfd *fd;
	unsigned intf;
	int tries;
};

static unsigned ep_index(uint8_t ep)
{
	return (ep & 0x0f) | ((ep & 0x80) >> 3);
}

static void fd_unref(struct usbfd *fd)
{
	if (--fd->refs == 0)
		free(fd);
}

/*
 * usbfs memory accounting, as drivers/usb/core/devio.c does it: every URB
 * (SUBMITURB, and the synchronous BULK/CONTROL ioctls) charges its buffer plus
 * the kernel's own structures (struct async + struct urb, ~0.5 KiB, and a
 * scatterlist entry per 16 KiB, USB_SG_SIZE) against usbcore.usbfs_memory_mb,
 * one bound for the whole host; over it the ioctl fails with ENOMEM and
 * nothing is sent.  Given back when the URB is freed (reaped or discarded).
 */
#define URB_MEM_OVERHEAD 512
#define URB_MEM_SG_ENTRY 32
#define URB_MEM_SG_SIZE 16384

static size_t urb_mem_charge(size_t len)
{
	return URB_MEM_OVERHEAD + len +
	       (len + URB_MEM_SG_SIZE - 1) / URB_MEM_SG_SIZE * URB_MEM_SG_ENTRY;
}

static bool urb_mem_take(struct rig *rig, size_t amount)
{
	size_t used;

	if (!amount)
		return true;
	used = atomic_fetch_add(&rig->usbfs_mem_used, amount) + amount;

	if (!rig->usbfs_mem_limit || used <= rig->usbfs_mem_limit)
		return true;
	atomic_fetch_sub(&rig->usbfs_mem_used, amount);
	return false;
}

static void urb_unref(struct urb *u)
{
	if (--u->refs > 0)
		return;
	if (u->mem_rig)
		atomic_fetch_sub(&u->mem_rig->usbfs_mem_used, u->mem_charge);
	ioclient_unref(u->sync_client);
	free(u->buf);
	fd_unref(u->fd);
	free(u);
}

static int status_errno(int status)
{
	switch (status) {
	case -ESHUTDOWN:
	case -ENODEV:
		return ENODEV;
	case 0:
		return 0;
	default:
		return -status;
	}
}

/* The blocked synchronous ioctl behind u finishes now. */
static void sync_finish(struct usbnode *n, struct urb *u)
{
	struct ioclient *c = u->sync_client;
	bool in = u->control ? (u->x.setup.bmRequestType & USB_DIR_IN) : (u->x.ep & USB_DIR_IN);
	int r = 0;

	(void)n;
	u->sync_client = NULL;
	if (u->x.status) {
		ioclient_complete(c, -1, status_errno(u->x.status));
	} else {
		if (in && u->x.actual)
			r = ioclient_write(c, u->sync_buf, u->buf, u->x.actual);
		if (r < 0)
			ioclient_complete(c, -1, -r);
		else
			ioclient_complete(c, u->sync_returns_len ? (long)u->x.actual : 0, 0);
	}
	ioclient_unref(c);
}

static void do_reap(struct usbnode *n, struct usbfd *fd, struct ioclient *c, unsigned long arg);

/* ---- the completion ring (shim/flashsim-ioc.h, README "The completion ring") ---- */

#define RING_AT(fd, field) ((fd)->ring_addr + offsetof(struct flashsim_ring, field))

static int ring_put_u64(struct usbfd *fd, unsigned long addr, uint64_t v)
{
	struct iovec l = { &v, sizeof(v) }, r = { (void *)addr, sizeof(v) };

	return ioclient_poke(fd->client, &l, &r, 1);
}

static bool urb_in(const struct urb *u)
{
	return u->control ? (u->x.setup.bmRequestType & USB_DIR_IN) : (u->x.ep & USB_DIR_IN);
}

/* Deliver u through the ring: its data, its URB, the slot and head in one
 * write, then the fd's gate opens.  0, -ENOSPC (the client has not taken
 * FLASHSIM_RING_SLOTS URBs yet) or -errno.  Dev lock held. */
static int ring_push(struct usbfd *fd, struct urb *u)
{
	uint64_t head = fd->ring_head + 1, slot = u->urb_addr;
	struct iovec l[4], r[4];
	unsigned n = 0;
	int err;

	if (fd->ring_head - fd->ring_tail_seen >= FLASHSIM_RING_SLOTS) {
		uint64_t tail;

		err = ioclient_peek(fd->client, RING_AT(fd, tail), &tail, sizeof(tail));
		if (err < 0)
			return err;
		fd->ring_tail_seen = tail;
		if (fd->ring_head - tail >= FLASHSIM_RING_SLOTS)
			return -ENOSPC;
	}
	u->urb.status = u->x.status;
	u->urb.actual_length = (int)u->x.actual;
	if (urb_in(u) && u->x.actual) {
		l[n] = (struct iovec){ u->buf, u->x.actual };
		r[n++] = (struct iovec){ (void *)u->buf_addr, u->x.actual };
	}
	l[n] = (struct iovec){ &u->urb, sizeof(u->urb) };
	r[n++] = (struct iovec){ (void *)u->urb_addr, sizeof(u->urb) };
	l[n] = (struct iovec){ &slot, sizeof(slot) };
	r[n++] = (struct iovec){ (void *)(RING_AT(fd, urb) +
					  (fd->ring_head % FLASHSIM_RING_SLOTS) * sizeof(slot)),
				 sizeof(slot) };
	l[n] = (struct iovec){ &head, sizeof(head) };
	r[n++] = (struct iovec){ (void *)RING_AT(fd, head), sizeof(head) };
	err = ioclient_poke(fd->client, l, r, n);
	if (err < 0)
		return err;
	fd->ring_head = head;
	gate_drain(&fd->fgate);
	return 0;
}

/* u waits in fd's ready queue: wake the fd's poller (dev lock held). */
static void ready_signal(struct usbfd *fd)
{
	struct usbnode *n = fd->node;

	if (!fd->ring_addr) {
		if (n->n_ready++ == 0)
			gate_open(&n->gate);
		return;
	}
	/* The shim asks flashsim while spill is set; it is set before the
	 * gate opens, so the woken client sees it. */
	if (!fd->spilled && ring_put_u64(fd, RING_AT(fd, spill), 1) == 0)
		fd->spilled = true;
	gate_drain(&fd->fgate);
}

/* One URB left fd's ready queue (dev lock held). */
static void ready_taken(struct usbfd *fd)
{
	struct usbnode *n = fd->node;

	if (!fd->ring_addr) {
		if (--n->n_ready == 0 && !n->gone)
			gate_close(&n->gate);
		return;
	}
	/* The fd's gate is the shim's to shut once it finds nothing to reap. */
	if (g_queue_is_empty(&fd->ready) && fd->spilled &&
	    ring_put_u64(fd, RING_AT(fd, spill), 0) == 0)
		fd->spilled = false;
}

static void ring_gone(struct usbfd *fd)
{
	ring_put_u64(fd, RING_AT(fd, gone), 1);
	gate_drain(&fd->fgate);
}

/* FLASHSIM_IOC_RING: the shim's ring at reg.ring, and a gate of the fd's
 * own (usbfs readiness is per open file, devio.c usbdev_poll()). */
static int ring_register(struct usbnode *n, struct usbfd *fd, struct ioclient *c, unsigned long arg)
{
	struct flashsim_ring_reg reg;
	char dir[450];
	int r;

	if (!ioclient_direct(c) || fd->ring_addr)
		return -ENOTTY;
	if (ioclient_read(c, arg, &reg.ring, sizeof(reg.ring)) < 0 || !reg.ring)
		return -EFAULT;
	snprintf(dir, sizeof(dir), "%s/gates", n->dev->rig->root);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	snprintf(reg.gate, sizeof(reg.gate), "%s/%03u-%03u.%u", dir, n->busnum, n->devnum,
		 ++n->gate_seq);
	r = gate_create(&fd->fgate, reg.gate);
	if (r < 0) {
		gate_destroy(&fd->fgate);
		unlink(reg.gate);
		return r;
	}
	r = ioclient_write(c, arg + offsetof(struct flashsim_ring_reg, gate), reg.gate,
			   strlen(reg.gate) + 1);
	if (r < 0) {
		gate_destroy(&fd->fgate);
		unlink(reg.gate);
		return r;
	}
	memcpy(fd->fgate_path, reg.gate, sizeof(fd->fgate_path));
	fd->client = c;
	fd->ring_addr = (unsigned long)reg.ring;
	fd->ring_next = n->ring_fds;
	n->ring_fds = fd;
	if (n->gone)
		ring_gone(fd);
	return 0;
}

/* The client has opened its gate (its next request) or closed the fd. */
static void ring_gate_unlink(struct usbfd *fd)
{
	if (fd->fgate_path[0]) {
		unlink(fd->fgate_path);
		fd->fgate_path[0] = '\0';
	}
}

static void ring_release(struct usbfd *fd)
{
	struct usbnode *n = fd->node;

	if (!fd->ring_addr)
		return;
	for (struct usbfd **p = &n->ring_fds; *p; p = &(*p)->ring_next)
		if (*p == fd) {
			*p = fd->ring_next;
			break;
		}
	ring_gate_unlink(fd);
	/* A client still holding the fd (flashsim is ending) asks flashsim
	 * from now on and gets ENODEV, as without a ring. */
	ring_gone(fd);
	gate_destroy(&fd->fgate);
	fd->ring_addr = 0;
	fd->client = NULL;
}

/* u has completed (dev lock held): make it reapable or finish the ioctl. */
static void urb_ready(struct urb *u)
{
	struct usbfd *fd = u->fd;
	struct usbnode *n = fd->node;

	if (u->state != URB_SUBMITTED)
		return;
	g_queue_remove(&n->inflight, u);
	if (u->sync_client) {
		sync_finish(n, u);
		u->state = URB_DEAD;
		urb_unref(u);
		return;
	}
	if (fd->closed) {
		u->state = URB_DEAD;
		urb_unref(u);
		return;
	}
	u->state = URB_READY;
	/* Through the ring unless older URBs wait in ready (order per fd) or
	 * a blocking REAPURB waits for this one. */
	if (fd->ring_addr && !fd->blocked_reap && g_queue_is_empty(&fd->ready) &&
	    ring_push(fd, u) == 0) {
		u->state = URB_DEAD;
		urb_unref(u);
		return;
	}
	g_queue_push_tail(&fd->ready, u);
	ready_signal(fd);
	if (fd->blocked_reap) {
		struct ioclient *c = fd->blocked_reap;

		fd->blocked_reap = NULL;
		do_reap(n, fd, c, fd->blocked_arg);
		ioclient_unref(c);
	}
}

static void urb_timer_cb(void *p)
{
	struct urb *u = p;
	struct simdev *dev = u->fd->node->dev;

	pthread_mutex_lock(&dev->lock);
	urb_ready(u);
	urb_unref(u);
	pthread_mutex_unlock(&dev->lock);
}

/* The board's timing.scale (the scenario puts time_scale there unless set). */
static double board_scale(const struct scn_board *cfg)
{
	for (size_t i = 0; i < cfg->n_opts; i++)
		if (!strcmp(cfg->opts[i].key, "timing.scale"))
			return strtod(cfg->opts[i].value, NULL);
	return 1.0;
}

/* The shared-bus model may make a transfer behind a busy hub finish later. */
static uint64_t usbfs_hub_delay(struct urb *u, uint64_t delay_ns)
{
	struct simdev *dev = u->fd->node->dev;

	if (!dev->rig->hubbw)
		return delay_ns;
	return hubbw_delay(dev->rig->hubbw, dev->cfg->port, u->fd->node->speed, u->x.actual,
			   board_scale(dev->cfg), sched_now_ns(), delay_ns);
}

/* Deliver u after delay_ns (dev lock held). */
static void urb_finish_after(struct urb *u, uint64_t delay_ns)
{
	u->board_done_ns = sched_now_ns() + delay_ns;
	delay_ns = usbfs_hub_delay(u, delay_ns);
	if (delay_ns == 0) {
		urb_ready(u);
		return;
	}
	u->refs++;
	if (sched_add(u->fd->node->dev->rig->sched, delay_ns, urb_timer_cb, u) < 0) {
		u->refs--;
		urb_ready(u);
	}
}

void usbfs_host_complete(void *ctx, struct sim_xfer *x)
{
	struct urb *u = x->host_priv;

	(void)ctx;
	u->in_board = false;
	urb_finish_after(u, x->delay_ns);
}

/* Fail everything in flight as the kernel does on disconnect (dev lock held). */
void usbnode_disconnect(struct usbnode *n)
{
	struct urb *u;

	if (n->gone)
		return;
	n->gone = true;
	while ((u = g_queue_peek_head(&n->inflight))) {
		/* The board forgot its pending transfers before raising the event. */
		u->in_board = false;
		u->x.status = -ESHUTDOWN;
		u->x.actual = 0;
		urb_ready(u);
	}
	/* Readable for good: clients reap the -ESHUTDOWN URBs, then get ENODEV. */
	gate_open(&n->gate);
	for (struct usbfd *fd = n->ring_fds; fd; fd = fd->ring_next)
		ring_gone(fd);
}

/* ---- claims ---- */

static int claim(struct usbnode *n, struct usbfd *fd, unsigned intf)
{
	if (intf >= MAX_INTF || !(n->intf_mask & (1u << intf)))
		return -ENOENT;
	if (n->claim[intf] && n->claim[intf] != fd)
		return -EBUSY;
	n->claim[intf] = fd;
	return 0;
}

static void fd_release(struct usbfd *fd)
{
	struct usbnode *n = fd->node;
	struct urb *u;

	if (fd->closed)
		return;
	fd->closed = true;
	if (fd->blocked_reap) {
		/* Its client died inside REAPURB: complete into the void. */
		ioclient_complete(fd->blocked_reap, -1, EBADF);
		ioclient_unref(fd->blocked_reap);
		fd->blocked_reap = NULL;
	}
	for (unsigned i = 0; i < MAX_INTF; i++)
		if (n->claim[i] == fd)
			n->claim[i] = NULL;
	while ((u = g_queue_pop_head(&fd->ready))) {
		u->state = URB_DEAD;
		if (!fd->ring_addr)
			n->n_ready--;
		urb_unref(u);
	}
	ring_release(fd);
	if (n->n_ready == 0 && !n->gone)
		gate_close(&n->gate);
	/* Submitted URBs: the kernel kills them on close; the board drops them. */
	for (GList *l = n->inflight.head; l;) {
		GList *next = l->next;

		u = l->data;
		if (u->fd == fd && !u->sync_client) {
			if (u->in_board)
				sim_board_cancel(n->dev->board, &u->x);
			u->in_board = false;
			g_queue_delete_link(&n->inflight, l);
			u->state = URB_DEAD;
			urb_unref(u);
		}
		l = next;
	}
}

/* The client's connection ended: its fd is closed, or the client died. */
static void on_closed(void *ctx, struct ioclient *c)
{
	struct usbnode *n = ctx;
	struct usbfd *fd = ioclient_user(c);

	if (!fd)
		return;
	pthread_mutex_lock(&n->dev->lock);
	ioclient_set_user(c, NULL);
	fd_release(fd);
	fd_unref(fd);
	pthread_mutex_unlock(&n->dev->lock);
}

/* The fd state of c, made at its first request (dev lock held). */
static struct usbfd *fd_get(struct usbnode *n, struct ioclient *c)
{
	struct usbfd *fd = ioclient_user(c);

	if (fd)
		return fd;
	fd = calloc(1, sizeof(*fd));
	if (!fd)
		return NULL;
	fd->node = n;
	fd->refs = 1;
	fd->fgate.fd = -1;
	g_queue_init(&fd->ready);
	ioclient_set_user(c, fd);
	return fd;
}

/* Kernel checkintf()/check_ctrlrecip(): traffic to an interface claims it. */
static int check_ctrl_recip(struct usbnode *n, struct usbfd *fd, const struct sim_setup *s)
{
	switch (s->bmRequestType & USB_RECIP_MASK) {
	case USB_RECIP_INTERFACE:
		return claim(n, fd, s->wIndex & 0xff);
	case USB_RECIP_ENDPOINT: {
		uint8_t i = n->ep_intf[ep_index(s->wIndex & 0xff)];

		if ((s->wIndex & 0x0f) == 0)
			return 0;
		return i == 0xff ? -ENOENT : claim(n, fd, i);
	}
	default:
		return 0;
	}
}

/* ---- transfers ---- */

/* accounted: a transfer usbfs charges (URBs, CONTROL and BULK ioctls; not the
 * requests the kernel makes itself, such as SETINTERFACE). */
static struct urb *urb_new(struct usbfd *fd, enum sim_xfer_type type, uint8_t ep, size_t len,
			   bool accounted)
{
	struct rig *rig = fd->node->dev->rig;
	size_t charge = accounted ? urb_mem_charge(len) : 0;
	struct urb *u;

	if (!urb_mem_take(rig, charge))
		return NULL;
	u = calloc(1, sizeof(*u));
	if (u)
		u->buf = malloc(len ? len : 1);
	if (!u || !u->buf) {
		free(u);
		atomic_fetch_sub(&rig->usbfs_mem_used, charge);
		return NULL;
	}
	u->mem_rig = rig;
	u->mem_charge = charge;
	u->fd = fd;
	fd->refs++;
	u->refs = 1;
	u->state = URB_SUBMITTED;
	u->control = type == SIM_XFER_CONTROL;
	u->x.type = type;
	u->x.ep = ep;
	u->x.data = u->buf;
	u->x.len = len;
	u->x.host_priv = u;
	return u;
}

/* Hand u to the board (dev lock held).  Ownership of u's list ref moves to the rig. */
static void urb_submit(struct usbnode *n, struct urb *u)
{
	struct simdev *dev = n->dev;
	int r;

	if (!dev->first_request_ns && dev->node == n)
		dev->first_request_ns = sched_now_ns();
	g_queue_push_tail(&n->inflight, u);
	r = sim_board_submit(dev->board, &u->x);
	if (r == SIM_XFER_PENDING) {
		u->in_board = true;
		return;
	}
	urb_finish_after(u, u->x.delay_ns);
}

static void setup_from_bytes(struct sim_setup *s, const uint8_t *b)
{
	s->bmRequestType = b[0];
	s->bRequest = b[1];
	s->wValue = (uint16_t)(b[2] | b[3] << 8);
	s->wIndex = (uint16_t)(b[4] | b[5] << 8);
	s->wLength = (uint16_t)(b[6] | b[7] << 8);
}

static int submit_urb(struct usbnode *n, struct usbfd *fd, struct ioclient *c, unsigned long arg)
{
	struct usbdevfs_urb urb;
	enum sim_xfer_type type;
	struct sim_setup setup = { 0 };
	uint8_t sb[8];
	size_t len;
	struct urb *u;
	bool in;
	int r;

	if (ioclient_read(c, arg, &urb, sizeof(urb)) < 0)
		return -EFAULT;
	if (urb.buffer_length < 0)
		return -EINVAL;
	len = (size_t)urb.buffer_length;
	switch (urb.type) {
	case USBDEVFS_URB_TYPE_CONTROL:
		type = SIM_XFER_CONTROL;
		if (len < 8)
			return -EINVAL;
		if (ioclient_read(c, (unsigned long)urb.buffer, sb, sizeof(sb)) < 0)
			return -EFAULT;
		setup_from_bytes(&setup, sb);
		if (setup.wLength > len - 8)
			return -EINVAL;
		r = check_ctrl_recip(n, fd, &setup);
		if (r < 0)
			return r;
		len = setup.wLength;
		in = setup.bmRequestType & USB_DIR_IN;
		break;
	case USBDEVFS_URB_TYPE_BULK:
	case USBDEVFS_URB_TYPE_INTERRUPT: {
		uint8_t i = n->ep_intf[ep_index(urb.endpoint)];

		type = urb.type == USBDEVFS_URB_TYPE_BULK ? SIM_XFER_BULK : SIM_XFER_INTERRUPT;
		if ((urb.endpoint & 0x0f) == 0 || i == 0xff)
			return -ENOENT;
		r = claim(n, fd, i);
		if (r < 0)
			return r;
		in = urb.endpoint & USB_DIR_IN;
		break;
	}
	default:
		return -EINVAL; /* NEEDSWORK: isochronous transfers are not emulated */
	}
	u = urb_new(fd, type, type == SIM_XFER_CONTROL ? 0 : urb.endpoint, len, true);
	if (!u)
		return -ENOMEM;
	u->x.setup = setup;
	u->urb_addr = arg;
	u->urb = urb;
	u->buf_addr = (unsigned long)urb.buffer + (type == SIM_XFER_CONTROL ? 8 : 0);
	/* Only an OUT data stage is read: IN buffers are the client's to fill. */
	if (!in && len && ioclient_read(c, u->buf_addr, u->buf, len) < 0) {
		u->state = URB_DEAD;
		urb_unref(u);
		return -EFAULT;
	}
	urb_submit(n, u);
	return 0;
}

/* Write u's result into the client's URB and hand its address back (dev lock held). */
static void do_reap(struct usbnode *n, struct usbfd *fd, struct ioclient *c, unsigned long arg)
{
	struct urb *u;
	bool in;
	int r;

	(void)n;
	u = g_queue_pop_head(&fd->ready);
	ready_taken(fd);
	in = urb_in(u);
	u->urb.status = u->x.status;
	/* Control: data stage only; for OUT it is what was sent (gotcha 5). */
	u->urb.actual_length = (int)u->x.actual;
	r = in && u->x.actual ? ioclient_write(c, u->buf_addr, u->buf, u->x.actual) : 0;
	if (r == 0)
		r = ioclient_write(c, u->urb_addr, &u->urb, sizeof(u->urb));
	if (r == 0)
		r = ioclient_write(c, arg, &u->urb_addr, sizeof(void *));
	if (r < 0)
		ioclient_complete(c, -1, -r);
	else
		ioclient_complete(c, 0, 0);
	u->state = URB_DEAD;
	urb_unref(u);
}

/* Returns 1 if the ioctl was completed (or parked), else -errno. */
static int reap(struct usbnode *n, struct usbfd *fd, struct ioclient *c, unsigned long arg,
		bool block)
{
	if (!g_queue_is_empty(&fd->ready)) {
		do_reap(n, fd, c, arg);
		return 1;
	}
	if (n->gone)
		return -ENODEV;
	if (!block)
		return -EAGAIN;
	if (fd->blocked_reap)
		return -EBUSY; /* the preload serialises ioctls per fd: cannot happen */
	fd->blocked_reap = ioclient_ref(c);
	fd->blocked_arg = arg;
	return 1;
}

static int discard(struct usbnode *n, struct usbfd *fd, unsigned long addr)
{
	for (GList *l = n->inflight.head; l; l = l->next) {
		struct urb *u = l->data;

		if (u->fd != fd || !u->urb_addr || u->urb_addr != addr)
			continue;
		bool moved = !u->in_board && u->x.status == 0 && sched_now_ns() >= u->board_done_ns;

		if (u->in_board)
			sim_board_cancel(n->dev->board, &u->x);
		u->in_board = false;
		u->x.status = -ENOENT;
		/* The board's own delay (its busy and bus time) is over and only
		 * a busy hub's queue is left: the unlinked URB gives back what
		 * moved, as the kernel returns actual_length with the unlink
		 * status and libusb keeps such data ("surplus" data, linux_usbfs.c
		 * handle_bulk_completion).  Dropping it lost fastboot replies
		 * that a sliced read unlinked behind a busy hub.  Within the
		 * board's own delay the answer does not exist yet: nothing moved. */
		if (!moved)
			u->x.actual = 0;
		urb_ready(u);
		return 0;
	}
	return -EINVAL; /* not pending: libusb takes it as already completed */
}

/* A synchronous ioctl as a control request (SETINTERFACE, CLEAR_HALT ...) or
 * CONTROL/BULK; the client stays blocked until the board's delay expires.
 * buf is the client's data buffer (len bytes). */
static int sync_xfer(struct usbnode *n, struct usbfd *fd, struct ioclient *c,
		     enum sim_xfer_type type, uint8_t ep, const struct sim_setup *s,
		     unsigned long buf, size_t len, bool returns_len)
{
	struct urb *u = urb_new(fd, type, ep, len, returns_len);
	bool in = type == SIM_XFER_CONTROL ? (s->bmRequestType & USB_DIR_IN) : (ep & USB_DIR_IN);

	if (!u)
		return -ENOMEM;
	if (s)
		u->x.setup = *s;
	if (!in && len && ioclient_read(c, buf, u->buf, len) < 0) {
		u->state = URB_DEAD;
		urb_unref(u);
		return -EFAULT;
	}
	u->sync_client = ioclient_ref(c);
	u->sync_buf = buf;
	u->sync_returns_len = returns_len;
	urb_submit(n, u);
	return 1;
}

static int ioc_control(struct usbnode *n, struct usbfd *fd, struct ioclient *c, unsigned long arg)
{
	struct usbdevfs_ctrltransfer ct;
	struct sim_setup s;
	int r;

	if (ioclient_read(c, arg, &ct, sizeof(ct)) < 0)
		return -EFAULT;
	s = (struct sim_setup){ ct.bRequestType, ct.bRequest, ct.wValue, ct.wIndex, ct.wLength };
	r = check_ctrl_recip(n, fd, &s);
	if (r < 0)
		return r;
	/* NEEDSWORK: ct.timeout is not enforced; boards answer or unplug. */
	return sync_xfer(n, fd, c, SIM_XFER_CONTROL, 0, &s, (unsigned long)ct.data, s.wLength,
			 true);
}

static int ioc_bulk(struct usbnode *n, struct usbfd *fd, struct ioclient *c, unsigned long arg)
{
	struct usbdevfs_bulktransfer bt;
	uint8_t i;
	int r;

	if (ioclient_read(c, arg, &bt, sizeof(bt)) < 0)
		return -EFAULT;
	i = n->ep_intf[ep_index((uint8_t)bt.ep)];
	if (i == 0xff)
		return -ENOENT;
	r = claim(n, fd, i);
	if (r < 0)
		return r;
	return sync_xfer(n, fd, c, SIM_XFER_BULK, (uint8_t)bt.ep, NULL, (unsigned long)bt.data,
			 bt.len, true);
}

static int get_uint(struct ioclient *c, unsigned long arg, unsigned *out)
{
	return ioclient_read(c, arg, out, sizeof(*out)) < 0 ? -EFAULT : 0;
}

static void claim_retry_cb(void *p);

/* CLAIMINTERFACE; a conflict is retried for a while because a crashed
 * client's connection may not have ended yet (gotcha 7; the shim makes this
 * rare). */
static int ioc_claim(struct usbnode *n, struct usbfd *fd, struct ioclient *c, unsigned intf)
{
	struct claim_retry *cr;
	int r = claim(n, fd, intf);

	if (r != -EBUSY)
		return r;
	cr = calloc(1, sizeof(*cr));
	if (!cr)
		return r;
	*cr = (struct claim_retry){ n, ioclient_ref(c), fd, intf, 0 };
	fd->refs++;
	if (sched_add(n->dev->rig->sched, CLAIM_RETRY_NS, claim_retry_cb, cr) < 0) {
		ioclient_unref(c);
		fd->refs--;
		free(cr);
		return r;
	}
	return 1;
}

static void claim_retry_cb(void *p)
{
	struct claim_retry *cr = p;
	struct simdev *dev = cr->node->dev;
	int r;

	pthread_mutex_lock(&dev->lock);
	r = cr->node->gone ? -ENODEV : cr->fd->closed ? -EBADF : claim(cr->node, cr->fd, cr->intf);
	if (r == -EBUSY && ++cr->tries < CLAIM_RETRY_MAX &&
	    sched_add(dev->rig->sched, CLAIM_RETRY_NS, claim_retry_cb, cr) == 0) {
		pthread_mutex_unlock(&dev->lock);
		return;
	}
	ioclient_complete(cr->client, r < 0 ? -1 : 0, r < 0 ? -r : 0);
	ioclient_unref(cr->client);
	fd_unref(cr->fd);
	pthread_mutex_unlock(&dev->lock);
	free(cr);
}

static int put_bytes(struct ioclient *c, unsigned long arg, const void *p, size_t len)
{
	return ioclient_write(c, arg, p, len) < 0 ? -EFAULT : 0;
}

static int ioc_seek(struct usbnode *n, struct usbfd *fd, struct ioclient *c, unsigned long arg)
{
	struct flashsim_seek sk;
	int64_t base;

	if (ioclient_read(c, arg, &sk, sizeof(sk)) < 0)
		return -EFAULT;
	base = sk.whence == SEEK_SET   ? 0
	       : sk.whence == SEEK_CUR ? fd->pos
	       : sk.whence == SEEK_END ? (int64_t)n->desc_len
				       : -1;
	if (base < 0 || base + sk.offset < 0)
		return -EINVAL;
	fd->pos = base + sk.offset;
	sk.offset = fd->pos;
	return put_bytes(c, arg, &sk, sizeof(sk));
}

/* Returns 0 (complete with 0), a positive value to return, 1<<30 if the ioctl
 * is completed elsewhere, or -errno.  Dev lock held. */
#define ASYNC (1 << 30)
static int dispatch(struct usbnode *n, struct usbfd *fd, struct ioclient *c, unsigned long req,
		    unsigned long arg)
{
	struct sim_setup s = { 0 };
	unsigned v;
	int r;

	if (req == FLASHSIM_IOC_CLOSE) {
		fd_release(fd);
		return 0;
	}
	if (fd->closed)
		return -EBADF;
	if (req == FLASHSIM_IOC_RING)
		return ring_register(n, fd, c, arg);
	ring_gate_unlink(fd);
	switch (req) {
	case USBDEVFS_GET_CAPABILITIES: {
		/*
		 * What devio.c proc_get_capabilities() answers behind xHCI
		 * (sg_tablesize ~0, no_stop_on_short: SCATTER_GATHER and no
		 * BULK_CONTINUATION), less MMAP/CONNINFO_EX/SUSPEND the rig lacks.
		 * libusb then submits a bulk transfer as one URB, not 16 KiB pieces.
		 */
		uint32_t caps = USBDEVFS_CAP_ZERO_PACKET | USBDEVFS_CAP_NO_PACKET_SIZE_LIM |
				USBDEVFS_CAP_BULK_SCATTER_GATHER | USBDEVFS_CAP_DROP_PRIVILEGES |
				USBDEVFS_CAP_REAP_AFTER_DISCONNECT;

		return put_bytes(c, arg, &caps, sizeof(caps));
	}
	case USBDEVFS_REAPURB:
	case USBDEVFS_REAPURBNDELAY:
		/* Allowed after disconnect (CAP_REAP_AFTER_DISCONNECT). */
		r = reap(n, fd, c, arg, req == USBDEVFS_REAPURB);
		return r == 1 ? ASYNC : r;
	case USBDEVFS_DISCARDURB:
		return discard(n, fd, arg);
	case USBDEVFS_RELEASEINTERFACE:
		r = get_uint(c, arg, &v);
		if (r < 0)
			return r;
		if (v >= MAX_INTF || n->claim[v] != fd)
			return -EINVAL;
		n->claim[v] = NULL;
		return 0;
	case FLASHSIM_IOC_SEEK:
		return ioc_seek(n, fd, c, arg);
	}
	if (n->gone)
		return -ENODEV;
	switch (req) {
	case USBDEVFS_CLAIMINTERFACE:
		r = get_uint(c, arg, &v);
		if (r < 0)
			return r;
		r = ioc_claim(n, fd, c, v);
		return r == 1 ? ASYNC : r;
	case USBDEVFS_DISCONNECT_CLAIM: {
		struct usbdevfs_disconnect_claim dc;

		if (ioclient_read(c, arg, &dc, sizeof(dc)) < 0)
			return -EFAULT;
		/* No kernel driver is ever bound: nothing to disconnect. */
		return claim(n, fd, dc.interface);
	}
	case USBDEVFS_SUBMITURB:
		return submit_urb(n, fd, c, arg);
	case USBDEVFS_CONTROL:
		r = ioc_control(n, fd, c, arg);
		return r == 1 ? ASYNC : r;
	case USBDEVFS_BULK:
		r = ioc_bulk(n, fd, c, arg);
		return r == 1 ? ASYNC : r;
	case USBDEVFS_SETINTERFACE: {
		struct usbdevfs_setinterface si;

		if (ioclient_read(c, arg, &si, sizeof(si)) < 0)
			return -EFAULT;
		r = claim(n, fd, si.interface);
		if (r < 0)
			return r;
		s = (struct sim_setup){ USB_RECIP_INTERFACE, USB_REQ_SET_INTERFACE,
					(uint16_t)si.altsetting, (uint16_t)si.interface, 0 };
		r = sync_xfer(n, fd, c, SIM_XFER_CONTROL, 0, &s, 0, 0, false);
		return r == 1 ? ASYNC : r;
	}
	case USBDEVFS_SETCONFIGURATION:
		r = get_uint(c, arg, &v);
		if (r < 0)
			return r;
		for (unsigned i = 0; i < MAX_INTF; i++)
			if (n->claim[i] && n->claim[i] != fd)
				return -EBUSY;
		s = (struct sim_setup){ 0, USB_REQ_SET_CONFIGURATION, (uint16_t)v, 0, 0 };
		r = sync_xfer(n, fd, c, SIM_XFER_CONTROL, 0, &s, 0, 0, false);
		return r == 1 ? ASYNC : r;
	case USBDEVFS_CLEAR_HALT: {
		uint8_t i;

		r = get_uint(c, arg, &v);
		if (r < 0)
			return r;
		i = n->ep_intf[ep_index((uint8_t)v)];
		if (i == 0xff)
			return -ENOENT;
		r = claim(n, fd, i);
		if (r < 0)
			return r;
		s = (struct sim_setup){ USB_RECIP_ENDPOINT, USB_REQ_CLEAR_FEATURE,
					USB_ENDPOINT_HALT, (uint16_t)v, 0 };
		r = sync_xfer(n, fd, c, SIM_XFER_CONTROL, 0, &s, 0, 0, false);
		return r == 1 ? ASYNC : r;
	}
	case USBDEVFS_RESETEP:
		return get_uint(c, arg, &v); /* host-side toggle only */
	case USBDEVFS_RESET:
		sim_board_reset(n->dev->board);
		return 0;
	case USBDEVFS_CONNECTINFO: {
		struct usbdevfs_connectinfo ci = { .devnum = n->devnum,
						   .slow = n->speed == SIM_SPEED_LOW };

		return put_bytes(c, arg, &ci, sizeof(ci));
	}
	case USBDEVFS_GET_SPEED:
		/* enum usb_device_speed has the same values as enum sim_speed. */
		return (int)n->speed;
	case USBDEVFS_GETDRIVER:
	case USBDEVFS_IOCTL:
		return -ENODATA; /* no kernel driver bound */
	case USBDEVFS_DROP_PRIVILEGES:
		return 0;
	default:
		rig_log("%s: unhandled ioctl 0x%lx", n->devnode, req);
		return -ENOTTY;
	}
}

/* usbfs read(): the descriptor blob, from the fd's position (devio.c usbdev_read). */
static long node_read(struct usbnode *n, struct usbfd *fd, struct ioclient *c, unsigned long buf,
		      size_t len)
{
	size_t avail = 0;
	int r;

	if (n->gone)
		return -ENODEV;
	if (fd->pos < (int64_t)n->desc_len)
		avail = n->desc_len - (size_t)fd->pos;
	if (len > avail)
		len = avail;
	r = put_bytes(c, buf, n->desc + fd->pos, len);
	if (r < 0)
		return r;
	fd->pos += (int64_t)len;
	return (long)len;
}

static void on_request(void *ctx, struct ioclient *c, enum ioclient_op op, unsigned long a1,
		       unsigned long a2)
{
	struct usbnode *n = ctx;
	struct simdev *dev = n->dev;
	struct usbfd *fd;
	long r;

	pthread_mutex_lock(&dev->lock);
	if (op == IOCLIENT_IOCTL)
		dev->ioctls++;
	fd = fd_get(n, c);
	if (!fd)
		r = -ENOMEM;
	else if (op == IOCLIENT_IOCTL)
		r = dispatch(n, fd, c, a1, a2);
	else if (op == IOCLIENT_READ)
		r = node_read(n, fd, c, a1, a2);
	else
		r = -EINVAL; /* usbfs has no write() */
	pthread_mutex_unlock(&dev->lock);
	if (r == ASYNC)
		return;
	if (r < 0)
		ioclient_complete(c, -1, (int)-r);
	else
		ioclient_complete(c, r, 0);
}

static const struct ioserv_ops usbfs_ops = {
	.request = on_request,
	.closed = on_closed,
};

static void parse_config(struct usbnode *n)
{
	const uint8_t *p = n->desc + 18, *end = n->desc + n->desc_len;
	int intf = -1;

	memset(n->ep_intf, 0xff, sizeof(n->ep_intf));
	while (p + 2 <= end && p[0] >= 2 && p + p[0] <= end) {
		if (p[1] == USB_DT_INTERFACE && p[0] >= 9) {
			intf = p[2];
			if (intf < MAX_INTF)
				n->intf_mask |= 1u << intf;
		} else if (p[1] == USB_DT_ENDPOINT && p[0] >= 7 && intf >= 0) {
			n->ep_intf[ep_index(p[2])] = (uint8_t)intf;
		}
		p += p[0];
	}
}

int usbnode_new(struct simdev *dev, unsigned busnum, unsigned devnum, const uint8_t *desc,
		size_t desc_len, enum sim_speed speed, struct usbnode **ret)
{
	struct usbnode *n = calloc(1, sizeof(*n));
	char dir[400], sock[600];
	int r;

	if (!n)
		return -ENOMEM;
	n->dev = dev;
	n->busnum = busnum;
	n->devnum = devnum;
	n->speed = speed;
	n->gate.fd = -1;
	g_queue_init(&n->inflight);
	n->desc = malloc(desc_len);
	if (!n->desc) {
		free(n);
		return -ENOMEM;
	}
	memcpy(n->desc, desc, desc_len);
	n->desc_len = desc_len;
	parse_config(n);
	snprintf(n->devnode, sizeof(n->devnode), "/dev/bus/usb/%03u/%03u", busnum, devnum);
	snprintf(dir, sizeof(dir), "%s/dev/bus/usb/%03u", dev->rig->root, busnum);
	g_mkdir_with_parents(dir, 0755);
	snprintf(n->path, sizeof(n->path), "%s/%03u", dir, devnum);
	r = gate_create(&n->gate, n->path);
	if (r < 0) {
		rig_log("cannot create FIFO node '%s': %s", n->path, strerror(-r));
		usbnode_free(n);
		return r;
	}
	/* Where libumockdev-preload connects when a client opens the node. */
	snprintf(sock, sizeof(sock), "%s/ioctl%s", dev->rig->root, n->devnode);
	r = ioserv_new(sock, &usbfs_ops, n, &n->srv);
	if (r < 0) {
		rig_log("cannot listen on ioctl socket '%s': %s", sock, strerror(-r));
		usbnode_free(n);
		return r;
	}
	*ret = n;
	return 0;
}

const char *usbnode_devnode(const struct usbnode *n)
{
	return n->devnode;
}

void usbnode_detach(struct usbnode *n)
{
	unlink(n->path);
	ioserv_stop(n->srv);
	/* A node gone from the bus is readable for good (usbnode_disconnect) and
	 * its clients' own opens keep the FIFO, so the rig's fd can go now: a rig
	 * that re-enumerates boards thousands of times (tests/bench/soak.sh) must
	 * not hold an fd per old enumeration until the end. */
	pthread_mutex_lock(&n->dev->lock);
	if (n->gone)
		gate_destroy(&n->gate);
	pthread_mutex_unlock(&n->dev->lock);
}

struct usbnode *usbnode_free(struct usbnode *n)
{
	struct urb *u;

	if (!n)
		return NULL;
	/* First end the connections: their threads take the board lock. */
	ioserv_free(n->srv);
	while ((u = g_queue_pop_head(&n->inflight))) {
		u->state = URB_DEAD;
		urb_unref(u);
	}
	gate_destroy(&n->gate);
	free(n->desc);
	free(n);
	return NULL;
}
