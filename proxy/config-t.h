/*
 * config-t.h — the effective configuration of one modgate process.
 *
 * A struct config is a plain value: fixed-size fields, no pointers, so it can
 * be copied with '=' (the loaders fill a copy and assign it back only when
 * everything parsed) and compared field by field. Later issues add pools,
 * weights and breaker settings here as more plain fields or fixed arrays.
 */
#ifndef MODGATE_CONFIG_T_H
#define MODGATE_CONFIG_T_H

#define CONFIG_MAX_UPSTREAMS 16
#define CONFIG_URL_MAX 512
#define CONFIG_HOST_MAX 256
#define CONFIG_PATH_MAX 4096
#define CONFIG_PATTERNS_MAX 4096

/* Built-in defaults; etc/modgate.ini documents the same numbers. */
#define CONFIG_DEFAULT_LISTEN_HOST "127.0.0.1"
#define CONFIG_DEFAULT_LISTEN_PORT 8080
#define CONFIG_DEFAULT_CACHE_DIR "/var/cache/modgate"
#define CONFIG_DEFAULT_GOPROXY "https://proxy.golang.org,direct"
#define CONFIG_DEFAULT_LIST_TTL_S 60
#define CONFIG_DEFAULT_NEGATIVE_TTL_S 60
#define CONFIG_DEFAULT_CONNECT_TIMEOUT_MS 5000
#define CONFIG_DEFAULT_FIRST_BYTE_TIMEOUT_MS 15000
#define CONFIG_DEFAULT_IDLE_TIMEOUT_MS 30000
#define CONFIG_DEFAULT_WORKERS 2
#define CONFIG_DEFAULT_MAX_CONNECTIONS 4096

/* Accepted ranges, checked at load time. */
#define CONFIG_TTL_MAX_S (7 * 24 * 3600)
#define CONFIG_TIMEOUT_MIN_MS 1
#define CONFIG_TIMEOUT_MAX_MS (3600 * 1000)
#define CONFIG_WORKERS_MIN 1
#define CONFIG_WORKERS_MAX 64
#define CONFIG_MAX_CONNECTIONS_MIN 1
#define CONFIG_MAX_CONNECTIONS_MAX 1000000

/* One GOPROXY list entry. A list stops at its first "direct" or "off": the go
 * command ignores whatever follows them, and so does the parser. */
enum config_upstream_kind {
	CONFIG_UP_URL,    /* a module proxy at url */
	CONFIG_UP_DIRECT, /* fetch from the origin's version control system */
	CONFIG_UP_OFF,    /* fail: "module lookup disabled by GOPROXY=off" */
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
};

struct config {
	/* Where clients connect. listen_host "" means every local address
	 * (written ":8080"); an IPv6 literal is stored without brackets. */
	char listen_host[CONFIG_HOST_MAX];
	int listen_port;

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
	int workers;               /* threads for fsync, rename and hashing */
	int max_connections;       /* client connections open at once */
};

#endif
