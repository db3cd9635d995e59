/* Conntrack purge through libnetfilter_conntrack, in the caller's netns. */
#pragma once

#include "addr.h"

/* Deletes every entry whose original-direction source or destination is a.
 * *ret_deleted (may be NULL) gets the count. 0 or -errno. */
int ct_purge_addr(const struct ip_addr *a, unsigned *ret_deleted);
