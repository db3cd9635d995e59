/* ct_purge_addr against the kernel's conntrack table of a private network
 * namespace, filled and read back with the conntrack CLI. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conntrack.h"
#include "testlib.h"

#define V4 "10.137.0.5"
#define V6 "fd09:24ef:4179::a89:5"

static struct ip_addr addr(const char *s)
{
	struct ip_addr a;

	ck_assert_msg(ip_addr_parse(s, AF_UNSPEC, &a) == 0, "bad test address %s", s);
	return a;
}

static void setup(void)
{
	tl_netns_setup();
	/* Where conntrack is modular, the first ctnetlink request loads
	 * nf_conntrack_netlink (and nf_conntrack); list once so the inserts
	 * below do not depend on who asked first. */
	free(tl_sh("conntrack -L >/dev/null 2>&1"));
}

/* Inserts one entry; args are conntrack -I options. */
static void ct_insert(const char *args)
{
	free(tl_sh("conntrack -I %s -t 100 >/dev/null 2>&1", args));
}

/* Lines of `conntrack -L -f family` containing needle (all lines: NULL). */
static int ct_count(const char *family, const char *needle)
{
	_cleanup_free_ char *out = tl_sh("conntrack -L -f %s 2>/dev/null", family);
	int n = 0;

	for (char *line = out, *end; *line; line = end + 1) {
		end = strchrnul(line, '\n');
		if (end == line && !*end)
			break;
		if (!needle || memmem(line, end - line, needle, strlen(needle)))
			n++;
		if (!*end)
			break;
	}
	return n;
}

static void insert_mixed(void)
{
	/* v4: two with our address in the original direction. */
	ct_insert("-p tcp -s " V4 " -d 1.1.1.1 --sport 1000 --dport 80 --state ESTABLISHED -u SEEN_REPLY");
	ct_insert("-p udp -s 9.9.9.9 -d " V4 " --sport 53 --dport 5353");
	/* v4 unrelated: other hosts, a near-miss address, and one where our
	 * address shows only in the reply direction (NAT), which stays. */
	ct_insert("-p tcp -s 10.137.0.6 -d 1.1.1.1 --sport 1000 --dport 80 --state ESTABLISHED -u SEEN_REPLY");
	ct_insert("-p udp -s 10.137.0.55 -d 10.137.0.50 --sport 1 --dport 2");
	ct_insert("-p udp -s 10.137.0.9 -d 8.8.8.8 --sport 3 --dport 53 -r 8.8.8.8 -q " V4
		  " --reply-port-src 53 --reply-port-dst 3");
	/* v6: two of ours, one unrelated. */
	ct_insert("-p tcp -s " V6 " -d 2001:db8::1 --sport 1000 --dport 443 --state ESTABLISHED -u SEEN_REPLY");
	ct_insert("-p udp -s 2001:db8::2 -d " V6 " --sport 53 --dport 5353");
	ct_insert("-p udp -s fd09:24ef:4179::a89:6 -d 2001:db8::1 --sport 1 --dport 2");
}

START_TEST(test_purge_v4)
{
	struct ip_addr a = addr(V4);
	unsigned n = 99;

	insert_mixed();
	ck_assert_int_eq(ct_count("ipv4", NULL), 5);
	ck_assert_int_eq(ct_count("ipv6", NULL), 3);

	ck_assert_int_eq(ct_purge_addr(&a, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(ct_count("ipv4", NULL), 3);
	ck_assert_int_eq(ct_count("ipv4", "src=" V4 " "), 0);
	ck_assert_int_eq(ct_count("ipv4", "dst=9.9.9.9"), 0); /* its reply half */
	ck_assert_int_eq(ct_count("ipv4", "src=10.137.0.6 "), 1);
	ck_assert_int_eq(ct_count("ipv4", "src=10.137.0.55 "), 1);
	ck_assert_int_eq(ct_count("ipv4", "dst=" V4 " "), 1); /* the NAT one */
	ck_assert_int_eq(ct_count("ipv6", NULL), 3);

	/* Again: nothing left to delete. */
	ck_assert_int_eq(ct_purge_addr(&a, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(ct_count("ipv4", NULL), 3);
}
END_TEST

START_TEST(test_purge_v6)
{
	struct ip_addr a = addr(V6);
	unsigned n = 99;

	insert_mixed();
	ck_assert_int_eq(ct_purge_addr(&a, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(ct_count("ipv6", NULL), 1);
	ck_assert_int_eq(ct_count("ipv6", V6 " "), 0);
	ck_assert_int_eq(ct_count("ipv6", "src=fd09:24ef:4179::a89:6 "), 1);
	ck_assert_int_eq(ct_count("ipv4", NULL), 5);
}
END_TEST

START_TEST(test_purge_empty)
{
	struct ip_addr a4 = addr(V4), a6 = addr(V6);
	unsigned n = 99;

	ck_assert_int_eq(ct_purge_addr(&a4, &n), 0);
	ck_assert_uint_eq(n, 0);
	n = 99;
	ck_assert_int_eq(ct_purge_addr(&a6, &n), 0);
	ck_assert_uint_eq(n, 0);
	/* The count is optional. */
	ck_assert_int_eq(ct_purge_addr(&a4, NULL), 0);
}
END_TEST

START_TEST(test_purge_zone)
{
	struct ip_addr a = addr(V4);
	unsigned n = 0;

	ct_insert("-p tcp -s " V4 " -d 1.1.1.1 --sport 1000 --dport 80 --state ESTABLISHED -u SEEN_REPLY -w 7");
	ct_insert("-p tcp -s " V4 " -d 1.1.1.1 --sport 1000 --dport 80 --state ESTABLISHED -u SEEN_REPLY");
	ck_assert_int_eq(ct_count("ipv4", NULL), 2);
	ck_assert_int_eq(ct_purge_addr(&a, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(ct_count("ipv4", NULL), 0);
}
END_TEST

/* Enough entries for a multi-part dump, deletions interleaved with it. */
START_TEST(test_purge_many)
{
	struct ip_addr a = addr(V4);
	unsigned n = 0;

	free(tl_sh("i=1; while [ $i -le 300 ]; do "
		   "conntrack -I -p udp -s " V4 " -d 10.0.0.1 --sport $i --dport 53 -t 100 && "
		   "conntrack -I -p udp -s 10.137.0.6 -d 10.0.0.1 --sport $i --dport 53 -t 100 || exit 1; "
		   "i=$((i+1)); done >/dev/null 2>&1"));
	ck_assert_int_eq(ct_count("ipv4", NULL), 600);
	ck_assert_int_eq(ct_purge_addr(&a, &n), 0);
	ck_assert_uint_eq(n, 300);
	ck_assert_int_eq(ct_count("ipv4", NULL), 300);
	ck_assert_int_eq(ct_count("ipv4", "src=" V4 " "), 0);
}
END_TEST

START_TEST(test_bad_family)
{
	struct ip_addr a = { .family = AF_UNSPEC };

	ck_assert_int_eq(ct_purge_addr(&a, NULL), -EAFNOSUPPORT);
}
END_TEST

static Suite *ct_suite(void)
{
	Suite *s = suite_create("conntrack");
	TCase *tc = tcase_create("purge");

	tcase_add_checked_fixture(tc, setup, tl_netns_teardown);
	tcase_add_test(tc, test_purge_v4);
	tcase_add_test(tc, test_purge_v6);
	tcase_add_test(tc, test_purge_empty);
	tcase_add_test(tc, test_purge_zone);
	tcase_add_test(tc, test_purge_many);
	tcase_add_test(tc, test_bad_family);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tl_main(ct_suite(), true);
}
