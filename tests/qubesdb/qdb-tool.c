/* qdb-tool: QubesDB from shell scripts and tests, over the client protocol
 * of qdb.h. A careful client: it reads in loops (short reads happen),
 * skips watch events that arrive before a reply, and refuses any reply
 * that does not parse.
 *
 *   QUBESDB_SOCKET=PATH qdb-tool read KEY | write KEY VALUE | rm KEY |
 *                                multiread PREFIX | list PREFIX | watch KEY [COUNT]
 *
 * Exit status: 0 done, 2 no such key (read, rm), 1 any error. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "qdb.h"

#define EXIT_NOENT 2

/* A reply: its header, and its value with a NUL added. */
struct msg {
	struct qdb_hdr hdr;
	char data[QDB_MAX_DATA];
};

static int qdb_connect(void)
{
	const char *path = getenv("QUBESDB_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, r;

	if (!path || !*path)
		path = QDB_DEFAULT_SOCKET;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

static int write_all(int fd, const void *p, size_t len)
{
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p = (const char *)p + n;
		len -= (size_t)n;
	}
	return 0;
}

/* Exactly len bytes; -ECONNRESET when the daemon hangs up first. */
static int read_all(int fd, void *p, size_t len)
{
	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ECONNRESET;
		p = (char *)p + n;
		len -= (size_t)n;
	}
	return 0;
}

static int send_request(int fd, uint8_t type, const char *path, const char *value)
{
	size_t vlen = value ? strlen(value) : 0;
	char buf[sizeof(struct qdb_hdr) + QDB_MAX_DATA];
	struct qdb_hdr hdr;

	if (strlen(path) >= sizeof(hdr.path))
		return -ENAMETOOLONG;
	if (vlen >= QDB_MAX_DATA)
		return -E2BIG;
	memset(&hdr, 0, sizeof(hdr));
	hdr.type = type;
	strcpy(hdr.path, path);
	hdr.data_len = (uint32_t)vlen;
	memcpy(buf, &hdr, sizeof(hdr));
	if (vlen)
		memcpy(buf + sizeof(hdr), value, vlen);
	return write_all(fd, buf, sizeof(hdr) + vlen);
}

/* The next message, watch events included; -EBADMSG when it cannot be one
 * the daemon sends. */
static int recv_msg(int fd, struct msg *m)
{
	int r;

	r = read_all(fd, &m->hdr, sizeof(m->hdr));
	if (r < 0)
		return r;
	if (m->hdr.type < QDB_RESP_OK || m->hdr.type >= QDB_TYPE_MAX ||
	    !memchr(m->hdr.path, '\0', sizeof(m->hdr.path)) || m->hdr.data_len >= QDB_MAX_DATA)
		return -EBADMSG;
	r = read_all(fd, m->data, m->hdr.data_len);
	if (r < 0)
		return r;
	if (memchr(m->data, '\0', m->hdr.data_len))
		return -EBADMSG;
	m->data[m->hdr.data_len] = '\0';
	/* Only READ and MULTIREAD replies carry a value. */
	if (m->hdr.data_len && m->hdr.type != QDB_RESP_READ && m->hdr.type != QDB_RESP_MULTIREAD)
		return -EBADMSG;
	return 0;
}

/* The next message that is not a watch event. */
static int recv_reply(int fd, struct msg *m)
{
	for (;;) {
		int r = recv_msg(fd, m);

		if (r < 0 || m->hdr.type != QDB_RESP_WATCH)
			return r;
	}
}

/* The answer to a request on path: the reply's type, or -errno. */
static int request(int fd, uint8_t type, const char *path, const char *value, struct msg *m)
{
	int r = send_request(fd, type, path, value);

	if (r < 0)
		return r;
	r = recv_reply(fd, m);
	if (r < 0)
		return r;
	if (strcmp(m->hdr.path, path) != 0)
		return -EBADMSG;
	switch (m->hdr.type) {
	case QDB_RESP_ERROR_NOENT:
		return -ENOENT;
	case QDB_RESP_ERROR:
		return -EREMOTEIO;
	default:
		return m->hdr.type;
	}
}

static int cmd_read(int fd, char **argv, struct msg *m)
{
	int r = request(fd, QDB_CMD_READ, argv[0], NULL, m);

	if (r < 0)
		return r;
	if (r != QDB_RESP_READ)
		return -EBADMSG;
	fwrite(m->data, 1, m->hdr.data_len, stdout);
	putchar('\n');
	return 0;
}

static int cmd_write(int fd, char **argv, struct msg *m)
{
	int r = request(fd, QDB_CMD_WRITE, argv[0], argv[1], m);

	if (r < 0)
		return r;
	return r == QDB_RESP_OK ? 0 : -EBADMSG;
}

static int cmd_rm(int fd, char **argv, struct msg *m)
{
	int r = request(fd, QDB_CMD_RM, argv[0], NULL, m);

	if (r < 0)
		return r;
	return r == QDB_RESP_OK ? 0 : -EBADMSG;
}

