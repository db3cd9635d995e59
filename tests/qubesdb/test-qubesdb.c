/* The test QubesDB daemon, driven over its socket by a raw client (every
 * byte of every message checked) and by qdb-tool. Every test starts its
 * own daemon, with the options it needs; the teardown stops it with
 * SIGTERM and wants a clean exit (no leak: ASan and valgrind report
 * through the exit status). */
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qdb.h"
#include "testlib.h"

/* The wire layout, as the real daemon's gcc x86-64 build has it. */
_Static_assert(sizeof(struct qdb_hdr) == 72, "header is 72 bytes");
_Static_assert(offsetof(struct qdb_hdr, type) == 0, "type at 0");
_Static_assert(offsetof(struct qdb_hdr, path) == 1, "path at 1");
_Static_assert(sizeof(((struct qdb_hdr *)0)->path) == 64, "path is 64 bytes");
_Static_assert(offsetof(struct qdb_hdr, data_len) == 68, "data_len at 68");
_Static_assert(sizeof(((struct qdb_hdr *)0)->data_len) == 4, "data_len is 32 bits");

#define HDR 72
#define EVENT_PATH "/qubes-test-event"
#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

static char dir[64];
static char sock[128];
static char pidfile[128];
static pid_t qdb_pid = -1;
static pid_t detached_pid = -1; /* a --daemon instance, if a test made one */

static void setup(void)
{
	strcpy(dir, "/tmp/qvt-qdb.XXXXXX");
	ck_assert_msg(mkdtemp(dir), "mkdtemp: %m");
	snprintf(sock, sizeof(sock), "%s/socket", dir);
	snprintf(pidfile, sizeof(pidfile), "%s/pid", dir);
	setenv("QUBESDB_SOCKET", sock, 1);
}

/* SIGTERM must end the daemon cleanly, its socket file removed. */
static void stop_daemon(void)
{
	int r = tl_qubesdb_stop(qdb_pid);

	qdb_pid = -1;
	ck_assert_msg(r == 0, "test-qubesdb ended with %d (128+N: signal N)", r);
	ck_assert_int_eq(access(sock, F_OK), -1);
}

static void teardown(void)
{
	if (detached_pid > 0)
		kill(detached_pid, SIGKILL);
	if (qdb_pid > 0)
		stop_daemon();
	unlink(sock);
	unlink(pidfile);
	rmdir(dir);
}

/* Starts test-qubesdb --socket SOCK ARGS... as a child of this test. */
static void start(const char *const *args)
{
	qdb_pid = tl_qubesdb_start(sock, args);
}

/* qdb-tool: $TEST_QDB_TOOL, else beside the daemon. */
static const char *qdb_tool(void)
{
	static char path[4096];
	const char *env = getenv("TEST_QDB_TOOL");
	char prog[4096];

	if (env && *env)
		return env;
	snprintf(prog, sizeof(prog), "%s", tl_prog("TEST_QUBESDB"));
	snprintf(path, sizeof(path), "%s/qdb-tool", dirname(prog));
	return path;
}

