/* An exclusive flock() on a file, waited for without signals: a LOCK_NB
 * poll with a short, growing sleep, bounded by a timeout. */
#pragma once

/* Opens (creating, mode 0600) and locks path. Returns the locked fd
 * (O_CLOEXEC: closing it releases the lock), -ETIMEDOUT after timeout_ms,
 * or -errno. */
int flock_acquire(const char *path, unsigned timeout_ms);