/* Entries of type want until the one with an empty path. */
static int read_entries(int fd, uint8_t want, struct msg *m)
{
	for (;;) {
		int r = recv_reply(fd, m);

		if (r < 0)
			return r;
		if (m->hdr.type == QDB_RESP_ERROR)
			return -EREMOTEIO;
		if (m->hdr.type != want)
			return -EBADMSG;
		if (!m->hdr.path[0])
			return m->hdr.data_len ? -EBADMSG : 0;
		if (want == QDB_RESP_MULTIREAD)
			printf("%s=%s\n", m->hdr.path, m->data);
		else
			printf("%s\n", m->hdr.path);
	}
}

static int cmd_multiread(int fd, char **argv, struct msg *m)
{
	int r = send_request(fd, QDB_CMD_MULTIREAD, argv[0], NULL);

	return r < 0 ? r : read_entries(fd, QDB_RESP_MULTIREAD, m);
}

static int cmd_list(int fd, char **argv, struct msg *m)
{
	int r = send_request(fd, QDB_CMD_LIST, argv[0], NULL);

	return r < 0 ? r : read_entries(fd, QDB_RESP_LIST, m);
}

/* Does a change of path reach a watch on key, as the daemon matches? */
static bool watch_matches(const char *key, const char *path)
{
	size_t len = strlen(key);

	if (len > 0 && key[len - 1] == '/')
		return strncmp(key, path, len) == 0;
	return strcmp(key, path) == 0;
}

static int parse_count(const char *s, unsigned long *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || !*s || *end || s[0] == '-' || v > UINT_MAX)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* Prints the path of each change, until COUNT (default 1; 0: forever). */
static int cmd_watch(int fd, char **argv, struct msg *m)
{
	unsigned long count = 1, seen = 0;
	int r;

	if (argv[1] && parse_count(argv[1], &count) < 0)
		return -EINVAL;
	r = request(fd, QDB_CMD_WATCH, argv[0], NULL, m);
	if (r < 0)
		return r;
	if (r != QDB_RESP_OK)
		return -EBADMSG;
	while (count == 0 || seen < count) {
		r = recv_msg(fd, m);
		if (r < 0)
			return r;
		if (m->hdr.type != QDB_RESP_WATCH)
			return -EBADMSG;
		/* Not ours: the daemon's --events, say. */
		if (!watch_matches(argv[0], m->hdr.path))
			continue;
		printf("%s\n", m->hdr.path);
		if (fflush(stdout) != 0)
			return -EIO;
		seen++;
	}
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(int fd, char **argv, struct msg *m);
	int min_args;
	int max_args;
} cmds[] = {
	{ "read", cmd_read, 1, 1 },
	{ "write", cmd_write, 2, 2 },
	{ "rm", cmd_rm, 1, 1 },
	{ "multiread", cmd_multiread, 1, 1 },
	{ "list", cmd_list, 1, 1 },
	{ "watch", cmd_watch, 1, 2 },
};

static const char *error_text(int r)
{
	switch (r) {
	case -ENOENT:
		return "no such key";
	case -EREMOTEIO:
		return "refused by the daemon (RESP_ERROR)";
	case -EBADMSG:
		return "malformed reply";
	case -ECONNRESET:
		return "the daemon closed the connection";
	default:
		return strerror(-r);
	}
}

static void usage(FILE *f)
{
	fputs("Usage: QUBESDB_SOCKET=PATH qdb-tool read KEY | write KEY VALUE | rm KEY |\n"
	      "                                multiread PREFIX | list PREFIX | watch KEY [COUNT]\n"
	      "multiread prints KEY=VALUE lines, list KEY lines, watch the path of each change\n"
	      "(COUNT of them, default 1, 0: forever). Exit status: 0, 2 no such key, 1 error.\n"
	      "The socket defaults to " QDB_DEFAULT_SOCKET ".\n",
	      f);
}

int main(int argc, char **argv)
{
	struct msg *m;
	int fd, nargs = argc - 2, r;
	size_t i;

	if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		usage(stdout);
		return EXIT_SUCCESS;
	}
	for (i = 0; argc >= 2 && i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			break;
	if (argc < 2 || i == sizeof(cmds) / sizeof(cmds[0]) || nargs < cmds[i].min_args ||
	    nargs > cmds[i].max_args) {
		usage(stderr);
		return EXIT_FAILURE;
	}
	fd = qdb_connect();
	if (fd < 0) {
		fprintf(stderr, "qdb-tool: cannot connect: %s\n", strerror(-fd));
		return EXIT_FAILURE;
	}
	m = malloc(sizeof(*m));
	if (!m) {
		close(fd);
		fputs("qdb-tool: out of memory\n", stderr);
		return EXIT_FAILURE;
	}
	r = cmds[i].fn(fd, argv + 2, m);
	free(m);
	close(fd);
	if (fflush(stdout) != 0 && r == 0)
		r = -EIO;
	if (r < 0) {
		fprintf(stderr, "qdb-tool: %s '%s': %s\n", argv[1], argv[2], error_text(r));
		return r == -ENOENT ? EXIT_NOENT : EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}
