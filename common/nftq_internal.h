/* The core under nftq.h, shared by the files that implement it (nftq.c,
 * nftq_set.c, nftq_accel.c, nftq_dns.c): the socket, one-message requests
 * and dumps, and transaction batches. Not for the tools themselves.
 *
 * A batch in short:
 *
 *	struct nftq_batch b;
 *	struct nftq_error err;
 *	struct nlmsghdr *nlh;
 *
 *	nftq_batch_init(&b, nftq_next_seq(q));
 *	nftq_batch_begin(&b, genid);                    // 0: no genid check
 *	nlh = nftq_batch_add(&b, NFT_MSG_NEWTABLE, NFPROTO_INET, NLM_F_CREATE);
 *	if (nlh)
 *		nftnl_table_nlmsg_build_payload(nlh, t);
 *	...
 *	r = nftq_batch_send(q, &b, &err);              // ends the batch too
 *	nftq_batch_done(&b);
 *
 * Building never fails per call: a failure (out of memory, a message too
 * long) is remembered in the batch, the add returns NULL, and the send or
 * nftq_batch_end reports it. */
#pragma once

#include <linux/netlink.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "nftq.h"

/* Linux 6.3: a delete of a missing element is a no-op, not ENOENT. Not in
 * the 6.1 UAPI headers we build against, so spelled out here. */
#ifndef NFT_MSG_DESTROYSETELEM
#define NFT_MSG_DESTROYSETELEM 30
#endif

/* Room reserved for each message while it is being filled: libnftnl's
 * payload builders do not check bounds, so every message MUST fit in this.
 * The largest we build: 256 set elements (11.3 KB), a flowtable over 255
 * devices (5.2 KB); a rule is a few hundred bytes. */
#define NFTQ_MSG_MAX 16384

/* How many set elements one NEWSETELEM/DESTROYSETELEM message carries at
 * most: an element of a 32-byte key takes 44 bytes of attributes. */
#define NFTQ_ELEMS_PER_MSG 256

struct mnl_socket;

struct nftq {
	struct mnl_socket *nl;
	uint32_t portid;
	uint32_t seq;      /* last sequence number used */
	bool deleted;      /* a committed batch deleted objects: close() waits an RCU grace period */
	int rcvbuf;        /* what SO_RCVBUF(FORCE) was last raised to, 0 never */
	int sndbuf;        /* the same for SO_SNDBUF(FORCE) */
	uint8_t *rbuf;     /* receive buffer, NFTQ_RECV_BUF bytes */
};

/* Big enough for one read of any dump (the kernel fills a dump message up
 * to the reader's buffer size, capped at 32 KiB). */
#define NFTQ_RECV_BUF 32768

/* A batch up to this size goes out without touching SO_SNDBUF (the
 * kernel's default wmem is 208 KiB; this leaves room for its overhead). */
#define NFTQ_SNDBUF_DEFAULT (128 * 1024)

/* The next sequence number (never 0, which the kernel uses for events). */
uint32_t nftq_next_seq(struct nftq *q);

/* --- requests: one GET, or a dump ---------------------------------------- */

/* Called for each data message of the answer (not for acks, errors or
 * NLMSG_DONE). Returns 0 to go on, or -errno to stop: the request then
 * returns that error (after reading the rest of the answer). */
typedef int (*nftq_msg_cb)(const struct nlmsghdr *nlh, void *userdata);

/* Sends the request nlh (built by the caller, e.g. with
 * nftnl_nlmsg_build_hdr; its nlmsg_seq is overwritten with a fresh one and,
 * when it is not a dump, NLM_F_ACK is added so the end of the answer is
 * known) and reads the whole answer, calling cb (may be NULL) on each data
 * message. 0, the kernel's error (-ENOENT: no such table, set...), the
 * callback's, -EINTR when a dump was interrupted by a concurrent change
 * (NLM_F_DUMP_INTR: what cb saw is not consistent; the caller may start
 * again), or -EBADMSG on a malformed answer. */
int nftq_request(struct nftq *q, struct nlmsghdr *nlh, nftq_msg_cb cb, void *userdata);

/* --- batches ------------------------------------------------------------- */

struct nftq_batch {
	uint8_t *buf;         /* malloc'd, grows */
	size_t size;          /* allocated */
	size_t len;           /* bytes of finished messages */
	struct nlmsghdr *cur; /* the message being filled (inside buf), or NULL */
	uint32_t seq;         /* next sequence number to hand out */
	uint32_t begin_seq;   /* the BATCH_BEGIN's */
	unsigned n_msgs;      /* messages between begin and end */
	bool begun, ended;
	bool deletes;         /* a DEL* / DESTROY* message is in it */
	int error;            /* first build failure, sticky */
};

/* The first failure a batch's replies reported (the kernel reports one per
 * failing message; this is the first received, which is the first failing
 * message in batch order). */
struct nftq_error {
	int error;       /* -errno; 0 when no error reply came */
	uint32_t seq;    /* sequence number of the message it answers (the BEGIN's: the batch as a whole, e.g. -ERESTART) */
	uint16_t type;   /* that message's nlmsg_type, (subsys << 8) | msg */
	bool has_offset;
	uint32_t offset; /* NLMSGERR_ATTR_OFFS: byte offset, from that message's nlmsghdr, of the attribute at fault */
	char msg[128];   /* NLMSGERR_ATTR_MSG, "" when none */
};

/* Messages get sequence numbers first_seq (the BATCH_BEGIN), first_seq + 1,
 * ... Cannot fail. */
void nftq_batch_init(struct nftq_batch *b, uint32_t first_seq);
/* Frees the buffer; the batch may be initialised again. NULL is fine. */
void nftq_batch_done(struct nftq_batch *b);

