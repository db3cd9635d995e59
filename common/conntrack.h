/* Conntrack purge over raw ctnetlink (libmnl), in the caller's netns. */
#pragma once

#include "addr.h"

#include <stddef.h>

/* Deletes every entry whose original-direction source or destination is
 * one of addrs (either family), in one walk of the table; none when the
 * namespace tracks nothing. *ret_deleted (may be NULL) gets the count.
 * 0 or -errno. */
int ct_purge_addrs(const struct ip_addr *addrs, size_t n, unsigned *ret_deleted);
int ct_purge_addr(const struct ip_addr *a, unsigned *ret_deleted);
