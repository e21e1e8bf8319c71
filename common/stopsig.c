#include "stopsig.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "check.h"

int stopsig_install(void (*handler)(int, siginfo_t *, void *), struct sigaction prev[2],
		    void (*at_exit)(void))
{
	struct sigaction sa = { .sa_sigaction = handler, .sa_flags = SA_SIGINFO };

	/* No other handler may interrupt this one halfway. */
	sigfillset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, &prev[STOPSIG_SLOT(SIGINT)]) < 0 ||
	    sigaction(SIGTERM, &sa, &prev[STOPSIG_SLOT(SIGTERM)]) < 0)
		return -errno;
	if (atexit(at_exit) != 0)
		return -ENOMEM;
	return 0;
}

void stopsig_pass_on(int sig, siginfo_t *info, void *uctx, const struct sigaction prev[2])
{
	const struct sigaction *before = &prev[STOPSIG_SLOT(sig)];
	struct sigaction dfl = { .sa_handler = SIG_DFL };

	if (before->sa_flags & SA_SIGINFO)
		before->sa_sigaction(sig, info, uctx);
	else if (before->sa_handler != SIG_DFL && before->sa_handler != SIG_IGN)
		before->sa_handler(sig);
	sigemptyset(&dfl.sa_mask);
	(void)sigaction(sig, &dfl, NULL);
	(void)raise(sig);
}

void stopsig_block(sigset_t *old)
{
	sigset_t stop;

	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	PT_CHECK(pthread_sigmask(SIG_BLOCK, &stop, old));
}

void stopsig_restore(const sigset_t *old)
{
	PT_CHECK(pthread_sigmask(SIG_SETMASK, old, NULL));
}
