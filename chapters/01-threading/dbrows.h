/*
 * dbrows.h - one SQLite query's rows as one line of text, for the demos
 * that compare the answers of a pool of connections (db_queries) or of
 * coroutines (chapter 03's db_many) with those of a plain sequential run.
 *
 * A query's answer is every row, columns joined by "," and rows by "; ",
 * NULL written as NULL: two runs gave the same answer exactly when their
 * lines are equal.  The call blocks for as long as SQLite takes; it uses
 * only its arguments, so any thread may run it on a connection no other
 * thread is using at the time.
 */
#ifndef WB_DBROWS_H
#define WB_DBROWS_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Run @sql, which has one parameter, bound to @param, on @db, and write its
 * rows into @out, a buffer of @cap bytes ("" when there is none).  Returns
 * 0, or -EIO (SQLite failed: "sqlite3_step: ..." in @err), -ENOMEM, or
 * -EOVERFLOW (the rows do not fit in @cap bytes), with a message in @err,
 * a buffer of @errlen bytes.  The statement is finalized before it
 * returns, so nothing of it outlives the call on @db.
 */
int dbrows_query(sqlite3 *db, const char *sql, int64_t param, char *out, size_t cap, char *err,
		 size_t errlen);

#endif
