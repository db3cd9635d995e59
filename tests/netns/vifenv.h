/* A simulated netvm for driving the real vif-route-qubes binary: a private
 * netns, a test xenstored holding what the toolstack writes, and veth pairs
 * standing in for vifs. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "testlib.h"

/* Checked fixture: netns + xenstored + vif3.0 (peer eth0) + xenstore keys
 * for a client 10.137.0.5 / 00:16:3e:5e:6c:00 behind gateway 10.137.0.1,
 * the domain's keys in xenstore (plain Xen). */
void vifenv_setup(void);
/* The same with the domain's keys in a test QubesDB (a Qubes VM). */
void vifenv_setup_qubesdb(void);
/* The nftables generation (Qubes R4.2+): the domain's keys in QubesDB and
 * the project's base ruleset (tests/nft/qubes-base.nft) loaded before any
 * vif, so the programs pick the nftables backend. No x_tables table is
 * registered in this namespace: a run that touched one would show. */
void vifenv_setup_nft(void);
void vifenv_teardown(void);
/* Whether this fixture keeps the domain's keys in QubesDB. */
bool vifenv_qubesdb(void);
/* Whether this fixture is the nftables generation (else x_tables). */
bool vifenv_nft(void);
/* How the one syslog line per run names this fixture's backend:
 * "nftables sets" or "x_tables raw tables". */
const char *vifenv_fw_words(void);
pid_t vifenv_qubesdb_pid(void);

/* A domain key (xenstore's name, e.g. "qubes-netvm-gateway6") where this
 * fixture keeps them; value NULL removes it. */
void vifenv_domain_key(const char *name, const char *value);
/* The client ip4's mapped-ip keys (NAT mode when visible_ip is not ip4)
 * in this fixture's QubesDB; NULL removes one. Every client of a QubesDB
 * fixture has them, as dom0 writes them for every client. Nothing in a
 * xenstore fixture: xenstore paths cannot hold the address's dots. */
void vifenv_mapped_ip(const char *ip4, const char *visible_ip, const char *visible_gateway);
/* The pid of this test's own xenstored. */
pid_t vifenv_xenstored_pid(void);

/* Adds veth vifD.0 (peer cD) and its backend keys; ip may be "" or NULL
 * (key absent). */
void vifenv_add_vif(unsigned domid, const char *ip, const char *mac);

/* Runs vif-route-qubes as libxl does: env vif and XENBUS_PATH (NULL: unset),
 * then ARGS (e.g. "online type_if=vif"). Returns the exit status; *ret_err
 * (may be NULL) gets its stderr. */
int vifenv_run(const char *vif, const char *xenbus_path, const char *args, char **ret_err);
/* Same for vifD.0 with XENBUS_PATH backend/vif/D/0. */
int vifenv_run_dom(unsigned domid, const char *args, char **ret_err);

/* The whole kernel state the program could touch, as text: every x_tables
 * table, the nftables ruleset (whatever the fixture), links with their
 * group, addresses, routes, neighbours, per-interface sysctls, conntrack.
 * Counters and the qdisc a link keeps after it was once up are left out
 * (kernel side effects, not configuration). */
char *vifenv_state(bool with_sysctls);
/* vifenv_state() and NAT mode's side: which named namespaces exist and,
 * when NS does, its links, addresses, permanent neighbours, routes,
 * ruleset and forwarding sysctl. Errors are part of the text: a half-made
 * namespace (a mount point without its mount) shows in a diff instead of
 * stopping the listing. */
char *vifenv_nat_state(const char *ns, bool with_sysctls);
/* s with interface indexes blanked out (line starts and "@ifN"), in
 * place: NAT mode's veth is a new one after every repair. */
char *vifenv_without_ifindex(char *s);

/* --- anti-spoofing, whichever backend the fixture runs ------------------- */

/* This fixture's backend's anti-spoofing state, one item a line:
 * x_tables: "iptables -A PREROUTING ..." then "ip6tables -A ...", in the
 * tables' order; nftables: "ip qubes allowed \"vif3.0\" . 10.137.0.5",
 * "ip6 qubes downstream fd09::5", every element of the `allowed` and
 * `downstream` sets of both families, sorted. */
char *vifenv_antispoof_lines(void);
/* Every element of the four sets in the form above, whatever the
 * fixture (no table: nothing). */
char *vifenv_nft_elements(void);
/* What vifenv_antispoof_lines() holds when vif alone is protected for
 * addrs (space-separated, "" for none): x_tables the two rules per
 * address, or `-i VIF -j DROP` for a family without one; nftables the
 * `allowed` element and its `downstream` twin per address. */
char *vifenv_antispoof_want(const char *vif, const char *addrs);
/* Asserts the anti-spoofing state is exactly vif's for addrs, and, when
 * the link exists, its interface group is the backend's (nftables: 2,
 * x_tables: default). */
void vifenv_expect_protected(const char *vif, const char *addrs);
/* Asserts no anti-spoofing state at all (no raw rule, no set element). */
void vifenv_expect_no_antispoof(void);
/* The link's interface group as `ip -d link` prints it ("2",
 * "default"), "" when there is no such link. Malloc'd. */
char *vifenv_link_group(const char *ifname);
/* What an earlier client left under vif's name for addr (a killed
 * offline): x_tables `-i VIF ! -s ADDR -j DROP` (and, with twin, its
 * `-s ADDR ! -i vif+ -j DROP`) at the top of raw PREROUTING; nftables the
 * element `"VIF" . ADDR` in `allowed` (and, with twin, ADDR in
 * `downstream`). */
void vifenv_add_stale(const char *vif, const char *addr, bool twin);

/* Asserts a and b are equal; on failure prints a diff. */
void vifenv_assert_same(const char *before, const char *after, const char *what);
