/* Shared helpers for the check suites. The netns suites give every test its
 * own network + mount namespace (a checked fixture runs in check's forked
 * child), so kernel state never leaks between tests or onto the host, and
 * disappears with the test process even when it crashes. */
#pragma once

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fw.h"
#include "util.h"

/* Checked fixture: fresh netns with lo up, /sys remounted for it, its own
 * empty /run/netns, and a private XTABLES_LOCKFILE so tests never contend
 * with the host's lock. */
void tl_netns_setup(void);
void tl_netns_teardown(void);

/* Runs "/bin/sh -c CMD" (printf-formatted). Captures stdout into *ret_out
 * when ret_out is non-NULL (malloc'd). Returns the exit status, or 128+sig,
 * or -errno. stderr passes through (it ends up in the test log). */
int tl_run(char **ret_out, const char *fmt, ...) _printf_(2, 3);
/* tl_run that must exit 0; returns the output (caller frees) or NULL. */
char *tl_sh(const char *fmt, ...) _printf_(1, 2);

/* Starts the test xenstored (path from $TEST_XENSTORED) on a socket in a
 * fresh temp dir and exports XENSTORED_PATH for this process and its
 * children. Killed when the test process dies. */
pid_t tl_xenstored_start(void);
/* SIGTERM, and its exit status (128+sig when a signal ended it, -errno when
 * it could not be waited for; 0 for pid <= 0). */
int tl_xenstored_stop(pid_t pid);
/* Starts the test QubesDB daemon ($TEST_QUBESDB) on sock, or (NULL) on a
 * socket in a fresh temp dir that QUBESDB_SOCKET is then set to; extra:
 * more daemon arguments, NULL-terminated (e.g. "--split", "7", "--set",
 * "/k=v"), or NULL. Killed when the test process dies. */
pid_t tl_qubesdb_start(const char *sock, const char *const *extra);
int tl_qubesdb_stop(pid_t pid);
/* The temp dir the last tl_qubesdb_start(NULL, ...) made ("" if none): on
 * the host's /tmp (unit suites) its user removes it. */
const char *tl_qubesdb_dir(void); /* as tl_xenstored_stop() */
/* The pid in a daemon's --pid-file. */
pid_t tl_read_pid_file(const char *path);
/* Waits up to 5 s for path to be gone (a daemon's socket or pid file after
 * SIGTERM); fails the test if it stays. */
void tl_wait_gone(const char *path);
/* Keys of the QubesDB at $QUBESDB_SOCKET ("/qubes-netvm-gateway"), through
 * $TEST_QDB_TOOL. */
void tl_qdb_write(const char *key, const char *value);
void tl_qdb_rm(const char *key); /* absent is fine */

/* A raw client of a test daemon: connected to the Unix socket at path, its
 * recv() timing out after timeout_s seconds. */
int tl_raw_connect(const char *path, int timeout_s);
/* Sends all len bytes, or fails the test. */
void tl_raw_write(int fd, const void *p, size_t len);
/* Exactly len bytes; false on EOF (or a reset). A timeout fails the test. */
bool tl_raw_read(int fd, void *p, size_t len);

/* Direct libxenstore access for setting up and checking the store. */
void tl_xs_write(const char *path, const char *value);
char *tl_xs_read(const char *path); /* NULL when absent */
void tl_xs_rm(const char *path);

/* Inside this test's own mount namespace: a fresh /dev (the host's nodes
 * bound back in) with a syslog socket at /dev/log, so what the programs
 * send to syslog can be read. Returns the socket. */
int tl_syslog_capture(void);
/* The messages received so far ("<PRI>date ident[pid]: text"), one per
 * line; malloc'd. */
char *tl_syslog_read(int fd);

/* Small file and text helpers; each fails the test on error. */
void tl_write_file(const char *path, const char *content);
char *tl_slurp(const char *path); /* malloc'd; "" for an empty file */
/* Occurrences of needle in haystack (overlapping ones too). */
int tl_count(const char *haystack, const char *needle);

/* For the *_build functions of message-level tests (build(buf, len, arg)
 * returns the batch's length or -ENOBUFS): exactly enough room gives the
 * same bytes as plenty; one byte short, 100 bytes and none give -ENOBUFS
 * with not a byte of buf written. */
typedef ssize_t (*tl_build_fn)(void *buf, size_t len, const void *arg);
void tl_check_build_bounds(tl_build_fn build, const void *arg);
struct nlmsghdr;
/* The netlink messages of a built batch of len bytes, in order, into
 * msgs (at most max); asserts nothing trails or is cut off. Returns how
 * many. */
unsigned tl_batch_split(const void *buf, ssize_t len, const struct nlmsghdr **msgs, unsigned max);

/* The whole firewall state of the namespace for backend b (FW_IPTABLES or
 * FW_NFTABLES), as text to compare byte for byte: iptables-legacy-save -c
 * of every table (counters included, the dated comments left out), or
 * nft -a list ruleset (handles included: a replaced chain or rule shows). */
char *tl_fw_dump(enum fw_backend b);
/* Loads the project's R4.2+-style base ruleset
 * ($MESON_SOURCE_DIR/tests/nft/qubes-base.nft) into this namespace, as a
 * Qubes network VM does at boot. */
void tl_nft_base_load(void);
/* The namespace's nf_tables generation id (NFT_MSG_GETGEN): it moves with
 * every committed batch, and only then. */
uint32_t tl_nft_genid(void);

/* Path of a built program, from the environment variable named var (set by
 * meson's test env). Aborts the test when unset. Under
 * `meson test --setup=valgrind` ($QVT_VALGRIND set), the programs under
 * test (VIF_ROUTE_QUBES, SETUP_DNAT_TO_NS) come back as a command line that
 * runs them under valgrind, one log per run; tl_main() fails the suite when
 * a run that exited had a memcheck error, a leak, or an fd it opened still
 * open. The result is for a shell command line (unquoted), not for exec. */
const char *tl_prog(const char *var);

/* A table of tests for tl_suite(). */
struct tl_case {
	const char *name;
	const TTest *test;
};
/* A suite with one TCase per case (so each test gets its own run of the
 * checked fixture setup/teardown). */
Suite *tl_suite(const char *name, const struct tl_case *cases, size_t n, SFun setup,
		SFun teardown);

/* main() of a suite. needs_root: probe root + unshare(CLONE_NEWNET); when
 * that fails, exit 77 (meson: skipped) -- unless CI=true, where a skip would
 * hide untested code, so it fails instead. */
int tl_main(Suite *s, bool needs_root);
