/* Validation of everything vif-route-qubes reads before it acts: the
 * libxl environment and the xenstore values. Each rejection must name the
 * offending value in one line. */
#include <check.h>
#include <stdio.h>

#include "input.h"
#include "log.h"
#include "testlib.h"

static struct vif_input env_ok(void)
{
	struct vif_input in = {};

	ck_assert_int_eq(vif_input_from_env("vif3.0", "backend/vif/3/0", &in), 0);
	return in;
}

START_TEST(test_xenbus_path)
{
	unsigned d, n;

	ck_assert_int_eq(xenbus_path_parse("backend/vif/3/0", &d, &n), 0);
	ck_assert_uint_eq(d, 3);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(xenbus_path_parse("/local/domain/1/backend/vif/12/3", &d, &n), 0);
	ck_assert_uint_eq(d, 12);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(xenbus_path_parse("backend/vif/3", &d, &n), -EINVAL);
	ck_assert_int_eq(xenbus_path_parse("backend/vif/3/0/", &d, &n), -EINVAL);
	ck_assert_int_eq(xenbus_path_parse("backend/vbd/3/0", &d, &n), -EINVAL);
	ck_assert_int_eq(xenbus_path_parse("backend/vif/03/0", &d, &n), -EINVAL);
	ck_assert_int_eq(xenbus_path_parse("/local/domain/0/../backend/vif/3/0", &d, &n), -EINVAL);
	ck_assert_int_eq(xenbus_path_parse("/backend/vif/3/0", &d, &n), -EINVAL);
	ck_assert_int_eq(xenbus_path_parse("backend/vif/3/0 ", &d, &n), -EINVAL);
	ck_assert_int_eq(xenbus_path_parse("", &d, &n), -EINVAL);
	ck_assert_int_eq(xenbus_path_parse("backend/vif/3/4294967296", &d, &n), -EINVAL);
	ck_assert_int_eq(xenbus_path_parse("backend/vif/3/2147483648", &d, &n), -EINVAL);
	ck_assert_int_eq(xenbus_path_parse("backend/vif/3/2147483647", &d, &n), 0);
	ck_assert_uint_eq(n, 2147483647);
}
END_TEST

static const struct {
	const char *vif, *xb, *msg;
} env_bad[] = {
	{ NULL, "backend/vif/3/0", "vif environment variable is not set" },
	{ "vif3.0", NULL, "XENBUS_PATH is not set" },
	{ "eth0", "backend/vif/3/0", "bad interface name 'eth0'" },
	{ "vif01.0", "backend/vif/1/0", "bad interface name 'vif01.0'" },
	{ "vif32753.0", "backend/vif/32753/0", "domid is over 32752" },
	{ "vif3.0", "backend/vif/4/0", "does not belong to XENBUS_PATH" },
	/* 2^32: a devid truncated to 32 bits would pass for backend/vif/3/0 */
	{ "vif3.4294967296", "backend/vif/3/0", "bad interface name 'vif3.4294967296'" },
	{ "vif3.0", "frontend/vif/3/0", "XENBUS_PATH 'frontend/vif/3/0'" },
};

START_TEST(test_env_bad)
{
	struct vif_input in = {};

	log_reset_last_error();
	ck_assert_int_lt(vif_input_from_env(env_bad[_i].vif, env_bad[_i].xb, &in), 0);
	ck_assert_ptr_nonnull(log_last_error());
	ck_assert_msg(strstr(log_last_error(), env_bad[_i].msg), "message '%s' lacks '%s'", log_last_error(),
		      env_bad[_i].msg);
}
END_TEST

START_TEST(test_env_ok)
{
	struct vif_input in = env_ok();

	ck_assert_str_eq(in.vif, "vif3.0");
	ck_assert_str_eq(in.ifname, "vif3.0");
	ck_assert_uint_eq(in.domid, 3);
	ck_assert_uint_eq(in.metric, 32749);
	ck_assert_str_eq(in.xenbus_path, "backend/vif/3/0");

	in = (struct vif_input){};
	ck_assert_int_eq(vif_input_from_env("vif0.0", "backend/vif/0/0", &in), 0);
	ck_assert_uint_eq(in.metric, 32752);
	in = (struct vif_input){};
	ck_assert_int_eq(vif_input_from_env("vif32752.0", "/local/domain/2/backend/vif/32752/0", &in), 0);
	ck_assert_uint_eq(in.metric, 0);
}
END_TEST

