/*
 * The "kernel side" of test-usbip-loopback.sh: plays vhci_hcd against
 * usbip-sim --loopback DIR, without a VM.
 *
 *   usbip-client DIR DONE_FILE
 *
 * It listens on DIR/port-{1,2,3}.sock, takes the attach line and the
 * socket passed with SCM_RIGHTS (vhci.c), answers "0" (or "16", EBUSY, to
 * exercise the retry), and then speaks USB/IP as vhci_tx/vhci_rx do: the
 * enumeration sequence of test-rigs.md §2.3, DFU class requests, bulk
 * transfers, CMD_UNLINK, and it watches disconnects and re-attaches.  The
 * scenario is the one test-usbip-loopback.sh writes.  Prints "ok - NAME" /
 * "not ok - NAME # why"; exit status 1 if anything failed.
 *
 * The wire encoding here is written apart from usbip-sim's wire.c on
 * purpose, so that the two cannot share a bug.  Not part of usbip-sim
 * (test-*.c files are left out of the program by the Makefile).
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define HDR 48
#define CMD_SUBMIT 1
#define CMD_UNLINK 2
#define RET_SUBMIT 3
#define RET_UNLINK 4
#define DIR_OUT 0
#define DIR_IN 1
#define EPIPE_WIRE (-32)
#define ECONNRESET_WIRE (-104)
#define EREMOTEIO_WIRE (-121)
#define TIMEOUT_MS 5000

/* The scenario of test-usbip-loopback.sh. */
#define B1_SERIAL "0123456789AB"

static int failures;

static void result(bool ok, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void result(bool ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		printf("ok - loopback: %s\n", name);
	} else {
		failures++;
		printf("not ok - loopback: %s # ", name);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		putchar('\n');
	}
	fflush(stdout);
}

/* One attached "device": the kernel's end of the socketpair. */
struct conn {
	int fd;
	uint32_t devid;
	uint32_t seq;
	uint8_t dir[4096]; /* direction of each seqnum sent (seq % 4096) */
};

