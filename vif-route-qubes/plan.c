#include <stdio.h>
#include <string.h>

#include "fw_antispoof.h"
#include "natns.h"
#include "nftq.h"
#include "plan.h"
#include "util.h"

static const char *const hardening4[][2] = {
	{ "accept_source_route", "0" },
	{ "accept_redirects", "0" },
	{ "secure_redirects", "0" },
	{ "send_redirects", "0" },
	{ "drop_unicast_in_l2_multicast", "1" },
};

static const char *const hardening6[][2] = {
	{ "accept_source_route", "-1" },
	{ "accept_redirects", "0" },
	{ "accept_ra", "0" },
	{ "accept_dad", "0" },
	{ "autoconf", "0" },
	{ "drop_unicast_in_l2_multicast", "1" },
	{ "drop_unsolicited_na", "1" },
};

static struct action *push(struct plan *p, enum action_type t, bool remove)
{
	struct action *a;

	/* Bounded by VIF_MAX_ADDRS: cannot overflow for valid inputs. */
	if (p->n >= PLAN_MAX_ACTIONS)
		abort();
	a = &p->actions[p->n++];
	*a = (struct action){ .type = t, .remove = remove };
	return a;
}

static void push_sysctl(struct plan *p, int family, const char *key, const char *value, bool remove)
{
	struct action *a = push(p, ACT_SYSCTL, remove);

	a->family = family;
	a->key = key;
	a->value = value;
}

static void push_addr_action(struct plan *p, enum action_type t, const struct ip_addr *addr, bool remove)
{
	struct action *a = push(p, t, remove);

	a->family = addr->family;
	a->has_addr = true;
	a->addr = *addr;
}

static void push_antispoof(struct plan *p, int family, bool remove)
{
	push(p, ACT_ANTISPOOF, remove)->family = family;
}

static void push_hook(struct plan *p, const struct ip_addr *addr, bool remove)
{
	struct action *a = push(p, ACT_HOOK, remove);

	if (addr) {
		a->has_addr = true;
		a->addr = *addr;
		a->family = addr->family;
	}
}

static void push_skip_route6(struct plan *p, const struct ip_addr *addr)
{
	struct action *a = push(p, ACT_SKIP, false);
	char buf[IP_ADDR_STRLEN];

	snprintf(a->note, sizeof(a->note), "cannot set IPv6 route to %s: IPv6 is disabled on %s",
		 ip_addr_to_string(addr, buf), p->in->ifname);
	a->has_addr = true;
	a->addr = *addr;
	a->family = addr->family;
}

/* IPv6 routes, neighbours and the v6 gateway cannot exist while IPv6 is off
 * on the vif; anti-spoofing rules still go in (they cost nothing and keep
 * the vif safe should IPv6 be switched on later). */
static bool v6_usable(const struct plan *p)
{
	/* NAT mode turns IPv6 off on the netvm side's veth. */
	return p->facts->ipv6_kernel && !p->facts->ipv6_disabled && !p->in->nat;
}

static bool gateway6_applies(const struct plan *p)
{
	return p->in->has_gateway6 && !ip_addr_is_link_local(&p->in->gateway6) && v6_usable(p);
}

