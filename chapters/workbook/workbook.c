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
#include <stdarg.h>
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
			.id = xstrdup(f[1]),
			.file = xstrdup(f[2]),
			.title = xstrdup(f[3]),
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
		return; /* a directory without a manifest is not a chapter */
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
		die_errno(errno, "cannot open %s (set WORKBOOK_ROOT to the workbook's directory)",
			  path);
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

/*
 * A mistake on the command line: one line on stderr, "workbook: what is
 * wrong (see: workbook @where)", and the status to exit with, 2.
 */
__attribute__((format(printf, 2, 3))) static int bad_input(const char *where, const char *fmt, ...)
{
	char after[32];
	va_list ap;

	snprintf(after, sizeof(after), " (see: workbook %s)", where);
	va_start(ap, fmt);
	wb_vreport(after, fmt, ap);
	va_end(ap);
	return 2;
}

enum kind { CHAPTER, DEMO, EXERCISE };
static const char *const kind_names[] = { "chapter", "demo", "exercise" };

/* The name of the @i-th @kind of @ch, or NULL when it has no more. */
static const char *name_in(const struct chapter *ch, enum kind kind, int i)
{
	switch (kind) {
	case CHAPTER:
		return i == 0 ? ch->dir : NULL;
	case DEMO:
		return i < ch->ndemos ? ch->demos[i].name : NULL;
	default:
		return i < ch->nexercises ? ch->exercises[i].id : NULL;
	}
}

/*
 * Find the chapter, demo or exercise that @name names: a whole name
 * ("00-gil", "race_counter", "00-mutex"), or the start of exactly one
 * ("00", "race", "00-m").  Returns its index in its chapter, which goes in
 * *@in.  An empty name, one that starts several, or one that names
 * nothing is bad input: that is said in one line, and the result is -1.
 */