/* Runs qdb-tool ARGS (shell words); its exit status, *ret_out its output. */
static int tool(char **ret_out, const char *fmt, ...) _printf_(2, 3);
static int tool(char **ret_out, const char *fmt, ...)
{
	char args[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	return tl_run(ret_out, "'%s' %s", qdb_tool(), args);
}

static void assert_tool(const char *expected_out, int expected_rc, const char *args)
{
	char *out = NULL;
	int rc = tool(&out, "%s", args);

	ck_assert_msg(rc == expected_rc, "qdb-tool %s: exit %d, expected %d", args, rc, expected_rc);
	ck_assert_msg(strcmp(out ? out : "", expected_out) == 0, "qdb-tool %s: printed\n%s\nexpected\n%s",
		      args, out ? out : "", expected_out);
	free(out);
}

/* --- a raw client */

static int rconnect(void)
{
	return tl_raw_connect(sock, 10);
}

/* A header for path (up to 64 characters: the 64th leaves no NUL). */
static struct qdb_hdr mkhdr(uint8_t type, const char *path, uint32_t data_len)
{
	struct qdb_hdr h;

	memset(&h, 0, sizeof(h));
	h.type = type;
	ck_assert_uint_le(strlen(path), sizeof(h.path));
	memcpy(h.path, path, strlen(path));
	h.data_len = data_len;
	return h;
}

static void rsend(int fd, uint8_t type, const char *path, const void *data, size_t len)
{
	struct qdb_hdr h = mkhdr(type, path, (uint32_t)len);
	char *buf = malloc(sizeof(h) + len);

	ck_assert(buf);
	memcpy(buf, &h, sizeof(h));
	if (len)
		memcpy(buf + sizeof(h), data, len);
	tl_raw_write(fd, buf, sizeof(h) + len);
	free(buf);
}

/* One message; its value gets a NUL added (value: QDB_MAX_DATA bytes). */
static void rrecv(int fd, struct qdb_hdr *h, char *value)
{
	ck_assert_msg(tl_raw_read(fd, h, sizeof(*h)), "connection closed");
	ck_assert_uint_lt(h->data_len, QDB_MAX_DATA);
	ck_assert_msg(tl_raw_read(fd, value, h->data_len), "connection closed inside a value");
	value[h->data_len] = '\0';
}

/* The next message is type/path with value (NULL: no payload at all). */
static void expect(int fd, uint8_t type, const char *path, const char *value)
{
	char got[QDB_MAX_DATA];
	struct qdb_hdr h;

	rrecv(fd, &h, got);
	ck_assert_msg(h.type == type && strncmp(h.path, path, sizeof(h.path)) == 0,
		      "got type %u path '%.64s', expected type %u path '%s'", h.type, h.path, type, path);
	ck_assert_uint_eq(h.data_len, value ? strlen(value) : 0);
	if (value)
		ck_assert_str_eq(got, value);
}

/* A request and its reply, which echoes the path. */
static void req(int fd, uint8_t type, const char *path, const char *value, uint8_t reply,
		const char *reply_value)
{
	rsend(fd, type, path, value, value ? strlen(value) : 0);
	expect(fd, reply, path, reply_value);
}

static void expect_event(int fd, const char *path)
{
	expect(fd, QDB_RESP_WATCH, path, NULL);
}

/* No event is waiting: the reply to a new request comes next. */
static void expect_no_event(int fd)
{
	req(fd, QDB_CMD_READ, "/barrier", NULL, QDB_RESP_ERROR_NOENT, NULL);
}

static void expect_closed(int fd)
{
	char ch;
	ssize_t n = recv(fd, &ch, 1, 0);

	ck_assert_msg(n == 0 || (n < 0 && errno == ECONNRESET), "connection still open (%zd)", n);
}

/* Nothing arrives within ms. */
static void expect_silence(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	ck_assert_int_eq(poll(&p, 1, ms), 0);
}

static void write_key(const char *path, const char *value)
{
	int fd = rconnect();

	req(fd, QDB_CMD_WRITE, path, value, QDB_RESP_OK, NULL);
	close(fd);
}

/* --- the wire format */

/* Built byte by byte at the documented offsets, not through the struct:
 * the reply echoes path and padding, and data_len sits at 68. */
START_TEST(test_header_layout)
{
	unsigned char msg[HDR + 5], rep[HDR + 8];
	uint32_t len = 5;
	int fd;

	start(NULL);
	fd = rconnect();
	memset(msg, 0, sizeof(msg));
	msg[0] = QDB_CMD_WRITE;
	memcpy(msg + 1, "/layout", 7);
	msg[65] = 0xab;
	msg[66] = 0xcd;
	msg[67] = 0xef;
	memcpy(msg + 68, &len, 4);
	memcpy(msg + HDR, "hello", 5);
	tl_raw_write(fd, msg, sizeof(msg));
	ck_assert(tl_raw_read(fd, rep, HDR));
	ck_assert_uint_eq(rep[0], QDB_RESP_OK);
	ck_assert(memcmp(rep + 1, msg + 1, 64) == 0);
	ck_assert(memcmp(rep + 65, "\xab\xcd\xef", 3) == 0);
	memcpy(&len, rep + 68, 4);
	ck_assert_uint_eq(len, 0);

	msg[0] = QDB_CMD_READ;
	memset(msg + 68, 0, 4);
	tl_raw_write(fd, msg, HDR);
	ck_assert(tl_raw_read(fd, rep, HDR + 5));
	ck_assert_uint_eq(rep[0], QDB_RESP_READ);
	ck_assert_str_eq((char *)rep + 1, "/layout");
	ck_assert(memcmp(rep + 65, "\xab\xcd\xef", 3) == 0);
	memcpy(&len, rep + 68, 4);
	ck_assert_uint_eq(len, 5);
	ck_assert(memcmp(rep + HDR, "hello", 5) == 0); /* no NUL follows */
	expect_no_event(fd);
	close(fd);
}
END_TEST

START_TEST(test_read)
{
	int fd;

	start(ARGS("--set", "/a=1", "--set", "/empty=", "--set", "/eq=x=y"));
	fd = rconnect();
	req(fd, QDB_CMD_READ, "/a", NULL, QDB_RESP_READ, "1");
	req(fd, QDB_CMD_READ, "/eq", NULL, QDB_RESP_READ, "x=y");
	/* An empty value is RESP_READ with data_len 0, not NOENT. */
	req(fd, QDB_CMD_READ, "/empty", NULL, QDB_RESP_READ, "");
	req(fd, QDB_CMD_READ, "/missing", NULL, QDB_RESP_ERROR_NOENT, NULL);
	req(fd, QDB_CMD_READ, "/a/deeper", NULL, QDB_RESP_ERROR_NOENT, NULL);
	req(fd, QDB_CMD_READ, "/", NULL, QDB_RESP_ERROR_NOENT, NULL);
	req(fd, QDB_CMD_READ, "", NULL, QDB_RESP_ERROR_NOENT, NULL);
	req(fd, QDB_CMD_READ, "a", NULL, QDB_RESP_ERROR_NOENT, NULL);
	close(fd);
}
END_TEST

START_TEST(test_value_limits)
{
	char *big = malloc(QDB_MAX_DATA + 2000);
	struct qdb_hdr h;
	int fd;

	ck_assert(big);
	start(NULL);
	fd = rconnect();
	memset(big, 'v', QDB_MAX_DATA + 2000);
	big[QDB_MAX_DATA - 1] = '\0';
	req(fd, QDB_CMD_WRITE, "/big", big, QDB_RESP_OK, NULL);
	req(fd, QDB_CMD_READ, "/big", NULL, QDB_RESP_READ, big);

	/* 3072 bytes: refused once the payload is in, and the connection
	 * goes on; the daemon waits for the payload before it answers. */
	h = mkhdr(QDB_CMD_WRITE, "/big", QDB_MAX_DATA);
	tl_raw_write(fd, &h, sizeof(h));
	expect_silence(fd, 200);
	tl_raw_write(fd, big, QDB_MAX_DATA);
	expect(fd, QDB_RESP_ERROR, "/big", NULL);
	req(fd, QDB_CMD_READ, "/big", NULL, QDB_RESP_READ, big);
	/* Far over the limit: the same. */
	rsend(fd, QDB_CMD_WRITE, "/big", big, QDB_MAX_DATA + 2000);
	expect(fd, QDB_RESP_ERROR, "/big", NULL);
	req(fd, QDB_CMD_READ, "/big", NULL, QDB_RESP_READ, big);

	/* A NUL byte inside a value. */
	rsend(fd, QDB_CMD_WRITE, "/big", "a\0b", 3);
	expect(fd, QDB_RESP_ERROR, "/big", NULL);
	req(fd, QDB_CMD_WRITE, "/nul", "", QDB_RESP_OK, NULL);
	rsend(fd, QDB_CMD_WRITE, "/nul", "\0", 1);
	expect(fd, QDB_RESP_ERROR, "/nul", NULL);
	req(fd, QDB_CMD_READ, "/nul", NULL, QDB_RESP_READ, "");
	close(fd);
	free(big);
}
END_TEST

START_TEST(test_write_rm)
{
	int fd;

	start(NULL);
	fd = rconnect();
	req(fd, QDB_CMD_WRITE, "/k", "one", QDB_RESP_OK, NULL);
	req(fd, QDB_CMD_WRITE, "/k", "second", QDB_RESP_OK, NULL);
	req(fd, QDB_CMD_READ, "/k", NULL, QDB_RESP_READ, "second");
	req(fd, QDB_CMD_RM, "/k", NULL, QDB_RESP_OK, NULL);
	req(fd, QDB_CMD_READ, "/k", NULL, QDB_RESP_ERROR_NOENT, NULL);
	req(fd, QDB_CMD_RM, "/k", NULL, QDB_RESP_ERROR_NOENT, NULL);
	req(fd, QDB_CMD_RM, "", NULL, QDB_RESP_ERROR_NOENT, NULL);

	/* A path ending in '/' removes what starts with it, not the key
	 * without the slash, nor its string neighbours. */
	req(fd, QDB_CMD_WRITE, "/a", "a", QDB_RESP_OK, NULL);
	req(fd, QDB_CMD_WRITE, "/a/x", "x", QDB_RESP_OK, NULL);
	req(fd, QDB_CMD_WRITE, "/a/y/z", "z", QDB_RESP_OK, NULL);
	req(fd, QDB_CMD_WRITE, "/ab", "ab", QDB_RESP_OK, NULL);
	req(fd, QDB_CMD_RM, "/a/", NULL, QDB_RESP_OK, NULL);
	req(fd, QDB_CMD_READ, "/a/x", NULL, QDB_RESP_ERROR_NOENT, NULL);
	req(fd, QDB_CMD_READ, "/a/y/z", NULL, QDB_RESP_ERROR_NOENT, NULL);
	req(fd, QDB_CMD_READ, "/a", NULL, QDB_RESP_READ, "a");
	req(fd, QDB_CMD_READ, "/ab", NULL, QDB_RESP_READ, "ab");
	req(fd, QDB_CMD_RM, "/a/", NULL, QDB_RESP_ERROR_NOENT, NULL);
	/* Without the slash, RM is exact. */
	req(fd, QDB_CMD_WRITE, "/a/x", "x", QDB_RESP_OK, NULL);
	req(fd, QDB_CMD_RM, "/a", NULL, QDB_RESP_OK, NULL);
	req(fd, QDB_CMD_READ, "/a/x", NULL, QDB_RESP_READ, "x");
	/* "/" removes everything. */
	req(fd, QDB_CMD_RM, "/", NULL, QDB_RESP_OK, NULL);
	req(fd, QDB_CMD_READ, "/a/x", NULL, QDB_RESP_ERROR_NOENT, NULL);
	req(fd, QDB_CMD_READ, "/ab", NULL, QDB_RESP_ERROR_NOENT, NULL);

	/* RM takes no payload: refused, the connection goes on. */
	req(fd, QDB_CMD_WRITE, "/k", "v", QDB_RESP_OK, NULL);
	rsend(fd, QDB_CMD_RM, "/k", "xx", 2);
	expect(fd, QDB_RESP_ERROR, "/k", NULL);
	req(fd, QDB_CMD_READ, "/k", NULL, QDB_RESP_READ, "v");
	close(fd);
}
END_TEST

/* WRITE of a path that cannot be a key: RESP_ERROR, then the real daemon
 * hangs up. */
START_TEST(test_write_bad_key)
{
	static const char *const bad[] = { "rel", "/a/", "/", "" };

	start(NULL);
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		int fd = rconnect();

		req(fd, QDB_CMD_WRITE, bad[i], "v", QDB_RESP_ERROR, NULL);
		expect_closed(fd);
		close(fd);
	}
	write_key("/still", "serving");
}
END_TEST

