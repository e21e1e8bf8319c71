/*
 * co_probe.h - small helpers shared by chapter 03's coroutine drivers
 * (co_*.c): they print facts as "key=value" and leave the judging to
 * tests/03-core.bats.  A driver never hangs on a broken library: every
 * scene either ends by itself or is bounded by a timer of its own.
 */
#ifndef WB_CO_PROBE_H
#define WB_CO_PROBE_H

#include <errno.h>
#include <stdio.h>

#include "../cases.h"
#include "args.h"
#include "check.h"
#include "clock.h"
#include "co.h"

/* "0", "-ECANCELED", ...: the codes co.h names. */
static inline const char *errname(int rc)
{
	switch (rc) {
	case 0:
		return "0";
	case -ECANCELED:
		return "-ECANCELED";
	case -ETIMEDOUT:
		return "-ETIMEDOUT";
	case -EDEADLK:
		return "-EDEADLK";
	case -EINVAL:
		return "-EINVAL";
	case -ENOMEM:
		return "-ENOMEM";
	case -EIO:
		return "-EIO";
	case -EPERM:
		return "-EPERM";
	case -ENOENT:
		return "-ENOENT";
	case -ESHUTDOWN:
		return "-ESHUTDOWN";
	}
	return "other";
}

/* Milliseconds since @start_ns, for "elapsed_ms=". */
static inline double ms_since(int64_t start_ns)
{
	return (double)(clk_now_ns() - start_ns) / CLK_NS_PER_MS;
}

#endif
