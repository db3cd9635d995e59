/* rtnetlink through libnl-route-3. One NETLINK_ROUTE socket per struct nlr;
 * every request goes out and its ACK (or error) is read before returning.
 *
 * libnl turns kernel errnos into lossy NLE_* codes (ENOENT and ESRCH are
 * both NLE_OBJ_NOTFOUND, ENETDOWN is NLE_FAILURE), so a custom error
 * callback keeps the errno of the kernel's NLMSG_ERROR in n->kernel_errno;
 * each call clears it first and prefers it over the NLE code.
 *
 * The *_exists and nlr_neigh_get lookups dump with our own small parsers
 * (no caches, no per-object allocation). With NETLINK_GET_STRICT_CHK
 * (Linux >= 4.20) the kernel filters those dumps by interface (and, for
 * routes, by the main table); the parsers filter again, so an older kernel
 * that ignores the request's filter gives the same answers. */
#include <errno.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/route.h>
#include <netlink/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "nl.h"
#include "util.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif
#ifndef NETLINK_GET_STRICT_CHK
#define NETLINK_GET_STRICT_CHK 12
#endif

/* A multi-part dump the kernel flagged as interrupted (the table changed
 * while it was being read) is retried this many times before giving up. */
#define NLR_DUMP_TRIES 5

struct nlr {
	struct nl_sock *sk;
	int kernel_errno; /* positive errno of the last NLMSG_ERROR, 0 if none */
};

DEFINE_TRIVIAL_CLEANUP_FUNC(struct nl_msg *, nlmsg_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nl_cb *, nl_cb_put)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nl_addr *, nl_addr_put)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct rtnl_link *, rtnl_link_put)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct rtnl_addr *, rtnl_addr_put)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct rtnl_route *, rtnl_route_put)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct rtnl_nexthop *, rtnl_route_nh_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct rtnl_neigh *, rtnl_neigh_put)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nlr *, nlr_free)

static int nlr_err_cb(_unused_ struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	int *store = arg;

	*store = -e->error;
	return NL_STOP;
}

int nlr_open(struct nlr **ret)
{
	_cleanup_(nlr_freep) struct nlr *n = NULL;
	int one = 1;
	int r;

	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->sk = nl_socket_alloc();
	if (!n->sk)
		return -ENOMEM;
	r = nl_connect(n->sk, NETLINK_ROUTE);
	if (r < 0)
		return nlr_errno_from_nle(r);
	r = nl_socket_modify_err_cb(n->sk, NL_CB_CUSTOM, nlr_err_cb, &n->kernel_errno);
	if (r < 0)
		return nlr_errno_from_nle(r);
	/* Lets the kernel filter our dumps; older kernels lack it, and the
	 * dump parsers filter anyway. */
	(void)setsockopt(nl_socket_get_fd(n->sk), SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof(one));

	*ret = n;
	n = NULL;
	return 0;
}

struct nlr *nlr_free(struct nlr *n)
{
	if (n) {
		nl_socket_free(n->sk); /* closes the socket */
		free(n);
	}
	return NULL;
}

int nlr_errno_from_nle(int nle)
{
	switch (abs(nle)) {
	case NLE_SUCCESS:
		return 0;
	case NLE_EXIST:
		return -EEXIST;
	case NLE_OBJ_NOTFOUND:
		return -ENOENT;
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_NODEV:
		return -ENODEV;
	/* One-to-one codes (the only errno nl_syserr2nlerr maps there). */
	case NLE_NOADDR:
		return -EADDRNOTAVAIL;
	case NLE_INVAL:
		return -EINVAL;
	case NLE_NOACCESS:
		return -EACCES;
	case NLE_PERM:
		return -EPERM;
	case NLE_BUSY:
		return -EBUSY;
	case NLE_OPNOTSUPP:
		return -EOPNOTSUPP;
	case NLE_AF_NOSUPPORT:
		return -EAFNOSUPPORT;
	case NLE_RANGE:
		return -ERANGE;
	case NLE_AGAIN:
		return -EAGAIN;
	case NLE_INTR:
		return -EINTR;
	default:
		return -EIO;
	}
}