START_TEST(test_multiread)
{
	char value[QDB_MAX_DATA];
	struct qdb_hdr h;
	int fd;

	start(ARGS("--set", "/qubes-ip=10.137.0.5", "--set", "/qubes-ip6=fd09::5", "--set",
		   "/qubes-iq=q", "--set", "/qubes-gateway=10.137.0.1", "--set", "/b="));
	fd = rconnect();
	/* A plain string prefix: /qubes-ip also matches /qubes-ip6. */
	rsend(fd, QDB_CMD_MULTIREAD, "/qubes-ip", NULL, 0);
	expect(fd, QDB_RESP_MULTIREAD, "/qubes-ip", "10.137.0.5");
	expect(fd, QDB_RESP_MULTIREAD, "/qubes-ip6", "fd09::5");
	/* The end: an empty path (and data_len 0). Only path[0] is cleared:
	 * the last key sent is still behind it, as with the real daemon. */
	rrecv(fd, &h, value);
	ck_assert_uint_eq(h.type, QDB_RESP_MULTIREAD);
	ck_assert_uint_eq(h.path[0], 0);
	ck_assert_uint_eq(h.data_len, 0);
	ck_assert_str_eq(h.path + 1, "qubes-ip6");

	rsend(fd, QDB_CMD_MULTIREAD, "/nothing", NULL, 0);
	expect(fd, QDB_RESP_MULTIREAD, "", NULL);

	/* Everything, in reverse order; an empty value is an entry too. */
	rsend(fd, QDB_CMD_MULTIREAD, "", NULL, 0);
	expect(fd, QDB_RESP_MULTIREAD, "/qubes-iq", "q");
	expect(fd, QDB_RESP_MULTIREAD, "/qubes-ip6", "fd09::5");
	expect(fd, QDB_RESP_MULTIREAD, "/qubes-ip", "10.137.0.5");
	expect(fd, QDB_RESP_MULTIREAD, "/qubes-gateway", "10.137.0.1");
	expect(fd, QDB_RESP_MULTIREAD, "/b", "");
	expect(fd, QDB_RESP_MULTIREAD, "", NULL);

	/* A prefix with the slash: in order. */
	rsend(fd, QDB_CMD_MULTIREAD, "/", NULL, 0);
	expect(fd, QDB_RESP_MULTIREAD, "/b", "");
	expect(fd, QDB_RESP_MULTIREAD, "/qubes-gateway", "10.137.0.1");
	expect(fd, QDB_RESP_MULTIREAD, "/qubes-ip", "10.137.0.5");
	expect(fd, QDB_RESP_MULTIREAD, "/qubes-ip6", "fd09::5");
	expect(fd, QDB_RESP_MULTIREAD, "/qubes-iq", "q");
	expect(fd, QDB_RESP_MULTIREAD, "", NULL);

	/* No payload allowed. */
	rsend(fd, QDB_CMD_MULTIREAD, "/qubes-ip", "x", 1);
	expect(fd, QDB_RESP_ERROR, "/qubes-ip", NULL);
	req(fd, QDB_CMD_READ, "/qubes-ip", NULL, QDB_RESP_READ, "10.137.0.5");
	close(fd);
}
END_TEST

