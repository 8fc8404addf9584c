package integration

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"modgate.test/t/fixtures/upstream"
)

// appDir is a fresh main module for go get.
func appDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.test/app\n\ngo 1.21\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// requireOf returns the version go.mod in dir requires of path ("" if none).
func requireOf(t *testing.T, dir, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require "))
		if len(f) >= 2 && f[0] == path {
			return f[1]
		}
	}
	return ""
}

const denyReason = "known-bad release, see INC-123"

// fillCache downloads path@version through a modgate of its own, online,
// also asking it for each of paths, and returns the cache directory once
// the zip is committed and that modgate has stopped.
func fillCache(t *testing.T, u *upstream.Server, path, version string, paths ...string) string {
	t.Helper()
	cache := filepath.Join(t.TempDir(), "cache")
	m := startModgate(t, options{proxy: u.URL(), cacheDir: cache})
	download(t, goEnv(t, m.URL), path+"@"+version)
	waitCached(t, cachePath(t, cache, path, version, ".zip"))
	for _, p := range paths {
		if st, _, body := get(t, m.URL+p); st != 200 {
			t.Fatalf("%s online: %d %q", p, st, body)
		}
	}
	m.stop()
	return cache
}

// wantCounted fails unless /metrics has the counter line, above zero.
func wantCounted(t *testing.T, text, counter string) {
	t.Helper()
	if !strings.Contains(text, "\n"+counter+" ") || strings.Contains(text, "\n"+counter+" 0\n") {
		t.Errorf("/metrics: %s is missing or 0", counter)
	}
}

