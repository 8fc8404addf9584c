/*
 * ctl — the command line's side of the admin endpoint:
 *   modgate upstream status [--json]
 *   modgate upstream drain|undrain|open|close|auto NAME
 *   modgate reload
 * A blocking libcurl request to the admin listener of a running modgate;
 * never used inside the server. token (NULL or "" for none) is sent as
 * "Authorization: Bearer TOKEN", which the endpoint's POSTs need when
 * [admin] token_file or token_env is set.
 */
#ifndef MODGATE_CTL_H
#define MODGATE_CTL_H

/* Runs "upstream ARGS..." against the admin endpoint at admin (host:port).
 * Prints the answer (stdout) or the error (stderr); returns the exit code:
 * 0 done, 1 refused or failed, 2 usage. */
int ctl_upstream(int argc, char **argv, const char *admin, const char *token, int json);

/* POST /reload to the admin endpoint at admin (host:port): prints the
 * verdict — accepted and what changed (stdout), or refused and why
 * (stderr). 0 accepted, 1 refused or failed. */
int ctl_reload(const char *admin, const char *token);

#endif
