#include <errno.h>

#include "dnat_apply.h"
#include "dnat_iptc.h"
#include "dnat_nft.h"

const char *dnat_chain_name(enum fw_backend b)
{
	return b == FW_NFTABLES ? DNAT_NFT_CHAIN : DNAT_IPT_CHAIN;
}

const char *dnat_chain_place(enum fw_backend b)
{
	return b == FW_NFTABLES ? "table ip " DNAT_NFT_TABLE : "the nat table";
}

int dnat_apply(enum fw_backend b, const struct dnat_plan *p, bool dry_run, enum dnat_result *ret,
	       struct dnat_view *view)
{
	switch (b) {
	case FW_IPTABLES:
		return dnat_iptc_apply(p, dry_run, ret, view);
	case FW_NFTABLES:
		return dnat_nft_apply(p, dry_run, ret, view);
	default:
		return -EINVAL;
	}
}
