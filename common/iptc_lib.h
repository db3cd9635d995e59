/* libip4tc and libip6tc, loaded on first use: dlopen by soname
 * (RTLD_LAZY|RTLD_LOCAL), never closed. Only the x_tables generation (Qubes
 * R4.1, plain Xen) calls them; a hotplug run of the nftables generation,
 * one process per event, does not pay for loading them.
 *
 * The pointers have the types of the libiptc headers, so every call is
 * checked against the real prototype. Nothing here logs above debug. */
#pragma once

#include <libiptc/libip6tc.h>
#include <libiptc/libiptc.h>

#define IP4TC_SONAME "libip4tc.so.2"
#define IP6TC_SONAME "libip6tc.so.2"

/* The functions we call, as NAME for iptc_NAME / ip6tc_NAME. */
#define IPTC_LIB_FUNCTIONS(X, prefix)                                                            \
	X(prefix, init) X(prefix, free) X(prefix, commit) X(prefix, is_chain) X(prefix, check_entry) \
	X(prefix, delete_entry) X(prefix, insert_entry) X(prefix, append_entry)                      \
	X(prefix, create_chain) X(prefix, flush_entries) X(prefix, first_rule) X(prefix, next_rule)  \
	X(prefix, get_target)

#define IPTC_LIB_MEMBER(prefix, name) __typeof__(prefix##_##name) *name;

struct iptc_lib { /* IPv4, as libiptc names it */
	IPTC_LIB_FUNCTIONS(IPTC_LIB_MEMBER, iptc)
};

struct ip6tc_lib {
	IPTC_LIB_FUNCTIONS(IPTC_LIB_MEMBER, ip6tc)
};

/* The library's functions, loading it on the first call. A library or a
 * function that cannot be loaded gives -ELIBACC, again on every later call,
 * with "cannot load SONAME: <dlerror>" as the text logged for that errno
 * (log_set_errno_text). */
int iptc_lib_load(const struct iptc_lib **ret);
int ip6tc_lib_load(const struct ip6tc_lib **ret);
