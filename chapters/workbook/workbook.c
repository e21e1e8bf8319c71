/*
 * workbook - the workbook's front door: chapters, demos, exercises, hints,
 * and the learner's loop around them (watch, reset, demos on their build).
 *
 * With a terminal it is an interactive menu; without one (a pipe, CI) it
 * prints the chapter list and how to use it, and exits, because it must
 * never wait for input that cannot come.  Scripts use the subcommands.
 *
 * Everything it knows comes from the chapter manifests
 * (chapters/NN-name/CHAPTER), so it grows as chapters are added.  What it
 * remembers about the learner lives in build/progress/: ID holds the state
 * the last check left ("done", "to do", "does not compile"), ID.hint the
 * last hint level shown.
 *
 * The workbook is one program, not a library: the manifests it loaded and
 * the terminal it borrows are its own, kept in a few file-level variables.
 */
#define _GNU_SOURCE /* pipe2() */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "check.h"

#ifndef WB_ROOT
#define WB_ROOT "."
#endif
#ifndef WB_BUILD
#define WB_BUILD "build"
#endif

#define MAX_ITEMS 32
#define MAX_HINTS 3

struct chapter;

struct demo {
	char *name, *what;
};

struct exercise {
	char *id, *file, *title, *lesson;
	char *hints[MAX_HINTS]; /* a nudge, the concept, a near-solution */
	int nhints;
	struct chapter *ch;
};

struct chapter {
	char *dir, *title;
	char *runner; /* e.g. "mpirun -n 4 --oversubscribe", put before each demo */
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
			.ch = ch,
		};
	} else if (n >= 3 && strcmp(f[0], "hint") == 0 &&
		   (ex = find_exercise_in(ch, f[1])) != NULL && ex->nhints < MAX_HINTS) {
		ex->hints[ex->nhints++] = xstrdup(f[2]);
	} else if (n >= 3 && strcmp(f[0], "lesson") == 0 &&
		   (ex = find_exercise_in(ch, f[1])) != NULL) {
		free(ex->lesson);
		ex->lesson = xstrdup(f[2]);
	} else if (n >= 2 && strcmp(f[0], "runner") == 0) {
		free(ch->runner);
		ch->runner = xstrdup(f[1]);
	} else if (n >= 2 && (strcmp(f[0], "uses") == 0 || strcmp(f[0], "pkg") == 0 ||
			      strcmp(f[0], "cflags") == 0)) {
		/* What the chapter is built with: the Makefile's business. */
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

static struct exercise *lookup_exercise(const char *name)
{
	struct chapter *ch;
	int i = lookup(EXERCISE, name, &ch);

	return i < 0 ? NULL : &ch->exercises[i];
}

/* ------------------------------------------------------------ progress */

/* build/progress/ID@suffix, where the learner's state is kept. */
static void progress_path(char *buf, size_t size, const struct exercise *ex, const char *suffix)
{
	snprintf(buf, size, "%s/build/progress/%s%s", root, ex->id, suffix);
}

/*
 * The state the last check left: "done", "to do", "does not compile", or
 * "not checked yet".  It is copied into @buf, which is returned.
 */
static const char *exercise_state(const struct exercise *ex, char *buf, size_t size)
{
	char path[PATH_MAX];
	FILE *fp;

	progress_path(path, sizeof(path), ex, "");
	fp = fopen(path, "r");
	if (!fp || !fgets(buf, (int)size, fp))
		buf[0] = '\0';
	if (fp)
		fclose(fp);
	buf[strcspn(buf, "\n")] = '\0';
	if (!buf[0])
		snprintf(buf, size, "not checked yet");
	return buf;
}

static bool is_done(const struct exercise *ex)
{
	char state[32];

	return strcmp(exercise_state(ex, state, sizeof(state)), "done") == 0;
}

/* Every exercise in the workbook's order: @i counts from 0; NULL past the end. */
static struct exercise *nth_exercise(int i)
{
	for (int c = 0; c < nchapters; c++) {
		if (i < chapters[c].nexercises)
			return &chapters[c].exercises[i];
		i -= chapters[c].nexercises;
	}
	return NULL;
}

/*
 * The first exercise not done after @after (from the start when @after is
 * NULL), going round to the first ones; NULL when every one is done.
 */
static struct exercise *next_not_done(const struct exercise *after)
{
	struct exercise *ex;
	int start = 0, total = 0;

	while ((ex = nth_exercise(total)) != NULL) {
		if (ex == after)
			start = total + 1;
		total++;
	}
	for (int k = 0; k < total; k++) {
		ex = nth_exercise((start + k) % total);
		if (ex != after && !is_done(ex))
			return ex;
	}
	return NULL;
}

/* "[████░░░░] 2 of 4 exercises done", without a newline. */
static void print_bar(int done, int total, int width)
{
	int full = total ? done * width / total : 0;

	printf("[");
	for (int i = 0; i < width; i++)
		printf("%s", i < full ? "█" : "░");
	printf("] %d of %d exercises done", done, total);
}

static void count_done(const struct chapter *only, int *done, int *total)
{
	struct exercise *ex;

	*done = *total = 0;
	for (int i = 0; (ex = nth_exercise(i)) != NULL; i++) {
		if (only && ex->ch != only)
			continue;
		++*total;
		*done += is_done(ex);
	}
}

/* Write @text to build/progress/ID@suffix, making the directory. */
static int save_progress(const struct exercise *ex, const char *suffix, const char *text)
{
	char path[PATH_MAX];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/build", root);
	if (mkdir(path, 0777) < 0 && errno != EEXIST)
		goto fail;
	snprintf(path, sizeof(path), "%s/build/progress", root);
	if (mkdir(path, 0777) < 0 && errno != EEXIST)
		goto fail;
	progress_path(path, sizeof(path), ex, suffix);
	fp = fopen(path, "w");
	if (!fp)
		goto fail;
	fputs(text, fp);
	if (fclose(fp) != 0)
		goto fail;
	return 0;
fail:
	fprintf(stderr, "%s: cannot write %s: %s\n", wb_progname(), path, strerror(errno));
	return -1;
}

/* Forget ID's state and hint level: it starts again, not checked. */
static int forget_progress(const struct exercise *ex)
{
	static const char *const suffixes[] = { "", ".hint" };
	char path[PATH_MAX];

	for (int i = 0; i < 2; i++) {
		progress_path(path, sizeof(path), ex, suffixes[i]);
		if (unlink(path) < 0 && errno != ENOENT) {
			fprintf(stderr, "%s: cannot remove %s: %s\n", wb_progname(), path,
				strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* ------------------------------------------------------------ the terminal */

/*
 * watch reads single keys: the terminal goes non-canonical and silent while
 * it runs, and must come back as it was on every way out (a return, exit(),
 * a signal, a stopped job).  The saved settings are file-level because the
 * exit handler and the signal path need them and receive no pointer.
 */
static struct termios tty_saved;
static bool tty_is_raw;

static void tty_restore(void)
{
	if (!tty_is_raw)
		return;
	tcsetattr(STDIN_FILENO, TCSANOW, &tty_saved);
	tty_is_raw = false;
}

/* Keys one at a time, not echoed; Ctrl-C and Ctrl-Z still send signals. */
static int tty_raw(void)
{
	static bool registered;
	struct termios raw;

	if (tty_is_raw)
		return 0;
	if (tcgetattr(STDIN_FILENO, &tty_saved) < 0)
		return -errno;
	if (!registered && atexit(tty_restore) == 0)
		registered = true;
	raw = tty_saved;
	raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) < 0)
		return -errno;
	tty_is_raw = true;
	return 0;
}

/* One key from the terminal; -1 at end of input or on an error. */
static int read_key(void)
{
	bool was_raw = tty_is_raw;
	unsigned char c;
	ssize_t n;

	fflush(stdout);
	if (isatty(STDIN_FILENO))
		tty_raw();
	n = read(STDIN_FILENO, &c, 1);
	if (!was_raw)
		tty_restore();
	return n == 1 ? c : -1;
}

/*
 * Wait for Enter after output that must not scroll away: a line in the
 * menu, whose terminal is line by line, a key while watch has it key by key.
 */
static void press_enter(const char *to)
{
	char line[256];
	int c;

	printf("\npress Enter to %s ", to);
	fflush(stdout);
	if (!tty_is_raw) {
		if (!fgets(line, sizeof(line), stdin))
			printf("\n");
		return;
	}
	while ((c = read_key()) != -1 && c != '\n' && c != '\r' && c != 'q')
		;
	printf("\n");
}

static int term_rows(void)
{
	struct winsize ws;
	const char *lines = getenv("LINES");

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 2)
		return ws.ws_row;
	if (lines && atoi(lines) > 2)
		return atoi(lines);
	return 24;
}

/* ------------------------------------------------------------ signals */

/*
 * While watch runs, SIGINT, SIGTERM and SIGHUP end it, and SIGTSTP stops
 * it, each cleanly.  A handler can only set a flag; it also writes a byte
 * to a pipe so that a poll() already asleep wakes up to look at the flags.
 */
static volatile sig_atomic_t sig_quit, sig_stop, sig_cont;
static int sig_pipe[2] = { -1, -1 };
static const int watched_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGTSTP, SIGCONT };
#define NWATCHED (int)(sizeof(watched_signals) / sizeof(watched_signals[0]))

static void on_signal(int sig)
{
	int saved = errno;

	if (sig == SIGTSTP)
		sig_stop = 1;
	else if (sig == SIGCONT)
		sig_cont = 1;
	else
		sig_quit = sig;
	if (write(sig_pipe[1], "", 1) < 0) {
		/* The pipe is full: a wake-up is pending anyway. */
	}
	errno = saved;
}

static int signals_catch(struct sigaction old[NWATCHED])
{
	struct sigaction sa = { .sa_handler = on_signal };

	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	sig_quit = sig_stop = sig_cont = 0;
	sigemptyset(&sa.sa_mask);
	for (int i = 0; i < NWATCHED; i++)
		sigaction(watched_signals[i], &sa, &old[i]);
	return 0;
}

static void signals_release(const struct sigaction old[NWATCHED])
{
	for (int i = 0; i < NWATCHED; i++)
		sigaction(watched_signals[i], &old[i], NULL);
	close(sig_pipe[0]);
	close(sig_pipe[1]);
	sig_pipe[0] = sig_pipe[1] = -1;
}

/*
 * Ctrl-Z: give the terminal back as it was, stop as the shell expects, and
 * take it again when the job continues.  Called from the main flow, never
 * from the handler, so it may do anything.
 */
static void suspend_self(void)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL }, mine;

	sig_stop = 0;
	tty_restore();
	fflush(stdout);
	sigemptyset(&dfl.sa_mask);
	sigaction(SIGTSTP, &dfl, &mine);
	raise(SIGTSTP); /* stopped here until SIGCONT */
	sigaction(SIGTSTP, &mine, NULL);
	sig_cont = 0;
	tty_raw();
}

