/* The test xenstored, driven by the real libxenstore, raw sockets and
 * Debian's xenstore-* tools. Every test gets a fresh daemon. */
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xen/io/xs_wire.h>
#include <xenstore.h>

#include "testlib.h"

static pid_t xsd_pid = -1;
static pid_t detached_pid = -1; /* a --daemon instance, if a test made one */

static void setup(void)
{
	xsd_pid = tl_xenstored_start();
}

static void teardown(void)
{
	if (detached_pid > 0)
		kill(detached_pid, SIGKILL);
	tl_xenstored_stop(xsd_pid);
}

/* --- libxenstore helpers */

static struct xs_handle *xopen(void)
{
	struct xs_handle *h = xs_open(0);

	ck_assert_msg(h, "xs_open: %m");
	return h;
}

static void xwrite(struct xs_handle *h, xs_transaction_t t, const char *path, const char *value)
{
	ck_assert_msg(xs_write(h, t, path, value, strlen(value)), "xs_write %s: %m", path);
}

static void assert_value(struct xs_handle *h, xs_transaction_t t, const char *path,
			 const char *expected)
{
	unsigned int len;
	char *v = xs_read(h, t, path, &len);

	ck_assert_msg(v, "xs_read %s: %m", path);
	ck_assert_str_eq(v, expected);
	ck_assert_uint_eq(len, strlen(expected));
	free(v);
}

static void assert_absent(struct xs_handle *h, xs_transaction_t t, const char *path)
{
	char *v = xs_read(h, t, path, NULL);

	ck_assert_msg(!v, "%s should be absent, reads \"%s\"", path, v);
	ck_assert_int_eq(errno, ENOENT);
}

/* The children of path, joined with spaces ("" when none). */
static char *dir_list(struct xs_handle *h, xs_transaction_t t, const char *path)
{
	unsigned int num;
	char **d = xs_directory(h, t, path, &num);
	char *out = calloc(1, XENSTORE_PAYLOAD_MAX * 4);

	ck_assert_msg(d, "xs_directory %s: %m", path);
	ck_assert(out);
	for (unsigned int i = 0; i < num; i++) {
		if (i)
			strcat(out, " ");
		ck_assert(strlen(out) + strlen(d[i]) < XENSTORE_PAYLOAD_MAX * 4 - 2);
		strcat(out, d[i]);
	}
	free(d);
	return out;
}

static void assert_dir(struct xs_handle *h, const char *path, const char *expected)
{
	char *got = dir_list(h, XBT_NULL, path);

	ck_assert_str_eq(got, expected);
	free(got);
}

/* The permissions of path as "n0,r3". */
static char *perms_str(struct xs_handle *h, const char *path)
{
	unsigned int num;
	struct xs_permissions *p = xs_get_permissions(h, XBT_NULL, path, &num);
	char *out = calloc(1, 1024), buf[32];

	ck_assert_msg(p, "xs_get_permissions %s: %m", path);
	for (unsigned int i = 0; i < num; i++) {
		static const char letter[] = { [XS_PERM_NONE] = 'n', [XS_PERM_READ] = 'r',
					       [XS_PERM_WRITE] = 'w',
					       [XS_PERM_READ | XS_PERM_WRITE] = 'b' };

		ck_assert_uint_lt(p[i].perms, sizeof(letter));
		snprintf(buf, sizeof(buf), "%c%u", letter[p[i].perms], p[i].id);
		if (i)
			strcat(out, ",");
		strcat(out, buf);
	}
	free(p);
	return out;
}

static void assert_perms(struct xs_handle *h, const char *path, const char *expected)
{
	char *got = perms_str(h, path);

	ck_assert_str_eq(got, expected);
	free(got);
}

/* Asserts that the next watch event on h is path/token. */
static void expect_event(struct xs_handle *h, const char *path, const char *token)
{
	struct pollfd p = { .fd = xs_fileno(h), .events = POLLIN };
	unsigned int num;
	char **vec;

	ck_assert_msg(p.fd >= 0, "xs_fileno: %m");
	ck_assert_msg(poll(&p, 1, 5000) == 1, "no watch event, expected %s %s", path, token);
	vec = xs_read_watch(h, &num);
	ck_assert_msg(vec, "xs_read_watch: %m");
	ck_assert_uint_ge(num, 2);
	ck_assert_msg(strcmp(vec[XS_WATCH_PATH], path) == 0 && strcmp(vec[XS_WATCH_TOKEN], token) == 0,
		      "got event %s %s, expected %s %s", vec[XS_WATCH_PATH], vec[XS_WATCH_TOKEN],
		      path, token);
	free(vec);
}

/* Asserts that no event is pending on h, without sleeping: a new watch's
 * initial event is queued behind every event already due, so it must come
 * next. */
static void expect_no_event(struct xs_handle *h)
{
	ck_assert(xs_watch(h, "/tool", "barrier"));
	expect_event(h, "/tool", "barrier");
	ck_assert(xs_unwatch(h, "/tool", "barrier"));
}

/* --- raw socket helpers */

static int raw_connect(void)
{
	return tl_raw_connect(getenv("XENSTORED_PATH"), 5);
}

static void raw_send(int fd, uint32_t type, uint32_t req_id, uint32_t tx_id, const void *payload,
		     size_t len)
{
	struct xsd_sockmsg hdr = { .type = type, .req_id = req_id, .tx_id = tx_id, .len = len };
	char buf[sizeof(hdr) + 8192];

	ck_assert(len <= 8192);
	memcpy(buf, &hdr, sizeof(hdr));
	memcpy(buf + sizeof(hdr), payload, len);
	tl_raw_write(fd, buf, sizeof(hdr) + len);
}

/* One message; payload gets a terminating NUL. false on EOF. */
static bool raw_recv(int fd, struct xsd_sockmsg *hdr, char payload[XENSTORE_PAYLOAD_MAX + 1])
{
	if (!tl_raw_read(fd, hdr, sizeof(*hdr)))
		return false;
	ck_assert_uint_le(hdr->len, XENSTORE_PAYLOAD_MAX);
	if (!tl_raw_read(fd, payload, hdr->len))
		return false;
	payload[hdr->len] = '\0';
	return true;
}

