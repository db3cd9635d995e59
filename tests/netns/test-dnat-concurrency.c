/* setup-dnat-to-ns run many times at once (NetworkManager fires a
 * dispatcher event per interface and per change), in both firewall
 * generations: every moment a reader looks, our chain (x_tables PR-QBS,
 * nftables dnat-dns) holds exactly one whole rule set, never none once set
 * and never both, and the end state is exactly one of the two inputs. Also
 * with another writer changing the same ruleset alongside (iptables-legacy
 * on the nat table; nft adding set elements, which moves the generation id
 * under the runs' batches): none of its changes may be lost. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"

#define N_RUNS 40
#define MIN_SNAPSHOTS 300
#define MAX_ROUNDS 40

#define ARGS "--dns1 10.139.1.1 --dns2 10.139.1.2 --resolved-conf /tmp/none --resolv-conf"

static enum fw_backend fw;

static bool nft(void)
{
	return fw == FW_NFTABLES;
}

/* x_tables: the lines of a nat table save that mention PR-QBS. */
#define IPT_JUMP "-A PREROUTING -j PR-QBS\n"
#define IPT_PAIR(dst, to)                                                                   \
	"-A PR-QBS -d " dst "/32 -p udp -m udp --dport 53 -j DNAT --to-destination " to "\n" \
	"-A PR-QBS -d " dst "/32 -p tcp -m tcp --dport 53 -j DNAT --to-destination " to "\n"
/* nftables: the rules of chain dnat-dns in a listing of table ip qubes. */
#define NFT_PAIR(dst, to)                                     \
	"\t\tip daddr " dst " udp dport 53 dnat to " to "\n" \
	"\t\tip daddr " dst " tcp dport 53 dnat to " to "\n"

static const char *set_a(void)
{
	return nft() ? NFT_PAIR("10.139.1.1", "192.168.1.1") NFT_PAIR("10.139.1.2", "192.168.1.2")
		     : IPT_JUMP IPT_PAIR("10.139.1.1", "192.168.1.1") IPT_PAIR("10.139.1.2", "192.168.1.2");
}

static const char *set_b(void)
{
	return nft() ? NFT_PAIR("10.139.1.1", "10.0.0.1") NFT_PAIR("10.139.1.2", "10.0.0.1")
		     : IPT_JUMP IPT_PAIR("10.139.1.1", "10.0.0.1") IPT_PAIR("10.139.1.2", "10.0.0.1");
}

/* A foreign rule that every snapshot must show, once. */
static const char *foreign(void)
{
	return nft() ? "\t\tip saddr 192.0.2.2 return\n" : "-A PREROUTING -s 192.0.2.2/32 -j RETURN\n";
}

static void setup(void)
{
	tl_netns_setup();
	setenv("XENSTORED_PATH", "/tmp/no-xenstored/socket", 1);
	tl_write_file("/tmp/resolv-A.conf", "nameserver 192.168.1.1\nnameserver 192.168.1.2\n");
	tl_write_file("/tmp/resolv-B.conf", "nameserver 10.0.0.1\n");
}

static void setup_iptables(void)
{
	fw = FW_IPTABLES;
	setup();
	free(tl_sh("iptables-legacy -t nat -A PREROUTING -s 192.0.2.2 -j RETURN && iptables-legacy -t nat -N OTHER"));
}

static void setup_nftables(void)
{
	fw = FW_NFTABLES;
	setup();
	tl_nft_base_load();
	free(tl_sh("nft add rule ip qubes custom-input ip saddr 192.0.2.2 return"));
}

static void teardown(void)
{
	tl_netns_teardown();
}

/* Our lines of a snapshot: x_tables, those that mention PR-QBS (the jump
 * and our rules); nftables, the rules of chain dnat-dns. */
