/*
 * bigfact.c - factorials with GMP and their bytes (see bigfact.h).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bigfact.h"

/* Bits enough for n!: log2(n!) is lgamma(n + 1) / ln 2, plus a limb of slack. */
static mp_bitcnt_t factorial_bits(unsigned long n)
{
	int sign;

	return (mp_bitcnt_t)(lgamma_r((double)n + 1.0, &sign) / M_LN2) + GMP_NUMB_BITS;
}

void bigfact_loop(mpz_t out, unsigned long n)
{
	/*
	 * Room for the result first, as a Python list over-allocates: the
	 * number then grows in place instead of being reallocated each time it
	 * gains a limb, 11,069 times on the way to 50000!.  Plain malloc
	 * mostly grows a block in place anyway; under ASan every realloc is a
	 * fresh block and a copy, and the old one waits in quarantine.
	 */
	mpz_realloc2(out, factorial_bits(n));
	mpz_set_ui(out, 1);
	for (unsigned long i = 2; i <= n; i++)
		mpz_mul_ui(out, out, i);
}

void bigfact_fast(mpz_t out, unsigned long n)
{
	mpz_fac_ui(out, n);
}

int bigfact_export(const mpz_t x, unsigned char **buf, size_t *len)
{
	size_t need = (mpz_sizeinbase(x, 2) + 7) / 8;

	*buf = NULL;
	*len = 0;
	if (mpz_sgn(x) == 0)
		return 0;
	/* Our buffer, not GMP's: the caller frees it with free(). */
	*buf = malloc(need);
	if (!*buf)
		return -ENOMEM;
	mpz_export(*buf, len, 1, 1, 1, 0, x);
	return 0;
}

void bigfact_import(mpz_t out, const void *buf, size_t len)
{
	if (len == 0)
		mpz_set_ui(out, 0);
	else
		mpz_import(out, len, 1, 1, 1, 0, buf);
}

char *bigfact_decimal(const mpz_t x, size_t *len)
{
	/* sizeinbase may say one digit too many; a sign and '\0' need room. */
	char *s = malloc(mpz_sizeinbase(x, 10) + 2);

	if (!s)
		return NULL;
	mpz_get_str(s, 10, x);
	*len = strlen(s);
	return s;
}

size_t bigfact_trailing_zeros(const char *s, size_t len)
{
	size_t z = 0;

	while (z < len && s[len - 1 - z] == '0')
		z++;
	return z;
}