/* The NFNL_MSG_BATCH_BEGIN (res_id NFNL_SUBSYS_NFTABLES), carrying
 * NFNL_BATCH_GENID when genid is non-zero: the kernel then refuses the
 * whole batch with ERESTART when the ruleset generation is not genid any
 * more. Must come first. 0 or the batch's sticky error. */
int nftq_batch_begin(struct nftq_batch *b, uint32_t genid);

/* A new message of the nf_tables subsystem: msg_type is NFT_MSG_*, family
 * NFPROTO_*, flags added to NLM_F_REQUEST | NLM_F_ACK (e.g. NLM_F_CREATE,
 * NLM_F_APPEND). Returns its header, valid until the next add, end or send,
 * for the caller to fill with a nftnl_*_nlmsg_build_payload (at most
 * NFTQ_MSG_MAX bytes in all); its nlmsg_seq says which replies are about
 * it. NULL after a failure (remembered in the batch). */
struct nlmsghdr *nftq_batch_add(struct nftq_batch *b, uint16_t msg_type, uint16_t family, uint16_t flags);

/* The NFNL_MSG_BATCH_END. Returns the length of the whole batch, or the
 * sticky error (-ENOMEM, -EMSGSIZE when a message outgrew NFTQ_MSG_MAX,
 * -EINVAL when not begun). nftq_batch_send calls it when needed. */
ssize_t nftq_batch_end(struct nftq_batch *b);
/* The bytes, after nftq_batch_end. */
static inline const void *nftq_batch_data(const struct nftq_batch *b)
{
	return b->buf;
}

/* Ends the batch when not done yet, sends it in one sendto (the kernel
 * processes it inside that call), then reads every reply without waiting.
 * 0 when the batch committed: no reply at all carried an error (the kernel
 * acks the good messages of an aborted batch with 0 too, so one error
 * anywhere means nothing was applied). Otherwise the first error: -ERESTART
 * for a stale genid, the first failing message's errno, or a build / socket
 * error (-ENOBUFS from the socket: replies were lost, the outcome is
 * unknown). ret_err (may be NULL) gets the details of the first error
 * reply; its .error is 0 when the failure was not a reply. */
int nftq_batch_send(struct nftq *q, struct nftq_batch *b, struct nftq_error *ret_err);

/* --- rules and tables at the libnftnl level (nftq_expr.c) ---------------- */

struct nftnl_chain;
struct nftnl_expr;
struct nftnl_rule;

/* The rule (chain) a dump message carries: 1 with *ret parsed (the caller
 * frees it), 0 for a message of another kind (*ret NULL), -ENOMEM, or
 * -EBADMSG when it does not parse. */
int nftq_rule_from_msg(const struct nlmsghdr *nlh, struct nftnl_rule **ret);
int nftq_chain_from_msg(const struct nlmsghdr *nlh, struct nftnl_chain **ret);

/* A NEWTABLE (with NLM_F_CREATE: no error when it exists) or DELTABLE of
 * table `family name` into the batch. 0, or the build error. */
int nftq_batch_add_table(struct nftq_batch *b, uint16_t msg_type, uint16_t family, const char *name);

/* NFT_MSG_GETTABLE of table `family name`: nftq_request's result
 * (-ENOENT when there is no such table), cb called on the table. */
int nftq_table_get(struct nftq *q, uint16_t family, const char *name, nftq_msg_cb cb, void *userdata);

/* For the *_build functions of message-level tests: r is the result of
 * building batch b (ended); copies b's bytes into buf. Returns their
 * length, r when it is an error, or -ENOBUFS when len is too small; b is
 * done either way. */
ssize_t nftq_batch_copy(struct nftq_batch *b, int r, void *buf, size_t len);

/* A NEWRULE appending r (built; NULL: -ENOMEM) to its chain. */
int nftq_batch_add_rule(struct nftq_batch *b, uint16_t family, struct nftnl_rule *r);

/* Building rules: each appends one expression to r; 0 or -ENOMEM. */
/* A new expression `name` appended to r; NULL when out of memory. */
struct nftnl_expr *nftq_expr_add(struct nftnl_rule *r, const char *name);
/* meta KEY => reg 1 */
int nftq_add_meta(struct nftnl_rule *r, uint32_t key);
/* payload load LEN bytes @ BASE + OFF => reg 1 */
int nftq_add_load(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len);
/* cmp eq reg 1 DATA (its length must be the load's before it) */
int nftq_add_cmp_eq(struct nftnl_rule *r, const void *data, uint32_t len);

/* Up to max expressions of r into ret; returns how many r has (which may
 * be more than max), or -ENOMEM. */
int nftq_rule_exprs(const struct nftnl_rule *r, struct nftnl_expr **ret, int max);
/* Attribute `type` is unset in both, or holds the same bytes in both. */
bool nftq_expr_attr_equal(const struct nftnl_expr *a, const struct nftnl_expr *b, uint16_t type);

/* Forgives an attribute of expression `name` that differs between want
 * and got (what the kernel normalises); NULL forgives nothing. */
typedef bool (*nftq_attr_tolerated)(const char *name, const struct nftnl_expr *want, const struct nftnl_expr *got,
				    uint16_t type);

/* The longest rule nftq_rule_equal compares (the NAT-mode ARP rule: 9). */
#define NFTQ_RULE_MAX_EXPRS 16

/* 1 when got, read back from the kernel, has exactly want's expressions
 * (same names, every attribute alike, but for what tolerated forgives);
 * 0 when not -- also when got carries a comment (userdata) or more than
 * NFTQ_RULE_MAX_EXPRS expressions; -ENOMEM. */
int nftq_rule_equal(const struct nftnl_rule *want, const struct nftnl_rule *got, nftq_attr_tolerated tolerated);
