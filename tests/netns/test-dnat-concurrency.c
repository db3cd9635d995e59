/* setup-dnat-to-ns run many times at once (NetworkManager fires a
 * dispatcher event per interface and per change): every moment a reader
 * looks, PR-QBS holds exactly one whole rule set, and the end state is
 * exactly one of the two inputs. Also with iptables-legacy writing the
 * same table alongside: none of its changes may be lost. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"

#define N_RUNS 40
#define MIN_SNAPSHOTS 300
#define MAX_ROUNDS 40

#define JUMP "-A PREROUTING -j PR-QBS\n"
#define PAIR(dst, to)                                                                       \
	"-A PR-QBS -d " dst "/32 -p udp -m udp --dport 53 -j DNAT --to-destination " to "\n" \
	"-A PR-QBS -d " dst "/32 -p tcp -m tcp --dport 53 -j DNAT --to-destination " to "\n"
#define SET_A JUMP PAIR("10.139.1.1", "192.168.1.1") PAIR("10.139.1.2", "192.168.1.2")
#define SET_B JUMP PAIR("10.139.1.1", "10.0.0.1") PAIR("10.139.1.2", "10.0.0.1")
#define ARGS "--dns1 10.139.1.1 --dns2 10.139.1.2 --resolved-conf /tmp/none --resolv-conf"

/* A foreign rule in PREROUTING that every snapshot must show, once. */
#define FOREIGN "-A PREROUTING -s 192.0.2.2/32 -j RETURN\n"

static void write_file(const char *path, const char *content)
{
	FILE *f = fopen(path, "we");

	ck_assert_msg(f, "fopen %s: %m", path);
	fputs(content, f);
	ck_assert_int_eq(fclose(f), 0);
}

static void setup(void)
{
	tl_netns_setup();
	setenv("XENSTORED_PATH", "/tmp/no-xenstored/socket", 1);
	write_file("/tmp/resolv-A.conf", "nameserver 192.168.1.1\nnameserver 192.168.1.2\n");
	write_file("/tmp/resolv-B.conf", "nameserver 10.0.0.1\n");
	free(tl_sh("iptables-legacy -t nat -A PREROUTING -s 192.0.2.2 -j RETURN && iptables-legacy -t nat -N OTHER"));
}

static void teardown(void)
{
	tl_netns_teardown();
}

/* The lines of a save that mention PR-QBS (the jump and our rules). */
static char *ours(const char *save)
{
	char *out = calloc(1, strlen(save) + 1);
	const char *p = save;

	ck_assert_ptr_nonnull(out);
	while (*p) {
		size_t n = strcspn(p, "\n");

		if (strncmp(p, "-A ", 3) == 0 && memmem(p, n, "PR-QBS", 6))
			strncat(out, p, n + (p[n] == '\n'));
		p += n + (p[n] == '\n');
	}
	return out;
}

