/* The QubesDB client against a scripted peer on a socketpair: the byte
 * layout of the header, replies split into pieces, watch events wherever
 * they may come, and every malformed or missing reply an error. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "deadline.h"
#include "qdb.h"
#include "testlib.h"

/* ---- the scripted peer ---- */

enum step_kind { EXPECT, SEND, SLEEP, CLOSE, END };

struct step {
	enum step_kind kind;
	uint8_t type;         /* EXPECT: the request type; SEND: the message type */
	const char *path;     /* SEND */
	const char *value;    /* SEND: payload (NULL: none) */
	uint32_t len;         /* SEND: data_len as sent (the value's length unless forced) */
	bool force_len;
	unsigned ms;          /* SLEEP */
};

#define EXPECT_REQ(t) { .kind = EXPECT, .type = (t) }
#define MSG(t, p, v) { .kind = SEND, .type = (t), .path = (p), .value = (v) }
#define MSG_LEN(t, p, l) { .kind = SEND, .type = (t), .path = (p), .len = (l), .force_len = true }
#define EVENT MSG(QDB_RESP_WATCH, "/qubes-test-event", NULL)
#define PAUSE(n) { .kind = SLEEP, .ms = (n) }
#define HANGUP { .kind = CLOSE }
#define DONE { .kind = END }

struct peer {
	int fd;
	const struct step *script;
	size_t chunk;         /* write in pieces of this many bytes (0: whole) */
	unsigned requests;    /* seen */
	char last_path[QDB_MAX_PATH];
	bool bad_request;
	pthread_t thread;
};

static void put(struct peer *p, const void *buf, size_t n)
{
	for (size_t off = 0; off < n;) {
		size_t k = p->chunk && n - off > p->chunk ? p->chunk : n - off;
		ssize_t w = send(p->fd, (const char *)buf + off, k, MSG_NOSIGNAL);

		if (w <= 0)
			return;
		off += (size_t)w;
		if (p->chunk)
			usleep(100);
	}
}

static void *peer_run(void *arg)
{
	struct peer *p = arg;

	for (const struct step *s = p->script; s->kind != END; s++) {
		unsigned char hdr[QDB_HDR_SIZE];
		struct qdb_hdr h = {};

		switch (s->kind) {
		case EXPECT: {
			size_t got = 0;

			while (got < sizeof(hdr)) {
				ssize_t k = read(p->fd, hdr + got, sizeof(hdr) - got);

				if (k <= 0)
					return NULL;
				got += (size_t)k;
			}
			if (qdb_hdr_decode(hdr, &h) < 0 || h.type != s->type || h.data_len != 0)
				p->bad_request = true;
			memcpy(p->last_path, h.path, sizeof(p->last_path));
			p->requests++;
			break;
		}
		case SEND:
			h.type = s->type;
			if (s->path)
				snprintf(h.path, sizeof(h.path), "%s", s->path);
			h.data_len = s->force_len ? s->len : (s->value ? (uint32_t)strlen(s->value) : 0);
			/* Not through qdb_hdr_encode: the peer must be able to
			 * send what a correct encoder would refuse. */
			memset(hdr, 0, sizeof(hdr));
			hdr[0] = h.type;
			memcpy(hdr + 1, h.path, sizeof(h.path));
			memcpy(hdr + 68, &h.data_len, 4);
			put(p, hdr, sizeof(hdr));
			if (s->value)
				put(p, s->value, strlen(s->value));
			break;
		case SLEEP:
			usleep(s->ms * 1000);
			break;
		case CLOSE:
			shutdown(p->fd, SHUT_RDWR);
			return NULL;
		case END:
			break;
		}
	}
	return NULL;
}

static struct peer peer;
static struct qdb *q;

static void start(const struct step *script, size_t chunk, unsigned deadline_ms)
{
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	peer = (struct peer){ .fd = sv[1], .script = script, .chunk = chunk };
	ck_assert_int_eq(pthread_create(&peer.thread, NULL, peer_run, &peer), 0);
	ck_assert_int_eq(qdb_adopt_fd(sv[0], deadline_ms ? now_ms() + deadline_ms : 0, &q), 0);
}

static void stop(void)
{
	qdb_close(q); /* closes our end: a peer waiting for a request ends */
	q = NULL;
	pthread_join(peer.thread, NULL);
	close(peer.fd);
	ck_assert_msg(!peer.bad_request, "the peer got a request of another type");
}

