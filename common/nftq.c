/* The nf_tables socket, requests and batches (nftq_internal.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/gen.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "nftq_internal.h"
#include "util.h"

int nftq_open(struct nftq **ret)
{
	struct nftq *q;
	int one = 1, r;

	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->rbuf = malloc(NFTQ_RECV_BUF);
	if (!q->rbuf) {
		r = -ENOMEM;
		goto fail;
	}
	q->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!q->nl) {
		r = negative_errno();
		goto fail;
	}
	if (mnl_socket_bind(q->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = negative_errno();
		goto fail;
	}
	/* Extended acks say which attribute of which message failed; capped
	 * acks keep the error replies small (we match them by seq, the
	 * original message is not needed). Both are optional niceties: an old
	 * kernel without them still works. */
	(void)mnl_socket_setsockopt(q->nl, NETLINK_EXT_ACK, &one, sizeof(one));
	(void)mnl_socket_setsockopt(q->nl, NETLINK_CAP_ACK, &one, sizeof(one));
	q->portid = mnl_socket_get_portid(q->nl);
	/* Any start will do; a fixed one makes straces comparable. */
	q->seq = 0;
	*ret = q;
	return 0;
fail:
	if (q->nl)
		mnl_socket_close(q->nl);
	free(q->rbuf);
	free(q);
	return r;
}

void nftq_close(struct nftq *q)
{
	if (!q)
		return;
	/* When q->deleted, this close() waits in the kernel for the deferred
	 * destruction of what was deleted (an RCU grace period, ~7-23 ms):
	 * nothing to do about it here, callers budget for it. */
	mnl_socket_close(q->nl);
	free(q->rbuf);
	free(q);
}

uint32_t nftq_next_seq(struct nftq *q)
{
	if (++q->seq == 0)
		q->seq = 1;
	return q->seq;
}

/* --- requests ------------------------------------------------------------- */

/* One datagram into q->rbuf: its length, -EAGAIN (only with MSG_DONTWAIT),
 * -EMSGSIZE when it did not fit (the answer would silently lose messages),
 * or the socket's error (-ENOBUFS: the kernel dropped replies). */
static ssize_t recv_one(struct nftq *q, int flags)
{
	struct iovec iov = { .iov_base = q->rbuf, .iov_len = NFTQ_RECV_BUF };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	do
		n = recvmsg(mnl_socket_get_fd(q->nl), &mh, flags);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return negative_errno();
	if (mh.msg_flags & MSG_TRUNC)
		return -EMSGSIZE;
	return n;
}

/* Walks one read of an answer to seq. Returns 1 when the answer is
 * complete, 0 when more is to come, -errno for an error reply or a
 * malformed message. *intr is set by a dump interrupted by a change. */
static int request_parse(struct nftq *q, size_t len, uint32_t seq, nftq_msg_cb cb, void *userdata, int *cb_error,
			 bool *intr)
{
	const struct nlmsghdr *nlh;
	int left = (int)len;

	for (nlh = (const struct nlmsghdr *)q->rbuf; left >= 0 && NLMSG_OK(nlh, (unsigned)left);
	     nlh = NLMSG_NEXT(nlh, left)) {
		if (nlh->nlmsg_seq != seq || nlh->nlmsg_pid != q->portid)
			continue; /* the tail of an earlier answer, or an event */
		if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
			*intr = true;
		if (nlh->nlmsg_type == NLMSG_DONE) {
			int e = 0;

			if (nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(e)))
				memcpy(&e, NLMSG_DATA(nlh), sizeof(e));
			return e < 0 ? e : 1;
		}
		if (nlh->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *err = NLMSG_DATA(nlh);

			if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*err)))
				return -EBADMSG;
			return err->error < 0 ? err->error : 1;
		}
		if (nlh->nlmsg_type < NLMSG_MIN_TYPE)
			continue; /* NOOP, OVERRUN */
		/* After a callback failed, the rest is only read, so that
		 * none of it stays queued for the next request. */
		if (cb && *cb_error == 0) {
			int r = cb(nlh, userdata);

			if (r < 0)
				*cb_error = r;
		}
	}
	return 0;
}

