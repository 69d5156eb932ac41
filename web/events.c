/*
 * This file implements flashd-web's side of flashd's event stream
 * (web/web.h): one thread reads the events socket and appends each event,
 * already formatted as a server-sent event, to a ring of recent events;
 * every /events client keeps its own cursor into the ring.  The reader never
 * waits for a client, and a client that stops reading only falls behind:
 * when its cursor leaves the ring it is sent a fresh snapshot instead.
 *
 * Stream (flashd, events_socket): JSON lines, each with "type" and an
 * increasing "seq"; the first is {"type":"hello","status":{...}}, which we
 * turn into a "snapshot" event.  After "dropped" (flashd's queue for us
 * overflowed) we reconnect to get a new hello.  A seq lower than the last
 * one means flashd restarted: the ring is emptied, so clients resuming with
 * an old Last-Event-ID get a snapshot.
 */
#include "web/web.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

#define RING 4096		 /* events kept for Last-Event-ID */
#define LINE_MAX_BYTES (1 << 20) /* a longer line is a broken peer */
#define BATCH_BYTES (64 * 1024)	 /* handed to one client at a time */
#define KEEPALIVE_MS 15000	 /* a comment line keeps proxies and dead-peer detection going */
#define RETRY_MS 1000

struct entry {
	uint64_t seq;
	char *text; /* "id: ..\nevent: ..\ndata: ..\n\n" */
	size_t len;
};

struct events {
	struct web *web;
	char *path;
	pthread_t thread;
	bool started;
	int stop_fd; /* eventfd: wakes the reader to stop */

