/* The expression-level view of one rule of chain dnat-dns, under
 * nftq_dns_read and nftq_dns_sync (nftq.h); declared for the unit tests,
 * which check it without a kernel. Not for the tools themselves. */
#pragma once

#include <stdbool.h>

#include "nftq.h"

struct nftnl_rule;

/* The rule nftq_dns_sync sends for d (table, chain and expressions set),
 * as nft builds `ip daddr DST PROTO dport 53 dnat to TO` / `... drop`:
 * payload nh+16 len 4, cmp; meta l4proto, cmp 1 byte; payload th+2 len 2,
 * cmp 00 35; then immediate reg 1 TO + nat dnat ip addr_min reg 1, or
 * immediate verdict drop. NULL when out of memory. */
struct nftnl_rule *nftq_dns_rule_build(const struct nftq_dns_rule *d);

/* got (a rule as the kernel lists it) says exactly what want says:
 * no userdata (a comment) on got, the same expressions in the same order,
 * every attribute of each set alike and with the same bytes. The one
 * difference allowed is the kernel's normalised nat: where want's nat sets
 * only REG_ADDR_MIN, got may add REG_ADDR_MAX equal to it and FLAGS =
 * NF_NAT_RANGE_MAP_IPS. */
bool nftq_dns_rule_equal(const struct nftnl_rule *want, const struct nftnl_rule *got);

/* The nftq_dns_rule got is, if it is exactly one (nftq_dns_rule_equal to
 * what nftq_dns_rule_build makes of the result). -EINVAL when it is not of
 * either shape, -ENOMEM. */
int nftq_dns_rule_decode(const struct nftnl_rule *got, struct nftq_dns_rule *ret);
