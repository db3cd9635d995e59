/* hooks_present: true exactly when hooks_run would run a hook, by the
 * same rules (executable regular files, symlinks followed, dot-files
 * skipped), so leaving the type unread never changes what hooks get. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "hooks.h"
#include "testlib.h"

static char dir[] = "/tmp/qvt-hooks-present.XXXXXX";

static void setup(void)
{
	strcpy(dir, "/tmp/qvt-hooks-present.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	free(tl_sh("rm -rf '%s'", dir));
}

static const struct {
	const char *make; /* shell, in the directory */
	bool present;
} cases[] = {
	{ ":", false },                                          /* empty */
	{ "touch a; chmod 644 a", false },                       /* not executable */
	{ "touch .a; chmod 755 .a", false },                     /* a dot-file */
	{ "mkdir d; chmod 755 d", false },                       /* a directory */
	{ "ln -s /nonexistent a", false },                       /* dangling */
	{ "touch a; chmod 755 a", true },
	{ "touch .a a; chmod 755 .a; chmod 755 a", true },
	{ "mkdir d; touch z; chmod 755 z", true },               /* after a directory */
	{ "ln -s /bin/true a", true },                           /* a symlink */
};

START_TEST(test_present)
{
	free(tl_sh("cd '%s' && %s", dir, cases[_i].make));
	ck_assert_msg(hooks_present(dir) == cases[_i].present, "'%s': want %d", cases[_i].make, cases[_i].present);
	/* hooks_run agrees (with a hook that does nothing). */
	ck_assert_int_eq(hooks_run(dir, "online", "vif3.0", "vif", NULL, 0, 5000) > 0, cases[_i].present);
}
END_TEST

START_TEST(test_missing_dir)
{
	ck_assert(!hooks_present("/nonexistent/hooks.d"));
	ck_assert(!hooks_present("/etc/hostname")); /* not a directory */
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hooks");
	TCase *tc = tcase_create("hooks_present");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_present, 0, ELEMENTSOF(cases));
	tcase_add_test(tc, test_missing_dir);
	suite_add_tcase(s, tc);
	return tl_main(s, false);
}