static void build_online(struct plan *p)
{
	const struct vif_input *in = p->in;
	int fam[2];
	unsigned n_fam = fw_antispoof_families(p->facts->fw, p->facts->ipv6_kernel, fam);

	if (in->rename)
		push(p, ACT_RENAME, false);

	/* Before the sysctls: they belong on the netvm side's veth, and a
	 * link moved into another namespace loses its own. */
	if (in->nat) {
		push(p, ACT_NAT_NS, false);
		push(p, ACT_NAT_MOVE, false);
		push(p, ACT_NAT_VETH, false);
		push(p, ACT_NAT_CONF, false);
		push(p, ACT_NAT_TABLE, false);
	}

	if (p->n_addrs > 0) {
		push_sysctl(p, AF_INET, "proxy_arp", "1", false);
		if (in->harden) {
			for (size_t i = 0; i < ELEMENTSOF(hardening4); i++)
				push_sysctl(p, AF_INET, hardening4[i][0], hardening4[i][1], false);
			if (p->facts->ipv6_kernel)
				for (size_t i = 0; i < ELEMENTSOF(hardening6); i++)
					push_sysctl(p, AF_INET6, hardening6[i][0], hardening6[i][1], false);
		}
	}

	/* Also with no address at all: then nothing the client sends may pass. */
	for (unsigned i = 0; i < n_fam; i++)
		push_antispoof(p, fam[i], false);

	if (p->n_addrs > 0) {
		push(p, ACT_CT_PURGE, false);
		for (unsigned i = 0; i < p->n_addrs; i++)
			if (p->addrs[i].family == AF_INET || v6_usable(p))
				push_addr_action(p, ACT_NEIGH, &p->addrs[i], false);
	}

	push(p, ACT_LINK, false)->up = true;

	for (unsigned i = 0; i < p->n_addrs; i++) {
		const struct ip_addr *a = &p->addrs[i];

		if (a->family == AF_INET6 && !v6_usable(p))
			push_skip_route6(p, a);
		else
			push_addr_action(p, ACT_ROUTE, a, false);
		push_hook(p, a, false);
	}
	if (p->n_addrs == 0)
		push_hook(p, NULL, false);

	if (p->n_addrs > 0) {
		push_addr_action(p, ACT_ADDR, &in->gateway, false);
		if (gateway6_applies(p)) {
			push_addr_action(p, ACT_ADDR, &in->gateway6, false);
			push_sysctl(p, AF_INET6, "proxy_ndp", "1", false);
		}
	}

	if (p->facts->fw == FW_NFTABLES)
		push(p, ACT_ACCEL, false);

	push(p, ACT_XS_STATUS, false);
}

/* Online taken back, every piece removed even when IPv6 is off now
 * (it may have been on at online time), for the addresses xenstore names
 * and those the kernel's rules still claim for the vif (xenstore may have
 * lost them, or be gone). Hardening sysctls stay: they are safe, and the
 * vif is about to disappear anyway. No conntrack purge: the next online of
 * any vif with these addresses purges before its link is up, and a purge
 * walks the kernel's whole hash table. */
static void build_offline(struct plan *p)
{
	const struct vif_input *in = p->in;
	int fam[2];
	unsigned n_fam = fw_antispoof_families(p->facts->fw, p->facts->ipv6_kernel, fam);

	/* Hooks and routes go first, while the gateway address is still in
	 * place (as the scripts did); dropping the last IPv4 address would
	 * flush the routes under the hooks' feet. */
	if (p->n_addrs == 0)
		push_hook(p, NULL, true);
	for (unsigned i = p->n_addrs; i-- > 0;) {
		push_hook(p, &p->addrs[i], true);
		push_addr_action(p, ACT_ROUTE, &p->addrs[i], true);
	}

	if (in->has_gateway6 && !ip_addr_is_link_local(&in->gateway6) && p->facts->ipv6_kernel) {
		push_sysctl(p, AF_INET6, "proxy_ndp", "0", true);
		push_addr_action(p, ACT_ADDR, &in->gateway6, true);
	}
	if (in->has_gateway)
		push_addr_action(p, ACT_ADDR, &in->gateway, true);

	push(p, ACT_LINK, true)->up = false;

	for (unsigned i = p->n_addrs; i-- > 0;)
		push_addr_action(p, ACT_NEIGH, &p->addrs[i], true);
	for (unsigned i = n_fam; i-- > 0;)
		push_antispoof(p, fam[i], true);
	push_sysctl(p, AF_INET, "proxy_arp", "0", true);
	/* Last: the veth above was the link all of that was on. */
	if (p->facts->nat_ns || in->nat)
		push(p, ACT_NAT_REMOVE, true);
}

static void add_addr(struct plan *p, const struct ip_addr *a)
{
	for (unsigned i = 0; i < p->n_addrs; i++)
		if (ip_addr_equal(&p->addrs[i], a))
			return;
	if (p->n_addrs < PLAN_MAX_ADDRS)
		p->addrs[p->n_addrs++] = *a;
}

