/* Kernel facts about the vif, read before planning: where its interface
 * is, whether IPv6 works on it, and (for offline) which client addresses
 * its anti-spoofing rules name. The plan takes them as input; apply keeps
 * the link facts current as it changes the link. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "fw.h"
#include "input.h"

struct fw;
struct nlr;

struct vif_facts {
	int ifindex;        /* 0: the interface does not exist */
	bool link_up;
	uint32_t group;     /* interface group (nftables generation: 2 for a client vif) */
	bool found_as_vif;  /* found under $vif, not (yet) renamed to vifname */
	bool ipv6_kernel;   /* the kernel has IPv6 at all */
	bool ipv6_disabled; /* IPv6 is off on the interface (or it does not exist) */
	enum fw_backend fw; /* the firewall generation of this namespace */
	/* NAT mode: the namespace IFNAME-nat exists; the Xen vif is in it
	 * (then the link above, if any, is the netvm side's veth). */
	bool nat_ns;
	bool nat_vif_inside;
	/* offline: the client addresses the anti-spoofing rules keyed by the
	 * interface name claim, whatever xenstore still says. */
	struct ip_addr claimed[VIF_MAX_ADDRS];
	unsigned n_claimed;
};

/* Finds the interface under ifname or vif, waiting until deadline for it
 * to appear (the toolstack can run us before the kernel created it); then
 * reads the IPv6 facts. -ENODEV when it did not appear (facts still filled
 * in, for an interface that is not there); -EEXIST when an interface holds
 * the name vifname that our rename did not give it (apply marks the vif it
 * renames with the alias $vif). */
int probe_vif(struct nlr *nl, const struct vif_input *in, uint64_t deadline, struct vif_facts *ret);

struct natns;
/* NAT mode's facts: whether the namespace exists and holds ifname. */
int probe_nat(struct natns *n, const char *ifname, struct vif_facts *f);

/* Fills f->claimed from the firewall's state (a snapshot, both families). */
int probe_claimed(struct fw *fw, const char *ifname, struct vif_facts *f);