/* ------------------------------------------------------------ children */

enum {
	SPAWN_IGNORE_INT = 1,  /* Ctrl-C stops the child, and only the child */
	SPAWN_NULL_STDIN = 2,  /* the child cannot eat the learner's keys */
	SPAWN_BRIEF = 4,       /* WB_BRIEF=1: a check's short report */
	SPAWN_NULL_STDOUT = 8, /* make's progress lines are not the learner's */
};

/*
 * Start @argv as a child in the workbook's directory (@in_root) or here,
 * its stdin @in and stdout @out where those are not -1.  Returns its pid,
 * or -1 after saying why.
 */
static pid_t start_child(char *const argv[], int flags, bool in_root, int in, int out)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "%s: fork: %s\n", wb_progname(), strerror(errno));
		return -1;
	}
	if (pid > 0)
		return pid;
	if (flags & SPAWN_IGNORE_INT) {
		signal(SIGINT, SIG_DFL);
		signal(SIGQUIT, SIG_DFL);
	}
	if (flags & SPAWN_NULL_STDIN)
		in = open("/dev/null", O_RDONLY);
	if (flags & SPAWN_NULL_STDOUT)
		out = open("/dev/null", O_WRONLY);
	if ((in >= 0 && dup2(in, STDIN_FILENO) < 0) || (out >= 0 && dup2(out, STDOUT_FILENO) < 0) ||
	    (in_root && chdir(root) < 0) || ((flags & SPAWN_BRIEF) && setenv("WB_BRIEF", "1", 1))) {
		fprintf(stderr, "%s: cannot start %s: %s\n", wb_progname(), argv[0],
			strerror(errno));
		_exit(127);
	}
	execvp(argv[0], argv);
	fprintf(stderr, "%s: cannot run %s: %s\n", wb_progname(), argv[0], strerror(errno));
	_exit(127);
}

/*
 * Wait for @pid; returns its exit status (128 + N if signal N ended it).
 * A quit signal for watch is passed on to the child, which is then waited
 * for; a Ctrl-Z stops the workbook with it.
 */
static int wait_child(pid_t pid)
{
	bool passed_on = false;
	int status;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "%s: waitpid: %s\n", wb_progname(), strerror(errno));
			return 1;
		}
		if (sig_quit && !passed_on) {
			kill(pid, SIGTERM);
			passed_on = true;
		}
		if (sig_stop)
			suspend_self();
	}
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

/*
 * Build the command line for demo @path with @args after it: the chapter's
 * runner (split at spaces) first, if it has one.  Open MPI's mpirun refuses
 * to run as root unless told it may, so a root learner (a container) gets
 * the two variables that say so.  Returns a malloc'd argv that borrows its
 * strings from @words (also malloc'd, freed by the caller) and @args.
 */
