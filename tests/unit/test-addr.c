/* Strict parsers: every form xenstore could hand us, good and bad. */
#include <arpa/inet.h>
#include <check.h>

#include "addr.h"
#include "testlib.h"

static const struct {
	const char *s;
	int family; /* AF_UNSPEC: must be rejected */
	const char *canon;
} ip_cases[] = {
	{ "10.137.0.5", AF_INET, "10.137.0.5" },
	{ "0.0.0.1", AF_INET, "0.0.0.1" },
	{ "255.255.255.254", AF_INET, "255.255.255.254" },
	{ "fd09:24ef:4179::a89:5", AF_INET6, "fd09:24ef:4179::a89:5" },
	{ "FD09:24EF:4179:0:0:0:A89:5", AF_INET6, "fd09:24ef:4179::a89:5" },
	{ "::1", AF_INET6, "::1" },
	{ "10.137.0.300", AF_UNSPEC, NULL },
	{ "10.137.0.5/24", AF_UNSPEC, NULL },
	{ "10.137.0.5;reboot", AF_UNSPEC, NULL },
	{ "10.137.0.5 ", AF_UNSPEC, NULL },
	{ " 10.137.0.5", AF_UNSPEC, NULL },
	{ "10.137.0", AF_UNSPEC, NULL },
	{ "10.137.0.05", AF_UNSPEC, NULL },
	{ "0x0a.1.1.1", AF_UNSPEC, NULL },
	{ "", AF_UNSPEC, NULL },
	{ "fe80::1%eth0", AF_UNSPEC, NULL },
	{ "fd09::/64", AF_UNSPEC, NULL },
	{ "1.2.3.4\n", AF_UNSPEC, NULL },
	{ "::ffff:1.2.3.4.5", AF_UNSPEC, NULL },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", AF_UNSPEC, NULL },
};

START_TEST(test_ip_parse)
{
	struct ip_addr a = {};
	char buf[IP_ADDR_STRLEN];
	int r = ip_addr_parse(ip_cases[_i].s, AF_UNSPEC, &a);

	if (ip_cases[_i].family == AF_UNSPEC) {
		ck_assert_msg(r == -EINVAL, "'%s' accepted", ip_cases[_i].s);
		return;
	}
	ck_assert_msg(r == 0, "'%s' rejected", ip_cases[_i].s);
	ck_assert_int_eq(a.family, ip_cases[_i].family);
	ck_assert_str_eq(ip_addr_to_string(&a, buf), ip_cases[_i].canon);
}
END_TEST

START_TEST(test_ip_parse_family)
{
	struct ip_addr a;

	ck_assert_int_eq(ip_addr_parse("10.1.1.1", AF_INET, &a), 0);
	ck_assert_int_eq(ip_addr_parse("10.1.1.1", AF_INET6, &a), -EINVAL);
	ck_assert_int_eq(ip_addr_parse("fd00::1", AF_INET, &a), -EINVAL);
	ck_assert_int_eq(ip_addr_parse("fd00::1", AF_INET6, &a), 0);
	ck_assert_int_eq(ip_addr_parse(NULL, AF_UNSPEC, &a), -EINVAL);
}
END_TEST

static const struct {
	const char *s;
	bool unicast, loopback, link_local;
} class_cases[] = {
	{ "10.137.0.5", true, false, false },
	{ "0.0.0.0", false, false, false },
	{ "255.255.255.255", false, false, false },
	{ "224.0.0.1", false, false, false },
	{ "239.255.255.250", false, false, false },
	{ "127.0.0.53", false, true, false },
	{ "169.254.1.1", true, false, true },
	{ "fd09::5", true, false, false },
	{ "::", false, false, false },
	{ "::1", false, true, false },
	{ "ff02::1", false, false, false },
	{ "fe80::1", false, false, true },
	{ "::ffff:10.1.1.1", false, false, false },
};

START_TEST(test_ip_classes)
{
	struct ip_addr a;

	ck_assert_int_eq(ip_addr_parse(class_cases[_i].s, AF_UNSPEC, &a), 0);
	ck_assert_msg(ip_addr_is_unicast_host(&a) == class_cases[_i].unicast, "unicast %s", class_cases[_i].s);
	ck_assert_msg(ip_addr_is_loopback(&a) == class_cases[_i].loopback, "loopback %s", class_cases[_i].s);
	ck_assert_msg(ip_addr_is_link_local(&a) == class_cases[_i].link_local, "link-local %s", class_cases[_i].s);
}
END_TEST

START_TEST(test_ip_equal)
{
	struct ip_addr a, b, c;

	ck_assert_int_eq(ip_addr_parse("fd09::5", AF_UNSPEC, &a), 0);
	ck_assert_int_eq(ip_addr_parse("fd09:0::0:5", AF_UNSPEC, &b), 0);
	ck_assert_int_eq(ip_addr_parse("10.0.0.5", AF_UNSPEC, &c), 0);
	ck_assert(ip_addr_equal(&a, &b));
	ck_assert(!ip_addr_equal(&a, &c));
	ck_assert_int_eq(ip_addr_host_prefixlen(&a), 128);
	ck_assert_int_eq(ip_addr_host_prefixlen(&c), 32);
}
END_TEST

