/*
 * The USB/IP URB protocol as vhci_hcd speaks it over an attached socket
 * (Documentation/usb/usbip_protocol.rst, drivers/usb/usbip/usbip_common.h;
 * summary in shared/docs/test-rigs.md §2.1).  Only the URB messages: a
 * socket handed to vhci_hcd's sysfs `attach` skips the OP_REQ_* discovery
 * of the TCP usbipd flow.
 *
 * Every message starts with a 48-byte header, all fields big-endian:
 *   0x00 command, 0x04 seqnum, 0x08 devid, 0x0c direction, 0x10 ep,
 *   0x14.. a 28-byte command-specific part.
 * CMD_SUBMIT carries the raw setup packet (little-endian, as on the wire)
 * at 0x28 and, for OUT, transfer_buffer_length data bytes after the header;
 * RET_SUBMIT carries actual_length data bytes after the header for IN.
 * Replies set devid, direction and ep to 0, as the kernel's stub does.
 *
 * Pure encode/decode plus one blocking send helper; no state.
 */
#ifndef FLASHD_SIM_USBIP_H
#define FLASHD_SIM_USBIP_H

#include <stddef.h>
#include <stdint.h>

#define USBIP_HDR_SIZE 48

#define USBIP_CMD_SUBMIT 1
#define USBIP_CMD_UNLINK 2
#define USBIP_RET_SUBMIT 3
#define USBIP_RET_UNLINK 4

#define USBIP_DIR_OUT 0
#define USBIP_DIR_IN 1

/* usbip_common.h USBIP_URB_* (the same values as the kernel's URB_*). */
#define USBIP_URB_SHORT_NOT_OK 0x0001

/* struct usbip_iso_packet_descriptor: offset, length, actual_length, status. */
#define USBIP_ISO_DESC_SIZE 16

/* A request from the host side (vhci_tx), decoded. */
struct usbip_cmd {
	uint32_t command;
	uint32_t seqnum;
	uint32_t devid;
	uint32_t direction;
	uint32_t ep; /* endpoint number, no direction bit */
	/* CMD_SUBMIT */
	uint32_t transfer_flags;
	int32_t transfer_buffer_length;
	int32_t start_frame;
	int32_t number_of_packets; /* 0 or -1 unless isochronous */
	int32_t interval;
	uint8_t setup[8];
	/* CMD_UNLINK */
	uint32_t unlink_seqnum;
};

/* Decode a request header.  Returns 0, or -EBADMSG for a command that is
 * not CMD_SUBMIT/CMD_UNLINK (c is filled either way). */
int usbip_cmd_decode(const uint8_t hdr[USBIP_HDR_SIZE], struct usbip_cmd *c);

/* Encode reply headers (the whole 48 bytes, padding zeroed). */
void usbip_ret_submit_encode(uint8_t hdr[USBIP_HDR_SIZE], uint32_t seqnum, int32_t status,
			     uint32_t actual_length, int32_t start_frame);
void usbip_ret_unlink_encode(uint8_t hdr[USBIP_HDR_SIZE], uint32_t seqnum, int32_t status);

/*
 * Write hdr and then data (may be NULL if len is 0) in full on a stream
 * socket: retries partial writes and EINTR, never raises SIGPIPE.  Blocks
 * (up to the socket's SO_SNDTIMEO).  Returns 0 or -errno (-EPIPE,
 * -ECONNRESET: the peer is gone; -EAGAIN: send timeout).
 */
int usbip_send(int fd, const uint8_t *hdr, size_t hdr_len, const void *data, size_t len);

#endif
