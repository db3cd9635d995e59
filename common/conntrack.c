/* Conntrack purge over raw ctnetlink (libmnl), the way `conntrack -D -s`
 * and `-D -d` do it: dump the table, and destroy every match. The deletes
 * are sent only after the dump has ended: a request sent on the dumping
 * socket would interleave its answer with the multi-part dump, and a
 * second socket would cost one more per run. The kernel-side dump filters
 * of older kernels know nothing of addresses, so the walk compares them.
 *
 * A dump walks every bucket of the kernel's hash table (262144 on a host
 * with 4 GiB or more), whatever the namespace holds: so one dump serves all
 * addresses of both families, and none is made when the namespace tracks
 * no connection at all. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conntrack.h"
#include "util.h"

/* The kernel sizes later parts of a dump to the reader's buffer, up to
 * 32 KiB: fewer reads for a big table. */
#define CT_RECV_BUF 32768

DEFINE_TRIVIAL_CLEANUP_FUNC(struct mnl_socket *, mnl_socket_close)

/* The delete requests, built during the dump and sent after it, one after
 * the other (each NLMSG_ALIGNed, as in a datagram). */
struct ct_dels {
	char *buf;
	size_t len, cap;
};

struct ct_walk {
	const struct ip_addr *addrs;
	size_t n_addrs;
	struct ct_dels *dels;
	int error; /* first failure of the walk (a malformed entry, no memory), as -errno */
};

static void ct_dels_done(struct ct_dels *d)
{
	free(d->buf);
}

static int ct_dels_reserve(struct ct_dels *d, size_t more)
{
	size_t cap = d->cap ? d->cap : 4096;
	char *p;

	while (cap - d->len < more) {
		if (cap > SIZE_MAX / 2)
			return -ENOMEM;
		cap *= 2;
	}
	if (cap == d->cap)
		return 0;
	p = realloc(d->buf, cap);
	if (!p)
		return -ENOMEM;
	d->buf = p;
	d->cap = cap;
	return 0;
}

/* Whether one address attribute of the original tuple equals a. Its
 * length is checked first: the dump is kernel data, but a short attribute
 * must not make us read past it. */
static bool ct_addr_eq(const struct nlattr *attr, const struct ip_addr *a)
{
	if (a->family == AF_INET)
		return mnl_attr_validate(attr, MNL_TYPE_U32) == 0 &&
		       memcmp(mnl_attr_get_payload(attr), &a->v4, sizeof(a->v4)) == 0;
	return mnl_attr_validate2(attr, MNL_TYPE_BINARY, sizeof(a->v6)) == 0 &&
	       memcmp(mnl_attr_get_payload(attr), &a->v6, sizeof(a->v6)) == 0;
}

/* Fills tb[] with the attributes of a nest, each at most once (the last
 * wins, as in the kernel's own parser). -EBADMSG when the nest's payload
 * does not hold whole attributes. */
static int ct_parse_nest(const struct nlattr *nest, const struct nlattr **tb, unsigned max)
{
	const struct nlattr *attr;
	size_t seen = 0;

	mnl_attr_for_each_nested(attr, nest) {
		unsigned type = mnl_attr_get_type(attr);

		seen += MNL_ALIGN(mnl_attr_get_len(attr));
		if (type <= max)
			tb[type] = attr;
	}
	/* mnl_attr_for_each_nested stops quietly at a bad length; the rest
	 * would go unread. */
	return seen < mnl_attr_get_payload_len(nest) ? -EBADMSG : 0;
}

/* Whether the entry's original source or destination is one of the
 * addresses of its family. -EBADMSG for a malformed tuple. */
static int ct_tuple_matches(const struct ct_walk *w, uint8_t family, const struct nlattr *orig)
{
	const struct nlattr *tuple[CTA_TUPLE_MAX + 1] = {}, *ip[CTA_IP_MAX + 1] = {};
	const struct nlattr *src, *dst;
	int r;

	if (family != AF_INET && family != AF_INET6)
		return 0;
	if (mnl_attr_validate(orig, MNL_TYPE_NESTED) < 0)
		return -EBADMSG;
	r = ct_parse_nest(orig, tuple, CTA_TUPLE_MAX);
	if (r < 0)
		return r;
	if (!tuple[CTA_TUPLE_IP] || mnl_attr_validate(tuple[CTA_TUPLE_IP], MNL_TYPE_NESTED) < 0)
		return -EBADMSG;
	r = ct_parse_nest(tuple[CTA_TUPLE_IP], ip, CTA_IP_MAX);
	if (r < 0)
		return r;
	src = ip[family == AF_INET ? CTA_IP_V4_SRC : CTA_IP_V6_SRC];
	dst = ip[family == AF_INET ? CTA_IP_V4_DST : CTA_IP_V6_DST];

	for (size_t i = 0; i < w->n_addrs; i++) {
		const struct ip_addr *a = &w->addrs[i];

		if (a->family != family)
			continue;
		if ((src && ct_addr_eq(src, a)) || (dst && ct_addr_eq(dst, a)))
			return 1;
	}
	return 0;
}

