#!/bin/sh
# make fuzz: builds every libFuzzer target t/fuzz/fuzz_*.c against the
# core library (clang, ASan + UBSan) and runs each for FUZZ_SECONDS
# (default 60). A crash fails the run and leaves its input in build-fuzz/.
set -eu
secs=${FUZZ_SECONDS:-60}
out=build-fuzz
pkgs="libevent libevent_pthreads evhtp libcurl openssl jansson inih libzip zlib"
cflags="-std=c11 -D_GNU_SOURCE -g -O1 -I. $(pkg-config --cflags $pkgs) -fsanitize=address,undefined"
libs="$(pkg-config --libs $pkgs) -lpthread"
mkdir -p "$out/obj"
objs=""
for src in proxy/*.c cache/*.c breaker/*.c sumdb/*.c; do
	[ -f "$src" ] || continue
	[ "$src" = proxy/main.c ] && continue
	obj="$out/obj/$(echo "$src" | tr / _).o"
	clang $cflags -fsanitize=fuzzer-no-link -c "$src" -o "$obj"
	objs="$objs $obj"
done
status=0
for target in t/fuzz/fuzz_*.c; do
	name=$(basename "$target" .c)
	clang $cflags -fsanitize=fuzzer "$target" $objs $libs -o "$out/$name"
	corpus="$out/corpus/$name"
	mkdir -p "$corpus"
	[ -d "t/fuzz/corpus/$name" ] && cp -n t/fuzz/corpus/"$name"/* "$corpus"/ 2>/dev/null || true
	echo "fuzz: $name for ${secs}s"
	dict=""
	[ -f "t/fuzz/$name.dict" ] && dict="-dict=$(pwd)/t/fuzz/$name.dict"
	if ! (cd "$out" && "./$name" -max_total_time="$secs" -print_final_stats=1 $dict \
		-artifact_prefix="$name-" "corpus/$name" >"$name.log" 2>&1); then
		echo "fuzz: $name FAILED; see $out/$name.log"
		tail -30 "$out/$name.log"
		status=1
	else
		grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$out/$name.log" | sed "s/^/fuzz: $name /"
	fi
done
exit $status