START_TEST(test_env_keeps_xenbus_path_on_bad_vif)
{
	struct vif_input in = {};

	/* Results go only where $vif and XENBUS_PATH agree: never to another
	 * vif's backend directory. */
	ck_assert_int_lt(vif_input_from_env("eth0", "backend/vif/3/0", &in), 0);
	ck_assert_str_eq(in.xenbus_path, "");
	ck_assert_int_lt(vif_input_from_env("vif4.0", "backend/vif/3/0", &in), 0);
	ck_assert_str_eq(in.xenbus_path, "");
	ck_assert_int_lt(vif_input_from_env(NULL, "backend/vif/3/0", &in), 0);
	ck_assert_str_eq(in.xenbus_path, "");
}
END_TEST

static struct vif_store store_base(void)
{
	return (struct vif_store){
		.ip = (char *)"10.137.0.5",
		.mac = (char *)"00:16:3e:5e:6c:00",
		.gateway = (char *)"10.137.0.1",
	};
}

START_TEST(test_store_ok_v4)
{
	struct vif_input in = env_ok();
	struct vif_store s = store_base();
	char buf[IP_ADDR_STRLEN];

	ck_assert_int_eq(vif_input_from_store(&s, &in), 0);
	ck_assert_uint_eq(in.n_addrs, 1);
	ck_assert_str_eq(ip_addr_to_string(&in.addrs[0], buf), "10.137.0.5");
	ck_assert(in.has_mac);
	ck_assert(in.has_gateway);
	ck_assert(!in.has_gateway6);
	ck_assert(in.harden);
	ck_assert_str_eq(in.type, "vif");
	ck_assert(!in.rename);
}
END_TEST

START_TEST(test_store_dual_stack)
{
	struct vif_input in = env_ok();
	struct vif_store s = store_base();
	char buf[IP_ADDR_STRLEN];

	s.ip = (char *)" 10.137.0.5  fd09:24ef:4179::a89:5 10.137.0.5 ";
	s.gateway6 = (char *)"fd09:24ef:4179::a89:1";
	s.type = (char *)"ioemu";
	s.harden = (char *)"";
	ck_assert_int_eq(vif_input_from_store(&s, &in), 0);
	ck_assert_uint_eq(in.n_addrs, 2); /* duplicate dropped */
	ck_assert_str_eq(ip_addr_to_string(&in.addrs[1], buf), "fd09:24ef:4179::a89:5");
	ck_assert(in.has_gateway6);
	ck_assert(!in.harden);
	ck_assert_str_eq(in.type, "ioemu");
}
END_TEST

/* The hardening service: absent on, "" or "0" off (dom0 writes "0" for a
 * disabled service), anything else on. */
START_TEST(test_store_harden)
{
	static const struct {
		const char *v;
		bool on;
	} cases[] = { { NULL, true }, { "", false }, { "0", false }, { "1", true }, { "yes", true }, { "00", true } };

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		struct vif_input in = env_ok();
		struct vif_store s = store_base();

		s.harden = (char *)cases[i].v;
		ck_assert_int_eq(vif_input_from_store(&s, &in), 0);
		ck_assert_msg(in.harden == cases[i].on, "harden '%s': %d", cases[i].v ? cases[i].v : "(absent)", in.harden);
	}
}
END_TEST

/* Messages name the source and the key. */
START_TEST(test_store_key_names)
{
	struct vif_input in = env_ok();
	struct vif_store s = store_base();

	s.gateway = NULL;
	snprintf(s.gateway_name, sizeof(s.gateway_name), "QubesDB key /qubes-netvm-gateway");
	log_reset_last_error();
	ck_assert_int_lt(vif_input_from_store(&s, &in), 0);
	ck_assert_str_eq(log_last_error(), "QubesDB key /qubes-netvm-gateway is missing");
}
END_TEST

START_TEST(test_store_empty_ip)
{
	struct vif_input in = env_ok();
	struct vif_store s = { .ip = (char *)"" }; /* no mac, no gateway: not needed */

	ck_assert_int_eq(vif_input_from_store(&s, &in), 0);
	ck_assert_uint_eq(in.n_addrs, 0);
	s.ip = NULL;
	ck_assert_int_eq(vif_input_from_store(&s, &in), 0);
	ck_assert_uint_eq(in.n_addrs, 0);
	ck_assert(!in.has_gateway);
	/* A gateway that is there is still checked (offline takes it off). */
	s.gateway = (char *)"10.137.0.1";
	ck_assert_int_eq(vif_input_from_store(&s, &in), 0);
	ck_assert(in.has_gateway);
	in = env_ok();
	s.gateway = (char *)"10.137.0.256";
	ck_assert_int_lt(vif_input_from_store(&s, &in), 0);
}
END_TEST