int plan_build(const struct vif_input *in, const struct vif_facts *facts, enum vif_cmd cmd, struct plan *ret)
{
	ret->in = in;
	ret->facts = facts;
	ret->cmd = cmd;
	ret->n = 0;
	ret->n_addrs = 0;
	for (unsigned i = 0; i < in->n_addrs; i++)
		add_addr(ret, &in->addrs[i]);
	if (cmd == VIF_CMD_OFFLINE)
		for (unsigned i = 0; i < facts->n_claimed; i++)
			add_addr(ret, &facts->claimed[i]);
	if (cmd == VIF_CMD_ONLINE)
		build_online(ret);
	else if (cmd == VIF_CMD_OFFLINE)
		build_offline(ret);
	else
		return -EINVAL;
	return 0;
}

static const char *const type_names[_ACT_MAX] = {
	[ACT_RENAME] = "rename",
	[ACT_SYSCTL] = "sysctl",
	[ACT_ANTISPOOF] = "anti-spoofing rules",
	[ACT_CT_PURGE] = "conntrack purge",
	[ACT_NEIGH] = "neighbour entry",
	[ACT_LINK] = "link state",
	[ACT_ROUTE] = "route",
	[ACT_HOOK] = "network hooks",
	[ACT_ADDR] = "gateway address",
	[ACT_XS_STATUS] = "hotplug-status",
	[ACT_SKIP] = "skipped",
	[ACT_ACCEL] = "flowtable",
	[ACT_NAT_NS] = "NAT namespace",
	[ACT_NAT_MOVE] = "NAT: vif into its namespace",
	[ACT_NAT_VETH] = "NAT: veth pair",
	[ACT_NAT_CONF] = "NAT: namespace configuration",
	[ACT_NAT_TABLE] = "NAT: translation table",
	[ACT_NAT_REMOVE] = "NAT namespace removal",
};

const char *action_type_name(enum action_type t)
{
	return t < _ACT_MAX ? type_names[t] : "?";
}