int nftq_request(struct nftq *q, struct nlmsghdr *nlh, nftq_msg_cb cb, void *userdata)
{
	uint32_t seq = nftq_next_seq(q);
	bool intr = false;
	int cb_error = 0;

	nlh->nlmsg_seq = seq;
	nlh->nlmsg_flags |= NLM_F_REQUEST;
	if (!(nlh->nlmsg_flags & NLM_F_DUMP))
		/* A GET answers with data only; the ack marks its end. */
		nlh->nlmsg_flags |= NLM_F_ACK;
	if (mnl_socket_sendto(q->nl, nlh, nlh->nlmsg_len) < 0)
		return negative_errno();
	for (;;) {
		ssize_t n = recv_one(q, 0);
		int r;

		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EBADMSG;
		r = request_parse(q, (size_t)n, seq, cb, userdata, &cb_error, &intr);
		if (r < 0)
			return r;
		if (r > 0)
			break;
	}
	if (cb_error < 0)
		return cb_error;
	return intr ? -EINTR : 0;
}

/* --- genid ---------------------------------------------------------------- */

struct gen_ctx {
	uint32_t id;
	bool found;
};

static int gen_cb(const struct nlmsghdr *nlh, void *userdata)
{
	struct gen_ctx *c = userdata;
	struct nftnl_gen *g;
	int r = 0;

	if (NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_NEWGEN)
		return 0;
	g = nftnl_gen_alloc();
	if (!g)
		return -ENOMEM;
	if (nftnl_gen_nlmsg_parse(nlh, g) < 0 || !nftnl_gen_is_set(g, NFTNL_GEN_ID))
		r = -EBADMSG;
	else {
		/* Not nftnl_gen_get_data: in libnftnl 1.2.4 it writes through
		 * the length pointer and crashes on NULL. */
		c->id = nftnl_gen_get_u32(g, NFTNL_GEN_ID);
		c->found = true;
	}
	nftnl_gen_free(g);
	return r;
}

int nftq_genid(struct nftq *q, uint32_t *ret)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct gen_ctx c = { 0 };
	struct nlmsghdr *nlh;
	int r;

	memset(buf, 0, MNL_SOCKET_BUFFER_SIZE); /* what libnftnl leaves unwritten goes out as zeros */
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETGEN, NFPROTO_UNSPEC, 0, 0);
	r = nftq_request(q, nlh, gen_cb, &c);
	if (r < 0)
		return r;
	if (!c.found)
		return -EBADMSG;
	*ret = c.id;
	return 0;
}

/* --- batches -------------------------------------------------------------- */

void nftq_batch_init(struct nftq_batch *b, uint32_t first_seq)
{
	*b = (struct nftq_batch){ .seq = first_seq ? first_seq : 1 };
}

void nftq_batch_done(struct nftq_batch *b)
{
	if (!b)
		return;
	free(b->buf);
	*b = (struct nftq_batch){ 0 };
}

static uint32_t batch_seq(struct nftq_batch *b)
{
	uint32_t s = b->seq++;

	if (b->seq == 0)
		b->seq = 1;
	return s;
}

/* Closes the message being filled: checks it stayed within its room and
 * counts it in. */
static void batch_finish_cur(struct nftq_batch *b)
{
	if (!b->cur)
		return;
	if (b->cur->nlmsg_len > NFTQ_MSG_MAX) {
		/* A caller broke the NFTQ_MSG_MAX contract; the allocation has
		 * slack (it doubles), but the batch is refused anyway. */
		if (!b->error)
			b->error = -EMSGSIZE;
	} else
		b->len += NLMSG_ALIGN(b->cur->nlmsg_len);
	b->cur = NULL;
}

/* Makes room for one more message of up to NFTQ_MSG_MAX bytes. No need to
 * clear it: libnftnl writes every header byte and libmnl zeroes attribute
 * padding, and every message length is a multiple of 4. */