static int count(const char *haystack, const char *needle)
{
	int n = 0;

	for (const char *p = haystack; (p = strstr(p, needle)); p++)
		n++;
	return n;
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
		ck_assert_msg(!strstr(p, "SAVE-FAILED"), "snapshot %d: iptables-legacy-save failed:\n%s", t->snapshots, p);
		ck_assert_msg(strstr(p, "*nat\n") && strstr(p, "\nCOMMIT\n"), "snapshot %d is not a whole table:\n%s",
			      t->snapshots, p);
		ck_assert_msg(count(p, FOREIGN) == 1, "snapshot %d: the foreign rule is not there once:\n%s",
			      t->snapshots, p);
		mine = ours(p);
		if (streq(mine, SET_A)) {
			t->a++;
			seen_set = true;
		} else if (streq(mine, SET_B)) {
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

/* Snapshots of the nat table in a tight loop until /tmp/stop exists, each
 * followed by "===". */
#define READER                                                                                         \
	"rm -f /tmp/stop; : > /tmp/snaps; "                                                               \
	"( while [ ! -e /tmp/stop ]; do { iptables-legacy-save -t nat 2>&1 || echo SAVE-FAILED; } >> /tmp/snaps; " \
	"echo === >> /tmp/snaps; done ) & reader=$!; "

/* iptables-legacy writing the nat table until /tmp/stop exists (passed as
 * an argument, so no printf escapes here): each
 * iteration adds and deletes a throw-away rule in OTHER and appends one
 * unique rule of its own there, which must still be there at the end.
 * Prints the number of iterations into /tmp/loops. */
#define WRITER                                                                                            \
	"( n=0; while [ ! -e /tmp/stop ]; do "                                                               \
	"iptables-legacy -w -t nat -A OTHER -s 192.0.2.1 -j RETURN || exit 1; "                             \
	"iptables-legacy -w -t nat -D OTHER -s 192.0.2.1 -j RETURN || exit 1; "                             \
	"iptables-legacy -w -t nat -A OTHER -s 198.18.$((n / 250)).$((n % 250 + 1)) -j RETURN || exit 1; "  \
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
	_cleanup_free_ char *save = tl_sh("iptables-legacy-save -t nat");
	_cleanup_free_ char *mine = ours(save);
	bool is_a = streq(mine, SET_A);
	int r;

	ck_assert_msg(is_a || streq(mine, SET_B), "round %d ended with:\n%s", round, mine);
	ck_assert_int_eq(count(save, FOREIGN), 1);
	r = tl_run(NULL, "%s " ARGS " /tmp/resolv-A.conf 2>/dev/null", tl_prog("SETUP_DNAT_TO_NS"));
	ck_assert_int_eq(r, is_a ? 100 : 0);
	free(mine);
	free(save);
	save = tl_sh("iptables-legacy-save -t nat");
	mine = ours(save);
	ck_assert_str_eq(mine, SET_A);
}

/* Rounds until the reader has MIN_SNAPSHOTS; returns the tally. */
static void run_rounds(bool with_writer, struct tally *t)
{
	const char *prog = tl_prog("SETUP_DNAT_TO_NS");
	int round;

	free(tl_sh("rm -f /tmp/stop /tmp/loops /tmp/bg-done; : > /tmp/snaps"));
	/* the reader (and writer) live in a shell of their own, started now
	 * and stopped after the last round; it says when both are gone */
	free(tl_sh("( " READER "%s wait; touch /tmp/bg-done ) >/dev/null 2>&1 &", with_writer ? WRITER : ""));
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
	fprintf(stderr, "%d round(s) of %d runs; %d snapshots: %d before the first set, %d of A, %d of B\n",
		round > MAX_ROUNDS ? MAX_ROUNDS : round, N_RUNS, t->snapshots, t->before_set, t->a, t->b);
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

START_TEST(test_concurrent_runs_with_iptables)
{
	_cleanup_free_ char *loops = NULL, *save = NULL, *other = NULL;
	struct tally t;
	int n;

	run_rounds(true, &t);
	loops = tl_sh("cat /tmp/loops");
	n = atoi(loops);
	ck_assert_msg(n > 0, "the iptables loop never ran alongside");

	/* every rule the other writer added is there, once; none it
	 * deleted is */
	save = tl_sh("iptables-legacy-save -t nat");
	ck_assert_int_eq(count(save, "-A OTHER -s 192.0.2.1/32"), 0);
	ck_assert_int_eq(count(save, "-A OTHER "), n);
	for (int i = 0; i < n; i++) {
		char rule[96];

		snprintf(rule, sizeof(rule), "-A OTHER -s 198.18.%d.%d/32 -j RETURN\n", i / 250, i % 250 + 1);
		ck_assert_msg(count(save, rule) == 1, "%s not present exactly once", rule);
	}
	ck_assert_int_eq(count(save, FOREIGN), 1);
	fprintf(stderr, "the iptables loop made %d iterations alongside\n", n);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dnat-concurrency");
	TCase *tc = tcase_create("parallel");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_concurrent_runs);
	tcase_add_test(tc, test_concurrent_runs_with_iptables);
	suite_add_tcase(s, tc);
	return tl_main(s, true);
}
