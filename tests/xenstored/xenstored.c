/* test-xenstored: a small xenstored for running the real libxenstore and
 * xenstore-* tools without Xen. See xsd.h. This file: command line,
 * per-connection buffers, and what each round of the poll() loop does with
 * the connections; the socket, --daemon, the pid file, signals and the
 * loop itself are tests/lib/daemon.c's. */
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "xsd.h"

/* Stop reading from a client whose replies pile up; drop it if watch
 * events alone push its backlog past the hard limit. */
#define OUT_SOFT_LIMIT (1u << 20)
#define OUT_HARD_LIMIT (64u << 20)
#define IN_LIMIT (1u << 20)
#define READ_CHUNK 16384

struct opts {
	struct daemon_opts d;
	unsigned int domid;
	const char *stall;
};

const char daemon_name[] = "test-xenstored";

/* --- buffers */

static size_t buf_pending(const struct buf *b)
{
	return b->len - b->off;
}

static void buf_reserve(struct buf *b, size_t more)
{
	if (b->cap - b->len >= more)
		return;
	if (b->off) {
		memmove(b->data, b->data + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
		if (b->cap - b->len >= more)
			return;
	}
	b->cap = (b->len + more) * 2;
	b->data = xrealloc(b->data, b->cap);
}

static void buf_append(struct buf *b, const void *p, size_t len)
{
	if (!len)
		return; /* p may be NULL: an empty node has no value buffer */
	buf_reserve(b, len);
	memcpy(b->data + b->len, p, len);
	b->len += len;
}

static void buf_consumed(struct buf *b, size_t n)
{
	b->off += n;
	if (b->off == b->len)
		b->off = b->len = 0;
}

/* --- connections */

void conn_send(struct conn *c, uint32_t type, uint32_t req_id, uint32_t tx_id,
	       const void *data, size_t len)
{
	struct xsd_sockmsg hdr = { .type = type, .req_id = req_id, .tx_id = tx_id, .len = len };

	if (c->dead)
		return;
	if (buf_pending(&c->out) + sizeof(hdr) + len > OUT_HARD_LIMIT) {
		daemon_log("conn %u: not reading its replies and events, dropping it", c->id);
		c->dead = true;
		return;
	}
	buf_append(&c->out, &hdr, sizeof(hdr));
	buf_append(&c->out, data, len);
}

void conn_drop_state(struct conn *c)
{
	while (c->watches) {
		struct watch *w = c->watches;

		c->watches = w->next;
		watch_free(w);
	}
	while (c->txns) {
		struct txn *t = c->txns;

		c->txns = t->next;
		txn_free(t);
	}
}

static void conn_free(struct conn *c)
{
	close(c->fd);
	conn_drop_state(c);
	free(c->in.data);
	free(c->out.data);
	free(c);
}

static void conn_read(struct conn *c)
{
	ssize_t n;

	if (c->eof || c->dead || buf_pending(&c->in) >= IN_LIMIT)
		return;
	buf_reserve(&c->in, READ_CHUNK);
	n = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len, MSG_DONTWAIT);
	if (n > 0)
		c->in.len += (size_t)n;
	else if (n == 0)
		c->eof = true;
	else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		c->dead = true;
}

static void conn_flush(struct conn *c)
{
	while (!c->dead && buf_pending(&c->out)) {
		ssize_t n = send(c->fd, c->out.data + c->out.off, buf_pending(&c->out),
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				c->dead = true;
			return;
		}
		buf_consumed(&c->out, (size_t)n);
	}
}

/* Handles every complete message in the input buffer. A peer that has
 * hung up still gets its requests applied. */
static void conn_process(struct xsd *d, struct conn *c)
{
	char payload[XENSTORE_PAYLOAD_MAX + 1];
	struct xsd_sockmsg hdr;

	while (!c->dead && !c->stalled && buf_pending(&c->in) >= sizeof(hdr)) {
		if (!c->eof && buf_pending(&c->out) >= OUT_SOFT_LIMIT)
			break;
		memcpy(&hdr, c->in.data + c->in.off, sizeof(hdr));
		if (hdr.len > XENSTORE_PAYLOAD_MAX) {
			/* Like xenstored: the stream cannot be trusted any more. */
			daemon_log("conn %u: payload of %" PRIu32 " bytes is over the limit, closing",
				   c->id, hdr.len);
			c->dead = true;
			break;
		}
		if (buf_pending(&c->in) < sizeof(hdr) + hdr.len)
			break;
		memcpy(payload, c->in.data + c->in.off + sizeof(hdr), hdr.len);
		payload[hdr.len] = '\0';
		buf_consumed(&c->in, sizeof(hdr) + hdr.len);
		if (d->stall && strncmp(payload, d->stall, strlen(d->stall)) == 0) {
			/* A daemon that hangs: this connection never hears back. */
			daemon_log("conn %u: stalling at '%s'", c->id, payload);
			c->stalled = true;
			break;
		}
		xsd_request(d, c, &hdr, payload);
	}
}

