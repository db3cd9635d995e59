/* Shared helpers for the check suites. The netns suites give every test its
 * own network + mount namespace (a checked fixture runs in check's forked
 * child), so kernel state never leaks between tests or onto the host, and
 * disappears with the test process even when it crashes. */
#pragma once

#include <check.h>
#include <stdbool.h>
#include <sys/types.h>

#include "util.h"

/* Checked fixture: fresh netns with lo up, /sys remounted for it, and a
 * private XTABLES_LOCKFILE so tests never contend with the host's lock. */
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
void tl_xenstored_stop(pid_t pid);
/* Starts the test QubesDB daemon ($TEST_QUBESDB) on sock, or (NULL) on a
 * socket in a fresh temp dir that QUBESDB_SOCKET is then set to; extra:
 * more daemon arguments, NULL-terminated (e.g. "--split", "7", "--set",
 * "/k=v"), or NULL. Killed when the test process dies. */
pid_t tl_qubesdb_start(const char *sock, const char *const *extra);
void tl_qubesdb_stop(pid_t pid);
/* Keys of the QubesDB at $QUBESDB_SOCKET ("/qubes-netvm-gateway"), through
 * $TEST_QDB_TOOL. */
void tl_qdb_write(const char *key, const char *value);
void tl_qdb_rm(const char *key); /* absent is fine */

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

/* Path of a built program, from the environment variable named var (set by
 * meson's test env). Aborts the test when unset. */
const char *tl_prog(const char *var);

/* main() of a suite. needs_root: probe root + unshare(CLONE_NEWNET); when
 * that fails, exit 77 (meson: skipped) -- unless CI=true, where a skip would
 * hide untested code, so it fails instead. */
int tl_main(Suite *s, bool needs_root);
