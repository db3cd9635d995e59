/* NAT mode's private network namespace, IFNAME-nat: a named namespace as
 * `ip netns add` makes one (a bind mount under /run/netns, which must
 * outlive this process: run in the netvm's root mount namespace, as libxl
 * runs hotplug scripts), and the means to act inside it: an rtnetlink
 * socket, sysctls, an nf_tables socket. A socket acts on the namespace it
 * was opened in, so each is opened while this thread is inside and kept;
 * the thread itself is back home whenever a function here returns. */
#pragma once

#include <limits.h>
#include <stdbool.h>

#include "addr.h"

#define NATNS_DIR "/run/netns"

struct nlr;
struct nftq;

struct natns {
	char name[IFNAME_MAX + 8]; /* IFNAME-nat */
	char path[PATH_MAX];
	char peer[IFNAME_MAX];     /* IFNAME-p, the veth end inside */
	int home_fd;               /* the netvm's namespace (this thread's at init) */
	int fd;                    /* the namespace, -1 while it does not exist */
	struct nlr *nl;            /* rtnetlink inside, opened on first use */
};

/* Names everything after ifname and opens the namespace if it exists. */
int natns_init(struct natns *n, const char *ifname);
void natns_done(struct natns *n);
static inline bool natns_exists(const struct natns *n)
{
	return n->fd >= 0;
}

/* Makes the namespace exist: 1 created, 0 it was there already. */
int natns_create(struct natns *n);
/* Unmounts and removes it; what is still inside goes with it once nothing
 * holds it. 0 also when it did not exist. */
int natns_destroy(struct natns *n);

/* The rtnetlink socket inside (opened on first use). */
int natns_nl(struct natns *n, struct nlr **ret);
struct nlr_link;
/* The link called name inside: -ENODEV when there is none, or no
 * namespace. */
int natns_link(struct natns *n, const char *name, struct nlr_link *ret);
/* net.ipv{4,6}.conf.IF.KEY = VALUE inside (IF "all", "default" or a link). */
int natns_sysctl(struct natns *n, int family, const char *ifname, const char *key, const char *value);
/* Reads such a sysctl inside. */
int natns_sysctl_read(struct natns *n, int family, const char *ifname, const char *key, char *buf, size_t len);
/* A fresh nf_tables socket inside (the caller closes it). */
int natns_nftq(struct natns *n, struct nftq **ret);
