/* Test QubesDB daemon: an in-memory qubesdb-daemon speaking the client
 * protocol of qdb.h on a Unix socket, for tests where there is no Qubes.
 * It answers as the real daemon does (daemon/db-cmds.c, db-core.c of
 * qubes-core-qubesdb), and can misbehave on request (--split, --events,
 * --stall, --oversize, --truncate) so clients meet real-world hazards.
 * Everything is single-threaded. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon.h" /* xmalloc & co, daemon_log */
#include "qdb.h"

/* One key. The store keeps them sorted by strcmp(), as the real daemon's
 * list does: MULTIREAD and LIST walk them in that order. */
struct entry {
	char path[QDB_MAX_PATH];
	char *value; /* no NUL inside, none after */
	uint32_t len;
};

struct store {
	struct entry *v;
	size_t n;
	size_t cap;
};

struct watch {
	struct watch *next;
	char path[QDB_MAX_PATH];
	/* Bytes of a changed path to compare: strlen + 1 (exact), or strlen
	 * when the watched path ends with '/' (the subtree). */
	size_t cmp_len;
};

/* One piece of output, written with its own send(): headers and values
 * never share one, as in the real daemon. */
struct chunk {
	struct chunk *next;
	size_t len;
	size_t off; /* already sent */
	char data[];
};

struct conn {
	struct conn *next;
	int fd;
	unsigned int id;
	/* input */
	char *in;
	size_t in_off; /* consumed */
	size_t in_len; /* filled */
	size_t in_cap;
	/* A refused message's payload still to be read and thrown away; its
	 * RESP_ERROR (err) goes out once it is gone, as in the real daemon. */
	uint64_t skip;
	struct qdb_hdr err;
	/* output */
	struct chunk *out;
	struct chunk **out_tail;
	size_t out_bytes;
	uint64_t next_send_ns; /* --split: not before this CLOCK_MONOTONIC time */
	struct watch *watches;
	bool eof;     /* peer finished sending: close once replies are out */
	bool dead;    /* close now */
	bool stalled; /* --stall: requests are read, never answered */
	bool closing; /* close once the output is out; read nothing more */
};

struct qdbd {
	struct store store;
	struct conn *conns;
	unsigned int next_conn_id;
	bool verbose;
	bool events;          /* --events */
	size_t split;         /* --split N, 0: off */
	const char *stall;    /* --stall PREFIX, or NULL */
	const char *oversize; /* --oversize PREFIX, or NULL */
	const char *truncate; /* --truncate PREFIX, or NULL */
	int request_log;      /* --request-log FILE, or -1 */
};

/* util.c */
uint64_t now_ns(void);
bool startswith(const char *s, const char *prefix);
const char *qdb_type_name(unsigned int type);
/* Characters the real daemon allows, its 'Z'..'Z' range typo included. */
bool path_chars_ok(const char *path);
/* A key WRITE may create: absolute, not ending in '/', allowed characters,
 * shorter than QDB_MAX_PATH. */
bool path_is_key(const char *path);

/* store.c */
void store_free(struct store *s);
struct entry *store_get(const struct store *s, const char *path);
/* Index of the first key >= prefix; the keys starting with prefix follow. */
size_t store_lower_bound(const struct store *s, const char *prefix);
void store_set(struct store *s, const char *path, const char *value, size_t len);
/* Removes path, or every key starting with it when it ends with '/'.
 * Returns how many keys went. */
size_t store_remove(struct store *s, const char *path);

/* watch.c */
void watch_add(struct conn *c, const char *path);
int watch_remove(struct conn *c, const char *path);
void watch_free_all(struct conn *c);
void fire_watches(struct qdbd *d, const char *path);

/* conn.c */
struct conn *conn_new(int fd, unsigned int id);
void conn_free(struct conn *c);
size_t conn_in_pending(const struct conn *c);
void conn_in_consume(struct conn *c, size_t n);
void conn_read(struct conn *c);
/* Too much output is waiting: take no new request from c for now. */
bool conn_backlogged(const struct conn *c);
/* Queues len bytes as one piece of output. */
void conn_queue(struct conn *c, const void *data, size_t len);
/* Queues a reply header (after an injected event under --events). */
void conn_reply(struct qdbd *d, struct conn *c, const struct qdb_hdr *hdr);
void conn_event(struct conn *c, const char *path);
void conn_flush(struct qdbd *d, struct conn *c, uint64_t now);
short conn_poll_events(const struct qdbd *d, const struct conn *c, uint64_t now);
/* When c next has something to send under --split; UINT64_MAX: no wait. */
uint64_t conn_wakeup(const struct qdbd *d, const struct conn *c);

/* ops.c */
void conn_process(struct qdbd *d, struct conn *c);
