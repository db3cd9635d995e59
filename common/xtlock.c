/* The xtables lock, shared with iptables-legacy: flock(LOCK_EX) on the
 * lock file, waited for without signals or alarm(), so it is safe in any
 * process. */
#include <stdlib.h>

#include "config.h"
#include "flock.h"
#include "ipt.h"

const char *xt_lock_path(void)
{
	const char *p = getenv("XTABLES_LOCKFILE");

	return p && *p ? p : XT_LOCK_NAME;
}

int xt_lock_acquire(unsigned timeout_ms)
{
	return flock_acquire(xt_lock_path(), timeout_ms);
}
