/*
 * workbook - the workbook's front door: chapters, demos, exercises, hints.
 *
 * With a terminal it is an interactive menu; without one (a pipe, CI) it
 * prints the chapter list and how to use it, and exits, because it must
 * never wait for input that cannot come.  Scripts use the subcommands.
 *
 * Everything it knows comes from the chapter manifests
 * (chapters/NN-name/CHAPTER), so it grows as chapters are added.
 */
#include <dirent.h>
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

#include "check.h"

#ifndef WB_ROOT
#define WB_ROOT "."
#endif
#ifndef WB_BUILD
#define WB_BUILD "build"
#endif

#define MAX_ITEMS 32

struct demo {
	char *name, *what;
};

struct exercise {
	char *id, *file, *title, *hint, *lesson;
};

struct chapter {
	char *dir, *title;
	char *summary[8];
	int nsummary;
	struct demo demos[MAX_ITEMS];
	int ndemos;
	struct exercise exercises[MAX_ITEMS];
	int nexercises;
};

static const char *root;
static struct chapter chapters[100];
static int nchapters;

/* ------------------------------------------------------------ manifests */

static struct exercise *find_exercise_in(struct chapter *ch, const char *id)
{
	for (int i = 0; i < ch->nexercises; i++)
		if (strcmp(ch->exercises[i].id, id) == 0)
			return &ch->exercises[i];
	return NULL;
}

/* Split @line at tabs into at most @max fields; returns how many. */
static int split_tabs(char *line, char **field, int max)
{
	int n = 0;

	line[strcspn(line, "\r\n")] = '\0';
	while (n < max) {
		field[n++] = line;
		line = strchr(line, '\t');
		if (!line)
			break;
		*line++ = '\0';
	}
	return n;
}

static void parse_line(struct chapter *ch, char **f, int n, const char *path)
{
	struct exercise *ex;

	if (n >= 2 && strcmp(f[0], "title") == 0) {
		ch->title = xstrdup(f[1]);
	} else if (n >= 2 && strcmp(f[0], "summary") == 0 && ch->nsummary < 8) {
		ch->summary[ch->nsummary++] = xstrdup(f[1]);
	} else if (n >= 3 && strcmp(f[0], "demo") == 0 && ch->ndemos < MAX_ITEMS) {
		ch->demos[ch->ndemos++] = (struct demo){ xstrdup(f[1]), xstrdup(f[2]) };
	} else if (n >= 4 && strcmp(f[0], "exercise") == 0 && ch->nexercises < MAX_ITEMS) {
		ch->exercises[ch->nexercises++] = (struct exercise){
			.id = xstrdup(f[1]), .file = xstrdup(f[2]), .title = xstrdup(f[3]),
		};
	} else if (n >= 3 && (ex = find_exercise_in(ch, f[1])) != NULL &&
		   (strcmp(f[0], "hint") == 0 || strcmp(f[0], "lesson") == 0)) {
		char **slot = f[0][0] == 'h' ? &ex->hint : &ex->lesson;

		free(*slot);
		*slot = xstrdup(f[2]);
	} else {
		fprintf(stderr, "workbook: %s: ignoring line '%s'\n", path, f[0]);
	}
}

static void load_chapter(const char *dir)
{
	struct chapter *ch = &chapters[nchapters];
	char path[PATH_MAX], line[1024], *f[4];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/chapters/%s/CHAPTER", root, dir);
	fp = fopen(path, "r");
	if (!fp)
		return;		/* a directory without a manifest is not a chapter */
	memset(ch, 0, sizeof(*ch));
	ch->dir = xstrdup(dir);
	while (fgets(line, sizeof(line), fp)) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		parse_line(ch, f, split_tabs(line, f, 4), path);
	}
	fclose(fp);
	if (!ch->title)
		ch->title = xstrdup(dir);
	nchapters++;
}