/* Appends the delete request of one entry: its original tuple as received
 * (the kernel finds the entry by it) and its zone, if any (the same tuple
 * may be tracked once per zone). */
static int ct_dels_add(struct ct_dels *d, uint8_t family, const struct nlattr *orig, const struct nlattr *zone)
{
	size_t orig_len = mnl_attr_get_len(orig);
	size_t need = MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct nfgenmsg)) + MNL_ALIGN(orig_len) +
		      MNL_ALIGN(sizeof(struct nlattr) + sizeof(uint16_t));
	struct nlmsghdr *nlh;
	struct nfgenmsg *g;
	int r;

	r = ct_dels_reserve(d, need);
	if (r < 0)
		return r;
	/* Zeroed, so no stale byte (alignment padding) goes to the kernel. */
	memset(d->buf + d->len, 0, need);
	nlh = mnl_nlmsg_put_header(d->buf + d->len);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	/* The kernel reads the tuple's addresses by this family. */
	g->nfgen_family = family;
	g->version = NFNETLINK_V0;
	memcpy(mnl_nlmsg_put_extra_header(nlh, MNL_ALIGN(orig_len)), orig, orig_len);
	if (zone)
		mnl_attr_put(nlh, CTA_ZONE, sizeof(uint16_t), mnl_attr_get_payload(zone));
	d->len += NLMSG_ALIGN(nlh->nlmsg_len);
	return 0;
}

/* One entry of the dump. A malformed one is remembered as -EBADMSG and
 * skipped: the rest of the dump is still read (and purged), so that none
 * of it stays queued on the socket. */
static int ct_walk_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ct_walk *w = data;
	const struct nlattr *tb[CTA_MAX + 1] = {};
	const struct nfgenmsg *g;
	const struct nlattr *attr;
	size_t seen = 0;
	int r;

	if (nlh->nlmsg_type != ((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW))
		return MNL_CB_OK;
	if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(*g))) {
		r = -EBADMSG;
		goto out;
	}
	g = mnl_nlmsg_get_payload(nlh);
	mnl_attr_for_each(attr, nlh, sizeof(*g)) {
		unsigned type = mnl_attr_get_type(attr);

		seen += MNL_ALIGN(mnl_attr_get_len(attr));
		if (type <= CTA_MAX)
			tb[type] = attr;
	}
	if (seen < mnl_nlmsg_get_payload_len(nlh) - MNL_ALIGN(sizeof(*g))) {
		r = -EBADMSG;
		goto out;
	}
	/* Without an original tuple a delete request would flush the whole
	 * table: such an entry is never a match. */
	if (!tb[CTA_TUPLE_ORIG])
		return MNL_CB_OK;
	r = ct_tuple_matches(w, g->nfgen_family, tb[CTA_TUPLE_ORIG]);
	if (r == 0)
		return MNL_CB_OK;
	if (r > 0 && tb[CTA_ZONE] && mnl_attr_validate(tb[CTA_ZONE], MNL_TYPE_U16) < 0)
		r = -EBADMSG;
	if (r > 0)
		r = ct_dels_add(w->dels, g->nfgen_family, tb[CTA_TUPLE_ORIG], tb[CTA_ZONE]);
out:
	if (r < 0 && w->error == 0)
		w->error = r;
	return MNL_CB_OK;
}

/* An error reply to the dump request. */
static int ct_error_cb(const struct nlmsghdr *nlh, _unused_ void *data)
{
	const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*err))) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	if (err->error == 0)
		return MNL_CB_STOP;
	errno = err->error < 0 ? -err->error : EIO;
	return MNL_CB_ERROR;
}

/* The end of a dump carries the dump's own error, if it failed midway
 * (libmnl's default handler ignores it). */
static int ct_done_cb(const struct nlmsghdr *nlh, _unused_ void *data)
{
	int e = 0;

	if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(e))
		memcpy(&e, mnl_nlmsg_get_payload(nlh), sizeof(e));
	if (e < 0) {
		errno = -e;
		return MNL_CB_ERROR;
	}
	return MNL_CB_STOP;
}

/* One datagram into buf: its length, or -errno (-ENOSPC: truncated). */
static ssize_t ct_recv(struct mnl_socket *nl, void *buf, size_t size)
{
	ssize_t n;

	do
		n = mnl_socket_recvfrom(nl, buf, size);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return negative_errno();
	if (n == 0)
		return -EPIPE;
	return n;
}