/* The result of a libnl call: 0, else the kernel's own errno if one came
 * back, else the NLE translation. */
static int nlr_result(const struct nlr *n, int nle)
{
	if (nle >= 0)
		return 0;
	if (n->kernel_errno > 0)
		return -n->kernel_errno;
	return nlr_errno_from_nle(nle);
}

/* Deleting what is not there: every flavour the kernel or libnl uses. */
static int nlr_missing(int r)
{
	if (r == -ESRCH || r == -EADDRNOTAVAIL)
		return -ENOENT;
	return r;
}

static int addr_len(const struct ip_addr *a)
{
	switch (a->family) {
	case AF_INET:
		return 4;
	case AF_INET6:
		return 16;
	default:
		return -EAFNOSUPPORT;
	}
}

/* A host nl_addr (/32 or /128) for a. */
static int nl_addr_from_ip(const struct ip_addr *a, struct nl_addr **ret)
{
	struct nl_addr *na;
	int len = addr_len(a);

	if (len < 0)
		return len;
	na = nl_addr_build(a->family, a->bytes, len);
	if (!na)
		return -ENOMEM;
	nl_addr_set_prefixlen(na, len * 8);
	*ret = na;
	return 0;
}

/* ---- links */

int nlr_link_get(struct nlr *n, const char *name, struct nlr_link *ret)
{
	_cleanup_(rtnl_link_putp) struct rtnl_link *l = NULL;
	const char *lname;
	int r;

	if (!name || !name[0] || strlen(name) >= IFNAME_MAX)
		return -EINVAL;
	n->kernel_errno = 0;
	/* libnl installs its own error callback for this request, so only
	 * the NLE code is available; a missing link is NLE_NODEV. */
	r = rtnl_link_get_kernel(n->sk, 0, name, &l);
	if (r < 0)
		return nlr_result(n, r);
	if (!l)
		return -ENODEV;

	memset(ret, 0, sizeof(*ret));
	ret->ifindex = rtnl_link_get_ifindex(l);
	ret->up = rtnl_link_get_flags(l) & IFF_UP;
	ret->group = rtnl_link_get_group(l);
	lname = rtnl_link_get_name(l);
	snprintf(ret->name, sizeof(ret->name), "%s", lname ? lname : name);
	lname = rtnl_link_get_ifalias(l);
	snprintf(ret->alias, sizeof(ret->alias), "%s", lname ? lname : "");
	return 0;
}

/* rtnl_link_change against an "original" that carries only the index, so
 * a change costs one request rather than a get plus a change. */
static int nlr_link_change(struct nlr *n, int ifindex, struct rtnl_link *chg)
{
	_cleanup_(rtnl_link_putp) struct rtnl_link *orig = NULL;

	if (ifindex <= 0)
		return -EINVAL;
	orig = rtnl_link_alloc();
	if (!orig)
		return -ENOMEM;
	rtnl_link_set_ifindex(orig, ifindex);
	n->kernel_errno = 0;
	return nlr_result(n, rtnl_link_change(n->sk, orig, chg, 0));
}

int nlr_link_set_up(struct nlr *n, int ifindex, bool up)
{
	_cleanup_(rtnl_link_putp) struct rtnl_link *chg = rtnl_link_alloc();

	if (!chg)
		return -ENOMEM;
	if (up)
		rtnl_link_set_flags(chg, IFF_UP);
	else
		rtnl_link_unset_flags(chg, IFF_UP);
	return nlr_link_change(n, ifindex, chg);
}

int nlr_link_set_state(struct nlr *n, int ifindex, bool up, uint32_t group)
{
	_cleanup_(rtnl_link_putp) struct rtnl_link *chg = rtnl_link_alloc();

	if (!chg)
		return -ENOMEM;
	/* One RTM_NEWLINK: the kernel sets the group before it opens the
	 * device, so no packet is ever seen from it outside group 2. */
	rtnl_link_set_group(chg, group);
	if (up)
		rtnl_link_set_flags(chg, IFF_UP);
	else
		rtnl_link_unset_flags(chg, IFF_UP);
	return nlr_link_change(n, ifindex, chg);
}

