/* Anti-spoofing in the nftables generation, decided without touching the
 * kernel: from the elements the sets `allowed` and `downstream` of table
 * ip/ip6 qubes hold now, the element edits that give one vif exactly its
 * protection, or take it away, or undo what an earlier edit did. Pure;
 * fw_nft.c commits the edits in one batch.
 *
 * For a client address A of vif VIF the protection is the pair
 *   "VIF" . A in allowed      VIF may send from A (keyed by VIF)
 *   A in downstream           A may arrive from a client vif only (shared)
 * downstream A is shared by every vif that has an allowed element for A
 * (a VM restarted under a new domid, before the old vif's offline ran): it
 * goes with the last of them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "nftq.h"

struct nftas_sets {
	const struct nftq_elem *allowed; /* both families */
	size_t n_allowed;
	const struct nftq_elem *downstream;
	size_t n_downstream;
};

struct nftas_edits {
	size_t n, cap;
	struct nftq_elem_edit *e;
};

void nftas_edits_done(struct nftas_edits *ed);
bool nftas_edits_delete_any(const struct nftas_edits *ed);

/* online: the edits after which allowed holds "ifname" . A for every A of
 * addrs and nothing else keyed by ifname, and downstream holds every A;
 * the downstream twin of a stale element goes unless another vif (or
 * addrs) still claims it. Only what is not in place already. */
int nftas_plan_ensure(const struct nftas_sets *cur, const char *ifname, const struct ip_addr *addrs,
		      unsigned n_addrs, struct nftas_edits *ret);

/* offline: every allowed element of ifname goes, and the downstream twin of
 * each address it had (or hint names) unless another vif claims it. */
int nftas_plan_remove(const struct nftas_sets *cur, const char *ifname, const struct ip_addr *hint,
		      unsigned n_hint, struct nftas_edits *ret);

/* Undoes done (edits an ensure made): its adds go, except a downstream
 * element another vif claims by now; its deletes come back. */
int nftas_plan_undo(const struct nftas_sets *cur, const char *ifname, const struct nftas_edits *done,
		    struct nftas_edits *ret);

/* The addresses of ifname's allowed elements; returns how many were put in
 * ret (at most max). */
unsigned nftas_claimed(const struct nftas_sets *cur, const char *ifname, struct ip_addr *ret, unsigned max);

bool nftas_has_allowed(const struct nftas_sets *cur, const char *ifname, const struct ip_addr *a);
bool nftas_has_downstream(const struct nftas_sets *cur, const struct ip_addr *a);