static int dir_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void load_chapters(void)
{
	char path[PATH_MAX], *names[100];
	struct dirent *de;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/chapters", root);
	d = opendir(path);
	if (!d)
		die_errno(errno, "cannot open %s (set WORKBOOK_ROOT to the workbook's directory)", path);
	while ((de = readdir(d)) != NULL && n < 100)
		if (de->d_name[0] >= '0' && de->d_name[0] <= '9')
			names[n++] = xstrdup(de->d_name);
	closedir(d);
	qsort(names, (size_t)n, sizeof(*names), dir_cmp);
	for (int i = 0; i < n; i++) {
		load_chapter(names[i]);
		free(names[i]);
	}
}

/* ------------------------------------------------------------ lookups */

static struct exercise *find_exercise(const char *id, struct chapter **in)
{
	for (int c = 0; c < nchapters; c++) {
		struct exercise *ex = find_exercise_in(&chapters[c], id);

		if (ex) {
			*in = &chapters[c];
			return ex;
		}
	}
	return NULL;
}

static struct chapter *find_demo(const char *name)
{
	for (int c = 0; c < nchapters; c++)
		for (int d = 0; d < chapters[c].ndemos; d++)
			if (strcmp(chapters[c].demos[d].name, name) == 0)
				return &chapters[c];
	return NULL;
}

/* "done", "to do" or "not checked yet", as the last `make check` left it. */
static const char *exercise_state(const char *id)
{
	static char state[32];
	char path[PATH_MAX];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/build/progress/%s", root, id);
	fp = fopen(path, "r");
	if (!fp)
		return "not checked yet";
	if (!fgets(state, sizeof(state), fp))
		state[0] = '\0';
	fclose(fp);
	state[strcspn(state, "\n")] = '\0';
	return state[0] ? state : "not checked yet";
}

/* ------------------------------------------------------------ commands */

/*
 * Run @argv as a child and wait for it; returns its exit status.  Like
 * system(3), the menu ignores Ctrl-C while the child runs, so Ctrl-C stops
 * the demo and brings the menu back instead of ending both.
 */
static int spawn(char *const argv[])
{
	struct sigaction ignore = { .sa_handler = SIG_IGN }, old_int, old_quit;
	int status = 0, rc;
	pid_t pid;

	fflush(NULL);
	sigemptyset(&ignore.sa_mask);
	sigaction(SIGINT, &ignore, &old_int);
	sigaction(SIGQUIT, &ignore, &old_quit);
	pid = fork();
	if (pid == 0) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGQUIT, &old_quit, NULL);
		execvp(argv[0], argv);
		fprintf(stderr, "workbook: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (pid < 0) {
		fprintf(stderr, "workbook: fork: %s\n", strerror(errno));
		rc = 1;
	} else {
		while ((rc = (int)waitpid(pid, &status, 0)) < 0 && errno == EINTR)
			;
		if (rc < 0)
			rc = 1;
		else if (WIFSIGNALED(status))
			rc = 128 + WTERMSIG(status);
		else
			rc = WEXITSTATUS(status);
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGQUIT, &old_quit, NULL);
	return rc;
}

static int cmd_list(void)
{
	for (int c = 0; c < nchapters; c++) {
		struct chapter *ch = &chapters[c];

		printf("%s  %s\n", ch->dir, ch->title);
		for (int d = 0; d < ch->ndemos; d++)
			printf("    demo      %-16s %s\n", ch->demos[d].name, ch->demos[d].what);
		for (int e = 0; e < ch->nexercises; e++)
			printf("    exercise  %-16s %-16s %s\n", ch->exercises[e].id,
			       exercise_state(ch->exercises[e].id), ch->exercises[e].title);
	}
	return 0;
}

static int cmd_hint(const char *id)
{
	struct chapter *ch;
	struct exercise *ex = find_exercise(id, &ch);

	if (!ex) {
		fprintf(stderr, "workbook: no exercise '%s' (see: workbook list)\n", id);
		return 2;
	}
	printf("%s: %s\n", ex->id, ex->title);
	printf("  edit:  exercises/%s/%s\n", ch->dir, ex->file);
	printf("  hint:  %s\n", ex->hint ? ex->hint : "(none)");
	printf("  read:  %s\n", ex->lesson ? ex->lesson : "the chapter README");
	printf("  check: make check EX=%s\n", ex->id);
	return 0;
}

