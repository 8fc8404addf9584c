#include "proxy/help.h"

#include "proxy/cachetool.h"

#include <string.h>

/* How the admin commands authenticate (the endpoint's rule is in admin.h). */
#define ADMIN_TOKEN_HELP                                                                           \
	"Changes need the [admin] token when one is set: sent from $MODGATE_ADMIN_TOKEN,\n"        \
	"else from the token_file or token_env of the config read here. Without a\n"               \
	"token, only this host may change anything. To rotate the token, write the\n"              \
	"new one and use systemctl reload (SIGHUP needs no token).\n"

/* The options every subcommand that reads the configuration takes. */
#define CONFIG_OPTIONS                                                                             \
	"  -c, --config FILE      the INI configuration (optional; see etc/modgate.ini)\n"         \
	"  -d, --cache-dir DIR    the cache folder, overriding [server] cache\n"                   \
	"      --log-level LEVEL  debug, info, warn or error (default: [log] level, info)\n"

static const struct page {
	const char *command, *text;
} pages[] = {
    {"serve",
     "usage: modgate [serve] [-c FILE] [-l ADDR:PORT] [-d DIR] [--log-level LEVEL]\n"
     "       modgate -t [-c FILE]\n"
     "\n"
     "Serves the GOPROXY protocol on [server] listen (default 127.0.0.1:8080) and\n"
     "the admin endpoint (/metrics, /healthz, /readyz, /upstreams, /reload, the\n"
     "status page at /) on [admin] listen (default 127.0.0.1:8081).\n"
     "\n" CONFIG_OPTIONS "  -l, --listen ADDR:PORT the listen address, overriding [server] listen\n"
     "  -t, --test             check the configuration, print it as modgate sees\n"
     "                         it (defaults, environment, file, flags), exit 0 if\n"
     "                         valid, 1 with FILE:LINE: reason if not\n"
     "\n"
     "Signals: SIGHUP reloads the configuration (see modgate reload --help) and\n"
     "reopens the log file; SIGTERM or SIGINT stops accepting connections, lets\n"
     "requests in flight finish for up to [server] stop_timeout (30s), exits 0;\n"
     "a second one stops at once.\n"},
    {"upstream",
     "usage: modgate upstream status [--json] [-c FILE] [--admin ADDR:PORT]\n"
     "       modgate upstream drain|undrain|open|close|auto NAME [-c FILE] [--admin ADDR:PORT]\n"
     "\n"
     "Asks the running modgate's admin endpoint about its upstreams, or changes\n"
     "one until the next restart (a reload keeps it):\n"
     "  status    each upstream: breaker state, mode, pools and weights, requests,\n"
     "            failures, p95 latency, time until the next probe\n"
     "  drain     take NAME out of rotation (requests in flight finish)\n"
     "  undrain   put it back\n"
     "  open      force its breaker open: no request goes there\n"
     "  close     force its breaker closed: every request may go there\n"
     "  auto      hand the breaker back to its state machine\n"
     "NAME is the upstream's URL as status shows it, or any part of it that\n"
     "matches exactly one upstream (its host, say).\n"
     "\n"
     "  -c, --config FILE      read [admin] listen from this file\n"
     "      --admin ADDR:PORT  the admin endpoint (default: [admin] listen)\n"
     "      --json             status as a JSON array instead of a table\n"
     "\n" ADMIN_TOKEN_HELP "\n"
     "Exit 0 done, 1 refused (unknown or ambiguous NAME, no or wrong token) or\n"
     "unreachable, 2 usage.\n"},
    {"reload", "usage: modgate reload [-c FILE] [--admin ADDR:PORT]\n"
               "\n"
               "Makes the running modgate read its configuration again, exactly as at\n"
               "start (defaults, environment, its -c file, its flags) — as kill -HUP and\n"
               "systemctl reload do — and prints the verdict: accepted and what changed\n"
               "(stdout, exit 0), or refused and why (stderr, exit 1; the running\n"
               "configuration stays). New requests use the new configuration at once;\n"
               "requests in flight finish with the old one; upstreams that stay keep their\n"
               "breaker state and drain. listen, cache, workers, [admin] listen and\n"
               "[sumdb] database need a restart: a reload changing one is refused.\n"
               "\n"
               "  -c, --config FILE      read [admin] listen from this file\n"
               "      --admin ADDR:PORT  the admin endpoint (default: [admin] listen); with\n"
               "                         it, no file is read here, so a broken file is still\n"
               "                         sent to modgate to be refused with its reason\n"
               "\n" ADMIN_TOKEN_HELP},
    {"fsck", "usage: modgate fsck [-c FILE] [-d DIR] [--log-level LEVEL]\n"
             "\n"
             "Re-checks every cached .mod and .zip: its h1: hash against the recorded one\n"
             "(<cache>/.sums) and the checksum database ([sumdb] database). Moves what\n"
             "fails to <cache>/.quarantine (the next request fetches a verified copy),\n"
             "rewrites a lost record once the database vouches for the bytes. Safe while\n"
             "a server runs on the cache. Progress on a terminal; one line per finding.\n"
             "\n" CONFIG_OPTIONS "\n"
             "Exit 0 clean, 1 on any finding (mismatch, unchecked, unreadable).\n"},
    {"hash", "usage: modgate hash FILE...\n"
             "\n"
             "Prints the h1: hash of each module zip or go.mod file, as go.sum and the\n"
             "checksum database have it: a file that starts as a zip is hashed as a\n"
             "module zip (and must follow the module zip rules), any other as a go.mod.\n"
             "For reading quarantined bodies (<cache>/.quarantine/*.body): compare with\n"
             "the record's expected and received fields. Exit 1 if a file cannot be\n"
             "read or hashed.\n"},
    {"warm", "usage: modgate warm [-c FILE] [--server URL] [--parallel N] FILE...\n"
             "\n"
             "Fetches every module version named in go.sum or go.mod files, or in\n"
             "`go list -m -json all` output (- reads stdin), through the running\n"
             "modgate, so that each is verified and cached before CI needs it. A\n"
             "progress bar on a terminal; then a summary: fetched, already cached,\n"
             "failed, and a `FAILED MODULE@VERSION: reason` line for each failure.\n"
             "\n"
             "  -c, --config FILE      read [server] listen from this file\n"
             "      --server URL       the modgate to fetch through (default: http://\n"
             "                         [server] listen; https:// with tls_cert, checked\n"
             "                         against the system's CAs or $SSL_CERT_FILE, so\n"
             "                         give the name the certificate is for)\n"
             "      --parallel N       fetches at once, 1 to 64 (default 8)\n"
             "\n"
             "Exit 0 when everything was fetched or cached, 1 on any failure, 2 usage.\n"},
};

int help_command(const char *command, FILE *out)
{
	size_t i;

	if (cachetool_is_command(command)) {
		cachetool_usage(command, out);
		return 0;
	}
	for (i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
		if (strcmp(pages[i].command, command) == 0) {
			fputs(pages[i].text, out);
			return 0;
		}
	}
	return -1;
}
