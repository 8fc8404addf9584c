package integration

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"
)

type downloadJSON struct {
	Path, Version, Info, GoMod, Zip, Dir, Sum, GoModSum, Error string
}

func download(t *testing.T, env []string, target string) downloadJSON {
	t.Helper()
	out := mustGo(t, env, t.TempDir(), "mod", "download", "-json", target)
	var d downloadJSON
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("go mod download -json output: %v\n%s", err, out)
	}
	return d
}

// cachePath is where modgate keeps module@version's file with suffix ext.
func cachePath(t *testing.T, cache, path, version, ext string) string {
	ep, err := module.EscapePath(path)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := module.EscapeVersion(version)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(cache, ep, "@v", ev+ext)
}

func waitCached(t *testing.T, file string) []byte {
	t.Helper()
	var b []byte
	eventually(t, "commit of "+file, func() bool {
		var err error
		b, err = os.ReadFile(file)
		return err == nil
	})
	return b
}

// The go command downloads through modgate; modgate's cache then holds the
// upstream's bytes exactly, and serves them with every upstream stopped.
func TestDownloadThenServeFromCacheWithUpstreamStopped(t *testing.T) {
	u := newUpstream(t)
	m := startModgate(t, options{proxy: u.URL()})
	env := goEnv(t, m.URL)

	targets := []struct{ path, version string }{
		{"example.com/fix/a", "v1.1.0"},
		{"example.com/fix/b", "v1.0.0"},
		{"example.com/fix/Upper", "v0.1.0"},
		{"example.com/fix/v2mod/v2", "v2.0.0"},
		{"example.com/fix/big", "v1.0.0"},
	}
	for _, tg := range targets {
		want := fixtureModule(t, u, tg.path, tg.version)
		d := download(t, env, tg.path+"@"+tg.version)
		if d.Sum != want.Sum || d.GoModSum != want.GoModSum {
			t.Errorf("%s@%s: go computed %s %s, fixture has %s %s", tg.path, tg.version,
				d.Sum, d.GoModSum, want.Sum, want.GoModSum)
		}
		for ext, body := range map[string][]byte{".info": want.Info, ".mod": want.Mod, ".zip": want.Zip} {
			got := waitCached(t, cachePath(t, m.CacheDir, tg.path, tg.version, ext))
			if !bytes.Equal(got, body) {
				t.Errorf("%s@%s%s: cached %d bytes differ from the %d the upstream served",
					tg.path, tg.version, ext, len(got), len(body))
			}
		}
	}

	u.Stop()
	u.ResetCounts()
	env = goEnv(t, m.URL) // an empty module cache: everything comes from modgate
	for _, tg := range targets {
		want := fixtureModule(t, u, tg.path, tg.version)
		d := download(t, env, tg.path+"@"+tg.version)
		if d.Sum != want.Sum {
			t.Errorf("%s@%s from cache: Sum %s, want %s", tg.path, tg.version, d.Sum, want.Sum)
		}
		zip, err := os.ReadFile(d.Zip)
		if err != nil || !bytes.Equal(zip, want.Zip) {
			t.Errorf("%s@%s from cache: zip differs from the upstream's (%v)", tg.path, tg.version, err)
		}
	}
	if n := u.Total(); n != 0 {
		t.Errorf("stopped upstream saw %d requests", n)
	}

	// The cache directory is itself a GOPROXY tree.
	env = goEnv(t, "file://"+m.CacheDir)
	for _, tg := range targets {
		want := fixtureModule(t, u, tg.path, tg.version)
		if d := download(t, env, tg.path+"@"+tg.version); d.Sum != want.Sum {
			t.Errorf("GOPROXY=file://cache %s@%s: Sum %s, want %s", tg.path, tg.version, d.Sum, want.Sum)
		}
	}
}

func TestHitMissHeadersAndHead(t *testing.T) {
	u := newUpstream(t)
	m := startModgate(t, options{proxy: u.URL()})
	want := fixtureModule(t, u, "example.com/fix/b", "v1.0.1")
	url := m.URL + "/example.com/fix/b/@v/v1.0.1.mod"

	st, h, body := get(t, url)
	if st != 200 || h.Get("X-Modgate-Cache") != "MISS" || !bytes.Equal(body, want.Mod) {
		t.Fatalf("first GET: %d %q %q", st, h.Get("X-Modgate-Cache"), body)
	}
	if ct := h.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf(".mod Content-Type %q", ct)
	}
	waitCached(t, cachePath(t, m.CacheDir, "example.com/fix/b", "v1.0.1", ".mod"))
	st, h, body = get(t, url)
	if st != 200 || h.Get("X-Modgate-Cache") != "HIT" || !bytes.Equal(body, want.Mod) {
		t.Fatalf("second GET: %d %q %q", st, h.Get("X-Modgate-Cache"), body)
	}
	if n := u.Count("/example.com/fix/b/@v/v1.0.1.mod"); n != 1 {
		t.Errorf("upstream asked %d times, want 1", n)
	}
	st, h, body = do(t, "HEAD", url)
	if st != 200 || len(body) != 0 || h.Get("Content-Length") != strconv.Itoa(len(want.Mod)) {
		t.Errorf("HEAD: %d, Content-Length %q, %d body bytes", st, h.Get("Content-Length"), len(body))
	}
	st, h, _ = do(t, "HEAD", m.URL+"/example.com/fix/b/@v/v1.0.0.zip")
	if st != 200 || h.Get("Content-Length") != strconv.Itoa(len(fixtureModule(t, u, "example.com/fix/b", "v1.0.0").Zip)) ||
		h.Get("Content-Type") != "application/zip" {
		t.Errorf("HEAD miss: %d %v", st, h)
	}
	st, h, body = get(t, m.URL+"/example.com/fix/b/@v/v1.0.0.info")
	if st != 200 || h.Get("Content-Type") != "application/json" || !bytes.Contains(body, []byte(`"Version":"v1.0.0"`)) {
		t.Errorf(".info: %d %q %s", st, h.Get("Content-Type"), body)
	}
	st, _, _ = do(t, "POST", url)
	if st != 405 {
		t.Errorf("POST: %d, want 405", st)
	}
}

