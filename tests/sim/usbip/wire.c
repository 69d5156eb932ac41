/*
 * This file implements the USB/IP header codec and the full-write helper
 * (see usbip.h).  Offsets are those of struct usbip_header in the kernel's
 * usbip_common.h: a 20-byte basic part, then a union whose largest member
 * (cmd_submit) is 28 bytes.
 */
#include "tests/sim/usbip/usbip.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = (v >> 16) & 0xff;
	p[2] = (v >> 8) & 0xff;
	p[3] = v & 0xff;
}

int usbip_cmd_decode(const uint8_t hdr[USBIP_HDR_SIZE], struct usbip_cmd *c)
{
	memset(c, 0, sizeof(*c));
	c->command = get_be32(hdr + 0x00);
	c->seqnum = get_be32(hdr + 0x04);
	c->devid = get_be32(hdr + 0x08);
	c->direction = get_be32(hdr + 0x0c);
	c->ep = get_be32(hdr + 0x10);
	switch (c->command) {
	case USBIP_CMD_SUBMIT:
		c->transfer_flags = get_be32(hdr + 0x14);
		c->transfer_buffer_length = (int32_t)get_be32(hdr + 0x18);
		c->start_frame = (int32_t)get_be32(hdr + 0x1c);
		c->number_of_packets = (int32_t)get_be32(hdr + 0x20);
		c->interval = (int32_t)get_be32(hdr + 0x24);
		memcpy(c->setup, hdr + 0x28, 8);
		return 0;
	case USBIP_CMD_UNLINK:
		c->unlink_seqnum = get_be32(hdr + 0x14);
		return 0;
	default:
		return -EBADMSG;
	}
}

/* Basic part of a reply: devid, direction and ep are 0 (stub_tx.c setup_base_pdu). */
static void ret_base(uint8_t hdr[USBIP_HDR_SIZE], uint32_t command, uint32_t seqnum)
{
	memset(hdr, 0, USBIP_HDR_SIZE);
	put_be32(hdr + 0x00, command);
	put_be32(hdr + 0x04, seqnum);
}

void usbip_ret_submit_encode(uint8_t hdr[USBIP_HDR_SIZE], uint32_t seqnum, int32_t status,
			     uint32_t actual_length, int32_t start_frame)
{
	ret_base(hdr, USBIP_RET_SUBMIT, seqnum);
	put_be32(hdr + 0x14, (uint32_t)status);
	put_be32(hdr + 0x18, actual_length);
	put_be32(hdr + 0x1c, (uint32_t)start_frame);
	/* number_of_packets and error_count: 0, not isochronous. */
}

void usbip_ret_unlink_encode(uint8_t hdr[USBIP_HDR_SIZE], uint32_t seqnum, int32_t status)
{
	ret_base(hdr, USBIP_RET_UNLINK, seqnum);
	put_be32(hdr + 0x14, (uint32_t)status);
}

int usbip_send(int fd, const uint8_t *hdr, size_t hdr_len, const void *data, size_t len)
{
	struct iovec iov[2] = {
		{ .iov_base = (void *)hdr, .iov_len = hdr_len },
		{ .iov_base = (void *)data, .iov_len = data ? len : 0 },
	};
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };

	while (msg.msg_iovlen > 0) {
		ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);
		size_t left;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		/* A partial write: skip what went out, keep the rest. */
		left = (size_t)n;
		while (msg.msg_iovlen > 0 && left >= msg.msg_iov[0].iov_len) {
			left -= msg.msg_iov[0].iov_len;
			msg.msg_iov++;
			msg.msg_iovlen--;
		}
		if (msg.msg_iovlen > 0) {
			msg.msg_iov[0].iov_base = (uint8_t *)msg.msg_iov[0].iov_base + left;
			msg.msg_iov[0].iov_len -= left;
		}
	}
	return 0;
}