static char **runner_argv(const struct chapter *ch, char *path, char **args, char **words)
{
	size_t nargs = 0, n = 0;
	char **argv, *save = NULL;

	while (args && args[nargs])
		nargs++;
	*words = ch->runner ? xstrdup(ch->runner) : NULL;
	argv = malloc((strlen(*words ? *words : "") / 2 + 3 + nargs) * sizeof(*argv));
	if (!argv) {
		fprintf(stderr, "%s: out of memory\n", wb_progname());
		exit(1);
	}
	if (*words) {
		for (char *w = strtok_r(*words, " ", &save); w; w = strtok_r(NULL, " ", &save))
			argv[n++] = w;
		if (geteuid() == 0) {
			setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
			setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
		}
	}
	argv[n++] = path;
	for (size_t i = 0; i < nargs; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	return argv;
}

/* Run @argv and wait for it; returns its exit status. */
static int spawn(char *const argv[], int flags)
{
	struct sigaction ignore = { .sa_handler = SIG_IGN }, old_int, old_quit;
	pid_t pid;
	int rc;

	/*
	 * Like system(3), ignore Ctrl-C while a demo runs, so that it stops
	 * the demo and brings the workbook back instead of ending both.
	 * The child takes the default back.
	 */
	if (flags & SPAWN_IGNORE_INT) {
		sigemptyset(&ignore.sa_mask);
		sigaction(SIGINT, &ignore, &old_int);
		sigaction(SIGQUIT, &ignore, &old_quit);
	}
	pid = start_child(argv, flags, false, -1, -1);
	rc = pid < 0 ? 1 : wait_child(pid);
	if (flags & SPAWN_IGNORE_INT) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGQUIT, &old_quit, NULL);
	}
	return rc;
}

/* The SAN= this workbook was built for, so that make builds the same. */
static const char *san_arg(void)
{
	const char *san = strstr(WB_BUILD, "san-");

	return san && strcmp(san, "san-thread") == 0	? "SAN=thread"
	       : san && strcmp(san, "san-address") == 0 ? "SAN=address"
							: "SAN=";
}

/*
 * make TARGET in the workbook's directory, quietly: its progress lines
 * (stdout) go, its errors (stderr) reach the learner.
 */
static int make_quietly(const char *target)
{
	char *argv[] = { "make",	 "-s",	       "--no-print-directory",
			 "-C",		 (char *)root, (char *)san_arg(),
			 (char *)target, NULL };

	return spawn(argv, SPAWN_NULL_STDIN | SPAWN_NULL_STDOUT);
}

/* ------------------------------------------------------------ the pager */

/* snprintf() for a path: 0, or -ENAMETOOLONG if it does not fit. */
__attribute__((format(printf, 3, 4))) static int path_fmt(char *buf, size_t size, const char *fmt,
							  ...)
{
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return len < 0 || (size_t)len >= size ? -ENAMETOOLONG : 0;
}

/* $PAGER, else less -R where less is installed, else NULL: page here. */
static const char *pager_command(void)
{
	const char *pager = getenv("PAGER"), *path = getenv("PATH");
	char dir[PATH_MAX], exe[PATH_MAX];

	if (pager && *pager)
		return pager;
	while (path && *path) {
		size_t len = strcspn(path, ":");

		snprintf(dir, sizeof(dir), "%.*s", (int)len, path);
		if (path_fmt(exe, sizeof(exe), "%s/less", dir[0] ? dir : ".") == 0 &&
		    access(exe, X_OK) == 0)
			return "less -R";
		path += len + (path[len] == ':');
	}
	return NULL;
}

/* Page @in by screen: the last line of the terminal asks "--more--". */
static void page_here(FILE *in)
{
	int rows = term_rows() - 1, shown = 0, c;
	char line[4096];

	while (fgets(line, sizeof(line), in)) {
		fputs(line, stdout);
		if (!strchr(line, '\n'))
			continue; /* the rest of a long line, not a new one */
		if (++shown < rows)
			continue;
		printf("--more-- Enter/q");
		c = read_key();
		printf("\r\033[K");
		if (c == 'q' || c == -1)
			return;
		shown = 0;
	}
}

/*
 * Show what @fd holds through the pager, and close it.  The pager is run
 * the way git runs one: $PAGER is a shell command line.
 */
static int page_fd(int fd)
{
	const char *pager = pager_command();
	bool was_raw = tty_is_raw;
	int rc = 0;

	tty_restore();
	if (pager) {
		char *argv[] = { "sh", "-c", (char *)pager, NULL };
		pid_t pid = start_child(argv, 0, false, fd, -1);

		close(fd);
		rc = pid < 0 ? 1 : wait_child(pid);
	} else {
		FILE *in = fdopen(fd, "r");

		if (!in) {
			close(fd);
			return 1;
		}
		page_here(in);
		fclose(in);
	}
	if (was_raw)
		tty_raw();
	return rc;
}

/* The pager on a file of the workbook, e.g. a lesson. */
static int page_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "%s: cannot open %s: %s\n", wb_progname(), path, strerror(errno));
		return 1;
	}
	return page_fd(fd);
}

/*
 * The pager on what @argv prints (run in the workbook's directory);
 * returns @argv's exit status.
 */
static int page_output(char *const argv[])
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0) {
		fprintf(stderr, "%s: pipe: %s\n", wb_progname(), strerror(errno));
		return 1;
	}
	pid = start_child(argv, SPAWN_NULL_STDIN, true, -1, p[1]);
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return 1;
	}
	page_fd(p[0]);
	/* A pager that quits early leaves the writer a SIGPIPE. */
	return wait_child(pid);
}

/* ------------------------------------------------------------ commands */

/*
 * Each command gets its operands (the words after its name), already
 * counted against the command table in main's part of the file.
 */

static int cmd_list(char **args)
{
	char state[32];

	(void)args;
	for (int c = 0; c < nchapters; c++) {
		struct chapter *ch = &chapters[c];

		printf("%s  %s\n", ch->dir, ch->title);
		for (int d = 0; d < ch->ndemos; d++)
			printf("    demo      %-16s %s\n", ch->demos[d].name, ch->demos[d].what);
		for (int e = 0; e < ch->nexercises; e++)
			printf("    exercise  %-16s %-16s %s\n", ch->exercises[e].id,
			       exercise_state(&ch->exercises[e], state, sizeof(state)),
			       ch->exercises[e].title);
	}
	return 0;
}

/* The last hint level shown for @ex: 0 for none. */
static int hint_level(const struct exercise *ex)
{
	char path[PATH_MAX];
	int level = 0;
	FILE *fp;

	progress_path(path, sizeof(path), ex, ".hint");
	fp = fopen(path, "r");
	if (fp) {
		if (fscanf(fp, "%d", &level) != 1 || level < 0)
			level = 0;
		fclose(fp);
	}
	return level;
}

/*
 * The next hint level (or every level, @all), with where to read and what
 * to edit.  Each call goes one level further, up to the last, which is
 * then repeated with where the solution is.
 */
