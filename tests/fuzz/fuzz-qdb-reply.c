/* fuzz-qdb-reply: the QubesDB client's reply parsing (common/qdb.c), fed
 * raw bytes as the daemon's replies over a socketpair.
 *
 * Input: byte 0 picks the operation (READ, MULTIREAD, the WATCH wait of
 * qdb_wait_read, WATCH/UNWATCH) and its path; the rest is what the
 * "daemon" sends, written to the peer end, whose writing side is then shut
 * down: the client reads the bytes and then EOF, so nothing can block (the
 * deadlines are a few ms anyway). After the first operation a second READ
 * runs on the same connection, to parse what is left of the stream.
 *
 * Invariants: a value read is a string shorter than QDB_MAX_DATA; a
 * multiread returns at most QDB_MAX_ENTRIES entries, each a terminated path
 * under the prefix and a value as above; results are only the documented
 * errors; once a reply did not parse, the connection refuses further use
 * (-EBADMSG without reading). Any broken invariant abort()s. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "deadline.h"
#include "qdb.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const paths[] = {
	"/qubes-ip", "/mapped-ip/10.137.0.9/visible-ip", "/qubes-netvm-gateway", "/mapped-ip/",
};

static bool documented(int r)
{
	return r >= 0 || r == -ENOENT || r == -EIO || r == -EBADMSG || r == -ETIMEDOUT || r == -ECONNRESET ||
	       r == -EPIPE || r == -ENOMEM;
}

static void check_value(const char *v)
{
	if (!v || strlen(v) >= QDB_MAX_DATA)
		abort();
}

/* 1: the reply did not parse (the connection must be broken now). */
static int one_op(struct qdb *q, unsigned op, const char *path)
{
	struct qdb_entry *e = NULL;
	char *v = NULL;
	size_t n = 0;
	int r;

	switch (op) {
	case 0:
		r = qdb_read(q, path, &v);
		if (r == 0)
			check_value(v);
		break;
	case 1:
		r = qdb_multiread(q, path, &e, &n);
		if (r == 0) {
			if (n > QDB_MAX_ENTRIES || (n > 0 && !e))
				abort();
			for (size_t i = 0; i < n; i++) {
				if (strnlen(e[i].path, QDB_MAX_PATH) >= QDB_MAX_PATH || !startswith(e[i].path, path) ||
				    !e[i].path[0])
					abort();
				check_value(e[i].value);
			}
		}
		qdb_entries_free(e, r == 0 ? n : 0);
		break;
	case 2:
		r = qdb_wait_read(q, path, now_ms() + 2, &v);
		if (r == 0)
			check_value(v);
		break;
	default:
		r = op == 3 ? qdb_watch(q, path) : qdb_unwatch(q, path);
		if (r > 0)
			abort();
		break;
	}
	free(v);
	if (!documented(r))
		abort();
	return r == -EBADMSG;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qdb *q = NULL;
	int sv[2];
	unsigned op;
	const char *path;
	char *v = NULL;
	int r;

	if (size < 1 || size > 65536)
		return 0;
	op = data[0] % 5;
	path = paths[(data[0] / 5) % ELEMENTSOF(paths)];
	if (op != 1 && path[strlen(path) - 1] == '/')
		path = paths[0];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	/* Fits in the socket's buffer: the write does not block. */
	if (size > 1 && write(sv[1], data + 1, size - 1) != (ssize_t)(size - 1))
		abort();
	if (shutdown(sv[1], SHUT_WR) < 0)
		abort();
	if (qdb_adopt_fd(sv[0], now_ms() + 50, &q) < 0)
		abort();

	if (one_op(q, op, path)) {
		/* Broken: nothing is sent or read any more. */
		r = qdb_read(q, paths[0], &v);
		if (r != -EBADMSG || v)
			abort();
	} else {
		r = qdb_read(q, paths[0], &v);
		if (!documented(r) || (r == 0 && (check_value(v), false)))
			abort();
	}
	free(v);
	qdb_close(q); /* closes sv[0] */
	close(sv[1]);
	return 0;
}
