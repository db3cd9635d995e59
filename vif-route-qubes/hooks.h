/* Network hooks: executables an administrator drops into a directory
 * (Qubes: /rw/config/network-hooks.d) to act when a client connects. */
#pragma once

/* Runs each executable regular file of dir (dot-files skipped), in byte
 * order of their names, as `FILE cmd ifname type [addr]`, waiting for each.
 * A hook's failure is logged and ignored; a missing dir means no hooks.
 * Returns the number of hooks run, or -errno when dir cannot be read. */
int hooks_run(const char *dir, const char *cmd, const char *ifname, const char *type, const char *addr);
