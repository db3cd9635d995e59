#include <dirent.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "hooks.h"
#include "log.h"
#include "util.h"

extern char **environ;

static int is_candidate(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

static int byte_order(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static void run_one(const char *path, const char *name, char *const argv[])
{
	pid_t pid;
	int status, r;

	r = posix_spawn(&pid, path, NULL, NULL, argv, environ);
	if (r != 0) {
		log_warning_errno(-r, "network hook '%s' could not be started, ignoring", name);
		return;
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			log_warning_errno(-errno, "waiting for network hook '%s', ignoring", name);
			return;
		}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		log_debug("network hook '%s' %s %s succeeded", name, argv[1], argv[2]);
	else if (WIFEXITED(status))
		log_warning("network hook '%s' %s %s exited with status %d, ignoring", name, argv[1], argv[2],
			    WEXITSTATUS(status));
	else
		log_warning("network hook '%s' %s %s was killed by signal %d, ignoring", name, argv[1], argv[2],
			    WTERMSIG(status));
}

int hooks_run(const char *dir, const char *cmd, const char *ifname, const char *type, const char *addr)
{
	struct dirent **list = NULL;
	int n, ran = 0;

	n = scandir(dir, &list, is_candidate, byte_order);
	if (n < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;

	for (int i = 0; i < n; i++) {
		char path[4096];
		struct stat st;
		char *argv[] = { path, (char *)cmd, (char *)ifname, (char *)type, (char *)addr, NULL };

		snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0) {
			run_one(path, list[i]->d_name, argv);
			ran++;
		}
		free(list[i]);
	}
	free(list);
	return ran;
}