static int show_hint(const struct exercise *ex, bool all)
{
	int level = hint_level(ex) + 1;
	char text[16];

	if (level > ex->nhints)
		level = ex->nhints;
	printf("%s: %s\n", ex->id, ex->title);
	if (ex->nhints == 0)
		printf("  hint:  (none yet)\n");
	for (int i = all ? 1 : level; i >= 1 && i <= (all ? ex->nhints : level); i++)
		printf("  hint %d of %d: %s\n", i, ex->nhints, ex->hints[i - 1]);
	printf("  read:  %s\n", ex->lesson ? ex->lesson : "the chapter README");
	printf("  edit:  exercises/%s/%s (the TODO(%s) parts)\n", ex->ch->dir, ex->file, ex->id);
	printf("  check: workbook watch %s, or make check EX=%s\n", ex->id, ex->id);
	if (ex->nhints && (all || level == ex->nhints))
		printf("  That was the last hint.  The solution is solutions/%s/%s; in workbook "
		       "watch, s shows it as a diff against your file once yours passes.\n",
		       ex->ch->dir, ex->file);
	if (all || level < 1)
		return 0;
	snprintf(text, sizeof(text), "%d\n", level);
	return save_progress(ex, ".hint", text) < 0;
}

static int cmd_hint(char **args)
{
	bool all = args[1] != NULL;
	struct exercise *ex;

	if (all && strcmp(args[1], "--all") != 0)
		return bad_input("help", "wrong arguments for hint: use workbook hint ID [--all]");
	ex = lookup_exercise(args[0]);
	return ex ? show_hint(ex, all) : 2;
}

static int cmd_check(char **args)
{
	struct exercise *ex = lookup_exercise(args[0]);
	char arg[128];
	char *argv[] = { "make", "--no-print-directory", "-C", (char *)root, "check", arg, NULL };

	if (!ex)
		return 2;
	snprintf(arg, sizeof(arg), "EX=%s", ex->id);
	return spawn(argv, SPAWN_IGNORE_INT);
}

/*
 * Get demo @d of @ch ready to run, from the reference build or the
 * learner's (@mine, built here first), into @path; then say which build
 * it is, as the first line of output.  Returns 0, or the status to exit
 * with.
 */
static int prepare_demo(const struct chapter *ch, int d, bool mine, char *path, size_t size)
{
	const char *name = ch->demos[d].name;
	char target[PATH_MAX];

	snprintf(path, size, "%s/%s/%s/%s/%s", root, WB_BUILD, mine ? "mine" : "sol", ch->dir,
		 name);
	if (mine) {
		snprintf(target, sizeof(target), "mine-%s", ch->dir);
		if (make_quietly(target) != 0) {
			fprintf(stderr,
				"%s: your build of %s failed: the compiler says why above\n",
				wb_progname(), ch->dir);
			return 1;
		}
	}
	if (access(path, X_OK) != 0) {
		fprintf(stderr, "%s: %s is not built yet: run make\n", wb_progname(), path);
		return 1;
	}
	if (!mine) {
		printf("── %s, reference build (solutions/) ──\n", name);
		return 0;
	}
	printf("── %s, your build (exercises/%s:", name, ch->dir);
	for (int e = 0; e < ch->nexercises; e++)
		printf(" %s", ch->exercises[e].file);
	printf(") ──\n");
	for (int e = 0; e < ch->nexercises; e++)
		if (!is_done(&ch->exercises[e]))
			printf("%s is not done yet: this demo may fail; Ctrl-C stops it\n",
			       ch->exercises[e].id);
	return 0;
}

/* Run demo @d of @ch with no arguments, and wait for it (the menu, watch). */
static int run_demo(const struct chapter *ch, int d, bool mine)
{
	char path[PATH_MAX], **argv, *words;
	int rc = prepare_demo(ch, d, mine, path, sizeof(path));

	if (rc)
		return rc;
	argv = runner_argv(ch, path, NULL, &words);
	rc = spawn(argv, SPAWN_IGNORE_INT);
	free(argv);
	free(words);
	return rc;
}

/* Replaces the workbook with the demo: its exit status is the demo's. */
static int cmd_run(char **args)
{
	struct chapter *ch;
	int i = lookup(DEMO, args[0], &ch), rc;
	bool mine = args[1] && strcmp(args[1], "--mine") == 0;
	char path[PATH_MAX], **argv, *words;

	if (i < 0)
		return 2;
	rc = prepare_demo(ch, i, mine, path, sizeof(path));
	if (rc)
		return rc;
	/* exec skips the check at exit: anything printed must be out now. */
	if (fflush(stdout) != 0 || ferror(stdout))
		return 1;
	args += mine;
	argv = runner_argv(ch, path, args + 1, &words);
	execvp(argv[0], argv);
	fprintf(stderr, "%s: cannot run %s: %s\n", wb_progname(), argv[0], strerror(errno));
	free(argv);
	free(words);
	return 1;
}

static int cmd_progress(char **args)
{
	struct exercise *ex;
	char state[32];
	int done, total;

	(void)args;
	for (int i = 0; (ex = nth_exercise(i)) != NULL; i++)
		printf("  %-18s %-16s %s\n", ex->id, exercise_state(ex, state, sizeof(state)),
		       ex->title);
	printf("(each state is from the last check: workbook watch, or make check)\n");
	count_done(NULL, &done, &total);
	print_bar(done, total, 20);
	printf("\n");
	return 0;
}

/* Copy the file at @path to stdout; 0, or 1 with one line on stderr. */
static int print_file(const char *path)
{
	char buf[8192];
	size_t n;
	FILE *fp = fopen(path, "r");

	if (!fp) {
		fprintf(stderr, "%s: cannot open %s: %s\n", wb_progname(), path, strerror(errno));
		return 1;
	}
	while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
		fwrite(buf, 1, n, stdout);
	n = ferror(fp);
	fclose(fp);
	if (n)
		fprintf(stderr, "%s: cannot read %s\n", wb_progname(), path);
	return n ? 1 : 0;
}

/*
 * Run the decision matrix (`PROG --quick` under timeout(1)) into
 * build/matrix.txt: written to a temporary name first, so that a run that
 * fails or is cut off never replaces the last good table.
 */
static int run_matrix(const char *matrix)
{
	char prog[PATH_MAX], tmp[PATH_MAX];
	const char *env = getenv("WB_MATRIX_PROG");
	int fd, status;
	pid_t pid;

	if (env && *env) {
		snprintf(prog, sizeof(prog), "%s", env);
	} else {
		snprintf(prog, sizeof(prog), "%s/build/mine/04-choosing/decision_matrix", root);
		if (access(prog, X_OK) != 0) {
			snprintf(prog, sizeof(prog), "%s/build/sol/04-choosing/decision_matrix",
				 root);
			printf("(your build has no decision_matrix: the reference build's is run)\n");
		}
	}
	printf("measuring: %s --quick (about a minute)...\n", prog);
	fflush(stdout);
	snprintf(tmp, sizeof(tmp), "%s/build/matrix.txt.tmp", root);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
	if (fd < 0) {
		fprintf(stderr, "%s: cannot write %s: %s\n", wb_progname(), tmp, strerror(errno));
		return 1;
	}
	pid = fork();
	if (pid == 0) {
		if (dup2(fd, STDOUT_FILENO) < 0)
			_exit(127);
		execlp("timeout", "timeout", "-k", "5", "300", prog, "--quick", (char *)NULL);
		fprintf(stderr, "%s: cannot run timeout: %s\n", wb_progname(), strerror(errno));
		_exit(127);
	}
	close(fd);
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "%s: %s --quick failed; the last table is kept\n", wb_progname(),
			prog);
		unlink(tmp);
		return 1;
	}
	if (rename(tmp, matrix) < 0) {
		fprintf(stderr, "%s: cannot write %s: %s\n", wb_progname(), matrix,
			strerror(errno));
		unlink(tmp);
		return 1;
	}
	return 0;
}