int nlr_link_rename(struct nlr *n, int ifindex, const char *newname)
{
	_cleanup_(rtnl_link_putp) struct rtnl_link *chg = NULL;

	if (!newname || !newname[0] || strlen(newname) >= IFNAME_MAX)
		return -EINVAL;
	chg = rtnl_link_alloc();
	if (!chg)
		return -ENOMEM;
	rtnl_link_set_name(chg, newname);
	return nlr_link_change(n, ifindex, chg);
}

int nlr_link_set_alias(struct nlr *n, int ifindex, const char *alias)
{
	_cleanup_(nlmsg_freep) struct nl_msg *msg = NULL;
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex };
	int r;

	if (ifindex <= 0 || !alias || strlen(alias) >= NLR_ALIAS_MAX)
		return -EINVAL;
	msg = nlmsg_alloc_simple(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK);
	if (!msg)
		return -ENOMEM;
	/* Without the NUL: an empty value then clears the alias, where
	 * libnl's string attribute would leave an empty one behind. */
	if (nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0 ||
	    nla_put(msg, IFLA_IFALIAS, (int)strlen(alias), alias) < 0)
		return -ENOMEM;
	n->kernel_errno = 0;
	r = nl_send_auto(n->sk, msg);
	if (r >= 0)
		r = nl_wait_for_ack(n->sk);
	return nlr_result(n, r);
}

int nlr_link_set_netns(struct nlr *n, int ifindex, int nsfd)
{
	_cleanup_(rtnl_link_putp) struct rtnl_link *chg = rtnl_link_alloc();

	if (!chg)
		return -ENOMEM;
	if (nsfd < 0)
		return -EBADF;
	rtnl_link_set_ns_fd(chg, nsfd);
	return nlr_link_change(n, ifindex, chg);
}

int nlr_link_del(struct nlr *n, int ifindex)
{
	_cleanup_(rtnl_link_putp) struct rtnl_link *l = rtnl_link_alloc();
	int r;

	if (!l)
		return -ENOMEM;
	if (ifindex <= 0)
		return -EINVAL;
	rtnl_link_set_ifindex(l, ifindex);
	n->kernel_errno = 0;
	r = nlr_result(n, rtnl_link_delete(n->sk, l));
	return r == -ENODEV ? -ENOENT : nlr_missing(r);
}

static int link_set_mac(struct rtnl_link *l, const struct mac_addr *mac)
{
	_cleanup_(nl_addr_putp) struct nl_addr *a = nl_addr_build(AF_LLC, mac->b, sizeof(mac->b));

	if (!a)
		return -ENOMEM;
	rtnl_link_set_addr(l, a);
	return 0;
}

int nlr_veth_add(struct nlr *n, const char *name, const struct mac_addr *mac, const char *peer,
		 const struct mac_addr *peer_mac, int peer_nsfd)
{
	_cleanup_(rtnl_link_putp) struct rtnl_link *l = NULL;
	struct rtnl_link *p;
	int r;

	if (!ifname_is_valid(name) || !ifname_is_valid(peer))
		return -EINVAL;
	l = rtnl_link_veth_alloc();
	if (!l)
		return -ENOMEM;
	p = rtnl_link_veth_get_peer(l);
	rtnl_link_set_name(l, name);
	rtnl_link_set_name(p, peer);
	r = link_set_mac(l, mac);
	if (r == 0)
		r = link_set_mac(p, peer_mac);
	if (r < 0) {
		rtnl_link_put(p);
		return r;
	}
	/* The peer is created straight in its namespace: never visible
	 * under its name in ours. */
	if (peer_nsfd >= 0)
		rtnl_link_set_ns_fd(p, peer_nsfd);
	rtnl_link_put(p);
	n->kernel_errno = 0;
	return nlr_result(n, rtnl_link_add(n->sk, l, NLM_F_CREATE | NLM_F_EXCL));
}

/* ---- addresses */