START_TEST(test_list)
{
	int fd;

	start(ARGS("--set", "/qubes-ip=10.137.0.5", "--set", "/qubes-ip6=fd09::5", "--set",
		   "/qubes-iq=q", "--set", "/b=x"));
	fd = rconnect();
	rsend(fd, QDB_CMD_LIST, "/qubes-ip", NULL, 0);
	expect(fd, QDB_RESP_LIST, "/qubes-ip", NULL);
	expect(fd, QDB_RESP_LIST, "/qubes-ip6", NULL);
	expect(fd, QDB_RESP_LIST, "", NULL);
	/* Everything, in order. */
	rsend(fd, QDB_CMD_LIST, "", NULL, 0);
	expect(fd, QDB_RESP_LIST, "/b", NULL);
	expect(fd, QDB_RESP_LIST, "/qubes-ip", NULL);
	expect(fd, QDB_RESP_LIST, "/qubes-ip6", NULL);
	expect(fd, QDB_RESP_LIST, "/qubes-iq", NULL);
	expect(fd, QDB_RESP_LIST, "", NULL);
	rsend(fd, QDB_CMD_LIST, "/qubes-ip6/", NULL, 0);
	expect(fd, QDB_RESP_LIST, "", NULL);
	rsend(fd, QDB_CMD_LIST, "/b", "x", 1);
	expect(fd, QDB_RESP_ERROR, "/b", NULL);
	expect_no_event(fd);
	close(fd);
}
END_TEST

/* --- watches */

START_TEST(test_watch_exact)
{
	int a, b;

	start(NULL);
	a = rconnect();
	b = rconnect();
	req(a, QDB_CMD_WATCH, "/w", NULL, QDB_RESP_OK, NULL);
	req(b, QDB_CMD_WRITE, "/w", "1", QDB_RESP_OK, NULL);
	expect_event(a, "/w");
	expect_no_event(a);
	/* Another key, even one below or beside it: nothing. */
	req(b, QDB_CMD_WRITE, "/w2", "1", QDB_RESP_OK, NULL);
	req(b, QDB_CMD_WRITE, "/w/x", "1", QDB_RESP_OK, NULL);
	expect_no_event(a);
	/* The same value again still fires. */
	req(b, QDB_CMD_WRITE, "/w", "1", QDB_RESP_OK, NULL);
	expect_event(a, "/w");
	req(b, QDB_CMD_RM, "/w", NULL, QDB_RESP_OK, NULL);
	expect_event(a, "/w");
	/* An RM that removes nothing fires nothing. */
	req(b, QDB_CMD_RM, "/w", NULL, QDB_RESP_ERROR_NOENT, NULL);
	expect_no_event(a);
	/* Its own change: the reply, then the event. */
	rsend(a, QDB_CMD_WRITE, "/w", "2", 1);
	expect(a, QDB_RESP_OK, "/w", NULL);
	expect_event(a, "/w");
	expect_no_event(b);
	close(a);
	close(b);
}
END_TEST

START_TEST(test_watch_subtree)
{
	int a, b, c;

	start(NULL);
	a = rconnect();
	b = rconnect();
	c = rconnect();
	req(a, QDB_CMD_WATCH, "/d/", NULL, QDB_RESP_OK, NULL);
	req(c, QDB_CMD_WATCH, "/d/x", NULL, QDB_RESP_OK, NULL);
	req(b, QDB_CMD_WRITE, "/d/x", "1", QDB_RESP_OK, NULL);
	expect_event(a, "/d/x");
	expect_event(c, "/d/x");
	req(b, QDB_CMD_WRITE, "/d/y/z", "1", QDB_RESP_OK, NULL);
	expect_event(a, "/d/y/z");
	/* Not under "/d/": "/d" itself and "/dd". */
	req(b, QDB_CMD_WRITE, "/d", "1", QDB_RESP_OK, NULL);
	req(b, QDB_CMD_WRITE, "/dd", "1", QDB_RESP_OK, NULL);
	expect_no_event(a);
	req(b, QDB_CMD_RM, "/d/y/z", NULL, QDB_RESP_OK, NULL);
	expect_event(a, "/d/y/z");
	/* A subtree RM is one event, for the path as given: a watch on a key
	 * inside it hears nothing (so does the real daemon). */
	req(b, QDB_CMD_RM, "/d/", NULL, QDB_RESP_OK, NULL);
	expect_event(a, "/d/");
	expect_no_event(a);
	expect_no_event(c);
	close(a);
	close(b);
	close(c);
}
END_TEST

