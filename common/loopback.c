/*
 * loopback.c - start and stop the loopback HTTP server; see loopback.h.
 */
#include "loopback.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "child.h"
#include "tmpdir.h"

int loopback_start(struct loopback *lb, const char *tag, long max_conns)
{
	char port_file[PATH_MAX], conns[24];
	char *argv[] = { lb->path,  "--quiet",	   "--port", "0", "--port-file",
			 port_file, "--max-conns", conns,    NULL };
	int rc;

	lb->proc = NULL;
	lb->dir = NULL;
	lb->wstatus = 0;
	snprintf(conns, sizeof conns, "%ld", max_conns);
	if (max_conns <= 0)
		argv[6] = NULL; /* no --max-conns: the server's default */
	rc = child_find_fixture("httpd", lb->path, sizeof lb->path);
	if (rc)
		return rc;
	/* The directory first: cleanup on exit runs backwards, so the server
	 * goes before the directory it writes into. */
	rc = tmpdir_new(&lb->dir, tag);
	if (rc)
		return rc;
	rc = tmpdir_join(lb->dir, "port", port_file, sizeof port_file);
	if (rc)
		goto remove_dir;
	rc = child_new(&lb->proc, argv);
	if (rc)
		goto remove_dir;
	rc = child_wait_port(lb->proc, port_file, LOOPBACK_START_MS);
	if (rc < 0)
		goto stop_server;
	lb->port = rc;
	lb->pid = child_pid(lb->proc);
	return 0;

stop_server:
	child_stop(lb->proc, &lb->wstatus);
	child_free(lb->proc);
	lb->proc = NULL;
remove_dir:
	tmpdir_free(lb->dir);
	lb->dir = NULL;
	return rc;
}

int loopback_stop(struct loopback *lb)
{
	int rc = 0, rc2;

	if (lb->proc) {
		rc = child_stop(lb->proc, &lb->wstatus);
		if (rc == 0 && !(WIFEXITED(lb->wstatus) && WEXITSTATUS(lb->wstatus) == 0))
			rc = -ECHILD;
		child_free(lb->proc);
		lb->proc = NULL;
	}
	rc2 = tmpdir_free(lb->dir);
	lb->dir = NULL;
	return rc ? rc : rc2;
}

const char *loopback_explain(const struct loopback *lb, int err, char *buf, size_t len)
{
	char how[64];

	if (err == -ENOENT && lb->path[0] == '\0')
		snprintf(buf, len,
			 "is not built: no fixtures/httpd next to this program's "
			 "build; build it with 'make programs'");
	else if (err == -ECHILD)
		snprintf(buf, len, "%s", child_describe(lb->wstatus, how, sizeof how));
	else if (err == -ETIMEDOUT)
		snprintf(buf, len, "did not report its port within %d ms", LOOPBACK_START_MS);
	else
		snprintf(buf, len, "failed: %s", strerror(-err));
	return buf;
}