static int nlr_addr_build(int ifindex, const struct ip_addr *a, bool add, struct rtnl_addr **ret)
{
	_cleanup_(rtnl_addr_putp) struct rtnl_addr *ra = NULL;
	_cleanup_(nl_addr_putp) struct nl_addr *local = NULL;
	int r;

	if (ifindex <= 0)
		return -EINVAL;
	r = nl_addr_from_ip(a, &local);
	if (r < 0)
		return r;
	ra = rtnl_addr_alloc();
	if (!ra)
		return -ENOMEM;
	rtnl_addr_set_ifindex(ra, ifindex);
	r = rtnl_addr_set_local(ra, local);
	if (r < 0)
		return nlr_errno_from_nle(r);
	/* After set_local, which copies the nl_addr's own prefix length. */
	rtnl_addr_set_prefixlen(ra, ip_addr_host_prefixlen(a));
	if (add && a->family == AF_INET6)
		rtnl_addr_set_flags(ra, IFA_F_NODAD);
	*ret = ra;
	ra = NULL;
	return 0;
}

int nlr_addr_add(struct nlr *n, int ifindex, const struct ip_addr *a)
{
	_cleanup_(rtnl_addr_putp) struct rtnl_addr *ra = NULL;
	int r;

	r = nlr_addr_build(ifindex, a, true, &ra);
	if (r < 0)
		return r;
	n->kernel_errno = 0;
	return nlr_result(n, rtnl_addr_add(n->sk, ra, NLM_F_EXCL));
}

int nlr_addr_del(struct nlr *n, int ifindex, const struct ip_addr *a)
{
	_cleanup_(rtnl_addr_putp) struct rtnl_addr *ra = NULL;
	int r;

	r = nlr_addr_build(ifindex, a, false, &ra);
	if (r < 0)
		return r;
	n->kernel_errno = 0;
	return nlr_missing(nlr_result(n, rtnl_addr_delete(n->sk, ra, 0)));
}

/* ---- dumps */

typedef void (*nlr_dump_fn)(const struct nlmsghdr *h, void *userdata);

struct nlr_dump_ctx {
	nlr_dump_fn fn;
	void *userdata;
	int *store;
};

static int nlr_dump_valid(struct nl_msg *msg, void *arg)
{
	struct nlr_dump_ctx *d = arg;

	d->fn(nlmsg_hdr(msg), d->userdata);
	return NL_OK;
}

/* A dump's error comes in the NLMSG_DONE payload, which libnl ignores. */
static int nlr_dump_finish(struct nl_msg *msg, void *arg)
{
	struct nlr_dump_ctx *d = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	int e;

	if (nlmsg_datalen(h) >= (int)sizeof(e)) {
		memcpy(&e, nlmsg_data(h), sizeof(e));
		if (e < 0 && *d->store == 0)
			*d->store = -e;
	}
	return NL_OK;
}

/* Sends a dump request made of the header hdr (hdrlen bytes) plus an
 * optional u32 attribute, and calls fn for every answer. The callback must
 * tolerate being called again for a retried dump (reset is called before
 * each try). */
static int nlr_dump(struct nlr *n, int type, const void *hdr, size_t hdrlen, int attr, uint32_t attr_val,
		    void (*reset)(void *userdata), nlr_dump_fn fn, void *userdata)
{
	struct nlr_dump_ctx d = { .fn = fn, .userdata = userdata, .store = &n->kernel_errno };
	int r = 0;

	for (int try = 0; try < NLR_DUMP_TRIES; try++) {
		_cleanup_(nlmsg_freep) struct nl_msg *msg = NULL;
		_cleanup_(nl_cb_putp) struct nl_cb *cb = NULL;
		struct nl_cb *sk_cb;

		reset(userdata);
		n->kernel_errno = 0;
		msg = nlmsg_alloc_simple(type, NLM_F_DUMP);
		if (!msg)
			return -ENOMEM;
		if (nlmsg_append(msg, (void *)hdr, hdrlen, NLMSG_ALIGNTO) < 0)
			return -ENOMEM;
		if (attr && nla_put_u32(msg, attr, attr_val) < 0)
			return -ENOMEM;

		/* A clone keeps the error callback that fills kernel_errno. */
		sk_cb = nl_socket_get_cb(n->sk); /* takes a reference */
		cb = nl_cb_clone(sk_cb);
		nl_cb_put(sk_cb);
		if (!cb)
			return -ENOMEM;
		nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, nlr_dump_valid, &d);
		nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, nlr_dump_finish, &d);

		r = nl_send_auto(n->sk, msg);
		if (r < 0)
			return nlr_errno_from_nle(r);
		r = nl_recvmsgs(n->sk, cb);
		if (r == -NLE_DUMP_INTR)
			continue;
		if (r < 0)
			return nlr_result(n, r);
		if (n->kernel_errno > 0)
			return -n->kernel_errno;
		return 0;
	}
	return -EAGAIN;
}

