/* Makes the firewall hold what a dnat_plan says, with the backend this run
 * uses (dnat_iptc.c: x_tables chain PR-QBS; dnat_nft.c: nf_tables chain
 * dnat-dns of table ip qubes). Committed only when something differs, in
 * one commit or batch. No logging: 0 or -errno. */
#pragma once

#include <stdbool.h>

#include "dnat_plan.h"
#include "fw.h"

enum dnat_result {
	DNAT_UNCHANGED, /* already right: nothing committed */
	DNAT_CHANGED,
};

#define DNAT_VIEW_MAX 8  /* rules shown */
#define DNAT_LINE_MAX 128

/* For --dry-run: the rules the chain should hold and those it holds, as
 * text in the backend's own syntax. */
struct dnat_view {
	unsigned n_want;
	char want[DNAT_VIEW_MAX][DNAT_LINE_MAX];
	bool exists;       /* the chain exists */
	unsigned n_cur;    /* its rules of this program's shape, in order */
	char cur[DNAT_VIEW_MAX][DNAT_LINE_MAX];
	char other[160];   /* "" or what else it holds or lacks (rules of another shape, the jump, the hook) */
};

/* The chain as messages name it: "PR-QBS", "dnat-dns". */
const char *dnat_chain_name(enum fw_backend b);
/* Where it is, for messages: "the nat table", "table ip qubes". */
const char *dnat_chain_place(enum fw_backend b);

/* b: FW_IPTABLES or FW_NFTABLES. dry_run: compare only, never commit (*ret
 * says what a real run would do). view (may be NULL) is filled for a dry
 * run. -ENOENT from the nftables backend: table ip qubes is missing. */
int dnat_apply(enum fw_backend b, const struct dnat_plan *p, bool dry_run, enum dnat_result *ret,
	       struct dnat_view *view);
