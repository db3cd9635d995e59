/* The nftables anti-spoofing planner (antispoof_nft.h): which element
 * edits ensure, remove and undo decide from the sets' contents. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "antispoof_nft.h"
#include "testlib.h"

static struct ip_addr A(const char *s)
{
	struct ip_addr a;

	ck_assert_int_eq(ip_addr_parse(s, AF_UNSPEC, &a), 0);
	return a;
}

static struct nftq_elem E(const char *ifname, const char *addr)
{
	struct nftq_elem e = { .addr = A(addr) };

	snprintf(e.ifname, sizeof(e.ifname), "%s", ifname);
	return e;
}

/* The edits as text: "+allowed vif3.0 10.137.0.5; -downstream 10.137.0.9". */
static const char *text(const struct nftas_edits *ed)
{
	static char out[2048];
	size_t off = 0;

	out[0] = 0;
	for (size_t i = 0; i < ed->n; i++) {
		char a[IP_ADDR_STRLEN];

		off += (size_t)snprintf(out + off, sizeof(out) - off, "%s%c%s%s%s %s", i ? "; " : "",
					ed->e[i].del ? '-' : '+', ed->e[i].set, ed->e[i].e.ifname[0] ? " " : "",
					ed->e[i].e.ifname, ip_addr_to_string(&ed->e[i].e.addr, a));
	}
	return out;
}

START_TEST(test_ensure_from_empty)
{
	struct nftas_sets cur = {};
	struct ip_addr addrs[] = { A("10.137.0.5"), A("fd09::5") };
	struct nftas_edits ed;

	ck_assert_int_eq(nftas_plan_ensure(&cur, "vif3.0", addrs, 2, &ed), 0);
	ck_assert_str_eq(text(&ed), "+allowed vif3.0 10.137.0.5; +downstream 10.137.0.5; "
				    "+allowed vif3.0 fd09::5; +downstream fd09::5");
	ck_assert(!nftas_edits_delete_any(&ed));
	nftas_edits_done(&ed);
}
END_TEST

START_TEST(test_ensure_in_place_is_empty)
{
	struct nftq_elem allowed[] = { E("vif3.0", "10.137.0.5") };
	struct nftq_elem down[] = { E("", "10.137.0.5") };
	struct nftas_sets cur = { allowed, 1, down, 1 };
	struct ip_addr addrs[] = { A("10.137.0.5") };
	struct nftas_edits ed;

	ck_assert_int_eq(nftas_plan_ensure(&cur, "vif3.0", addrs, 1, &ed), 0);
	ck_assert_uint_eq(ed.n, 0);
	nftas_edits_done(&ed);
}
END_TEST

/* An element of an earlier client of the same vif name goes, with its
 * downstream twin unless another vif claims that address. */
START_TEST(test_ensure_removes_stale)
{
	struct nftq_elem allowed[] = { E("vif3.0", "10.137.0.9"), E("vif3.0", "10.137.0.8"),
				       E("vif4.0", "10.137.0.8") };
	struct nftq_elem down[] = { E("", "10.137.0.9"), E("", "10.137.0.8") };
	struct nftas_sets cur = { allowed, 3, down, 2 };
	struct ip_addr addrs[] = { A("10.137.0.5") };
	struct nftas_edits ed;

	ck_assert_int_eq(nftas_plan_ensure(&cur, "vif3.0", addrs, 1, &ed), 0);
	ck_assert_str_eq(text(&ed), "+allowed vif3.0 10.137.0.5; +downstream 10.137.0.5; "
				    "-allowed vif3.0 10.137.0.9; -downstream 10.137.0.9; -allowed vif3.0 10.137.0.8");
	ck_assert(nftas_edits_delete_any(&ed));
	nftas_edits_done(&ed);
}
END_TEST

/* A downstream element another vif put there is shared: ensure does not
 * add it again, so undo cannot take it away. */
START_TEST(test_shared_downstream)
{
	struct nftq_elem allowed[] = { E("vif4.0", "10.137.0.5") };
	struct nftq_elem down[] = { E("", "10.137.0.5") };
	struct nftas_sets cur = { allowed, 1, down, 1 };
	struct ip_addr addrs[] = { A("10.137.0.5") };
	struct nftas_edits ed, undo;
	struct nftq_elem after_allowed[] = { E("vif4.0", "10.137.0.5"), E("vif3.0", "10.137.0.5") };
	struct nftas_sets after = { after_allowed, 2, down, 1 };

	ck_assert_int_eq(nftas_plan_ensure(&cur, "vif3.0", addrs, 1, &ed), 0);
	ck_assert_str_eq(text(&ed), "+allowed vif3.0 10.137.0.5");
	ck_assert_int_eq(nftas_plan_undo(&after, "vif3.0", &ed, &undo), 0);
	ck_assert_str_eq(text(&undo), "-allowed vif3.0 10.137.0.5");
	nftas_edits_done(&undo);
	nftas_edits_done(&ed);
}
END_TEST

