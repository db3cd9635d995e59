/* The x_tables backend of fw_antispoof.h: the pure planner of
 * antispoof.h run by antispoof_ipt.c, one libiptc commit per family. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "antispoof_ipt.h"
#include "fw_backend.h"
#include "util.h"

static void free_ops(void *data)
{
	antispoof_ops_done(data);
	free(data);
}

int iptc_antispoof_ensure(int family, const char *ifname, const struct ip_addr *addrs, unsigned n_addrs,
			  unsigned lock_timeout_ms, struct fw_done *done)
{
	struct antispoof_ops *ops = calloc(1, sizeof(*ops));
	int r;

	if (!ops)
		return -ENOMEM;
	r = ipt_antispoof_ensure(family, ifname, addrs, n_addrs, lock_timeout_ms, ops);
	if (r < 0) {
		free(ops);
		return r;
	}
	done->data = ops;
	done->free_data = free_ops;
	return r;
}

int iptc_antispoof_undo(int family, const char *ifname, const struct fw_done *done, unsigned lock_timeout_ms)
{
	int r;

	if (!done->data)
		return 0;
	r = ipt_antispoof_undo(family, ifname, done->data, lock_timeout_ms);
	return r < 0 ? r : 0;
}

int iptc_antispoof_remove(int family, const char *ifname, const struct ip_addr *hint, unsigned n_hint,
			  unsigned lock_timeout_ms)
{
	int r = ipt_antispoof_remove(family, ifname, hint, n_hint, lock_timeout_ms);

	return r < 0 ? r : 0;
}

int iptc_antispoof_claimed(const char *ifname, bool ipv6_kernel, struct ip_addr *ret, unsigned max,
			   unsigned *ret_n)
{
	static const int families[] = { AF_INET, AF_INET6 };

	for (size_t i = 0; i < 2; i++) {
		_cleanup_free_ struct ipt_rule_view *rules = NULL;
		size_t n = 0;
		int r;

		if (families[i] == AF_INET6 && !ipv6_kernel)
			continue;
		r = ipt_antispoof_rules(families[i], &rules, &n);
		if (r < 0)
			return r;
		*ret_n += antispoof_claimed(rules, n, ifname, ret + *ret_n, max - *ret_n);
	}
	return 0;
}

int iptc_antispoof_check(int family, const char *ifname, const struct ip_addr *addrs, unsigned n_addrs,
			 struct fw_report *ret)
{
	const char *cmd = family == AF_INET ? "iptables" : "ip6tables";
	_cleanup_free_ struct ipt_rule_view *rules = NULL;
	struct antispoof_report rep;
	bool shown[8] = {};
	size_t n = 0;
	int r;

	r = ipt_antispoof_rules(family, &rules, &n);
	if (r < 0)
		return r;
	r = antispoof_check(rules, n, family, ifname, addrs, n_addrs, &rep);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < rep.n && r >= 0; i++) {
		const struct antispoof_item *it = &rep.item[i];
		char rule[160];

		ipt_drop_rule_to_string(&it->rule, rule, sizeof(rule));
		if (!it->present)
			r = fw_report_add(ret, "missing", "rule", "%s raw PREROUTING %s", cmd, rule);
		else if (it->defeated_by >= 0)
			r = fw_report_add(ret, "differs", "rule",
					  "%s raw PREROUTING %s (is below rule %ld that may accept its traffic, want "
					  "above it)",
					  cmd, rule, it->defeated_by + 1);
		else
			r = fw_report_add(ret, "ok", "rule", "%s raw PREROUTING %s", cmd, rule);
	}
	/* What defeats them, each once. */
	for (unsigned i = 0; i < rep.n && r >= 0; i++) {
		long d = rep.item[i].defeated_by;
		char text[160];

		if (d < 0 || (d < 8 && shown[d]))
			continue;
		if (d < 8)
			shown[d] = true;
		r = fw_report_add(ret, "defeats", "rule", "%s raw PREROUTING rule %ld: %s -- above %s's anti-spoofing rules",
				  cmd, d + 1, ipt_rule_view_to_string(&rules[d], text, sizeof(text)), ifname);
	}
	for (size_t i = 0; i < rep.n_stale && r >= 0; i++) {
		char text[160];

		r = fw_report_add(ret, "stale", "rule", "%s raw PREROUTING %s -- for an address %s's client does not have",
				  cmd, ipt_rule_view_to_string(&rules[rep.stale[i]], text, sizeof(text)), ifname);
	}
	antispoof_report_done(&rep);
	return r < 0 ? r : 0;
}

void iptc_antispoof_describe(int family, bool remove, const char *ifname, const struct ip_addr *addrs,
			     unsigned n_addrs, char *buf, size_t len)
{
	struct ipt_drop_rule rules[ANTISPOOF_MAX_WANTED];
	unsigned n = antispoof_wanted(family, ifname, addrs, n_addrs, rules);
	size_t off;

	off = (size_t)snprintf(buf, len, "%s raw PREROUTING (%s):",
			       remove ? "delete every rule of the vif, and the shared '! -i vif+' ones no other vif "
					"claims, from"
				      : "insert at top of",
			       family == AF_INET ? "iptables" : "ip6tables");
	for (unsigned i = 0; i < n && off < len; i++) {
		char rule[160];

		off += (size_t)snprintf(buf + off, len - off, "%s [%s]", i ? "," : "",
					ipt_drop_rule_to_string(&rules[i], rule, sizeof(rule)));
	}
}