static int lookup(enum kind kind, const char *name, struct chapter **in)
{
	size_t len = strlen(name);
	char starts[160] = "", shown[WB_SHOW_VALUE];
	int found = 0, index = -1;

	if (len == 0) {
		bad_input("list", "the %s name is empty", kind_names[kind]);
		return -1;
	}
	for (int c = 0; c < nchapters; c++) {
		const char *n;

		for (int i = 0; (n = name_in(&chapters[c], kind, i)) != NULL; i++) {
			if (strncmp(n, name, len) != 0)
				continue;
			if (n[len] == '\0') {
				*in = &chapters[c];
				return i; /* a whole name beats any abbreviation */
			}
			if (found++ == 0) {
				*in = &chapters[c];
				index = i;
			}
			snprintf(starts + strlen(starts), sizeof(starts) - strlen(starts), "%s%s",
				 starts[0] ? ", " : "", n);
		}
	}
	if (found == 1)
		return index;
	wb_show(shown, sizeof(shown), name);
	if (found == 0)
		bad_input("list", "no %s '%s'", kind_names[kind], shown);
	else
		bad_input("list", "%s '%s' is ambiguous: it starts %s", kind_names[kind], shown,
			  starts);
	return -1;
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
		fprintf(stderr, "%s: cannot run %s: %s\n", wb_progname(), argv[0], strerror(errno));
		_exit(127);
	}
	if (pid < 0) {
		fprintf(stderr, "%s: fork: %s\n", wb_progname(), strerror(errno));
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

/*
 * Each command gets its operands (the words after its name), already
 * counted against the command table in main's part of the file.
 */

static int cmd_list(char **args)
{
	(void)args;
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

static int cmd_hint(char **args)
{
	struct chapter *ch;
	int i = lookup(EXERCISE, args[0], &ch);
	struct exercise *ex;

	if (i < 0)
		return 2;
	ex = &ch->exercises[i];
	printf("%s: %s\n", ex->id, ex->title);
	printf("  edit:  exercises/%s/%s\n", ch->dir, ex->file);
	printf("  hint:  %s\n", ex->hint ? ex->hint : "(none)");
	printf("  read:  %s\n", ex->lesson ? ex->lesson : "the chapter README");
	printf("  check: make check EX=%s\n", ex->id);
	return 0;
}

static int cmd_check(char **args)
{
	struct chapter *ch;
	int i = lookup(EXERCISE, args[0], &ch);
	char arg[128];
	char *argv[] = { "make", "--no-print-directory", "-C", (char *)root, "check", arg, NULL };

	if (i < 0)
		return 2;
	snprintf(arg, sizeof(arg), "EX=%s", ch->exercises[i].id);
	return spawn(argv);
}

/* Replaces the workbook with the demo: its exit status is the demo's. */
static int cmd_run(char **args)
{
	struct chapter *ch;
	int i = lookup(DEMO, args[0], &ch);
	char path[PATH_MAX];

	if (i < 0)
		return 2;
	snprintf(path, sizeof(path), "%s/%s/sol/%s/%s", root, WB_BUILD, ch->dir, ch->demos[i].name);
	if (access(path, X_OK) != 0) {
		fprintf(stderr, "%s: %s is not built yet: run make\n", wb_progname(), path);
		return 1;
	}
	/* exec skips the check at exit: anything printed must be out now. */
	if (fflush(stdout) != 0 || ferror(stdout))
		return 1;
	args[0] = path;
	execv(path, args);
	fprintf(stderr, "%s: cannot run %s: %s\n", wb_progname(), path, strerror(errno));
	return 1;
}

static int cmd_progress(char **args)
{
	int done = 0, total = 0;

	(void)args;
	for (int c = 0; c < nchapters; c++)
		for (int e = 0; e < chapters[c].nexercises; e++) {
			struct exercise *ex = &chapters[c].exercises[e];
			const char *state = exercise_state(ex->id);

			printf("  %-18s %-16s %s\n", ex->id, state, ex->title);
			total++;
			done += strcmp(state, "done") == 0;
		}
	printf("%d of %d exercises done (states are from the last `make check`)\n", done, total);
	return 0;
}

/*
 * Print the chapter's README.  It is copied here rather than handed to
 * cat(1), so that a lesson that could not be written is reported the way
 * all lost output is (see check.h).
 */
static int cmd_lesson(char **args)
{
	struct chapter *ch;
	char path[PATH_MAX], buf[8192];
	size_t n;
	FILE *fp;

	if (lookup(CHAPTER, args[0], &ch) < 0)
		return 2;
	snprintf(path, sizeof(path), "%s/chapters/%s/README.md", root, ch->dir);
	fp = fopen(path, "r");
	if (!fp) {
		fprintf(stderr, "%s: cannot open %s: %s\n", wb_progname(), path, strerror(errno));
		return 1;
	}
	while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
		fwrite(buf, 1, n, stdout);
	if (ferror(fp)) {
		fprintf(stderr, "%s: cannot read %s\n", wb_progname(), path);
		fclose(fp);
		return 1;
	}
	fclose(fp);
	return 0;
}

static int cmd_help(char **args);

/*
 * The subcommands, and how many operands each takes: every check of the
 * command line is made here, against this table, before a command runs.
 */
static const struct command {
	const char *name, *operands, *what;
	int min, max; /* operands; -1: no limit */
	int (*run)(char **args);
} commands[] = {
	{ "list", "", "chapters, demos and exercises", 0, 0, cmd_list },
	{ "lesson", "CHAPTER", "print a chapter's lesson (e.g. 00)", 1, 1, cmd_lesson },
	{ "run", "DEMO [ARGS]", "run a demo (e.g. workbook run race_counter --help)", 1, -1,
	  cmd_run },
	{ "check", "ID", "check one exercise (e.g. 00-mutex)", 1, 1, cmd_check },
	{ "hint", "ID", "what to do next on an exercise", 1, 1, cmd_hint },
	{ "progress", "", "which exercises are done", 0, 0, cmd_progress },
	{ "help", "", "this text", 0, 0, cmd_help },
};
#define NCOMMANDS (int)(sizeof(commands) / sizeof(commands[0]))

static void usage(void)
{
	char form[32];

	printf("usage: workbook                 the interactive menu (needs a terminal)\n");
	for (int i = 0; i < NCOMMANDS; i++) {
		snprintf(form, sizeof(form), "%s %s", commands[i].name, commands[i].operands);
		printf("       workbook %-15s %s\n", form, commands[i].what);
	}
	printf("A CHAPTER, DEMO or ID may be shortened to its start, if only one\n"
	       "name starts that way (lesson 01, run race): see workbook list.\n");
}

static int cmd_help(char **args)
{
	(void)args;
	usage();
	return 0;
}

/* Run the command @argv[0] with the operands after it; returns the status. */
static int dispatch(int argc, char **argv)
{
	const char *name = argv[0];
	const struct command *cmd = NULL;
	char shown[WB_SHOW_VALUE];
	int n = argc - 1;

	if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0)
		name = "help";
	for (int i = 0; i < NCOMMANDS && !cmd; i++)
		if (strcmp(name, commands[i].name) == 0)
			cmd = &commands[i];
	if (!cmd)
		return bad_input("help", "unknown command '%s'",
				 wb_show(shown, sizeof(shown), argv[0]));
	if (cmd->max == 0 && n > 0)
		return bad_input("help", "%s takes no arguments, and '%s' is one", cmd->name,
				 wb_show(shown, sizeof(shown), argv[1]));
	if (n < cmd->min || (cmd->max >= 0 && n > cmd->max))
		return bad_input("help", "wrong arguments for %s: use workbook %s %s", cmd->name,
				 cmd->name, cmd->operands);
	return cmd->run(argv + 1);
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
	char in[256], shown[WB_SHOW_VALUE];
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
			    "l lesson, b back, q quit: ",
			    in, sizeof(in)))
			return false;
		if (strcmp(in, "q") == 0)
			return false;
		if (strcmp(in, "b") == 0)
			return true;
		if (strcmp(in, "l") == 0) {
			char *args[] = { ch->dir, NULL };

			cmd_lesson(args);
		} else if ((n = pick(in, 'd', ch->ndemos)) != 0) {
			char path[PATH_MAX];
			char *argv[] = { path, NULL };

			snprintf(path, sizeof(path), "%s/%s/sol/%s/%s", root, WB_BUILD, ch->dir,
				 ch->demos[n - 1].name);
			printf("\n$ %s\n", path);
			spawn(argv);
		} else if ((n = pick(in, 'e', ch->nexercises)) != 0) {
			char *args[] = { ch->exercises[n - 1].id, NULL };

			cmd_check(args);
		} else if ((n = pick(in, 'h', ch->nexercises)) != 0) {
			char *args[] = { ch->exercises[n - 1].id, NULL };

			cmd_hint(args);
		} else if (in[0] != '\0') {
			printf("no such choice '%s'\n", wb_show(shown, sizeof(shown), in));
		}
	}
}

static int menu(void)
{
	char in[256], shown[WB_SHOW_VALUE];
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
			cmd_progress(NULL);
			continue;
		}
		n = strtol(in, &end, 10);
		if (in[0] == '\0' || *end != '\0' || n < 1 || n > nchapters) {
			if (in[0] != '\0')
				printf("no such choice '%s': type a chapter number, p or q\n",
				       wb_show(shown, sizeof(shown), in));
			continue;
		}
		if (!chapter_menu(&chapters[n - 1]))
			return 0;
	}
}

int main(int argc, char **argv)
{
	wb_init(argv[0]);
	root = getenv("WORKBOOK_ROOT");
	if (!root || !*root)
		root = WB_ROOT;
	load_chapters();

	if (argc > 1)
		return dispatch(argc - 1, argv + 1);
	if (isatty(STDIN_FILENO) && isatty(STDOUT_FILENO))
		return menu();
	printf("The C Concurrency Workbook (%d chapter%s)\n\n", nchapters,
	       nchapters == 1 ? "" : "s");
	cmd_list(NULL);
	printf("\n");
	usage();
	printf("\nstdin is not a terminal, so no menu: use the commands above.\n");
	return 0;
}