static short conn_events(const struct conn *c)
{
	short ev = 0;

	if (!c->eof && buf_pending(&c->in) < IN_LIMIT && buf_pending(&c->out) < OUT_SOFT_LIMIT)
		ev |= POLLIN;
	if (buf_pending(&c->out))
		ev |= POLLOUT;
	return ev;
}

/* --- the loop (daemon_serve() calls these) */

static const struct timespec *loop_prepare(void *userdata, struct daemon_pollset *ps,
					   struct timespec *ts)
{
	struct xsd *d = userdata;

	for (struct conn *c = d->conns; c; c = c->next)
		daemon_poll_add(ps, c->fd, conn_events(c), c);
	return NULL;
}

static void loop_accepted(void *userdata, int fd)
{
	struct xsd *d = userdata;
	struct conn *c = xmalloc(sizeof(*c));

	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->id = ++d->next_conn_id;
	c->next_txid = 1;
	c->next = d->conns;
	d->conns = c;
	if (d->verbose)
		daemon_log("conn %u: connected", c->id);
}

static void loop_polled(void *userdata, void *conn, short revents)
{
	struct conn *c = conn;

	if (revents & POLLERR)
		c->dead = true;
	if (revents & (POLLIN | POLLHUP))
		conn_read(c);
}

static void reap(struct xsd *d)
{
	struct conn **p = &d->conns;

	while (*p) {
		struct conn *c = *p;

		if (c->dead || (c->eof && !buf_pending(&c->out))) {
			if (d->verbose)
				daemon_log("conn %u: closed", c->id);
			*p = c->next;
			conn_free(c);
		} else {
			p = &c->next;
		}
	}
}

static void loop_after(void *userdata)
{
	struct xsd *d = userdata;
	struct conn *c;

	for (c = d->conns; c; c = c->next)
		conn_process(d, c);
	for (c = d->conns; c; c = c->next)
		conn_flush(c);
	reap(d);
}

static const struct daemon_serve_ops loop_ops = {
	.prepare = loop_prepare,
	.accepted = loop_accepted,
	.polled = loop_polled,
	.after = loop_after,
};

/* --- setup */

static void usage(FILE *f)
{
	fputs("Usage: test-xenstored --socket PATH [--daemon] [--pid-file FILE] [--domid N] [--stall PREFIX] [-v]\n"
	      "A xenstored for tests: in memory, on a Unix socket, no Xen needed.\n"
	      "Clients reach it with XENSTORED_PATH=PATH.\n"
	      "  --socket PATH    where to listen (required)\n"
	      "  --daemon         detach; return once the socket accepts connections\n"
	      "  --pid-file FILE  write the pid of the serving process\n"
	      "  --domid N        domain whose /local/domain/N relative paths use (0)\n"
	      "  --stall PREFIX   never answer a request whose path starts with PREFIX, nor\n"
	      "                   anything after it on that connection (a hung daemon)\n"
	      "  -v, --verbose    log each request to stderr\n",
	      f);
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		DAEMON_LONGOPTS,
		{ "domid", required_argument, NULL, 'D' },
		{ "stall", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	int ch, r;

	while ((ch = getopt_long(argc, argv, "v", longopts, NULL)) != -1) {
		char *end;
		unsigned long v;

		switch (ch) {
		case 'D':
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || !*optarg || *end || v >= 0x7ff0) {
				daemon_log("bad domid '%s'", optarg);
				return -EINVAL;
			}
			o->domid = v;
			break;
		case 'S':
			o->stall = optarg;
			break;
		default:
			r = daemon_opt(&o->d, ch, optarg, usage);
			if (r != 0)
				return r;
		}
	}
	return daemon_opts_done(&o->d, argc, usage);
}

static int run(const struct opts *o)
{
	struct daemon_ctx dc;
	struct xsd *d;
	int r;

	r = daemon_open(&dc, &o->d);
	if (r < 0)
		return r;

	d = xmalloc(sizeof(*d));
	memset(d, 0, sizeof(*d));
	d->domid = o->domid;
	d->verbose = o->d.verbose;
	d->stall = o->stall;
	d->homelen = (size_t)snprintf(d->home, sizeof(d->home), "/local/domain/%u", o->domid);
	store_init(d);

	daemon_ready(&dc);
	if (o->d.verbose)
		daemon_log("serving %s as domain %u", o->d.socket, o->domid);
	r = daemon_serve(&dc, &loop_ops, d);

	while (d->conns) {
		struct conn *c = d->conns;

		d->conns = c->next;
		conn_free(c);
	}
	store_free(d);
	free(d);
	daemon_close(&dc);
	return r;
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	int r;

	r = parse_args(argc, argv, &o);
	if (r != 0)
		return r > 0 ? EXIT_SUCCESS : 2;
	return run(&o) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