static char *ours(const char *save)
{
	char *out = calloc(1, strlen(save) + 1);
	const char *p = save;
	bool in_chain = false;

	ck_assert_ptr_nonnull(out);
	while (*p) {
		size_t n = strcspn(p, "\n");
		bool mine;

		if (nft()) {
			if (strncmp(p, "\tchain ", 7) == 0)
				in_chain = strncmp(p, "\tchain dnat-dns {", 17) == 0;
			mine = in_chain && strncmp(p, "\t\tip daddr ", 11) == 0;
		} else
			mine = strncmp(p, "-A ", 3) == 0 && memmem(p, n, "PR-QBS", 6);
		if (mine)
			strncat(out, p, n + (p[n] == '\n'));
		p += n + (p[n] == '\n');
	}
	return out;
}

/* The snapshot is a whole listing, not a cut one. */
static bool whole(const char *snap)
{
	if (nft())
		return strncmp(snap, "table ip qubes {\n", 17) == 0 && strlen(snap) >= 2 &&
		       streq(snap + strlen(snap) - 2, "}\n");
	return strstr(snap, "*nat\n") && strstr(snap, "\nCOMMIT\n");
}

/* The whole state as the reader lists it. */
static char *snapshot(void)
{
	return nft() ? tl_sh("nft list table ip qubes") : tl_sh("iptables-legacy-save -t nat");
}

struct tally {
	int snapshots, a, b, before_set;
};

/* Every snapshot: either nothing of ours yet (only before the first whole
 * set), or exactly set A, or exactly set B. Never empty once set, never a
 * mix, never both; the foreign rule always there once. */
static void check_snapshots(const char *path, struct tally *t)
{
	_cleanup_free_ char *all = tl_sh("cat %s", path);
	bool seen_set = false;
	char *p = all;

	*t = (struct tally){};
	for (;;) {
		char *end = strstr(p, "===\n");
		_cleanup_free_ char *mine = NULL;

		if (!end)
			break;
		*end = 0;
		t->snapshots++;
		ck_assert_msg(!strstr(p, "SAVE-FAILED"), "snapshot %d: the listing failed:\n%s", t->snapshots, p);
		ck_assert_msg(whole(p), "snapshot %d is not a whole listing:\n%s", t->snapshots, p);
		ck_assert_msg(tl_count(p, foreign()) == 1, "snapshot %d: the foreign rule is not there once:\n%s",
			      t->snapshots, p);
		mine = ours(p);
		if (streq(mine, set_a())) {
			t->a++;
			seen_set = true;
		} else if (streq(mine, set_b())) {
			t->b++;
			seen_set = true;
		} else {
			ck_assert_msg(streq(mine, "") && !seen_set, "snapshot %d (%s the first whole set) holds:\n%s",
				      t->snapshots, seen_set ? "after" : "before", mine);
			t->before_set++;
		}
		p = end + 4;
	}
	ck_assert_msg(*p == 0, "a snapshot was cut short:\n%s", p);
}

/* Snapshots in a tight loop until /tmp/stop exists, each followed by
 * "===". */
#define READER                                                                                        \
	"rm -f /tmp/stop; : > /tmp/snaps; "                                                              \
	"( while [ ! -e /tmp/stop ]; do { %s 2>&1 || echo SAVE-FAILED; } >> /tmp/snaps; "                \
	"echo === >> /tmp/snaps; done ) & reader=$!; "
#define IPT_LIST "iptables-legacy-save -t nat"
#define NFT_LIST "nft list table ip qubes"

/* Another writer until /tmp/stop exists (passed as an argument, so no
 * printf escapes here): each iteration adds and deletes a throw-away item
 * and adds one unique item of its own, which must still be there at the
 * end. Prints the number of iterations into /tmp/loops. x_tables: rules in
 * the nat chain OTHER; nftables: elements of set downstream of table ip
 * qubes (each add a committed batch: the generation moves under the runs). */
#define IPT_WRITER                                                                                        \
	"( n=0; while [ ! -e /tmp/stop ]; do "                                                               \
	"iptables-legacy -w -t nat -A OTHER -s 192.0.2.1 -j RETURN || exit 1; "                             \
	"iptables-legacy -w -t nat -D OTHER -s 192.0.2.1 -j RETURN || exit 1; "                             \
	"iptables-legacy -w -t nat -A OTHER -s 198.18.$((n / 250)).$((n % 250 + 1)) -j RETURN || exit 1; "  \
	"n=$((n+1)); done; echo $n > /tmp/loops ) & writer=$!; "
