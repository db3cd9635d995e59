/* Strict parsers for what xenstore and resolv.conf hand us: IP addresses,
 * MAC addresses, interface names. Pure functions, no side effects. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define IP_ADDR_STRLEN 46 /* INET6_ADDRSTRLEN */
#define IFNAME_MAX 16     /* IFNAMSIZ, NUL included */
#define VIF_MAX_DOMID 32752
#define VIF_MAX_DEVID 0x7fffffffu /* libxl_devid is an int */

struct ip_addr {
	int family; /* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
		uint8_t bytes[16];
	};
};

struct mac_addr {
	uint8_t b[6];
};

/* family AF_UNSPEC accepts either. Accepts only a bare address (no prefix,
 * no whitespace, no trailing junk): 0, or -EINVAL. */
int ip_addr_parse(const char *s, int family, struct ip_addr *ret);
/* Canonical text form (inet_ntop) into buf; returns buf. */
const char *ip_addr_to_string(const struct ip_addr *a, char buf[static IP_ADDR_STRLEN]);
bool ip_addr_equal(const struct ip_addr *a, const struct ip_addr *b);
bool ip_addr_is_loopback(const struct ip_addr *a);
bool ip_addr_is_link_local(const struct ip_addr *a);
/* Usable as a unicast host address: not unspecified, loopback, multicast,
 * broadcast, or (v6) link-local. */
bool ip_addr_is_unicast_host(const struct ip_addr *a);
unsigned ip_addr_host_prefixlen(const struct ip_addr *a); /* 32 or 128 */

/* Exactly "xx:xx:xx:xx:xx:xx", lower-case hex, unicast and non-zero. */
int mac_parse(const char *s, struct mac_addr *ret);
const char *mac_to_string(const struct mac_addr *m, char buf[static 18]);

/* "vif<domid>.<devid>" with no leading zeros, domid <= VIF_MAX_DOMID and
 * devid <= VIF_MAX_DEVID:
 * 0, -EINVAL (bad form) or -ERANGE (domid too large). */
int vif_name_parse(const char *s, unsigned *ret_domid, unsigned *ret_devid);
/* A name the kernel accepts and that is safe to print and to put in a
 * /proc/sys path: 1..15 chars of [A-Za-z0-9_.-], not "." or "..". */
bool ifname_is_valid(const char *s);