struct msg {
	uint32_t command, seqnum, devid, direction, ep;
	int32_t status;
	uint32_t actual;
	uint8_t data[65536];
};

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read exactly len bytes within the deadline.  1 ok, 0 timeout, -1 EOF/error. */
static int read_full(int fd, void *buf, size_t len, uint64_t deadline)
{
	uint8_t *p = buf;

	while (len) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		uint64_t now = now_ms();
		ssize_t n;

		if (now >= deadline)
			return 0;
		if (poll(&pfd, 1, (int)(deadline - now)) <= 0)
			continue;
		n = recv(fd, p, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 1;
}

/* vhci_tx: CMD_SUBMIT header, then OUT data. */
static uint32_t submit(struct conn *c, uint32_t dir, uint32_t ep, const uint8_t *setup,
		       uint32_t flags, const void *out, uint32_t len)
{
	uint8_t h[HDR] = { 0 };
	uint32_t seq = ++c->seq;

	put32(h + 0, CMD_SUBMIT);
	put32(h + 4, seq);
	put32(h + 8, c->devid);
	put32(h + 12, dir);
	put32(h + 16, ep);
	put32(h + 20, flags);
	put32(h + 24, len);
	put32(h + 28, 0); /* start_frame */
	put32(h + 32, 0); /* number_of_packets: 0 for non-ISO URBs, as vhci sends */
	put32(h + 36, 0); /* interval */
	if (setup)
		memcpy(h + 40, setup, 8);
	c->dir[seq % 4096] = (uint8_t)dir;
	if (write_all(c->fd, h, HDR) < 0 ||
	    (dir == DIR_OUT && len && write_all(c->fd, out, len) < 0))
		return 0;
	return seq;
}

static uint32_t unlink_urb(struct conn *c, uint32_t victim)
{
	uint8_t h[HDR] = { 0 };
	uint32_t seq = ++c->seq;

	put32(h + 0, CMD_UNLINK);
	put32(h + 4, seq);
	put32(h + 8, c->devid);
	put32(h + 20, victim);
	if (write_all(c->fd, h, HDR) < 0)
		return 0;
	return seq;
}

/* vhci_rx: one reply.  1 ok, 0 timeout, -1 EOF/error/garbage. */
static int recv_msg(struct conn *c, struct msg *m, int timeout_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	uint8_t h[HDR];
	int r = read_full(c->fd, h, HDR, deadline);

	if (r <= 0)
		return r;
	m->command = get32(h);
	m->seqnum = get32(h + 4);
	m->devid = get32(h + 8);
	m->direction = get32(h + 12);
	m->ep = get32(h + 16);
	m->status = (int32_t)get32(h + 20);
	m->actual = get32(h + 24);
	if (m->command == RET_SUBMIT && c->dir[m->seqnum % 4096] == DIR_IN && m->actual) {
		if (m->actual > sizeof(m->data))
			return -1;
		/* The data follows at once: a generous deadline. */
		if (read_full(c->fd, m->data, m->actual, now_ms() + TIMEOUT_MS) <= 0)
			return -1;
	} else if (m->command != RET_SUBMIT && m->command != RET_UNLINK) {
		return -1;
	}
	return 1;
}

/* Submit and wait for its own RET_SUBMIT.  Returns 0, or -1 with why set. */
static int xfer(struct conn *c, uint32_t dir, uint32_t ep, const uint8_t *setup, uint32_t flags,
		const void *out, uint32_t len, struct msg *m, char *why, size_t whylen)
{
	uint32_t seq = submit(c, dir, ep, setup, flags, out, len);
	int r;

	if (!seq) {
		snprintf(why, whylen, "send failed");
		return -1;
	}
	r = recv_msg(c, m, TIMEOUT_MS);
	if (r <= 0) {
		snprintf(why, whylen, r == 0 ? "no reply" : "connection closed");
		return -1;
	}
	if (m->command != RET_SUBMIT || m->seqnum != seq || m->devid || m->direction || m->ep) {
		snprintf(why, whylen, "reply header cmd %u seq %u (want %u) devid %u dir %u ep %u",
			 m->command, m->seqnum, seq, m->devid, m->direction, m->ep);
		return -1;
	}
	return 0;
}

static int ctrl(struct conn *c, uint8_t rt, uint8_t req, uint16_t val, uint16_t idx, uint16_t len,
		const void *out, struct msg *m, char *why, size_t whylen)
{
	uint8_t s[8] = { rt, req };

	/* The setup packet travels little-endian, as on the bus. */
	put_le16(s + 2, val);
	put_le16(s + 4, idx);
	put_le16(s + 6, len);

	return xfer(c, rt & 0x80 ? DIR_IN : DIR_OUT, 0, s, 0, out, len, m, why, whylen);
}

/* ---- attach (vhci.c loopback side) ---- */

static int listen_port(const char *dir, unsigned port)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/port-%u.sock", dir, port);
	unlink(sa.sun_path);
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 4) < 0) {
		perror(sa.sun_path);
		exit(2);
	}
	return s;
}

struct attach {
	unsigned port, devid, speed;
	int sockfd;
};

/* Accept one attach, answer with reply_errno.  Returns the socket or -1. */
static int accept_attach(int ls, int reply_errno, struct attach *at, char *why, size_t whylen)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	char line[128], reply[16];
	struct iovec iov = { .iov_base = line, .iov_len = sizeof(line) - 1 };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct pollfd pfd = { .fd = ls, .events = POLLIN };
	struct cmsghdr *cm;
	int s, fd = -1;
	ssize_t n;

	if (poll(&pfd, 1, TIMEOUT_MS) <= 0) {
		snprintf(why, whylen, "no attach within %d ms", TIMEOUT_MS);
		return -1;
	}
	s = accept(ls, NULL, NULL);
	if (s < 0) {
		snprintf(why, whylen, "accept: %s", strerror(errno));
		return -1;
	}
	n = recvmsg(s, &mh, 0);
	cm = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL;
	if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	if (n <= 0 || fd < 0) {
		snprintf(why, whylen, "attach message without a socket");
		close(s);
		return -1;
	}
	line[n] = '\0';
	if (sscanf(line, "%u %d %u %u", &at->port, &at->sockfd, &at->devid, &at->speed) != 4) {
		snprintf(why, whylen, "attach line '%s'", line);
		close(s);
		close(fd);
		return -1;
	}
	snprintf(reply, sizeof(reply), "%d\n", reply_errno);
	if (write_all(s, reply, strlen(reply)) < 0)
		reply_errno = -1;
	close(s);
	if (reply_errno) {
		/* Refused: the "kernel" drops its reference. */
		close(fd);
		return reply_errno < 0 ? -1 : 0;
	}
	return fd;
}

