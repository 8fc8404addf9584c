/*
 * config-t.h — the effective configuration of one modgate process.
 *
 * A struct config is a plain value: fixed-size fields, no pointers, so it can
 * be copied with '=' (the loaders fill a copy and assign it back only when
 * everything parsed) and compared field by field. Pools, routes and breaker
 * settings are fixed arrays and plain fields too; the whole struct stays
 * under 300 KB, small enough for the stack of main and for a copy per server.
 */
#ifndef MODGATE_CONFIG_T_H
#define MODGATE_CONFIG_T_H

#include "breaker/breaker-t.h"

#define CONFIG_MAX_UPSTREAMS 16
#define CONFIG_URL_MAX 512
#define CONFIG_HOST_MAX 256
/* A verifier key: name (up to 255), "+", 8 hex digits, "+", 44 base64. */
#define CONFIG_SUMDB_KEY_MAX 320
#define CONFIG_PATH_MAX 4096
#define CONFIG_PATTERNS_MAX 4096
#define CONFIG_MAX_POOLS 16
#define CONFIG_MAX_POOL_UPSTREAMS 16
#define CONFIG_MAX_ROUTES 64
#define CONFIG_POOL_NAME_MAX 33 /* [a-z0-9_-]{1,32} and the NUL */
#define CONFIG_ROUTE_PATTERN_MAX 256
#define CONFIG_MAX_CREDS 32           /* distinct credentials in one config */
#define CONFIG_SECRET_MAX 1024        /* a token, or "user:password", and the NUL */
#define CONFIG_CRED_SOURCE_MAX 256    /* a secret file's path, or a variable's name */
#define CONFIG_MAX_DENY 64            /* [deny] lines */
#define CONFIG_MAX_ALLOW 64           /* [allow] lines */
#define CONFIG_VERSION_GLOB_MAX 64    /* the part after '@' of a [deny] pattern, and the NUL */
#define CONFIG_REASON_MAX 200         /* a [deny] reason or an [allow] note, and the NUL */
#define CONFIG_TLS_FINGERPRINT_LEN 32 /* SHA-256 (TLS_FINGERPRINT_LEN in proxy/tls.h) */

/* Built-in defaults; etc/modgate.ini documents the same numbers. */
#define CONFIG_DEFAULT_LISTEN_HOST "127.0.0.1"
#define CONFIG_DEFAULT_LISTEN_PORT 8080
#define CONFIG_DEFAULT_ADMIN_PORT 8081 /* on CONFIG_DEFAULT_LISTEN_HOST */
#define CONFIG_DEFAULT_CACHE_DIR "/var/cache/modgate"
#define CONFIG_DEFAULT_GOPROXY "https://proxy.golang.org,direct"
#define CONFIG_DEFAULT_LIST_TTL_S 60
#define CONFIG_DEFAULT_NEGATIVE_TTL_S 60
#define CONFIG_DEFAULT_CONNECT_TIMEOUT_MS 5000
#define CONFIG_DEFAULT_FIRST_BYTE_TIMEOUT_MS 15000
#define CONFIG_DEFAULT_METADATA_TIMEOUT_MS 30000 /* one metadata transfer, start to end */
#define CONFIG_DEFAULT_BUDGET_MS 60000           /* a request's wait for any upstream */
#define CONFIG_DEFAULT_STOP_TIMEOUT_MS 30000     /* SIGTERM: in-flight requests' last chance */
#define CONFIG_DEFAULT_IDLE_TIMEOUT_MS 30000
#define CONFIG_DEFAULT_WORKERS 2
#define CONFIG_DEFAULT_MAX_CONNECTIONS 4096
#define CONFIG_DEFAULT_STOP_TIMEOUT_MS 30000 /* SIGTERM: in-flight requests' time to finish */
#define CONFIG_DEFAULT_WEIGHT 1
#define CONFIG_DEFAULT_RETRY_BUDGET_PCT 20
#define CONFIG_DEFAULT_RETRY_MIN_PER_SEC 3
#define CONFIG_DEFAULT_HEDGE_MS 0 /* off */

