/* Per-interface sysctls written through /proc/sys (dots in interface names
 * make the sysctl(8) key form unusable). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* family AF_INET -> net/ipv4/conf/IF/KEY, AF_INET6 -> net/ipv6/conf/IF/KEY.
 * Reads the value without the trailing newline. */
int sysctl_if_read(int family, const char *ifname, const char *key, char *buf, size_t len);
int sysctl_if_write(int family, const char *ifname, const char *key, const char *value);
/* The kernel has IPv6 at all (/proc/sys/net/ipv6 exists). */
bool sysctl_ipv6_available(void);
/* IPv6 is off on ifname: no IPv6 in the kernel, or disable_ipv6 != 0, or
 * the interface has no IPv6 conf directory. */
bool sysctl_ipv6_disabled(const char *ifname);