/* A string literal and its size, final NUL included. */
#define S(lit) lit, sizeof(lit)

/* Sends a request and checks the reply's type, ids and payload. */
static void raw_expect(int fd, uint32_t type, uint32_t tx_id, const void *req, size_t req_len,
		       uint32_t reply_type, const void *reply, size_t reply_len)
{
	static uint32_t req_id = 100;
	char payload[XENSTORE_PAYLOAD_MAX + 1];
	struct xsd_sockmsg hdr;

	raw_send(fd, type, ++req_id, tx_id, req, req_len);
	ck_assert_msg(raw_recv(fd, &hdr, payload), "connection closed");
	ck_assert_uint_eq(hdr.type, reply_type);
	ck_assert_uint_eq(hdr.req_id, req_id);
	ck_assert_uint_eq(hdr.tx_id, tx_id);
	ck_assert_uint_eq(hdr.len, reply_len);
	ck_assert_msg(memcmp(payload, reply, reply_len) == 0, "reply \"%s\"", payload);
}

/* Request (a string, NUL included) that must fail with err. */
static void raw_expect_error(int fd, uint32_t type, const char *req, const char *err)
{
	raw_expect(fd, type, 0, req, strlen(req) + 1, XS_ERROR, err, strlen(err) + 1);
}

static bool raw_closed(int fd)
{
	char ch;
	ssize_t n = recv(fd, &ch, 1, 0);

	return n == 0 || (n < 0 && errno == ECONNRESET);
}

/* The daemon is alive and serving a fresh client. */
static void assert_serving(void)
{
	struct xs_handle *h = xopen();

	xwrite(h, XBT_NULL, "/alive", "yes");
	assert_value(h, XBT_NULL, "/alive", "yes");
	xs_close(h);
}

/* --- store */

START_TEST(test_initial_tree)
{
	struct xs_handle *h = xopen();

	assert_dir(h, "/", "local tool");
	assert_dir(h, "/local", "domain");
	assert_dir(h, "/local/domain", "0");
	assert_dir(h, "/local/domain/0", "");
	assert_value(h, XBT_NULL, "/", "");
	assert_value(h, XBT_NULL, "/local/domain/0", "");
	assert_perms(h, "/", "n0");
	assert_perms(h, "/local/domain/0", "n0");
	xs_close(h);
}
END_TEST

START_TEST(test_read_write)
{
	struct xs_handle *h = xopen();
	unsigned int len;
	char *v;

	xwrite(h, XBT_NULL, "/a", "1");
	assert_value(h, XBT_NULL, "/a", "1");
	xwrite(h, XBT_NULL, "/a", "second");
	assert_value(h, XBT_NULL, "/a", "second");
	xwrite(h, XBT_NULL, "/a", "");
	assert_value(h, XBT_NULL, "/a", "");

	/* Values are binary. */
	ck_assert(xs_write(h, XBT_NULL, "/bin", "x\0y", 3));
	v = xs_read(h, XBT_NULL, "/bin", &len);
	ck_assert_uint_eq(len, 3);
	ck_assert(memcmp(v, "x\0y", 3) == 0);
	free(v);

	/* WRITE creates missing parents with empty values. */
	xwrite(h, XBT_NULL, "/p/q/r", "deep");
	assert_value(h, XBT_NULL, "/p", "");
	assert_value(h, XBT_NULL, "/p/q", "");
	assert_value(h, XBT_NULL, "/p/q/r", "deep");
	assert_dir(h, "/", "local tool a bin p");
	xs_close(h);
}
END_TEST

START_TEST(test_relative_paths)
{
	struct xs_handle *h = xopen();
	char *p;

	xwrite(h, XBT_NULL, "rel/key", "r");
	assert_value(h, XBT_NULL, "/local/domain/0/rel/key", "r");
	assert_value(h, XBT_NULL, "rel/key", "r");
	xwrite(h, XBT_NULL, "/local/domain/0/abs", "a");
	assert_value(h, XBT_NULL, "abs", "a");
	assert_dir(h, "/local/domain/0", "rel abs");
	ck_assert(xs_rm(h, XBT_NULL, "rel"));
	assert_absent(h, XBT_NULL, "/local/domain/0/rel/key");

	p = xs_get_domain_path(h, 0);
	ck_assert_str_eq(p, "/local/domain/0");
	free(p);
	p = xs_get_domain_path(h, 42);
	ck_assert_str_eq(p, "/local/domain/42");
	free(p);
	xs_close(h);
}
END_TEST

START_TEST(test_enoent)
{
	struct xs_handle *h = xopen();
	struct xs_permissions perm = { .id = 0, .perms = XS_PERM_READ };
	unsigned int num;

	assert_absent(h, XBT_NULL, "/missing");
	assert_absent(h, XBT_NULL, "/missing/deeper");
	assert_absent(h, XBT_NULL, "missing");
	ck_assert(!xs_directory(h, XBT_NULL, "/missing", &num));
	ck_assert_int_eq(errno, ENOENT);
	ck_assert(!xs_get_permissions(h, XBT_NULL, "/missing", &num));
	ck_assert_int_eq(errno, ENOENT);
	ck_assert(!xs_set_permissions(h, XBT_NULL, "/missing", &perm, 1));
	ck_assert_int_eq(errno, ENOENT);
	xs_close(h);
}
END_TEST

START_TEST(test_invalid_paths)
{
	static const char *const bad[] = { "", "//a", "/a//b", "/a/", "/a b", "/a*", "/ä", "@x" };
	struct xs_handle *h = xopen();
	char *longp = malloc(4000);

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		ck_assert_msg(!xs_write(h, XBT_NULL, bad[i], "v", 1), "wrote \"%s\"", bad[i]);
		ck_assert_int_eq(errno, EINVAL);
		ck_assert(!xs_read(h, XBT_NULL, bad[i], NULL));
		ck_assert_int_eq(errno, EINVAL);
	}
	/* 2048 bytes are allowed, not counting a /local/domain/N/ prefix. */
	memset(longp, 'x', 4000);
	longp[0] = '/';
	longp[2048] = '\0';
	xwrite(h, XBT_NULL, longp, "ok");
	longp[2048] = 'x';
	longp[2049] = '\0';
	ck_assert(!xs_write(h, XBT_NULL, longp, "v", 1));
	ck_assert_int_eq(errno, EINVAL);
	/* longp + 1: 2048 bytes, relative, so under the prefix. */
	xwrite(h, XBT_NULL, longp + 1, "ok");
	assert_value(h, XBT_NULL, longp + 1, "ok");
	longp[2049] = 'x';
	longp[2050] = '\0';
	ck_assert(!xs_write(h, XBT_NULL, longp + 1, "v", 1));
	ck_assert_int_eq(errno, EINVAL);
	free(longp);
	xs_close(h);
}
END_TEST

