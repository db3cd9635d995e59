/* The names of every interface of this network namespace, in ifindex
 * order, from one rtnetlink dump that leaves out the statistics. The
 * flowtable step lists them on every online; with a thousand vifs,
 * if_nameindex(3) -- a full dump, statistics and all -- was most of an
 * online's time. */
#pragma once

#include <stddef.h>

struct link_name {
	int ifindex;
	char name[16]; /* IFNAMSIZ */
};

/* *ret (free() it) holds *ret_n entries. */
int link_names_list(struct link_name **ret, size_t *ret_n);