START_TEST(test_unwatch)
{
	int a, b;

	start(NULL);
	a = rconnect();
	b = rconnect();
	/* Two watches on one path: two events per change. */
	req(a, QDB_CMD_WATCH, "/u", NULL, QDB_RESP_OK, NULL);
	req(a, QDB_CMD_WATCH, "/u", NULL, QDB_RESP_OK, NULL);
	req(b, QDB_CMD_WRITE, "/u", "1", QDB_RESP_OK, NULL);
	expect_event(a, "/u");
	expect_event(a, "/u");
	expect_no_event(a);
	req(a, QDB_CMD_UNWATCH, "/u", NULL, QDB_RESP_OK, NULL);
	req(b, QDB_CMD_WRITE, "/u", "2", QDB_RESP_OK, NULL);
	expect_event(a, "/u");
	expect_no_event(a);
	req(a, QDB_CMD_UNWATCH, "/u", NULL, QDB_RESP_OK, NULL);
	req(b, QDB_CMD_WRITE, "/u", "3", QDB_RESP_OK, NULL);
	expect_no_event(a);
	/* No such watch (any more): NOENT, as the real daemon says. */
	req(a, QDB_CMD_UNWATCH, "/u", NULL, QDB_RESP_ERROR_NOENT, NULL);
	/* Watches are per connection: b's UNWATCH does not touch a's. */
	req(a, QDB_CMD_WATCH, "/v", NULL, QDB_RESP_OK, NULL);
	req(b, QDB_CMD_UNWATCH, "/v", NULL, QDB_RESP_ERROR_NOENT, NULL);
	req(b, QDB_CMD_WRITE, "/v", "1", QDB_RESP_OK, NULL);
	expect_event(a, "/v");
	/* A connection's watches go with it. */
	close(a);
	req(b, QDB_CMD_WRITE, "/v", "2", QDB_RESP_OK, NULL);
	expect_no_event(b);
	close(b);
}
END_TEST

/* An event is not an answer: it can come after a request, before its
 * reply. */
START_TEST(test_event_before_reply)
{
	int a, b;

	start(ARGS("--set", "/k=v"));
	a = rconnect();
	b = rconnect();
	req(a, QDB_CMD_WATCH, "/w", NULL, QDB_RESP_OK, NULL);
	req(b, QDB_CMD_WRITE, "/w", "1", QDB_RESP_OK, NULL);
	rsend(a, QDB_CMD_READ, "/k", NULL, 0);
	expect_event(a, "/w");
	expect(a, QDB_RESP_READ, "/k", "v");
	/* Between the entries of a MULTIREAD the daemon sends nothing else by
	 * itself (--events does): a pipelined change lands before or after. */
	req(b, QDB_CMD_WRITE, "/w", "2", QDB_RESP_OK, NULL);
	rsend(a, QDB_CMD_MULTIREAD, "/k", NULL, 0);
	expect_event(a, "/w");
	expect(a, QDB_RESP_MULTIREAD, "/k", "v");
	expect(a, QDB_RESP_MULTIREAD, "", NULL);
	close(a);
	close(b);
}
END_TEST

/* --- what the daemon refuses */

START_TEST(test_bad_paths)
{
	static const char *const bad[] = { "/Abc", "/qubes-Ip", "/a b", "/a*", "/a\\b", "/\xc3\xa4",
					   "/a\n", "/a+b" };
	char longp[65];
	int fd;

	start(NULL);
	fd = rconnect();
	/* Capital letters are refused with RESP_ERROR -- not NOENT -- but for
	 * 'Z', which the real daemon's range typo lets through. */
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		req(fd, QDB_CMD_READ, bad[i], NULL, QDB_RESP_ERROR, NULL);
		req(fd, QDB_CMD_WRITE, bad[i], "v", QDB_RESP_ERROR, NULL);
		req(fd, QDB_CMD_RM, bad[i], NULL, QDB_RESP_ERROR, NULL);
		req(fd, QDB_CMD_WATCH, bad[i], NULL, QDB_RESP_ERROR, NULL);
		req(fd, QDB_CMD_MULTIREAD, bad[i], NULL, QDB_RESP_ERROR, NULL);
	}
	req(fd, QDB_CMD_READ, "/Z", NULL, QDB_RESP_ERROR_NOENT, NULL);
	req(fd, QDB_CMD_WRITE, "/aZ", "zed", QDB_RESP_OK, NULL);
	req(fd, QDB_CMD_READ, "/aZ", NULL, QDB_RESP_READ, "zed");
	req(fd, QDB_CMD_WRITE, "/a_b-c.d:e@f/0", "all", QDB_RESP_OK, NULL);
	req(fd, QDB_CMD_READ, "/a_b-c.d:e@f/0", NULL, QDB_RESP_READ, "all");

	/* 63 characters fit; 64 leave no room for the NUL. */
	memset(longp, 'p', sizeof(longp));
	longp[0] = '/';
	longp[63] = '\0';
	req(fd, QDB_CMD_WRITE, longp, "63", QDB_RESP_OK, NULL);
	req(fd, QDB_CMD_READ, longp, NULL, QDB_RESP_READ, "63");
	longp[63] = 'p';
	longp[64] = '\0';
	rsend(fd, QDB_CMD_WRITE, longp, "64", 2);
	longp[63] = '\0'; /* the error reply's path is cut */
	expect(fd, QDB_RESP_ERROR, longp, NULL);
	longp[63] = 'p';
	rsend(fd, QDB_CMD_READ, longp, NULL, 0);
	longp[63] = '\0';
	expect(fd, QDB_RESP_ERROR, longp, NULL);
	req(fd, QDB_CMD_READ, longp, NULL, QDB_RESP_READ, "63");
	close(fd);
}
END_TEST

START_TEST(test_bad_type)
{
	static const uint8_t bad[] = { QDB_RESP_OK, QDB_RESP_ERROR, QDB_RESP_READ, QDB_RESP_MULTIREAD,
				       QDB_RESP_WATCH, 14, 0x80, 0xff };
	int fd;

	start(ARGS("--set", "/k=v"));
	fd = rconnect();
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		req(fd, bad[i], "/k", NULL, QDB_RESP_ERROR, NULL);
		/* With a payload: it is read and dropped first. */
		req(fd, bad[i], "/k", "payload", QDB_RESP_ERROR, NULL);
	}
	req(fd, QDB_CMD_READ, "/k", NULL, QDB_RESP_READ, "v");
	close(fd);
}
END_TEST

/* READ with a payload makes the real daemon hang up; so does WATCH or
 * UNWATCH with one here (the real daemon would read it as the next
 * header). */
