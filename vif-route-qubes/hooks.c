#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "deadline.h"
#include "hooks.h"
#include "log.h"
#include "util.h"

#define SHELL "/bin/sh"

extern char **environ;

DEFINE_TRIVIAL_CLEANUP_FUNC(DIR *, closedir)

static int is_candidate(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

static int byte_order(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* What hooks_run runs: a regular file (after symlinks) we may execute. */
static bool is_runnable(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

bool hooks_present(const char *dir)
{
	_cleanup_(closedirp) DIR *d = NULL;
	struct dirent *e;

	d = opendir(dir);
	if (!d)
		/* Unreadable for another reason: say yes, and let hooks_run
		 * report it as it always did. */
		return errno != ENOENT && errno != ENOTDIR;
	while ((e = readdir(d))) {
		char path[4096];

		if (!is_candidate(e))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (is_runnable(path))
			return true;
	}
	return false;
}

#define HOOK_ARGS_MAX 6 /* FILE cmd ifname type [addr] NULL */

/* Starts path in a process group of its own, so that a hook's children
 * can be killed with it. A file the kernel cannot execute (no "#!" line)
 * goes to the shell, as execvp() and the shell scripts did. */
static int spawn_hook(const char *path, char *const argv[static HOOK_ARGS_MAX], pid_t *ret_pid)
{
	posix_spawnattr_t attr;
	char *sh_argv[HOOK_ARGS_MAX + 1];
	int r;

	r = posix_spawnattr_init(&attr);
	if (r != 0)
		return -r;
	r = posix_spawnattr_setpgroup(&attr, 0);
	if (r == 0)
		r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
	if (r == 0)
		r = posix_spawn(ret_pid, path, NULL, &attr, argv, environ);
	if (r == ENOEXEC) {
		size_t n = 0;

		sh_argv[n++] = (char *)SHELL;
		for (size_t i = 0; i < HOOK_ARGS_MAX && argv[i]; i++)
			sh_argv[n++] = argv[i];
		sh_argv[n] = NULL;
		r = posix_spawn(ret_pid, SHELL, NULL, &attr, sh_argv, environ);
	}
	posix_spawnattr_destroy(&attr);
	return -r;
}

/* Waits up to timeout_ms for pid to exit: 0 with its status, or -ETIMEDOUT
 * (pid still running). */
static int wait_bounded(pid_t pid, unsigned timeout_ms, int *ret_status)
{
	uint64_t end = now_ms() + timeout_ms;
	_cleanup_close_ int pfd = pidfd_open(pid, 0);

	for (;;) {
		pid_t w = waitpid(pid, ret_status, WNOHANG);
		unsigned left;

		if (w == pid)
			return 0;
		if (w < 0 && errno != EINTR)
			return negative_errno();
		left = ms_left(end, timeout_ms);
		if (left == 0)
			return -ETIMEDOUT;
		if (pfd >= 0) {
			struct pollfd p = { .fd = pfd, .events = POLLIN };

			(void)poll(&p, 1, (int)left); /* EINTR or ready: look again */
		} else
			sleep_ms(left < 5 ? left : 5); /* kernel without pidfd */
	}
}

/* 0 when the hook ended (whatever its result: that is only logged),
 * -ETIMEDOUT when the run's deadline stopped it. */
static int run_one(const char *path, const char *name, char *const argv[static HOOK_ARGS_MAX], uint64_t deadline,
		   unsigned per_hook_ms)
{
	unsigned limit = ms_left(deadline, per_hook_ms);
	pid_t pid;
	int status, r;

	if (limit == 0)
		return -ETIMEDOUT;
	r = spawn_hook(path, argv, &pid);
	if (r < 0) {
		log_warning_errno(r, "network hook '%s' could not be started, ignoring", name);
		return 0;
	}
	r = wait_bounded(pid, limit, &status);
	if (r < 0) {
		/* The group holds the hook and whatever it started. */
		(void)kill(-pid, SIGKILL);
		(void)kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (r != -ETIMEDOUT) {
			log_warning_errno(r, "waiting for network hook '%s' failed, killed it, ignoring", name);
			return 0;
		}
		if (deadline_passed(deadline)) {
			log_warning("network hook '%s' %s %s was still running when the time for this run was up: killed",
				    name, argv[1], argv[2]);
			return -ETIMEDOUT;
		}
		log_warning("network hook '%s' %s %s took longer than %.1f s: killed it and its processes, ignoring",
			    name, argv[1], argv[2], per_hook_ms / 1000.0);
		return 0;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		log_debug("network hook '%s' %s %s succeeded", name, argv[1], argv[2]);
	else if (WIFEXITED(status))
		log_warning("network hook '%s' %s %s exited with status %d, ignoring", name, argv[1], argv[2],
			    WEXITSTATUS(status));
	else
		log_warning("network hook '%s' %s %s was killed by signal %d, ignoring", name, argv[1], argv[2],
			    WTERMSIG(status));
	return 0;
}

int hooks_run(const char *dir, const char *cmd, const char *ifname, const char *type, const char *addr,
	      uint64_t deadline, unsigned per_hook_ms)
{
	struct dirent **list = NULL;
	int n, ran = 0, r = 0;

	n = scandir(dir, &list, is_candidate, byte_order);
	if (n < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;

	for (int i = 0; i < n; i++) {
		char path[4096];
		char *argv[HOOK_ARGS_MAX] = { path, (char *)cmd, (char *)ifname, (char *)type, (char *)addr, NULL };

		snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name);
		if (r == 0 && is_runnable(path)) {
			r = run_one(path, list[i]->d_name, argv, deadline, per_hook_ms);
			ran++;
		}
		free(list[i]);
	}
	free(list);
	return r < 0 ? r : ran;
}