/*
 * The final page: once every exercise is done, the learner's own measured
 * decision matrix, kept at build/matrix.txt so it is shown again without
 * re-measuring (--rerun measures again).  Before then, what is left.
 */
static int cmd_final(char **args)
{
	struct exercise *ex;
	char matrix[PATH_MAX], state[32];
	int done, total;

	if (args[0] && strcmp(args[0], "--rerun") != 0)
		return bad_input("help", "unknown option '%s' (only --rerun)", args[0]);
	count_done(NULL, &done, &total);
	if (done < total) {
		printf("The final page opens once every exercise is done. Left:\n");
		for (int i = 0; (ex = nth_exercise(i)) != NULL; i++)
			if (!is_done(ex))
				printf("  %-18s %-16s %s\n", ex->id,
				       exercise_state(ex, state, sizeof(state)), ex->title);
		return 1;
	}
	snprintf(matrix, sizeof(matrix), "%s/build/matrix.txt", root);
	if ((args[0] || access(matrix, R_OK) != 0) && run_matrix(matrix) != 0)
		return 1;
	printf("Every exercise done. Your decision matrix, measured on this machine:\n\n");
	if (print_file(matrix) != 0)
		return 1;
	printf("\n(kept in build/matrix.txt; workbook final --rerun measures again)\n");
	return 0;
}

/*
 * Show the chapter's README: through the pager on a terminal, else copied
 * to stdout (not handed to cat(1), so that a lesson that could not be
 * written is reported the way all lost output is; see check.h).
 */
static int show_lesson(const struct chapter *ch)
{
	char path[PATH_MAX], buf[8192];
	size_t n;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/chapters/%s/README.md", root, ch->dir);
	if (access(path, F_OK) != 0 && errno == ENOENT) {
		/* A chapter being written has its manifest before its lesson. */
		printf("Chapter %s has no lesson yet (no %s).\n", ch->dir, path);
		return 0;
	}
	if (isatty(STDOUT_FILENO))
		return page_file(path);
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

static int cmd_lesson(char **args)
{
	struct chapter *ch;

	if (lookup(CHAPTER, args[0], &ch) < 0)
		return 2;
	return show_lesson(ch);
}

/* ------------------------------------------------------------ reset */

/* Copy the file @from into @to_fd; 0 or a negative errno. */
static int copy_into(const char *from, int to_fd)
{
	char buf[8192];
	ssize_t n;
	int fd = open(from, O_RDONLY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return -errno;
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			break;
		}
		for (char *p = buf; n > 0;) {
			ssize_t w = write(to_fd, p, (size_t)n);

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				err = -errno;
				goto out_close;
			}
			p += w;
			n -= w;
		}
	}
out_close:
	close(fd);
	return err;
}

/* Do the files @a and @b hold the same bytes?  A missing one never does. */
static bool same_contents(const char *a, const char *b)
{
	FILE *fa = fopen(a, "r"), *fb = fopen(b, "r");
	bool same = fa && fb;
	int ca, cb;

	while (same) {
		ca = getc(fa);
		cb = getc(fb);
		same = ca == cb;
		if (ca == EOF)
			break;
	}
	if (same && (ferror(fa) || ferror(fb)))
		same = false;
	if (fa)
		fclose(fa);
	if (fb)
		fclose(fb);
	return same;
}

/* Where copy @n of @path is kept: PATH.orig, then PATH.orig.1, .2 ... */
static int kept_name(char *buf, size_t size, const char *path, int n)
{
	return n == 0 ? path_fmt(buf, size, "%s.orig", path)
		      : path_fmt(buf, size, "%s.orig.%d", path, n);
}

/* The first copy number whose name is free, to tell the learner. */
static int free_copy(const char *path)
{
	char kept[PATH_MAX];
	int n = 0;

	while (kept_name(kept, sizeof(kept), path, n) == 0 && access(kept, F_OK) == 0)
		n++;
	return n;
}

/*
 * Keep a copy of @path beside it, as the first free name of kept_name():
 * O_EXCL makes sure nothing is ever overwritten, even by a name taken a
 * moment ago.  Returns the copy's number, or a negative errno.
 */
static int keep_copy(const char *path)
{
	char kept[PATH_MAX];
	struct stat st;
	int fd = -1, err, n;

	if (stat(path, &st) < 0)
		return -errno;
	for (n = 0; fd < 0 && n < 1000; n++) {
		if ((err = kept_name(kept, sizeof(kept), path, n)) < 0)
			return err;
		fd = open(kept, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 0777);
		if (fd < 0 && errno != EEXIST)
			return -errno;
	}
	if (fd < 0)
		return -EEXIST;
	err = copy_into(path, fd);
	if (close(fd) < 0 && !err)
		err = -errno;
	if (err)
		unlink(kept);
	return err ? err : n - 1;
}

/*
 * Put @from's bytes at @path in one step: a temporary file beside it is
 * written, then renamed over it, so an editor (or watch) never sees half
 * a file.
 */