/* Accepted ranges, checked at load time. */
#define CONFIG_TTL_MAX_S (7 * 24 * 3600)
#define CONFIG_TIMEOUT_MIN_MS 1
#define CONFIG_TIMEOUT_MAX_MS (3600 * 1000)
#define CONFIG_WORKERS_MIN 1
#define CONFIG_WORKERS_MAX 64
#define CONFIG_MAX_CONNECTIONS_MIN 1
#define CONFIG_MAX_CONNECTIONS_MAX 1000000
#define CONFIG_WEIGHT_MIN 1
#define CONFIG_WEIGHT_MAX 1000
#define CONFIG_RETRY_MIN_PER_SEC_MAX 1000
#define CONFIG_HEDGE_MIN_MS 1
#define CONFIG_HEDGE_MAX_MS (3600 * 1000)

/* One GOPROXY list entry. A list stops at its first "direct" or "off": the go
 * command ignores whatever follows them, and so does the parser. */
enum config_upstream_kind {
	CONFIG_UP_URL,    /* a module proxy at url */
	CONFIG_UP_DIRECT, /* fetch from the origin's version control system */
	CONFIG_UP_OFF,    /* fail: "module lookup disabled by GOPROXY=off" */
};

/* What an upstream's requests carry in their Authorization header. */
enum config_cred_kind {
	CONFIG_CRED_BEARER, /* "Bearer TOKEN" */
	CONFIG_CRED_BASIC,  /* "Basic base64(user:password)" */
};

/* Where a credential's secret was read from, at load time. */
enum config_cred_from {
	CONFIG_CRED_FILE,  /* token_file= / basic_file=: source is the absolute path */
	CONFIG_CRED_ENV,   /* token_env= / basic_env=: source is the variable's name */
	CONFIG_CRED_NETRC, /* the netrc file's entry: source is the machine */
};

/* One credential. Secrets are read when the config loads (a reload reads
 * them again); the struct keeps the value so that requests never touch the
 * file system. The secret is for the fetch layer alone: logs, metrics, the
 * admin endpoint, the dump and error bodies name the source, never it. */
struct config_cred {
	enum config_cred_kind kind;
	enum config_cred_from from;
	char source[CONFIG_CRED_SOURCE_MAX];
	/* BEARER: the token; BASIC: "user:password", split at the first ':'
	 * (a user name holds none). Printable ASCII, no line break. */
	char secret[CONFIG_SECRET_MAX];
};

struct config_upstream {
	enum config_upstream_kind kind;
	/* CONFIG_UP_URL only: a complete http://, https:// or file:// URL with
	 * the scheme in lower case and no trailing '/', so "$url/$module/@v/list"
	 * is the request URL. Other kinds: "". */
	char url[CONFIG_URL_MAX];
	/* 1 if the separator after this entry was '|' (try the next entry after
	 * any error), 0 for ',' or the end of the list (try the next entry only
	 * after 404 or 410). Always 0 for direct and off. */
	int fallthrough_any;
	/* 0: no credential; else config.creds[cred - 1] (from netrc only: a
	 * GOPROXY list has no room for options). */
	int cred;
};

/* What a pool does when none of its upstreams is usable (every breaker open
 * or every upstream tried) and the cache cannot answer. */
enum config_on_open {
	CONFIG_ON_OPEN_503,    /* 503 with Retry-After: fail fast */
	CONFIG_ON_OPEN_DIRECT, /* `go mod download` with GOPROXY=direct (go_binary) */
};

/* One "upstream = URL [weight=N] [backup]" line of a pool. The same URL may
 * appear in several pools: it is one upstream, with one breaker, at run time;
 * within one pool a URL appears once. */
struct config_pool_upstream {
	char url[CONFIG_URL_MAX]; /* normalised as config_upstream.url; never direct/off */
	int weight;               /* CONFIG_WEIGHT_MIN..CONFIG_WEIGHT_MAX */
	int backup;               /* 1: used only when no primary is usable */
	/* 0: none; else config.creds[cred - 1]: from the line's token_file=,
	 * token_env=, basic_file= or basic_env=, else from netrc. */
	int cred;
};

