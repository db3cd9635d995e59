/* The domain's own keys -- its gateway addresses, the virtual DNS
 * addresses, NAT-mode mappings, the hardening service -- from where the
 * domain keeps them: QubesDB on every Qubes since 4.0, xenstore on plain
 * Xen. The toolstack's keys (backend/vif/...) and hotplug-* stay on
 * xenstore (xs.h). An absent key is not an error; a source that exists
 * but cannot be read is, and never falls back to the other. Never logs. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct xsh;

enum cfg_key {
	CFG_GATEWAY,         /* qubes-netvm-gateway */
	CFG_GATEWAY6,        /* qubes-netvm-gateway6 */
	CFG_DNS1,            /* qubes-netvm-primary-dns */
	CFG_DNS2,            /* qubes-netvm-secondary-dns */
	CFG_HARDEN,          /* qubes-service/harden-network-interfaces */
	CFG_VISIBLE_IP,      /* mapped-ip/<ip4>/visible-ip */
	CFG_VISIBLE_GATEWAY, /* mapped-ip/<ip4>/visible-gateway */
	_CFG_KEY_MAX,
};

enum cfg_source {
	CFG_SOURCE_AUTO,
	CFG_SOURCE_QUBESDB,
	CFG_SOURCE_XENSTORE,
	_CFG_SOURCE_MAX,
};

/* "auto", "qubesdb", "xenstore": 0 or -EINVAL. */
int cfg_source_from_string(const char *s, enum cfg_source *ret);

struct cfg;

/* auto: QubesDB when $QUBESDB_SOCKET is set, or /run/qubes/qubesdb.sock,
 * else /run/qubes/qubesdb.ro.sock, exists; xenstore otherwise. qubesdb:
 * the same sockets, -ENOENT when there is none. xs: the connection to use
 * for the xenstore source (borrowed; NULL: open one). Errors: -errno of
 * the connection (the socket exists but nobody answers: an error). */
int cfg_open(enum cfg_source want, struct xsh *xs, uint64_t deadline, struct cfg **ret);
/* What cfg_open(want) would connect to, as cfg_describe() says it: for
 * messages when it fails. */
const char *cfg_describe_choice(enum cfg_source want, char *buf, size_t len);
void cfg_close(struct cfg *c);

/* "QubesDB (/run/qubes/qubesdb.sock)" or "xenstore". */
const char *cfg_describe(const struct cfg *c);
/* "QubesDB" or "xenstore". */
const char *cfg_source_name(const struct cfg *c);
/* The key's name in this source: "/qubes-netvm-gateway" (QubesDB),
 * "qubes-netvm-gateway" (xenstore, relative to the domain's home); arg is
 * the client's IPv4 for the mapped-ip keys. */
const char *cfg_key_path(const struct cfg *c, enum cfg_key key, const char *arg, char *buf, size_t len);

/* Reads keys[0..n) into ret[0..n): malloc'd strings, NULL when absent.
 * QubesDB: the qubes-netvm-* keys come in one round trip (MULTIREAD of
 * /qubes-netvm-), and so do the mapped-ip keys when both are asked for
 * (of /mapped-ip/<arg>/); xenstore: all in one call on its thread. On
 * error nothing is returned and cfg_failed_path() names what failed (a
 * MULTIREAD as its prefix and "*"). */
int cfg_read(struct cfg *c, const enum cfg_key *keys, size_t n, const char *arg, char **ret);
const char *cfg_failed_path(const struct cfg *c);

/* The value of key, waiting until `until` for it to appear (QubesDB: a
 * WATCH; xenstore: no waiting). 0 with *ret NULL when it did not. */
int cfg_wait(struct cfg *c, enum cfg_key key, const char *arg, uint64_t until, char **ret);
/* Whether cfg_wait can wait at all (QubesDB) or only reads (xenstore). */
bool cfg_can_wait(const struct cfg *c);
