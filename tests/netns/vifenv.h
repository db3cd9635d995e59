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
void vifenv_teardown(void);
/* Whether this fixture keeps the domain's keys in QubesDB. */
bool vifenv_qubesdb(void);
pid_t vifenv_qubesdb_pid(void);

/* A domain key (xenstore's name, e.g. "qubes-netvm-gateway6") where this
 * fixture keeps them; value NULL removes it. */
void vifenv_domain_key(const char *name, const char *value);
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
 * table, links, addresses, routes, neighbours, per-interface sysctls,
 * conntrack. Counters and the qdisc a link keeps after it was once up are
 * left out (kernel side effects, not configuration). */
char *vifenv_state(bool with_sysctls);

/* Lines of `iptables-legacy-save -t raw` (ipv6: ip6tables) starting "-A". */
char *vifenv_raw_rules(bool ipv6);

/* Asserts a and b are equal; on failure prints a diff. */
void vifenv_assert_same(const char *before, const char *after, const char *what);
