/*
 * Interface between the board core (board.c, faults.c) and the board models
 * (stm32_dfuse.c, ...).  Front-ends never include this file; they use board.h.
 *
 * A model is a table of callbacks (struct sim_model) plus a private state
 * struct it allocates in create().  The core owns descriptors, strings, the
 * stats, the fault list and the connection state; the model owns its
 * protocol state and memories.  Every callback runs with the board lock held
 * (board.h, "Threading").
 */
#ifndef FLASHD_SIM_BOARD_PRIVATE_H
#define FLASHD_SIM_BOARD_PRIVATE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tests/sim/boards/board.h"

/* USB 2.0 spec chapter 9 values the core and models share. */
#define SIM_USB_DIR_IN 0x80
#define SIM_USB_TYPE_MASK 0x60
#define SIM_USB_TYPE_STANDARD 0x00
#define SIM_USB_TYPE_CLASS 0x20
#define SIM_USB_TYPE_VENDOR 0x40
#define SIM_USB_RECIP_MASK 0x1f
#define SIM_USB_RECIP_DEVICE 0x00
#define SIM_USB_RECIP_INTERFACE 0x01
#define SIM_USB_RECIP_ENDPOINT 0x02

#define SIM_USB_DT_DEVICE 0x01
#define SIM_USB_DT_CONFIG 0x02
#define SIM_USB_DT_STRING 0x03
#define SIM_USB_DT_INTERFACE 0x04
#define SIM_USB_DT_DFU_FUNCTIONAL 0x21

#define SIM_BOARD_MAX_STRINGS 16
#define SIM_BOARD_MAX_INTERFACES 4

/* Fault kinds (faults.c); a bit mask of them selects what a check may fire. */
enum sim_fault_kind {
	SIM_FAULT_NONE = 0,
	SIM_FAULT_UNPLUG = 1 << 0,
	SIM_FAULT_STALL = 1 << 1,
	SIM_FAULT_HANG = 1 << 2,
	SIM_FAULT_PROGRAM_ERROR = 1 << 3,
	SIM_FAULT_CORRUPT_UPLOAD = 1 << 4,
	/* Data the host sent arrives with one bit flipped (the model's own
	 * checksum then catches it, e.g. an Ingenic burner's JAMCRC). */
	SIM_FAULT_CORRUPT_DOWNLOAD = 1 << 5,
	/* The program or erase at this step also disturbs its physical
	 * neighbour: the byte just below the range loses one set bit
	 * (boards/README.md "Disturb").  The step itself succeeds and its own
	 * read-back is clean; only bytes an earlier write left are hit. */
	SIM_FAULT_DISTURB = 1 << 6,
};
#define SIM_FAULT_TRANSFER_KINDS (SIM_FAULT_UNPLUG | SIM_FAULT_STALL | SIM_FAULT_HANG)

struct sim_faults;

/*
 * A model.  Return conventions: 0 or -errno; request() returns
 * SIM_XFER_DONE/SIM_XFER_PENDING like sim_board_submit().  Optional
 * callbacks may be NULL.
 */
struct sim_model {
	/* Type names; the first is the canonical one.  NULL-terminated. */
	const char *const *names;
	/* Step names fault specs may use (sim_board_fault_step()), NULL-terminated. */
	const char *const *steps;
	/* Allocate the private state with defaults (sim_board_set_priv()). */
	int (*create)(struct sim_board *b, const char *type);
	/* One model option.  -ENOENT: not a key of this model (the core then
	 * reports "unknown option"); -EINVAL: bad value, message set with
	 * sim_board_errf(). */
	int (*option)(struct sim_board *b, const char *key, const char *value);
	/* All options are in: build descriptors and strings, power on. */
	int (*start)(struct sim_board *b);
	void (*destroy)(struct sim_board *b);
	/* Every request that is not a core standard request (class, vendor,
	 * and standard requests the core does not know).  x->status, actual
	 * and delay_ns are preset to 0 and the bus time respectively. */
	int (*request)(struct sim_board *b, struct sim_xfer *x);
	/* SET_INTERFACE(intf, alt): 0 to accept, -EPIPE to STALL. */
	int (*set_interface)(struct sim_board *b, uint8_t intf, uint8_t alt);
	/* USB port reset, power off (unplug or fault), power on (replug). */
	void (*usb_reset)(struct sim_board *b);
	void (*power_off)(struct sim_board *b);
	void (*power_on)(struct sim_board *b);
	/* Delay (real ns) before the model can answer a request submitted now;
	 * the core adds it to every standard request too, since a busy ROM does
	 * not service EP0 at all.  Return -EPIPE to STALL instead. */
	int (*busy_delay)(struct sim_board *b, uint64_t *delay_ns);
	bool (*memory)(struct sim_board *b, unsigned idx, const char **name, const uint8_t **data,
		       size_t *len);
	const char *(*state)(struct sim_board *b);
	/* Bulk and interrupt transfers (x->ep says which; x->status, actual and
	 * delay_ns preset like request()).  NULL: the model has no data
	 * endpoints and every such transfer STALLs. */
	int (*data)(struct sim_board *b, struct sim_xfer *x);
	/* The host gave up on a transfer the model returned PENDING for; the
	 * model must forget x.  Also called for transfers it never kept. */
	void (*cancel)(struct sim_board *b, struct sim_xfer *x);
};