const char *action_describe(const struct plan *p, const struct action *a, char *buf, size_t len)
{
	const struct vif_input *in = p->in;
	const char *ifn = in->ifname;
	char addr[IP_ADDR_STRLEN], mac[18];

	if (a->has_addr)
		ip_addr_to_string(&a->addr, addr);

	switch (a->type) {
	case ACT_RENAME:
		snprintf(buf, len, "rename %s to %s (unless %s exists)", in->vif, ifn, ifn);
		break;
	case ACT_SYSCTL:
		snprintf(buf, len, "set net.%s.conf.%s.%s = %s", a->family == AF_INET ? "ipv4" : "ipv6", ifn, a->key,
			 a->value);
		break;
	case ACT_ANTISPOOF:
		fw_antispoof_describe(p->facts->fw, a->family, a->remove, ifn, p->addrs, p->n_addrs, buf, len);
		break;
	case ACT_CT_PURGE: {
		size_t off = (size_t)snprintf(buf, len, "purge conntrack entries from or to");

		for (unsigned i = 0; i < p->n_addrs && off < len; i++)
			off += (size_t)snprintf(buf + off, len - off, "%s %s", i ? "," : "",
						ip_addr_to_string(&p->addrs[i], addr));
		break;
	}
	case ACT_NEIGH:
		if (a->remove)
			snprintf(buf, len, "delete neighbour %s dev %s", addr, ifn);
		else
			snprintf(buf, len, "add neighbour %s lladdr %s dev %s nud permanent", addr,
				 mac_to_string(&in->mac, mac), ifn);
		break;
	case ACT_LINK:
		if (p->facts->fw == FW_NFTABLES)
			snprintf(buf, len, "set link %s group %s %s", ifn, a->up ? "2" : "default", a->up ? "up" : "down");
		else
			snprintf(buf, len, "set link %s %s", ifn, a->up ? "up" : "down");
		break;
	case ACT_ACCEL:
		snprintf(buf, len,
			 "recreate table inet qubes-nat-accel: flowtable qubes-accel over every interface but lo, "
			 "tcp/udp flows from group 2 to group 1 offloaded");
		break;
	case ACT_ROUTE:
		snprintf(buf, len, "%s route %s dev %s%s metric %u", a->remove ? "delete" : "add", addr, ifn,
			 a->family == AF_INET ? " scope link" : "", in->metric);
		break;
	case ACT_HOOK:
		snprintf(buf, len, "run network hooks: HOOK %s %s %s%s%s", a->remove ? "offline" : "online", ifn,
			 in->type, a->has_addr ? " " : "", a->has_addr ? addr : "");
		break;
	case ACT_ADDR:
		snprintf(buf, len, "%s address %s/%u dev %s", a->remove ? "delete" : "add", addr,
			 ip_addr_host_prefixlen(&a->addr), ifn);
		break;
	case ACT_XS_STATUS:
		snprintf(buf, len, "write %s/hotplug-status = connected", in->xenbus_path);
		break;
	case ACT_SKIP:
		snprintf(buf, len, "skip: %s", a->note);
		break;
	case ACT_NAT_NS:
		snprintf(buf, len, "create network namespace %s%s (" NATNS_DIR "/%s%s)", ifn, NAT_NS_SUFFIX, ifn,
			 NAT_NS_SUFFIX);
		break;
	case ACT_NAT_MOVE:
		snprintf(buf, len, "move %s (the Xen vif) into namespace %s%s", ifn, ifn, NAT_NS_SUFFIX);
		break;
	case ACT_NAT_VETH:
		snprintf(buf, len, "add veth %s (address %s) <-> %s%s (address %s, in %s%s); IPv6 off on both", ifn,
			 NAT_NETVM_MAC, ifn, NAT_PEER_SUFFIX, mac_to_string(&in->mac, mac), ifn, NAT_NS_SUFFIX);
		break;
	case ACT_NAT_CONF: {
		char real[IP_ADDR_STRLEN], vip[IP_ADDR_STRLEN], vgw[IP_ADDR_STRLEN], gw[IP_ADDR_STRLEN];

		ip_addr_to_string(&in->nat_real, real);
		ip_addr_to_string(&in->visible_ip, vip);
		ip_addr_to_string(&in->visible_gateway, vgw);
		ip_addr_to_string(&in->gateway, gw);
		mac_to_string(&in->mac, mac);
		snprintf(buf, len,
			 "in %s%s: address %s/32 dev %s%s, %s/32 dev %s; neighbours %s lladdr %s dev %s, %s lladdr "
			 "%s dev %s%s (permanent); routes %s dev %s, %s dev %s%s; links up; IPv4 forwarding on, IPv6 off",
			 ifn, NAT_NS_SUFFIX, real, ifn, NAT_PEER_SUFFIX, vgw, ifn, vip, mac, ifn, gw, NAT_NETVM_MAC, ifn,
			 NAT_PEER_SUFFIX, vip, ifn, gw, ifn, NAT_PEER_SUFFIX);
		break;
	}
	case ACT_NAT_TABLE: {
		char real[IP_ADDR_STRLEN], vip[IP_ADDR_STRLEN];

		snprintf(buf, len,
			 "in %s%s: recreate table netdev " NFTQ_NAT_TABLE ": from %s only %s (source set to %s, on to "
			 "%s%s) and its ARP; from %s%s only to %s (destination set to %s, on to %s) and ARP",
			 ifn, NAT_NS_SUFFIX, ifn, ip_addr_to_string(&in->visible_ip, vip),
			 ip_addr_to_string(&in->nat_real, real), ifn, NAT_PEER_SUFFIX, ifn, NAT_PEER_SUFFIX, real, vip,
			 ifn);
		break;
	}
	case ACT_NAT_REMOVE:
		snprintf(buf, len,
			 "if namespace %s%s exists: delete veth %s, move the Xen vif %s back here, delete the namespace",
			 ifn, NAT_NS_SUFFIX, ifn, ifn);
		break;
	default:
		snprintf(buf, len, "?");
	}
	return buf;
}
