/* Which firewall generation this namespace runs (SPEC "Firewall
 * backend"): the nftables one of Qubes R4.2+ (sets in table ip/ip6 qubes)
 * or the x_tables one of Qubes R4.1 and plain Xen (libiptc, legacy raw
 * and nat tables). Chosen once per run. */
#pragma once

enum fw_backend {
	FW_AUTO,
	FW_IPTABLES,
	FW_NFTABLES,
};

/* "auto", "iptables" or "nftables": 0, or -EINVAL. */
int fw_backend_parse(const char *s, enum fw_backend *ret);
const char *fw_backend_name(enum fw_backend b);

/* requested FW_AUTO: nftables when `table ip qubes` exists here with a set
 * named `allowed` (the Qubes R4.2+ base ruleset is loaded before any vif),
 * else iptables (also on a kernel without nf_tables). Any other request is
 * returned as it is. 0 or -errno (the netlink query failed). */
int fw_probe(enum fw_backend requested, enum fw_backend *ret);