static int batch_reserve(struct nftq_batch *b)
{
	size_t need = b->len + NFTQ_MSG_MAX, size;
	uint8_t *p;

	if (b->error)
		return b->error;
	if (need <= b->size)
		return 0;
	/* The usual few small messages fit the first allocation. */
	size = b->size ? b->size * 2 : 2 * NFTQ_MSG_MAX;
	if (size < need)
		size = need;
	p = realloc(b->buf, size);
	if (!p)
		return (b->error = -ENOMEM);
	/* The batch goes to the kernel as it is: no byte of it uninitialised
	 * (what a message builder skips, such as padding, is zero). */
	memset(p + b->size, 0, size - b->size);
	b->buf = p;
	b->size = size;
	return 0;
}

int nftq_batch_begin(struct nftq_batch *b, uint32_t genid)
{
	struct nlmsghdr *nlh;
	int r;

	if (b->begun)
		return b->error ? b->error : (b->error = -EINVAL);
	r = batch_reserve(b);
	if (r < 0)
		return r;
	b->begun = true;
	b->begin_seq = batch_seq(b);
	nlh = nftnl_batch_begin((char *)b->buf + b->len, b->begin_seq);
	if (genid)
		mnl_attr_put_u32(nlh, NFNL_BATCH_GENID, htonl(genid));
	b->cur = nlh;
	batch_finish_cur(b);
	return b->error;
}

/* NFT_MSG_DESTROYTABLE .. NFT_MSG_DESTROYFLOWTABLE (Linux 6.3). */
#define NFTQ_MSG_DESTROY_FIRST 26
#define NFTQ_MSG_DESTROY_LAST 32

static bool is_delete(uint16_t msg_type)
{
	switch (msg_type) {
	case NFT_MSG_DELTABLE:
	case NFT_MSG_DELCHAIN:
	case NFT_MSG_DELRULE:
	case NFT_MSG_DELSET:
	case NFT_MSG_DELSETELEM:
	case NFT_MSG_DELOBJ:
	case NFT_MSG_DELFLOWTABLE:
		return true;
	default:
		return msg_type >= NFTQ_MSG_DESTROY_FIRST && msg_type <= NFTQ_MSG_DESTROY_LAST;
	}
}

struct nlmsghdr *nftq_batch_add(struct nftq_batch *b, uint16_t msg_type, uint16_t family, uint16_t flags)
{
	struct nlmsghdr *nlh;

	batch_finish_cur(b);
	if (!b->begun || b->ended) {
		if (!b->error)
			b->error = -EINVAL;
		return NULL;
	}
	if (batch_reserve(b) < 0)
		return NULL;
	nlh = nftnl_nlmsg_build_hdr((char *)b->buf + b->len, msg_type, family, flags | NLM_F_ACK,
				    batch_seq(b));
	if (is_delete(msg_type))
		b->deletes = true;
	b->n_msgs++;
	b->cur = nlh;
	return nlh;
}

ssize_t nftq_batch_end(struct nftq_batch *b)
{
	batch_finish_cur(b);
	if (b->ended)
		return b->error ? b->error : (ssize_t)b->len;
	if (!b->begun && !b->error)
		b->error = -EINVAL;
	if (b->error)
		return b->error;
	if (batch_reserve(b) < 0)
		return b->error;
	b->cur = nftnl_batch_end((char *)b->buf + b->len, batch_seq(b));
	batch_finish_cur(b);
	b->ended = true;
	return b->error ? b->error : (ssize_t)b->len;
}

/* (Not mnl_socket_setsockopt: that one is for the SOL_NETLINK level.)
 *
 * Best effort: room in the receive queue for one ack per message, so none
 * is dropped (a lost error would read as success). The kernel accounts
 * each reply skb at its truesize, ~1 KiB for an ack. */
static void ensure_rcvbuf(struct nftq *q, unsigned n_msgs)
{
	int want = (int)(n_msgs + 8) * 2048;

	if (n_msgs < 64 || want <= q->rcvbuf)
		return;
	/* FORCE passes rmem_max; it needs CAP_NET_ADMIN, which writing
	 * nf_tables needs anyway. */
	if (setsockopt(mnl_socket_get_fd(q->nl), SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof(want)) < 0)
		(void)setsockopt(mnl_socket_get_fd(q->nl), SOL_SOCKET, SO_RCVBUF, &want, sizeof(want));
	q->rcvbuf = want;
}

/* The kernel refuses a datagram larger than the send buffer (EMSGSIZE):
 * raise it for a big batch, best effort as above. */