START_TEST(test_payload_drops)
{
	static const uint8_t types[] = { QDB_CMD_READ, QDB_CMD_WATCH, QDB_CMD_UNWATCH };
	struct qdb_hdr h;

	start(ARGS("--set", "/k=v"));
	for (size_t i = 0; i < ELEMENTSOF(types); i++) {
		int fd = rconnect();

		rsend(fd, types[i], "/k", "x", 1);
		expect_closed(fd);
		close(fd);
	}
	/* At once, without waiting for the payload. */
	{
		int fd = rconnect();

		h = mkhdr(QDB_CMD_READ, "/k", 100);
		tl_raw_write(fd, &h, sizeof(h));
		expect_closed(fd);
		close(fd);
	}
	{
		int fd = rconnect();

		req(fd, QDB_CMD_READ, "/k", NULL, QDB_RESP_READ, "v");
		close(fd);
	}
}
END_TEST

/* Many requests in one write, replies read only afterwards; a message cut
 * anywhere across writes. */
START_TEST(test_pipelining)
{
	enum { N = 300 };
	struct qdb_hdr h = mkhdr(QDB_CMD_READ, "/k", 0);
	char *buf = malloc(N * sizeof(h));
	unsigned char msg[HDR + 3];
	int fd;

	ck_assert(buf);
	start(ARGS("--set", "/k=v"));
	fd = rconnect();
	for (int i = 0; i < N; i++)
		memcpy(buf + i * sizeof(h), &h, sizeof(h));
	tl_raw_write(fd, buf, N * sizeof(h));
	for (int i = 0; i < N; i++)
		expect(fd, QDB_RESP_READ, "/k", "v");
	free(buf);

	h = mkhdr(QDB_CMD_WRITE, "/cut", 3);
	memcpy(msg, &h, HDR);
	memcpy(msg + HDR, "abc", 3);
	for (size_t i = 0; i < sizeof(msg); i++) {
		tl_raw_write(fd, msg + i, 1);
		if (i + 1 < sizeof(msg))
			expect_silence(fd, i % 20 ? 0 : 20);
	}
	expect(fd, QDB_RESP_OK, "/cut", NULL);
	req(fd, QDB_CMD_READ, "/cut", NULL, QDB_RESP_READ, "abc");
	close(fd);
}
END_TEST

/* --- misbehaviour switches */

START_TEST(test_split)
{
	char value[201], buf[4096];
	int fd, short_reads = 0, header_alone = 0;

	memset(value, 'x', 200);
	value[200] = '\0';
	start(ARGS("--split", "10"));
	fd = rconnect();
	req(fd, QDB_CMD_WRITE, "/k", value, QDB_RESP_OK, NULL);
	/* The client must be woken within a pause for it to see one piece;
	 * a loaded machine may need a few tries. */
	for (int i = 0; i < 200 && !short_reads; i++) {
		ssize_t n;

		rsend(fd, QDB_CMD_READ, "/k", NULL, 0);
		n = recv(fd, buf, HDR, 0);
		ck_assert_int_gt(n, 0);
		short_reads += n < HDR;
		ck_assert(tl_raw_read(fd, buf + n, HDR + 200 - (size_t)n));
		ck_assert_uint_eq(buf[0], QDB_RESP_READ);
		ck_assert_str_eq(buf + 1, "/k");
		ck_assert(memcmp(buf + HDR, value, 200) == 0);
	}
	ck_assert_int_gt(short_reads, 0);
	/* Everything still parses. */
	req(fd, QDB_CMD_WRITE, "/k2", "two", QDB_RESP_OK, NULL);
	rsend(fd, QDB_CMD_MULTIREAD, "/k", NULL, 0);
	expect(fd, QDB_RESP_MULTIREAD, "/k", value);
	expect(fd, QDB_RESP_MULTIREAD, "/k2", "two");
	expect(fd, QDB_RESP_MULTIREAD, "", NULL);
	close(fd);
	assert_tool("/k2=two\n", 0, "multiread /k2");
	stop_daemon();

	/* Pieces larger than any message: header and value are still two
	 * writes, so a large read can return the header alone. */
	start(ARGS("--split", "100000"));
	fd = rconnect();
	req(fd, QDB_CMD_WRITE, "/k", value, QDB_RESP_OK, NULL);
	for (int i = 0; i < 200 && !header_alone; i++) {
		ssize_t n;

		rsend(fd, QDB_CMD_READ, "/k", NULL, 0);
		n = recv(fd, buf, sizeof(buf), 0);
		ck_assert_int_gt(n, 0);
		header_alone += n == HDR;
		ck_assert(tl_raw_read(fd, buf + n, HDR + 200 - (size_t)n));
	}
	ck_assert_int_gt(header_alone, 0);
	close(fd);
}
END_TEST

START_TEST(test_events)
{
	int fd;

	start(ARGS("--events", "--set", "/a=1", "--set", "/b=2"));
	/* A connection without any watch: an event before every reply
	 * header, also between entries and before the terminator. */
	fd = rconnect();
	rsend(fd, QDB_CMD_READ, "/a", NULL, 0);
	expect_event(fd, EVENT_PATH);
	expect(fd, QDB_RESP_READ, "/a", "1");
	rsend(fd, QDB_CMD_READ, "/none", NULL, 0);
	expect_event(fd, EVENT_PATH);
	expect(fd, QDB_RESP_ERROR_NOENT, "/none", NULL);
	rsend(fd, QDB_CMD_MULTIREAD, "/", NULL, 0);
	expect_event(fd, EVENT_PATH);
	expect(fd, QDB_RESP_MULTIREAD, "/a", "1");
	expect_event(fd, EVENT_PATH);
	expect(fd, QDB_RESP_MULTIREAD, "/b", "2");
	expect_event(fd, EVENT_PATH);
	expect(fd, QDB_RESP_MULTIREAD, "", NULL);
	rsend(fd, QDB_CMD_LIST, "/", NULL, 0);
	expect_event(fd, EVENT_PATH);
	expect(fd, QDB_RESP_LIST, "/a", NULL);
	expect_event(fd, EVENT_PATH);
	expect(fd, QDB_RESP_LIST, "/b", NULL);
	expect_event(fd, EVENT_PATH);
	expect(fd, QDB_RESP_LIST, "", NULL);
	/* A real event is not preceded by an injected one. */
	rsend(fd, QDB_CMD_WATCH, "/a", NULL, 0);
	expect_event(fd, EVENT_PATH);
	expect(fd, QDB_RESP_OK, "/a", NULL);
	rsend(fd, QDB_CMD_WRITE, "/a", "3", 1);
	expect_event(fd, EVENT_PATH);
	expect(fd, QDB_RESP_OK, "/a", NULL);
	expect_event(fd, "/a");
	rsend(fd, QDB_CMD_READ, "/Bad", NULL, 0);
	expect_event(fd, EVENT_PATH);
	expect(fd, QDB_RESP_ERROR, "/Bad", NULL);
	close(fd);
	/* qdb-tool skips them. */
	assert_tool("3\n", 0, "read /a");
	assert_tool("/a=3\n/b=2\n", 0, "multiread /");
	assert_tool("/a\n/b\n", 0, "list /");
	assert_tool("", 2, "read /none 2>/dev/null");
}
END_TEST

