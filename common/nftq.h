/* nf_tables over netlink, in-process (libnftnl + libmnl): the few
 * operations the nftables generation of Qubes needs, each one batch. No
 * logging here (common/ never logs); 0 or -errno everywhere.
 *
 * Layout the functions act on (SPEC "Two generations"): the netvm's own
 * `table ip qubes` / `table ip6 qubes`, each with set `downstream`
 * (ipv4_addr / ipv6_addr) and set `allowed` (ifname . ipv4_addr /
 * ifname . ipv6_addr), chain `dnat-dns` in `table ip qubes`, and the table
 * `inet qubes-nat-accel` with flowtable `qubes-accel`. They never create,
 * flush or delete the `qubes` tables or their sets. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define NFTQ_TABLE "qubes"
#define NFTQ_SET_ALLOWED "allowed"
#define NFTQ_SET_DOWNSTREAM "downstream"
#define NFTQ_DNAT_CHAIN "dnat-dns"
#define NFTQ_ACCEL_TABLE "qubes-nat-accel"
#define NFTQ_ACCEL_FLOWTABLE "qubes-accel"

struct nftq;

/* A NETLINK_NETFILTER socket in the caller's current network namespace. */
int nftq_open(struct nftq **ret);
/* May sleep for an RCU grace period when this socket's batches deleted
 * something (see the notes, §6.3). NULL is fine. */
void nftq_close(struct nftq *q);

/* The ruleset generation of the namespace (NFT_MSG_GETGEN). */
int nftq_genid(struct nftq *q, uint32_t *ret);

/* Whether set NAME exists in `table <family> qubes` with the expected key
 * (allowed: ifname . addr, keylen 20 / 32; downstream: addr, 4 / 16).
 * 0 yes; -ENOENT the table or the set is missing; -EPROTOTYPE it exists
 * with another key type or length, or is a map, object or interval set
 * (their elements are encoded differently). family: AF_INET or AF_INET6. */
int nftq_set_check(struct nftq *q, int family, const char *name);

/* One element of `allowed` (ifname set) or `downstream` (ifname empty). */
struct nftq_elem {
	char ifname[IFNAME_MAX]; /* "" for downstream */
	struct ip_addr addr;     /* its family says which table */
};

/* Every element of set NAME of `table <family> qubes` (a dump), *ret
 * malloc'd (free() it; may be NULL when *ret_n is 0). -ENOENT when the
 * table or set is missing. Elements whose key does not decode (wrong
 * length, ifname not NUL-terminated within 16 bytes, non-zero bytes after
 * the name's NUL: no packet matches those) are skipped. A dump interrupted
 * by a concurrent commit is read again (a few times). */
int nftq_set_list(struct nftq *q, int family, const char *name, struct nftq_elem **ret, size_t *ret_n);

/* One edit of a set element. */
struct nftq_elem_edit {
	bool del;         /* else add */
	const char *set;  /* NFTQ_SET_ALLOWED or NFTQ_SET_DOWNSTREAM */
	struct nftq_elem e;
};

/* All edits in ONE batch (any mix of families and sets; one message per
 * run of same-kind edits of one set, so their order is kept): all of them
 * happen or none does. An add of an element already there and a delete of
 * one that is not (NFT_MSG_DESTROYSETELEM) are no-ops, not errors.
 * genid: when non-zero, sent as NFNL_BATCH_GENID: -ERESTART when anything
 * committed in the namespace since that generation (nothing applied).
 * Errors: -ENOENT (table or set missing; *ret_missing, if given, then
 * names the set as "ip qubes allowed" — a static string — or NULL when the
 * kernel did not say which), others as the kernel reports them. n == 0
 * does nothing and returns 0. */
int nftq_elems_commit(struct nftq *q, const struct nftq_elem_edit *edits, size_t n, uint32_t genid,
		      const char **ret_missing);

/* --- the flowtable table inet qubes-nat-accel ---------------------------- */

/* Recreates, in one batch (NEWTABLE, DELTABLE, NEWTABLE, NEWFLOWTABLE,
 * NEWCHAIN, NEWRULE...): table inet qubes-nat-accel holding flowtable
 * qubes-accel (hook ingress, priority 0, over devs) and a chain `forward`
 * (filter, hook forward, priority filter + 5, policy accept) with, for tcp
 * and for udp, `meta l4proto P iifgroup 2 oifgroup 1 flow add @qubes-accel`.
 * The batch carries the generation id read just before; on -ERESTART it
 * is rebuilt and retried (a few times). A failed batch leaves the old
 * table as it was. -ENOENT: the kernel has no flowtable support, or a
 * device vanished (the kernel does not say which; callers may re-list the
 * devices and try again). n_devs is at most 255 (-E2BIG); a name that is
 * not a valid interface name gives -EINVAL; with none, no device list. */
int nftq_accel_recreate(struct nftq *q, const char *const *devs, size_t n_devs);

/* The same batch, only built, into buf (for message-level tests): the
 * bytes that would be sent, batch begin to batch end, with sequence
 * numbers from seq. Returns the length, -ENOBUFS when len is too small. */
ssize_t nftq_accel_build(void *buf, size_t len, uint32_t seq, uint32_t genid, const char *const *devs,
			 size_t n_devs);

/* --- chain dnat-dns of table ip qubes ------------------------------------ */

/* One rule of dnat-dns: `ip daddr DST PROTO dport 53 dnat to TO`, or with
 * drop set `ip daddr DST PROTO dport 53 drop`. */
