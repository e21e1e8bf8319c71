/*
 * bigfact.h - factorials as big integers with GMP, and their trip through
 * a socket as bytes.
 *
 * Python's int is a bignum library built into the language; GMP is C's.
 * An mpz_t is a handle to a number that grows as needed: mpz_init() it,
 * mpz_clear() it when done.  GMP aborts the program when it runs out of
 * memory, so none of the calls below has an allocation failure to report.
 *
 * The guide's loop, result *= i for i in 1..n, is bigfact_loop(); Python's
 * math.factorial, a smarter algorithm (products of balanced halves), has
 * GMP's mpz_fac_ui() as its twin in bigfact_fast().  A result leaves a
 * worker as bytes (bigfact_export) and becomes a number again in the pool's
 * process (bigfact_import): that is what pickling an int costs here.
 */
#ifndef WB_BIGFACT_H
#define WB_BIGFACT_H

#include <gmp.h>
#include <stddef.h>

/* The largest n the chapter's programs accept: 1000000! has 5.5 M digits. */
#define BIGFACT_MAX_N 1000000UL

/*
 * @out = n!, one mpz_mul_ui per factor, as the guide's Python loop does.
 * It makes room for the whole result before the loop, so @out may hold
 * more than it needs afterwards (mpz_realloc2 gives it back).
 */
void bigfact_loop(mpz_t out, unsigned long n);

/* @out = n! by GMP's own algorithm, mpz_fac_ui(). */
void bigfact_fast(mpz_t out, unsigned long n);

/*
 * The magnitude of @x as big-endian bytes, malloc'd into *@buf, *@len of
 * them (0 and NULL for zero).  Returns 0 or -ENOMEM.
 */
int bigfact_export(const mpz_t x, unsigned char **buf, size_t *len);

/* @out = the number that bigfact_export() wrote as @len bytes at @buf. */
void bigfact_import(mpz_t out, const void *buf, size_t len);

/*
 * The decimal digits of @x, malloc'd, '\0'-terminated; *@len gets their
 * count (the length of the string).  NULL when out of memory.
 */
char *bigfact_decimal(const mpz_t x, size_t *len);

/* How many '0' end the decimal string @s of @len digits. */
size_t bigfact_trailing_zeros(const char *s, size_t len);

#endif
