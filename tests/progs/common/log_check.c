/*
 * log_check - THREADS threads and one forked child each write LINES log
 * lines at once, so the tests can check that no line is torn or lost.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "args.h"
#include "check.h"
#include "log.h"

static long lines = 200;

static void *writer(void *arg)
{
	log_set_name("Thread-%d", (int)(long)arg);
	for (long i = 0; i < lines; i++)
		log_msg("line %ld of %ld", i, lines);
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "threads", required_argument, NULL, 't' },
		{ "lines", required_argument, NULL, 'l' },
		{ 0 },
	};
	int threads = 4, c, status;
	pthread_t tids[64];
	pid_t pid;

	wb_init(argv[0]);
	while ((c = arg_next(argc, argv, opts)) != -1) {
		if (c == 't')
			threads = (int)arg_long("--threads", optarg, 1, 64);
		else
			lines = arg_long("--lines", optarg, 1, 100000);
	}
	arg_no_operands(argc, argv);

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		die_errno(errno, "fork");
	if (pid == 0) {
		log_set_name("Process-%d", (int)getpid());
		for (long i = 0; i < lines; i++)
			log_msg("line %ld of %ld", i, lines);
		_exit(0);
	}
	for (int i = 0; i < threads; i++)
		PT_CHECK(pthread_create(&tids[i], NULL, writer, (void *)(long)(i + 1)));
	log_as("Task-7", "written under an explicit name");
	for (int i = 0; i < threads; i++)
		PT_CHECK(pthread_join(tids[i], NULL));
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		die("the child process failed");
	return 0;
}