static bool attach_conn(int ls, struct conn *c, unsigned want_port, unsigned want_speed,
			const char *name)
{
	struct attach at;
	char why[200] = "";
	int fd = accept_attach(ls, 0, &at, why, sizeof(why));

	if (fd < 0) {
		result(false, name, "%s", why);
		return false;
	}
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->devid = at.devid;
	result(at.port == want_port && at.speed == want_speed && at.devid != 0, name,
	       "attach line port %u speed %u devid %u (want port %u speed %u)", at.port, at.speed,
	       at.devid, want_port, want_speed);
	return true;
}

/* True if the peer closes c within timeout_ms with no message before. */
static bool wait_eof(struct conn *c, int timeout_ms, char *why, size_t whylen)
{
	struct msg *m = malloc(sizeof(*m));
	int r = recv_msg(c, m, timeout_ms);

	if (r > 0)
		snprintf(why, whylen, "got a message (cmd %u seq %u) instead", m->command,
			 m->seqnum);
	else if (r == 0)
		snprintf(why, whylen, "still open after %d ms", timeout_ms);
	free(m);
	return r < 0;
}

/* ---- the checks ---- */

static bool string_is(const struct msg *m, const char *ascii)
{
	size_t n = strlen(ascii);

	if (m->status || m->actual != 2 + 2 * n || m->data[0] != 2 + 2 * n || m->data[1] != 3)
		return false;
	for (size_t i = 0; i < n; i++)
		if (m->data[2 + 2 * i] != (uint8_t)ascii[i] || m->data[3 + 2 * i])
			return false;
	return true;
}

/* hub.c's sequence (test-rigs.md §2.3), as the kernel sends it to a full-speed DfuSe ROM. */
static void enumerate_dfuse(struct conn *c, struct msg *m)
{
	uint8_t dev[18];
	char why[200] = "";
	unsigned total, alts = 0;
	bool dfu_func = false, ok;

	ok = ctrl(c, 0x80, 6, 0x0100, 0, 64, NULL, m, why, sizeof(why)) == 0;
	ok = ok && m->status == 0 && m->actual == 18 && m->data[0] == 18 && m->data[1] == 1 &&
	     m->data[8] == 0x83 && m->data[9] == 0x04 && m->data[10] == 0x11 && m->data[11] == 0xdf;
	result(ok, "enum_device_descriptor_64_is_0483_df11", "%s status %d actual %u", why,
	       m->status, m->actual);
	memcpy(dev, m->data, sizeof(dev));

	ok = ctrl(c, 0x80, 6, 0x0100, 0, 18, NULL, m, why, sizeof(why)) == 0;
	result(ok && m->actual == 18 && !memcmp(dev, m->data, 18), "enum_device_descriptor_18",
	       "%s actual %u", why, m->actual);

	ok = ctrl(c, 0x80, 6, 0x0200, 0, 9, NULL, m, why, sizeof(why)) == 0;
	total = m->data[2] | m->data[3] << 8;
	result(ok && m->actual == 9 && m->data[1] == 2 && total > 9, "enum_config_descriptor_9",
	       "%s actual %u", why, m->actual);

	ok = ctrl(c, 0x80, 6, 0x0200, 0, (uint16_t)total, NULL, m, why, sizeof(why)) == 0;
	for (unsigned o = 0; ok && o + 2 <= m->actual && m->data[o] >= 2; o += m->data[o]) {
		const uint8_t *d = m->data + o;

		if (d[1] == 4 && d[5] == 0xfe && d[6] == 1 && d[7] == 2)
			alts++;
		if (d[1] == 0x21 && d[0] == 9)
			dfu_func = true;
	}
	result(ok && m->actual == total && alts == 4 && dfu_func, "enum_config_descriptor_full",
	       "%s actual %u of %u, %u DFU alts, functional %d", why, m->actual, total, alts,
	       dfu_func);

	ok = ctrl(c, 0x80, 6, 0x0300, 0, 255, NULL, m, why, sizeof(why)) == 0;
	result(ok && m->actual == 4 && m->data[2] == 0x09 && m->data[3] == 0x04,
	       "enum_string_0_langid_0409", "%s actual %u", why, m->actual);
	ok = ctrl(c, 0x80, 6, 0x0300 | dev[15], 0x0409, 255, NULL, m, why, sizeof(why)) == 0;
	result(ok && string_is(m, "STM32  BOOTLOADER"), "enum_string_product", "%s actual %u", why,
	       m->actual);
	ok = ctrl(c, 0x80, 6, 0x0300 | dev[14], 0x0409, 255, NULL, m, why, sizeof(why)) == 0;
	result(ok && string_is(m, "STMicroelectronics"), "enum_string_manufacturer", "%s actual %u",
	       why, m->actual);
	ok = ctrl(c, 0x80, 6, 0x0300 | dev[16], 0x0409, 255, NULL, m, why, sizeof(why)) == 0;
	result(ok && string_is(m, B1_SERIAL), "enum_string_serial", "%s actual %u", why, m->actual);

	ok = ctrl(c, 0x00, 9, 1, 0, 0, NULL, m, why, sizeof(why)) == 0;
	result(ok && m->status == 0 && m->actual == 0, "enum_set_configuration_1", "%s status %d",
	       why, m->status);
}