START_TEST(test_mkdir)
{
	struct xs_handle *h = xopen();

	ck_assert(xs_mkdir(h, XBT_NULL, "/m/n"));
	assert_value(h, XBT_NULL, "/m", "");
	assert_value(h, XBT_NULL, "/m/n", "");
	xwrite(h, XBT_NULL, "/m/n", "kept");
	ck_assert(xs_mkdir(h, XBT_NULL, "/m/n"));
	assert_value(h, XBT_NULL, "/m/n", "kept");
	ck_assert(xs_mkdir(h, XBT_NULL, "reldir"));
	assert_value(h, XBT_NULL, "/local/domain/0/reldir", "");
	xs_close(h);
}
END_TEST

START_TEST(test_directory)
{
	struct xs_handle *h = xopen();

	xwrite(h, XBT_NULL, "/d/zeta", "");
	xwrite(h, XBT_NULL, "/d/alpha", "");
	xwrite(h, XBT_NULL, "/d/mid/sub", "");
	/* Creation order, not sorted, and only direct children. */
	assert_dir(h, "/d", "zeta alpha mid");
	ck_assert(xs_rm(h, XBT_NULL, "/d/alpha"));
	assert_dir(h, "/d", "zeta mid");
	assert_dir(h, "/d/zeta", "");
	xs_close(h);
}
END_TEST

/* More children than one reply holds: DIRECTORY says E2BIG and libxenstore
 * switches to DIRECTORY_PART. */
START_TEST(test_directory_part)
{
	struct xs_handle *h = xopen();
	char path[64], *got, *expected = calloc(1, 16384);
	int fd;

	for (int i = 0; i < 400; i++) {
		snprintf(path, sizeof(path), "/big/child-with-a-long-name-%03d", i);
		xwrite(h, XBT_NULL, path, "");
		if (i)
			strcat(expected, " ");
		strcat(expected, path + strlen("/big/"));
	}
	got = dir_list(h, XBT_NULL, "/big");
	ck_assert_str_eq(got, expected);
	free(got);

	fd = raw_connect();
	raw_expect_error(fd, XS_DIRECTORY, "/big", "E2BIG");
	/* An offset past the end: just the generation and an empty name. */
	{
		static const char req[] = "/big\0" "99999";
		char payload[XENSTORE_PAYLOAD_MAX + 1];
		struct xsd_sockmsg hdr;

		raw_send(fd, XS_DIRECTORY_PART, 7, 0, req, sizeof(req));
		ck_assert(raw_recv(fd, &hdr, payload));
		ck_assert_uint_eq(hdr.type, XS_DIRECTORY_PART);
		ck_assert_uint_eq(hdr.len, strlen(payload) + 2);
		ck_assert_uint_gt(strlen(payload), 0);
		ck_assert_int_eq(payload[hdr.len - 1], 0);
	}
	close(fd);
	free(expected);
	xs_close(h);
}
END_TEST

START_TEST(test_rm)
{
	struct xs_handle *h = xopen();
	int fd;

	xwrite(h, XBT_NULL, "/r/a/b/c", "1");
	xwrite(h, XBT_NULL, "/r/a/d", "2");
	xwrite(h, XBT_NULL, "/r/keep", "3");
	ck_assert(xs_rm(h, XBT_NULL, "/r/a"));
	assert_absent(h, XBT_NULL, "/r/a");
	assert_absent(h, XBT_NULL, "/r/a/b/c");
	assert_absent(h, XBT_NULL, "/r/a/d");
	assert_value(h, XBT_NULL, "/r/keep", "3");
	assert_dir(h, "/r", "keep");

	/* Missing node, existing parent: fine. Missing parent too: ENOENT. */
	ck_assert(xs_rm(h, XBT_NULL, "/r/a"));
	ck_assert(!xs_rm(h, XBT_NULL, "/r/a/b"));
	ck_assert_int_eq(errno, ENOENT);
	xs_close(h);

	fd = raw_connect();
	raw_expect_error(fd, XS_RM, "/", "EINVAL");
	raw_expect_error(fd, XS_RM, "/r/", "EINVAL");
	close(fd);
}
END_TEST

START_TEST(test_perms)
{
	struct xs_handle *h = xopen();
	struct xs_permissions perms[] = {
		{ .id = 3, .perms = XS_PERM_NONE },
		{ .id = 5, .perms = XS_PERM_READ },
		{ .id = 7, .perms = XS_PERM_READ | XS_PERM_WRITE },
		{ .id = 9, .perms = XS_PERM_WRITE },
	};
	int fd;

	xwrite(h, XBT_NULL, "/perm", "");
	assert_perms(h, "/perm", "n0");
	ck_assert(xs_set_permissions(h, XBT_NULL, "/perm", perms, ELEMENTSOF(perms)));
	assert_perms(h, "/perm", "n3,r5,b7,w9");
	/* New nodes inherit their parent's permissions. */
	xwrite(h, XBT_NULL, "/perm/child/grandchild", "");
	assert_perms(h, "/perm/child", "n3,r5,b7,w9");
	assert_perms(h, "/perm/child/grandchild", "n3,r5,b7,w9");
	/* Special watch paths carry permissions too. */
	assert_perms(h, "@releaseDomain", "n0");
	ck_assert(xs_set_permissions(h, XBT_NULL, "@releaseDomain", perms, 2));
	assert_perms(h, "@releaseDomain", "n3,r5");
	xs_close(h);

	fd = raw_connect();
	raw_expect(fd, XS_SET_PERMS, 0, S("/perm\0b0x10"), XS_SET_PERMS, S("OK"));
	raw_expect(fd, XS_GET_PERMS, 0, S("/perm"), XS_GET_PERMS, S("b16"));
	raw_expect(fd, XS_SET_PERMS, 0, S("/perm\0x5"), XS_ERROR, S("EINVAL"));
	raw_expect(fd, XS_SET_PERMS, 0, S("/perm\0r"), XS_ERROR, S("EINVAL"));
	raw_expect(fd, XS_SET_PERMS, 0, S("/perm\0r5z"), XS_ERROR, S("EINVAL"));
	raw_expect_error(fd, XS_SET_PERMS, "/perm", "EINVAL");
	close(fd);
}
END_TEST

