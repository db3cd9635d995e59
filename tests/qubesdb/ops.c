/* Requests, checked and answered as the real daemon's db-cmds.c does. The
 * reply header is the request header changed in place, so the path and the
 * padding bytes go back as the client sent them. A handler returns 0 once
 * it has answered (an error reply included), or -errno when the connection
 * must go at once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qdbd.h"

/* What a request whose header carries a payload gets. */
enum payload {
	PAYLOAD_REFUSED, /* payload read and dropped, then RESP_ERROR */
	PAYLOAD_DROP,    /* the connection is closed */
	PAYLOAD_VALUE,   /* the payload is the value */
};

/* The value --oversize claims. */
#define OVERSIZE_LEN 4000

struct req {
	struct qdbd *d;
	struct conn *c;
	struct qdb_hdr hdr; /* becomes the reply */
	const char *data;
	size_t len;
};

struct op {
	int (*fn)(struct req *r);
	enum payload payload;
};

static void reply(struct req *r, uint8_t type)
{
	r->hdr.type = type;
	r->hdr.data_len = 0;
	conn_reply(r->d, r->c, &r->hdr);
}

static int op_read(struct req *r)
{
	const struct qdbd *d = r->d;
	struct entry *e;

	if (d->oversize && startswith(r->hdr.path, d->oversize)) {
		char *junk = xmalloc(OVERSIZE_LEN);

		/* A malformed reply: more than any value may have, and sent. */
		memset(junk, 'x', OVERSIZE_LEN);
		r->hdr.type = QDB_RESP_READ;
		r->hdr.data_len = OVERSIZE_LEN;
		conn_reply(r->d, r->c, &r->hdr);
		conn_queue(r->c, junk, OVERSIZE_LEN);
		free(junk);
		return 0;
	}
	e = store_get(&r->d->store, r->hdr.path);
	if (d->truncate && startswith(r->hdr.path, d->truncate)) {
		/* The header promises a value the client never gets. */
		r->hdr.type = QDB_RESP_READ;
		r->hdr.data_len = e && e->len ? e->len : 1;
		conn_reply(r->d, r->c, &r->hdr);
		r->c->closing = true;
		return 0;
	}
	if (!e) {
		reply(r, QDB_RESP_ERROR_NOENT);
		return 0;
	}
	r->hdr.type = QDB_RESP_READ;
	r->hdr.data_len = e->len;
	conn_reply(r->d, r->c, &r->hdr);
	conn_queue(r->c, e->value, e->len);
	return 0;
}

static int op_write(struct req *r)
{
	if (memchr(r->data, '\0', r->len)) {
		if (r->d->verbose)
			daemon_log("conn %u: NUL byte in the value", r->c->id);
		reply(r, QDB_RESP_ERROR);
		return 0;
	}
	if (!path_is_key(r->hdr.path)) {
		/* qubesdb_write() fails: the real daemon answers, then hangs up. */
		daemon_log("conn %u: cannot write '%s', closing", r->c->id, r->hdr.path);
		reply(r, QDB_RESP_ERROR);
		r->c->closing = true;
		return 0;
	}
	store_set(&r->d->store, r->hdr.path, r->data, r->len);
	reply(r, QDB_RESP_OK);
	fire_watches(r->d, r->hdr.path);
	return 0;
}

static int op_rm(struct req *r)
{
	if (store_remove(&r->d->store, r->hdr.path) == 0) {
		reply(r, QDB_RESP_ERROR_NOENT);
		return 0;
	}
	reply(r, QDB_RESP_OK);
	/* One event, for the path as given ("/a/" for a subtree). */
	fire_watches(r->d, r->hdr.path);
	return 0;
}

static void send_entry(struct req *r, const struct entry *e, bool with_value)
{
	/* strncpy: the rest of path[] is zeroed, as in the real daemon. */
	strncpy(r->hdr.path, e->path, sizeof(r->hdr.path));
	r->hdr.data_len = with_value ? e->len : 0;
	conn_reply(r->d, r->c, &r->hdr);
	if (with_value)
		conn_queue(r->c, e->value, e->len);
}

/* The keys starting with the header's path (a plain string prefix), then an
 * entry with an empty path. That terminator only clears path[0]: the bytes
 * after it still hold the last key sent, as the real daemon leaves them. */
static int send_prefixed(struct req *r, uint8_t type, bool with_value)
{
	const struct store *s = &r->d->store;
	char prefix[QDB_MAX_PATH];
	size_t len;

	strcpy(prefix, r->hdr.path);
	len = strlen(prefix);
	r->hdr.type = type;
	if (len || !with_value) {
		for (size_t i = store_lower_bound(s, prefix);
		     i < s->n && strncmp(s->v[i].path, prefix, len) == 0; i++)
			send_entry(r, &s->v[i], with_value);
	} else {
		/* MULTIREAD of everything: in reverse order, as the real daemon. */
		for (size_t i = s->n; i-- > 0;)
			send_entry(r, &s->v[i], with_value);
	}
	r->hdr.path[0] = '\0';
	r->hdr.data_len = 0;
	conn_reply(r->d, r->c, &r->hdr);
	return 0;
}