/* One [pool "NAME"] section. */
struct config_pool {
	char name[CONFIG_POOL_NAME_MAX]; /* [a-z0-9_-]{1,32}, unique, not direct/off */
	struct config_pool_upstream upstreams[CONFIG_MAX_POOL_UPSTREAMS]; /* file order */
	int n_upstreams;                                                  /* 1.. once loaded */
	enum config_on_open on_open;
	int retry_budget_pct;  /* retries <= this % of first attempts, 0..100 */
	int retry_min_per_sec; /* plus this many retries a second, 0..1000 */
	int hedge_ms;          /* 0: off; else a second metadata request after this */
};

/* Where config_route_for sends a module. */
enum config_route_target {
	CONFIG_ROUTE_POOL,   /* to pools[pool] */
	CONFIG_ROUTE_DIRECT, /* to the origin, through `go mod download` (go_binary) */
	CONFIG_ROUTE_OFF,    /* nowhere: module lookup disabled */
	CONFIG_ROUTE_CHAIN,  /* no pools: the GOPROXY chain (upstreams, noproxy) */
	CONFIG_ROUTE_NONE,   /* pools exist but no route matches the module */
};

/* One "PATTERN = POOL | direct | off" line of [route]. */
struct config_route {
	/* One path.Match glob matched against the leading path elements of a
	 * module path (GOPRIVATE semantics); any one trailing '/' removed. */
	char pattern[CONFIG_ROUTE_PATTERN_MAX];
	enum config_route_target target; /* POOL, DIRECT or OFF */
	int pool;                        /* index into pools for POOL, else -1 */
};

/* One "PATTERN[@VERSION] = REASON" line of [deny], or one "PATTERN = NOTE"
 * line of [allow] (version always "" there). */
struct config_policy_rule {
	/* A module path glob matched as one GOPRIVATE pattern
	 * (pathglob_match_prefix): the module and every path below it. */
	char pattern[CONFIG_ROUTE_PATTERN_MAX];
	/* "" for every version; else one path.Match glob over the version
	 * ("v1.2.3" exactly, "v1.2.*", "v0.0.0-2023*"). */
	char version[CONFIG_VERSION_GLOB_MAX];
	/* [deny]: shown to clients, never empty; [allow]: the operator's note,
	 * may be empty. Printable text, no line break. */
	char reason[CONFIG_REASON_MAX];
};

struct config {
	/* Where clients connect. listen_host "" means every local address
	 * (written ":8080"); an IPv6 literal is stored without brackets. */
	char listen_host[CONFIG_HOST_MAX];
	int listen_port;

	/* The admin endpoint (status, drain, force open/closed); admin_port 0
	 * means off. Default 127.0.0.1:8081: loopback, so only the host's
	 * operators reach it. */
	char admin_host[CONFIG_HOST_MAX];
	int admin_port;
	/* [admin] token_file or token_env: the bearer token the admin
	 * endpoint's POSTs must carry (kind BEARER; source "" when none, and
	 * then only loopback clients may POST). */
	struct config_cred admin_token;

	/* The checksum database (GOSUMDB syntax: "off", a known name, or
	 * "name+hash+keydata [URL]"): every .mod and .zip of a module not
	 * matching nosumdb is verified against it before it is cached, and
	 * clients reach it through modgate's /sumdb/NAME/. sumdb_name "" when
	 * off. sumdb_key is the verifier key; sumdb_url "" means through the
	 * upstreams (as /sumdb/NAME/ on a proxy), else the database itself. */
	char sumdb_name[CONFIG_HOST_MAX];
	char sumdb_key[CONFIG_SUMDB_KEY_MAX];
	char sumdb_url[CONFIG_URL_MAX];
	/* With sumdb_url: 0 for no credential, else config.creds[cred - 1],
	 * the netrc entry of the URL's host[:port] (as the go command sends
	 * for GOSUMDB). Always 0 without sumdb_url. */
	int sumdb_cred;

	/* GONOSUMDB patterns (else GOPRIVATE's): modules not checked against
	 * the database but pinned on first use. */
	char nosumdb[CONFIG_PATTERNS_MAX];