START_TEST(test_stall)
{
	int a, b;

	start(ARGS("--stall", "/hang", "--set", "/ok=1"));
	a = rconnect();
	b = rconnect();
	req(a, QDB_CMD_READ, "/ok", NULL, QDB_RESP_READ, "1");
	rsend(a, QDB_CMD_READ, "/hang/x", NULL, 0);
	expect_silence(a, 300);
	/* Nothing after it either. */
	rsend(a, QDB_CMD_READ, "/ok", NULL, 0);
	expect_silence(a, 300);
	/* Another connection is served, until it too asks for /hang. */
	req(b, QDB_CMD_READ, "/ok", NULL, QDB_RESP_READ, "1");
	rsend(b, QDB_CMD_WRITE, "/hang", "v", 1);
	expect_silence(b, 300);
	close(a);
	close(b);
	write_key("/alive", "1");
}
END_TEST

START_TEST(test_oversize)
{
	unsigned char h[HDR];
	char *junk = malloc(4000);
	uint32_t len;
	int fd;

	ck_assert(junk);
	start(ARGS("--oversize", "/big", "--set", "/big=1", "--set", "/ok=2"));
	fd = rconnect();
	rsend(fd, QDB_CMD_READ, "/big", NULL, 0);
	ck_assert(tl_raw_read(fd, h, HDR));
	ck_assert_uint_eq(h[0], QDB_RESP_READ);
	ck_assert_str_eq((char *)h + 1, "/big");
	memcpy(&len, h + 68, 4);
	ck_assert_uint_eq(len, 4000);
	/* ... and as many bytes follow, so a client that reads them on stays
	 * in step, and one that trusts data_len overflows its buffer. */
	ck_assert(tl_raw_read(fd, junk, 4000));
	req(fd, QDB_CMD_READ, "/ok", NULL, QDB_RESP_READ, "2");
	close(fd);
	free(junk);
	assert_tool("", 1, "read /big 2>/dev/null");
	assert_tool("2\n", 0, "read /ok");
}
END_TEST

START_TEST(test_truncate)
{
	unsigned char h[HDR];
	uint32_t len;
	int fd;

	start(ARGS("--truncate", "/cut", "--set", "/cut=hello", "--set", "/ok=2"));
	fd = rconnect();
	req(fd, QDB_CMD_READ, "/ok", NULL, QDB_RESP_READ, "2");
	rsend(fd, QDB_CMD_READ, "/cut", NULL, 0);
	ck_assert(tl_raw_read(fd, h, HDR));
	ck_assert_uint_eq(h[0], QDB_RESP_READ);
	memcpy(&len, h + 68, 4);
	ck_assert_uint_eq(len, 5);
	expect_closed(fd);
	close(fd);
	/* A missing key still gets a header promising a value. */
	fd = rconnect();
	rsend(fd, QDB_CMD_READ, "/cut-missing", NULL, 0);
	ck_assert(tl_raw_read(fd, h, HDR));
	ck_assert_uint_eq(h[0], QDB_RESP_READ);
	memcpy(&len, h + 68, 4);
	ck_assert_uint_eq(len, 1);
	expect_closed(fd);
	close(fd);
	assert_tool("", 1, "read /cut 2>/dev/null");
	/* Only READ: the rest works. */
	assert_tool("", 0, "write /cut/x 1");
	assert_tool("/cut=hello\n/cut/x=1\n", 0, "multiread /cut");
}
END_TEST

/* --- the program */

START_TEST(test_daemon_mode)
{
	const char *prog = tl_prog("TEST_QUBESDB");
	int rc;

	/* --daemon returns once the socket works: a script can go on at once. */
	rc = tl_run(NULL, "'%s' --socket %s --daemon --pid-file %s --set /qubes-ip=10.137.0.5 "
			  "--set '/qubes-primary-dns=10.139.1.1' && '%s' read /qubes-ip",
		    prog, sock, pidfile, qdb_tool());
	ck_assert_int_eq(rc, 0);
	detached_pid = tl_read_pid_file(pidfile);
	ck_assert_int_gt(detached_pid, 0);
	ck_assert_int_eq(kill(detached_pid, 0), 0);
	assert_tool("10.139.1.1\n", 0, "read /qubes-primary-dns");

	/* A second daemon on a live socket refuses to start. */
	ck_assert_int_eq(tl_run(NULL, "'%s' --socket %s 2>/dev/null", prog, sock), 1);
	assert_tool("10.137.0.5\n", 0, "read /qubes-ip");

	ck_assert_int_eq(kill(detached_pid, SIGTERM), 0);
	/* The socket goes last, after the pid file. */
	tl_wait_gone(sock);
	tl_wait_gone(pidfile);
	detached_pid = -1;

	/* Bad command lines. */
	ck_assert_int_eq(tl_run(NULL, "'%s' 2>/dev/null", prog), 2);
	ck_assert_int_eq(tl_run(NULL, "'%s' --socket %s extra 2>/dev/null", prog, sock), 2);
	ck_assert_int_eq(tl_run(NULL, "'%s' --socket %s --split 0 2>/dev/null", prog, sock), 2);
	ck_assert_int_eq(tl_run(NULL, "'%s' --socket %s --split x 2>/dev/null", prog, sock), 2);
	ck_assert_int_eq(tl_run(NULL, "'%s' --socket %s --split -1 2>/dev/null", prog, sock), 2);
	ck_assert_int_eq(tl_run(NULL, "'%s' --socket %s --set /k 2>/dev/null", prog, sock), 2);
	ck_assert_int_eq(tl_run(NULL, "'%s' --socket %s --set rel=1 2>/dev/null", prog, sock), 2);
	ck_assert_int_eq(tl_run(NULL, "'%s' --socket %s --set /K=1 2>/dev/null", prog, sock), 2);
	ck_assert_int_eq(tl_run(NULL, "'%s' --socket %s --set /k/=1 2>/dev/null", prog, sock), 2);
	ck_assert_int_eq(tl_run(NULL, "'%s' --socket %s --set "
				      "/pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp=1 "
				      "2>/dev/null", prog, sock), 2);
	ck_assert_int_eq(tl_run(NULL, "'%s' --help >/dev/null", prog), 0);
	ck_assert_int_eq(access(sock, F_OK), -1);
}
END_TEST

