/* A QubesDB client: the daemon's protocol over its Unix socket (Debian
 * ships no libqubesdb). Every message is a 72-byte header -- type at
 * offset 0, a NUL-terminated path of at most 63 characters at 1, the
 * payload length (host order) at 68 -- and that many bytes of payload with
 * no terminator. Replies are read in full however the daemon splits its
 * writes; watch events (which may come at any time, also inside a
 * MULTIREAD reply) are skipped; anything that does not parse is an error,
 * after which the connection is not used again. Every wait is bounded by
 * QDB_OP_TIMEOUT_MS and by the connection's deadline. Never logs. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QDB_HDR_SIZE 72
#define QDB_MAX_PATH 64   /* with the NUL */
#define QDB_MAX_DATA 3072 /* values are shorter */
#define QDB_MAX_ENTRIES 4096
#define QDB_OP_TIMEOUT_MS 5000

enum qdb_type {
	QDB_CMD_READ = 0,
	QDB_CMD_WRITE = 1,
	QDB_CMD_MULTIREAD = 2,
	QDB_CMD_LIST = 3,
	QDB_CMD_RM = 4,
	QDB_CMD_WATCH = 5,
	QDB_CMD_UNWATCH = 6,
	QDB_RESP_OK = 7,
	QDB_RESP_ERROR_NOENT = 8,
	QDB_RESP_ERROR = 9,
	QDB_RESP_READ = 10,
	QDB_RESP_MULTIREAD = 11,
	QDB_RESP_LIST = 12,
	QDB_RESP_WATCH = 13,
	_QDB_TYPE_MAX,
};

struct qdb_hdr {
	uint8_t type;
	char path[QDB_MAX_PATH];
	uint32_t data_len;
};

/* Pure: the wire form and its checks. */
bool qdb_path_valid(const char *path); /* "/" then [a-z0-9_./:@-], under 64 bytes */
void qdb_hdr_encode(const struct qdb_hdr *h, unsigned char out[static QDB_HDR_SIZE]);
/* -EBADMSG for an unknown type or a length of QDB_MAX_DATA or more; the
 * path is always terminated in *ret. */
int qdb_hdr_decode(const unsigned char in[static QDB_HDR_SIZE], struct qdb_hdr *ret);

struct qdb;

struct qdb_entry {
	char path[QDB_MAX_PATH];
	char *value; /* NUL-terminated */
};

/* deadline: CLOCK_MONOTONIC ms (deadline.h), 0 for none. */
int qdb_open(const char *socket_path, uint64_t deadline, struct qdb **ret);
/* A connection over an fd already connected (tests: a socketpair). */
int qdb_adopt_fd(int fd, uint64_t deadline, struct qdb **ret);
void qdb_close(struct qdb *q);
void qdb_set_deadline(struct qdb *q, uint64_t deadline);

/* *ret malloc'd and terminated; -ENOENT when absent; -EINVAL for a path
 * that is not valid (nothing sent); -EIO when the daemon refused it;
 * -EBADMSG for a reply that does not parse; -ETIMEDOUT. */
int qdb_read(struct qdb *q, const char *path, char **ret);
/* Every key that starts with prefix (a plain string prefix), in the
 * daemon's order; *ret malloc'd (qdb_entries_free). */
int qdb_multiread(struct qdb *q, const char *prefix, struct qdb_entry **ret, size_t *ret_n);
void qdb_entries_free(struct qdb_entry *e, size_t n);
int qdb_watch(struct qdb *q, const char *path);
int qdb_unwatch(struct qdb *q, const char *path);
/* The value of path, waiting (a WATCH, until `until`) for it to be
 * written if it is absent: -ENOENT when it still is by then. */
int qdb_wait_read(struct qdb *q, const char *path, uint64_t until, char **ret);
/* Events skipped so far (for tests and -v). */
unsigned qdb_events_seen(const struct qdb *q);