/* --- transactions */

START_TEST(test_txn_commit)
{
	struct xs_handle *h = xopen(), *other = xopen();
	xs_transaction_t t = xs_transaction_start(h);

	ck_assert_uint_ne(t, XBT_NULL);
	xwrite(h, t, "/t/one", "1");
	xwrite(h, t, "/t/two", "2");
	assert_value(h, t, "/t/one", "1");
	assert_dir(h, "/", "local tool");
	assert_absent(other, XBT_NULL, "/t/one");
	ck_assert_msg(xs_transaction_end(h, t, false), "commit: %m");
	assert_value(other, XBT_NULL, "/t/one", "1");
	assert_value(other, XBT_NULL, "/t/two", "2");
	xs_close(other);
	xs_close(h);
}
END_TEST

START_TEST(test_txn_abort)
{
	struct xs_handle *h = xopen();
	xs_transaction_t t;

	xwrite(h, XBT_NULL, "/keep", "old");
	t = xs_transaction_start(h);
	xwrite(h, t, "/keep", "new");
	xwrite(h, t, "/gone", "x");
	ck_assert(xs_rm(h, t, "/keep"));
	assert_absent(h, t, "/keep");
	ck_assert(xs_transaction_end(h, t, true));
	assert_value(h, XBT_NULL, "/keep", "old");
	assert_absent(h, XBT_NULL, "/gone");
	xs_close(h);
}
END_TEST

START_TEST(test_txn_conflict)
{
	struct xs_handle *h = xopen(), *other = xopen();
	xs_transaction_t t;
	int tries = 0;
	char *v;

	xwrite(h, XBT_NULL, "/counter", "0");
	t = xs_transaction_start(h);
	v = xs_read(h, t, "/counter", NULL);
	ck_assert_str_eq(v, "0");
	free(v);
	xwrite(other, XBT_NULL, "/counter", "5");
	xwrite(h, t, "/counter", "1");
	ck_assert(!xs_transaction_end(h, t, false));
	ck_assert_int_eq(errno, EAGAIN);
	assert_value(h, XBT_NULL, "/counter", "5");

	/* The usual retry loop then gets through. */
	for (;;) {
		char buf[16];

		ck_assert_int_lt(++tries, 5);
		t = xs_transaction_start(h);
		v = xs_read(h, t, "/counter", NULL);
		snprintf(buf, sizeof(buf), "%d", atoi(v) + 1);
		free(v);
		xwrite(h, t, "/counter", buf);
		if (xs_transaction_end(h, t, false))
			break;
		ck_assert_int_eq(errno, EAGAIN);
	}
	ck_assert_int_eq(tries, 1);
	assert_value(other, XBT_NULL, "/counter", "6");

	/* A change to a node the transaction never looked at is no conflict.
	 * (Creating siblings would be: both change the parent's child list.) */
	xwrite(h, XBT_NULL, "/m/mine", "0");
	xwrite(h, XBT_NULL, "/o/theirs", "0");
	t = xs_transaction_start(h);
	xwrite(h, t, "/m/mine", "m");
	xwrite(other, XBT_NULL, "/o/theirs", "t");
	ck_assert_msg(xs_transaction_end(h, t, false), "commit: %m");
	assert_value(other, XBT_NULL, "/m/mine", "m");

	t = xs_transaction_start(h);
	xwrite(h, t, "/m/new", "m");
	xwrite(other, XBT_NULL, "/m/sibling", "t");
	ck_assert(!xs_transaction_end(h, t, false));
	ck_assert_int_eq(errno, EAGAIN);
	xs_close(other);
	xs_close(h);
}
END_TEST

/* A transaction reads the store as it was when it started. */
START_TEST(test_txn_snapshot)
{
	struct xs_handle *h = xopen(), *other = xopen();
	xs_transaction_t t;

	xwrite(h, XBT_NULL, "/snap/k", "before");
	t = xs_transaction_start(h);
	xwrite(other, XBT_NULL, "/snap/k", "after");
	xwrite(other, XBT_NULL, "/snap/new", "n");
	ck_assert(xs_rm(other, XBT_NULL, "/local"));
	assert_value(h, t, "/snap/k", "before");
	assert_absent(h, t, "/snap/new");
	assert_value(h, t, "/local/domain/0", "");
	assert_dir(h, "/snap", "k new");
	{
		char *got = dir_list(h, t, "/snap");

		ck_assert_str_eq(got, "k");
		free(got);
	}
	/* It saw stale data, so it must not commit. */
	ck_assert(!xs_transaction_end(h, t, false));
	ck_assert_int_eq(errno, EAGAIN);
	xs_close(other);
	xs_close(h);
}
END_TEST

START_TEST(test_txn_errors)
{
	int fd = raw_connect();

	/* Unknown transaction ids. */
	raw_expect(fd, XS_READ, 77, S("/"), XS_ERROR, S("ENOENT"));
	raw_expect(fd, XS_TRANSACTION_END, 77, S("T"), XS_ERROR, S("ENOENT"));
	raw_expect_error(fd, XS_TRANSACTION_END, "T", "ENOENT");
	/* Transaction ids are allocated from 1 per connection. */
	raw_expect(fd, XS_TRANSACTION_START, 0, S(""), XS_TRANSACTION_START, S("1"));
	raw_expect(fd, XS_TRANSACTION_START, 1, S(""), XS_ERROR, S("EBUSY"));
	raw_expect(fd, XS_TRANSACTION_END, 1, S("X"), XS_ERROR, S("EINVAL"));
	raw_expect(fd, XS_WRITE, 1, "/tx\0v", 5, XS_WRITE, S("OK"));
	raw_expect(fd, XS_TRANSACTION_END, 1, S("T"), XS_TRANSACTION_END, S("OK"));
	/* READ replies carry the bare value, no NUL. */
	raw_expect(fd, XS_READ, 0, S("/tx"), XS_READ, "v", 1);
	/* Ended: the id is gone. */
	raw_expect(fd, XS_READ, 1, S("/tx"), XS_ERROR, S("ENOENT"));
	raw_expect(fd, XS_TRANSACTION_START, 0, S(""), XS_TRANSACTION_START, S("2"));
	close(fd);
	/* Closing the connection drops its transaction. */
	assert_serving();
}
END_TEST

