/* nft_has_ip_tables in a private network namespace, with tables made by
 * the nft CLI. */
#include <stdlib.h>

#include "nft.h"
#include "testlib.h"

static bool has_ip_tables(void)
{
	bool found = true;

	ck_assert_int_eq(nft_has_ip_tables(&found), 0);
	return found;
}

START_TEST(test_empty)
{
	ck_assert(!has_ip_tables());
}
END_TEST

static const char *const ip_families[] = { "ip", "ip6", "inet" };

START_TEST(test_ip_family)
{
	free(tl_sh("nft add table %s t", ip_families[_i]));
	ck_assert(has_ip_tables());
	free(tl_sh("nft delete table %s t", ip_families[_i]));
	ck_assert(!has_ip_tables());
}
END_TEST

START_TEST(test_other_families)
{
	free(tl_sh("nft add table arp a && nft add table bridge b && nft add table netdev n"));
	ck_assert(!has_ip_tables());
	/* One ip table among them is enough. */
	free(tl_sh("nft add table ip6 t"));
	ck_assert(has_ip_tables());
	free(tl_sh("nft flush ruleset"));
	ck_assert(!has_ip_tables());
}
END_TEST

/* Many tables: a dump longer than one message buffer. */
START_TEST(test_many_tables)
{
	free(tl_sh("for i in $(seq 1 1000); do echo \"add table netdev t$i\"; done > /tmp/qvt-nft-$$ && "
		   "nft -f /tmp/qvt-nft-$$; r=$?; rm -f /tmp/qvt-nft-$$; exit $r"));
	ck_assert(!has_ip_tables());
	free(tl_sh("nft add table inet zz"));
	ck_assert(has_ip_tables());
}
END_TEST

static Suite *nft_suite(void)
{
	Suite *s = suite_create("nft");
	TCase *tc = tcase_create("detect");

	tcase_add_checked_fixture(tc, tl_netns_setup, tl_netns_teardown);
	tcase_add_test(tc, test_empty);
	tcase_add_loop_test(tc, test_ip_family, 0, ELEMENTSOF(ip_families));
	tcase_add_test(tc, test_other_families);
	tcase_add_test(tc, test_many_tables);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tl_main(nft_suite(), true);
}
