/*
 * warm — `modgate warm FILE...` (see warmparse.h for what the files may
 * be): fetches every named module version's .info, .mod (and .zip) from
 * the running modgate at server, parallel at once, so that they are
 * verified and cached before a CI job needs them. Prints a line per failed
 * version and a summary; a progress line on stderr when it is a terminal.
 * 0 when everything was served, 1 otherwise. Main thread, no event loop.
 */
#ifndef MODGATE_WARM_H
#define MODGATE_WARM_H

int warm_run(const char *server, int parallel, int argc, char **argv);

#endif
