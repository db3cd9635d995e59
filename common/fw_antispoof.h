/* The anti-spoofing of one vif, whatever the firewall generation: the
 * domain-level operations vif-route-qubes needs, with the same signature
 * for both backends (DESIGN "The seams"). The plan says what (the client
 * may send from these addresses through this vif); each backend decides
 * how:
 *   x_tables  raw PREROUTING drop rules, one libiptc commit per family
 *             (family AF_INET or AF_INET6 per call);
 *   nftables  elements of the sets allowed/downstream of the netvm's
 *             table ip/ip6 qubes, both families in one batch (family
 *             AF_UNSPEC).
 * 0 (or a count, where said) or -errno; nothing here logs. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "addr.h"
#include "fw.h"

struct nlr;

struct fw;

/* How long an operation waits for the xtables lock, at most. */
#define FW_LOCK_TIMEOUT_MS 10000

/* backend: FW_IPTABLES or FW_NFTABLES (already probed). */
int fw_open(enum fw_backend backend, struct fw **ret);
void fw_close(struct fw *fw);
enum fw_backend fw_backend_of(const struct fw *fw);

/* The families one operation covers, in the order a plan runs them for
 * online (offline runs them in reverse): {AF_INET, AF_INET6} for x_tables
 * (AF_INET6 only when the kernel has IPv6), {AF_UNSPEC} for nftables.
 * Returns how many. */
unsigned fw_antispoof_families(enum fw_backend backend, bool ipv6_kernel, int ret[static 2]);

/* What an ensure changed, for fw_antispoof_undo. */
struct fw_done;
void fw_done_free(struct fw_done *d);

/* online: afterwards the vif's client may send from exactly addrs (no
 * address: nothing), nothing stale of ifname is left, and every other
 * vif's protection is untouched. Returns the number of edits made (0:
 * all was in place); *ret_done (may be NULL) gets what they were.
 * *ret_detail (may be NULL) gets a static text saying what is missing
 * when the base ruleset lacks a table or set (e.g. "set ip6 qubes allowed
 * is missing"), else NULL. */
int fw_antispoof_ensure(struct fw *fw, int family, const char *ifname, const struct ip_addr *addrs, unsigned n_addrs,
			unsigned lock_timeout_ms, struct fw_done **ret_done, const char **ret_detail);
/* Undoes what one ensure did, except shared pieces another vif claims by
 * now. */
int fw_antispoof_undo(struct fw *fw, int family, const char *ifname, const struct fw_done *done,
		      unsigned lock_timeout_ms);
/* offline: everything keyed by ifname goes, and the shared pieces of the
 * addresses it claimed (or hint names) that no other vif claims. Pieces
 * already gone are fine. */
int fw_antispoof_remove(struct fw *fw, int family, const char *ifname, const struct ip_addr *hint, unsigned n_hint,
			unsigned lock_timeout_ms);

/* The addresses the kernel state keys by ifname (both families; IPv6 only
 * when ipv6_kernel), for offline without xenstore. Appends to ret (room for
 * max); *ret_n counts what is there in total. */
int fw_antispoof_claimed(struct fw *fw, const char *ifname, bool ipv6_kernel, struct ip_addr *ret, unsigned max,
			 unsigned *ret_n);

/* status: one line per wanted piece (word "ok", "missing" or "differs"),
 * then what defeats them ("defeats") and stale pieces of ifname ("stale"). */
struct fw_line {
	char word[9];
	char what[10];
	char text[360];
};

struct fw_report {
	size_t n;
	struct fw_line *line; /* malloc'd */
};

int fw_antispoof_check(struct fw *fw, int family, const char *ifname, const struct ip_addr *addrs, unsigned n_addrs,
		       struct fw_report *ret);
void fw_report_done(struct fw_report *r);

/* nftables generation only: recreates table inet qubes-nat-accel over
 * every interface of the namespace but lo (flow offload from client vifs
 * to the uplink), as Qubes R4.2+ does on every vif online. An interface
 * that vanishes meanwhile is left out. -EOPNOTSUPP: the kernel has no
 * flowtable support (the old table, if any, stays as it was). */
int fw_accel_recreate(struct fw *fw, struct nlr *nl);

/* One line for --dry-run, logs and hotplug-error. */
const char *fw_antispoof_describe(enum fw_backend backend, int family, bool remove, const char *ifname,
				  const struct ip_addr *addrs, unsigned n_addrs, char *buf, size_t len);
