#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "util.h"

int ip_addr_parse(const char *s, int family, struct ip_addr *ret)
{
	struct ip_addr a = {};

	/* inet_pton already refuses prefixes, spaces and trailing junk; the
	 * length cap keeps absurd inputs away from it. */
	if (!s || strlen(s) >= IP_ADDR_STRLEN)
		return -EINVAL;
	if ((family == AF_INET || family == AF_UNSPEC) && inet_pton(AF_INET, s, &a.v4) == 1)
		a.family = AF_INET;
	else if ((family == AF_INET6 || family == AF_UNSPEC) && inet_pton(AF_INET6, s, &a.v6) == 1)
		a.family = AF_INET6;
	else
		return -EINVAL;
	*ret = a;
	return 0;
}

const char *ip_addr_to_string(const struct ip_addr *a, char buf[static IP_ADDR_STRLEN])
{
	if (!inet_ntop(a->family, a->bytes, buf, IP_ADDR_STRLEN))
		strcpy(buf, "?");
	return buf;
}

bool ip_addr_equal(const struct ip_addr *a, const struct ip_addr *b)
{
	if (a->family != b->family)
		return false;
	if (a->family == AF_INET)
		return a->v4.s_addr == b->v4.s_addr;
	return memcmp(&a->v6, &b->v6, sizeof(a->v6)) == 0;
}

bool ip_addr_is_loopback(const struct ip_addr *a)
{
	if (a->family == AF_INET)
		return (ntohl(a->v4.s_addr) >> 24) == 127;
	return IN6_IS_ADDR_LOOPBACK(&a->v6);
}

bool ip_addr_is_link_local(const struct ip_addr *a)
{
	if (a->family == AF_INET)
		return (ntohl(a->v4.s_addr) >> 16) == 0xa9fe; /* 169.254/16 */
	return IN6_IS_ADDR_LINKLOCAL(&a->v6);
}

bool ip_addr_is_unicast_host(const struct ip_addr *a)
{
	if (ip_addr_is_loopback(a))
		return false;
	if (a->family == AF_INET) {
		uint32_t h = ntohl(a->v4.s_addr);

		return h != 0 && h != 0xffffffffu && (h >> 28) != 0xe; /* 224/4 */
	}
	return !IN6_IS_ADDR_UNSPECIFIED(&a->v6) && !IN6_IS_ADDR_MULTICAST(&a->v6) &&
	       !IN6_IS_ADDR_LINKLOCAL(&a->v6) && !IN6_IS_ADDR_V4MAPPED(&a->v6);
}

unsigned ip_addr_host_prefixlen(const struct ip_addr *a)
{
	return a->family == AF_INET ? 32 : 128;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1; /* upper case is not the form Xen writes */
}

int mac_parse(const char *s, struct mac_addr *ret)
{
	struct mac_addr m;
	bool zero = true;

	if (!s || strlen(s) != 17)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		int hi = hexval(s[3 * i]), lo = hexval(s[3 * i + 1]);

		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			return -EINVAL;
		m.b[i] = (uint8_t)(hi << 4 | lo);
		zero = zero && m.b[i] == 0;
	}
	/* A group address or all-zero cannot be one VM's NIC. */
	if (zero || (m.b[0] & 1))
		return -EINVAL;
	*ret = m;
	return 0;
}

const char *mac_to_string(const struct mac_addr *m, char buf[static 18])
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x",
		 m->b[0], m->b[1], m->b[2], m->b[3], m->b[4], m->b[5]);
	return buf;
}

/* Decimal without sign or leading zero, at most 10 digits; -EINVAL or -ERANGE. */
static int parse_decimal(const char **p, unsigned long *ret)
{
	const char *s = *p;
	unsigned long v = 0;
	int n = 0;

	if (*s == '0') {
		*ret = 0;
		*p = s + 1;
		return (s[1] >= '0' && s[1] <= '9') ? -EINVAL : 0;
	}
	while (*s >= '0' && *s <= '9') {
		if (++n > 10)
			return -ERANGE;
		v = v * 10 + (unsigned long)(*s++ - '0');
	}
	if (n == 0)
		return -EINVAL;
	*ret = v;
	*p = s;
	return 0;
}

int vif_name_parse(const char *s, unsigned *ret_domid, unsigned *ret_devid)
{
	unsigned long domid, devid;
	int r;

	if (!s || !startswith(s, "vif") || strlen(s) >= IFNAME_MAX)
		return -EINVAL;
	s += 3;
	r = parse_decimal(&s, &domid);
	if (r == -EINVAL || *s != '.')
		return -EINVAL;
	if (r == -ERANGE)
		return -ERANGE;
	s++;
	r = parse_decimal(&s, &devid);
	/* Xen's device ids are ints: a larger one would wrap to another vif. */
	if (r < 0 || *s || devid > VIF_MAX_DEVID)
		return -EINVAL;
	if (domid > VIF_MAX_DOMID)
		return -ERANGE;
	if (ret_domid)
		*ret_domid = (unsigned)domid;
	if (ret_devid)
		*ret_devid = (unsigned)devid;
	return 0;
}

bool ifname_is_valid(const char *s)
{
	size_t n;

	if (!s)
		return false;
	n = strlen(s);
	if (n == 0 || n >= IFNAME_MAX || streq(s, ".") || streq(s, ".."))
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}
