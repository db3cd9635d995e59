/* The pure core of vif-route-qubes: from a validated input, the ordered list
 * of changes that online makes (or offline removes). Unit-tested without
 * root; apply.c only executes it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "input.h"
#include "probe.h"

enum action_type {
	ACT_RENAME,    /* rename vif -> ifname, unless ifname exists already */
	ACT_SYSCTL,    /* net.ipv{4,6}.conf.IF.KEY = VALUE */
	ACT_ANTISPOOF, /* the vif's anti-spoofing (fw_antispoof.h): family, or AF_UNSPEC for all */
	ACT_CT_PURGE,  /* conntrack entries from/to any client address */
	ACT_NEIGH,     /* permanent neighbour addr -> client MAC */
	ACT_LINK,      /* link up / down */
	ACT_ROUTE,     /* addr dev IF [scope link] metric M */
	ACT_HOOK,      /* network hooks with (cmd, IF, type[, addr]) */
	ACT_ADDR,      /* gateway address /32 or /128 */
	ACT_XS_STATUS, /* hotplug-status = connected */
	ACT_SKIP,      /* a piece SPEC says to skip with an error logged */
	ACT_ACCEL,     /* nftables: recreate the flowtable table inet qubes-nat-accel */
	/* NAT mode (natns.h): the namespace IFNAME-nat, the Xen vif moved
	 * into it, the veth pair, addresses / neighbours / routes / links /
	 * sysctls inside, the translation table; offline takes it all away. */
	ACT_NAT_NS,
	ACT_NAT_MOVE,
	ACT_NAT_VETH,
	ACT_NAT_CONF,
	ACT_NAT_TABLE,
	ACT_NAT_REMOVE,
	_ACT_MAX,
};

#define PLAN_MAX_ADDRS (2 * VIF_MAX_ADDRS)
#define PLAN_MAX_ACTIONS 256
#define PLAN_NOTE_MAX 128

struct action {
	enum action_type type;
	bool remove; /* offline: take away, tolerating pieces already gone */
	int family;
	bool has_addr;
	struct ip_addr addr;
	const char *key;   /* ACT_SYSCTL */
	const char *value; /* ACT_SYSCTL */
	bool up;           /* ACT_LINK */
	char note[PLAN_NOTE_MAX]; /* ACT_SKIP */
};

struct plan {
	const struct vif_input *in;
	const struct vif_facts *facts;
	enum vif_cmd cmd; /* online or offline */
	/* The client's addresses: xenstore's, and for offline also those the
	 * kernel's rules still name (facts->claimed). */
	unsigned n_addrs;
	struct ip_addr addrs[PLAN_MAX_ADDRS];
	unsigned n;
	struct action actions[PLAN_MAX_ACTIONS];
};

/* cmd: VIF_CMD_ONLINE (also what `status` checks) or VIF_CMD_OFFLINE.
 * 0, or -EINVAL for any other command. */
int plan_build(const struct vif_input *in, const struct vif_facts *facts, enum vif_cmd cmd, struct plan *ret);

/* One line for --dry-run, logs and hotplug-error, e.g.
 * "add route 10.137.0.5 dev vif3.0 scope link metric 32749". */
const char *action_describe(const struct plan *p, const struct action *a, char *buf, size_t len);
/* Short name of the step, e.g. "anti-spoofing rules", for messages. */
const char *action_type_name(enum action_type t);
