/* STUB: replaced by the conntrack implementation. */
#include <errno.h>
#include "conntrack.h"
int ct_purge_addr(const struct ip_addr *a, unsigned *ret_deleted) { return -ENOSYS; }