/* ---- the wire form ---- */

START_TEST(test_header_layout)
{
	struct qdb_hdr h = { .type = QDB_CMD_MULTIREAD, .path = "/qubes-netvm-", .data_len = 0x01020304 };
	unsigned char b[QDB_HDR_SIZE];
	uint32_t len;

	qdb_hdr_encode(&h, b);
	ck_assert_uint_eq(b[0], 2);
	ck_assert_int_eq(memcmp(b + 1, "/qubes-netvm-\0", 14), 0);
	for (int i = 14; i < 68; i++)
		ck_assert_msg(b[i] == 0, "byte %d is %u", i, b[i]);
	memcpy(&len, b + 68, 4);
	ck_assert_uint_eq(len, 0x01020304); /* host order */

	/* Decoding: the path is terminated whatever came; bad types and
	 * lengths are refused. */
	memset(b, 'a', sizeof(b));
	b[0] = QDB_RESP_READ;
	memset(b + 68, 0, 4);
	ck_assert_int_eq(qdb_hdr_decode(b, &h), 0);
	ck_assert_uint_eq(strlen(h.path), QDB_MAX_PATH - 1);
	b[0] = 14;
	ck_assert_int_eq(qdb_hdr_decode(b, &h), -EBADMSG);
	b[0] = QDB_RESP_READ;
	len = QDB_MAX_DATA;
	memcpy(b + 68, &len, 4);
	ck_assert_int_eq(qdb_hdr_decode(b, &h), -EBADMSG);
	len = QDB_MAX_DATA - 1;
	memcpy(b + 68, &len, 4);
	ck_assert_int_eq(qdb_hdr_decode(b, &h), 0);
}
END_TEST

START_TEST(test_paths)
{
	char p63[QDB_MAX_PATH + 1];

	ck_assert(qdb_path_valid("/qubes-netvm-gateway"));
	ck_assert(qdb_path_valid("/mapped-ip/10.137.0.5/visible-ip"));
	ck_assert(qdb_path_valid("/qubes-service/harden-network-interfaces"));
	ck_assert(!qdb_path_valid("qubes-netvm-gateway"));
	ck_assert(!qdb_path_valid("/Qubes"));
	ck_assert(!qdb_path_valid("/a b"));
	ck_assert(!qdb_path_valid("/a\n"));
	ck_assert(!qdb_path_valid(""));
	ck_assert(!qdb_path_valid(NULL));
	memset(p63, 'a', sizeof(p63));
	p63[0] = '/';
	p63[63] = 0;
	ck_assert(qdb_path_valid(p63));
	p63[63] = 'a';
	p63[64] = 0;
	ck_assert(!qdb_path_valid(p63));
}
END_TEST

/* ---- READ ---- */

START_TEST(test_read_split)
{
	static const struct step script[] = {
		EXPECT_REQ(QDB_CMD_READ), MSG(QDB_RESP_READ, "/qubes-netvm-gateway", "10.137.0.1"), DONE,
	};
	char *v = NULL;

	start(script, 1 + (size_t)_i * 10, 0); /* every chunking from 1 byte up */
	ck_assert_int_eq(qdb_read(q, "/qubes-netvm-gateway", &v), 0);
	ck_assert_str_eq(v, "10.137.0.1");
	ck_assert_str_eq(peer.last_path, "/qubes-netvm-gateway");
	free(v);
	stop();
}
END_TEST

START_TEST(test_read_events_first)
{
	static const struct step script[] = {
		EXPECT_REQ(QDB_CMD_READ), EVENT, EVENT, MSG(QDB_RESP_READ, "/x", ""), DONE,
	};
	char *v = NULL;

	start(script, 5, 0);
	ck_assert_int_eq(qdb_read(q, "/x", &v), 0);
	ck_assert_str_eq(v, ""); /* an empty value is a value */
	ck_assert_uint_eq(qdb_events_seen(q), 2);
	free(v);
	stop();
}
END_TEST

START_TEST(test_read_longest_value)
{
	static char big[QDB_MAX_DATA];
	static struct step script[] = {
		EXPECT_REQ(QDB_CMD_READ), MSG(QDB_RESP_READ, "/big", big), DONE,
	};
	char *v = NULL;

	memset(big, 'v', QDB_MAX_DATA - 1);
	big[QDB_MAX_DATA - 1] = 0;
	start(script, 1000, 0);
	ck_assert_int_eq(qdb_read(q, "/big", &v), 0);
	ck_assert_uint_eq(strlen(v), QDB_MAX_DATA - 1);
	free(v);
	stop();
}
END_TEST

