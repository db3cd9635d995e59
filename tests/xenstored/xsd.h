/* Test xenstored: an in-memory xenstore daemon speaking the socket protocol
 * of docs/misc/xenstore.txt, so the real libxenstore and xenstore-* tools
 * can run where there is no Xen. Everything is single-threaded. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xen/io/xs_wire.h>

#include "daemon.h" /* xmalloc & co, daemon_log */

/* Longest path a request can carry, plus room for the relative prefix. */
#define XSD_PATH_BUF (XENSTORE_PAYLOAD_MAX + 32)

#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* Intrusive string-keyed hash table; the key belongs to the entry. */
struct hentry {
	struct hentry *next;
	uint32_t hash;
	char *key;
};

struct htable {
	struct hentry **buckets;
	size_t size;
	size_t count;
};

struct node {
	struct hentry h; /* key: absolute path */
	/* Changes whenever value, perms or the child list change; transaction
	 * conflicts and DIRECTORY_PART use it. Never 0 (0 means "absent"). */
	uint64_t gen;
	char *value;
	uint32_t vlen;
	char *perms; /* "n0\0r5\0": the GET_PERMS reply as is */
	uint32_t plen;
	char *kids; /* child names, each NUL-terminated, in creation order */
	uint32_t klen;
	uint32_t kcap;
};

struct watch {
	struct watch *next;
	char *path; /* canonical: absolute or @special */
	char *token;
	size_t strip; /* bytes to drop from event paths (relative watches) */
	int depth;    /* -1: unlimited */
};

enum fire { FIRE_NONE, FIRE_EXACT, FIRE_SUBTREE };

/* A node as a transaction sees it: captured when the transaction first
 * touched it, or just before someone else changed it (so the transaction
 * keeps seeing its snapshot). */
struct tentry {
	struct hentry h; /* key: absolute path */
	struct tentry *next; /* first-touch order */
	struct node *node;   /* private copy; NULL: absent in this view */
	uint64_t gen;        /* global gen when captured, 0 when absent */
	bool accessed;       /* the transaction looked at it: check at commit */
	bool modified;       /* copy back at commit */
	enum fire fire;
};

struct txn {
	struct txn *next;
	uint32_t id;
	struct htable entries;
	struct tentry *head;
	struct tentry **tail;
};

struct buf {
	char *data;
	size_t off; /* consumed */
	size_t len; /* filled */
	size_t cap;
};

struct conn {
	struct conn *next;
	int fd;
	unsigned int id;
	struct buf in;
	struct buf out;
	struct watch *watches;
	struct txn *txns;
	uint32_t next_txid;
	bool eof;  /* peer finished sending: close once replies are out */
	bool dead; /* close now */
	bool stalled; /* --stall: requests are read, never answered */
};

struct xsd {
	struct htable nodes;
	uint64_t gen;
	unsigned int domid;
	char home[32]; /* /local/domain/<domid> */
	size_t homelen;
	struct conn *conns;
	unsigned int next_conn_id;
	bool verbose;
	const char *stall; /* --stall PREFIX, or NULL */
	uint8_t introduced[65536 / 8];
};

/* Where an operation reads and writes: the store, or a transaction. */
struct view {
	struct xsd *d;
	struct txn *t; /* NULL: the store itself */
};

/* util.c: the hash table */
struct hentry *ht_find(const struct htable *t, const char *key);
void ht_insert(struct htable *t, struct hentry *e);
void ht_remove(struct htable *t, struct hentry *e);
void ht_release(struct htable *t);
/* Calls fn on every entry; fn may free the entry it is given. */
void ht_drain(struct htable *t, void (*fn)(struct hentry *e));

/* store.c */
void store_init(struct xsd *d);
void store_free(struct xsd *d);
struct node *view_get(struct view *v, const char *path);
struct node *view_edit(struct view *v, const char *path);
struct node *view_create(struct view *v, const char *path);
void view_delete(struct view *v, const char *path);
void view_fire(struct view *v, const char *path, enum fire how);
void node_set_value(struct node *n, const char *value, size_t len);
void node_set_perms(struct node *n, const char *perms, size_t len);
void node_add_kid(struct node *n, const char *name);
void node_del_kid(struct node *n, const char *name);
struct txn *txn_new(uint32_t id);
void txn_free(struct txn *t);
int txn_commit(struct xsd *d, struct txn *t);

/* watch.c */
void fire_watches(struct xsd *d, const char *path, enum fire how);
void watch_free(struct watch *w);
void send_event(struct conn *c, const char *path, const char *token);

/* ops.c */
void xsd_request(struct xsd *d, struct conn *c, const struct xsd_sockmsg *hdr,
		 const char *payload);
const char *xsd_type_name(uint32_t type);

/* xenstored.c */
void conn_send(struct conn *c, uint32_t type, uint32_t req_id, uint32_t tx_id,
	       const void *data, size_t len);
void conn_drop_state(struct conn *c);
