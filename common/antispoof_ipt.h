/* The x_tables anti-spoofing of one vif in one family: the plans of
 * antispoof.h carried out in the raw table's PREROUTING chain, each in one
 * libiptc commit under the xtables lock (retried from a fresh read when the
 * table changed under us). Returns the number of edits made (0: nothing
 * to do), or -errno. */
#pragma once

#include "antispoof.h"

/* done (may be NULL) gets the edits made, for ipt_antispoof_undo. */
int ipt_antispoof_ensure(int family, const char *ifname, const struct ip_addr *addrs, unsigned n_addrs,
			 unsigned lock_timeout_ms, struct antispoof_ops *done);
int ipt_antispoof_undo(int family, const char *ifname, const struct antispoof_ops *done,
		       unsigned lock_timeout_ms);
int ipt_antispoof_remove(int family, const char *ifname, const struct ip_addr *hint, unsigned n_hint,
			 unsigned lock_timeout_ms);

/* A snapshot of raw PREROUTING (no lock): *ret malloc'd. */
int ipt_antispoof_rules(int family, struct ipt_rule_view **ret, size_t *ret_n);