/* Each reply that is not right: the error it gives, and the connection
 * is not used again afterwards (the stream may be out of step). */
static const struct {
	const char *name;
	struct step reply[3];
	int r;
	bool broken;
} bad_reads[] = {
	{ "noent", { MSG(QDB_RESP_ERROR_NOENT, "/k", NULL), DONE }, -ENOENT, false },
	{ "error", { MSG(QDB_RESP_ERROR, "/k", NULL), DONE }, -EIO, false },
	{ "oversize", { MSG_LEN(QDB_RESP_READ, "/k", 4000), DONE }, -EBADMSG, true },
	{ "unknown type", { MSG(20, "/k", NULL), DONE }, -EBADMSG, true },
	{ "truncated", { MSG_LEN(QDB_RESP_READ, "/k", 10), HANGUP, DONE }, -ECONNRESET, true },
	{ "hangup", { HANGUP, DONE }, -ECONNRESET, true },
	{ "NUL in value", { MSG_LEN(QDB_RESP_READ, "/k", 3), MSG(QDB_RESP_OK, "", NULL), DONE }, -EBADMSG, true },
	{ "other path", { MSG(QDB_RESP_READ, "/other", "v"), DONE }, -EBADMSG, true },
	{ "noent with data", { MSG(QDB_RESP_ERROR_NOENT, "/k", "x"), DONE }, -EBADMSG, true },
	{ "event with data", { MSG(QDB_RESP_WATCH, "/k", "x"), DONE }, -EBADMSG, true },
	{ "wrong reply", { MSG(QDB_RESP_MULTIREAD, "/k", "v"), DONE }, -EBADMSG, true },
	{ "no reply", { PAUSE(1000), DONE }, -ETIMEDOUT, true },
};

START_TEST(test_read_bad)
{
	struct step script[5] = { EXPECT_REQ(QDB_CMD_READ) };
	char *v = NULL;

	memcpy(script + 1, bad_reads[_i].reply, sizeof(bad_reads[_i].reply));
	script[4] = (struct step)DONE;
	start(script, 3, 300);
	ck_assert_msg(qdb_read(q, "/k", &v) == bad_reads[_i].r, "%s", bad_reads[_i].name);
	ck_assert_ptr_null(v);
	if (bad_reads[_i].broken)
		ck_assert_int_eq(qdb_read(q, "/k", &v), -EBADMSG);
	stop();
}
END_TEST

START_TEST(test_bad_path_not_sent)
{
	static const struct step script[] = { DONE };
	char *v = NULL;

	start(script, 0, 0);
	ck_assert_int_eq(qdb_read(q, "/Bad", &v), -EINVAL);
	ck_assert_int_eq(qdb_read(q, "relative", &v), -EINVAL);
	ck_assert_uint_eq(peer.requests, 0);
	stop();
}
END_TEST

/* ---- MULTIREAD ---- */