static int dfu_getstatus(struct conn *c, struct msg *m, char *why, size_t whylen)
{
	return ctrl(c, 0xa1, 3, 0, 0, 6, NULL, m, why, whylen);
}

static void dfuse_requests(struct conn *c, struct msg *m)
{
	static uint8_t block[2048];
	const uint8_t set_addr[5] = { 0x21, 0x00, 0x00, 0x00, 0x08 };
	uint8_t s[8] = { 0x80, 6, 0, 1, 0, 0, 64, 0 };
	char why[200] = "";
	int st1, st2;
	bool ok;

	ok = dfu_getstatus(c, m, why, sizeof(why)) == 0;
	result(ok && m->status == 0 && m->actual == 6 && m->data[0] == 0 && m->data[4] == 2,
	       "dfu_getstatus_is_6_bytes_ok_dfuidle", "%s status %d actual %u bState %u", why,
	       m->status, m->actual, m->data[4]);

	ok = ctrl(c, 0x80, 6, 0x0f00, 0, 5, NULL, m, why, sizeof(why)) == 0;
	result(ok && m->status == EPIPE_WIRE && m->actual == 0, "unsupported_request_stalls_epipe",
	       "%s status %d", why, m->status);

	ok = xfer(c, DIR_IN, 1, NULL, 0, NULL, 64, m, why, sizeof(why)) == 0;
	result(ok && m->status == EPIPE_WIRE, "unknown_endpoint_stalls", "%s status %d", why,
	       m->status);

	ok = xfer(c, DIR_IN, 0, s, 1 /* URB_SHORT_NOT_OK */, NULL, 64, m, why, sizeof(why)) == 0;
	result(ok && m->status == EREMOTEIO_WIRE && m->actual == 18, "short_not_ok_gives_eremoteio",
	       "%s status %d actual %u", why, m->status, m->actual);

	/* DfuSe Set Address Pointer 0x08000000: OUT data reaches the ROM. */
	ok = ctrl(c, 0x21, 1, 0, 0, 5, set_addr, m, why, sizeof(why)) == 0 && m->status == 0 &&
	     m->actual == 5;
	ok = ok && dfu_getstatus(c, m, why, sizeof(why)) == 0;
	st1 = m->data[4];
	ok = ok && dfu_getstatus(c, m, why, sizeof(why)) == 0;
	st2 = m->data[4];
	result(ok && st1 == 4 && st2 == 5, "control_out_data_reaches_board",
	       "%s states %d then %d (want dfuDNBUSY 4, dfuDNLOAD-IDLE 5)", why, st1, st2);

	/* 2 KiB into erased flash at 0x08000000 (block 2): the dump shows it. */
	for (size_t i = 0; i < sizeof(block); i++)
		block[i] = (uint8_t)(i * 7 + 3);
	ok = ctrl(c, 0x21, 1, 2, 0, sizeof(block), block, m, why, sizeof(why)) == 0 &&
	     m->status == 0 && m->actual == sizeof(block);
	ok = ok && dfu_getstatus(c, m, why, sizeof(why)) == 0 && m->data[4] == 4;
	ok = ok && dfu_getstatus(c, m, why, sizeof(why)) == 0 && m->data[4] == 5 && m->data[0] == 0;
	result(ok, "dfuse_write_2048_bytes", "%s status %d bState %u bStatus %u", why, m->status,
	       m->data[4], m->data[0]);
	ok = ctrl(c, 0x21, 6, 0, 0, 0, NULL, m, why, sizeof(why)) == 0 && m->status == 0;
	result(ok, "dfu_abort", "%s status %d", why, m->status);
}