static int cmd_check(const char *id)
{
	struct chapter *ch;
	char arg[128];
	char *argv[] = { "make", "--no-print-directory", "-C", (char *)root, "check", arg, NULL };

	if (!find_exercise(id, &ch)) {
		fprintf(stderr, "workbook: no exercise '%s' (see: workbook list)\n", id);
		return 2;
	}
	snprintf(arg, sizeof(arg), "EX=%s", id);
	return spawn(argv);
}

static int cmd_run(int argc, char **argv)
{
	struct chapter *ch = find_demo(argv[0]);
	char path[PATH_MAX];

	if (!ch) {
		fprintf(stderr, "workbook: no demo '%s' (see: workbook list)\n", argv[0]);
		return 2;
	}
	snprintf(path, sizeof(path), "%s/%s/sol/%s/%s", root, WB_BUILD, ch->dir, argv[0]);
	if (access(path, X_OK) != 0) {
		fprintf(stderr, "workbook: %s is not built yet: run make\n", path);
		return 1;
	}
	(void)argc;
	fflush(NULL);
	argv[0] = path;
	execv(path, argv);
	fprintf(stderr, "workbook: cannot run %s: %s\n", path, strerror(errno));
	return 1;
}

static int cmd_progress(void)
{
	int done = 0, total = 0;

	for (int c = 0; c < nchapters; c++)
		for (int e = 0; e < chapters[c].nexercises; e++) {
			struct exercise *ex = &chapters[c].exercises[e];
			const char *state = exercise_state(ex->id);

			printf("  %-18s %-16s %s\n", ex->id, state, ex->title);
			total++;
			done += strcmp(state, "done") == 0;
		}
	printf("%d of %d exercises done (states are from the last `make check`)\n",
	       done, total);
	return 0;
}

static int cmd_lesson(const char *which)
{
	char path[PATH_MAX];
	size_t len = strlen(which);

	for (int c = 0; c < nchapters; c++) {
		if (strncmp(chapters[c].dir, which, len) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/chapters/%s/README.md", root, chapters[c].dir);
		char *argv[] = { "cat", path, NULL };
		return spawn(argv);
	}
	fprintf(stderr, "workbook: no chapter '%s' (see: workbook list)\n", which);
	return 2;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: workbook                 the interactive menu (needs a terminal)\n"
		"       workbook list            chapters, demos and exercises\n"
		"       workbook lesson CHAPTER  print a chapter's lesson (e.g. 00)\n"
		"       workbook run DEMO [ARGS] run a demo (e.g. workbook run race_counter --help)\n"
		"       workbook check ID        check one exercise (e.g. 00-mutex)\n"
		"       workbook hint ID         what to do next on an exercise\n"
		"       workbook progress        which exercises are done\n");
}

/* ------------------------------------------------------------ the menu */

/* Read one line from stdin into @buf; false at end of input. */
static bool prompt(const char *question, char *buf, size_t size)
{
	printf("%s", question);
	fflush(stdout);
	if (!fgets(buf, (int)size, stdin))
		return false;
	buf[strcspn(buf, "\r\n")] = '\0';
	return true;
}

/* A choice like "d2": @letter and a number in 1..@max, or 0. */
static int pick(const char *in, char letter, int max)
{
	char *end;
	long n;

	if (in[0] != letter || in[1] < '1' || in[1] > '9')
		return 0;
	n = strtol(in + 1, &end, 10);
	return *end == '\0' && n >= 1 && n <= max ? (int)n : 0;
}