START_TEST(test_store_vifname)
{
	struct vif_input in = env_ok();
	struct vif_store s = store_base();

	s.vifname = (char *)"vif-work";
	ck_assert_int_eq(vif_input_from_store(&s, &in), 0);
	ck_assert(in.rename);
	ck_assert_str_eq(in.ifname, "vif-work");
	ck_assert_str_eq(in.vif, "vif3.0");

	in = env_ok();
	s.vifname = (char *)"vif3.0";
	ck_assert_int_eq(vif_input_from_store(&s, &in), 0);
	ck_assert(!in.rename);

	/* Another vif's Xen name: that vif's, never ours. */
	in = env_ok();
	log_reset_last_error();
	s.vifname = (char *)"vif4.0";
	ck_assert_int_lt(vif_input_from_store(&s, &in), 0);
	ck_assert_ptr_nonnull(strstr(log_last_error(), "another Xen vif's name"));
	in = env_ok();
	s.vifname = (char *)"vif3.1";
	ck_assert_int_lt(vif_input_from_store(&s, &in), 0);
}
END_TEST

static const struct {
	const char *field, *value, *msg;
} store_bad[] = {
	{ "ip", "10.137.0.300", "invalid address '10.137.0.300' in backend/vif/3/0/ip" },
	{ "ip", "10.137.0.5/24", "invalid address '10.137.0.5/24'" },
	{ "ip", "10.137.0.5;reboot", "invalid address '10.137.0.5;reboot'" },
	{ "ip", "10.137.0.5\t10.137.0.6", "invalid address" },
	{ "ip", "10.137.0.5\n", "invalid address" },
	{ "ip", "0.0.0.0", "not a unicast host address" },
	{ "ip", "224.0.0.1", "not a unicast host address" },
	{ "ip", "127.0.0.1", "not a unicast host address" },
	{ "ip", "fe80::5", "not a unicast host address" },
	{ "ip", "1.1.1.1 1.1.1.2 1.1.1.3 1.1.1.4 1.1.1.5 1.1.1.6 1.1.1.7 1.1.1.8 1.1.1.9 1.1.1.10 1.1.1.11 "
		"1.1.1.12 1.1.1.13 1.1.1.14 1.1.1.15 1.1.1.16 1.1.1.17", "more than 16 addresses" },
	{ "mac", NULL, "backend/vif/3/0/mac is missing" },
	{ "mac", "00:16:3e:5e:6c", "invalid backend/vif/3/0/mac '00:16:3e:5e:6c'" },
	{ "mac", "zz:16:3e:5e:6c:00", "invalid backend/vif/3/0/mac 'zz:16:3e:5e:6c:00'" },
	{ "gateway", NULL, "qubes-netvm-gateway is missing" },
	{ "gateway", "", "qubes-netvm-gateway is missing" },
	{ "gateway", "10.137.0.256", "invalid qubes-netvm-gateway '10.137.0.256'" },
	{ "gateway", "fd09::1", "invalid qubes-netvm-gateway 'fd09::1'" },
	{ "gateway", "255.255.255.255", "not a unicast address" },
	{ "gateway6", "10.137.0.1", "invalid qubes-netvm-gateway6" },
	{ "gateway6", "ff02::1", "not a unicast address" },
	{ "type", "vif;rm", "invalid backend/vif/3/0/type" },
	{ "type", "a b", "invalid backend/vif/3/0/type" },
	{ "vifname", "eth0", "invalid backend/vif/3/0/vifname 'eth0'" },
	{ "vifname", "vif/../x", "invalid backend/vif/3/0/vifname" },
	{ "vifname", "vif0123456789abc", "invalid backend/vif/3/0/vifname" },
};

START_TEST(test_store_bad)
{
	struct vif_input in = env_ok();
	struct vif_store s = store_base();
	const char *f = store_bad[_i].field;
	char *v = (char *)store_bad[_i].value;

	if (streq(f, "ip"))
		s.ip = v;
	else if (streq(f, "mac"))
		s.mac = v;
	else if (streq(f, "gateway"))
		s.gateway = v;
	else if (streq(f, "gateway6"))
		s.gateway6 = v;
	else if (streq(f, "type"))
		s.type = v;
	else if (streq(f, "vifname"))
		s.vifname = v;
	log_reset_last_error();
	ck_assert_int_lt(vif_input_from_store(&s, &in), 0);
	ck_assert_ptr_nonnull(log_last_error());
	ck_assert_msg(strstr(log_last_error(), store_bad[_i].msg), "message '%s' lacks '%s'", log_last_error(),
		      store_bad[_i].msg);
	ck_assert_msg(!strchr(log_last_error(), '\n'), "message is not one line");
}
END_TEST

