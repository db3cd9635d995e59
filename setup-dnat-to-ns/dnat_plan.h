/* The rules chain PR-QBS must hold, from the virtual DNS addresses and the
 * real resolvers: pure, unit-tested without root. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#include "ipt.h"

#define DNAT_CHAIN "PR-QBS"
#define DNAT_MAX_RULES 4

/* Where queries go when no resolver is usable. iptables refuses -j DROP in
 * the nat table, but a packet DNATed to 0.0.0.0 is a martian: the kernel's
 * input routing discards it before forwarding or delivering it. The rule
 * stays an ordinary DNAT rule, which iptables-legacy-save and -restore
 * reproduce. */
#define DNAT_DROP_TO ((struct in_addr){ .s_addr = INADDR_ANY })

struct dnat_plan {
	struct ipt_dnat_rule rules[DNAT_MAX_RULES];
	unsigned n;
	bool drops; /* no usable resolver: the rules send queries to DNAT_DROP_TO */
};

/* DNS1 -> R1 and DNS2 -> R2 (R1 again when there is one resolver), udp and
 * tcp port 53 each. Without resolvers, the same rules to DNAT_DROP_TO, so
 * that no query leaves through the uplink. Without dns1 (the VM serves no
 * DNS), nothing at all. dns2 may be NULL, and is ignored when equal to
 * dns1. */
void dnat_plan_build(const struct in_addr *dns1, const struct in_addr *dns2, const struct in_addr *resolvers,
		     unsigned n_resolvers, struct dnat_plan *ret);

/* The chain's current rules are exactly the plan's, in order. */
bool dnat_plan_matches(const struct dnat_plan *p, const struct ipt_dnat_rule *cur, size_t n_cur);
