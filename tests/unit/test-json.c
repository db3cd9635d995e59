/* json_write_string: valid, plain-ASCII JSON for any bytes. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "json.h"
#include "testlib.h"

static const struct {
	const char *in, *want;
} cases[] = {
	{ "", "\"\"" },
	{ "vif3.0", "\"vif3.0\"" },
	{ "a\"b\\c/d", "\"a\\\"b\\\\c/d\"" },
	{ "\n\t\r\x01\x1f\x7f", "\"\\n\\t\\u000d\\u0001\\u001f\\u007f\"" },
	/* Bytes outside ASCII, UTF-8 or not: one escape each. */
	{ "\xc3\xa9\xff", "\"\\u00c3\\u00a9\\u00ff\"" },
	{ NULL, "null" },
};

START_TEST(test_write_string)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	json_write_string(f, cases[_i].in);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_str_eq(buf, cases[_i].want);
	free(buf);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("json");
	TCase *tc = tcase_create("json");

	tcase_add_loop_test(tc, test_write_string, 0, ELEMENTSOF(cases));
	suite_add_tcase(s, tc);
	return tl_main(s, false);
}