/* --- watches */

START_TEST(test_watch_initial_and_write)
{
	struct xs_handle *h = xopen(), *other = xopen();

	ck_assert(xs_watch(h, "/w", "tok"));
	expect_event(h, "/w", "tok");
	xwrite(other, XBT_NULL, "/w/x/y", "1");
	expect_event(h, "/w/x/y", "tok");
	xwrite(other, XBT_NULL, "/w", "self");
	expect_event(h, "/w", "tok");
	/* Siblings with a common prefix and the parent do not match. */
	xwrite(other, XBT_NULL, "/wx", "1");
	xwrite(other, XBT_NULL, "/", "root");
	expect_no_event(h);
	/* Permission changes and mkdir are changes too. */
	ck_assert(xs_mkdir(other, XBT_NULL, "/w/dir"));
	expect_event(h, "/w/dir", "tok");
	ck_assert(xs_mkdir(other, XBT_NULL, "/w/dir"));
	expect_no_event(h);
	{
		struct xs_permissions p = { .id = 0, .perms = XS_PERM_READ };

		ck_assert(xs_set_permissions(other, XBT_NULL, "/w/dir", &p, 1));
	}
	expect_event(h, "/w/dir", "tok");
	xs_close(other);
	xs_close(h);
}
END_TEST

START_TEST(test_watch_rm)
{
	struct xs_handle *h = xopen(), *other = xopen();

	xwrite(h, XBT_NULL, "/a/b/c", "1");
	ck_assert(xs_watch(h, "/a/b/c", "deep"));
	expect_event(h, "/a/b/c", "deep");
	ck_assert(xs_watch(h, "/", "root"));
	expect_event(h, "/", "root");
	/* Removing an ancestor fires the watches on the removed nodes, and
	 * the removed top node fires for watches on it and above. */
	ck_assert(xs_rm(other, XBT_NULL, "/a"));
	expect_event(h, "/a/b/c", "deep");
	expect_event(h, "/a", "root");
	expect_no_event(h);
	xs_close(other);
	xs_close(h);
}
END_TEST

START_TEST(test_watch_relative)
{
	struct xs_handle *h = xopen();

	ck_assert(xs_watch(h, "dev", "rel"));
	expect_event(h, "dev", "rel");
	ck_assert(xs_watch(h, "/local/domain/0/dev", "abs"));
	expect_event(h, "/local/domain/0/dev", "abs");
	xwrite(h, XBT_NULL, "/local/domain/0/dev/vif", "1");
	expect_event(h, "dev/vif", "rel");
	expect_event(h, "/local/domain/0/dev/vif", "abs");
	ck_assert(xs_unwatch(h, "dev", "rel"));
	xwrite(h, XBT_NULL, "dev/vif", "2");
	expect_event(h, "/local/domain/0/dev/vif", "abs");
	expect_no_event(h);
	xs_close(h);
}
END_TEST

START_TEST(test_watch_unwatch)
{
	struct xs_handle *h = xopen();
	int fd;

	ck_assert(xs_watch(h, "/u", "one"));
	expect_event(h, "/u", "one");
	ck_assert(xs_watch(h, "/u", "two"));
	expect_event(h, "/u", "two");
	ck_assert(!xs_watch(h, "/u", "two"));
	ck_assert_int_eq(errno, EEXIST);
	ck_assert(xs_unwatch(h, "/u", "one"));
	xwrite(h, XBT_NULL, "/u", "x");
	expect_event(h, "/u", "two");
	expect_no_event(h);
	ck_assert(!xs_unwatch(h, "/u", "one"));
	ck_assert_int_eq(errno, ENOENT);
	xs_close(h);

	fd = raw_connect();
	raw_expect_error(fd, XS_WATCH, "/u", "EINVAL"); /* no token */
	raw_expect(fd, XS_WATCH, 0, S("/u/\0t"), XS_ERROR, S("EINVAL"));
	close(fd);
}
END_TEST

START_TEST(test_watch_special)
{
	struct xs_handle *h = xopen(), *other = xopen();

	ck_assert(xs_watch(h, "@introduceDomain", "intro"));
	expect_event(h, "@introduceDomain", "intro");
	ck_assert(xs_watch(h, "@releaseDomain", "release"));
	expect_event(h, "@releaseDomain", "release");
	ck_assert(xs_watch(h, "/", "root"));
	expect_event(h, "/", "root");

	ck_assert(xs_introduce_domain(other, 5, 0, 0));
	expect_event(h, "@introduceDomain", "intro");
	ck_assert(xs_is_domain_introduced(other, 5));
	ck_assert(!xs_is_domain_introduced(other, 6));
	ck_assert(xs_release_domain(other, 5));
	expect_event(h, "@releaseDomain", "release");
	ck_assert(!xs_release_domain(other, 5));
	ck_assert_int_eq(errno, ENOENT);
	expect_no_event(h);
	ck_assert(xs_unwatch(h, "@introduceDomain", "intro"));
	xs_close(other);
	xs_close(h);
}
END_TEST

/* Watches see transactional changes once, at commit, and never for an
 * abandoned transaction. */
START_TEST(test_watch_transaction)
{
	struct xs_handle *h = xopen(), *other = xopen();
	xs_transaction_t t;

	xwrite(h, XBT_NULL, "/wt/old", "1");
	ck_assert(xs_watch(h, "/wt", "t"));
	expect_event(h, "/wt", "t");

	t = xs_transaction_start(other);
	xwrite(other, t, "/wt/a", "1");
	ck_assert(xs_rm(other, t, "/wt/old"));
	expect_no_event(h);
	ck_assert(xs_transaction_end(other, t, false));
	expect_event(h, "/wt/a", "t");
	expect_event(h, "/wt/old", "t");

	t = xs_transaction_start(other);
	xwrite(other, t, "/wt/b", "1");
	ck_assert(xs_transaction_end(other, t, true));
	expect_no_event(h);
	xs_close(other);
	xs_close(h);
}
END_TEST

