/* Detects nftables tables that hide our legacy x_tables rules from the
 * `iptables` (nft) command, so the tools can say where their rules are. */
#pragma once

#include <stdbool.h>

/* *ret_found = true when the current netns has an nftables table of family
 * ip, ip6 or inet. A kernel without nf_tables is "not found", not an error. */
int nft_has_ip_tables(bool *ret_found);
