/*
 * help — `modgate COMMAND --help`: one page per subcommand, with every
 * option it takes. The overview (`modgate --help`) stays in main.
 *
 * Stateless; any thread (used by the command line only).
 */
#ifndef MODGATE_HELP_H
#define MODGATE_HELP_H

#include <stdio.h>

/* Prints command's page to out: 0, or -1 when command has none. */
int help_command(const char *command, FILE *out);

#endif
