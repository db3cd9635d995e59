/* Several xenstore reads in one call on the worker (xsh_read_many,
 * xsh_read_listed), against the test xenstored: each value where it
 * belongs, absent keys NULL, the first real error failing the whole call
 * and naming its key, and a hung xenstored bounding the batch as one
 * call. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deadline.h"
#include "testlib.h"
#include "xs.h"

#define DIR "/local/domain/0/backend/vif/3/0"
#define SENTINEL ((char *)"untouched")

static pid_t xsd;

static void setup(void)
{
	xsd = tl_xenstored_start();
	tl_xs_write(DIR "/ip", "10.137.0.5");
	tl_xs_write(DIR "/mac", "00:16:3e:5e:6c:00");
	tl_xs_write(DIR "/vifname", "");
	tl_xs_write(DIR "/frontend-id", "3");
}

static void teardown(void)
{
	tl_xenstored_stop(xsd);
}

START_TEST(test_read_many)
{
	/* A relative path, as the programs use, and an absolute one. */
	static const char *const paths[] = { "backend/vif/3/0/ip", DIR "/type", DIR "/vifname", DIR "/mac" };
	char *v[ELEMENTSOF(paths)];
	struct xsh *x = NULL;
	size_t failed = 99;

	ck_assert_int_eq(xsh_open(now_ms() + 5000, &x), 0);
	ck_assert_int_eq(xsh_read_many(x, paths, ELEMENTSOF(paths), v, &failed), 0);
	ck_assert_str_eq(v[0], "10.137.0.5");
	ck_assert_ptr_null(v[1]);  /* absent */
	ck_assert_str_eq(v[2], ""); /* empty is not absent */
	ck_assert_str_eq(v[3], "00:16:3e:5e:6c:00");
	for (size_t i = 0; i < ELEMENTSOF(paths); i++)
		free(v[i]);
	/* Nothing to read is one empty call, not an error. */
	ck_assert_int_eq(xsh_read_many(x, NULL, 0, v, NULL), 0);
	xsh_close(x);
}
END_TEST

/* xenstored refuses the space (EINVAL): that fails the whole call, after
 * a key already read and before one that exists. */
START_TEST(test_read_many_error)
{
	static const char *const paths[] = { DIR "/ip", DIR "/absent", DIR "/bad key", DIR "/mac" };
	char *v[ELEMENTSOF(paths)] = { SENTINEL, SENTINEL, SENTINEL, SENTINEL };
	struct xsh *x = NULL;
	size_t failed = 99;
	char *one = NULL;

	ck_assert_int_eq(xsh_open(now_ms() + 5000, &x), 0);
	ck_assert_int_eq(xsh_read_many(x, paths, ELEMENTSOF(paths), v, &failed), -EINVAL);
	ck_assert_uint_eq(failed, 2);
	for (size_t i = 0; i < ELEMENTSOF(paths); i++)
		ck_assert_ptr_eq(v[i], SENTINEL);
	/* The connection goes on. */
	ck_assert_int_eq(xsh_read(x, DIR "/mac", &one), 0);
	ck_assert_str_eq(one, "00:16:3e:5e:6c:00");
	free(one);
	xsh_close(x);
}
END_TEST

START_TEST(test_read_listed)
{
	static const char *const names[] = { "ip", "mac", "type", "vifname" };
	char *v[ELEMENTSOF(names)] = { SENTINEL, SENTINEL, SENTINEL, SENTINEL };
	struct xsh *x = NULL;
	size_t failed = 99;

	ck_assert_int_eq(xsh_open(now_ms() + 5000, &x), 0);
	ck_assert_int_eq(xsh_read_listed(x, "backend/vif/3/0", names, ELEMENTSOF(names), v, &failed), 0);
	ck_assert_str_eq(v[0], "10.137.0.5");
	ck_assert_str_eq(v[1], "00:16:3e:5e:6c:00");
	ck_assert_ptr_null(v[2]); /* not listed */
	ck_assert_str_eq(v[3], "");
	for (size_t i = 0; i < ELEMENTSOF(names); i++) {
		free(v[i]);
		v[i] = SENTINEL;
	}
	/* No such directory: -ENOENT, naming the listing. */
	ck_assert_int_eq(xsh_read_listed(x, "backend/vif/4/0", names, ELEMENTSOF(names), v, &failed), -ENOENT);
	ck_assert_uint_eq(failed, ELEMENTSOF(names));
	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		ck_assert_ptr_eq(v[i], SENTINEL);
	xsh_close(x);
}
END_TEST

/* A xenstored that stops answering in the middle of a batch: the batch
 * gets what one call gets (the deadline, -ETIMEDOUT), the worker keeps
 * the call, and the connection fails at once from then on. */
START_TEST(test_read_many_hangs)
{
	static const char *const paths[] = { DIR "/ip", DIR "/mac", DIR "/vifname" };
	char *v[ELEMENTSOF(paths)] = { SENTINEL, SENTINEL, SENTINEL };
	_cleanup_free_ char *dir = NULL;
	char sock[160];
	struct xsh *x = NULL;
	size_t failed = 99;
	uint64_t t0;
	char *one = SENTINEL;

	/* The hung connection and its thread are left behind by design. */
	if (getenv("QVT_VALGRIND"))
		return;
	dir = tl_sh("mktemp -d /tmp/qvt-xs-hang.XXXXXX | tr -d '\\n'");
	snprintf(sock, sizeof(sock), "%s/socket", dir);
	free(tl_sh("%s --socket %s --stall /local/domain/0/backend/vif/3/0/mac --daemon --pid-file %s/pid",
		   tl_prog("TEST_XENSTORED"), sock, dir));
	setenv("XENSTORED_PATH", sock, 1);
	ck_assert_int_eq(xsh_open(now_ms() + 600, &x), 0);
	t0 = now_ms();
	ck_assert_int_eq(xsh_read_many(x, paths, ELEMENTSOF(paths), v, &failed), -ETIMEDOUT);
	ck_assert_uint_ge(now_ms() - t0, 400);
	ck_assert_uint_lt(now_ms() - t0, 3000);
	ck_assert_uint_eq(failed, ELEMENTSOF(paths));
	for (size_t i = 0; i < ELEMENTSOF(paths); i++)
		ck_assert_ptr_eq(v[i], SENTINEL);
	t0 = now_ms();
	ck_assert_int_eq(xsh_read(x, DIR "/ip", &one), -ETIMEDOUT);
	ck_assert_ptr_eq(one, SENTINEL);
	ck_assert_uint_lt(now_ms() - t0, 100);
	xsh_close(x);
	free(tl_sh("kill $(cat %s/pid); rm -rf %s", dir, dir));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("xs");
	TCase *tc = tcase_create("xs");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_read_many);
	tcase_add_test(tc, test_read_many_error);
	tcase_add_test(tc, test_read_listed);
	tcase_add_test(tc, test_read_many_hangs);
	suite_add_tcase(s, tc);
	return tl_main(s, false);
}