	pthread_mutex_t lock; /* everything below */
	struct entry ring[RING];
	uint64_t head, tail; /* positions: ring[p % RING] for tail <= p < head */
	uint64_t last_seq;
	bool synced; /* a hello came on the current connection: last_seq is flashd's */
	char *hello_status;
	struct events_client *clients;
	bool stopping;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Wake every suspended client: there is something to send.  Lock held. */
static void resume_all_locked(struct events *ev)
{
	for (struct events_client *c = ev->clients; c; c = c->next)
		if (c->suspended) {
			c->suspended = false;
			MHD_resume_connection(c->conn);
		}
}

static char *format_event(uint64_t seq, const char *type, const char *data, size_t *len)
{
	char *s = NULL;
	int n = asprintf(&s, "id: %" PRIu64 "\nevent: %s\ndata: %s\n\n", seq, type, data);

	if (n < 0)
		return NULL;
	*len = (size_t)n;
	return s;
}

/*
 * A snapshot taken while flashd's stream is not connected carries no id:
 * its seq would be the stale or initial one (0), which flashd's next hello
 * reuses, and a client resuming from it would skip that hello's snapshot.
 * Without an id, the browser keeps its last one (or none: a full snapshot).
 */
static char *format_unsynced_snapshot(const char *data, size_t *len)
{
	char *s = NULL;
	int n = asprintf(&s, "event: snapshot\ndata: %s\n\n", data);

	if (n < 0)
		return NULL;
	*len = (size_t)n;
	return s;
}

/* Append one event; the oldest falls out of a full ring. */
static void push(struct events *ev, uint64_t seq, const char *type, const char *data)
{
	size_t len;
	char *text = format_event(seq, type, data, &len);
	struct entry *e;

	if (!text)
		return;
	pthread_mutex_lock(&ev->lock);
	if (ev->head - ev->tail == RING)
		ev->tail++;
	e = &ev->ring[ev->head % RING];
	free(e->text);
	*e = (struct entry){ .seq = seq, .text = text, .len = len };
	ev->head++;
	resume_all_locked(ev);
	pthread_mutex_unlock(&ev->lock);
}

/* An event type goes into the "event:" line: a word, nothing else. */
static bool valid_type(const char *t)
{
	if (!*t || strlen(t) > 32)
		return false;
	for (; *t; t++)
		if (!((*t >= 'a' && *t <= 'z') || *t == '_'))
			return false;
	return true;
}

static void on_hello(struct events *ev, uint64_t seq, cJSON *status)
{
	char *st = status ? cJSON_PrintUnformatted(status) : NULL;
	char *snap;

	pthread_mutex_lock(&ev->lock);
	if (seq < ev->last_seq)
		ev->tail = ev->head; /* flashd restarted: old ids mean nothing now */
	ev->last_seq = seq;
	ev->synced = true;
	free(ev->hello_status);
	ev->hello_status = st;
	pthread_mutex_unlock(&ev->lock);
	snap = web_snapshot_json(ev->web);
	if (snap)
		push(ev, seq, "snapshot", snap);
	free(snap);
}

/* One line of the stream; -EAGAIN asks for a reconnect (re-sync). */
static int on_line(struct events *ev, const char *line)
{
	cJSON *j = cJSON_Parse(line), *type, *seq;
	int r = 0;

	type = cJSON_GetObjectItemCaseSensitive(j, "type");
	seq = cJSON_GetObjectItemCaseSensitive(j, "seq");
	if (!cJSON_IsString(type) || !cJSON_IsNumber(seq) || seq->valuedouble < 0 ||
	    !valid_type(type->valuestring)) {
		log_msg(LOG_WARNING, "events: ignoring a line without type and seq");
		cJSON_Delete(j);
		return 0;
	}
	if (strcmp(type->valuestring, "hello") == 0) {
		on_hello(ev, (uint64_t)seq->valuedouble,
			 cJSON_GetObjectItemCaseSensitive(j, "status"));
	} else {
		pthread_mutex_lock(&ev->lock);
		ev->last_seq = (uint64_t)seq->valuedouble;
		pthread_mutex_unlock(&ev->lock);
		push(ev, (uint64_t)seq->valuedouble, type->valuestring, line);
		if (strcmp(type->valuestring, "dropped") == 0)
			r = -EAGAIN;
	}
	cJSON_Delete(j);
	return r;
}

static int connect_stream(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

/* Wait for fd (or only the timeout if fd < 0); false when asked to stop. */
static bool wait_input(struct events *ev, int fd, int timeout_ms, bool *readable)
{
	struct pollfd p[2] = { { .fd = ev->stop_fd, .events = POLLIN },
			       { .fd = fd, .events = POLLIN } };

	*readable = false;
	if (poll(p, fd >= 0 ? 2 : 1, timeout_ms) < 0 && errno != EINTR)
		return false;
	if (p[0].revents)
		return false;
	*readable = fd >= 0 && p[1].revents;
	return true;
}

/* Keep-alive tick: clients idle for a while get a comment line. */
static void tick(struct events *ev)
{
	pthread_mutex_lock(&ev->lock);
	resume_all_locked(ev);
	pthread_mutex_unlock(&ev->lock);
}

/* Read one connection's lines until it ends; false when asked to stop. */
static bool serve_connection(struct events *ev, int fd)
{
	char *buf = malloc(LINE_MAX_BYTES + 1);
	size_t len = 0;
	bool go = buf != NULL, readable;

	while (go && (go = wait_input(ev, fd, KEEPALIVE_MS / 3, &readable))) {
		ssize_t n;
		char *nl;

		if (!readable) {
			tick(ev);
			continue;
		}
		n = read(fd, buf + len, LINE_MAX_BYTES - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		while ((nl = memchr(buf, '\n', len))) {
			int r;

			*nl = '\0';
			r = on_line(ev, buf);
			len -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, len);
			if (r == -EAGAIN)
				goto out;
		}
		if (len == LINE_MAX_BYTES) {
			log_msg(LOG_WARNING, "events: a line longer than %d bytes, reconnecting",
				LINE_MAX_BYTES);
			break;
		}
	}
out:
	free(buf);
	return go;
}

/* Until the next hello, a snapshot stands for no position in flashd's stream. */
static void set_unsynced(struct events *ev)
{
	pthread_mutex_lock(&ev->lock);
	ev->synced = false;
	pthread_mutex_unlock(&ev->lock);
}

static void *reader(void *userdata)
{
	struct events *ev = userdata;
	bool readable, warned = false;

	for (;;) {
		int fd = connect_stream(ev->path);

		if (fd >= 0) {
			log_msg(LOG_INFO, "events: connected to '%s'", ev->path);
			warned = false;
			if (!serve_connection(ev, fd)) {
				close(fd);
				break;
			}
			close(fd);
			set_unsynced(ev);
			log_msg(LOG_INFO, "events: '%s' closed, reconnecting", ev->path);
		} else if (!warned) {
			log_msg(LOG_WARNING, "events: cannot connect to '%s': %s; retrying",
				ev->path, strerror(-fd));
			warned = true;
		}
		if (!wait_input(ev, -1, RETRY_MS, &readable))
			break;
		tick(ev);
	}
	return NULL;
}

int events_new(struct web *w, const char *socket_path, struct events **ret)
{
	struct events *ev = calloc(1, sizeof(*ev));
	int r;

	if (!ev)
		return -ENOMEM;
	ev->web = w;
	ev->path = strdup(socket_path);
	ev->stop_fd = eventfd(0, EFD_CLOEXEC);
	pthread_mutex_init(&ev->lock, NULL);
	if (!ev->path || ev->stop_fd < 0) {
		events_free(ev);
		return -ENOMEM;
	}
	r = -pthread_create(&ev->thread, NULL, reader, ev);
	if (r < 0) {
		events_free(ev);
		return r;
	}
	ev->started = true;
	*ret = ev;
	return 0;
}

void events_shutdown(struct events *ev)
{
	uint64_t one = 1;

	if (!ev)
		return;
	if (ev->started && write(ev->stop_fd, &one, sizeof(one)) == sizeof(one)) {
		pthread_join(ev->thread, NULL);
		ev->started = false;
	}
	pthread_mutex_lock(&ev->lock);
	ev->stopping = true;
	resume_all_locked(ev);
	pthread_mutex_unlock(&ev->lock);
}

void events_free(struct events *ev)
{
	if (!ev)
		return;
	events_shutdown(ev);
	for (size_t i = 0; i < RING; i++)
		free(ev->ring[i].text);
	free(ev->hello_status);
	free(ev->path);
	if (ev->stop_fd >= 0)
		close(ev->stop_fd);
	pthread_mutex_destroy(&ev->lock);
	free(ev);
}

char *events_hello_status(struct events *ev)
{
	char *s;

	pthread_mutex_lock(&ev->lock);
	s = ev->hello_status ? strdup(ev->hello_status) : NULL;
	pthread_mutex_unlock(&ev->lock);
	return s;
}

/* The ring position after the event with id, or false if it is not in the ring. */
static bool find_after(struct events *ev, uint64_t id, uint64_t *pos)
{
	if (ev->head > ev->tail && id == ev->ring[(ev->head - 1) % RING].seq) {
		*pos = ev->head;
		return true;
	}
	for (uint64_t p = ev->tail; p < ev->head; p++)
		if (ev->ring[p % RING].seq == id) {
			*pos = p + 1;
			return true;
		}
	return false;
}

void events_attach(struct events *ev, struct events_client *c, const char *last_event_id)
{
	char *end;
	unsigned long long id;

	pthread_mutex_lock(&ev->lock);
	c->need_snapshot = true;
	c->last_ms = mono_ms();
	if (last_event_id && *last_event_id) {
		errno = 0;
		id = strtoull(last_event_id, &end, 10);
		if (!errno && !*end && find_after(ev, id, &c->pos))
			c->need_snapshot = false;
	}
	c->prev = NULL;
	c->next = ev->clients;
	if (ev->clients)
		ev->clients->prev = c;
	ev->clients = c;
	pthread_mutex_unlock(&ev->lock);
}

void events_detach(struct events *ev, struct events_client *c)
{
	pthread_mutex_lock(&ev->lock);
	if (c->prev)
		c->prev->next = c->next;
	else if (ev->clients == c)
		ev->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	pthread_mutex_unlock(&ev->lock);
}

/* Fill c->buf with the events from its cursor on, at most BATCH_BYTES (at least one). Lock held. */
static int take_events_locked(struct events *ev, struct events_client *c)
{
	size_t len = 0, cap = 0;
	char *buf = NULL;

	while (c->pos < ev->head &&
	       (len == 0 || len + ev->ring[c->pos % RING].len <= BATCH_BYTES)) {
		const struct entry *e = &ev->ring[c->pos % RING];

		if (len + e->len > cap) {
			char *nb = realloc(buf, cap = len + e->len + BATCH_BYTES);

			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
		}
		memcpy(buf + len, e->text, e->len);
		len += e->len;
		c->pos++;
	}
	c->buf = buf;
	c->len = len;
	c->off = 0;
	return 0;
}

/* A snapshot event for c, built without the lock (it asks flashd and the database). */
static int take_snapshot(struct events *ev, struct events_client *c)
{
	uint64_t pos, seq;
	bool synced;
	char *snap;
	size_t len = 0;

	pthread_mutex_lock(&ev->lock);
	pos = ev->head;
	seq = ev->last_seq;
	synced = ev->synced;
	pthread_mutex_unlock(&ev->lock);
	snap = web_snapshot_json(ev->web);
	if (!snap)
		return -ENOMEM;
	c->buf = synced ? format_event(seq, "snapshot", snap, &len)
			: format_unsynced_snapshot(snap, &len);
	free(snap);
	if (!c->buf)
		return -ENOMEM;
	c->len = len;
	c->off = 0;
	/* Events that arrive meanwhile are sent after it: applying one twice is harmless. */
	c->pos = pos;
	c->need_snapshot = false;
	return 0;
}

/* Refill c->buf; 1 if there is something to send, 0 if not. Lock held (dropped for a snapshot). */
static int refill_locked(struct events *ev, struct events_client *c)
{
	static const char keepalive[] = ": keep-alive\n\n";

	free(c->buf);
	c->buf = NULL;
	c->len = c->off = 0;
	if (c->need_snapshot || c->pos < ev->tail) {
		int r;

		pthread_mutex_unlock(&ev->lock);
		r = take_snapshot(ev, c);
		pthread_mutex_lock(&ev->lock);
		return r < 0 ? r : 1;
	}
	if (c->pos < ev->head) {
		int r = take_events_locked(ev, c);

		return r < 0 ? r : 1;
	}
	if (mono_ms() - c->last_ms >= KEEPALIVE_MS) {
		c->buf = strdup(keepalive);
		c->len = c->buf ? strlen(keepalive) : 0;
		return c->buf ? 1 : -ENOMEM;
	}
	return 0;
}

ssize_t events_read(struct events *ev, struct events_client *c, char *out, size_t max)
{
	size_t n;

	pthread_mutex_lock(&ev->lock);
	if (ev->stopping) {
		pthread_mutex_unlock(&ev->lock);
		return MHD_CONTENT_READER_END_OF_STREAM;
	}
	if (c->off == c->len) {
		int r = refill_locked(ev, c);

		if (r < 0) {
			pthread_mutex_unlock(&ev->lock);
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
		if (r == 0) {
			/* Nothing to send: sleep until push() or the tick resumes us. */
			c->suspended = true;
			MHD_suspend_connection(c->conn);
			pthread_mutex_unlock(&ev->lock);
			return 0;
		}
	}
	n = c->len - c->off < max ? c->len - c->off : max;
	memcpy(out, c->buf + c->off, n);
	c->off += n;
	c->last_ms = mono_ms();
	pthread_mutex_unlock(&ev->lock);
	return (ssize_t)n;
}
