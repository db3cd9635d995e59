/* rtnetlink through libnl-route-3: links, addresses, routes, neighbours.
 * Every function returns 0 (or 1/0 for *_exists) or -errno: the exact errno
 * the kernel sent, not libnl's lossy NLE code. Adding what exists gives
 * -EEXIST; deleting what is missing gives -ENOENT (whatever the kernel
 * said: ESRCH, EADDRNOTAVAIL, ENOENT). Nothing here logs above debug. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"

struct nlr;

int nlr_open(struct nlr **ret);
struct nlr *nlr_free(struct nlr *n);

/* libnl NLE_* code (negative or not) -> -errno (the fallback when the
 * kernel's own errno was not seen): 0 -> 0, NLE_EXIST -> -EEXIST,
 * NLE_OBJ_NOTFOUND -> -ENOENT, NLE_NOMEM -> -ENOMEM, NLE_NODEV -> -ENODEV;
 * the codes libnl makes from exactly one errno go back to it (NLE_NOADDR
 * -> -EADDRNOTAVAIL, NLE_NOACCESS -> -EACCES, NLE_PERM -> -EPERM,
 * NLE_BUSY, NLE_OPNOTSUPP, NLE_AF_NOSUPPORT, NLE_RANGE, NLE_AGAIN,
 * NLE_INTR), NLE_INVAL -> -EINVAL; anything else -> -EIO. */
int nlr_errno_from_nle(int nle);

#define NLR_ALIAS_MAX 64

struct nlr_link {
	int ifindex;
	bool up; /* IFF_UP set */
	uint32_t group; /* IFLA_GROUP (0: the default group) */
	char name[IFNAME_MAX];
	char alias[NLR_ALIAS_MAX]; /* IFLA_IFALIAS, "" when none (truncated) */
};

int nlr_link_get(struct nlr *n, const char *name, struct nlr_link *ret); /* -ENODEV when absent */

struct nlr_link_name {
	int ifindex;
	char name[IFNAME_MAX];
};

/* Every link of the namespace, in ifindex order, from one dump that
 * leaves the statistics out (most of what the kernel writes per link):
 * the flowtable step lists them on every online. *ret (free() it) holds
 * *ret_n entries. */
int nlr_link_names(struct nlr *n, struct nlr_link_name **ret, size_t *ret_n);
int nlr_link_set_up(struct nlr *n, int ifindex, bool up);
/* Link up or down and its interface group, in one request. */
int nlr_link_set_state(struct nlr *n, int ifindex, bool up, uint32_t group);
int nlr_link_rename(struct nlr *n, int ifindex, const char *newname);
/* The interface's alias (ip link ... alias); "" removes it. */
int nlr_link_set_alias(struct nlr *n, int ifindex, const char *alias);

/* Moves the link into the network namespace of nsfd (it goes down, and
 * loses its addresses, as any move does). */
int nlr_link_set_netns(struct nlr *n, int ifindex, int nsfd);
/* Deletes the link (a veth: both ends). -ENOENT when it is gone. */
int nlr_link_del(struct nlr *n, int ifindex);
/* A veth pair: name (MAC mac) in this socket's namespace, peer (MAC
 * peer_mac) in the namespace of peer_nsfd (-1: here too); both down.
 * -EEXIST when either name is taken. */
int nlr_veth_add(struct nlr *n, const char *name, const struct mac_addr *mac, const char *peer,
		 const struct mac_addr *peer_mac, int peer_nsfd);

/* Host address (/32 or /128; IPv6 with IFA_F_NODAD). */
int nlr_addr_add(struct nlr *n, int ifindex, const struct ip_addr *a);
int nlr_addr_del(struct nlr *n, int ifindex, const struct ip_addr *a);
int nlr_addr_exists(struct nlr *n, int ifindex, const struct ip_addr *a);

/* Host route to dst via ifindex in the main table: IPv4 "scope link
 * metric M", IPv6 "metric M". */
int nlr_route_add(struct nlr *n, int ifindex, const struct ip_addr *dst, uint32_t metric);
int nlr_route_del(struct nlr *n, int ifindex, const struct ip_addr *dst, uint32_t metric);
int nlr_route_exists(struct nlr *n, int ifindex, const struct ip_addr *dst, uint32_t metric);
/* The interface of the host route to dst with metric in the main table,
 * whichever it is: -ENOENT when there is none. */
int nlr_route_oif(struct nlr *n, const struct ip_addr *dst, uint32_t metric, int *ret_ifindex);

/* Permanent neighbour entry. replace=false: NLM_F_CREATE|NLM_F_EXCL
 * (-EEXIST when any entry for a exists); replace=true: CREATE|REPLACE. */
int nlr_neigh_add(struct nlr *n, int ifindex, const struct ip_addr *a, const struct mac_addr *mac, bool replace);
int nlr_neigh_del(struct nlr *n, int ifindex, const struct ip_addr *a);
/* -ENOENT when there is no entry for a on ifindex. */
int nlr_neigh_get(struct nlr *n, int ifindex, const struct ip_addr *a, struct mac_addr *ret_mac, bool *ret_permanent);
