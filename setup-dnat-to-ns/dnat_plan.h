/* The rules chain PR-QBS must hold, from the virtual DNS addresses and the
 * real resolvers: pure, unit-tested without root. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#include "ipt.h"

#define DNAT_CHAIN "PR-QBS"
#define DNAT_MAX_RULES 4

struct dnat_plan {
	struct ipt_dnat_rule rules[DNAT_MAX_RULES];
	unsigned n;
};

/* DNS1 -> R1 and DNS2 -> R2 (R1 again when there is one resolver), udp and
 * tcp port 53 each; nothing at all without resolvers. dns2 may be NULL, and
 * is ignored when equal to dns1. */
void dnat_plan_build(const struct in_addr *dns1, const struct in_addr *dns2, const struct in_addr *resolvers,
		     unsigned n_resolvers, struct dnat_plan *ret);

/* The chain's current rules are exactly the plan's, in order. */
bool dnat_plan_matches(const struct dnat_plan *p, const struct ipt_dnat_rule *cur, size_t n_cur);
