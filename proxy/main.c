/*
 * modgate — command line: serve, or check a configuration.
 *
 * Settings come, each overriding the one before, from built-in defaults, the
 * go command's environment (GOPROXY, GONOPROXY, GOPRIVATE), the INI file
 * given with --config, and the --listen / --cache-dir / --log-level flags.
 * A reload (SIGHUP, or POST /reload through `modgate reload`) reads them
 * again the same way. SIGTERM or SIGINT stops gracefully; a second one
 * stops at once.
 */
#include "proxy/cachetool.h"
#include "proxy/warm.h"
#include "proxy/config.h"
#include "proxy/ctl.h"
#include "proxy/fsck.h"
#include "proxy/help.h"
#include "proxy/log.h"
#include "proxy/server.h"
#include "proxy/version.h"

#include <curl/curl.h>
#include <event2/event.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: modgate [serve] [options]   serve the GOPROXY protocol\n"
	    "       modgate -t [-c FILE]        check a configuration and print it\n"
	    "       modgate upstream status [--json]            upstreams and breakers\n"
	    "       modgate upstream drain|undrain NAME         take out of / back into rotation\n"
	    "       modgate upstream open|close|auto NAME       force a breaker, or hand it back\n"
	    "       modgate reload [-c FILE] [--admin ADDR:PORT]\n"
	    "                                   make the running modgate read its configuration\n"
	    "                                   again (as kill -HUP does) and print whether it "
	    "was\n"
	    "                                   accepted (and what changed) or refused (and why;\n"
	    "                                   the running configuration then stays); exit 1 if\n"
	    "                                   refused. Listen and admin addresses, cache, "
	    "workers\n"
	    "                                   and [sumdb] database need a restart\n"
	    "       modgate fsck [-c FILE]      re-check every cached .mod/.zip against its\n"
	    "                                   recorded hash and the checksum database;\n"
	    "                                   quarantine what fails; exit 1 on any finding\n"
	    "       modgate hash FILE...        the h1: hash of a module zip or go.mod file\n"
	    "       modgate warm [--server URL] [--parallel N] FILE...\n"
	    "                                   fetch every module version a go.sum, go.mod or\n"
	    "                                   `go list -m -json all` output names through the\n"
	    "                                   running modgate (default: its listen address)\n"
	    "       modgate snapshot NAME       hard-link snapshot of the cache (.snapshots/NAME)\n"
	    "       modgate snapshots [--json]  list the snapshots\n"
	    "       modgate restore NAME        make a snapshot the live cache, atomically\n"
	    "       modgate purge MODULE[@VERSION]  drop a module or a version from the cache\n"
	    "       modgate prune [--unused DURATION] [--max-size SIZE] [--dry-run]\n"
	    "                                   drop the versions used least recently\n"
	    "                                   (modgate COMMAND --help: each one's page)\n"
	    "\n"
	    "options:\n"
	    "  -c, --config FILE      INI configuration (optional; see etc/modgate.ini)\n"
	    "  -l, --listen ADDR:PORT listen address (default 127.0.0.1:8080)\n"
	    "  -d, --cache-dir DIR    cache directory, a valid GOPROXY tree\n"
	    "                         (default $MODGATE_CACHE, $XDG_CACHE_HOME/modgate,\n"
	    "                         ~/.cache/modgate, or /var/cache/modgate)\n"
	    "      --log-level LEVEL  debug, info, warn or error (default info)\n"
	    "  -t, --test             check the configuration, print the result, exit\n"
	    "      --admin ADDR:PORT  the admin endpoint, for modgate upstream ... and reload\n"
	    "                         (default: [admin] listen, 127.0.0.1:8081)\n"
	    "      --json             modgate upstream status, modgate snapshots: JSON\n"
	    "                         instead of a table\n"
	    "  -h, --help             this text\n"
	    "  -V, --version          print the version\n"
	    "\n"
	    "Without a file, upstreams come from GOPROXY and GONOPROXY/GOPRIVATE,\n"
	    "read with the go command's syntax and meaning.\n"
	    "\n"
	    "Signals: SIGHUP reloads the configuration (and reopens the log file);\n"
	    "SIGTERM or SIGINT stops accepting connections, lets requests in flight\n"
	    "finish for up to [server] stop_timeout (default 30s), then exits 0; a\n"
	    "second SIGTERM or SIGINT stops at once.\n");
}

