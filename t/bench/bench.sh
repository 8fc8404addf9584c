#!/bin/sh
# make bench: modgate and nginx (one worker, sendfile on) serve the same
# cached .info and 1 MiB .zip; wrk loads each in the same run and we print
# requests/s for both and the ratio modgate/nginx.
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
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

cache=$work/cache
mkdir -p "$cache/example.com/bench/@v"
printf '{"Version":"v1.0.0","Time":"2024-01-02T15:04:05Z"}' >"$cache/example.com/bench/@v/v1.0.0.info"
head -c 1048576 /dev/urandom >"$cache/example.com/bench/@v/v1.0.0.zip"

# A port nobody answers on, from the ephemeral-free range.
port() {
	while :; do
		p=$(awk -v s="$$$(date +%N)" 'BEGIN { srand(s); print 20000 + int(rand() * 20000) }')
		curl -s -o /dev/null "http://127.0.0.1:$p/" 2>/dev/null || { echo "$p"; return; }
	done
}
mg_port=$(port)
ng_port=$(port)

"$bin" serve --listen "127.0.0.1:$mg_port" --cache-dir "$cache" --log-level warn \
	2>"$work/modgate.log" &
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
	while ! curl -fsS -o /dev/null "http://127.0.0.1:$1/example.com/bench/@v/v1.0.0.info"; do
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
