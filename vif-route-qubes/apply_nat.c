/* NAT mode's steps (SPEC "NAT mode"), each one undone by its own undo so
 * a failed online leaves no namespace, no veth, and the Xen vif back in
 * the netvm's namespace. Every step is also a no-op on what an earlier
 * online already did: online twice is online once. */
#include <stdio.h>
#include <string.h>

#include "apply_nat.h"
#include "log.h"
#include "natns.h"
#include "nftq.h"
#include "nl.h"
#include "sysctl.h"
#include "util.h"

static bool missing(int r)
{
	return r == -ENOENT || r == -ENODEV;
}

/* The netvm side's link under ifname, whatever it is now, into c->f. */
static int refresh_home_link(struct apply_ctx *c)
{
	struct nlr_link l;
	int r = nlr_link_get(c->nl, c->plan->in->ifname, &l);

	if (r == -ENODEV) {
		c->f.ifindex = 0;
		c->f.link_up = false;
		c->f.group = 0;
		return 0;
	}
	if (r < 0)
		return r;
	c->f.ifindex = l.ifindex;
	c->f.link_up = l.up;
	c->f.group = l.group;
	return 0;
}

static int do_ns(struct apply_ctx *c, bool *changed)
{
	int r = natns_create(c->nat);

	if (r < 0)
		return r;
	*changed = r > 0;
	c->f.nat_ns = true;
	return 0;
}

/* The Xen vif is the link under ifname inside the namespace; while it is
 * not there, the netvm's link of that name is the Xen vif (our veth is
 * only ever made after the move). */
static int do_move(struct apply_ctx *c, bool *changed)
{
	const char *ifn = c->plan->in->ifname;
	struct nlr_link l;
	int r;

	r = natns_link(c->nat, ifn, &l);
	if (r == 0) {
		c->f.nat_vif_inside = true;
		return 0;
	}
	if (r != -ENODEV)
		return r;
	if (c->f.ifindex == 0)
		return -ENODEV;
	r = nlr_link_set_netns(c->nl, c->f.ifindex, c->nat->fd);
	if (r < 0)
		return r;
	*changed = true;
	c->f.nat_vif_inside = true;
	c->f.ifindex = 0;
	c->f.link_up = false;
	return 0;
}

static int undo_move(struct apply_ctx *c)
{
	struct nlr_link l;
	struct nlr *nl;
	int r;

	r = natns_link(c->nat, c->plan->in->ifname, &l);
	if (r == 0)
		r = natns_nl(c->nat, &nl);
	if (r == 0)
		r = nlr_link_set_netns(nl, l.ifindex, c->nat->home_fd);
	if (r < 0)
		return r;
	c->f.nat_vif_inside = false;
	return refresh_home_link(c);
}

static int do_veth(struct apply_ctx *c, bool *changed)
{
	const struct vif_input *in = c->plan->in;
	struct mac_addr netvm_mac;
	struct nlr_link l;
	int r;

	r = natns_link(c->nat, c->nat->peer, &l);
	if (r < 0 && r != -ENODEV)
		return r;
	if (r == -ENODEV) {
		r = mac_parse(NAT_NETVM_MAC, &netvm_mac);
		if (r < 0)
			return r;
		r = nlr_veth_add(c->nl, in->ifname, &netvm_mac, c->nat->peer, &in->mac, c->nat->fd);
		if (r == -EEXIST)
			snprintf(c->detail, sizeof(c->detail), "an interface named %s or %s exists already",
				 in->ifname, c->nat->peer);
		if (r < 0)
			return r;
		*changed = true;
	}
	r = refresh_home_link(c);
	if (r < 0)
		return r;
	if (c->f.ifindex == 0)
		return -ENODEV;
	/* Nothing but the client's IPv4 crosses this pair. */
	if (sysctl_ipv6_available()) {
		r = sysctl_if_write(AF_INET6, in->ifname, "disable_ipv6", "1");
		if (r < 0)
			return r;
	}
	c->f.ipv6_disabled = true;
	return 0;
}

/* Deleting the end inside takes the netvm's end with it: no need to
 * guess which link of the netvm's is ours. */
static int undo_veth(struct apply_ctx *c)
{
	struct nlr_link l;
	struct nlr *nl;
	int r;

	r = natns_link(c->nat, c->nat->peer, &l);
	if (r == 0)
		r = natns_nl(c->nat, &nl);
	if (r == 0)
		r = nlr_link_del(nl, l.ifindex);
	if (r < 0 && !missing(r))
		return r;
	return refresh_home_link(c);
}

static int add_addr(struct nlr *nl, int ifindex, const struct ip_addr *a)
{
	int r = nlr_addr_add(nl, ifindex, a);

	return r == -EEXIST ? 0 : r;
}

static int add_neigh(struct nlr *nl, int ifindex, const struct ip_addr *a, const struct mac_addr *mac)
{
	return nlr_neigh_add(nl, ifindex, a, mac, true);
}

static int add_route(struct nlr *nl, int ifindex, const struct ip_addr *a)
{
	int r = nlr_route_add(nl, ifindex, a, 0);

	return r == -EEXIST ? 0 : r;
}

/* Inside: the real address on VIF-p, visible-gateway on the Xen vif, their
 * neighbours and host routes (the routes let the namespace answer ARP
 * whatever rp_filter it inherited), forwarding on, IPv6 off, links up. */