START_TEST(test_reset_watches)
{
	int fd = raw_connect();
	char payload[XENSTORE_PAYLOAD_MAX + 1];
	struct xsd_sockmsg hdr;

	raw_expect(fd, XS_WATCH, 0, S("/rw\0tok"), XS_WATCH, S("OK"));
	ck_assert(raw_recv(fd, &hdr, payload));
	ck_assert_uint_eq(hdr.type, XS_WATCH_EVENT);
	ck_assert_uint_eq(hdr.req_id, 0);
	ck_assert(memcmp(payload, "/rw\0tok", 8) == 0);

	raw_expect(fd, XS_TRANSACTION_START, 0, S(""), XS_TRANSACTION_START, S("1"));
	raw_expect(fd, XS_RESET_WATCHES, 0, S(""), XS_RESET_WATCHES, S("OK"));
	/* Both the watch and the transaction are gone: no event comes before
	 * the next reply. */
	raw_expect(fd, XS_WRITE, 0, "/rw\0x", 5, XS_WRITE, S("OK"));
	raw_expect(fd, XS_READ, 1, S("/rw"), XS_ERROR, S("ENOENT"));
	raw_expect(fd, XS_UNWATCH, 0, S("/rw\0tok"), XS_ERROR, S("ENOENT"));
	close(fd);
}
END_TEST

/* The optional third WATCH argument limits how deep below the path
 * changes are reported. */
START_TEST(test_watch_depth)
{
	int fd = raw_connect();
	char payload[XENSTORE_PAYLOAD_MAX + 1];
	struct xsd_sockmsg hdr;

	raw_expect(fd, XS_WATCH, 0, S("/dp\0t\0" "1"), XS_WATCH, S("OK"));
	ck_assert(raw_recv(fd, &hdr, payload));
	ck_assert_uint_eq(hdr.type, XS_WATCH_EVENT);
	/* Two levels down: no event comes before the reply. */
	raw_expect(fd, XS_WRITE, 0, "/dp/a/b\0x", 9, XS_WRITE, S("OK"));
	/* One level: the event is queued before the writer's reply, as
	 * xenstored does. */
	raw_send(fd, XS_WRITE, 1, 0, "/dp/a\0x", 7);
	ck_assert(raw_recv(fd, &hdr, payload));
	ck_assert_uint_eq(hdr.type, XS_WATCH_EVENT);
	ck_assert(memcmp(payload, S("/dp/a\0t")) == 0);
	ck_assert(raw_recv(fd, &hdr, payload));
	ck_assert_uint_eq(hdr.type, XS_WRITE);
	raw_expect(fd, XS_WATCH, 0, S("/dq\0t\0" "-1"), XS_ERROR, S("EINVAL"));
	close(fd);
}
END_TEST

/* --- robustness */

START_TEST(test_payload_too_big)
{
	struct xs_handle *h = xopen();
	char *big = malloc(5000);
	int fd, bystander;

	memset(big, 'x', 5000);
	/* libxenstore refuses before sending; the handle stays usable. */
	ck_assert(!xs_write(h, XBT_NULL, "/big", big, 5000));
	ck_assert_int_eq(errno, E2BIG);
	xwrite(h, XBT_NULL, "/small", "ok");

	/* The daemon closes a connection announcing more than 4096 bytes,
	 * and only that one. */
	bystander = raw_connect();
	fd = raw_connect();
	{
		struct xsd_sockmsg hdr = { .type = XS_WRITE, .req_id = 1, .len = 5000 };

		tl_raw_write(fd, &hdr, sizeof(hdr));
		/* The daemon may hang up before the body arrives. */
		(void)send(fd, big, 5000, MSG_NOSIGNAL);
	}
	ck_assert(raw_closed(fd));
	close(fd);
	raw_expect(bystander, XS_READ, 0, S("/small"), XS_READ, "ok", 2);
	close(bystander);
	assert_value(h, XBT_NULL, "/small", "ok");
	free(big);
	xs_close(h);
	assert_serving();
}
END_TEST

START_TEST(test_garbage)
{
	int bystander = raw_connect(), fd;
	char junk[1000];

	/* Unknown and reply-only types, missing or extra NULs. */
	fd = raw_connect();
	raw_expect(fd, 9999, 0, S("x"), XS_ERROR, S("ENOSYS"));
	raw_expect(fd, XS_WATCH_EVENT, 0, S("x"), XS_ERROR, S("ENOSYS"));
	raw_expect(fd, XS_ERROR, 0, S("x"), XS_ERROR, S("ENOSYS"));
	raw_expect(fd, XS_CONTROL, 0, S("check"), XS_ERROR, S("ENOSYS"));
	raw_expect(fd, XS_READ, 0, "/local", 6, XS_ERROR, S("EINVAL")); /* no NUL */
	raw_expect(fd, XS_READ, 0, S("/local\0/tool"), XS_ERROR, S("EINVAL"));
	raw_expect(fd, XS_READ, 0, "", 0, XS_ERROR, S("EINVAL"));
	raw_expect(fd, XS_WRITE, 0, "/nonul", 6, XS_ERROR, S("EINVAL"));
	raw_expect(fd, XS_GET_DOMAIN_PATH, 0, S("abc"), XS_ERROR, S("EINVAL"));
	raw_expect(fd, XS_GET_DOMAIN_PATH, 0, S("70000"), XS_ERROR, S("EINVAL"));
	raw_expect(fd, XS_DIRECTORY_PART, 0, S("/"), XS_ERROR, S("EINVAL"));
	close(fd);

	/* A truncated header, then hang up. */
	fd = raw_connect();
	tl_raw_write(fd, "\x02\0\0\0\x01", 5);
	close(fd);

	/* Random bytes: whatever they decode to, only this client suffers. */
	srand(42);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)rand();
	fd = raw_connect();
	tl_raw_write(fd, junk, sizeof(junk));
	close(fd);

	/* A message cut in the middle of its payload. */
	fd = raw_connect();
	{
		struct xsd_sockmsg hdr = { .type = XS_WRITE, .req_id = 1, .len = 100 };

		tl_raw_write(fd, &hdr, sizeof(hdr));
		tl_raw_write(fd, "/half", 5);
	}
	close(fd);

	raw_expect(bystander, XS_WRITE, 0, "/by\0stander", 11, XS_WRITE, S("OK"));
	raw_expect(bystander, XS_READ, 0, S("/by"), XS_READ, "stander", 7);
	close(bystander);
	assert_serving();
}
END_TEST