static bool attr_is(const struct nlattr *na, const void *bytes, int len)
{
	return na && nla_len(na) == len && memcmp(nla_data(na), bytes, len) == 0;
}

struct addr_query {
	int ifindex;
	const struct ip_addr *a;
	int found;
};

static void addr_query_reset(void *userdata)
{
	((struct addr_query *)userdata)->found = 0;
}

static void addr_query_msg(const struct nlmsghdr *h, void *userdata)
{
	struct addr_query *q = userdata;
	struct nlattr *tb[IFA_MAX + 1];
	const struct ifaddrmsg *ifa;
	const struct nlattr *local;

	if (h->nlmsg_type != RTM_NEWADDR || q->found)
		return;
	if (nlmsg_parse((struct nlmsghdr *)h, sizeof(*ifa), tb, IFA_MAX, NULL) < 0)
		return;
	ifa = nlmsg_data(h);
	if (ifa->ifa_family != q->a->family || (int)ifa->ifa_index != q->ifindex ||
	    ifa->ifa_prefixlen != ip_addr_host_prefixlen(q->a))
		return;
	/* IFA_LOCAL is the address proper (IPv6 sends it only with a peer). */
	local = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (attr_is(local, q->a->bytes, addr_len(q->a)))
		q->found = 1;
}

int nlr_addr_exists(struct nlr *n, int ifindex, const struct ip_addr *a)
{
	struct addr_query q = { .ifindex = ifindex, .a = a };
	struct ifaddrmsg req = { .ifa_family = a->family, .ifa_index = ifindex };
	int r;

	if (addr_len(a) < 0)
		return -EAFNOSUPPORT;
	if (ifindex <= 0)
		return -EINVAL;
	r = nlr_dump(n, RTM_GETADDR, &req, sizeof(req), 0, 0, addr_query_reset, addr_query_msg, &q);
	if (r == -ENODEV) /* strict dump of a vanished interface */
		return 0;
	return r < 0 ? r : q.found;
}

/* ---- the namespace's links */

struct names_query {
	struct nlr_link_name *v;
	size_t n, size;
	int error;
};

static void names_reset(void *userdata)
{
	struct names_query *q = userdata;

	q->n = 0;
	q->error = 0;
}

static void names_msg(const struct nlmsghdr *h, void *userdata)
{
	struct names_query *q = userdata;
	struct nlattr *tb[IFLA_MAX + 1];
	const struct nlattr *name;

	if (h->nlmsg_type != RTM_NEWLINK || q->error)
		return;
	if (nlmsg_parse((struct nlmsghdr *)h, sizeof(struct ifinfomsg), tb, IFLA_MAX, NULL) < 0)
		return;
	name = tb[IFLA_IFNAME];
	/* A name that is not a terminated string, or too long, is skipped. */
	if (!name || nla_len(name) < 2 || !memchr(nla_data(name), 0, nla_len(name)) ||
	    strlen(nla_data(name)) >= sizeof(q->v[0].name))
		return;
	if (q->n == q->size) {
		size_t size = q->size ? q->size * 2 : 64;
		struct nlr_link_name *v = reallocarray(q->v, size, sizeof(*v));

		if (!v) {
			q->error = -ENOMEM;
			return;
		}
		q->v = v;
		q->size = size;
	}
	q->v[q->n].ifindex = ((const struct ifinfomsg *)nlmsg_data(h))->ifi_index;
	strcpy(q->v[q->n].name, nla_data(name));
	q->n++;
}

static int by_ifindex(const void *a, const void *b)
{
	int x = ((const struct nlr_link_name *)a)->ifindex, y = ((const struct nlr_link_name *)b)->ifindex;

	return x < y ? -1 : x > y;
}