#define NFT_WRITER                                                                                        \
	"( n=0; while [ ! -e /tmp/stop ]; do "                                                               \
	"nft add element ip qubes downstream '{ 192.0.2.1 }' || exit 1; "                                   \
	"nft delete element ip qubes downstream '{ 192.0.2.1 }' || exit 1; "                                \
	"nft add element ip qubes downstream \"{ 198.18.$((n / 250)).$((n % 250 + 1)) }\" || exit 1; "      \
	"n=$((n+1)); done; echo $n > /tmp/loops ) & writer=$!; "

/* One round: N_RUNS runs held at a barrier, released at once, alternating
 * A and B; each records its exit status. */
#define ROUND                                                                                               \
	"exec 4>/tmp/barrier; flock -x 4; pids=; "                                                            \
	"for i in $(seq 1 %d); do if [ $((i %% 2)) = 0 ]; then f=A; else f=B; fi; "                           \
	"( exec 4>&-; flock -s /tmp/barrier true; timeout 60 %s " ARGS " /tmp/resolv-$f.conf 2>/tmp/err.$i; "            \
	"echo $? > /tmp/rc.$i ) & pids=\"$pids $!\"; done; "                                                  \
	"sleep 0.05; flock -u 4; exec 4>&-; wait $pids; "

static void check_statuses(int round)
{
	for (int i = 1; i <= N_RUNS; i++) {
		_cleanup_free_ char *rc = tl_sh("cat /tmp/rc.%d", i);
		_cleanup_free_ char *err = NULL;
		int st = atoi(rc);

		if (st == 0 || st == 100)
			continue;
		err = tl_sh("cat /tmp/err.%d", i);
		ck_abort_msg("round %d, run %d exited %d:\n%s", round, i, st, err);
	}
}

/* The end state is exactly A or B; a further run with A then agrees:
 * 100 when it already was A, 0 when it was B. */
static void check_final(int round)
{
	_cleanup_free_ char *save = snapshot();
	_cleanup_free_ char *mine = ours(save);
	bool is_a = streq(mine, set_a());
	int r;

	ck_assert_msg(is_a || streq(mine, set_b()), "round %d ended with:\n%s", round, mine);
	ck_assert_int_eq(tl_count(save, foreign()), 1);
	r = tl_run(NULL, "%s " ARGS " /tmp/resolv-A.conf 2>/dev/null", tl_prog("SETUP_DNAT_TO_NS"));
	ck_assert_int_eq(r, is_a ? 100 : 0);
	free(mine);
	free(save);
	save = snapshot();
	mine = ours(save);
	ck_assert_str_eq(mine, set_a());
}

/* Rounds until the reader has MIN_SNAPSHOTS; returns the tally. */
static void run_rounds(bool with_writer, struct tally *t)
{
	const char *prog = tl_prog("SETUP_DNAT_TO_NS");
	int round;

	free(tl_sh("rm -f /tmp/stop /tmp/loops /tmp/bg-done; : > /tmp/snaps"));
	/* the reader (and writer) live in a shell of their own, started now
	 * and stopped after the last round; it says when both are gone */
	free(tl_sh("( " READER "%s wait; touch /tmp/bg-done ) >/dev/null 2>&1 &", nft() ? NFT_LIST : IPT_LIST,
		   with_writer ? (nft() ? NFT_WRITER : IPT_WRITER) : ""));
	for (round = 1; round <= MAX_ROUNDS; round++) {
		int r = tl_run(NULL, ROUND, N_RUNS, prog);
		_cleanup_free_ char *n = NULL;

		ck_assert_int_eq(r, 0);
		check_statuses(round);
		check_final(round);
		n = tl_sh("grep -c '^===$' /tmp/snaps || true");
		if (atoi(n) >= MIN_SNAPSHOTS)
			break;
	}
	/* stop the reader and writer, and wait for them to finish */
	free(tl_sh("touch /tmp/stop; for i in $(seq 1 1000); do [ -e /tmp/bg-done ] && exit 0; sleep 0.01; done; "
		   "echo 'reader/writer did not stop' >&2; exit 1"));
	check_snapshots("/tmp/snaps", t);
	fprintf(stderr, "%s: %d round(s) of %d runs; %d snapshots: %d before the first set, %d of A, %d of B\n",
		fw_backend_name(fw), round > MAX_ROUNDS ? MAX_ROUNDS : round, N_RUNS, t->snapshots, t->before_set,
		t->a, t->b);
	ck_assert_msg(t->snapshots >= MIN_SNAPSHOTS, "only %d snapshots", t->snapshots);
	/* both sets were seen in place: the reader did watch the runs */
	ck_assert_msg(t->a > 0 && t->b > 0, "the reader saw A %d times, B %d times", t->a, t->b);
}