/* Waits for a line from a watching qdb-tool, writing key until one comes:
 * the tool's WATCH may not be registered yet. */
static void wait_watch_line(FILE *w, const char *key, const char *expected)
{
	struct pollfd p = { .fd = fileno(w), .events = POLLIN };
	char line[256];
	int i;

	for (i = 0; i < 200; i++) {
		assert_tool("", 0, key);
		if (poll(&p, 1, 50) == 1)
			break;
	}
	ck_assert_int_lt(i, 200);
	ck_assert(fgets(line, sizeof(line), w));
	ck_assert_str_eq(line, expected);
}

START_TEST(test_qdb_tool)
{
	char cmd[4200], line[256];
	FILE *w;

	start(NULL);
	assert_tool("", 0, "write /qubes-ip 10.137.0.5");
	assert_tool("", 0, "write /qubes-ip6 fd09::5");
	assert_tool("", 0, "write /empty ''");
	assert_tool("", 0, "write /sp 'two words'");
	assert_tool("10.137.0.5\n", 0, "read /qubes-ip");
	assert_tool("\n", 0, "read /empty");
	assert_tool("two words\n", 0, "read /sp");
	assert_tool("", 2, "read /missing 2>/dev/null");
	assert_tool("/qubes-ip=10.137.0.5\n/qubes-ip6=fd09::5\n", 0, "multiread /qubes-ip");
	assert_tool("", 0, "multiread /none");
	assert_tool("/empty\n/qubes-ip\n/qubes-ip6\n/sp\n", 0, "list ''");
	assert_tool("/sp=two words\n/qubes-ip6=fd09::5\n/qubes-ip=10.137.0.5\n/empty=\n", 0,
		    "multiread ''");
	assert_tool("", 0, "rm /sp");
	assert_tool("", 2, "rm /sp 2>/dev/null");
	assert_tool("", 0, "write /t/a 1");
	assert_tool("", 0, "write /t/b 2");
	assert_tool("", 0, "rm /t/");
	assert_tool("", 2, "rm /t/ 2>/dev/null");
	assert_tool("", 0, "rm /qubes-ip");
	assert_tool("", 0, "rm /qubes-ip6");
	assert_tool("/empty\n", 0, "list /");

	/* Errors: exit 1. */
	assert_tool("", 1, "read /Upper 2>/dev/null");
	assert_tool("", 1, "write rel 1 2>/dev/null");
	assert_tool("", 1, "read /pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp "
			   "2>/dev/null");
	assert_tool("", 1, "2>/dev/null");
	assert_tool("", 1, "read 2>/dev/null");
	assert_tool("", 1, "write /k 2>/dev/null");
	assert_tool("", 1, "frobnicate /k 2>/dev/null");
	assert_tool("", 1, "watch /k x 2>/dev/null");
	assert_tool("", 0, "--help >/dev/null");
	ck_assert_int_eq(tl_run(NULL, "QUBESDB_SOCKET=%s/nowhere '%s' read /k 2>/dev/null", dir,
				qdb_tool()), 1);

	/* watch: one event by default, COUNT of them otherwise. */
	snprintf(cmd, sizeof(cmd), "exec '%s' watch /w", qdb_tool());
	w = popen(cmd, "r");
	ck_assert(w);
	wait_watch_line(w, "write /w 1", "/w\n");
	ck_assert_int_eq(pclose(w), 0);

	snprintf(cmd, sizeof(cmd), "exec '%s' watch /dir/ 2", qdb_tool());
	w = popen(cmd, "r");
	ck_assert(w);
	wait_watch_line(w, "write /dir/a 1", "/dir/a\n");
	assert_tool("", 0, "rm /dir/");
	ck_assert(fgets(line, sizeof(line), w));
	/* Another write may have fired before the first line was seen. */
	ck_assert_msg(strcmp(line, "/dir/\n") == 0 || strcmp(line, "/dir/a\n") == 0, "got %s", line);
	ck_assert_int_eq(pclose(w), 0);
}
END_TEST

int main(void)
{
	const struct tl_case cases[] = {
		{ "header_layout", test_header_layout },
		{ "read", test_read },
		{ "value_limits", test_value_limits },
		{ "write_rm", test_write_rm },
		{ "write_bad_key", test_write_bad_key },
		{ "multiread", test_multiread },
		{ "list", test_list },
		{ "watch_exact", test_watch_exact },
		{ "watch_subtree", test_watch_subtree },
		{ "unwatch", test_unwatch },
		{ "event_before_reply", test_event_before_reply },
		{ "bad_paths", test_bad_paths },
		{ "bad_type", test_bad_type },
		{ "payload_drops", test_payload_drops },
		{ "pipelining", test_pipelining },
		{ "split", test_split },
		{ "events", test_events },
		{ "stall", test_stall },
		{ "oversize", test_oversize },
		{ "truncate", test_truncate },
		{ "daemon_mode", test_daemon_mode },
		{ "qdb_tool", test_qdb_tool },
	};

	return tl_main(tl_suite("qubesdb", cases, ELEMENTSOF(cases), setup, teardown), false);
}
