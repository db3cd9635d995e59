#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "deadline.h"
#include "qdb.h"
#include "util.h"

_Static_assert(QDB_HDR_SIZE == 1 + QDB_MAX_PATH + 3 + 4, "the daemon's struct qdb_hdr on x86-64");

struct qdb {
	int fd;
	uint64_t deadline;
	bool broken; /* the stream cannot be trusted any more */
	unsigned events;
};

/* ---- the wire form ---- */

bool qdb_path_valid(const char *path)
{
	size_t n;

	if (!path || path[0] != '/')
		return false;
	n = strnlen(path, QDB_MAX_PATH);
	if (n >= QDB_MAX_PATH)
		return false;
	return strspn(path, "abcdefghijklmnopqrstuvwxyz0123456789_-/.:@") == n;
}

void qdb_hdr_encode(const struct qdb_hdr *h, unsigned char out[static QDB_HDR_SIZE])
{
	memset(out, 0, QDB_HDR_SIZE);
	out[0] = h->type;
	memcpy(out + 1, h->path, strnlen(h->path, QDB_MAX_PATH - 1));
	memcpy(out + 68, &h->data_len, sizeof(h->data_len));
}

int qdb_hdr_decode(const unsigned char in[static QDB_HDR_SIZE], struct qdb_hdr *ret)
{
	struct qdb_hdr h = { .type = in[0] };

	memcpy(h.path, in + 1, QDB_MAX_PATH);
	h.path[QDB_MAX_PATH - 1] = 0; /* never trust the peer's terminator */
	memcpy(&h.data_len, in + 68, sizeof(h.data_len));
	if (h.type >= _QDB_TYPE_MAX || h.data_len >= QDB_MAX_DATA)
		return -EBADMSG;
	*ret = h;
	return 0;
}

/* ---- transport: whole messages, within the bounds ---- */

