/*
 * tmpdir.c - see tmpdir.h.
 *
 * Everything the signal handler runs is async-signal-safe: no malloc, no
 * stdio, and no opendir(), which allocates.  A directory is read with
 * getdents64() into a buffer on the stack and emptied with the *at() calls
 * relative to an open descriptor, so no path is ever built on the way.
 */
#define _GNU_SOURCE
#include "tmpdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "stopsig.h"

/* How many levels of subdirectories removal goes down. */
#define TMPDIR_DEPTH 8

/*
 * A slot's life: FREE -> BUSY (claimed, its path being written) -> LIVE
 * -> DOOMED (tmpdir_free is removing it) -> FREE.  The handler and the
 * atexit function remove LIVE and DOOMED directories; removing one twice
 * is harmless, while skipping one a dying process was halfway through
 * would leave files behind.
 */
enum slot_state { SLOT_FREE, SLOT_BUSY, SLOT_LIVE, SLOT_DOOMED };

struct slot {
	atomic_int state; /* written last, read first: see tmpdir.h */
	pid_t owner;	  /* the process that made the directory */
	char path[PATH_MAX];
};

/* The module's one global, for the signal handler (see tmpdir.h). */
static struct {
	pthread_once_t once;
	int install_err;	  /* why installing the handlers failed */
	struct sigaction prev[2]; /* SIGINT's and SIGTERM's before ours */
	struct slot slots[TMPDIR_MAX];
} live = { .once = PTHREAD_ONCE_INIT };

struct tmpdir {
	struct slot *slot;
};

/* ------------------------------------------------------------ removal */

static int remove_entry(int dirfd, const char *name, int depth);

static bool is_dot(const char *name)
{
	return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

/*
 * Remove everything inside the open directory @fd.  Removing entries while
 * reading them may make a file system skip some, so it reads again from
 * the start for as long as the last pass removed anything.
 */
static int empty_dir(int fd, int depth)
{
	char buf[2048] __attribute__((aligned(8)));
	bool progress = true;
	ssize_t n;
	int err = 0;

	while (progress) {
		progress = false;
		err = 0;
		if (lseek(fd, 0, SEEK_SET) < 0)
			return -errno;
		while ((n = getdents64(fd, buf, sizeof(buf))) > 0) {
			for (ssize_t off = 0; off < n;) {
				struct dirent64 *e = (struct dirent64 *)(buf + off);
				int rc;

				off += e->d_reclen;
				if (is_dot(e->d_name))
					continue;
				rc = remove_entry(fd, e->d_name, depth);
				if (rc == 0)
					progress = true;
				else if (!err)
					err = rc;
			}
		}
		if (n < 0)
			return -errno;
	}
	return err;
}

/* Remove @name in @dirfd: a file or a link at once, a directory emptied. */
static int remove_entry(int dirfd, const char *name, int depth)
{
	int fd, rc;

	if (unlinkat(dirfd, name, 0) == 0)
		return 0;
	/* Linux answers EISDIR for a directory; POSIX allows EPERM. */
	if ((errno != EISDIR && errno != EPERM) || depth == 0)
		return -errno;
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = empty_dir(fd, depth - 1);
	close(fd);
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && !rc)
		rc = -errno;
	return rc;
}

/* Remove the directory @path and all it holds.  Async-signal-safe. */
static int remove_tree(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -errno;
	rc = empty_dir(fd, TMPDIR_DEPTH);
	close(fd);
	if (rmdir(path) < 0 && !rc)
		rc = -errno;
	return rc;
}

/* Remove every directory this process made and still has.  Async-signal-safe. */
static void remove_all(void)
{
	pid_t me = getpid();

	for (int i = 0; i < TMPDIR_MAX; i++) {
		struct slot *s = &live.slots[i];
		int state = atomic_load_explicit(&s->state, memory_order_acquire);

		if ((state == SLOT_LIVE || state == SLOT_DOOMED) && s->owner == me)
			(void)remove_tree(s->path);
	}
}

/* ------------------------------------------------------ exit and signals */

/* Clean up, then let the signal go on to end the process (stopsig.h). */
static void on_stop_signal(int sig, siginfo_t *info, void *uctx)
{
	int saved = errno;

	remove_all();
	stopsig_pass_on(sig, info, uctx, live.prev);
	errno = saved;
}

static void at_exit(void)
{
	remove_all();
}

static void install(void)
{
	live.install_err = stopsig_install(on_stop_signal, live.prev, at_exit);
}

/* ---------------------------------------------------------- the API */

/* Claim a free slot for this thread: the slot, or NULL if all are taken. */
static struct slot *slot_claim(void)
{
	for (int i = 0; i < TMPDIR_MAX; i++) {
		int want = SLOT_FREE;

		if (atomic_compare_exchange_strong(&live.slots[i].state, &want, SLOT_BUSY))
			return &live.slots[i];
	}
	return NULL;
}

/* Fill @path with an absolute $TMPDIR/@prefix.XXXXXX and make it. */
static int make_dir(char *path, const char *prefix)
{
	const char *tmp = getenv("TMPDIR");
	char cwd[PATH_MAX] = "";
	int n;

	if (!tmp || !*tmp)
		tmp = "/tmp";
	/* The program may chdir() later; the handler must still find it. */
	if (tmp[0] != '/' && !getcwd(cwd, sizeof(cwd)))
		return -errno;
	n = snprintf(path, PATH_MAX, "%s%s%s/%s.XXXXXX", cwd, cwd[0] ? "/" : "", tmp, prefix);
	if (n < 0 || n >= PATH_MAX)
		return -ENAMETOOLONG;
	if (!mkdtemp(path))
		return -errno;
	return 0;
}

int tmpdir_new(struct tmpdir **out, const char *prefix)
{
	struct tmpdir *dir;
	struct slot *s;
	sigset_t old;
	int rc;

	*out = NULL;
	if (!prefix || !*prefix || strchr(prefix, '/'))
		return -EINVAL;
	PT_CHECK(pthread_once(&live.once, install));
	if (live.install_err)
		return live.install_err;
	dir = malloc(sizeof(*dir));
	if (!dir)
		return -ENOMEM;

	stopsig_block(&old);
	s = slot_claim();
	rc = s ? make_dir(s->path, prefix) : -EMFILE;
	if (s) {
		s->owner = getpid();
		atomic_store_explicit(&s->state, rc ? SLOT_FREE : SLOT_LIVE, memory_order_release);
	}
	stopsig_restore(&old);

	if (rc) {
		free(dir);
		return rc;
	}
	dir->slot = s;
	*out = dir;
	return 0;
}

const char *tmpdir_path(const struct tmpdir *dir)
{
	return dir->slot->path;
}

int tmpdir_join(const struct tmpdir *dir, const char *name, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s", dir->slot->path, name);

	if (n < 0 || (size_t)n >= len) {
		if (len)
			buf[0] = '\0';
		return -ENAMETOOLONG;
	}
	return 0;
}

int tmpdir_free(struct tmpdir *dir)
{
	sigset_t old;
	int rc;

	if (!dir)
		return 0;
	stopsig_block(&old);
	atomic_store_explicit(&dir->slot->state, SLOT_DOOMED, memory_order_release);
	rc = remove_tree(dir->slot->path);
	atomic_store_explicit(&dir->slot->state, SLOT_FREE, memory_order_release);
	stopsig_restore(&old);
	free(dir);
	return rc;
}