func TestListVersionsAndGoGet(t *testing.T) {
	u := newUpstream(t)
	m := startModgate(t, options{proxy: u.URL()})
	env := goEnv(t, m.URL)

	out := mustGo(t, env, t.TempDir(), "list", "-m", "-versions", "example.com/fix/a")
	if strings.TrimSpace(out) != "example.com/fix/a v1.0.0 v1.1.0 v1.2.0" {
		t.Errorf("go list -m -versions: %q", out)
	}

	app := t.TempDir()
	mustGo(t, env, app, "mod", "init", "example.com/app")
	mustGo(t, env, app, "get", "example.com/fix/a@v1.1.0")
	gomod, err := os.ReadFile(filepath.Join(app, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"example.com/fix/a v1.1.0", "example.com/fix/b v1.0.0"} {
		if !strings.Contains(string(gomod), want) {
			t.Errorf("go.mod after go get lacks %q:\n%s", want, gomod)
		}
	}
	// @latest resolution goes through @v/list.
	mustGo(t, env, app, "get", "example.com/fix/b@latest")
	gomod, _ = os.ReadFile(filepath.Join(app, "go.mod"))
	if !strings.Contains(string(gomod), "example.com/fix/b v1.0.1") {
		t.Errorf("go get b@latest did not pick v1.0.1:\n%s", gomod)
	}
}

// A module without tagged versions resolves through @latest and queries;
// both are mutable and refreshed after their TTL.
func TestMutableQueriesRefreshAfterTTL(t *testing.T) {
	u := newUpstream(t)
	m := startModgate(t, options{proxy: u.URL(), extra: "\n[cache]\nlist_ttl = 2s\n"})
	env := goEnv(t, m.URL)

	out := mustGo(t, env, t.TempDir(), "list", "-m", "example.com/fix/nov@latest")
	if !strings.Contains(out, "v0.0.0-20240101000000-abcdefabcdef") {
		t.Errorf("nov@latest: %q", out)
	}
	out = mustGo(t, env, t.TempDir(), "list", "-m", "example.com/fix/nov@main")
	if !strings.Contains(out, "v0.0.0-20240101000000-abcdefabcdef") {
		t.Errorf("nov@main: %q", out)
	}

	before := u.Count("/example.com/fix/a/@v/list")
	get(t, m.URL+"/example.com/fix/a/@v/list")
	waitCached(t, filepath.Join(m.CacheDir, "example.com/fix/a/@v/list"))
	u.AddVersion("example.com/fix/a", "v1.3.0")
	_, h, body := get(t, m.URL+"/example.com/fix/a/@v/list")
	if strings.Contains(string(body), "v1.3.0") || h.Get("X-Modgate-Cache") != "HIT" {
		t.Errorf("list within its TTL: %q %q", h.Get("X-Modgate-Cache"), body)
	}
	time.Sleep(2100 * time.Millisecond)
	_, h, body = get(t, m.URL+"/example.com/fix/a/@v/list")
	if !strings.Contains(string(body), "v1.3.0") || h.Get("X-Modgate-Cache") != "MISS" {
		t.Errorf("list after its TTL: %q %q", h.Get("X-Modgate-Cache"), body)
	}
	if n := u.Count("/example.com/fix/a/@v/list") - before; n != 2 {
		t.Errorf("upstream list requests: %d, want 2", n)
	}

	// Expired and every upstream down: the old answer, marked stale. The
	// go command also reads the newest version's .info and .mod (for
	// retractions): fetch them once while the upstream is up.
	mustGo(t, goEnv(t, m.URL), t.TempDir(), "list", "-m", "-versions", "example.com/fix/a")
	time.Sleep(2100 * time.Millisecond)
	u.Stop()
	st, h, body := get(t, m.URL+"/example.com/fix/a/@v/list")
	if st != 200 || h.Get("X-Modgate-Cache") != "STALE" || !strings.Contains(string(body), "v1.3.0") {
		t.Errorf("stale list: %d %q %q", st, h.Get("X-Modgate-Cache"), body)
	}
	out = mustGo(t, goEnv(t, m.URL), t.TempDir(), "list", "-m", "-versions", "example.com/fix/a")
	if !strings.Contains(out, "v1.3.0") {
		t.Errorf("go list with the upstream down: %q", out)
	}
	// Never cached and the upstream down: an error, not an empty answer.
	st, _, body = get(t, m.URL+"/example.com/fix/b/@v/list")
	if st != 502 || !strings.Contains(string(body), "connect") {
		t.Errorf("uncached list with upstream down: %d %q", st, body)
	}
}