int nlr_link_names(struct nlr *n, struct nlr_link_name **ret, size_t *ret_n)
{
	struct names_query q = {};
	struct ifinfomsg req = { .ifi_family = AF_UNSPEC };
	int r;

	r = nlr_dump(n, RTM_GETLINK, &req, sizeof(req), IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS, names_reset, names_msg,
		     &q);
	if (r == 0)
		r = q.error;
	if (r < 0) {
		free(q.v);
		return r;
	}
	qsort(q.v, q.n, sizeof(*q.v), by_ifindex);
	*ret = q.v;
	*ret_n = q.n;
	return 0;
}

/* ---- routes */

static int nlr_route_build(int ifindex, const struct ip_addr *dst, uint32_t metric, bool add,
			   struct rtnl_route **ret)
{
	_cleanup_(rtnl_route_putp) struct rtnl_route *rt = NULL;
	_cleanup_(rtnl_route_nh_freep) struct rtnl_nexthop *nh = NULL;
	_cleanup_(nl_addr_putp) struct nl_addr *na = NULL;
	int r;

	if (ifindex <= 0)
		return -EINVAL;
	r = nl_addr_from_ip(dst, &na);
	if (r < 0)
		return r;
	rt = rtnl_route_alloc();
	if (!rt)
		return -ENOMEM;
	rtnl_route_set_family(rt, dst->family);
	r = rtnl_route_set_dst(rt, na);
	if (r < 0)
		return nlr_errno_from_nle(r);
	rtnl_route_set_table(rt, RT_TABLE_MAIN);
	rtnl_route_set_type(rt, RTN_UNICAST);
	rtnl_route_set_priority(rt, metric);
	if (add) {
		rtnl_route_set_protocol(rt, RTPROT_BOOT);
		rtnl_route_set_scope(rt, dst->family == AF_INET ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE);
	} else {
		/* Like `ip route del`: any protocol, any scope. */
		rtnl_route_set_protocol(rt, RTPROT_UNSPEC);
		rtnl_route_set_scope(rt, RT_SCOPE_NOWHERE);
	}

	nh = rtnl_route_nh_alloc();
	if (!nh)
		return -ENOMEM;
	rtnl_route_nh_set_ifindex(nh, ifindex);
	rtnl_route_add_nexthop(rt, nh); /* the route owns it now */
	nh = NULL;

	*ret = rt;
	rt = NULL;
	return 0;
}

int nlr_route_add(struct nlr *n, int ifindex, const struct ip_addr *dst, uint32_t metric)
{
	_cleanup_(rtnl_route_putp) struct rtnl_route *rt = NULL;
	int r;

	r = nlr_route_build(ifindex, dst, metric, true, &rt);
	if (r < 0)
		return r;
	n->kernel_errno = 0;
	return nlr_result(n, rtnl_route_add(n->sk, rt, NLM_F_EXCL));
}

int nlr_route_del(struct nlr *n, int ifindex, const struct ip_addr *dst, uint32_t metric)
{
	_cleanup_(rtnl_route_putp) struct rtnl_route *rt = NULL;
	int r;

	r = nlr_route_build(ifindex, dst, metric, false, &rt);
	if (r < 0)
		return r;
	n->kernel_errno = 0;
	return nlr_missing(nlr_result(n, rtnl_route_delete(n->sk, rt, 0)));
}

struct route_query {
	int ifindex; /* 0: any interface, found_oif says which */
	const struct ip_addr *dst;
	uint32_t metric;
	int found;
	int found_oif;
};

static void route_query_reset(void *userdata)
{
	((struct route_query *)userdata)->found = 0;
	((struct route_query *)userdata)->found_oif = 0;
}

static bool route_uses_oif(struct nlattr *tb[], int ifindex)
{
	if (tb[RTA_OIF] && nla_len(tb[RTA_OIF]) >= 4 && (int)nla_get_u32(tb[RTA_OIF]) == ifindex)
		return true;
	if (tb[RTA_MULTIPATH]) {
		const struct rtnexthop *nh = nla_data(tb[RTA_MULTIPATH]);
		int left = nla_len(tb[RTA_MULTIPATH]);

		while (left >= (int)sizeof(*nh) && nh->rtnh_len >= sizeof(*nh) && nh->rtnh_len <= left) {
			if (nh->rtnh_ifindex == ifindex)
				return true;
			left -= RTNH_ALIGN(nh->rtnh_len);
			nh = RTNH_NEXT(nh);
		}
	}
	return false;
}

