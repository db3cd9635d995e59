/* STUB: replaced by the netlink implementation. */
#include <errno.h>
#include <stddef.h>
#include "nl.h"
int nlr_open(struct nlr **ret) { return -ENOSYS; }
struct nlr *nlr_free(struct nlr *n) { return NULL; }
int nlr_errno_from_nle(int nle) { return -EIO; }
int nlr_link_get(struct nlr *n, const char *name, struct nlr_link *ret) { return -ENOSYS; }
int nlr_link_set_up(struct nlr *n, int ifindex, bool up) { return -ENOSYS; }
int nlr_link_rename(struct nlr *n, int ifindex, const char *newname) { return -ENOSYS; }
int nlr_addr_add(struct nlr *n, int ifindex, const struct ip_addr *a) { return -ENOSYS; }
int nlr_addr_del(struct nlr *n, int ifindex, const struct ip_addr *a) { return -ENOSYS; }
int nlr_addr_exists(struct nlr *n, int ifindex, const struct ip_addr *a) { return -ENOSYS; }
int nlr_route_add(struct nlr *n, int ifindex, const struct ip_addr *dst, uint32_t metric) { return -ENOSYS; }
int nlr_route_del(struct nlr *n, int ifindex, const struct ip_addr *dst, uint32_t metric) { return -ENOSYS; }
int nlr_route_exists(struct nlr *n, int ifindex, const struct ip_addr *dst, uint32_t metric) { return -ENOSYS; }
int nlr_neigh_add(struct nlr *n, int ifindex, const struct ip_addr *a, const struct mac_addr *mac, bool replace) { return -ENOSYS; }
int nlr_neigh_del(struct nlr *n, int ifindex, const struct ip_addr *a) { return -ENOSYS; }
int nlr_neigh_get(struct nlr *n, int ifindex, const struct ip_addr *a, struct mac_addr *ret_mac, bool *ret_permanent) { return -ENOSYS; }
