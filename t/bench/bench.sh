#!/bin/sh
# make bench: modgate and nginx (one worker, sendfile on) serve the same
# cached .info and 1 MiB .zip; wrk loads each in the same run and we print
# requests/s for both and the ratio modgate/nginx.
#
# Then reload: the same .info while the configuration is reloaded 10 times
# a second, against no reloads.
#
# Then failover: the time for 100 sequential .info requests that must go
# upstream (a branch query with list_ttl 0) through a pool of two healthy
# upstreams, against the same with one of the two blackholed — before its
# breaker opens (the first requests each wait out the first-byte deadline)
# and after (none do) — printed as ratios.
#
# Then verification: the checker's hashing speed against sha256sum, and
# cold .zip fetches straight from an upstream against the same through
# modgate verifying them (database lookup and proofs, hash, commit).
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

# ---- reload -------------------------------------------------------------
# The same cached .info while the configuration is reloaded (SIGHUP) 10
# times a second, against the same modgate left alone, in the same run;
# wrk's error and non-2xx counts must stay 0.
path=/example.com/bench/@v/v1.0.0.info
secs=${duration%s}
quiet=$(wrk -t"$threads" -c"$conns" -d"$duration" "http://127.0.0.1:$mg_port$path")
wrk -t"$threads" -c"$conns" -d"$duration" "http://127.0.0.1:$mg_port$path" >"$work/wrk-reload.out" &
wrk_pid=$!
hups=0
while [ "$hups" -lt $((secs * 10)) ] && kill -0 "$wrk_pid" 2>/dev/null; do
	kill -HUP "$mg_pid"
	hups=$((hups + 1))
	sleep 0.1
done
wait "$wrk_pid"
busy=$(cat "$work/wrk-reload.out")
# Quiet again after: the reference is the mean of the runs on either side,
# so that whatever drifts over the run (warm-up, the other core's load)
# does not pass for the reloads' cost.
quiet2=$(wrk -t"$threads" -c"$conns" -d"$duration" "http://127.0.0.1:$mg_port$path")
q1=$(echo "$quiet" | awk '/Requests\/sec/ {print $2}')
q2=$(echo "$quiet2" | awk '/Requests\/sec/ {print $2}')
q=$(awk -v a="$q1" -v b="$q2" 'BEGIN { printf "%.2f", (a + b) / 2 }')
b=$(echo "$busy" | awk '/Requests\/sec/ {print $2}')
bad=$(echo "$busy" | awk '/Non-2xx|Socket errors/ {print}')
echo
echo "reload: .info req/s, wrk -c$conns -d$duration, with $hups SIGHUP reloads (10/s) vs none (before and after)"
printf '%-46s %14s %8s\n' case "req/s" ratio
printf '%-46s %14s %8s\n' "no reloads (mean of $q1 before, $q2 after)" "$q" 1.00
printf '%-46s %14s %8s\n' "reloaded 10 times a second" "$b" "$(awk -v a="$b" -v b="$q" 'BEGIN { printf "%.2f", a / b }')"
echo "errors or non-2xx answers while reloading: ${bad:-none}"
kill -0 "$mg_pid" || { echo "bench: modgate died while reloading"; cat "$work/modgate.log"; exit 1; }

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