/* A GETSTATE hangs (scenario fault); unlink it. */
static void unlink_pending(struct conn *c, struct msg *m)
{
	uint8_t s[8] = { 0xa1, 5, 0, 0, 0, 0, 1, 0 };
	uint32_t victim, un, next;
	char why[200] = "";
	int r;

	victim = submit(c, DIR_IN, 0, s, 0, NULL, 1);
	r = recv_msg(c, m, 200);
	result(victim && r == 0, "hang_fault_gives_no_reply", "recv %d", r);
	un = unlink_urb(c, victim);
	r = recv_msg(c, m, TIMEOUT_MS);
	result(r > 0 && m->command == RET_UNLINK && m->seqnum == un &&
		       m->status == ECONNRESET_WIRE && !m->devid && !m->direction && !m->ep,
	       "unlink_pending_gives_econnreset", "recv %d cmd %u seq %u (want %u) status %d", r,
	       m->command, m->seqnum, un, m->status);
	/* The next message must answer the next request, not the unlinked one. */
	r = dfu_getstatus(c, m, why, sizeof(why));
	result(r == 0 && m->status == 0, "unlinked_urb_never_answered", "%s", why);
	next = m->seqnum;
	un = unlink_urb(c, next);
	r = recv_msg(c, m, TIMEOUT_MS);
	result(r > 0 && m->command == RET_UNLINK && m->seqnum == un && m->status == 0,
	       "unlink_answered_gives_zero", "recv %d cmd %u status %d", r, m->command, m->status);
}

/* Board 2 answers every request after 300 ms: unlink while the completion waits. */
static void slow_board(struct conn *c, int ls, struct msg *m)
{
	uint32_t victim, un;
	char why[200] = "";
	bool ok;
	int r;

	victim = submit(c, DIR_IN, 0, (const uint8_t[8]){ 0xa1, 3, 0, 0, 0, 0, 6, 0 }, 0, NULL, 6);
	un = unlink_urb(c, victim);
	r = recv_msg(c, m, TIMEOUT_MS);
	result(r > 0 && m->command == RET_UNLINK && m->seqnum == un && m->status == ECONNRESET_WIRE,
	       "unlink_queued_completion_gives_econnreset", "recv %d cmd %u status %d", r,
	       m->command, m->status);
	r = recv_msg(c, m, 700);
	result(r == 0, "unlinked_queued_completion_is_dropped", "recv %d cmd %u seq %u", r,
	       m->command, m->seqnum);
	ok = ctrl(c, 0x80, 6, 0x0100, 0, 18, NULL, m, why, sizeof(why)) == 0;
	result(ok && m->actual == 18, "slow_board_still_answers", "%s", why);

	/* DFU_DETACH: the ROM leaves the bus and comes back by itself. */
	ok = ctrl(c, 0x21, 0, 1000, 0, 0, NULL, m, why, sizeof(why)) == 0 && m->status == 0;
	ok = ok && wait_eof(c, TIMEOUT_MS, why, sizeof(why));
	result(ok, "board_disconnect_event_closes_connection", "%s", why);
	close(c->fd);
	if (!attach_conn(ls, c, 1, 2, "board_connect_event_reattaches_same_port"))
		return;
	ok = ctrl(c, 0x80, 6, 0x0100, 0, 18, NULL, m, why, sizeof(why)) == 0;
	result(ok && m->data[8] == 0x83 && m->data[9] == 0x04, "reattached_board_enumerates", "%s",
	       why);
}

static uint32_t bulk(struct conn *c, uint32_t dir, const char *out, uint32_t len)
{
	return submit(c, dir, 1, NULL, 0, out, out ? (uint32_t)strlen(out) : len);
}

/* Board 3 is U-Boot's fastboot gadget: bulk 0x01/0x81, replies pend until ready. */
static void fastboot_bulk(struct conn *c, struct msg *m)
{
	uint32_t in, out, in2;
	bool got_in = false, got_out = false;
	int r;

	in = bulk(c, DIR_IN, NULL, 512);
	r = recv_msg(c, m, 200);
	result(in && r == 0, "bulk_in_pends_until_data", "recv %d", r);
	out = bulk(c, DIR_OUT, "getvar:version", 0);
	for (int i = 0; i < 2; i++) {
		if (recv_msg(c, m, TIMEOUT_MS) <= 0)
			break;
		if (m->seqnum == out && m->status == 0 && m->actual == 14)
			got_out = true;
		if (m->seqnum == in && m->status == 0 && m->actual == 7 &&
		    !memcmp(m->data, "OKAY0.4", 7))
			got_in = true;
	}
	result(got_out && got_in, "bulk_out_completes_pending_bulk_in", "out %d in %d", got_out,
	       got_in);

	in = bulk(c, DIR_IN, NULL, 512);
	in2 = unlink_urb(c, in);
	r = recv_msg(c, m, TIMEOUT_MS);
	result(r > 0 && m->command == RET_UNLINK && m->seqnum == in2 &&
		       m->status == ECONNRESET_WIRE,
	       "unlink_pending_bulk_in", "recv %d cmd %u status %d", r, m->command, m->status);
	out = bulk(c, DIR_OUT, "getvar:version", 0);
	r = recv_msg(c, m, TIMEOUT_MS);
	got_out = r > 0 && m->seqnum == out && m->status == 0;
	in = bulk(c, DIR_IN, NULL, 512);
	r = recv_msg(c, m, TIMEOUT_MS);
	result(got_out && r > 0 && m->seqnum == in && m->actual == 7,
	       "bulk_in_after_unlink_gets_reply", "recv %d seq %u (want %u) actual %u", r,
	       m->seqnum, in, m->actual);
}

