/*
 * dbrows.c - one SQLite query's rows as one line of text (dbrows.h).
 */
#include <errno.h>
#include <stdio.h>

#include "dbrows.h"

static int db_error(sqlite3 *db, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: %s", what, sqlite3_errmsg(db));
	return -EIO;
}

/* Append one row to @out as "a,b,c", separated from the last by "; ". */
static int append_row(sqlite3_stmt *st, char *out, size_t cap, size_t *len, char *err,
		      size_t errlen)
{
	int cols = sqlite3_column_count(st);

	for (int c = 0; c < cols; c++) {
		const unsigned char *v = sqlite3_column_text(st, c);
		const char *sep = c ? "," : *len ? "; " : "";
		int n;

		/* NULL is the value NULL, or SQLite ran out of memory converting. */
		if (!v && sqlite3_column_type(st, c) != SQLITE_NULL) {
			snprintf(err, errlen, "sqlite3_column_text: out of memory");
			return -ENOMEM;
		}
		n = snprintf(out + *len, cap - *len, "%s%s", sep, v ? (const char *)v : "NULL");
		if (n < 0 || (size_t)n >= cap - *len) {
			snprintf(err, errlen, "the answer is longer than %zu bytes", cap - 1);
			return -EOVERFLOW;
		}
		*len += (size_t)n;
	}
	return 0;
}

int dbrows_query(sqlite3 *db, const char *sql, int64_t param, char *out, size_t cap, char *err,
		 size_t errlen)
{
	size_t len = 0;
	sqlite3_stmt *st;
	int rc = SQLITE_DONE, ret = 0;

	out[0] = '\0';
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_error(db, "sqlite3_prepare_v2", err, errlen);
	if (sqlite3_bind_int64(st, 1, param) != SQLITE_OK)
		ret = db_error(db, "sqlite3_bind_int64", err, errlen);
	while (!ret && (rc = sqlite3_step(st)) == SQLITE_ROW)
		ret = append_row(st, out, cap, &len, err, errlen);
	if (!ret && rc != SQLITE_DONE)
		ret = db_error(db, "sqlite3_step", err, errlen);
	/* Its return value repeats the last step's error, handled above. */
	sqlite3_finalize(st);
	return ret;
}
