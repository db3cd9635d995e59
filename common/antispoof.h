/* Anti-spoofing in the x_tables raw table, decided without touching the
 * kernel: from the rules a chain holds now, the edits that give one vif
 * exactly its protection, or take it away, or undo what an earlier edit
 * did. Pure; antispoof_ipt.c runs the edits in one libiptc commit.
 *
 * For a client address A of a vif VIF the protection is the pair
 *   -i VIF ! -s A -j DROP      VIF sends from A only ("R1", keyed by VIF)
 *   ! -i vif+ -s A -j DROP     A arrives from a vif only ("R2", shared)
 * and for a family in which the client has no address, -i VIF -j DROP.
 * R2 is shared by every vif that claims A (a VM restarted under a new
 * domid, before the old vif's offline ran): it goes with the last R1 of A.
 * No rule that may accept the traffic a protecting rule drops may sit above
 * it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "ipt.h"

#define ANTISPOOF_MAX_WANTED (2 * 16 + 1)

struct antispoof_op {
	bool insert;              /* else delete one copy */
	unsigned pos;             /* insert: 0-based position */
	struct ipt_drop_rule rule;
};

struct antispoof_ops {
	size_t n, cap;
	struct antispoof_op *op;
};

void antispoof_ops_done(struct antispoof_ops *ops);

/* The rules that protect ifname in family, in the order they go at the top
 * of the chain; ret has room for ANTISPOOF_MAX_WANTED. Addresses of the
 * other family are ignored; at most 16 are used. */
unsigned antispoof_wanted(int family, const char *ifname, const struct ip_addr *addrs, unsigned n_addrs,
			  struct ipt_drop_rule *ret);

/* online: the edits after which the chain holds ifname's wanted rules,
 * above any rule that could accept what they drop, and no other rule keyed
 * by ifname (stale ones, from an earlier client of the same name), nor an
 * R2 that only such a stale rule claimed. Empty when all is in place. */
int antispoof_plan_ensure(const struct ipt_rule_view *rules, size_t n_rules, int family, const char *ifname,
			  const struct ip_addr *addrs, unsigned n_addrs, struct antispoof_ops *ret);

/* offline: every rule keyed by ifname goes, and the R2 of each address it
 * claimed (or hint names) unless another vif still claims it. */
int antispoof_plan_remove(const struct ipt_rule_view *rules, size_t n_rules, int family, const char *ifname,
			  const struct ip_addr *hint, unsigned n_hint, struct antispoof_ops *ret);

/* The addresses ifname's R1 rules claim (read-only; for offline's plan). */
unsigned antispoof_claimed(const struct ipt_rule_view *rules, size_t n_rules, const char *ifname,
			   struct ip_addr *ret, unsigned max);

/* Undoes done (edits made by an ensure): what it inserted goes, except an
 * R2 that another vif claims by now; what it deleted comes back at the top. */
int antispoof_plan_undo(const struct ipt_rule_view *rules, size_t n_rules, const char *ifname,
			const struct antispoof_ops *done, struct antispoof_ops *ret);

/* status: for each wanted rule, whether it is there and, if so, the index
 * of the first rule above it that may accept what it drops (-1: none). */
struct antispoof_item {
	struct ipt_drop_rule rule;
	bool present;
	long defeated_by;
};

struct antispoof_report {
	unsigned n;
	struct antispoof_item item[ANTISPOOF_MAX_WANTED];
	size_t n_stale;   /* rules keyed by ifname that are not wanted */
	size_t *stale;    /* their indices (malloc'd) */
};

int antispoof_check(const struct ipt_rule_view *rules, size_t n_rules, int family, const char *ifname,
		    const struct ip_addr *addrs, unsigned n_addrs, struct antispoof_report *ret);
void antispoof_report_done(struct antispoof_report *r);
