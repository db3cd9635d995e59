/* The x_tables rendering of a dnat_plan: nat chain PR-QBS, jumped to from
 * PREROUTING, holding per pair `-d DNSx -p udp|tcp --dport 53 -j DNAT
 * --to-destination Rx`; made to hold exactly that in one transaction on the
 * nat table, under the xtables lock, committed only when something differs. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "dnat_apply.h"
#include "dnat_plan.h"
#include "ipt.h"

#define DNAT_IPT_CHAIN "PR-QBS"
#define DNAT_IPT_MAX_RULES (DNAT_MAX_PAIRS * DNAT_N_PROTOS)

/* Where a dropping pair sends its queries. iptables refuses -j DROP in the
 * nat table, but a packet DNATed to 0.0.0.0 is a martian: the kernel's
 * input routing discards it before forwarding or delivering it. The rule
 * stays an ordinary DNAT rule, which iptables-legacy-save and -restore
 * reproduce. */
#define DNAT_IPT_DROP_TO ((struct in_addr){ .s_addr = INADDR_ANY })

/* The rules PR-QBS must hold for p, in order (padding zeroed); returns
 * their number. */
unsigned dnat_iptc_rules(const struct dnat_plan *p, struct ipt_dnat_rule ret[DNAT_IPT_MAX_RULES]);

/* The chain's current rules are exactly want, in order. */
bool dnat_iptc_matches(const struct ipt_dnat_rule *want, size_t n_want, const struct ipt_dnat_rule *cur,
		       size_t n_cur);

/* "-A PR-QBS -d ... -j DNAT --to-destination ..." */
const char *dnat_iptc_rule_to_string(const struct ipt_dnat_rule *r, char *buf, size_t len);

/* dry_run: compare only, never commit (*ret says what a real run would do;
 * view, if given, what the chain should hold and holds). 0 or -errno. */
int dnat_iptc_apply(const struct dnat_plan *p, bool dry_run, enum dnat_result *ret, struct dnat_view *view);
