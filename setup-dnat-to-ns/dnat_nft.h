/* The nf_tables rendering of a dnat_plan: chain dnat-dns of table ip qubes
 * (type nat, hook prerouting, priority dstnat, policy accept) holding per
 * pair `ip daddr DNSx udp dport 53 dnat to Rx` and the same for tcp, or
 * `... drop` for a dropping pair; replaced, when it differs, in one
 * genid-guarded batch (nftq_dns_sync). The table belongs to the base
 * ruleset: never created here. */
#pragma once

#include <stddef.h>

#include "dnat_apply.h"
#include "dnat_plan.h"
#include "nftq.h"

#define DNAT_NFT_TABLE NFTQ_TABLE
#define DNAT_NFT_CHAIN NFTQ_DNAT_CHAIN
#define DNAT_NFT_MAX_RULES (DNAT_MAX_PAIRS * DNAT_N_PROTOS)

/* The rules dnat-dns must hold for p, in order; returns their number. */
unsigned dnat_nft_rules(const struct dnat_plan *p, struct nftq_dns_rule ret[DNAT_NFT_MAX_RULES]);

/* nft's syntax: "ip daddr 10.139.1.1 udp dport 53 dnat to 192.0.2.1". */
const char *dnat_nft_rule_to_string(const struct nftq_dns_rule *r, char *buf, size_t len);

int dnat_nft_apply(const struct dnat_plan *p, bool dry_run, enum dnat_result *ret, struct dnat_view *view);
