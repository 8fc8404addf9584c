#!/bin/sh
# make bench: modgate and nginx (one worker, sendfile on) serve the same
# cached .info and 1 MiB .zip; wrk loads each in the same run and we print
# requests/s for both and the ratio modgate/nginx.
#
# Then failover: the time for 100 sequential .info requests that must go
# upstream (a branch query with list_ttl 0) through a pool of two healthy
# upstreams, against the same with one of the two blackholed — before its
# breaker opens (the first requests each wait out the first-byte deadline)
# and after (none do) — printed as ratios.
#
# usage: bench.sh MODGATE_BIN    (env: DURATION=10s CONNS=50 THREADS=1)
set -eu
bin=$1
duration=${DURATION:-10s}
conns=${CONNS:-50}
threads=${THREADS:-1}
work=$(mktemp -d /tmp/modgate-bench.XXXXXX)
mg_pid=""
ng_pid=""
cleanup() {
	[ -n "$mg_pid" ] && kill "$mg_pid" 2>/dev/null && wait "$mg_pid" 2>/dev/null
	[ -n "$ng_pid" ] && kill "$ng_pid" 2>/dev/null && wait "$ng_pid" 2>/dev/null
	# Started inside $(...) subshells: their pids are in a file.
	[ -f "$work/pids" ] && kill $(cat "$work/pids") 2>/dev/null
	sleep 0.2
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

cache=$work/cache
mkdir -p "$cache/example.com/bench/@v"
printf '{"Version":"v1.0.0","Time":"2024-01-02T15:04:05Z"}' >"$cache/example.com/bench/@v/v1.0.0.info"
head -c 1048576 /dev/urandom >"$cache/example.com/bench/@v/v1.0.0.zip"

# A port nobody answers on, outside the ephemeral range.
port() {
	while :; do
		p=$(shuf -i 20000-30000 -n 1)
		curl -s -o /dev/null "http://127.0.0.1:$p/" 2>/dev/null || { echo "$p"; return; }
	done
}
mg_port=$(port)
ng_port=$(port)

printf '[admin]\nlisten = off\n' >"$work/serve.ini"
"$bin" serve -c "$work/serve.ini" --listen "127.0.0.1:$mg_port" --cache-dir "$cache" \
	--log-level warn 2>"$work/modgate.log" &
mg_pid=$!

nginx_conf=$work/nginx.conf
cat >"$nginx_conf" <<NGINX
worker_processes 1;
master_process off;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	keepalive_requests 1000000;
	types { application/json info; application/zip zip; }
	default_type text/plain;
	client_body_temp_path $work/ngx-body;
	proxy_temp_path $work/ngx-proxy;
	fastcgi_temp_path $work/ngx-fastcgi;
	uwsgi_temp_path $work/ngx-uwsgi;
	scgi_temp_path $work/ngx-scgi;
	server {
		listen 127.0.0.1:$ng_port;
		root $cache;
	}
}
NGINX
nginx -c "$nginx_conf" -p "$work" 2>"$work/nginx.out" &
ng_pid=$!

wait_port() {
	i=0
	while ! curl -fs -o /dev/null "http://127.0.0.1:$1/example.com/bench/@v/v1.0.0.info"; do
		i=$((i + 1))
		[ $i -gt 100 ] && { echo "bench: server on port $1 did not come up"; cat "$work"/*.log "$work/nginx.out"; exit 1; }
		sleep 0.1
	done
}
wait_port "$mg_port"
wait_port "$ng_port"

rps() {
	wrk -t"$threads" -c"$conns" -d"$duration" "$1" | awk '/Requests\/sec/ {print $2}'
}

echo "modgate bench: wrk -t$threads -c$conns -d$duration, one loop thread vs nginx worker_processes 1 (sendfile on)"
printf '%-28s %14s %14s %8s\n' object "modgate req/s" "nginx req/s" ratio
for obj in v1.0.0.info v1.0.0.zip; do
	path=/example.com/bench/@v/$obj
	# Warm both (page cache, connection setup).
	wrk -t1 -c4 -d1s "http://127.0.0.1:$ng_port$path" >/dev/null
	wrk -t1 -c4 -d1s "http://127.0.0.1:$mg_port$path" >/dev/null
	m=$(rps "http://127.0.0.1:$mg_port$path")
	n=$(rps "http://127.0.0.1:$ng_port$path")
	ratio=$(awk -v m="$m" -v n="$n" 'BEGIN { printf "%.2f", m / n }')
	printf '%-28s %14s %14s %8s\n' "$obj" "$m" "$n" "$ratio"
done

# ---- failover -----------------------------------------------------------
(cd "$(dirname "$0")/.." && go build -o "$work/upstream" ./fixtures/cmd/upstream)
start_upstream() {
	"$work/upstream" -print-url "$@" >"$work/up.$$.url" 2>/dev/null &
	echo $! >>"$work/pids"
	i=0
	until [ -s "$work/up.$$.url" ]; do i=$((i + 1)); [ $i -gt 100 ] && exit 1; sleep 0.05; done
	cat "$work/up.$$.url"
	rm -f "$work/up.$$.url"
}
up_a=$(start_upstream)
up_b=$(start_upstream)
up_hole=$(start_upstream -blackhole)

# start_pool NAME PRIMARY SECONDARY: a modgate with a two-upstream pool.
start_pool() {
	p=$(port)
	cat >"$work/$1.ini" <<INI
[server]
listen = 127.0.0.1:$p
cache = $work/cache-$1
[admin]
listen = off
[pool "p"]
upstream = $2
upstream = $3
[cache]
list_ttl = 0s
[timeouts]
first_byte = 1s
[breaker]
failures = 5
open = 60s
INI
	"$bin" serve -c "$work/$1.ini" --log-level error >/dev/null 2>"$work/$1.log" &
	echo $! >>"$work/pids"
	wait_port_path "$p" / >&2
	echo "$p"
}
wait_port_path() {
	i=0
	# Any HTTP answer will do (a 404 for "/"): it is up.
	while ! curl -s -o /dev/null "http://127.0.0.1:$1$2"; do
		i=$((i + 1)); [ $i -gt 100 ] && { echo "bench: modgate on $1 did not come up"; exit 1; }
		sleep 0.1
	done
}
# hundred PORT: milliseconds for 100 sequential .info requests on one connection.
hundred() {
	urls=""
	for i in $(seq 100); do urls="$urls -o /dev/null http://127.0.0.1:$1/example.com/fix/nov/@v/main.info"; done
	t0=$(date +%s%N)
	curl -s $urls
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000))
}
healthy=$(start_pool healthy "$up_a" "$up_b")
t_ok=$(hundred "$healthy")
holed=$(start_pool holed "$up_hole" "$up_b")
t_cold=$(hundred "$holed")
t_open=$(hundred "$holed")
echo
echo "failover: 100 sequential .info requests through a pool of two (first_byte 1s, breaker opens after 5 failures)"
printf '%-46s %10s %8s\n' case "ms" ratio
printf '%-46s %10s %8s\n' "both upstreams healthy" "$t_ok" 1.00
printf '%-46s %10s %8s\n' "one blackholed, breaker still closed" "$t_cold" "$(awk -v a="$t_cold" -v b="$t_ok" 'BEGIN { printf "%.2f", a / b }')"
printf '%-46s %10s %8s\n' "one blackholed, breaker open" "$t_open" "$(awk -v a="$t_open" -v b="$t_ok" 'BEGIN { printf "%.2f", a / b }')"