struct nftq_dns_rule {
	struct in_addr dst;
	uint8_t proto; /* IPPROTO_UDP or IPPROTO_TCP */
	bool drop;
	struct in_addr to; /* unused when drop */
};

#define NFTQ_DNS_MAX_RULES 8

/* What the chain holds now. *ret_exists false: no such chain (or no
 * table). *ret_ok false: the chain exists but is not exactly a nat
 * prerouting chain at priority dstnat, policy accept, whose rules all have
 * one of the two shapes above (then ret holds what did decode). */
struct nftq_dns_state {
	uint32_t genid; /* read before the chain */
	bool exists;
	bool ok;
	unsigned n;
	struct nftq_dns_rule rule[NFTQ_DNS_MAX_RULES];
};

int nftq_dns_read(struct nftq *q, struct nftq_dns_state *ret);

/* Makes chain dnat-dns of table ip qubes hold exactly rules, in order:
 * the generation id read first, then the chain compared at expression
 * level (the kernel's normalised nat accepted as equal); when it already
 * holds them, nothing is committed and *ret_changed is false. Otherwise,
 * unless dry_run, one batch (carrying the generation id) deletes the chain
 * and re-creates it (type nat, hook prerouting, priority -100, policy
 * accept) with the rules; on -ERESTART all of it is redone (bounded).
 * -ENOENT when table ip qubes is missing (it is the base ruleset's, never
 * created here). */
int nftq_dns_sync(struct nftq *q, const struct nftq_dns_rule *rules, unsigned n, bool dry_run, bool *ret_changed);

/* --- NAT mode: table netdev antispoof inside a vif's own namespace ------- */

/* Everything here acts on the namespace the socket q was opened in (a
 * netlink socket keeps the netns it was created in): setns() into VIF-nat
 * first, then nftq_open. */
#define NFTQ_NAT_TABLE "antispoof"
#define NFTQ_NAT_ITEMS 6 /* 2 chains, 4 rules */

/* What the per-vif namespace VIF-nat translates (SPEC "NAT mode"). */
struct nftq_nat {
	char vif[IFNAME_MAX];   /* the Xen vif, inside the namespace: the client's side */
	char peer[IFNAME_MAX];  /* VIF-p: the veth end toward the netvm */
	uint32_t vif_index;     /* their ifindexes in that namespace: `fwd` stores an index */
	uint32_t peer_index;
	struct in_addr real;    /* the client's address as the netvm knows it */
	struct in_addr visible; /* the address the client itself uses */
	uint8_t mac[6];         /* the client's MAC */
};

/* Recreates, in ONE batch, in the namespace of q: NEWTABLE netdev
 * antispoof (works whether or not it exists), DELTABLE, NEWTABLE, then
 *  chain from-client: filter, hook ingress, device m->vif, priority 0, policy drop:
 *    ip saddr VISIBLE ip saddr set REAL fwd to peer_index
 *      (IPv4 header checksum and the L4 pseudo-header checksum updated)
 *    arp htype 1 ptype ip hlen 6 plen 4, sender MAC = mac, sender IP = VISIBLE: accept
 *  chain to-client: filter, hook ingress, device m->peer, priority 0, policy drop:
 *    ip daddr REAL ip daddr set VISIBLE fwd to vif_index (the same checksums)
 *    ether type arp: accept
 * Nothing else passes either device. A failed batch leaves the old table.
 * -EINVAL: a name that is not a valid interface name, the two names or
 * indexes equal, an index, an address or the MAC zero. */
int nftq_nat_replace(struct nftq *q, const struct nftq_nat *m);
/* The same batch, only built (message-level tests), sequence numbers from
 * seq. Returns its length, -ENOBUFS when len is too small, -EINVAL. */
ssize_t nftq_nat_build(void *buf, size_t len, uint32_t seq, const struct nftq_nat *m);
/* Removes table netdev antispoof; missing is not an error (0). */
int nftq_nat_remove(struct nftq *q);

enum nftq_nat_state { NFTQ_NAT_OK, NFTQ_NAT_MISSING, NFTQ_NAT_DIFFERS };

struct nftq_nat_item {
	/* e.g. `rule from-client: ip saddr 10.152.152.11 ip saddr set 10.137.0.5 fwd to "vif3.0-p"` */
	char what[160];
	enum nftq_nat_state state;
};

/* The 6 items as m wants them, in order -- chain from-client (with its
 * type, hook, device, priority, policy), its two rules, chain to-client,
 * its two rules -- all NFTQ_NAT_OK: for --dry-run. */
void nftq_nat_describe(const struct nftq_nat *m, struct nftq_nat_item ret[NFTQ_NAT_ITEMS]);
/* status: the same items checked against the namespace of q (one
 * consistent read: the generation id before and after). MISSING when
 * absent; DIFFERS when present but not equal, compared at expression
 * level: a rule whose `fwd` holds a stale ifindex (an interface was
 * recreated) differs. A chain DIFFERS also when it holds more rules than
 * its two, when another base chain of the table hooks its device, or when
 * the table is dormant. Returns how many items are not OK, or -errno when
 * the state cannot be read (-EINVAL for m as nftq_nat_replace, -EAGAIN
 * when the ruleset kept changing under the read). */
int nftq_nat_check(struct nftq *q, const struct nftq_nat *m, struct nftq_nat_item ret[NFTQ_NAT_ITEMS]);