/* Messages in pieces, and several in one write, come back in order. */
START_TEST(test_framing)
{
	int fd = raw_connect();
	char buf[256], payload[XENSTORE_PAYLOAD_MAX + 1];
	struct xsd_sockmsg hdr = { .type = XS_WRITE, .req_id = 1, .len = 8 };
	size_t len = 0;

	memcpy(buf, &hdr, sizeof(hdr));
	memcpy(buf + sizeof(hdr), "/f\0value", 8);
	for (size_t i = 0; i < sizeof(hdr) + 8; i++) {
		tl_raw_write(fd, buf + i, 1);
		usleep(1000);
	}
	ck_assert(raw_recv(fd, &hdr, payload));
	ck_assert_uint_eq(hdr.type, XS_WRITE);
	ck_assert_uint_eq(hdr.req_id, 1);

	for (uint32_t id = 10; id < 13; id++) {
		struct xsd_sockmsg r = { .type = XS_READ, .req_id = id, .len = 3 };

		memcpy(buf + len, &r, sizeof(r));
		memcpy(buf + len + sizeof(r), "/f", 3);
		len += sizeof(r) + 3;
	}
	tl_raw_write(fd, buf, len);
	for (uint32_t id = 10; id < 13; id++) {
		ck_assert(raw_recv(fd, &hdr, payload));
		ck_assert_uint_eq(hdr.type, XS_READ);
		ck_assert_uint_eq(hdr.req_id, id);
		ck_assert_str_eq(payload, "value");
	}

	/* Requests sent just before hanging up still take effect. */
	{
		struct xsd_sockmsg w = { .type = XS_WRITE, .req_id = 20, .len = 11 };

		memcpy(buf, &w, sizeof(w));
		memcpy(buf + sizeof(w), "/late\0value", 11);
		tl_raw_write(fd, buf, sizeof(w) + 11);
	}
	close(fd);
	{
		struct xs_handle *h = xopen();

		assert_value(h, XBT_NULL, "/late", "value");
		xs_close(h);
	}
}
END_TEST

#define N_CLIENTS 50

static int client(int i)
{
	struct xs_handle *h = xs_open(0);
	char path[64], value[32];
	int rc = 1;

	if (!h)
		return 2;
	snprintf(path, sizeof(path), "/conc/plain-%d", i);
	snprintf(value, sizeof(value), "v%d", i);
	if (!xs_write(h, XBT_NULL, path, value, strlen(value)))
		goto out;
	/* Transactions creating siblings conflict with each other: retry. */
	for (int tries = 0; tries < 1000; tries++) {
		xs_transaction_t t = xs_transaction_start(h);

		if (t == XBT_NULL)
			goto out;
		snprintf(path, sizeof(path), "/conc/tx-%d", i);
		if (!xs_write(h, t, path, value, strlen(value))) {
			xs_transaction_end(h, t, true);
			goto out;
		}
		if (xs_transaction_end(h, t, false)) {
			rc = 0;
			goto out;
		}
		if (errno != EAGAIN)
			goto out;
	}
out:
	xs_close(h);
	return rc;
}

START_TEST(test_concurrent_clients)
{
	pid_t pids[N_CLIENTS];
	struct xs_handle *h;
	unsigned int num;
	char **d;

	fflush(NULL);
	for (int i = 0; i < N_CLIENTS; i++) {
		pids[i] = fork();
		ck_assert_int_ge(pids[i], 0);
		if (pids[i] == 0)
			_exit(client(i));
	}
	for (int i = 0; i < N_CLIENTS; i++) {
		int status;

		ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			      "client %d: status %#x", i, status);
	}

	h = xopen();
	d = xs_directory(h, XBT_NULL, "/conc", &num);
	ck_assert(d);
	ck_assert_uint_eq(num, 2 * N_CLIENTS);
	free(d);
	for (int i = 0; i < N_CLIENTS; i++) {
		char path[64], value[32];

		snprintf(value, sizeof(value), "v%d", i);
		snprintf(path, sizeof(path), "/conc/plain-%d", i);
		assert_value(h, XBT_NULL, path, value);
		snprintf(path, sizeof(path), "/conc/tx-%d", i);
		assert_value(h, XBT_NULL, path, value);
	}
	xs_close(h);
}
END_TEST

/* --- process */