static int replace_with(const char *path, const char *from, mode_t mode)
{
	char tmp[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, err;

	int len = snprintf(tmp, sizeof(tmp), "%.*s.%s.XXXXXX", slash ? (int)(slash - path + 1) : 0,
			   path, slash ? slash + 1 : path);

	if (len < 0 || (size_t)len >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkstemp(tmp);
	if (fd < 0)
		return -errno;
	err = fchmod(fd, mode) < 0 ? -errno : copy_into(from, fd);
	if (close(fd) < 0 && !err)
		err = -errno;
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

/* A question on the terminal: y or yes is yes, anything else no. */
__attribute__((format(printf, 1, 2))) static bool confirm(const char *fmt, ...)
{
	char answer[16];
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(" [y/N] ");
	fflush(stdout);
	if (!fgets(answer, sizeof(answer), stdin))
		return false;
	answer[strcspn(answer, "\n")] = '\0';
	return strcmp(answer, "y") == 0 || strcmp(answer, "Y") == 0 || strcmp(answer, "yes") == 0;
}

/*
 * Put exercise @ex back as it was shipped, after the learner said yes
 * (@yes: they said so on the command line).  Their version is kept.
 */
static int reset_exercise(const struct exercise *ex, bool yes)
{
	char rel[PATH_MAX], path[PATH_MAX], skel[PATH_MAX], kept[PATH_MAX];
	struct stat st;
	bool had_file;
	int err, n = 0;

	if (path_fmt(rel, sizeof(rel), "exercises/%s/%s", ex->ch->dir, ex->file) < 0 ||
	    path_fmt(path, sizeof(path), "%s/%s", root, rel) < 0 ||
	    path_fmt(skel, sizeof(skel), "build/skel-src/%s/%s", ex->ch->dir, ex->file) < 0) {
		fprintf(stderr, "%s: the path of %s is too long\n", wb_progname(), ex->id);
		return 1;
	}
	if (make_quietly(skel) != 0) {
		fprintf(stderr, "%s: cannot make the skeleton of %s\n", wb_progname(), ex->id);
		return 1;
	}
	path_fmt(skel, sizeof(skel), "%s/build/skel-src/%s/%s", root, ex->ch->dir, ex->file);
	if (same_contents(path, skel)) {
		printf("%s already is the skeleton: nothing to reset\n", rel);
		return 0;
	}
	had_file = stat(path, &st) == 0;
	if (!yes) {
		if (!isatty(STDIN_FILENO))
			return bad_input("help",
					 "reset %s asks before it replaces %s, and stdin is not "
					 "a terminal: add --yes",
					 ex->id, rel);
		kept_name(kept, sizeof(kept), rel, free_copy(path));
		if (!confirm("replace %s with its skeleton? your version is kept as %s", rel,
			     had_file ? kept : "(nothing: there is no file)")) {
			printf("nothing changed\n");
			return 1;
		}
	}
	if (had_file && (n = keep_copy(path)) < 0) {
		fprintf(stderr, "%s: cannot keep a copy of %s: %s; nothing changed\n",
			wb_progname(), rel, strerror(-n));
		return 1;
	}
	err = replace_with(path, skel, had_file ? st.st_mode & 0777 : 0644);
	if (err < 0) {
		fprintf(stderr, "%s: cannot write %s: %s\n", wb_progname(), rel, strerror(-err));
		return 1;
	}
	if (forget_progress(ex) < 0)
		return 1;
	printf("%s is the skeleton again", rel);
	if (had_file && kept_name(kept, sizeof(kept), rel, n) == 0)
		printf("; your version is in %s", kept);
	printf("\n");
	return 0;
}

static int cmd_reset(char **args)
{
	bool yes = args[1] != NULL;
	struct exercise *ex;

	if (yes && strcmp(args[1], "--yes") != 0)
		return bad_input("help",
				 "wrong arguments for reset: use workbook reset ID [--yes]");
	ex = lookup_exercise(args[0]);
	return ex ? reset_exercise(ex, yes) : 2;
}

/* ------------------------------------------------------------ watch */

/*
 * watch: check the current exercise at start and on every save of its
 * file, show the result, and move on when it passes.  Saves are seen with
 * inotify on the file's directory (editors often save by writing another
 * file and renaming it over this one, so the directory is watched and the
 * events matched by name); where inotify is missing, or WORKBOOK_WATCH=poll
 * asks for it, the file is looked at every POLL_MS instead.
 */
#define POLL_MS 300
#define QUIET_MS 150 /* a save is over when its events stop for this long */

struct watch {
	struct exercise *ex;	 /* the exercise being worked on */
	struct exercise *passed; /* the one whose pass is on the screen, or NULL */
	int checks;		 /* how many checks ran: the screen numbers them */
	int ino;		 /* inotify's descriptor, or -1: poll the file */
	int wd;			 /* its watch on ex's directory, or -1 */
	struct stat seen;	 /* the file when last looked at, when polling */
	bool changed;		 /* polling: it changed at the last look */
};

enum event { EV_SAVED, EV_KEY, EV_QUIT, EV_EOF };

static void exercise_path(char *buf, size_t size, const struct exercise *ex)
{
	snprintf(buf, size, "%s/exercises/%s/%s", root, ex->ch->dir, ex->file);
}

/* Watch the current exercise's file (again, after moving on). */
static void watch_target(struct watch *w)
{
	char path[PATH_MAX];

	exercise_path(path, sizeof(path), w->ex);
	if (w->ino >= 0) {
		if (w->wd >= 0)
			inotify_rm_watch(w->ino, w->wd);
		*strrchr(path, '/') = '\0';
		w->wd = inotify_add_watch(w->ino, path, IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE);
		if (w->wd >= 0)
			return;
		close(w->ino); /* inotify cannot watch here: poll instead */
		w->ino = -1;
		exercise_path(path, sizeof(path), w->ex);
	}
	if (stat(path, &w->seen) < 0)
		memset(&w->seen, 0, sizeof(w->seen));
	w->changed = false;
}

static void keys_line(const struct watch *w)
{
	printf("\nwatching exercises/%s/%s — h hint · s solution", w->ex->ch->dir, w->ex->file);
	if (w->ex->ch->ndemos)
		printf(" · r run %s on your build", w->ex->ch->demos[0].name);
	printf(" · c check now · q quit\n");
	fflush(stdout);
}

/* Check the current exercise, show the result, move on if it passed. */
static int watch_check(struct watch *w)
{
	char check[PATH_MAX];
	char *argv[] = { check, "check", w->ex->id, NULL };
	struct exercise *next;
	int rc;

	/* The screen reacts before the build starts: the learner sees it was seen. */
	printf("\033[H\033[2Jchecking %s… [check %d]\n", w->ex->id, ++w->checks);
	fflush(stdout);
	w->passed = NULL;
	snprintf(check, sizeof(check), "%s/tests/run", root);
	rc = spawn(argv, SPAWN_NULL_STDIN | SPAWN_BRIEF);
	if (sig_quit)
		return rc;
	if (rc == 0) {
		w->passed = w->ex;
		next = next_not_done(w->ex);
		if (next) {
			printf("\n✓ %s done — next: %s — %s\n", w->ex->id, next->id, next->title);
			w->ex = next;
			watch_target(w);
		} else {
			printf("\n✓ %s done — all exercises done\n", w->ex->id);
		}
	}
	keys_line(w);
	return rc;
}

/* Read inotify's events; true if one was about the current file. */
static bool saved_event(struct watch *w)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	bool hit = false;
	ssize_t n;

	while ((n = read(w->ino, buf, sizeof(buf))) > 0)
		for (char *p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			hit |= ev->wd == w->wd && ev->len && strcmp(ev->name, w->ex->file) == 0;
		}
	return hit;
}

/* Polling: has the file changed (time, size or inode) since the last look? */
static bool file_changed(struct watch *w)
{
	char path[PATH_MAX];
	struct stat st;

	exercise_path(path, sizeof(path), w->ex);
	if (stat(path, &st) < 0)
		memset(&st, 0, sizeof(st));
	if (st.st_mtim.tv_sec == w->seen.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == w->seen.st_mtim.tv_nsec && st.st_size == w->seen.st_size &&
	    st.st_ino == w->seen.st_ino)
		return false;
	w->seen = st;
	return true;
}

/*
 * Sleep until something happens: a key, a signal, a save.  A burst of
 * events (an editor writes, renames, touches) counts as one save, reported
 * once the file has been quiet for a moment.
 */
static enum event watch_wait(struct watch *w, int *key)
{
	struct pollfd fds[3] = { { sig_pipe[0], POLLIN, 0 },
				 { STDIN_FILENO, POLLIN, 0 },
				 { w->ino, POLLIN, 0 } };
	unsigned char c;
	char drain[64];
	int n;

	for (;;) {
		n = poll(fds, w->ino >= 0 ? 3 : 2, w->ino >= 0 ? -1 : POLL_MS);
		if (n < 0 && errno != EINTR)
			return EV_EOF;
		while (read(sig_pipe[0], drain, sizeof(drain)) > 0)
			;
		if (sig_quit)
			return EV_QUIT;
		if (sig_stop || sig_cont) {
			if (sig_stop)
				suspend_self();
			sig_cont = 0;
			tty_raw(); /* whoever stopped us may have changed it */
			keys_line(w);
			continue;
		}
		if (n < 0)
			continue;
		if (n == 0) {
			/* Polling: a change counts once the next look finds no more. */
			if (file_changed(w)) {
				w->changed = true;
			} else if (w->changed) {
				w->changed = false;
				return EV_SAVED;
			}
			continue;
		}
		if (fds[1].revents) {
			if (read(STDIN_FILENO, &c, 1) != 1)
				return EV_EOF;
			*key = c;
			return EV_KEY;
		}
		if (w->ino >= 0 && fds[2].revents && saved_event(w)) {
			while (poll(&fds[2], 1, QUIET_MS) > 0)
				saved_event(w);
			return EV_SAVED;
		}
	}
}

/*
 * The solution as the learner would have written it: a solution file also
 * holds the skeleton's stand-in code and the markers around both (see
 * tests/helpers/mkskel.awk), which this leaves out; then diff -u against
 * the learner's file ($1).
 */
static const char solution_diff[] =
	"awk '/^[ \t]*\\/\\* (>>>|<<<) solution \\*\\/[ \t]*$/ { next }\n"
	"     /^[ \t]*\\/\\* >>> skeleton[ \t]*$/ { stand_in = 1; next }\n"
	"     /^[ \t]*<<< skeleton \\*\\/[ \t]*$/ { stand_in = 0; next }\n"
	"     !stand_in' \"$2\" | diff -u --label \"$1\" --label \"$2\" \"$1\" -";

/* s: the solution as a diff against the learner's file, through the pager. */
static void watch_solution(struct watch *w)
{
	const struct exercise *ex = w->passed ? w->passed : w->ex;
	char mine[PATH_MAX], sol[PATH_MAX];
	char *argv[] = { "sh", "-c", (char *)solution_diff, "sh", mine, sol, NULL };
	int c;

	if (!w->passed && !is_done(ex)) {
		printf("\nthe solution of %s, before you pass it? [y/N] ", ex->id);
		c = read_key();
		printf("%c\n", c == 'y' || c == 'Y' ? 'y' : 'n');
		if (c != 'y' && c != 'Y') {
			printf("not shown: keep going, h gives the next hint\n");
			keys_line(w);
			return;
		}
	}
	snprintf(mine, sizeof(mine), "exercises/%s/%s", ex->ch->dir, ex->file);
	snprintf(sol, sizeof(sol), "solutions/%s/%s", ex->ch->dir, ex->file);
	printf("\nthe solution of %s: %s, as a diff against %s\n", ex->id, sol, mine);
	if (page_output(argv) == 0)
		printf("(your file is the solution, byte for byte)\n");
	keys_line(w);
}

/* r: the chapter's first demo on the learner's build, then Enter. */
static void watch_demo(struct watch *w)
{
	if (!w->ex->ch->ndemos)
		return;
	tty_restore();
	printf("\n");
	run_demo(w->ex->ch, 0, true);
	press_enter("go back to watching");
	tty_raw();
	keys_line(w);
}

/* h: the next hint level, below the result. */
static void watch_hint(struct watch *w)
{
	printf("\n");
	show_hint(w->ex, false);
	keys_line(w);
}

/* The keys and the saves, until q, Ctrl-C or the end of input. */
static int watch_loop(struct watch *w)
{
	bool check = true;
	int key = 0;

	for (;;) {
		if (check)
			watch_check(w);
		check = false;
		switch (watch_wait(w, &key)) {
		case EV_SAVED:
			check = true;
			break;
		case EV_QUIT:
			return 128 + sig_quit;
		case EV_EOF:
			return 0;
		case EV_KEY:
			if (key == 'q' || key == 'Q')
				return 0;
			if (key == 'c')
				check = true;
			else if (key == 'h')
				watch_hint(w);
			else if (key == 's')
				watch_solution(w);
			else if (key == 'r')
				watch_demo(w);
			else if (key != '\n')
				keys_line(w);
			break;
		}
	}
}

/*
 * Watch @ex (NULL: the first exercise not done) on the terminal; returns
 * 0 after q, 128 + N after signal N.
 */
static int watch(struct exercise *ex)
{
	struct watch w = { .ex = ex ? ex : next_not_done(NULL), .ino = -1, .wd = -1 };
	struct sigaction old[NWATCHED];
	const char *how = getenv("WORKBOOK_WATCH");
	int rc;

	if (!w.ex) {
		printf("all exercises done: workbook watch ID checks one again\n");
		return 0;
	}
	if (signals_catch(old) < 0) {
		fprintf(stderr, "%s: pipe: %s\n", wb_progname(), strerror(errno));
		return 1;
	}
	if (!how || strcmp(how, "poll") != 0)
		w.ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	watch_target(&w);
	if (tty_raw() < 0) {
		fprintf(stderr, "%s: cannot set up the terminal: %s\n", wb_progname(),
			strerror(errno));
		rc = 1;
	} else {
		rc = watch_loop(&w);
	}
	tty_restore();
	printf("\n");
	if (w.ino >= 0)
		close(w.ino);
	signals_release(old);
	return rc;
}

static int cmd_watch(char **args)
{
	struct exercise *ex = NULL, *next;
	char *argv[] = { NULL, "check", NULL, NULL };
	char check[PATH_MAX];
	bool once = false;

	for (; *args; args++) {
		if (strcmp(*args, "--once") == 0) {
			once = true;
			continue;
		}
		if (ex)
			return bad_input(
				"help",
				"wrong arguments for watch: use workbook watch [ID] [--once]");
		ex = lookup_exercise(*args);
		if (!ex)
			return 2;
	}
	if (!once) {
		if (!isatty(STDIN_FILENO))
			return bad_input("help",
					 "watch needs a terminal for its keys, and stdin is "
					 "not one: use workbook watch --once");
		return watch(ex);
	}
	next = ex ? ex : next_not_done(NULL);
	if (!next) {
		printf("all exercises done\n");
		return 0;
	}
	snprintf(check, sizeof(check), "%s/tests/run", root);
	argv[0] = check;
	argv[2] = next->id;
	return spawn(argv, SPAWN_BRIEF);
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
	{ "lesson", "CHAPTER", "a chapter's lesson (e.g. 00)", 1, 1, cmd_lesson },
	{ "run", "DEMO [--mine] [ARGS]", "run a demo; --mine: on your exercises", 1, -1, cmd_run },
	{ "watch", "[ID] [--once]", "check on every save, move on when it passes", 0, 2,
	  cmd_watch },
	{ "check", "ID", "check one exercise (e.g. 00-mutex)", 1, 1, cmd_check },
	{ "hint", "ID [--all]", "the next hint on an exercise (--all: every one)", 1, 2, cmd_hint },
	{ "reset", "ID [--yes]", "your exercise back to its skeleton (yours is kept)", 1, 2,
	  cmd_reset },
	{ "progress", "", "which exercises are done", 0, 0, cmd_progress },
	{ "final", "[--rerun]", "your measured decision matrix, once all is done", 0, 1,
	  cmd_final },
	{ "help", "", "this text", 0, 0, cmd_help },
};
#define NCOMMANDS (int)(sizeof(commands) / sizeof(commands[0]))

static void usage(void)
{
	char form[32];

	printf("usage: workbook                          the interactive menu (needs a terminal)\n");
	for (int i = 0; i < NCOMMANDS; i++) {
		snprintf(form, sizeof(form), "%s %s", commands[i].name, commands[i].operands);
		printf("       workbook %-24s %s\n", form, commands[i].what);
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

static void menu_keys(void)
{
	printf("\nThe same keys on every page:\n"
	       "  1, 2 ...  open a chapter (main page)      b  back       q  quit\n"
	       "  l         the chapter's lesson, paged      w  watch: check on every save\n"
	       "  d<N>      run demo N                      m<N>  demo N on your build\n"
	       "  e<N>      check exercise N                h<N>  its next hint\n"
	       "  r<N>      reset exercise N to its skeleton (yours is kept)\n"
	       "  ?         these keys\n");
}

/*
 * What a key does on any page; @ch is the chapter shown, or NULL on the
 * main page.  Returns 1 when it was handled, 0 when it is not a key of
 * this page, -1 to quit (watch ended by a signal that ends everything).
 */
static int menu_action(struct chapter *ch, const char *in)
{
	struct exercise *ex = NULL;
	int n, rc;

	if (strcmp(in, "?") == 0) {
		menu_keys();
		return 1;
	}
	if (strcmp(in, "w") == 0) {
		if (ch)
			for (int e = 0; e < ch->nexercises && !ex; e++)
				if (!is_done(&ch->exercises[e]))
					ex = &ch->exercises[e];
		rc = watch(ex);
		return rc > 128 && rc != 128 + SIGINT ? -1 : 1;
	}
	if (!ch)
		return 0;
	if (strcmp(in, "l") == 0) {
		show_lesson(ch);
		return 1;
	}
	if ((n = pick(in, 'd', ch->ndemos)) || (n = pick(in, 'm', ch->ndemos))) {
		printf("\n");
		run_demo(ch, n - 1, in[0] == 'm');
	} else if ((n = pick(in, 'e', ch->nexercises))) {
		char *args[] = { ch->exercises[n - 1].id, NULL };

		cmd_check(args);
	} else if ((n = pick(in, 'h', ch->nexercises))) {
		printf("\n");
		show_hint(&ch->exercises[n - 1], false);
	} else if ((n = pick(in, 'r', ch->nexercises))) {
		printf("\n");
		reset_exercise(&ch->exercises[n - 1], false);
	} else {
		return 0;
	}
	press_enter("go back");
	return 1;
}

/* One chapter's page; returns false when the learner quits. */
static bool chapter_menu(struct chapter *ch)
{
	char in[256], shown[WB_SHOW_VALUE], state[32];
	int done, total, rc;

	for (;;) {
		count_done(ch, &done, &total);
		printf("\n%s - %s\n", ch->dir, ch->title);
		for (int i = 0; i < ch->nsummary; i++)
			printf("  %s\n", ch->summary[i]);
		printf("  Lesson: chapters/%s/README.md (l to read it here)\n", ch->dir);
		if (ch->ndemos)
			printf("Demos (d<N> runs one, m<N> on your build):\n");
		for (int d = 0; d < ch->ndemos; d++)
			printf("  d%d. %-16s %s\n", d + 1, ch->demos[d].name, ch->demos[d].what);
		if (ch->nexercises) {
			printf("Exercises (e<N> check, h<N> hint, r<N> reset, w watch):  ");
			print_bar(done, total, 8);
			printf("\n");
		}
		for (int e = 0; e < ch->nexercises; e++)
			printf("  e%d. %-16s [%s] %s\n", e + 1, ch->exercises[e].id,
			       exercise_state(&ch->exercises[e], state, sizeof(state)),
			       ch->exercises[e].title);
		if (!prompt("\nb back, q quit, ? keys.  Select: ", in, sizeof(in)))
			return false;
		if (strcmp(in, "q") == 0)
			return false;
		if (strcmp(in, "b") == 0)
			return true;
		rc = menu_action(ch, in);
		if (rc < 0)
			return false;
		if (rc == 0 && in[0] != '\0')
			printf("no such choice '%s': ? shows the keys\n",
			       wb_show(shown, sizeof(shown), in));
	}
}

static void main_page(void)
{
	struct exercise *next = next_not_done(NULL);
	int done, total;

	printf("\nThe C Concurrency Workbook\n\n");
	for (int c = 0; c < nchapters; c++) {
		count_done(&chapters[c], &done, &total);
		printf("  %d. %-16s %s\n", c + 1, chapters[c].dir, chapters[c].title);
		if (total) {
			printf("     ");
			print_bar(done, total, 8);
			printf("\n");
		}
	}
	count_done(NULL, &done, &total);
	printf("\n  ");
	print_bar(done, total, 20);
	if (next)
		printf("\n  next: %s — %s (w watches it)\n", next->id, next->title);
	else
		printf("\n  every exercise is done: f shows your measured decision matrix\n");
	printf("\n  N open chapter N, w watch, p progress, ? keys, q quit\n");
}

static int menu(void)
{
	char in[256], shown[WB_SHOW_VALUE];
	char *end;
	long n;
	int rc;

	for (;;) {
		main_page();
		if (!prompt("Select: ", in, sizeof(in)) || strcmp(in, "q") == 0)
			return 0;
		if (strcmp(in, "p") == 0) {
			printf("\n");
			cmd_progress(NULL);
			press_enter("go back");
			continue;
		}
		/* The final page; r there measures again (kept otherwise). */
		if (strcmp(in, "f") == 0) {
			char *rerun[] = { "--rerun", NULL }, *none[] = { NULL };

			printf("\n");
			cmd_final(none);
			while (prompt("r re-measure, Enter go back: ", in, sizeof(in)) &&
			       strcmp(in, "r") == 0)
				cmd_final(rerun);
			continue;
		}
		if ((rc = menu_action(NULL, in)) < 0)
			return 0;
		if (rc > 0 || in[0] == '\0' || strcmp(in, "b") == 0)
			continue;
		n = strtol(in, &end, 10);
		if (*end != '\0' || n < 1 || n > nchapters) {
			printf("no such choice '%s': type a chapter number, w, p, ? or q\n",
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
