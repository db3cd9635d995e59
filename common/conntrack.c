/* Conntrack purge through libnetfilter_conntrack, the way `conntrack -D -s`
 * and `-D -d` do it: dump the table on one handle, and destroy every match
 * through a second handle (deleting through the dumping handle would
 * interleave requests with a multi-part dump). The 1.0.9 kernel-side dump
 * filters know nothing of addresses, so the callback compares them.
 *
 * A dump walks every bucket of the kernel's hash table (262144 on a host
 * with 4 GiB or more), whatever the namespace holds: so one dump serves all
 * addresses of both families, and none is made when the namespace tracks
 * no connection at all. */
#include <errno.h>
#include <fcntl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conntrack.h"
#include "util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct nfct_handle *, nfct_close)

struct ct_purge {
	const struct ip_addr *addrs;
	size_t n_addrs;
	struct nfct_handle *del;
	unsigned deleted;
	int error; /* first destroy failure other than ENOENT, as -errno */
};

/* nfct_open's socket lacks SOCK_CLOEXEC; add it. */
static int ct_open(struct nfct_handle **ret)
{
	struct nfct_handle *h = nfct_open(CONNTRACK, 0);
	int fd;

	if (!h)
		return negative_errno();
	fd = nfct_fd(h);
	if (fd < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		int r = fd < 0 ? -EBADF : negative_errno();

		nfct_close(h);
		return r;
	}
	*ret = h;
	return 0;
}

static bool ct_matches(const struct nf_conntrack *ct, const struct ip_addr *a)
{
	if (!nfct_attr_is_set(ct, ATTR_L3PROTO) || nfct_get_attr_u8(ct, ATTR_L3PROTO) != a->family)
		return false;

	if (a->family == AF_INET) {
		uint32_t want = a->v4.s_addr;

		return (nfct_attr_is_set(ct, ATTR_ORIG_IPV4_SRC) && nfct_get_attr_u32(ct, ATTR_ORIG_IPV4_SRC) == want) ||
		       (nfct_attr_is_set(ct, ATTR_ORIG_IPV4_DST) && nfct_get_attr_u32(ct, ATTR_ORIG_IPV4_DST) == want);
	}

	const void *src = nfct_attr_is_set(ct, ATTR_ORIG_IPV6_SRC) ? nfct_get_attr(ct, ATTR_ORIG_IPV6_SRC) : NULL;
	const void *dst = nfct_attr_is_set(ct, ATTR_ORIG_IPV6_DST) ? nfct_get_attr(ct, ATTR_ORIG_IPV6_DST) : NULL;

	return (src && memcmp(src, &a->v6, sizeof(a->v6)) == 0) || (dst && memcmp(dst, &a->v6, sizeof(a->v6)) == 0);
}

static int ct_purge_cb(_unused_ enum nf_conntrack_msg_type type, struct nf_conntrack *ct, void *data)
{
	struct ct_purge *p = data;
	bool match = false;

	for (size_t i = 0; i < p->n_addrs && !match; i++)
		match = ct_matches(ct, &p->addrs[i]);
	if (!match)
		return NFCT_CB_CONTINUE;

	if (nfct_query(p->del, NFCT_Q_DESTROY, ct) == 0)
		p->deleted++;
	else if (errno != ENOENT && p->error == 0)
		/* Gone already (timed out, or seen twice by the dump): fine.
		 * Anything else is reported, but the purge goes on. */
		p->error = negative_errno();
	return NFCT_CB_CONTINUE;
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
	_cleanup_(nfct_closep) struct nfct_handle *dump = NULL, *del = NULL;
	struct ct_purge p = { .addrs = addrs, .n_addrs = n };
	uint32_t family = AF_UNSPEC; /* both families in one walk */
	unsigned long count = 1;
	int r;

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

	r = ct_open(&dump);
	if (r < 0)
		return r;
	r = ct_open(&del);
	if (r < 0)
		return r;
	p.del = del;

	if (nfct_callback_register(dump, NFCT_T_ALL, ct_purge_cb, &p) < 0)
		return negative_errno();
	if (nfct_query(dump, NFCT_Q_DUMP, &family) < 0)
		return negative_errno();
	if (p.error < 0)
		return p.error;

	if (ret_deleted)
		*ret_deleted = p.deleted;
	return 0;
}

int ct_purge_addr(const struct ip_addr *a, unsigned *ret_deleted)
{
	if (!a)
		return -EAFNOSUPPORT;
	return ct_purge_addrs(a, 1, ret_deleted);
}
