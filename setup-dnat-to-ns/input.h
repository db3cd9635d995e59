/* Everything setup-dnat-to-ns acts on, read and validated before any side
 * effect: the virtual DNS addresses (options, or the domain's keys from
 * QubesDB or xenstore) and the real resolvers (resolv.conf). Logs its one
 * error line itself, as vif-route-qubes' input does. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>

#include "cfg.h"
#include "resolv.h"

#define DNAT_RESOLV_CONF "/etc/resolv.conf"
#define DNAT_RESOLVED_CONF "/run/systemd/resolve/resolv.conf"

/* Where to read from, as the command line says. */
struct dnat_sources {
	const char *resolv_conf;
	const char *resolved_conf;
	bool resolv_conf_named; /* given by option: it must exist */
	bool resolved_conf_named;
	const char *dns1_arg; /* --dns1, or NULL: the domain's keys */
	const char *dns2_arg;
	enum cfg_source config;
};

struct dnat_input {
	struct in_addr vdns[2];
	unsigned n_vdns;     /* 0: this VM serves no DNS to others */
	char keys_from[160]; /* where the virtual addresses came from */
	struct resolv_conf rc;
};

int dnat_input_read(const struct dnat_sources *s, struct dnat_input *ret);