int main(int argc, char **argv)
{
	struct conn c1, c2, c3;
	struct msg *m = calloc(1, sizeof(*m));
	struct attach at;
	char why[200] = "", path[4096];
	int l1, l2, l3, fd;
	uint64_t t0;
	FILE *f;
	bool ok;

	if (argc != 3 || !m) {
		fprintf(stderr, "usage: usbip-client DIR DONE_FILE\n");
		return 2;
	}
	l1 = listen_port(argv[1], 1);
	l2 = listen_port(argv[1], 2);
	l3 = listen_port(argv[1], 3);
	snprintf(path, sizeof(path), "%s/listening", argv[1]);
	f = fopen(path, "w");
	if (f)
		fclose(f);

	/* usbip-sim attaches the boards in scenario order at plug_ms 0. */
	if (!attach_conn(l1, &c1, 0, 2, "attach_port_1_full_speed") ||
	    !attach_conn(l2, &c2, 1, 2, "attach_port_2_full_speed") ||
	    !attach_conn(l3, &c3, 2, 3, "attach_port_3_high_speed"))
		return 1;

	enumerate_dfuse(&c1, m);
	dfuse_requests(&c1, m);
	unlink_pending(&c1, m);
	fastboot_bulk(&c3, m);
	slow_board(&c2, l2, m);

	/* Board 1's cable is pulled at 5 s with a URB pending (second hang). */
	submit(&c1, DIR_IN, 0, (const uint8_t[8]){ 0xa1, 5, 0, 0, 0, 0, 1, 0 }, 0, NULL, 1);
	t0 = now_ms();
	ok = wait_eof(&c1, 8000, why, sizeof(why));
	result(ok, "unplug_closes_connection_without_reply", "%s", why);
	close(c1.fd);

	/* Replug at 5.5 s: refuse the first attach with EBUSY as vhci_hcd does
	 * while the old connection is torn down; usbip-sim must retry. */
	fd = accept_attach(l1, 16, &at, why, sizeof(why));
	result(fd == 0, "replug_attaches_again", "%s", why);
	t0 = now_ms();
	ok = attach_conn(l1, &c1, 0, 2, "replug_retries_after_ebusy");
	if (ok)
		printf("# retry came after %llu ms\n", (unsigned long long)(now_ms() - t0));
	if (ok) {
		ok = ctrl(&c1, 0x80, 6, 0x0100, 0, 64, NULL, m, why, sizeof(why)) == 0;
		result(ok && m->actual == 18 && m->data[8] == 0x83, "replug_enumerates", "%s", why);
		/* What the kernel sends, then a client: summary.json must show
		 * kernel_requests_after_config 1 (the interface string, read
		 * when the kernel registers the interface) and
		 * requests_after_config 2. */
		ctrl(&c1, 0x00, 9, 1, 0, 0, NULL, m, why, sizeof(why));
		ctrl(&c1, 0x80, 6, 0x0304, 0x0409, 255, NULL, m, why, sizeof(why));
		dfu_getstatus(&c1, m, why, sizeof(why));
		dfu_getstatus(&c1, m, why, sizeof(why));
	}

	/* Tell the script to stop usbip-sim; every connection must close. */
	f = fopen(argv[2], "w");
	if (f)
		fclose(f);
	ok = wait_eof(&c1, 10000, why, sizeof(why));
	ok = ok && wait_eof(&c2, 2000, why, sizeof(why));
	ok = ok && wait_eof(&c3, 2000, why, sizeof(why));
	result(ok, "exit_closes_every_connection", "%s", why);
	free(m);
	return failures ? 1 : 0;
}