static void route_query_msg(const struct nlmsghdr *h, void *userdata)
{
	struct route_query *q = userdata;
	struct nlattr *tb[RTA_MAX + 1];
	const struct rtmsg *rtm;
	uint32_t table, prio;

	if (h->nlmsg_type != RTM_NEWROUTE || q->found)
		return;
	if (nlmsg_parse((struct nlmsghdr *)h, sizeof(*rtm), tb, RTA_MAX, NULL) < 0)
		return;
	rtm = nlmsg_data(h);
	if (rtm->rtm_family != q->dst->family || rtm->rtm_dst_len != ip_addr_host_prefixlen(q->dst) ||
	    rtm->rtm_src_len != 0 || (rtm->rtm_flags & RTM_F_CLONED) || rtm->rtm_type != RTN_UNICAST)
		return;
	table = tb[RTA_TABLE] && nla_len(tb[RTA_TABLE]) >= 4 ? nla_get_u32(tb[RTA_TABLE]) : rtm->rtm_table;
	prio = tb[RTA_PRIORITY] && nla_len(tb[RTA_PRIORITY]) >= 4 ? nla_get_u32(tb[RTA_PRIORITY]) : 0;
	if (table != RT_TABLE_MAIN || prio != q->metric)
		return;
	if (!attr_is(tb[RTA_DST], q->dst->bytes, addr_len(q->dst)))
		return;
	if (q->ifindex == 0) {
		q->found = 1;
		if (tb[RTA_OIF] && nla_len(tb[RTA_OIF]) >= 4)
			q->found_oif = (int)nla_get_u32(tb[RTA_OIF]);
		else if (tb[RTA_MULTIPATH] && nla_len(tb[RTA_MULTIPATH]) >= (int)sizeof(struct rtnexthop))
			q->found_oif = ((const struct rtnexthop *)nla_data(tb[RTA_MULTIPATH]))->rtnh_ifindex;
	} else if (route_uses_oif(tb, q->ifindex))
		q->found = 1;
}

int nlr_route_exists(struct nlr *n, int ifindex, const struct ip_addr *dst, uint32_t metric)
{
	struct route_query q = { .ifindex = ifindex, .dst = dst, .metric = metric };
	struct rtmsg req = { .rtm_family = dst->family, .rtm_table = RT_TABLE_MAIN };
	int r;

	if (addr_len(dst) < 0)
		return -EAFNOSUPPORT;
	if (ifindex <= 0)
		return -EINVAL;
	r = nlr_dump(n, RTM_GETROUTE, &req, sizeof(req), RTA_OIF, ifindex, route_query_reset, route_query_msg,
		     &q);
	if (r == -ENODEV) /* strict dump of a vanished interface */
		return 0;
	return r < 0 ? r : q.found;
}

/* ---- neighbours */

static int nlr_neigh_build(int ifindex, const struct ip_addr *a, struct rtnl_neigh **ret)
{
	_cleanup_(rtnl_neigh_putp) struct rtnl_neigh *ne = NULL;
	_cleanup_(nl_addr_putp) struct nl_addr *dst = NULL;
	int r;

	if (ifindex <= 0)
		return -EINVAL;
	r = nl_addr_from_ip(a, &dst);
	if (r < 0)
		return r;
	ne = rtnl_neigh_alloc();
	if (!ne)
		return -ENOMEM;
	rtnl_neigh_set_ifindex(ne, ifindex);
	r = rtnl_neigh_set_dst(ne, dst);
	if (r < 0)
		return nlr_errno_from_nle(r);
	*ret = ne;
	ne = NULL;
	return 0;
}