static int op_multiread(struct req *r)
{
	return send_prefixed(r, QDB_RESP_MULTIREAD, true);
}

static int op_list(struct req *r)
{
	return send_prefixed(r, QDB_RESP_LIST, false);
}

static int op_watch(struct req *r)
{
	watch_add(r->c, r->hdr.path);
	reply(r, QDB_RESP_OK);
	return 0;
}

static int op_unwatch(struct req *r)
{
	reply(r, watch_remove(r->c, r->hdr.path) < 0 ? QDB_RESP_ERROR_NOENT : QDB_RESP_OK);
	return 0;
}

static const struct op ops[] = {
	[QDB_CMD_READ] = { op_read, PAYLOAD_DROP },
	[QDB_CMD_WRITE] = { op_write, PAYLOAD_VALUE },
	[QDB_CMD_MULTIREAD] = { op_multiread, PAYLOAD_REFUSED },
	[QDB_CMD_LIST] = { op_list, PAYLOAD_REFUSED },
	[QDB_CMD_RM] = { op_rm, PAYLOAD_REFUSED },
	/* The real daemon would take the payload for the next header. */
	[QDB_CMD_WATCH] = { op_watch, PAYLOAD_DROP },
	[QDB_CMD_UNWATCH] = { op_unwatch, PAYLOAD_DROP },
};

/* verify_hdr(): why the header is refused, or NULL. Stricter than the real
 * daemon in one way: it cuts a path that fills all 64 bytes to 63 and
 * carries on; here that is an error. */
static const char *check_hdr(const struct qdb_hdr *hdr)
{
	if (hdr->type >= sizeof(ops) / sizeof(ops[0]))
		return "not a request type";
	if (!memchr(hdr->path, '\0', sizeof(hdr->path)))
		return "path not terminated";
	if (!path_chars_ok(hdr->path))
		return "bad character in the path";
	if (hdr->data_len >= QDB_MAX_DATA)
		return "payload too long";
	return NULL;
}

/* The payload of the refused header hdr is thrown away as it comes in;
 * then the client hears RESP_ERROR. */
static void refuse(struct qdbd *d, struct conn *c, const struct qdb_hdr *hdr, const char *why)
{
	daemon_log("conn %u: refused %s (type %u, %u bytes): %s", c->id, qdb_type_name(hdr->type),
		   hdr->type, hdr->data_len, why);
	memcpy(&c->err, hdr, sizeof(c->err));
	c->err.type = QDB_RESP_ERROR;
	c->err.path[sizeof(c->err.path) - 1] = '\0';
	c->err.data_len = 0;
	c->skip = hdr->data_len;
	conn_in_consume(c, sizeof(*hdr));
	if (!c->skip)
		conn_reply(d, c, &c->err);
}

/* Handles every complete message in the input buffer. A peer that has hung
 * up still gets its requests applied. */
void conn_process(struct qdbd *d, struct conn *c)
{
	while (!c->dead && !c->stalled && !c->closing) {
		struct req r = { .d = d, .c = c };
		const struct op *op;
		const char *why;
		int rc;

		if (!c->eof && conn_backlogged(c))
			break;
		if (c->skip) {
			size_t n = conn_in_pending(c) < c->skip ? conn_in_pending(c) : c->skip;

			conn_in_consume(c, n);
			c->skip -= n;
			if (c->skip)
				break;
			conn_reply(d, c, &c->err);
			continue;
		}
		if (conn_in_pending(c) < sizeof(r.hdr))
			break;
		memcpy(&r.hdr, c->in + c->in_off, sizeof(r.hdr));
		why = check_hdr(&r.hdr);
		if (why) {
			refuse(d, c, &r.hdr, why);
			continue;
		}
		op = &ops[r.hdr.type];
		if (r.hdr.data_len && op->payload == PAYLOAD_DROP) {
			daemon_log("conn %u: %s with a payload, closing", c->id,
				   qdb_type_name(r.hdr.type));
			c->dead = true;
			break;
		}
		if (r.hdr.data_len && op->payload == PAYLOAD_REFUSED) {
			refuse(d, c, &r.hdr, "unexpected payload");
			continue;
		}
		if (d->stall && startswith(r.hdr.path, d->stall)) {
			/* A daemon that hangs: this connection never hears back. */
			daemon_log("conn %u: stalling at %s '%s'", c->id, qdb_type_name(r.hdr.type),
				   r.hdr.path);
			c->stalled = true;
			break;
		}
		if (conn_in_pending(c) < sizeof(r.hdr) + r.hdr.data_len)
			break;
		r.data = c->in + c->in_off + sizeof(r.hdr);
		r.len = r.hdr.data_len;
		if (d->verbose)
			daemon_log("conn %u: %s '%s' (%zu bytes)", c->id, qdb_type_name(r.hdr.type),
				   r.hdr.path, r.len);
		if (d->request_log >= 0)
			dprintf(d->request_log, "%s %s\n", qdb_type_name(r.hdr.type), r.hdr.path);
		rc = op->fn(&r);
		conn_in_consume(c, sizeof(r.hdr) + r.len);
		if (rc < 0)
			c->dead = true;
	}
}