/* undo keeps a downstream element it added when another vif claimed the
 * address meanwhile, and puts back what ensure deleted. */
START_TEST(test_undo)
{
	struct nftq_elem allowed[] = { E("vif3.0", "10.137.0.9") };
	struct nftq_elem down[] = { E("", "10.137.0.9") };
	struct nftas_sets cur = { allowed, 1, down, 1 };
	struct ip_addr addrs[] = { A("10.137.0.5") };
	struct nftas_edits ed, undo;
	struct nftq_elem after_allowed[] = { E("vif3.0", "10.137.0.5"), E("vif5.0", "10.137.0.5") };
	struct nftq_elem after_down[] = { E("", "10.137.0.5") };
	struct nftas_sets after = { after_allowed, 2, after_down, 1 };

	ck_assert_int_eq(nftas_plan_ensure(&cur, "vif3.0", addrs, 1, &ed), 0);
	ck_assert_int_eq(nftas_plan_undo(&after, "vif3.0", &ed, &undo), 0);
	ck_assert_str_eq(text(&undo), "-allowed vif3.0 10.137.0.5; +allowed vif3.0 10.137.0.9; +downstream 10.137.0.9");
	nftas_edits_done(&undo);
	nftas_edits_done(&ed);
}
END_TEST

START_TEST(test_remove)
{
	struct nftq_elem allowed[] = { E("vif3.0", "10.137.0.5"), E("vif3.0", "fd09::5"), E("vif4.0", "fd09::5"),
				       E("vif3.1", "10.137.0.6") };
	struct nftq_elem down[] = { E("", "10.137.0.5"), E("", "fd09::5"), E("", "10.137.0.6"), E("", "10.137.0.7") };
	struct nftas_sets cur = { allowed, 4, down, 4 };
	struct ip_addr hint[] = { A("10.137.0.7"), A("10.137.0.6") };
	struct nftas_edits ed;
	struct ip_addr claimed[4];

	/* fd09::5 stays in downstream (vif4.0 claims it), 10.137.0.6 too
	 * (vif3.1); the hint's 10.137.0.7 is nobody's: it goes. */
	ck_assert_int_eq(nftas_plan_remove(&cur, "vif3.0", hint, 2, &ed), 0);
	ck_assert_str_eq(text(&ed), "-allowed vif3.0 10.137.0.5; -downstream 10.137.0.5; -allowed vif3.0 fd09::5; "
				    "-downstream 10.137.0.7");
	nftas_edits_done(&ed);
	ck_assert_uint_eq(nftas_claimed(&cur, "vif3.0", claimed, 4), 2);
	ck_assert(ip_addr_equal(&claimed[0], &allowed[0].addr));
	ck_assert(ip_addr_equal(&claimed[1], &allowed[1].addr));
	ck_assert_uint_eq(nftas_claimed(&cur, "vif3", claimed, 4), 0);
}
END_TEST

START_TEST(test_no_address)
{
	struct nftq_elem allowed[] = { E("vif3.0", "10.137.0.5") };
	struct nftas_sets cur = { allowed, 1, NULL, 0 };
	struct nftas_edits ed;

	/* No address: no element stays; the downstream twin is not there. */
	ck_assert_int_eq(nftas_plan_ensure(&cur, "vif3.0", NULL, 0, &ed), 0);
	ck_assert_str_eq(text(&ed), "-allowed vif3.0 10.137.0.5");
	nftas_edits_done(&ed);
}
END_TEST

int main(void)
{
	const struct tl_case cases[] = {
		{ "ensure_from_empty", test_ensure_from_empty },
		{ "ensure_in_place_is_empty", test_ensure_in_place_is_empty },
		{ "ensure_removes_stale", test_ensure_removes_stale },
		{ "shared_downstream", test_shared_downstream },
		{ "undo", test_undo },
		{ "remove", test_remove },
		{ "no_address", test_no_address },
	};

	return tl_main(tl_suite("antispoof-nft", cases, ELEMENTSOF(cases), NULL, NULL), false);
}