/* What the command line said about where settings come from: kept for a
 * reload, which reads them again the same way. */
struct cli {
	const char *config_file, *listen, *cache_dir;
	int level_given;
	enum log_level level;
};

/* Fills *cfg as the command line says: defaults, environment, file, then
 * --listen and --cache-dir. 0, or -1 with err. */
static int load_config(const struct cli *cli, struct config *cfg, char *err, size_t errlen)
{
	char why[1024];

	config_init_defaults(cfg);
	if (config_apply_env(cfg, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "environment: %s", why);
		return -1;
	}
	if (cli->config_file && config_load_file(cfg, cli->config_file, err, errlen) < 0)
		return -1;
	if (cli->listen &&
	    config_parse_listen(cli->listen, cfg->listen_host, sizeof(cfg->listen_host),
	                        &cfg->listen_port, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "--listen: %s", why);
		return -1;
	}
	if (cli->cache_dir) {
		if (!cli->cache_dir[0] || strlen(cli->cache_dir) >= sizeof(cfg->cache_dir)) {
			snprintf(err, errlen, "--cache-dir: empty or too long");
			return -1;
		}
		snprintf(cfg->cache_dir, sizeof(cfg->cache_dir), "%s", cli->cache_dir);
	}
	return 0;
}

/* The server's loader for a reload: as at start, --log-level included
 * (it wins over [log] level). */
static int reload_config(void *arg, struct config *out, char *err, size_t errlen)
{
	const struct cli *cli = arg;

	if (load_config(cli, out, err, errlen) < 0)
		return -1;
	if (cli->level_given)
		out->log_level = (int)cli->level;
	return 0;
}

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	log_info("signal %d: stopping", (int)sig);
	server_stop(arg);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	char msg[1400];

	(void)sig;
	(void)what;
	log_info("SIGHUP: reading the configuration again");
	/* server_reload logs the verdict. */
	server_reload(arg, msg, sizeof(msg));
}

