/* What setup-dnat-to-ns wants, whatever the firewall generation: for each
 * virtual DNS address, the real resolver its queries go to, or none (they
 * must go nowhere). Pure, unit-tested without root. Each backend renders
 * it in its own terms (dnat_iptc.c: the x_tables chain PR-QBS). */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#define DNAT_MAX_PAIRS 2
/* Each pair covers DNS over udp and over tcp, port 53, in this order. */
#define DNAT_PORT 53
#define DNAT_N_PROTOS 2
extern const uint8_t dnat_protos[DNAT_N_PROTOS];

struct dnat_pair {
	struct in_addr dst; /* virtual address: DNS1 or DNS2 */
	bool drop;          /* no usable resolver: its queries are dropped */
	struct in_addr to;  /* the resolver; 0.0.0.0 when drop */
};

struct dnat_plan {
	struct dnat_pair pairs[DNAT_MAX_PAIRS];
	unsigned n;
	bool drops; /* no usable resolver: every pair drops */
};

/* DNS1 -> R1 and DNS2 -> R2 (R1 again when there is one resolver).
 * Without resolvers, both pairs drop, so that no query leaves through the
 * uplink. Without dns1 (the VM serves no DNS), no pair at all. dns2 may be
 * NULL, and is ignored when equal to dns1. */
void dnat_plan_build(const struct in_addr *dns1, const struct in_addr *dns2, const struct in_addr *resolvers,
		     unsigned n_resolvers, struct dnat_plan *ret);
