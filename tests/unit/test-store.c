/* vif_store_read's backend keys, against the test xenstored: one call
 * reads the listed ones; type only when asked for (the hooks' argument);
 * a missing directory an error online and a warning offline. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "deadline.h"
#include "input.h"
#include "testlib.h"
#include "xs.h"

#define XB "/local/domain/0/backend/vif/3/0"

static pid_t xsd;
static struct xsh *x;

static void setup(void)
{
	xsd = tl_xenstored_start();
	tl_xs_write(XB "/ip", "10.137.0.5");
	tl_xs_write(XB "/mac", "00:16:3e:5e:6c:00");
	tl_xs_write(XB "/type", "ioemu");
	tl_xs_write(XB "/frontend-id", "3");
	ck_assert_int_eq(xsh_open(now_ms() + 5000, &x), 0);
}

static void teardown(void)
{
	xsh_close(x);
	tl_xenstored_stop(xsd);
}

START_TEST(test_type_when_needed)
{
	struct vif_store s;

	ck_assert_int_eq(vif_store_read(x, NULL, "backend/vif/3/0", true, true, 0, &s), 0);
	ck_assert_str_eq(s.ip, "10.137.0.5");
	ck_assert_str_eq(s.mac, "00:16:3e:5e:6c:00");
	ck_assert_str_eq(s.type, "ioemu");
	ck_assert_ptr_null(s.vifname);
	vif_store_done(&s);

	ck_assert_int_eq(vif_store_read(x, NULL, "backend/vif/3/0", true, false, 0, &s), 0);
	ck_assert_str_eq(s.ip, "10.137.0.5");
	ck_assert_str_eq(s.mac, "00:16:3e:5e:6c:00");
	ck_assert_ptr_null(s.type);
	vif_store_done(&s);
}
END_TEST

START_TEST(test_missing_directory)
{
	struct vif_store s;

	ck_assert_int_eq(vif_store_read(x, NULL, "backend/vif/4/0", true, true, 0, &s), -ENOENT);
	ck_assert_int_eq(vif_store_read(x, NULL, "backend/vif/4/0", false, true, 0, &s), 0);
	ck_assert_ptr_null(s.ip);
	ck_assert_ptr_null(s.type);
	vif_store_done(&s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("store");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_type_when_needed);
	tcase_add_test(tc, test_missing_directory);
	suite_add_tcase(s, tc);
	return tl_main(s, false);
}
