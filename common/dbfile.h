/*
 * dbfile.h - the file a new SQLite database will live in, created by the
 * program itself before SQLite opens it.
 *
 * A program that takes a database's name on its command line (--db PATH)
 * and builds a new database there must never end up writing into something
 * that was there before: another program's database, a file a symbolic link
 * points at, a directory.  So the file is created here, new and empty, with
 * O_CREAT | O_EXCL | O_NOFOLLOW: a name that exists in any form - a file, a
 * directory, a symbolic link even when it dangles - is refused, and SQLite
 * is then asked to open it without SQLITE_OPEN_CREATE.  SQLite keeps a
 * database's journal, write-ahead log and WAL index beside it, in PATH-journal,
 * PATH-wal and PATH-shm; a leftover one would be taken for the new
 * database's own and rolled into it, so those names must not exist either.
 *
 * What stays with the program: SQLite itself.  This module neither includes
 * nor links it; the caller turns URI names off (sqlite3_config(
 * SQLITE_CONFIG_URI, 0)) so that "file:x.db" stays the plain file name this
 * module created, and opens the file without SQLITE_OPEN_CREATE.
 *
 * Two levels, as args.h and check.h divide the work:
 *	dbfile_create()      errors are values: 0 or a negative errno code;
 *	                     nothing printed
 *	dbfile_create_arg()  for a command-line option: bad input is one line
 *	                     on stderr and status 2 (usage_error), anything
 *	                     else that stops it status 1 (die_errno)
 * Neither keeps any state; both may be called from any thread.
 */
#ifndef WB_DBFILE_H
#define WB_DBFILE_H

/*
 * Create @path as a new, empty file of mode 0644 (less the umask), after
 * checking that none of its side files exists.  Returns 0, or -EEXIST with
 * *@taken set to @path (the name itself exists) or to the suffix of the side
 * file in the way ("-journal", "-wal", "-shm"); -ENAMETOOLONG; or open()'s
 * error (-EISDIR for a name ending in '/', -ENOENT for a directory that does
 * not exist, -ELOOP ...).  Nothing is created unless it returns 0.
 */
int dbfile_create(const char *path, const char **taken);

/*
 * dbfile_create() for the value @path of option @flag ("--db"), or exit
 * saying why not.  A name that exists (or a side file of it), that ends in
 * '/', is too long, or lies in a directory that does not exist is bad input:
 * "prog: --db: PATH already exists; name a new file" and the like, status 2.
 * Anything else - permissions, a read-only or full disk - is an error of
 * the environment: "prog: --db: cannot create PATH: REASON", status 1.
 * PATH is shown through wb_show(), so a strange or huge name stays one line.
 */
void dbfile_create_arg(const char *flag, const char *path);

#endif
