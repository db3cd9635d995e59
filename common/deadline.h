/* Time bounds. Every wait of the programs (a store round trip, a hook, a
 * lock) is bounded by its own limit and by the deadline of the whole run,
 * so that a run ends -- and a failed online is rolled back -- before the
 * toolstack gives up on it. Deadlines are CLOCK_MONOTONIC milliseconds;
 * 0 means "none". */
#pragma once

#include <stdbool.h>
#include <stdint.h>

uint64_t now_ms(void);

/* The milliseconds left before deadline, at most cap_ms; 0 once it passed. */
unsigned ms_left(uint64_t deadline, unsigned cap_ms);

/* The earlier of deadline and now + ms. */
uint64_t deadline_within(uint64_t deadline, unsigned ms);

static inline bool deadline_passed(uint64_t deadline)
{
	return deadline && now_ms() >= deadline;
}

/* Sleeps ms milliseconds (EINTR resumes the sleep). */
void sleep_ms(unsigned ms);
