/*
 * dbfile.c - see dbfile.h.
 */
#include "dbfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"
#include "check.h"

int dbfile_create(const char *path, const char **taken)
{
	static const char *const sides[] = { "-journal", "-wal", "-shm" };
	char side[PATH_MAX];
	struct stat st;
	int fd;

	*taken = path;
	/*
	 * The side files first, so that a refusal creates nothing.  lstat():
	 * a symbolic link by one of these names is in the way too.
	 */
	for (size_t i = 0; i < sizeof(sides) / sizeof(sides[0]); i++) {
		if ((size_t)snprintf(side, sizeof(side), "%s%s", path, sides[i]) >= sizeof(side))
			return -ENAMETOOLONG;
		if (lstat(side, &st) == 0) {
			*taken = sides[i];
			return -EEXIST;
		}
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	return close(fd) < 0 ? -errno : 0;
}

void dbfile_create_arg(const char *flag, const char *path)
{
	size_t len = strlen(path);
	char shown[WB_SHOW_VALUE];
	const char *taken;
	int rc;

	/* The name may be long or hold control bytes: quote it safely. */
	wb_show(shown, sizeof(shown), path);
	if (len == 0)
		usage_error("%s needs a file name", flag);
	/* open() would say EISDIR; the user deserves to hear what to change. */
	if (path[len - 1] == '/')
		usage_error("%s: %s ends in '/'; name a file, not a directory", flag, shown);
	rc = dbfile_create(path, &taken);
	if (rc == -EEXIST && taken != path)
		usage_error("%s: %s%s exists, and SQLite would take it for the new "
			    "database's own",
			    flag, shown, taken);
	if (rc == -EEXIST)
		usage_error("%s: %s already exists; name a new file", flag, shown);
	if (rc == -EISDIR || rc == -ENOTDIR || rc == -ENOENT || rc == -ENAMETOOLONG || rc == -ELOOP)
		usage_error("%s: cannot create %s: %s", flag, shown, strerror(-rc));
	if (rc)
		die_errno(-rc, "%s: cannot create %s", flag, shown);
}