static const struct {
	const char *s;
	bool ok;
} mac_cases[] = {
	{ "00:16:3e:5e:6c:00", true },
	{ "02:00:00:00:00:01", true },
	{ "00:16:3e:5e:6c", false },
	{ "zz:16:3e:5e:6c:00", false },
	{ "00:16:3E:5E:6C:00", false },
	{ "00-16-3e-5e-6c-00", false },
	{ "00:16:3e:5e:6c:00:", false },
	{ "00:16:3e:5e:6c:0", false },
	{ "0:16:3e:5e:6c:000", false },
	{ "00:00:00:00:00:00", false },
	{ "01:00:5e:00:00:01", false },
	{ "ff:ff:ff:ff:ff:ff", false },
	{ "", false },
	{ "00:16:3e:5e:6c:00\n", false },
};

START_TEST(test_mac_parse)
{
	struct mac_addr m;
	char buf[18];
	int r = mac_parse(mac_cases[_i].s, &m);

	ck_assert_msg((r == 0) == mac_cases[_i].ok, "'%s': %d", mac_cases[_i].s, r);
	if (r == 0)
		ck_assert_str_eq(mac_to_string(&m, buf), mac_cases[_i].s);
}
END_TEST

static const struct {
	const char *s;
	int r;
	unsigned domid, devid;
} vif_cases[] = {
	{ "vif3.0", 0, 3, 0 },
	{ "vif0.0", 0, 0, 0 },
	{ "vif32752.1", 0, 32752, 1 },
	{ "vif12.34", 0, 12, 34 },
	{ "vif3.2147483647", 0, 3, 2147483647 },
	{ "vif3.2147483648", -EINVAL, 0, 0 },  /* over Xen's int device id */
	{ "vif3.4294967296", -EINVAL, 0, 0 },  /* would wrap to vif3.0 */
	{ "vif3.9999999999", -EINVAL, 0, 0 },
	{ "vif32753.0", -ERANGE, 0, 0 },
	{ "vif99999.0", -ERANGE, 0, 0 },
	{ "vif99999999999.0", -EINVAL, 0, 0 }, /* too long for an interface name */
	{ "vif01.0", -EINVAL, 0, 0 },
	{ "vif1.01", -EINVAL, 0, 0 },
	{ "eth0", -EINVAL, 0, 0 },
	{ "vif", -EINVAL, 0, 0 },
	{ "vif.0", -EINVAL, 0, 0 },
	{ "vif3.", -EINVAL, 0, 0 },
	{ "vif3", -EINVAL, 0, 0 },
	{ "vif3.0.1", -EINVAL, 0, 0 },
	{ "vif-3.0", -EINVAL, 0, 0 },
	{ "vif+3.0", -EINVAL, 0, 0 },
	{ "vif3.0 ", -EINVAL, 0, 0 },
	{ "Vif3.0", -EINVAL, 0, 0 },
	{ "", -EINVAL, 0, 0 },
};

START_TEST(test_vif_name)
{
	unsigned domid = 1234, devid = 1234;
	int r = vif_name_parse(vif_cases[_i].s, &domid, &devid);

	ck_assert_msg(r == vif_cases[_i].r, "'%s': got %d, want %d", vif_cases[_i].s, r, vif_cases[_i].r);
	if (r == 0) {
		ck_assert_uint_eq(domid, vif_cases[_i].domid);
		ck_assert_uint_eq(devid, vif_cases[_i].devid);
	}
}
END_TEST

START_TEST(test_ifname)
{
	ck_assert(ifname_is_valid("vif3.0"));
	ck_assert(ifname_is_valid("vif-work_1"));
	ck_assert(ifname_is_valid("abcdefghijklmno"));
	ck_assert(!ifname_is_valid("abcdefghijklmnop"));
	ck_assert(!ifname_is_valid(""));
	ck_assert(!ifname_is_valid("."));
	ck_assert(!ifname_is_valid(".."));
	ck_assert(!ifname_is_valid("a/b"));
	ck_assert(!ifname_is_valid("a b"));
	ck_assert(!ifname_is_valid("vif+"));
	ck_assert(!ifname_is_valid("a:b"));
	ck_assert(!ifname_is_valid(NULL));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("addr");
	TCase *tc;

	tc = tcase_create("ip_parse");
	tcase_add_loop_test(tc, test_ip_parse, 0, ELEMENTSOF(ip_cases));
	tcase_add_test(tc, test_ip_parse_family);
	tcase_add_test(tc, test_ip_equal);
	suite_add_tcase(s, tc);

	tc = tcase_create("ip_classes");
	tcase_add_loop_test(tc, test_ip_classes, 0, ELEMENTSOF(class_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("mac");
	tcase_add_loop_test(tc, test_mac_parse, 0, ELEMENTSOF(mac_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("vif_name");
	tcase_add_loop_test(tc, test_vif_name, 0, ELEMENTSOF(vif_cases));
	tcase_add_test(tc, test_ifname);
	suite_add_tcase(s, tc);

	return tl_main(s, false);
}