static int serve(const struct config *cfg, struct cli *cli)
{
	struct event_base *base;
	struct server *srv;
	struct event *sigint, *sigterm, *sighup;
	char err[1024];
	int i;

	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		fprintf(stderr, "modgate: cannot initialise libcurl\n");
		return 1;
	}
	if (log_configure(cfg->log_output, cfg->log_json, err, sizeof(err)) < 0) {
		fprintf(stderr, "modgate: %s\n", err);
		return 1;
	}
	base = event_base_new();
	if (!base) {
		fprintf(stderr, "modgate: cannot create the event loop\n");
		return 1;
	}
	srv = server_new(base, cfg, err, sizeof(err));
	if (!srv) {
		fprintf(stderr, "modgate: %s\n", err);
		event_base_free(base);
		curl_global_cleanup();
		return 1;
	}
	server_set_loader(srv, reload_config, cli);
	sigint = evsignal_new(base, SIGINT, on_stop_signal, srv);
	sigterm = evsignal_new(base, SIGTERM, on_stop_signal, srv);
	sighup = evsignal_new(base, SIGHUP, on_hup, srv);
	event_add(sigint, NULL);
	event_add(sigterm, NULL);
	event_add(sighup, NULL);
	for (i = 0; cfg->n_pools == 0 && i < cfg->n_upstreams; i++) {
		char shown[CONFIG_URL_MAX], auth[CONFIG_CRED_SOURCE_MAX + 64];

		/* Never a password from a URL in the log. */
		log_info("upstream %d: %s%s%s%s", i + 1,
		         config_upstream_redacted(&cfg->upstreams[i], shown, sizeof(shown)),
		         cfg->upstreams[i].fallthrough_any ? " (|: any error moves on)" : "",
		         cfg->upstreams[i].cred ? ", auth " : "",
		         cfg->upstreams[i].cred
		             ? config_cred_describe(config_cred_of(cfg, cfg->upstreams[i].cred),
		                                    auth, sizeof(auth))
		             : "");
	}
	for (i = 0; i < cfg->n_pools; i++) {
		const struct config_pool *p = &cfg->pools[i];
		int j;

		for (j = 0; j < p->n_upstreams; j++) {
			struct config_upstream tmp = {.kind = CONFIG_UP_URL};
			char shown[CONFIG_URL_MAX], auth[CONFIG_CRED_SOURCE_MAX + 64];

			snprintf(tmp.url, sizeof(tmp.url), "%s", p->upstreams[j].url);
			log_info("pool %s: %s weight %d%s, auth %s", p->name,
			         config_upstream_redacted(&tmp, shown, sizeof(shown)),
			         p->upstreams[j].weight, p->upstreams[j].backup ? " (backup)" : "",
			         config_cred_describe(config_cred_of(cfg, p->upstreams[j].cred),
			                              auth, sizeof(auth)));
		}
	}
	if (cfg->sumdb_url[0]) {
		char auth[CONFIG_CRED_SOURCE_MAX + 64];

		log_info(
		    "checksum database %s at %s, auth %s", cfg->sumdb_name, cfg->sumdb_url,
		    config_cred_describe(config_cred_of(cfg, cfg->sumdb_cred), auth, sizeof(auth)));
	}
	log_info("modgate %s listening on %s://%s:%d cache %s", MODGATE_VERSION,
	         cfg->tls_cert[0] ? "https" : "http", cfg->listen_host, server_port(srv),
	         cfg->cache_dir);
	if (server_admin_port(srv))
		log_info("admin endpoint on http://%s:%d/upstreams", cfg->admin_host,
		         server_admin_port(srv));
	event_base_dispatch(base);
	event_free(sigint);
	event_free(sigterm);
	event_free(sighup);
	/* Freeing the events put the default actions back: a SIGTERM from an
	 * impatient supervisor (or a late SIGHUP) while requests are cut and
	 * commits finish would kill the process instead of letting it exit 0. */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	server_free(srv);
	/* Connections closed just now finish in deferred callbacks (libevent
	 * frees a bufferevent from the loop): let them run before the base
	 * goes, or their buffers are never freed. */
	event_base_loop(base, EVLOOP_NONBLOCK);
	event_base_free(base);
	curl_global_cleanup();
	log_info("stopped");
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"listen", required_argument, NULL, 'l'},
	    {"cache-dir", required_argument, NULL, 'd'},
	    {"log-level", required_argument, NULL, 'L'},
	    {"test", no_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {"admin", required_argument, NULL, 'a'},
	    {"json", no_argument, NULL, 'j'},
	    {"server", required_argument, NULL, 'S'},
	    {"parallel", required_argument, NULL, 'P'},
	    {"unused", required_argument, NULL, 'U'},
	    {"max-size", required_argument, NULL, 'M'},
	    {"dry-run", no_argument, NULL, 'N'},
	    {NULL, 0, NULL, 0},
	};
	struct config cfg;
	struct cli cli = {.level = LOG_INFO};
	struct cachetool_opts tool = {0};
	const char *admin = NULL, *server = NULL;
	int parallel = 8;
	const char *command = "serve";
	char err[1024];
	int opt, check_only = 0, json = 0, help = 0, given = 0;

	config_init_defaults(&cfg);
	while ((opt = getopt_long(argc, argv, "c:l:d:thV", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			cli.config_file = optarg;
			break;
		case 'S':
			server = optarg;
			break;
		case 'P':
			parallel = atoi(optarg);
			if (parallel < 1 || parallel > 64) {
				fprintf(stderr, "modgate: --parallel takes 1 to 64\n");
				return 2;
			}
			break;
		case 'l':
			cli.listen = optarg;
			break;
		case 'd':
			cli.cache_dir = optarg;
			break;
		case 'L':
			if (log_parse_level(optarg, &cli.level) < 0) {
				fprintf(stderr, "modgate: unknown log level %s\n", optarg);
				return 2;
			}
			cli.level_given = 1;
			break;
		case 't':
			check_only = 1;
			break;
		case 'a':
			admin = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'U':
			tool.unused = optarg;
			break;
		case 'M':
			tool.max_size = optarg;
			break;
		case 'N':
			tool.dry_run = 1;
			break;
		case 'h':
			help = 1;
			break;
		case 'V':
			printf("modgate %s\n", MODGATE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		command = argv[optind++];
		given = 1;
	}
	if (help) {
		/* Without a command, --help is the overview, not serve's page. */
		if (!given || help_command(command, stdout) < 0)
			usage(stdout);
		return 0;
	}
	if (strcmp(command, "hash") == 0)
		return optind < argc ? fsck_hash(argc - optind, argv + optind) : (usage(stderr), 2);
	if (strcmp(command, "serve") != 0 && strcmp(command, "upstream") != 0 &&
	    strcmp(command, "fsck") != 0 && strcmp(command, "warm") != 0 &&
	    strcmp(command, "reload") != 0 && !cachetool_is_command(command)) {
		fprintf(stderr, "modgate: unknown command %s\n", command);
		usage(stderr);
		return 2;
	}
	if ((tool.unused || tool.max_size || tool.dry_run) && strcmp(command, "prune") != 0) {
		fprintf(stderr,
		        "modgate: --unused, --max-size and --dry-run are for modgate prune\n");
		return 2;
	}
	if (strcmp(command, "upstream") != 0 && strcmp(command, "warm") != 0 &&
	    !cachetool_is_command(command) && optind < argc) {
		fprintf(stderr, "modgate: %s takes no arguments (%s)\n", command, argv[optind]);
		return 2;
	}
	/* reload --admin needs no config: the file may be the broken one
	 * the running modgate is about to refuse. */
	if (strcmp(command, "reload") == 0 && admin)
		return ctl_reload(admin, getenv("MODGATE_ADMIN_TOKEN"));
	/* Only serve and -t use the TLS key (a running server's reload reads it
	 * in its own process). */
	config_read_tls_pair(check_only || strcmp(command, "serve") == 0);
	if (load_config(&cli, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "modgate: %s\n", err);
		if (strcmp(command, "reload") == 0)
			fprintf(stderr, "modgate: the running modgate was not asked; give --admin "
			                "ADDR:PORT to ask it anyway\n");
		return 1;
	}
	if (strcmp(command, "upstream") == 0 || strcmp(command, "reload") == 0) {
		char addr[CONFIG_HOST_MAX + 16];
		const char *token;

		if (!admin && cfg.admin_port == 0) {
			fprintf(stderr,
			        "modgate: the admin endpoint is off ([admin] listen = off); "
			        "give --admin ADDR:PORT\n");
			return 1;
		}
		snprintf(addr, sizeof(addr), strchr(cfg.admin_host, ':') ? "[%s]:%d" : "%s:%d",
		         cfg.admin_host[0] ? cfg.admin_host : "127.0.0.1", cfg.admin_port);
		/* $MODGATE_ADMIN_TOKEN first: while a token is rotated, the file
		 * already holds the new one and the server still the old. */
		token = getenv("MODGATE_ADMIN_TOKEN");
		if ((!token || !*token) && cfg.admin_token.source[0])
			token = cfg.admin_token.secret;
		if (strcmp(command, "reload") == 0)
			return ctl_reload(admin ? admin : addr, token);
		return ctl_upstream(argc - optind, argv + optind, admin ? admin : addr, token,
		                    json);
	}
	/* --log-level wins over [log] level. */
	log_set_level(cli.level_given ? cli.level : (enum log_level)cfg.log_level);
	if (strcmp(command, "fsck") == 0)
		return fsck_run(&cfg);
	if (strcmp(command, "warm") == 0) {
		char url[CONFIG_HOST_MAX + 32];

		if (optind >= argc) {
			fprintf(stderr,
			        "modgate warm: name go.sum, go.mod or `go list -m -json all` "
			        "files (- for stdin)\n");
			return 2;
		}
		snprintf(url, sizeof(url),
		         strchr(cfg.listen_host, ':') ? "%s://[%s]:%d" : "%s://%s:%d",
		         cfg.tls_cert[0] ? "https" : "http",
		         cfg.listen_host[0] ? cfg.listen_host : "127.0.0.1", cfg.listen_port);
		return warm_run(server ? server : url, parallel, argc - optind, argv + optind);
	}
	if (cachetool_is_command(command)) {
		tool.json = json;
		return cachetool_run(&cfg, command, argc - optind, argv + optind, &tool);
	}
	if (check_only) {
		config_dump(&cfg, stdout);
		fprintf(stderr, "modgate: configuration %s is valid\n",
		        cli.config_file ? cli.config_file : "(environment and defaults)");
		return 0;
	}
	if (cli.level_given)
		cfg.log_level = (int)cli.level;
	return serve(&cfg, &cli);
}