START_TEST(test_multiread_events_between)
{
	static const struct step script[] = {
		EXPECT_REQ(QDB_CMD_MULTIREAD),
		EVENT,
		MSG(QDB_RESP_MULTIREAD, "/qubes-netvm-gateway", "10.138.0.1"),
		EVENT,
		MSG(QDB_RESP_MULTIREAD, "/qubes-netvm-gateway6", "fd09::1"),
		EVENT,
		EVENT,
		MSG(QDB_RESP_MULTIREAD, "/qubes-netvm-netmask", ""),
		EVENT,
		MSG(QDB_RESP_MULTIREAD, "", NULL),
		DONE,
	};
	struct qdb_entry *e = NULL;
	size_t n = 0;

	start(script, _i ? 7 : 0, 0);
	ck_assert_int_eq(qdb_multiread(q, "/qubes-netvm-", &e, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(e[0].path, "/qubes-netvm-gateway");
	ck_assert_str_eq(e[0].value, "10.138.0.1");
	ck_assert_str_eq(e[1].value, "fd09::1");
	ck_assert_str_eq(e[2].path, "/qubes-netvm-netmask");
	ck_assert_str_eq(e[2].value, "");
	ck_assert_uint_eq(qdb_events_seen(q), 5);
	qdb_entries_free(e, n);
	stop();
}
END_TEST

START_TEST(test_multiread_bad)
{
	static const struct step foreign[] = {
		EXPECT_REQ(QDB_CMD_MULTIREAD), MSG(QDB_RESP_MULTIREAD, "/qubes-ip", "1.2.3.4"), DONE,
	};
	static const struct step end_with_data[] = {
		EXPECT_REQ(QDB_CMD_MULTIREAD), MSG(QDB_RESP_MULTIREAD, "", "x"), DONE,
	};
	static const struct step cut[] = {
		EXPECT_REQ(QDB_CMD_MULTIREAD), MSG(QDB_RESP_MULTIREAD, "/qubes-netvm-gateway", "10.138.0.1"), HANGUP,
		DONE,
	};
	const struct step *scripts[] = { foreign, end_with_data, cut };
	const int want[] = { -EBADMSG, -EBADMSG, -ECONNRESET };
	struct qdb_entry *e = NULL;
	size_t n = 0;

	for (size_t i = 0; i < ELEMENTSOF(scripts); i++) {
		start(scripts[i], 0, 1000);
		ck_assert_int_eq(qdb_multiread(q, "/qubes-netvm-", &e, &n), want[i]);
		stop();
	}
}
END_TEST

/* ---- WATCH: waiting for a key ---- */

START_TEST(test_wait_read)
{
	static const struct step script[] = {
		EXPECT_REQ(QDB_CMD_READ), MSG(QDB_RESP_ERROR_NOENT, "/k", NULL),
		EXPECT_REQ(QDB_CMD_WATCH), MSG(QDB_RESP_OK, "/k", NULL),
		EXPECT_REQ(QDB_CMD_READ), MSG(QDB_RESP_ERROR_NOENT, "/k", NULL),
		/* dom0 writes it a little later */
		PAUSE(100), MSG(QDB_RESP_WATCH, "/k", NULL),
		EXPECT_REQ(QDB_CMD_READ), EVENT, MSG(QDB_RESP_READ, "/k", "10.137.0.99"),
		EXPECT_REQ(QDB_CMD_UNWATCH), MSG(QDB_RESP_OK, "/k", NULL),
		DONE,
	};
	char *v = NULL;

	start(script, 4, 0);
	ck_assert_int_eq(qdb_wait_read(q, "/k", now_ms() + 2000, &v), 0);
	ck_assert_str_eq(v, "10.137.0.99");
	free(v);
	stop();
}
END_TEST

START_TEST(test_wait_read_bounded)
{
	static const struct step script[] = {
		EXPECT_REQ(QDB_CMD_READ), MSG(QDB_RESP_ERROR_NOENT, "/k", NULL),
		EXPECT_REQ(QDB_CMD_WATCH), MSG(QDB_RESP_OK, "/k", NULL),
		EXPECT_REQ(QDB_CMD_READ), MSG(QDB_RESP_ERROR_NOENT, "/k", NULL),
		EXPECT_REQ(QDB_CMD_UNWATCH), MSG(QDB_RESP_OK, "/k", NULL),
		DONE,
	};
	uint64_t t0 = now_ms();
	char *v = NULL;

	start(script, 0, 0);
	ck_assert_int_eq(qdb_wait_read(q, "/k", t0 + 300, &v), -ENOENT);
	ck_assert_uint_ge(now_ms() - t0, 290);
	ck_assert_uint_lt(now_ms() - t0, 2000);
	stop();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("qdb");
	TCase *tc = tcase_create("wire");

	tcase_add_test(tc, test_header_layout);
	tcase_add_test(tc, test_paths);
	suite_add_tcase(s, tc);

	tc = tcase_create("read");
	tcase_add_loop_test(tc, test_read_split, 0, 10);
	tcase_add_test(tc, test_read_events_first);
	tcase_add_test(tc, test_read_longest_value);
	tcase_add_loop_test(tc, test_read_bad, 0, ELEMENTSOF(bad_reads));
	tcase_add_test(tc, test_bad_path_not_sent);
	suite_add_tcase(s, tc);

	tc = tcase_create("multiread");
	tcase_add_loop_test(tc, test_multiread_events_between, 0, 2);
	tcase_add_test(tc, test_multiread_bad);
	suite_add_tcase(s, tc);

	tc = tcase_create("watch");
	tcase_add_test(tc, test_wait_read);
	tcase_add_test(tc, test_wait_read_bounded);
	suite_add_tcase(s, tc);
	return tl_main(s, false);
}