	/* The cache root. Default: $MODGATE_CACHE if set, else
	 * $XDG_CACHE_HOME/modgate (when absolute), else $HOME/.cache/modgate,
	 * else /var/cache/modgate. */
	char cache_dir[CONFIG_PATH_MAX];

	/* The upstream list, in GOPROXY order; n_upstreams >= 1 once loaded. */
	struct config_upstream upstreams[CONFIG_MAX_UPSTREAMS];
	int n_upstreams;

	/* GONOPROXY patterns, comma-separated (module.MatchPrefixPatterns);
	 * modules matching them are fetched direct. "" means none. */
	char noproxy[CONFIG_PATTERNS_MAX];

	int list_ttl_s;            /* @v/list, @latest, .info of a non-canonical query */
	int negative_ttl_s;        /* 404 and 410 answers */
	int connect_timeout_ms;    /* TCP + TLS handshake to an upstream */
	int first_byte_timeout_ms; /* request sent to first response byte */
	int idle_timeout_ms;       /* no byte for this long aborts a transfer */
	int metadata_timeout_ms;   /* a whole list/latest/info/mod transfer */
	int budget_ms;             /* a client waits at most this long for a first byte */
	int workers;               /* threads for fsync, rename and hashing */

	/* [log]: level (0 debug, 1 info, 2 warn, 3 error: enum log_level),
	 * JSON event lines or text, and where lines go: "" for stderr,
	 * "syslog", or an absolute file path. */
	int log_level;
	int log_json;
	char log_output[CONFIG_PATH_MAX];
	int max_connections; /* client connections open at once */
	int stop_timeout_ms; /* at SIGTERM, how long in-flight requests may still take */

	/* The circuit breaker settings of every pool upstream ([breaker]);
	 * breaker_config_check accepts them once loaded. */
	struct breaker_config breaker;

	/* [pool "NAME"] sections in file order, and the [route] lines in match
	 * order: most specific first (see config_route_for). Both come from the
	 * file alone: loading a file sets them to exactly what it declares. With
	 * one pool and no [route] section, routes holds the implied "* = POOL".
	 * With n_pools == 0 there are no routes and the GOPROXY chain above
	 * serves every module, as before pools existed. */
	struct config_pool pools[CONFIG_MAX_POOLS];
	int n_pools;
	struct config_route routes[CONFIG_MAX_ROUTES];
	int n_routes;

	/* Credentials of the upstreams, each once; an upstream's cred field
	 * points here. */
	struct config_cred creds[CONFIG_MAX_CREDS];
	int n_creds;

	/* The netrc file for upstreams without credentials of their own and
	 * for the checksum database's URL ([upstream] netrc): "" for none. netrc_optional is 1 when
	 * the path is the go command's default ($NETRC, else $HOME/.netrc), which may be missing; a
	 * path the file names must exist. */
	char netrc[CONFIG_PATH_MAX];
	int netrc_optional;

	/* [server] offline = on: answer from the cache alone and never ask an
	 * upstream (or the checksum database); what is not cached is a 404. */
	int offline;

	/* [server] tls_cert and tls_key: absolute paths of the PEM certificate
	 * chain and private key of the client listener, which then speaks TLS
	 * only; both "" for plain HTTP. Each load reads the pair and checks that
	 * the key belongs to the certificate; tls_fingerprint (all zero without
	 * TLS) is a SHA-256 over the chain's certificates, so that a reload can
	 * tell a renewed certificate from the same one at the same path. */
	char tls_cert[CONFIG_PATH_MAX];
	char tls_key[CONFIG_PATH_MAX];
	unsigned char tls_fingerprint[CONFIG_TLS_FINGERPRINT_LEN];

	/* [deny] and [allow], in file order; from the file alone, as pools are.
	 * With n_allow > 0 only modules matching an allow rule are served. */
	struct config_policy_rule deny[CONFIG_MAX_DENY];
	int n_deny;
	struct config_policy_rule allow[CONFIG_MAX_ALLOW];
	int n_allow;

	/* The go command found on $PATH at load time, an absolute path, when a
	 * pool has on_open = direct or a route goes to direct; else "". */
	char go_binary[CONFIG_PATH_MAX];
};

#endif
