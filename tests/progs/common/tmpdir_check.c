/*
 * tmpdir_check - drives common/tmpdir.c from the tests.
 *
 *	tmpdir_check [--prefix P] [--count N] [--outside FILE] [--chdir]
 *	             [--then free|exit|die|wait|fork]
 *
 * Makes N directories named P.XXXXXX (default 1, tmpdir_check) and fills the first with files, a
 * journal beside a database, nested subdirectories, and symbolic links to
 * FILE and to its directory, which removal must not follow.  Prints
 * "dir=PATH" for each, then ends as --then says:
 *	free	tmpdir_free() each; prints "free=RC gone=0|1"
 *	exit	exit(0) with the directories still there (atexit removes them)
 *	die	die(), which exits with status 1
 *	wait	print "waiting" and sleep until a signal ends the program
 *	fork	fork two children, one that exits and one killed by SIGTERM,
 *		then print "kept=1" if the directory survived both, and free it
 * With --chdir the program moves to / after making them, as a relative
 * $TMPDIR must not then lead the removal astray.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "args.h"
#include "check.h"
#include "tmpdir.h"

enum then { THEN_FREE, THEN_EXIT, THEN_DIE, THEN_WAIT, THEN_FORK };

static void make_file(const struct tmpdir *dir, const char *name)
{
	char path[PATH_MAX];
	FILE *f;

	if (tmpdir_join(dir, name, path, sizeof(path)))
		die("tmpdir_join %s: name too long", name);
	f = fopen(path, "w");
	if (!f || fputs("scratch\n", f) == EOF || fclose(f) == EOF)
		die_errno(errno, "writing %s", path);
}

static void make_subdir(const struct tmpdir *dir, const char *name)
{
	char path[PATH_MAX];

	if (tmpdir_join(dir, name, path, sizeof(path)) || mkdir(path, 0700) < 0)
		die_errno(errno, "mkdir %s", name);
}

static void make_link(const struct tmpdir *dir, const char *target, const char *name)
{
	char path[PATH_MAX];

	if (tmpdir_join(dir, name, path, sizeof(path)) || symlink(target, path) < 0)
		die_errno(errno, "symlink %s", name);
}

/* What a program leaves in its scratch directory, and then some. */
static void fill(const struct tmpdir *dir, const char *outside)
{
	make_file(dir, "orders.db");
	make_file(dir, "orders.db-journal");
	make_subdir(dir, "sub");
	make_subdir(dir, "sub/deeper");
	make_file(dir, "sub/deeper/file");
	make_subdir(dir, "empty");
	if (outside) {
		char parent[PATH_MAX];
		char *slash;

		make_link(dir, outside, "link");
		snprintf(parent, sizeof(parent), "%s", outside);
		slash = strrchr(parent, '/');
		if (slash && slash != parent) {
			*slash = '\0';
			make_link(dir, parent, "dirlink");
		}
	}
}

static int gone(const char *path)
{
	struct stat st;

	return lstat(path, &st) < 0 && errno == ENOENT;
}

/* Free @dir and say whether its path is gone. */
static void free_one(struct tmpdir *dir)
{
	char path[PATH_MAX];
	int rc;

	snprintf(path, sizeof(path), "%s", tmpdir_path(dir));
	rc = tmpdir_free(dir);
	printf("free=%d gone=%d\n", rc, gone(path));
}

/* A forked child's exit and its death by SIGTERM leave the directory be. */
static void fork_twice(struct tmpdir *dir)
{
	int status;
	pid_t pid;

	fflush(stdout);
	for (int i = 0; i < 2; i++) {
		pid = fork();
		if (pid < 0)
			die_errno(errno, "fork");
		if (pid == 0) {
			if (i == 1)
				raise(SIGTERM);
			exit(0);
		}
		if (waitpid(pid, &status, 0) < 0)
			die_errno(errno, "waitpid");
		if (i == 1 && !(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM))
			die("the second child was not ended by SIGTERM");
	}
	printf("kept=%d\n", !gone(tmpdir_path(dir)));
	free_one(dir);
}

struct options {
	const char *prefix, *outside;
	long count;
	bool move;
	int then;
};

static void parse_options(int argc, char **argv, struct options *opt)
{
	static const struct option opts[] = {
		{ "prefix", required_argument, NULL, 'p' },
		{ "count", required_argument, NULL, 'n' },
		{ "outside", required_argument, NULL, 'o' },
		{ "chdir", no_argument, NULL, 'c' },
		{ "then", required_argument, NULL, 't' },
		{ 0 },
	};
	static const char *const thens[] = { "free", "exit", "die", "wait", "fork", NULL };
	int c;

	while ((c = arg_next(argc, argv, opts)) != -1) {
		if (c == 'p')
			opt->prefix = optarg;
		else if (c == 'n')
			opt->count = arg_long("--count", optarg, 1, TMPDIR_MAX + 1);
		else if (c == 'o')
			opt->outside = optarg;
		else if (c == 'c')
			opt->move = true;
		else
			opt->then = arg_choice("--then", optarg, thens);
	}
	arg_no_operands(argc, argv);
}

int main(int argc, char **argv)
{
	struct options opt = { .prefix = "tmpdir_check", .count = 1, .then = THEN_FREE };
	struct tmpdir *dirs[TMPDIR_MAX + 1];
	int rc;

	wb_init(argv[0]);
	parse_options(argc, argv, &opt);
	for (long i = 0; i < opt.count; i++) {
		rc = tmpdir_new(&dirs[i], opt.prefix);
		if (rc)
			die_errno(-rc, "tmpdir_new (directory %ld)", i + 1);
		printf("dir=%s\n", tmpdir_path(dirs[i]));
	}
	fill(dirs[0], opt.outside);
	if (opt.move && chdir("/") < 0)
		die_errno(errno, "chdir /");
	fflush(stdout);

	switch (opt.then) {
	case THEN_FREE:
		for (long i = 0; i < opt.count; i++)
			free_one(dirs[i]);
		return 0;
	case THEN_EXIT:
		exit(0);
	case THEN_DIE:
		die("stopping on purpose");
	case THEN_WAIT:
		printf("waiting\n");
		fflush(stdout);
		for (;;)
			pause();
	case THEN_FORK:
		fork_twice(dirs[0]);
		return 0;
	}
	return 1;
}