static int wait_fd(struct qdb *q, short events, uint64_t until)
{
	for (;;) {
		struct pollfd p = { .fd = q->fd, .events = events };
		unsigned left = ms_left(until, QDB_OP_TIMEOUT_MS);
		int r;

		if (left == 0)
			return -ETIMEDOUT;
		r = poll(&p, 1, (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return negative_errno();
	}
}

static int fail(struct qdb *q, int r)
{
	q->broken = true;
	return r;
}

static int read_full(struct qdb *q, void *buf, size_t n, uint64_t until)
{
	size_t got = 0;

	while (got < n) {
		ssize_t k;
		int r = wait_fd(q, POLLIN, until);

		if (r < 0)
			return fail(q, r);
		k = read(q->fd, (char *)buf + got, n - got);
		if (k == 0)
			return fail(q, -ECONNRESET); /* EOF inside a message */
		if (k < 0 && errno != EINTR && errno != EAGAIN)
			return fail(q, negative_errno());
		if (k > 0)
			got += (size_t)k;
	}
	return 0;
}

static int write_full(struct qdb *q, const void *buf, size_t n, uint64_t until)
{
	size_t done = 0;

	while (done < n) {
		ssize_t k;
		int r = wait_fd(q, POLLOUT, until);

		if (r < 0)
			return fail(q, r);
		k = send(q->fd, (const char *)buf + done, n - done, MSG_NOSIGNAL);
		if (k < 0 && errno != EINTR && errno != EAGAIN)
			return fail(q, negative_errno());
		if (k > 0)
			done += (size_t)k;
	}
	return 0;
}

static uint64_t op_until(const struct qdb *q)
{
	return deadline_within(q->deadline, QDB_OP_TIMEOUT_MS);
}

static int send_request(struct qdb *q, uint8_t type, const char *path, uint64_t until)
{
	unsigned char buf[QDB_HDR_SIZE];
	struct qdb_hdr h = { .type = type };

	if (q->broken)
		return -EBADMSG;
	if (!qdb_path_valid(path))
		return -EINVAL;
	memcpy(h.path, path, strlen(path));
	qdb_hdr_encode(&h, buf);
	return write_full(q, buf, sizeof(buf), until);
}

/* The next header that is not a watch event. */
static int recv_hdr(struct qdb *q, struct qdb_hdr *ret, uint64_t until)
{
	for (;;) {
		unsigned char buf[QDB_HDR_SIZE];
		int r;

		r = read_full(q, buf, sizeof(buf), until);
		if (r < 0)
			return r;
		r = qdb_hdr_decode(buf, ret);
		if (r < 0)
			return fail(q, r);
		if (ret->type != QDB_RESP_WATCH)
			return 0;
		if (ret->data_len != 0)
			return fail(q, -EBADMSG);
		q->events++;
	}
}

/* len bytes of value, terminated; a NUL inside is malformed. */
static int recv_value(struct qdb *q, uint32_t len, uint64_t until, char **ret)
{
	_cleanup_free_ char *v = malloc((size_t)len + 1);
	int r;

	if (!v)
		return fail(q, -ENOMEM);
	r = read_full(q, v, len, until);
	if (r < 0)
		return r;
	if (memchr(v, 0, len))
		return fail(q, -EBADMSG);
	v[len] = 0;
	*ret = v;
	v = NULL;
	return 0;
}

/* The reply to a request that expects RESP_OK (or NOENT). */
static int simple_reply(struct qdb *q, uint64_t until)
{
	struct qdb_hdr h;
	int r = recv_hdr(q, &h, until);

	if (r < 0)
		return r;
	if (h.data_len != 0)
		return fail(q, -EBADMSG);
	switch (h.type) {
	case QDB_RESP_OK:
		return 0;
	case QDB_RESP_ERROR_NOENT:
		return -ENOENT;
	case QDB_RESP_ERROR:
		return -EIO;
	default:
		return fail(q, -EBADMSG);
	}
}

/* ---- connection ---- */

int qdb_open(const char *socket_path, uint64_t deadline, struct qdb **ret)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -1;
	int r;

	if (!socket_path || strlen(socket_path) >= sizeof(sa.sun_path))
		return -EINVAL;
	strcpy(sa.sun_path, socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return negative_errno();
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS)
		return negative_errno();
	r = qdb_adopt_fd(fd, deadline, ret);
	if (r == 0)
		fd = -1;
	return r;
}

int qdb_adopt_fd(int fd, uint64_t deadline, struct qdb **ret)
{
	struct qdb *q = calloc(1, sizeof(*q));

	if (!q)
		return -ENOMEM;
	q->fd = fd;
	q->deadline = deadline;
	*ret = q;
	return 0;
}

void qdb_close(struct qdb *q)
{
	if (!q)
		return;
	if (q->fd >= 0)
		close(q->fd);
	free(q);
}

void qdb_set_deadline(struct qdb *q, uint64_t deadline)
{
	q->deadline = deadline;
}

unsigned qdb_events_seen(const struct qdb *q)
{
	return q->events;
}

/* ---- requests ---- */

int qdb_read(struct qdb *q, const char *path, char **ret)
{
	uint64_t until = op_until(q);
	struct qdb_hdr h;
	int r;

	r = send_request(q, QDB_CMD_READ, path, until);
	if (r < 0)
		return r;
	r = recv_hdr(q, &h, until);
	if (r < 0)
		return r;
	switch (h.type) {
	case QDB_RESP_READ:
		if (!streq(h.path, path))
			return fail(q, -EBADMSG);
		return recv_value(q, h.data_len, until, ret);
	case QDB_RESP_ERROR_NOENT:
		return h.data_len ? fail(q, -EBADMSG) : -ENOENT;
	case QDB_RESP_ERROR:
		return h.data_len ? fail(q, -EBADMSG) : -EIO;
	default:
		return fail(q, -EBADMSG);
	}
}

void qdb_entries_free(struct qdb_entry *e, size_t n)
{
	for (size_t i = 0; e && i < n; i++)
		free(e[i].value);
	free(e);
}

int qdb_multiread(struct qdb *q, const char *prefix, struct qdb_entry **ret, size_t *ret_n)
{
	uint64_t until = op_until(q);
	struct qdb_entry *e = NULL;
	size_t n = 0, cap = 0;
	int r;

	r = send_request(q, QDB_CMD_MULTIREAD, prefix, until);
	if (r < 0)
		return r;
	for (;;) {
		struct qdb_hdr h;

		r = recv_hdr(q, &h, until);
		if (r < 0)
			break;
		if (h.type == QDB_RESP_ERROR && h.data_len == 0) {
			r = -EIO;
			break;
		}
		if (h.type != QDB_RESP_MULTIREAD) {
			r = fail(q, -EBADMSG);
			break;
		}
		/* The end: an empty path (an empty value has data_len 0 too). */
		if (!h.path[0]) {
			r = h.data_len ? fail(q, -EBADMSG) : 0;
			break;
		}
		if (!startswith(h.path, prefix) || n >= QDB_MAX_ENTRIES) {
			r = fail(q, -EBADMSG);
			break;
		}
		if (n == cap) {
			struct qdb_entry *ne;

			cap = cap ? cap * 2 : 8;
			ne = reallocarray(e, cap, sizeof(*e));
			if (!ne) {
				r = fail(q, -ENOMEM);
				break;
			}
			e = ne;
		}
		memcpy(e[n].path, h.path, QDB_MAX_PATH);
		r = recv_value(q, h.data_len, until, &e[n].value);
		if (r < 0)
			break;
		n++;
	}
	if (r < 0) {
		qdb_entries_free(e, n);
		return r;
	}
	*ret = e;
	*ret_n = n;
	return 0;
}

int qdb_watch(struct qdb *q, const char *path)
{
	uint64_t until = op_until(q);
	int r = send_request(q, QDB_CMD_WATCH, path, until);

	return r < 0 ? r : simple_reply(q, until);
}

int qdb_unwatch(struct qdb *q, const char *path)
{
	uint64_t until = op_until(q);
	int r = send_request(q, QDB_CMD_UNWATCH, path, until);

	return r < 0 ? r : simple_reply(q, until);
}

/* Waits for the next message to be a watch event, until `until`:
 * 1 an event came, 0 time is up (nothing came). */
static int wait_event(struct qdb *q, uint64_t until)
{
	unsigned char buf[QDB_HDR_SIZE];
	struct qdb_hdr h;
	int r;

	r = wait_fd(q, POLLIN, until);
	if (r == -ETIMEDOUT)
		return 0;
	if (r < 0)
		return fail(q, r);
	r = read_full(q, buf, sizeof(buf), deadline_within(q->deadline, QDB_OP_TIMEOUT_MS));
	if (r < 0)
		return r;
	r = qdb_hdr_decode(buf, &h);
	if (r < 0 || h.type != QDB_RESP_WATCH || h.data_len != 0)
		return fail(q, -EBADMSG);
	q->events++;
	return 1;
}

int qdb_wait_read(struct qdb *q, const char *path, uint64_t until, char **ret)
{
	int r;

	r = qdb_read(q, path, ret);
	if (r != -ENOENT)
		return r;
	/* Watch, then read again: a write between the first read and the
	 * watch would otherwise be missed. */
	r = qdb_watch(q, path);
	if (r < 0)
		return r;
	for (;;) {
		r = qdb_read(q, path, ret);
		if (r != -ENOENT)
			break;
		r = wait_event(q, until);
		if (r <= 0) {
			r = r < 0 ? r : -ENOENT;
			break;
		}
	}
	if (!q->broken)
		(void)qdb_unwatch(q, path);
	return r;
}