int nlr_neigh_add(struct nlr *n, int ifindex, const struct ip_addr *a, const struct mac_addr *mac, bool replace)
{
	_cleanup_(rtnl_neigh_putp) struct rtnl_neigh *ne = NULL;
	_cleanup_(nl_addr_putp) struct nl_addr *ll = NULL;
	int r;

	r = nlr_neigh_build(ifindex, a, &ne);
	if (r < 0)
		return r;
	ll = nl_addr_build(AF_LLC, mac->b, sizeof(mac->b));
	if (!ll)
		return -ENOMEM;
	rtnl_neigh_set_lladdr(ne, ll);
	rtnl_neigh_set_state(ne, NUD_PERMANENT);
	n->kernel_errno = 0;
	r = rtnl_neigh_add(n->sk, ne, NLM_F_CREATE | (replace ? NLM_F_REPLACE : NLM_F_EXCL));
	return nlr_result(n, r);
}

int nlr_neigh_del(struct nlr *n, int ifindex, const struct ip_addr *a)
{
	_cleanup_(rtnl_neigh_putp) struct rtnl_neigh *ne = NULL;
	int r;

	r = nlr_neigh_build(ifindex, a, &ne);
	if (r < 0)
		return r;
	n->kernel_errno = 0;
	return nlr_missing(nlr_result(n, rtnl_neigh_delete(n->sk, ne, 0)));
}

struct neigh_query {
	int ifindex;
	const struct ip_addr *a;
	bool found;
	bool permanent;
	struct mac_addr mac;
};

static void neigh_query_reset(void *userdata)
{
	struct neigh_query *q = userdata;

	q->found = q->permanent = false;
	memset(&q->mac, 0, sizeof(q->mac));
}

static void neigh_query_msg(const struct nlmsghdr *h, void *userdata)
{
	struct neigh_query *q = userdata;
	struct nlattr *tb[NDA_MAX + 1];
	const struct ndmsg *ndm;

	if (h->nlmsg_type != RTM_NEWNEIGH || q->found)
		return;
	if (nlmsg_parse((struct nlmsghdr *)h, sizeof(*ndm), tb, NDA_MAX, NULL) < 0)
		return;
	ndm = nlmsg_data(h);
	if (ndm->ndm_family != q->a->family || ndm->ndm_ifindex != q->ifindex || (ndm->ndm_flags & NTF_PROXY))
		return;
	if (!attr_is(tb[NDA_DST], q->a->bytes, addr_len(q->a)))
		return;
	q->found = true;
	q->permanent = ndm->ndm_state & NUD_PERMANENT;
	if (tb[NDA_LLADDR] && nla_len(tb[NDA_LLADDR]) == (int)sizeof(q->mac.b))
		memcpy(q->mac.b, nla_data(tb[NDA_LLADDR]), sizeof(q->mac.b));
}

int nlr_neigh_get(struct nlr *n, int ifindex, const struct ip_addr *a, struct mac_addr *ret_mac, bool *ret_permanent)
{
	struct neigh_query q = { .ifindex = ifindex, .a = a };
	struct ndmsg req = { .ndm_family = a->family };
	int r;

	if (addr_len(a) < 0)
		return -EAFNOSUPPORT;
	if (ifindex <= 0)
		return -EINVAL;
	/* NDA_IFINDEX filters neighbour dumps in the kernel (since 4.15)
	 * whether or not strict checking is on. */
	r = nlr_dump(n, RTM_GETNEIGH, &req, sizeof(req), NDA_IFINDEX, ifindex, neigh_query_reset, neigh_query_msg,
		     &q);
	if (r < 0)
		return r;
	if (!q.found)
		return -ENOENT;
	if (ret_mac)
		*ret_mac = q.mac;
	if (ret_permanent)
		*ret_permanent = q.permanent;
	return 0;
}

int nlr_route_oif(struct nlr *n, const struct ip_addr *dst, uint32_t metric, int *ret_ifindex)
{
	struct route_query q = { .dst = dst, .metric = metric };
	struct rtmsg req = { .rtm_family = dst->family, .rtm_table = RT_TABLE_MAIN };
	int r;

	if (addr_len(dst) < 0)
		return -EAFNOSUPPORT;
	r = nlr_dump(n, RTM_GETROUTE, &req, sizeof(req), 0, 0, route_query_reset, route_query_msg, &q);
	if (r < 0)
		return r;
	if (!q.found)
		return -ENOENT;
	*ret_ifindex = q.found_oif;
	return 0;
}