/* NAT mode: decided from the first IPv4's mapped-ip keys. */
START_TEST(test_store_nat)
{
	struct vif_input in = env_ok();
	struct vif_store s = store_base();
	char buf[IP_ADDR_STRLEN];

	s.ip = (char *)"fd09::5 10.137.0.5 10.137.0.6";
	s.gateway6 = (char *)"fd09::1";
	s.visible_ip = (char *)"10.152.152.11";
	s.visible_gateway = (char *)"10.152.152.10";
	ck_assert_int_eq(vif_input_from_store(&s, &in), 0);
	ck_assert(in.nat);
	ck_assert_str_eq(ip_addr_to_string(&in.nat_real, buf), "10.137.0.5");
	ck_assert_str_eq(ip_addr_to_string(&in.visible_ip, buf), "10.152.152.11");
	ck_assert_str_eq(ip_addr_to_string(&in.visible_gateway, buf), "10.152.152.10");
	/* IPv4 only: the IPv6 address and gateway are dropped. */
	ck_assert_uint_eq(in.n_addrs, 2);
	ck_assert_int_eq(in.addrs[0].family, AF_INET);
	ck_assert_int_eq(in.addrs[1].family, AF_INET);
	ck_assert(!in.has_gateway6);
}
END_TEST

/* An ordinary client: dom0 writes the keys with visible-ip = the real
 * address; and no keys at all is no NAT mode either. */
START_TEST(test_store_nat_not_applied)
{
	struct vif_input in = env_ok();
	struct vif_store s = store_base();

	s.visible_ip = (char *)"10.137.0.5";
	s.visible_gateway = (char *)"10.137.0.1";
	ck_assert_int_eq(vif_input_from_store(&s, &in), 0);
	ck_assert(!in.nat);
	in = env_ok();
	s = store_base();
	ck_assert_int_eq(vif_input_from_store(&s, &in), 0);
	ck_assert(!in.nat);
}
END_TEST

static const struct {
	const char *ifname, *vip, *vgw;
} nat_bad[] = {
	{ "vif3.0", "10.152.152.256", "10.152.152.10" },
	{ "vif3.0", "255.255.255.255", "10.152.152.10" },
	{ "vif3.0", "127.0.0.2", "10.152.152.10" },
	{ "vif3.0", "fd09::11", "10.152.152.10" },
	{ "vif3.0", " 10.152.152.11", "10.152.152.10" },
	{ "vif3.0", "10.152.152.11", "0.0.0.0" },
	{ "vif3.0", "10.152.152.11", "10.152.152.11" },
	{ "vif3.0", "10.152.152.11", "10.137.0.5" },
	{ "vif3.0", "10.152.152.11", NULL },
	{ "vif-anon-long1", "10.152.152.11", "10.152.152.10" }, /* 14 + "-p" > 15 */
};

START_TEST(test_store_nat_bad)
{
	struct vif_input in = env_ok();
	struct vif_store s = store_base();

	snprintf(in.ifname, sizeof(in.ifname), "%s", nat_bad[_i].ifname);
	s.visible_ip = (char *)nat_bad[_i].vip;
	s.visible_gateway = (char *)nat_bad[_i].vgw;
	ck_assert_int_eq(vif_input_from_store(&s, &in), -EINVAL);
}
END_TEST

START_TEST(test_cmd_names)
{
	enum vif_cmd c;

	ck_assert_int_eq(vif_cmd_from_string("online", &c), 0);
	ck_assert_int_eq(c, VIF_CMD_ONLINE);
	ck_assert_int_eq(vif_cmd_from_string("status", &c), 0);
	ck_assert_int_eq(c, VIF_CMD_STATUS);
	ck_assert_int_eq(vif_cmd_from_string("Online", &c), -EINVAL);
	ck_assert_str_eq(vif_cmd_to_string(VIF_CMD_OFFLINE), "offline");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("input");
	TCase *tc;

	log_open("test-input", false);

	tc = tcase_create("env");
	tcase_add_test(tc, test_xenbus_path);
	tcase_add_loop_test(tc, test_env_bad, 0, ELEMENTSOF(env_bad));
	tcase_add_test(tc, test_env_ok);
	tcase_add_test(tc, test_env_keeps_xenbus_path_on_bad_vif);
	tcase_add_test(tc, test_cmd_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("store");
	tcase_add_test(tc, test_store_ok_v4);
	tcase_add_test(tc, test_store_dual_stack);
	tcase_add_test(tc, test_store_empty_ip);
	tcase_add_test(tc, test_store_harden);
	tcase_add_test(tc, test_store_key_names);
	tcase_add_test(tc, test_store_vifname);
	tcase_add_loop_test(tc, test_store_bad, 0, ELEMENTSOF(store_bad));
	tcase_add_test(tc, test_store_nat);
	tcase_add_test(tc, test_store_nat_not_applied);
	tcase_add_loop_test(tc, test_store_nat_bad, 0, ELEMENTSOF(nat_bad));
	suite_add_tcase(s, tc);

	return tl_main(s, false);
}