static int ct_dump(struct mnl_socket *nl, uint32_t portid, uint32_t seq, void *buf, struct ct_walk *w)
{
	char req[MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct nfgenmsg))] = {};
	/* Given an array, libmnl skips the control messages it has no entry
	 * for: an error reply would go unseen without ours. */
	mnl_cb_t ctl[NLMSG_MIN_TYPE] = { [NLMSG_ERROR] = ct_error_cb, [NLMSG_DONE] = ct_done_cb };
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(req);
	struct nfgenmsg *g;
	int r;

	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = AF_UNSPEC; /* both families in one walk */
	g->version = NFNETLINK_V0;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return negative_errno();

	do {
		ssize_t n = ct_recv(nl, buf, CT_RECV_BUF);

		if (n < 0)
			return (int)n;
		r = mnl_cb_run2(buf, (size_t)n, seq, portid, ct_walk_cb, w, ctl, ELEMENTSOF(ctl));
	} while (r == MNL_CB_OK);
	return r < 0 ? negative_errno() : 0;
}

/* Sends the deletes from d->buf + *off in one datagram, as many as fit in
 * size (at least one), and reads their acks: each is acked separately, in
 * order. Bounded so that the acks fit in our receive buffer. Counts
 * deletions into *deleted and the first failure other than ENOENT into
 * *error; -errno only when the socket itself fails. */
static int ct_send_dels(struct mnl_socket *nl, uint32_t portid, uint32_t *seq, const struct ct_dels *d,
			size_t *off, size_t size, void *buf, unsigned *deleted, int *error)
{
	uint32_t first = *seq + 1;
	size_t end = *off;
	unsigned sent = 0, acked = 0;

	while (end < d->len) {
		struct nlmsghdr *nlh = (struct nlmsghdr *)(d->buf + end);
		size_t len = NLMSG_ALIGN(nlh->nlmsg_len);

		if (sent > 0 && end - *off + len > size)
			break;
		nlh->nlmsg_seq = ++*seq;
		end += len;
		sent++;
	}
	if (mnl_socket_sendto(nl, d->buf + *off, end - *off) < 0)
		return negative_errno();
	*off = end;

	while (acked < sent) {
		ssize_t n = ct_recv(nl, buf, CT_RECV_BUF);
		const struct nlmsghdr *nlh = buf;
		int left;

		if (n < 0)
			return (int)n;
		for (left = (int)n; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
			const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);

			if (nlh->nlmsg_type != NLMSG_ERROR || nlh->nlmsg_pid != portid ||
			    nlh->nlmsg_seq - first >= sent)
				continue; /* not an ack of ours */
			if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*err)))
				return -EBADMSG;
			acked++;
			if (err->error == 0)
				(*deleted)++;
			else if (err->error != -ENOENT && *error == 0)
				/* Gone already (timed out, or seen twice by the
				 * dump): fine. Anything else is reported, but
				 * the purge goes on. */
				*error = err->error < 0 ? err->error : -EIO;
		}
	}
	return 0;
}

/* The number of connections tracked in this namespace; -ENOENT when the
 * kernel has no connection tracking. */
static int ct_count(unsigned long *ret)
{
	_cleanup_close_ int fd = open("/proc/sys/net/netfilter/nf_conntrack_count", O_RDONLY | O_CLOEXEC);
	char buf[32], *end;
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	buf[n] = 0;
	errno = 0;
	*ret = strtoul(buf, &end, 10);
	return errno || end == buf ? -EIO : 0;
}

int ct_purge_addrs(const struct ip_addr *addrs, size_t n, unsigned *ret_deleted)
{
	_cleanup_(mnl_socket_closep) struct mnl_socket *nl = NULL;
	_cleanup_(ct_dels_done) struct ct_dels dels = {};
	_cleanup_free_ void *buf = NULL;
	struct ct_walk w = { .addrs = addrs, .n_addrs = n, .dels = &dels };
	unsigned long count = 1;
	unsigned deleted = 0;
	uint32_t portid, seq = 1;
	size_t off = 0;
	long size;
	int error, r;

	for (size_t i = 0; i < n; i++)
		if (addrs[i].family != AF_INET && addrs[i].family != AF_INET6)
			return -EAFNOSUPPORT;
	if (ret_deleted)
		*ret_deleted = 0;
	if (n == 0)
		return 0;
	r = ct_count(&count);
	if (r == -ENOENT || (r == 0 && count == 0))
		return 0;

	buf = malloc(CT_RECV_BUF);
	if (!buf)
		return -ENOMEM;
	nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!nl)
		return negative_errno();
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return negative_errno();
	portid = mnl_socket_get_portid(nl);

	r = ct_dump(nl, portid, seq, buf, &w);
	if (r < 0)
		return r;

	error = w.error;
	size = MNL_SOCKET_BUFFER_SIZE;
	while (off < dels.len) {
		r = ct_send_dels(nl, portid, &seq, &dels, &off, (size_t)size, buf, &deleted, &error);
		if (r < 0)
			return r;
	}
	if (error < 0)
		return error;

	if (ret_deleted)
		*ret_deleted = deleted;
	return 0;
}

int ct_purge_addr(const struct ip_addr *a, unsigned *ret_deleted)
{
	if (!a)
		return -EAFNOSUPPORT;
	return ct_purge_addrs(a, 1, ret_deleted);
}