static void ensure_sndbuf(struct nftq *q, size_t len)
{
	int want;

	if (len <= NFTQ_SNDBUF_DEFAULT || len > INT_MAX / 4)
		return;
	/* The kernel doubles the value for its own bookkeeping, and the
	 * datagram must stay below that minus a little. */
	want = (int)len + 4096;
	if (want <= q->sndbuf)
		return;
	if (setsockopt(mnl_socket_get_fd(q->nl), SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof(want)) < 0)
		(void)setsockopt(mnl_socket_get_fd(q->nl), SOL_SOCKET, SO_SNDBUF, &want, sizeof(want));
	q->sndbuf = want;
}

static void parse_ext_ack(const struct nlmsghdr *nlh, const struct nlmsgerr *err, struct nftq_error *e)
{
	const struct nlattr *attr; /* the name mnl_attr_for_each_payload uses */
	size_t off;

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	/* The TLVs follow the original message, or only its header when the
	 * ack is capped. */
	off = sizeof(*err);
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += err->msg.nlmsg_len - sizeof(struct nlmsghdr);
	if (NLMSG_LENGTH(off) > nlh->nlmsg_len)
		return;
	mnl_attr_for_each_payload((const struct nlattr *)((const uint8_t *)err + off), nlh->nlmsg_len - NLMSG_LENGTH(off)) {
		switch (mnl_attr_get_type(attr)) {
		case NLMSGERR_ATTR_OFFS:
			if (mnl_attr_validate(attr, MNL_TYPE_U32) == 0) {
				e->has_offset = true;
				e->offset = mnl_attr_get_u32(attr);
			}
			break;
		case NLMSGERR_ATTR_MSG:
			if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
				snprintf(e->msg, sizeof(e->msg), "%s", mnl_attr_get_str(attr));
			break;
		default:
			break;
		}
	}
}

/* Reads the replies queued by the batch: the first error into *e. */
static int batch_drain(struct nftq *q, const struct nftq_batch *b, struct nftq_error *e)
{
	for (;;) {
		ssize_t n = recv_one(q, MSG_DONTWAIT);
		const struct nlmsghdr *nlh;
		int left;

		if (n == -EAGAIN || n == -EWOULDBLOCK)
			return 0;
		if (n < 0)
			return (int)n;
		if (n == 0)
			return 0;
		left = (int)n;
		for (nlh = (const struct nlmsghdr *)q->rbuf; left >= 0 && NLMSG_OK(nlh, (unsigned)left);
		     nlh = NLMSG_NEXT(nlh, left)) {
			const struct nlmsgerr *err;
			uint32_t rel;

			if (nlh->nlmsg_pid != q->portid || nlh->nlmsg_type != NLMSG_ERROR)
				continue; /* not ours, or not an ack */
			rel = nlh->nlmsg_seq - b->begin_seq; /* wraps: works across 2^32 too */
			if (rel > b->n_msgs + 1)
				continue; /* a stale answer to something earlier */
			if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*err)))
				return -EBADMSG;
			err = NLMSG_DATA(nlh);
			if (err->error >= 0 || e->error < 0)
				continue;
			e->error = err->error;
			e->seq = nlh->nlmsg_seq;
			e->type = err->msg.nlmsg_type;
			parse_ext_ack(nlh, err, e);
		}
	}
}

int nftq_batch_send(struct nftq *q, struct nftq_batch *b, struct nftq_error *ret_err)
{
	struct nftq_error e = { 0 };
	ssize_t len;
	int r;

	if (ret_err)
		*ret_err = e;
	len = nftq_batch_end(b);
	if (len < 0)
		return (int)len;
	/* Later requests on this socket must not reuse the batch's numbers. */
	q->seq = b->seq - 1;
	ensure_rcvbuf(q, b->n_msgs);
	ensure_sndbuf(q, (size_t)len);
	if (mnl_socket_sendto(q->nl, b->buf, (size_t)len) < 0)
		return negative_errno();
	r = batch_drain(q, b, &e);
	if (ret_err)
		*ret_err = e;
	if (e.error < 0)
		return e.error;
	if (r < 0)
		return r;
	if (b->deletes)
		q->deleted = true;
	return 0;
}