START_TEST(test_concurrent_runs)
{
	struct tally t;

	run_rounds(false, &t);
}
END_TEST

/* Every item the other writer added is there, once; none it deleted is. */
static void check_writer(int n)
{
	_cleanup_free_ char *save = NULL;

	if (nft()) {
		_cleanup_free_ char *els = tl_sh("nft list set ip qubes downstream | tr -s ' ,{}\\t\\n' '\\n' | "
						 "grep -E '^[0-9]+\\.' | sort");
		_cleanup_free_ char *distinct = tl_sh("nft list set ip qubes downstream | tr -s ' ,{}\\t\\n' '\\n' | "
						      "grep -E '^[0-9]+\\.' | sort -u | wc -l");

		ck_assert_int_eq(tl_count(els, "192.0.2.1\n"), 0);
		ck_assert_int_eq(atoi(distinct), n);
		for (int i = 0; i < n; i++) {
			char el[32];

			snprintf(el, sizeof(el), "198.18.%d.%d\n", i / 250, i % 250 + 1);
			ck_assert_msg(strstr(els, el), "element %s missing", el);
		}
		save = snapshot();
	} else {
		save = tl_sh("iptables-legacy-save -t nat");
		ck_assert_int_eq(tl_count(save, "-A OTHER -s 192.0.2.1/32"), 0);
		ck_assert_int_eq(tl_count(save, "-A OTHER "), n);
		for (int i = 0; i < n; i++) {
			char rule[96];

			snprintf(rule, sizeof(rule), "-A OTHER -s 198.18.%d.%d/32 -j RETURN\n", i / 250, i % 250 + 1);
			ck_assert_msg(tl_count(save, rule) == 1, "%s not present exactly once", rule);
		}
	}
	ck_assert_int_eq(tl_count(save, foreign()), 1);
}

START_TEST(test_concurrent_runs_with_writer)
{
	_cleanup_free_ char *loops = NULL;
	struct tally t;
	int n;

	run_rounds(true, &t);
	loops = tl_sh("cat /tmp/loops");
	n = atoi(loops);
	ck_assert_msg(n > 0, "the other writer never ran alongside");
	check_writer(n);
	fprintf(stderr, "%s: the other writer made %d iterations alongside\n", fw_backend_name(fw), n);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dnat-concurrency");
	static const struct {
		const char *name;
		SFun setup;
	} backends[] = {
		{ "parallel-iptables", setup_iptables },
		{ "parallel-nftables", setup_nftables },
	};

	for (size_t i = 0; i < ELEMENTSOF(backends); i++) {
		TCase *tc = tcase_create(backends[i].name);

		tcase_add_checked_fixture(tc, backends[i].setup, teardown);
		tcase_set_timeout(tc, 300);
		tcase_add_test(tc, test_concurrent_runs);
		tcase_add_test(tc, test_concurrent_runs_with_writer);
		suite_add_tcase(s, tc);
	}
	return tl_main(s, true);
}
