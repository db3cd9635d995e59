/* One client connection: its input buffer and its queue of output pieces,
 * sent one send() per piece -- and under --split in pieces of at most N
 * bytes, with a pause between them, so that the client sees short reads. */
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qdbd.h"

#define READ_CHUNK 16384
/* Stop reading from a client whose replies pile up; drop it if watch
 * events alone push its backlog past the hard limit. */
#define IN_LIMIT (1u << 20)
#define OUT_SOFT_LIMIT (1u << 20)
#define OUT_HARD_LIMIT (64u << 20)
/* --split: the pause between two pieces. */
#define SPLIT_PAUSE_NS 200000u
/* The path --events injects. */
#define EVENT_PATH "/qubes-test-event"

struct conn *conn_new(int fd, unsigned int id)
{
	struct conn *c = xmalloc(sizeof(*c));

	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->id = id;
	c->out_tail = &c->out;
	return c;
}

void conn_free(struct conn *c)
{
	close(c->fd);
	watch_free_all(c);
	while (c->out) {
		struct chunk *k = c->out;

		c->out = k->next;
		free(k);
	}
	free(c->in);
	free(c);
}

/* --- input */

size_t conn_in_pending(const struct conn *c)
{
	return c->in_len - c->in_off;
}

void conn_in_consume(struct conn *c, size_t n)
{
	c->in_off += n;
	if (c->in_off == c->in_len)
		c->in_off = c->in_len = 0;
}

static void in_reserve(struct conn *c, size_t more)
{
	if (c->in_cap - c->in_len >= more)
		return;
	if (c->in_off) {
		memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
		c->in_len -= c->in_off;
		c->in_off = 0;
		if (c->in_cap - c->in_len >= more)
			return;
	}
	c->in_cap = c->in_len + more;
	c->in = xrealloc(c->in, c->in_cap);
}

bool conn_backlogged(const struct conn *c)
{
	return c->out_bytes >= OUT_SOFT_LIMIT;
}

void conn_read(struct conn *c)
{
	ssize_t n;

	if (c->eof || c->dead || c->closing || conn_in_pending(c) >= IN_LIMIT)
		return;
	in_reserve(c, READ_CHUNK);
	n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, MSG_DONTWAIT);
	if (n > 0)
		c->in_len += (size_t)n;
	else if (n == 0)
		c->eof = true;
	else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		c->dead = true;
}

/* --- output */

void conn_queue(struct conn *c, const void *data, size_t len)
{
	struct chunk *k;

	if (c->dead || !len)
		return;
	if (c->out_bytes + len > OUT_HARD_LIMIT) {
		daemon_log("conn %u: not reading its replies and events, dropping it", c->id);
		c->dead = true;
		return;
	}
	k = xmalloc(sizeof(*k) + len);
	k->next = NULL;
	k->len = len;
	k->off = 0;
	memcpy(k->data, data, len);
	*c->out_tail = k;
	c->out_tail = &k->next;
	c->out_bytes += len;
}

void conn_event(struct conn *c, const char *path)
{
	struct qdb_hdr hdr;

	memset(&hdr, 0, sizeof(hdr));
	hdr.type = QDB_RESP_WATCH;
	strncpy(hdr.path, path, sizeof(hdr.path) - 1);
	conn_queue(c, &hdr, sizeof(hdr));
}

void conn_reply(struct qdbd *d, struct conn *c, const struct qdb_hdr *hdr)
{
	if (d->events)
		conn_event(c, EVENT_PATH);
	if (d->verbose)
		daemon_log("conn %u:   -> %s '%.63s' %u", c->id, qdb_type_name(hdr->type),
			   hdr->path, hdr->data_len);
	/* memcpy, not assignment: the padding the client sent goes back. */
	conn_queue(c, hdr, sizeof(*hdr));
}

static void out_sent(struct conn *c, size_t n)
{
	struct chunk *k = c->out;

	k->off += n;
	c->out_bytes -= n;
	if (k->off < k->len)
		return;
	c->out = k->next;
	if (!c->out)
		c->out_tail = &c->out;
	free(k);
}

/* Sends the first piece; false when the socket takes nothing more now. */
static bool send_piece(struct conn *c, size_t max)
{
	struct chunk *k = c->out;
	size_t len = k->len - k->off;
	ssize_t n;

	if (max && len > max)
		len = max;
	do
		n = send(c->fd, k->data + k->off, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			c->dead = true;
		return false;
	}
	out_sent(c, (size_t)n);
	return true;
}

void conn_flush(struct qdbd *d, struct conn *c, uint64_t now)
{
	if (!d->split) {
		while (!c->dead && c->out && send_piece(c, 0))
			;
	} else if (!c->dead && c->out && now >= c->next_send_ns && send_piece(c, d->split)) {
		c->next_send_ns = now + SPLIT_PAUSE_NS;
	}
	if (c->closing && !c->out)
		c->dead = true;
}

short conn_poll_events(const struct qdbd *d, const struct conn *c, uint64_t now)
{
	short ev = 0;

	if (!c->eof && !c->closing && conn_in_pending(c) < IN_LIMIT &&
	    c->out_bytes < OUT_SOFT_LIMIT)
		ev |= POLLIN;
	if (c->out && (!d->split || now >= c->next_send_ns))
		ev |= POLLOUT;
	return ev;
}

uint64_t conn_wakeup(const struct qdbd *d, const struct conn *c)
{
	return d->split && c->out ? c->next_send_ns : UINT64_MAX;
}