/* One chapter's page; returns false when the learner quits. */
static bool chapter_menu(struct chapter *ch)
{
	char in[256];
	int n;

	for (;;) {
		printf("\n%s - %s\n", ch->dir, ch->title);
		for (int i = 0; i < ch->nsummary; i++)
			printf("  %s\n", ch->summary[i]);
		printf("  Lesson: chapters/%s/README.md (l to read it here)\n", ch->dir);
		if (ch->ndemos)
			printf("Demos:\n");
		for (int d = 0; d < ch->ndemos; d++)
			printf("  d%d. %-16s %s\n", d + 1, ch->demos[d].name, ch->demos[d].what);
		if (ch->nexercises)
			printf("Exercises:\n");
		for (int e = 0; e < ch->nexercises; e++)
			printf("  e%d. %-16s [%s] %s\n", e + 1, ch->exercises[e].id,
			       exercise_state(ch->exercises[e].id), ch->exercises[e].title);
		if (!prompt("\nd<N> run a demo, e<N> check an exercise, h<N> its hint, "
			    "l lesson, b back, q quit: ", in, sizeof(in)))
			return false;
		if (strcmp(in, "q") == 0)
			return false;
		if (strcmp(in, "b") == 0)
			return true;
		if (strcmp(in, "l") == 0) {
			cmd_lesson(ch->dir);
		} else if ((n = pick(in, 'd', ch->ndemos)) != 0) {
			char path[PATH_MAX];
			char *argv[] = { path, NULL };

			snprintf(path, sizeof(path), "%s/%s/sol/%s/%s", root, WB_BUILD,
				 ch->dir, ch->demos[n - 1].name);
			printf("\n$ %s\n", path);
			spawn(argv);
		} else if ((n = pick(in, 'e', ch->nexercises)) != 0) {
			cmd_check(ch->exercises[n - 1].id);
		} else if ((n = pick(in, 'h', ch->nexercises)) != 0) {
			cmd_hint(ch->exercises[n - 1].id);
		} else if (in[0] != '\0') {
			printf("no such choice '%s'\n", in);
		}
	}
}

static int menu(void)
{
	char in[256];
	char *end;
	long n;

	for (;;) {
		printf("\nThe C Concurrency Workbook\n");
		for (int c = 0; c < nchapters; c++)
			printf("  %d. %-16s %s\n", c + 1, chapters[c].dir, chapters[c].title);
		printf("  p. progress\n  q. quit\n");
		if (!prompt("Select: ", in, sizeof(in)) || strcmp(in, "q") == 0)
			return 0;
		if (strcmp(in, "p") == 0) {
			cmd_progress();
			continue;
		}
		n = strtol(in, &end, 10);
		if (in[0] == '\0' || *end != '\0' || n < 1 || n > nchapters) {
			if (in[0] != '\0')
				printf("no such choice '%s': type a chapter number, p or q\n", in);
			continue;
		}
		if (!chapter_menu(&chapters[n - 1]))
			return 0;
	}
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	wb_init(argv[0]);
	root = getenv("WORKBOOK_ROOT");
	if (!root || !*root)
		root = WB_ROOT;
	load_chapters();

	if (!cmd) {
		if (isatty(STDIN_FILENO) && isatty(STDOUT_FILENO))
			return menu();
		printf("The C Concurrency Workbook (%d chapter%s)\n\n", nchapters, nchapters == 1 ? "" : "s");
		cmd_list();
		printf("\n");
		usage(stdout);
		printf("\nstdin is not a terminal, so no menu: use the commands above.\n");
		return 0;
	}
	if (strcmp(cmd, "list") == 0 && argc == 2)
		return cmd_list();
	if (strcmp(cmd, "progress") == 0 && argc == 2)
		return cmd_progress();
	if (strcmp(cmd, "hint") == 0 && argc == 3)
		return cmd_hint(argv[2]);
	if (strcmp(cmd, "check") == 0 && argc == 3)
		return cmd_check(argv[2]);
	if (strcmp(cmd, "lesson") == 0 && argc == 3)
		return cmd_lesson(argv[2]);
	if (strcmp(cmd, "run") == 0 && argc >= 3)
		return cmd_run(argc - 2, argv + 2);
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "workbook: unknown command or wrong arguments: '%s' (see: workbook help)\n",
		cmd);
	return 2;
}