static int do_conf(struct apply_ctx *c)
{
	const struct vif_input *in = c->plan->in;
	struct nlr_link vif, peer;
	struct mac_addr netvm_mac;
	struct nlr *nl;
	int r;

	r = natns_link(c->nat, in->ifname, &vif);
	if (r == 0)
		r = natns_link(c->nat, c->nat->peer, &peer);
	if (r == 0)
		r = natns_nl(c->nat, &nl);
	if (r < 0)
		return r;
	r = mac_parse(NAT_NETVM_MAC, &netvm_mac);
	if (r < 0)
		return r;

	r = natns_sysctl(c->nat, AF_INET, "all", "forwarding", "1");
	if (r >= 0 && sysctl_ipv6_available()) {
		const char *const ifs[] = { "all", "default", in->ifname, c->nat->peer };

		for (size_t i = 0; i < ELEMENTSOF(ifs) && r >= 0; i++)
			r = natns_sysctl(c->nat, AF_INET6, ifs[i], "disable_ipv6", "1");
	}
	if (r >= 0)
		r = add_addr(nl, peer.ifindex, &in->nat_real);
	if (r >= 0)
		r = add_addr(nl, vif.ifindex, &in->visible_gateway);
	if (r >= 0)
		r = nlr_link_set_up(nl, vif.ifindex, true);
	if (r >= 0)
		r = nlr_link_set_up(nl, peer.ifindex, true);
	if (r >= 0)
		r = add_neigh(nl, vif.ifindex, &in->visible_ip, &in->mac);
	if (r >= 0)
		r = add_neigh(nl, peer.ifindex, &in->gateway, &netvm_mac);
	if (r >= 0)
		r = add_route(nl, vif.ifindex, &in->visible_ip);
	if (r >= 0)
		r = add_route(nl, peer.ifindex, &in->gateway);
	return r < 0 ? r : 0;
}

int nat_want(struct apply_ctx *c, struct nftq_nat *m, bool need_index)
{
	const struct vif_input *in = c->plan->in;
	int r;

	*m = (struct nftq_nat){};
	snprintf(m->vif, sizeof(m->vif), "%s", in->ifname);
	snprintf(m->peer, sizeof(m->peer), "%s", c->nat->peer);
	memcpy(&m->real, in->nat_real.bytes, 4);
	memcpy(&m->visible, in->visible_ip.bytes, 4);
	memcpy(m->mac, in->mac.b, sizeof(m->mac));
	if (need_index) {
		struct nlr_link vif, peer;

		r = natns_link(c->nat, m->vif, &vif);
		if (r == 0)
			r = natns_link(c->nat, m->peer, &peer);
		if (r < 0)
			return r;
		m->vif_index = (uint32_t)vif.ifindex;
		m->peer_index = (uint32_t)peer.ifindex;
	}
	return 0;
}

/* Rebuilt every time: `fwd` holds ifindexes, which a recreated veth
 * changes. */
static int do_table(struct apply_ctx *c)
{
	struct nftq *q = NULL;
	struct nftq_nat m;
	int r;

	r = nat_want(c, &m, true);
	if (r < 0)
		return r;
	r = natns_nftq(c->nat, &q);
	if (r < 0)
		return r;
	r = nftq_nat_replace(q, &m);
	nftq_close(q);
	return r;
}

/* offline, and the end of a rollback: the veth (both ends), the Xen vif
 * back home if it is still inside, the namespace. */
static int remove_all(struct apply_ctx *c)
{
	struct nlr_link l;
	int r, k;

	if (!natns_exists(c->nat))
		/* No namespace, but maybe its mount point: the empty file a
		 * run killed between creating it and mounting left. */
		return natns_destroy(c->nat);
	/* The veth also when the Xen vif is gone already (its domain died). */
	r = undo_veth(c);
	if (r < 0)
		return r;
	r = natns_link(c->nat, c->plan->in->ifname, &l);
	if (r < 0 && r != -ENODEV)
		return r;
	if (r == 0) {
		r = undo_move(c);
		if (r < 0)
			log_warning_errno(r, "cannot move %s out of namespace %s, ignoring", c->plan->in->ifname,
					  c->nat->name);
	}
	k = natns_destroy(c->nat);
	c->f.nat_ns = false;
	c->f.nat_vif_inside = false;
	if (k < 0)
		return k;
	return refresh_home_link(c);
}

int nat_do(struct apply_ctx *c, const struct action *a, bool *changed)
{
	switch (a->type) {
	case ACT_NAT_NS:
		return do_ns(c, changed);
	case ACT_NAT_MOVE:
		return do_move(c, changed);
	case ACT_NAT_VETH:
		return do_veth(c, changed);
	case ACT_NAT_CONF:
		return do_conf(c);
	case ACT_NAT_TABLE:
		return do_table(c);
	case ACT_NAT_REMOVE:
		return remove_all(c);
	default:
		return -EINVAL;
	}
}

int nat_undo(struct apply_ctx *c, const struct action *a)
{
	switch (a->type) {
	case ACT_NAT_NS: {
		int r = natns_destroy(c->nat);

		c->f.nat_ns = false;
		return r;
	}
	case ACT_NAT_MOVE:
		return undo_move(c);
	case ACT_NAT_VETH:
		return undo_veth(c);
	default:
		/* What CONF and TABLE made goes with the veth, the move and
		 * the namespace. */
		return 0;
	}
}
