/* nlr_errno_from_nle: the fallback from libnl's NLE_* codes to -errno, used
 * when the kernel's own errno was not seen. No root, no kernel. */
#include <errno.h>
#include <netlink/errno.h>
#include <stdlib.h>

#include "nl.h"
#include "testlib.h"

struct nle_case {
	int nle;
	int expected;
};

static const struct nle_case cases[] = {
	{ 0, 0 },
	{ NLE_EXIST, -EEXIST },
	{ NLE_OBJ_NOTFOUND, -ENOENT },
	{ NLE_NOMEM, -ENOMEM },
	{ NLE_NODEV, -ENODEV },
	{ NLE_NOADDR, -EADDRNOTAVAIL },
	{ NLE_NOACCESS, -EACCES },
	{ NLE_PERM, -EPERM },
	{ NLE_BUSY, -EBUSY },
	{ NLE_OPNOTSUPP, -EOPNOTSUPP },
	{ NLE_AF_NOSUPPORT, -EAFNOSUPPORT },
	{ NLE_RANGE, -ERANGE },
	{ NLE_AGAIN, -EAGAIN },
	{ NLE_INTR, -EINTR },
	{ NLE_INVAL, -EINVAL },
	/* Lossy or libnl-internal codes: no errno to trust. */
	{ NLE_FAILURE, -EIO },
	{ NLE_BAD_SOCK, -EIO },
	{ NLE_MSGSIZE, -EIO },
	{ NLE_MSG_TRUNC, -EIO },
	{ NLE_SEQ_MISMATCH, -EIO },
	{ NLE_DUMP_INTR, -EIO },
	{ NLE_PROTO_MISMATCH, -EIO },
	{ NLE_MISSING_ATTR, -EIO },
	{ NLE_IMMUTABLE, -EIO },
	{ NLE_PARSE_ERR, -EIO },
	{ NLE_MAX + 1, -EIO },
	{ 12345, -EIO },
};

/* libnl returns codes negated; both signs mean the same. */
START_TEST(test_table)
{
	const struct nle_case *c = &cases[_i];

	ck_assert_int_eq(nlr_errno_from_nle(-c->nle), c->expected);
	ck_assert_int_eq(nlr_errno_from_nle(c->nle), c->expected);
}
END_TEST

/* Every errno the kernel may send, through libnl's own errno -> NLE map and
 * back: never success, and either the same errno, -EIO, or the one errno
 * standing for its NLE group. */
START_TEST(test_roundtrip)
{
	for (int e = 1; e < 134; e++) {
		int r = nlr_errno_from_nle(-nl_syserr2nlerr(e));
		bool ok = r == -e || r == -EIO;

		switch (e) {
		case ESRCH:
			ok = ok || r == -ENOENT;
			break;
		case EADDRINUSE:
			ok = ok || r == -EEXIST;
			break;
		case EFAULT:
		case ENOPROTOOPT:
			ok = ok || r == -EINVAL;
			break;
		case ENOBUFS:
			ok = ok || r == -ENOMEM;
			break;
		}
		ck_assert_msg(ok, "errno %d came back as %d", e, r);
		ck_assert_int_lt(r, 0);
	}
}
END_TEST

static Suite *nl_errno_suite(void)
{
	Suite *s = suite_create("nl-errno");
	TCase *tc;

	tc = tcase_create("table");
	tcase_add_loop_test(tc, test_table, 0, ELEMENTSOF(cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("roundtrip");
	tcase_add_test(tc, test_roundtrip);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tl_main(nl_errno_suite(), false);
}
