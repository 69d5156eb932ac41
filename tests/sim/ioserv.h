/*
 * The server end of umockdev's ioctl socket, without umockdev's server.
 *
 * When a client under libumockdev-preload opens /dev/X, the preload connects
 * to the Unix socket $UMOCKDEV_DIR/ioctl/dev/X and forwards every ioctl() and
 * read() of that fd over it (libumockdev-preload.c remote_emulate(), the same
 * since umockdev 0.16; the rig is pinned to Debian 12's 0.17.16).  Messages
 * are three unsigned longs {cmd, arg1, arg2}:
 *   client -> server  REQ_IOCTL 1 {request, arg}, REQ_READ 7 {buf, len},
 *                     REQ_WRITE 8 {buf, len}
 *   server -> client  READ_MEM 5 {addr, len}: the client sends len bytes
 *                     from addr; WRITE_MEM 6 {addr, len} + len bytes: the
 *                     client stores them at addr; DONE 3 {ret, errno}: the
 *                     call returns.
 * The client holds a per-fd lock for the whole exchange, so one connection
 * (one client fd) has at most one request in flight.
 *
 * Why not UMockdevIoctlBase + umockdev_testbed_attach_ioctl(): umockdev
 * serves every node on its one worker thread through a GMainContext that
 * polls all client sockets per iteration, and each memory access is an
 * async round trip: about 10k ioctls/s on 2 CPUs in all, which made the
 * rig, not the client, the limit with 32 boards (tests/bench/README.md).
 * Here one thread accepts per node and one thread serves each connection,
 * memory writes are batched into the DONE message, and reads go straight to
 * the client's memory with process_vm_readv() when the kernel allows it
 * (the socket's READ_MEM otherwise).
 */
#ifndef FLASHSIM_IOSERV_H
#define FLASHSIM_IOSERV_H

#include <stddef.h>

struct ioserv;	 /* the listening socket of one node */
struct ioclient; /* one connected client fd */

enum ioclient_op {
	IOCLIENT_IOCTL = 1, /* a1 = request, a2 = arg */
	IOCLIENT_READ = 7,  /* a1 = buffer, a2 = length */
	IOCLIENT_WRITE = 8, /* a1 = buffer, a2 = length */
};

struct ioserv_ops {
	/* A request arrived, on the connection's thread, no lock held.  The
	 * callee calls ioclient_complete() exactly once, now or later from any
	 * thread; the connection reads its next request only after that. */
	void (*request)(void *ctx, struct ioclient *c, enum ioclient_op op, unsigned long a1,
			unsigned long a2);
	/* The client closed the fd or died (connection's thread).  A request
	 * still pending then is completed into the void later. */
	void (*closed)(void *ctx, struct ioclient *c);
};

/* Listen on sockpath (parents created) and accept on a thread of its own.
 * Returns 0 or -errno. */
int ioserv_new(const char *sockpath, const struct ioserv_ops *ops, void *ctx, struct ioserv **ret);
/* Stop accepting and remove the socket; connected clients are still served. */
void ioserv_stop(struct ioserv *s);
/* Stop, end every connection (their closed() runs) and free. */
void ioserv_free(struct ioserv *s);

/* Copy len bytes of the client's memory at addr.  Connection thread, before
 * completing.  Returns 0 or -EFAULT / -EIO. */
int ioclient_read(struct ioclient *c, unsigned long addr, void *buf, size_t len);
/* Queue len bytes for the client's memory at addr; they land before the
 * call returns in the client.  Any thread, request pending.  0 or -ENOMEM. */
int ioclient_write(struct ioclient *c, unsigned long addr, const void *buf, size_t len);
/* Outside any request (the completion ring, usbfs.c): write local[i] to
 * remote[i] in the client's memory, in order, in one call.  Only when the
 * client's memory is reachable directly (ioclient_direct()).  0 or -errno. */
struct iovec;
int ioclient_poke(struct ioclient *c, const struct iovec *local, const struct iovec *remote,
		  unsigned long n);
/* Read len bytes of the client's memory outside any request; direct only. */
int ioclient_peek(struct ioclient *c, unsigned long addr, void *buf, size_t len);
/* process_vm_readv/writev reach the client (not FLASHSIM_IOCTL_VIA_SOCKET). */
int ioclient_direct(const struct ioclient *c);
/* The client's call returns ret (-1: with errno err). */
void ioclient_complete(struct ioclient *c, long ret, int err);

/* References for whoever completes a request later (atomic). */
struct ioclient *ioclient_ref(struct ioclient *c);
void ioclient_unref(struct ioclient *c);

/* One pointer of the caller's, e.g. its per-fd state. */
void ioclient_set_user(struct ioclient *c, void *p);
void *ioclient_user(const struct ioclient *c);

#endif
