/*
 * gate.h - a gate for the test drivers of every chapter: shut until opened,
 * then open for good.  A driver forces an interleaving with gates (this
 * task may finish only once that one has started) instead of hoping for it
 * with sleeps.  Every wait has a time limit, so a driver testing a broken
 * exercise fails instead of hanging.
 */
#ifndef WB_GATE_H
#define WB_GATE_H

#include <pthread.h>
#include <stdbool.h>

#include "check.h"
#include "clock.h"

/* How long a gate may stay shut before a driver gives up on it. */
#define GATE_LIMIT_MS 5000

struct gate {
	pthread_mutex_t lock;
	pthread_cond_t cv;
	bool open;
};

static inline void gate_init(struct gate *g)
{
	PT_CHECK(pthread_mutex_init(&g->lock, NULL));
	PT_CHECK(clk_cond_init(&g->cv));
	g->open = false;
}

static inline void gate_destroy(struct gate *g)
{
	PT_CHECK(pthread_cond_destroy(&g->cv));
	PT_CHECK(pthread_mutex_destroy(&g->lock));
}

static inline void gate_open(struct gate *g)
{
	PT_CHECK(pthread_mutex_lock(&g->lock));
	g->open = true;
	PT_CHECK(pthread_cond_broadcast(&g->cv));
	PT_CHECK(pthread_mutex_unlock(&g->lock));
}

/* Wait until @g opens: true, or false after @ms milliseconds. */
static inline bool gate_wait_ms(struct gate *g, long ms)
{
	int64_t deadline = clk_deadline_ms(ms);
	int rc = 0;
	bool open;

	PT_CHECK(pthread_mutex_lock(&g->lock));
	while (!g->open && !rc)
		rc = clk_cond_wait_until(&g->cv, &g->lock, deadline);
	open = g->open;
	PT_CHECK(pthread_mutex_unlock(&g->lock));
	return open;
}

/* Wait until @g opens: true, or false after GATE_LIMIT_MS. */
static inline bool gate_wait(struct gate *g)
{
	return gate_wait_ms(g, GATE_LIMIT_MS);
}

#endif
