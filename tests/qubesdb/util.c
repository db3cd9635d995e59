#include <string.h>
#include <time.h>

#include "qdbd.h"

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

bool startswith(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

const char *qdb_type_name(unsigned int type)
{
	static const char *const names[QDB_TYPE_MAX] = {
		[QDB_CMD_READ] = "READ",
		[QDB_CMD_WRITE] = "WRITE",
		[QDB_CMD_MULTIREAD] = "MULTIREAD",
		[QDB_CMD_LIST] = "LIST",
		[QDB_CMD_RM] = "RM",
		[QDB_CMD_WATCH] = "WATCH",
		[QDB_CMD_UNWATCH] = "UNWATCH",
		[QDB_RESP_OK] = "OK",
		[QDB_RESP_ERROR_NOENT] = "ERROR_NOENT",
		[QDB_RESP_ERROR] = "ERROR",
		[QDB_RESP_READ] = "RESP_READ",
		[QDB_RESP_MULTIREAD] = "RESP_MULTIREAD",
		[QDB_RESP_LIST] = "RESP_LIST",
		[QDB_RESP_WATCH] = "RESP_WATCH",
	};

	return type < QDB_TYPE_MAX ? names[type] : "?";
}

/* verify_path() of the daemon before its fix: the upper-case range reads
 * 'Z'..'Z', so 'Z' is the only capital letter allowed. */
bool path_chars_ok(const char *path)
{
	return path[strspn(path, "abcdefghijklmnopqrstuvwxyz"
				 "Z"
				 "0123456789"
				 "_-/.:@")] == '\0';
}

bool path_is_key(const char *path)
{
	size_t len = strlen(path);

	return len > 0 && len < QDB_MAX_PATH && path[0] == '/' && path[len - 1] != '/' &&
	       path_chars_ok(path);
}