/* Registry of models (board.c). */
extern const struct sim_model sim_stm32_dfuse_model;

/* Private state and errors. */
void sim_board_set_priv(struct sim_board *b, void *priv);
void *sim_board_priv(struct sim_board *b);
/* Message into the sim_board_new() error buffer (only during new). */
/* Value of one hex digit (either case), or -1: for options like "uid". */
int sim_hex_digit(char c);

int sim_board_errf(struct sim_board *b, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Host services, NULL-safe. */
uint64_t sim_board_now_ns(struct sim_board *b);
void sim_board_schedule(struct sim_board *b, uint64_t delay_ns,
			void (*fn)(struct sim_board *b, void *arg), void *arg);
/* Drop off the bus after delay_ns: forgets pending transfers, raises
 * SIM_EV_DISCONNECT.  The model decides its own state text. */
void sim_board_disconnect(struct sim_board *b, uint64_t delay_ns);
/* Come back after delay_ns (re-enumeration): raises SIM_EV_CONNECT. */
void sim_board_connect(struct sim_board *b, uint64_t delay_ns);
bool sim_board_connected(struct sim_board *b);

/*
 * Time.  Models compute device time in ns and convert with the scale:
 * scaled = device_ns * scale (scale 0: instantaneous).
 */
double sim_board_time_scale(struct sim_board *b);
uint64_t sim_board_scaled(struct sim_board *b, uint64_t device_ns);
/* Full-speed-style bus time of one control transfer with `len` data bytes
 * (device ns, unscaled): per-transfer overhead plus packets of mps bytes. */
uint64_t sim_board_bus_ns(struct sim_board *b, size_t len);
/* Bus time of transfer x carrying `len` bytes (device ns, unscaled): a
 * high-speed bulk transfer at the bulk rate of table 5-10, every other one
 * as sim_board_bus_ns(). */
uint64_t sim_board_xfer_ns(struct sim_board *b, const struct sim_xfer *x, size_t len);
/* Descriptors and strings (copied; the core owns them). */
int sim_board_set_descriptors(struct sim_board *b, const uint8_t *dev, const uint8_t *cfg,
			      size_t cfg_len, enum sim_speed speed);
/* String index idx (1..SIM_BOARD_MAX_STRINGS-1), ASCII. */
int sim_board_set_string(struct sim_board *b, uint8_t idx, const char *s);
/* A standalone descriptor answered by GET_DESCRIPTOR(type, 0), e.g. DFU 0x21. */
int sim_board_set_class_descriptor(struct sim_board *b, uint8_t type, const uint8_t *d, size_t len);
uint8_t sim_board_alt(struct sim_board *b, uint8_t intf);
uint8_t sim_board_configuration(struct sim_board *b);

/* Stats the core cannot see. */
void sim_board_count_forbidden(struct sim_board *b);

/*
 * Faults.  A model calls this at each named step with the kinds it can act
 * on there; the current request (bRequest) and the cumulative OUT bytes are
 * taken from the core.  Returns the kind that fired (logged and counted) or
 * SIM_FAULT_NONE.  Unplug is carried out by the core before returning; the
 * model handles the others (stall: -EPIPE, hang: sim_board_hang()).
 */
enum sim_fault_kind sim_board_fault_step(struct sim_board *b, const char *step, unsigned kinds);
/* Finish a transfer the model returned PENDING for (counts bytes_in and
 * hands it to the front-end, which delivers it after x->delay_ns). */
void sim_board_complete(struct sim_board *b, struct sim_xfer *x);
/* Keep x forever (a hang fault): returns SIM_XFER_PENDING. */
int sim_board_hang(struct sim_board *b, struct sim_xfer *x);

/* faults.c: the parsed fault list, owned by the core. */
int sim_faults_option(struct sim_faults **fp, const char *key, const char *value, char *err,
		      size_t errlen);
int sim_faults_validate(struct sim_faults *f, const char *const *steps, char *err, size_t errlen);
struct sim_faults *sim_faults_free(struct sim_faults *f);
/*
 * Match one event: step (NULL at transfer submission), bRequest, cumulative
 * OUT bytes, allowed kinds.  On a firing, writes a log line into log[loglen]
 * and returns the kind.
 */
enum sim_fault_kind sim_faults_check(struct sim_faults *f, const char *step, int request,
				     uint64_t bytes_out, unsigned kinds, char *log, size_t loglen);
const char *sim_fault_kind_name(enum sim_fault_kind k);

/* Option parsing helpers (board.c), 0 or -EINVAL. */
int sim_parse_u64(const char *s, uint64_t *ret);
int sim_parse_double(const char *s, double *ret);
int sim_parse_bool(const char *s, bool *ret);

/* Little helpers for descriptor building. */
static inline void sim_put_le16(uint8_t *p, uint16_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

static inline void sim_put_le32(uint8_t *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = v >> 24;
}

static inline uint32_t sim_get_le32(const uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#endif