// A denied version is refused with its reason, which the go command shows;
// @latest skips denied versions because they are left out of the list.
func TestPolicyDenyVersion(t *testing.T) {
	u := newUpstream(t)
	u.AddVersion("example.com/fix/b", "v1.1.0")
	u.AddVersion("example.com/fix/b", "v1.2.0")
	m := startModgate(t, options{proxy: u.URL(), extra: "[deny]\n" +
		"example.com/fix/b@v1.0.1 = " + denyReason + "\n" +
		"example.com/fix/b@v1.2.* = v1.2 breaks the build\n"})
	env := goEnv(t, m.URL)

	dir := appDir(t)
	_, errs, err := runGo(t, env, dir, "get", "example.com/fix/b@v1.0.1")
	if err == nil {
		t.Fatalf("go get of a denied version succeeded")
	}
	if !strings.Contains(errs, "403 Forbidden") ||
		!strings.Contains(errs, "modgate: example.com/fix/b@v1.0.1 is denied: "+denyReason) {
		t.Errorf("go get of a denied version: the reason is not in the go command's error:\n%s", errs)
	}
	if n := u.Count("/example.com/fix/b/@v/v1.0.1.info"); n != 0 {
		t.Errorf("the upstream was asked %d times for the denied version", n)
	}

	// v1.2.0 is the newest, but denied by the glob; v1.1.0 is the newest
	// left.
	mustGo(t, env, dir, "get", "example.com/fix/b@latest")
	if v := requireOf(t, dir, "example.com/fix/b"); v != "v1.1.0" {
		t.Errorf("go get @latest chose %q, want v1.1.0 (the newest version not denied)", v)
	}

	st, h, body := get(t, m.URL+"/example.com/fix/b/@v/list")
	if st != 200 {
		t.Fatalf("@v/list: %d %s", st, body)
	}
	got := strings.Fields(string(body))
	if strings.Join(got, " ") != "v1.0.0 v1.1.0" && strings.Join(got, " ") != "v1.1.0 v1.0.0" {
		t.Errorf("@v/list served %q, want v1.0.0 and v1.1.0 only", body)
	}
	if h.Get("Content-Length") != "" && h.Get("Content-Length") != strconv.Itoa(len(body)) {
		t.Errorf("@v/list: Content-Length %s for %d bytes", h.Get("Content-Length"), len(body))
	}
	// The cache keeps the upstream's whole list: the filter is applied
	// when serving, so a rule removed later brings the versions back.
	cached, err := os.ReadFile(filepath.Join(m.CacheDir, "example.com/fix/b/@v/list"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"v1.0.1", "v1.2.0"} {
		if !strings.Contains(string(cached), v) {
			t.Errorf("the cached list lacks %s: %q", v, cached)
		}
	}

	// The upstream's @latest names v1.2.0: refused with the rule's reason.
	st, _, body = get(t, m.URL+"/example.com/fix/b/@latest")
	if st != 403 || !strings.Contains(string(body), "example.com/fix/b@v1.2.0 is denied: v1.2 breaks the build") {
		t.Errorf("@latest resolving to a denied version: %d %q", st, body)
	}
	// So does a query that resolves to one.
	u.SetQuery("example.com/fix/b", "main", "v1.0.1")
	st, _, body = get(t, m.URL+"/example.com/fix/b/@v/main.info")
	if st != 403 || !strings.Contains(string(body), "example.com/fix/b@v1.0.1 is denied: "+denyReason) {
		t.Errorf("a query resolving to a denied version: %d %q", st, body)
	}
	// One resolving to a version not denied is served as it came.
	u.SetQuery("example.com/fix/b", "dev", "v1.1.0")
	st, _, body = get(t, m.URL+"/example.com/fix/b/@v/dev.info")
	if st != 200 || !strings.Contains(string(body), `"v1.1.0"`) {
		t.Errorf("a query resolving to an allowed version: %d %q", st, body)
	}

	text := metricsText(t, m)
	wantCounted(t, text, `modgate_policy_refusals_total{reason="deny"}`)
	wantCounted(t, text, "modgate_policy_filtered_versions_total")
}

// Deny is checked before the cache: a version cached before it was denied
// is refused too, without asking the upstream.
func TestPolicyDenyCachedVersion(t *testing.T) {
	u := newUpstream(t)
	cache := fillCache(t, u, "example.com/fix/b", "v1.0.1")
	u.ResetCounts()
	m := startModgate(t, options{proxy: u.URL(), cacheDir: cache,
		extra: "[deny]\nexample.com/fix/b@v1.0.1 = " + denyReason + "\n"})
	for _, ext := range []string{".info", ".mod", ".zip"} {
		st, _, body := get(t, m.URL+"/example.com/fix/b/@v/v1.0.1"+ext)
		if st != 403 || !strings.Contains(string(body), denyReason) {
			t.Errorf("cached but denied %s: %d %q", ext, st, body)
		}
	}
	// Other versions are served as before.
	if st, _, body := get(t, m.URL+"/example.com/fix/b/@v/v1.0.0.info"); st != 200 {
		t.Errorf("v1.0.0.info: %d %q", st, body)
	}
	if n := u.Count("/example.com/fix/b/@v/v1.0.1.zip"); n != 0 {
		t.Errorf("the upstream was asked %d times for the denied zip", n)
	}
}

// With an [allow] list, other modules are refused, even their cached
// versions; allowed ones are served.
func TestPolicyAllowList(t *testing.T) {
	u := newUpstream(t)
	m := startModgate(t, options{proxy: u.URL(), extra: "[allow]\n" +
		"example.com/fix/m0* = the m0x family\n" +
		"example.com/fix/Upper =\n"})
	env := goEnv(t, m.URL)

	download(t, env, "example.com/fix/m01@v1.0.0")
	download(t, env, "example.com/fix/Upper@v0.1.0")

	dir := appDir(t)
	_, errs, err := runGo(t, env, dir, "get", "example.com/fix/b@v1.0.0")
	if err == nil {
		t.Fatalf("go get of a module not on the allow list succeeded")
	}
	if !strings.Contains(errs, "modgate: example.com/fix/b is not on this proxy's allow list") {
		t.Errorf("go get of a module not allowed: no clear reason in:\n%s", errs)
	}
	for _, p := range []string{"/example.com/fix/b/@v/list", "/example.com/fix/m11/@latest",
		"/example.com/fix/a/@v/v1.0.0.zip"} {
		if st, _, body := get(t, m.URL+p); st != 403 || !strings.Contains(string(body), "allow list") {
			t.Errorf("%s: %d %q, want 403 naming the allow list", p, st, body)
		}
	}
	for _, p := range []string{"/example.com/fix/b/@v/v1.0.0.info", "/example.com/fix/b/@v/list"} {
		if n := u.Count(p); n != 0 {
			t.Errorf("the upstream was asked %d times for %s", n, p)
		}
	}
	text := metricsText(t, m)
	wantMetric(t, text, `modgate_policy_refusals_total{reason="deny"} 0`)
	wantCounted(t, text, `modgate_policy_refusals_total{reason="allow"}`)
}

// Offline, modgate serves its cache and nothing else, without a single
// upstream request, whether or not the upstream is up.
func TestOfflineServesCacheOnly(t *testing.T) {
	u := newUpstream(t)
	cache := fillCache(t, u, "example.com/fix/b", "v1.0.0", "/example.com/fix/b/@v/list")
	u.ResetCounts()
	m := startModgate(t, options{proxy: u.URL(), cacheDir: cache,
		server: "offline = on", extra: "[cache]\nlist_ttl = 1s\n"})
	if st, _, body := get(t, m.URL+"/readyz"); st != 200 || !strings.Contains(string(body), "offline") {
		t.Errorf("/readyz offline: %d %q", st, body)
	}

	check := func(phase string) {
		env := goEnv(t, m.URL)
		d := download(t, env, "example.com/fix/b@v1.0.0")
		if want := fixtureModule(t, u, "example.com/fix/b", "v1.0.0"); d.Sum != want.Sum {
			t.Errorf("%s: cached download has sum %s, want %s", phase, d.Sum, want.Sum)
		}
		start := time.Now()
		_, errs, err := runGo(t, env, t.TempDir(), "mod", "download", "example.com/fix/b@v1.0.1")
		if err == nil {
			t.Fatalf("%s: go mod download of an uncached version succeeded offline", phase)
		}
		if !strings.Contains(errs, "modgate is offline: example.com/fix/b@v1.0.1 is not in its cache") {
			t.Errorf("%s: the go command does not show the offline message:\n%s", phase, errs)
		}
		if el := time.Since(start); el > 20*time.Second {
			t.Errorf("%s: the uncached download took %v to fail", phase, el)
		}
		// The list is past its TTL: served all the same, marked stale.
		st, h, body := get(t, m.URL+"/example.com/fix/b/@v/list")
		if st != 200 || h.Get("X-Modgate-Cache") != "STALE" || !strings.Contains(string(body), "v1.0.0") {
			t.Errorf("%s: stale @v/list: %d %q %q", phase, st, h.Get("X-Modgate-Cache"), body)
		}
		for p, want := range map[string]string{
			"/example.com/fix/b/@latest":                            "modgate is offline: the latest version of example.com/fix/b is not in its cache",
			"/example.com/fix/a/@v/list":                            "modgate is offline: the version list of example.com/fix/a is not in its cache",
			"/example.com/fix/b/@v/x.info":                          "modgate is offline: example.com/fix/b@x is not in its cache",
			"/sumdb/sum.golang.org/lookup/example.com/fix/b@v1.0.0": "modgate is offline: checksum database answer",
		} {
			if st, _, body := get(t, m.URL+p); st != 404 || !strings.Contains(string(body), want) {
				t.Errorf("%s: %s: %d %q, want 404 %q", phase, p, st, body, want)
			}
		}
	}
	time.Sleep(1100 * time.Millisecond) // past list_ttl
	check("upstream up")
	if n := u.Total(); n != 0 {
		t.Errorf("offline modgate sent %d requests to the upstream", n)
	}
	u.Stop()
	check("upstream stopped")

	text := metricsText(t, m)
	wantMetric(t, text, "modgate_offline 1", "modgate_upstream_fetches_total 0")
	wantCounted(t, text, `modgate_policy_refusals_total{reason="offline"}`)
}