START_TEST(test_sigterm)
{
	const char *sock = getenv("XENSTORED_PATH");
	int status;

	ck_assert_int_eq(access(sock, F_OK), 0);
	ck_assert_int_eq(kill(xsd_pid, SIGTERM), 0);
	ck_assert_int_eq(waitpid(xsd_pid, &status, 0), xsd_pid);
	xsd_pid = -1;
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
	ck_assert_int_eq(access(sock, F_OK), -1);
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

/* --daemon returns once the socket works; --domid moves the home. */
START_TEST(test_daemon_mode)
{
	const char *prog = tl_prog("TEST_XENSTORED");
	char dir[] = "/tmp/qvt-xsd.XXXXXX", sock[64], pidf[64];
	struct xs_handle *h;
	char *p;
	int rc;

	ck_assert(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/sock", dir);
	snprintf(pidf, sizeof(pidf), "%s/pid", dir);
	rc = tl_run(NULL, "'%s' --socket %s --daemon --pid-file %s --domid 5", prog, sock, pidf);
	ck_assert_int_eq(rc, 0);
	detached_pid = tl_read_pid_file(pidf);
	ck_assert_int_gt(detached_pid, 0);
	ck_assert_int_eq(kill(detached_pid, 0), 0);

	setenv("XENSTORED_PATH", sock, 1);
	h = xopen();
	assert_dir(h, "/local/domain", "5");
	xwrite(h, XBT_NULL, "rel", "five");
	assert_value(h, XBT_NULL, "/local/domain/5/rel", "five");
	p = xs_get_domain_path(h, 5);
	ck_assert_str_eq(p, "/local/domain/5");
	free(p);
	xs_close(h);

	/* A shell script can do the same right after starting it. */
	p = tl_sh("XENSTORED_PATH=%s xenstore-read rel", sock);
	ck_assert_str_eq(p, "five\n");
	free(p);

	/* A second daemon on a live socket refuses to start. */
	rc = tl_run(NULL, "'%s' --socket %s 2>/dev/null", prog, sock);
	ck_assert_int_eq(rc, 1);

	ck_assert_int_eq(kill(detached_pid, SIGTERM), 0);
	tl_wait_gone(sock);
	tl_wait_gone(pidf);
	detached_pid = -1;
	rmdir(dir);

	/* Bad command lines. */
	ck_assert_int_eq(tl_run(NULL, "'%s' 2>/dev/null", prog), 2);
	ck_assert_int_eq(tl_run(NULL, "'%s' --socket %s --domid x 2>/dev/null", prog, sock), 2);
}
END_TEST

/* --- Debian's xenstore-* tools */

static void assert_sh(const char *expected, const char *cmd)
{
	char *out = tl_sh("%s", cmd);

	ck_assert_msg(strcmp(out, expected) == 0, "%s: got\n%s\nexpected\n%s", cmd, out, expected);
	free(out);
}

START_TEST(test_cli_tools)
{
	char *out = NULL;
	FILE *w;
	char line[256];

	assert_sh("", "xenstore-write /cli/a 1 /cli/b 'two words' rel 'x\"y'");
	assert_sh("1\ntwo words\nx\"y\n", "xenstore-read /cli/a /cli/b rel");
	assert_sh("/cli/a: 1\n", "xenstore-read -p /cli/a");
	assert_sh("x\"y\n", "xenstore-read /local/domain/0/rel");
	assert_sh("a\nb\n", "xenstore-list /cli");
	assert_sh("/cli/a\n/cli/b\n", "xenstore-list -p /cli");
	assert_sh("", "xenstore-exists /cli/a");
	ck_assert_int_eq(tl_run(NULL, "xenstore-exists /cli/nope"), 1);
	ck_assert_int_eq(tl_run(NULL, "xenstore-read /cli/nope 2>/dev/null"), 1);

	assert_sh("", "xenstore-chmod /cli/b n0 r3 b5");
	assert_sh("a = \"1\"  . . . . . . . . . . . . . . . . . . . . . . . . . .  (n0)\n"
		  "b = \"two words\"  . . . . . . . . . . . . . . . . . . . . . .  (n0,r3,b5)\n",
		  "xenstore-ls -p /cli");
	assert_sh("local = \"\"\n"
		  " domain = \"\"\n"
		  "  0 = \"\"\n"
		  "   rel = \"x\"y\"\n"
		  "tool = \"\"\n"
		  "cli = \"\"\n"
		  " a = \"1\"\n"
		  " b = \"two words\"\n",
		  "xenstore-ls");
	assert_sh("/cli/a = \"1\"\n/cli/b = \"two words\"\n", "xenstore-ls -f /cli");
	assert_sh("", "xenstore-chmod -r /cli r7");
	assert_sh("/cli/a = \"1\"   (r7)\n/cli/b = \"two words\"   (r7)\n", "xenstore-ls -f -p /cli");

	assert_sh("", "xenstore-rm /cli/a");
	ck_assert_int_eq(tl_run(NULL, "xenstore-exists /cli/a"), 1);
	assert_sh("", "xenstore-rm /cli/a");
	ck_assert_int_eq(tl_run(NULL, "xenstore-rm /nope/deeper 2>/dev/null"), 1);
	assert_sh("", "xenstore-rm -t /cli/b");
	ck_assert_int_eq(tl_run(NULL, "xenstore-exists /cli"), 1);

	/* xenstore-watch prints the initial event, then changes. */
	assert_sh("/cli/w\n", "xenstore-watch -n 1 /cli/w");
	w = popen("exec xenstore-watch -n 2 /cli/w", "r");
	ck_assert(w);
	ck_assert(fgets(line, sizeof(line), w));
	ck_assert_str_eq(line, "/cli/w\n");
	tl_xs_write("/cli/w/x", "1");
	ck_assert(fgets(line, sizeof(line), w));
	ck_assert_str_eq(line, "/cli/w/x\n");
	ck_assert_int_eq(pclose(w), 0);

	ck_assert_int_eq(tl_run(&out, "xenstore-read /cli/w/x"), 0);
	ck_assert_str_eq(out, "1\n");
	free(out);
}
END_TEST

int main(void)
{
	const struct tl_case cases[] = {
		{ "initial_tree", test_initial_tree },
		{ "read_write", test_read_write },
		{ "relative_paths", test_relative_paths },
		{ "enoent", test_enoent },
		{ "invalid_paths", test_invalid_paths },
		{ "mkdir", test_mkdir },
		{ "directory", test_directory },
		{ "directory_part", test_directory_part },
		{ "rm", test_rm },
		{ "perms", test_perms },
		{ "txn_commit", test_txn_commit },
		{ "txn_abort", test_txn_abort },
		{ "txn_conflict", test_txn_conflict },
		{ "txn_snapshot", test_txn_snapshot },
		{ "txn_errors", test_txn_errors },
		{ "watch_initial_and_write", test_watch_initial_and_write },
		{ "watch_rm", test_watch_rm },
		{ "watch_relative", test_watch_relative },
		{ "watch_unwatch", test_watch_unwatch },
		{ "watch_special", test_watch_special },
		{ "watch_transaction", test_watch_transaction },
		{ "watch_depth", test_watch_depth },
		{ "reset_watches", test_reset_watches },
		{ "payload_too_big", test_payload_too_big },
		{ "garbage", test_garbage },
		{ "framing", test_framing },
		{ "concurrent_clients", test_concurrent_clients },
		{ "sigterm", test_sigterm },
		{ "daemon_mode", test_daemon_mode },
		{ "cli_tools", test_cli_tools },
	};

	return tl_main(tl_suite("xenstored", cases, ELEMENTSOF(cases), setup, teardown), false);
}
