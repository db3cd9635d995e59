/* Network hooks: executables an administrator drops into a directory
 * (Qubes: /rw/config/network-hooks.d) to act when a client connects. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Runs each executable regular file of dir (dot-files skipped), in byte
 * order of their names, as `FILE cmd ifname type [addr]`, waiting for each;
 * a file without a "#!" line runs under /bin/sh, as a shell would run it.
 * Each hook runs in a process group of its own and gets at most
 * per_hook_ms, and none may run past deadline (0: none); a hook over its
 * time is killed with its whole group. A hook's failure (exit status,
 * signal, its own time bound) is logged and ignored; a missing dir means
 * no hooks. Returns the number of hooks run, -ETIMEDOUT when the deadline
 * passed (the hooks after it not run), or -errno when dir cannot be read. */
int hooks_run(const char *dir, const char *cmd, const char *ifname, const char *type, const char *addr,
	      uint64_t deadline, unsigned per_hook_ms);
/* Whether hooks_run(dir, ...) would run a hook now, by the same rules:
 * the hooks' arguments are worth reading only then. Also true when dir
 * exists but cannot be read (hooks_run then warns). */
bool hooks_present(const char *dir);