# start_modgate NAME INI: a modgate on a free port with its own cache and
# INI (after [server] and [admin]) as its configuration; prints the port.
start_modgate() {
	p=$(port)
	printf '[server]\nlisten = 127.0.0.1:%s\ncache = %s\n[admin]\nlisten = off\n%s' \
		"$p" "$work/cache-$1" "$2" >"$work/$1.ini"
	"$bin" serve -c "$work/$1.ini" --log-level error >/dev/null 2>"$work/$1.log" &
	echo $! >>"$work/pids"
	wait_port_path "$p" / >&2
	echo "$p"
}
# start_pool NAME PRIMARY SECONDARY: a modgate with a two-upstream pool.
start_pool() {
	start_modgate "$1" "$(printf '[pool "p"]\nupstream = %s\nupstream = %s\n[cache]\nlist_ttl = 0s\n[timeouts]\nfirst_byte = 1s\n[breaker]\nfailures = 5\nopen = 60s\n' "$2" "$3")"
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

# ---- verification -------------------------------------------------------
# The checker's hashing: the h1: of a 100 MiB module zip (every file
# inflated and hashed, as before a commit) against sha256sum of the same
# bytes, in the same run; MiB/s counts the zip's bytes.
python3 - "$work/big.zip" <<'PY'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
    for i in range(25):
        # Half random, half text: a zip that is neither all stored nor all air.
        z.writestr("example.com/big@v1.0.0/f%02d.dat" % i, os.urandom(4 << 20) + (b"package big // filler\n" * 9532))
PY
zip_mb=$(awk -v b="$(stat -c %s "$work/big.zip")" 'BEGIN { printf "%.1f", b / 1048576 }')
best_ms() { # best of 3 wall times of a command, in ms
	best=""
	for i in 1 2 3; do
		t0=$(date +%s%N); "$@" >/dev/null; t1=$(date +%s%N)
		t=$(((t1 - t0) / 1000000)); [ -z "$best" ] || [ "$t" -lt "$best" ] && best=$t
	done
	echo "$best"
}
t_h1=$(best_ms "$bin" hash "$work/big.zip")
t_sha=$(best_ms sha256sum "$work/big.zip")
echo
echo "verification: h1: of a $zip_mb MiB module zip (inflate + SHA-256 of every file) vs sha256sum of its bytes, best of 3"
printf '%-46s %10s %10s %8s\n' tool ms "MiB/s" ratio
printf '%-46s %10s %10s %8s\n' "modgate hash (the checker's code)" "$t_h1" "$(awk -v m="$zip_mb" -v t="$t_h1" 'BEGIN { printf "%.0f", m * 1000 / t }')" "$(awk -v a="$t_sha" -v b="$t_h1" 'BEGIN { printf "%.2f", a / b }')"
printf '%-46s %10s %10s %8s\n' "sha256sum" "$t_sha" "$(awk -v m="$zip_mb" -v t="$t_sha" 'BEGIN { printf "%.0f", m * 1000 / t }')" 1.00

# The added latency of verification on cold .zip fetches: 20 modules' zips
# fetched one after another straight from an upstream that also serves a
# checksum database, then through a fresh modgate verifying against it
# (lookup, tiles, hash, commit), then through a fresh modgate that only
# pins (hash and commit, no database).
up_db=$(start_upstream -sumdb sum.bench.example -vkey-file "$work/vkey")
vkey=$(cat "$work/vkey")
start_verifier() { # NAME GOSUMDB
	start_modgate "$1" "$(printf '[upstream]\nproxy = %s\n[sumdb]\ndatabase = %s\n' "$up_db" "$2")"
}
twenty() { # BASE: ms for 20 cold zips, one after another
	urls=""
	for i in $(seq -w 0 19); do urls="$urls -o /dev/null $1/example.com/fix/m$i/@v/v1.0.0.zip"; done
	t0=$(date +%s%N)
	curl -sf $urls
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000))
}
t_direct=$(twenty "$up_db")
t_verified=$(twenty "http://127.0.0.1:$(start_verifier verified "$vkey")")
t_pinned=$(twenty "http://127.0.0.1:$(start_verifier pinned off)")
echo
echo "cold .zip fetches: 20 modules, one after another"
printf '%-46s %10s %8s\n' case "ms" ratio
printf '%-46s %10s %8s\n' "straight from the upstream" "$t_direct" 1.00
printf '%-46s %10s %8s\n' "through modgate, verified against the database" "$t_verified" "$(awk -v a="$t_verified" -v b="$t_direct" 'BEGIN { printf "%.2f", a / b }')"
printf '%-46s %10s %8s\n' "through modgate, pinned only (database off)" "$t_pinned" "$(awk -v a="$t_pinned" -v b="$t_direct" 'BEGIN { printf "%.2f", a / b }')"
