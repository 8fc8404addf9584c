package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"modgate.test/t/fixtures/upstream"
)

// quarantineRecord is the JSON modgate writes beside refused bytes.
type quarantineRecord struct {
	Time, Reason, Rel, Module, Version, Kind, Upstream, Expected, Received, RequestID, Detail string
}

// quarantined reads every record in cache's quarantine, checking that each
// has its body beside it.
func quarantined(t *testing.T, cache string) []quarantineRecord {
	t.Helper()
	dir := filepath.Join(cache, ".quarantine")
	paths, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	var out []quarantineRecord
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var r quarantineRecord
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("%s: %v\n%s", p, err, b)
		}
		if r.RequestID == "" {
			var raw map[string]any
			json.Unmarshal(b, &raw)
			r.RequestID, _ = raw["request_id"].(string)
		}
		if _, err := os.Stat(strings.TrimSuffix(p, ".json") + ".body"); err != nil {
			t.Errorf("%s has no body beside it: %v", p, err)
		}
		out = append(out, r)
	}
	return out
}

// metric returns the /metrics text of m.
func metricsText(t *testing.T, m *modgate) string {
	t.Helper()
	st, body := rawGet(t, "http://"+m.Admin, "/metrics")
	if st != 200 {
		t.Fatalf("/metrics: %d", st)
	}
	return body
}

func wantMetric(t *testing.T, body string, lines ...string) {
	t.Helper()
	for _, w := range lines {
		if !strings.Contains(body, w+"\n") {
			t.Errorf("/metrics lacks %q", w)
		}
	}
}

// sumdbSetup starts a fixture upstream holding a checksum database, and
// returns it with the database's key.
func sumdbSetup(t *testing.T) (*upstream.Server, string) {
	t.Helper()
	u := newUpstream(t)
	vkey, err := u.EnableSumDB("sum.fixture.example")
	if err != nil {
		t.Fatal(err)
	}
	return u, vkey
}

// An upstream that serves other bytes than the checksum database records
// — a well-formed zip with other content, and separately a changed go.mod
// — is caught by modgate: nothing of it is cached, it is quarantined with
// a record naming the upstream and both hashes, the breaker hears of it,
// and the go command gets the right bytes from the backup.
func TestSubstitutedBytesCaughtAndServedFromBackup(t *testing.T) {
	for _, kind := range []string{".zip", ".mod"} {
		t.Run(strings.TrimPrefix(kind, "."), func(t *testing.T) {
			bad, vkey := sumdbSetup(t)
			good := newUpstream(t)
			m := startModgate(t, options{
				env: map[string]string{"GOSUMDB": vkey, "GONOSUMDB": ""},
				extra: fmt.Sprintf("[pool \"main\"]\nupstream = %s\nupstream = %s backup\n",
					bad.URL(), good.URL()),
			})
			mod := "example.com/fix/m05"
			want := fixtureModule(t, bad, mod, "v1.0.0")
			path := "/" + mod + "/@v/v1.0.0" + kind
			bad.SetFault(path, upstream.Fault{Mode: upstream.Substitute})

			d := download(t, goEnv2(t, m.URL, vkey), mod+"@v1.0.0")
			if d.Error != "" || d.Sum != want.Sum || d.GoModSum != want.GoModSum {
				t.Fatalf("download through modgate: %+v", d)
			}
			if bad.Count(path) != 1 || good.Count(path) != 1 {
				t.Errorf("%s asked of the bad upstream %d times, of the backup %d times; want 1 and 1",
					path, bad.Count(path), good.Count(path))
			}
			file := cachePath(t, m.CacheDir, mod, "v1.0.0", kind)
			b := waitCached(t, file)
			wantBytes := want.Zip
			wantSum := want.Sum
			if kind == ".mod" {
				wantBytes, wantSum = want.Mod, want.GoModSum
			}
			if string(b) != string(wantBytes) {
				t.Errorf("cached %s is not the genuine one", kind)
			}
			rec, err := os.ReadFile(filepath.Join(m.CacheDir, ".sums", mod, "@v", "v1.0.0"+kind))
			if err != nil || strings.TrimSpace(string(rec)) != wantSum {
				t.Errorf("recorded hash %q (%v), want %s", rec, err, wantSum)
			}
			var q []quarantineRecord
			eventually(t, "a quarantine record", func() bool {
				q = quarantined(t, m.CacheDir)
				return len(q) == 1
			})
			r := q[0]
			if r.Reason != "mismatch" || r.Upstream != bad.URL() || r.Expected != wantSum ||
				r.Received == "" || r.Received == wantSum || r.Module != mod || r.Version != "v1.0.0" ||
				!strings.Contains(r.Detail, "checksum mismatch") {
				t.Errorf("quarantine record: %+v", r)
			}
			body := metricsText(t, m)
			wantMetric(t, body,
				`modgate_verify_total{result="mismatch"} 1`,
				`modgate_verify_total{result="ok"} 2`,
				`modgate_quarantined_total 1`,
				fmt.Sprintf(`modgate_upstream_requests_total{upstream="%s",outcome="failure"} 1`, bad.URL()),
			)
			if !logShows(m, "checksum mismatch") {
				t.Errorf("no log line names the mismatch")
			}
		})
	}
}

// With no upstream serving the genuine bytes the client gets a clear 502
// and nothing is cached or recorded.
func TestSubstitutedBytesWithoutBackupCacheNothing(t *testing.T) {
	u, vkey := sumdbSetup(t)
	m := startModgate(t, options{proxy: u.URL(), env: map[string]string{"GOSUMDB": vkey, "GONOSUMDB": ""}})
	mod := "example.com/fix/m06"
	path := "/" + mod + "/@v/v1.0.0.zip"
	u.SetFault(path, upstream.Fault{Mode: upstream.Substitute})
	st, body := rawGet(t, m.URL, path)
	if st != 502 || !strings.Contains(body, "checksum mismatch") || strings.Contains(body, "PK") {
		t.Errorf("substituted zip: %d %q", st, body)
	}
	eventually(t, "a quarantine record", func() bool { return len(quarantined(t, m.CacheDir)) == 1 })
	eventually(t, "temp files to go", func() bool { return len(tmpFiles(t, m.CacheDir)) == 0 })
	for _, p := range []string{
		cachePath(t, m.CacheDir, mod, "v1.0.0", ".zip"),
		filepath.Join(m.CacheDir, ".sums", mod, "@v", "v1.0.0.zip"),
	} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s exists after a refused download", p)
		}
	}
	// The upstream heals: the genuine bytes are verified and cached.
	u.SetFault("", upstream.Fault{})
	want := fixtureModule(t, u, mod, "v1.0.0")
	if st, body := rawGet(t, m.URL, path); st != 200 || body != string(want.Zip) {
		t.Errorf("after healing: %d, %d bytes", st, len(body))
	}
}

// A module outside the checksum database (nosumdb) is pinned on first use;
// later different bytes for the same version are refused with the tamper
// alarm (log, metric, quarantine record) and the pinned bytes stay the only
// ones served.
func TestPinnedModuleTamperAlarm(t *testing.T) {
	u := newUpstream(t)
	m := startModgate(t, options{proxy: u.URL()}) // GONOSUMDB=example.com
	mod := "example.com/fix/m03"
	want := fixtureModule(t, u, mod, "v1.0.0")
	if d := download(t, goEnv(t, m.URL), mod+"@v1.0.0"); d.Sum != want.Sum {
		t.Fatalf("first download: %+v", d)
	}
	zip := cachePath(t, m.CacheDir, mod, "v1.0.0", ".zip")
	waitCached(t, zip)
	rec, err := os.ReadFile(filepath.Join(m.CacheDir, ".sums", mod, "@v", "v1.0.0.zip"))
	if err != nil || strings.TrimSpace(string(rec)) != want.Sum {
		t.Fatalf("pin: %q %v, want %s", rec, err, want.Sum)
	}
	wantMetric(t, metricsText(t, m), `modgate_pinned_total 2`)

	// The object leaves the cache (as `modgate purge` does; the pin stays)
	// and the upstream now serves other bytes for the same version.
	if err := os.Remove(zip); err != nil {
		t.Fatal(err)
	}
	path := "/" + mod + "/@v/v1.0.0.zip"
	u.SetFault(path, upstream.Fault{Mode: upstream.Substitute})
	st, body := rawGet(t, m.URL, path)
	if st != 502 || !strings.Contains(body, "tamper") {
		t.Errorf("tampered zip: %d %q", st, body)
	}
	var q []quarantineRecord
	eventually(t, "a quarantine record", func() bool {
		q = quarantined(t, m.CacheDir)
		return len(q) == 1
	})
	if q[0].Reason != "tamper" || q[0].Expected != want.Sum || q[0].Received == want.Sum {
		t.Errorf("quarantine record: %+v", q[0])
	}
	wantMetric(t, metricsText(t, m), `modgate_verify_total{result="tamper"} 1`)
	if !logShows(m, "ALARM") {
		t.Errorf("no alarm in the log")
	}
	if _, err := os.Stat(zip); err == nil {
		t.Errorf("tampered bytes were cached")
	}
	// The genuine bytes again: accepted, they match the pin.
	u.SetFault("", upstream.Fault{})
	if st, body := rawGet(t, m.URL, path); st != 200 || body != string(want.Zip) {
		t.Errorf("genuine bytes after the alarm: %d", st)
	}
}

// The tree head modgate has proven is kept in the cache and read back at
// the next start; a kept head that does not verify with the database's key
// stops modgate from starting, with the file named.
func TestKeptTreeHeadSurvivesRestart(t *testing.T) {
	u, vkey := sumdbSetup(t)
	cache := filepath.Join(t.TempDir(), "cache")
	env := map[string]string{"GOSUMDB": vkey, "GONOSUMDB": ""}
	m := startModgate(t, options{proxy: u.URL(), env: env, cacheDir: cache})
	download(t, goEnv2(t, m.URL, vkey), "example.com/fix/a@v1.2.0")
	tree := filepath.Join(cache, ".sumdb", "sum.fixture.example", "tree")
	var note []byte
	eventually(t, "the kept tree head", func() bool {
		var err error
		note, err = os.ReadFile(tree)
		return err == nil
	})
	if !strings.HasPrefix(string(note), "go.sum database tree\n") || !strings.Contains(string(note), "— sum.fixture.example ") {
		t.Errorf("kept tree head:\n%s", note)
	}
	m.stop()

	m2 := startModgate(t, options{proxy: u.URL(), env: env, cacheDir: cache})
	if !logShows(m2, "kept tree head of") {
		t.Errorf("restart did not read the kept head:\n%s", m2.Log())
	}
	if !strings.Contains(metricsText(t, m2), `modgate_sumdb_tree_size{db="sum.fixture.example"} `) {
		t.Errorf("no tree size metric")
	}
	m2.stop()

	// A head signed with another key: refuse to start, say which file.
	other, otherKey := sumdbSetup(t)
	_ = other
	err, out := runModgateOnce(t, cache, map[string]string{"GOSUMDB": otherKey, "GONOSUMDB": ""})
	if err == nil || !strings.Contains(out, tree) || !strings.Contains(out, "does not verify") {
		t.Errorf("start with a foreign kept head: %v\n%s", err, out)
	}
}

// runModgateOnce runs `modgate serve` on cache expecting it to stop on its
// own (a start-up error) within 10 s; it returns the exit error and output.
func runModgateOnce(t *testing.T, cache string, env map[string]string) (error, string) {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "modgate.ini")
	ini := fmt.Sprintf("[server]\nlisten = 127.0.0.1:%d\ncache = %s\n[admin]\nlisten = off\n", freePort(t), cache)
	if err := os.WriteFile(conf, []byte(ini), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), "serve", "-c", conf)
	cmd.Env = cleanEnv()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	return err, string(out)
}

// Attacks on the checksum database itself, each refused by modgate before
// any byte of the module is served or cached: a forged signature on the
// tree head, a log forked from the one modgate has seen (also across a
// restart), and a tile whose hash does not match the signed tree.
func TestDatabaseAttacksRefused(t *testing.T) {
	check := func(t *testing.T, m *modgate, mod string, want ...string) {
		t.Helper()
		path := "/" + mod + "/@v/v1.0.0.zip"
		st, body := rawGet(t, m.URL, path)
		if st != 502 {
			t.Errorf("%s: %d %q, want 502", path, st, body)
		}
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: %q lacks %q", path, body, w)
			}
		}
		if _, err := os.Stat(cachePath(t, m.CacheDir, mod, "v1.0.0", ".zip")); err == nil {
			t.Errorf("%s cached although unproven", path)
		}
	}
	t.Run("ForgedSignature", func(t *testing.T) {
		u, vkey := sumdbSetup(t)
		m := startModgate(t, options{proxy: u.URL(), env: map[string]string{"GOSUMDB": vkey, "GONOSUMDB": ""}})
		u.SetSumDBFault(upstream.ForgedSignature, true)
		check(t, m, "example.com/fix/m07", "does not verify with its key")
		wantMetric(t, metricsText(t, m), `modgate_verify_total{result="refused"} 1`)
		u.SetSumDBFault(upstream.ForgedSignature, false)
		if st, _ := rawGet(t, m.URL, "/example.com/fix/m07/@v/v1.0.0.zip"); st != 200 {
			t.Errorf("genuine database again: %d", st)
		}
	})
	t.Run("ForkedTree", func(t *testing.T) {
		u, vkey := sumdbSetup(t)
		env := map[string]string{"GOSUMDB": vkey, "GONOSUMDB": ""}
		cache := filepath.Join(t.TempDir(), "cache")
		m := startModgate(t, options{proxy: u.URL(), env: env, cacheDir: cache})
		if st, _ := rawGet(t, m.URL, "/example.com/fix/m01/@v/v1.0.0.zip"); st != 200 {
			t.Fatalf("genuine: %d", st)
		}
		if _, err := u.SumDBAdd("example.com/fix/m02", "v1.0.0"); err != nil {
			t.Fatal(err)
		}
		u.SetSumDBFault(upstream.ForkedTree, true)
		check(t, m, "example.com/fix/m08", "SECURITY", "forked")
		if !logShows(m, "ALARM") {
			t.Errorf("no alarm logged for a forked log")
		}
		// The kept head is on disk: a restarted modgate still refuses.
		m.stop()
		m2 := startModgate(t, options{proxy: u.URL(), env: env, cacheDir: cache})
		check(t, m2, "example.com/fix/m09", "SECURITY", "forked")
		u.SetSumDBFault(upstream.ForkedTree, false)
		if st, body := rawGet(t, m2.URL, "/example.com/fix/m09/@v/v1.0.0.zip"); st != 200 {
			t.Errorf("genuine log again: %d %q", st, body)
		}
	})
	t.Run("BadTile", func(t *testing.T) {
		u, vkey := sumdbSetup(t)
		m := startModgate(t, options{proxy: u.URL(), env: map[string]string{"GOSUMDB": vkey, "GONOSUMDB": ""}})
		u.SetSumDBFault(upstream.BadTile, true)
		check(t, m, "example.com/fix/m10", "tiles do not match")
		tiles := filepath.Join(m.CacheDir, "sumdb", "sum.fixture.example", "tile")
		time.Sleep(200 * time.Millisecond) // a wrongly cached tile would be written by now
		if _, err := os.Stat(tiles); err == nil {
			t.Errorf("a tile was cached from a refused answer")
		}
		u.SetSumDBFault(upstream.BadTile, false)
		if st, _ := rawGet(t, m.URL, "/example.com/fix/m10/@v/v1.0.0.zip"); st != 200 {
			t.Errorf("genuine tiles again: %d", st)
		}
		// Now the proven tiles are cached, byte for byte the database's.
		var n int
		eventually(t, "proven tiles in the cache", func() bool {
			n = 0
			filepath.WalkDir(tiles, func(p string, de fs.DirEntry, err error) error {
				if err != nil || de.IsDir() {
					return nil
				}
				rel, _ := filepath.Rel(m.CacheDir, p)
				_, body := rawGet(t, u.URL(), "/"+filepath.ToSlash(rel))
				if b, _ := os.ReadFile(p); string(b) == body {
					n++
				}
				return nil
			})
			return n > 0
		})
	})
}

// runFsck runs `modgate fsck` on cache with the given upstream and
// database, and returns its exit code and output.
func runFsck(t *testing.T, cache, proxy string, env map[string]string) (int, string) {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "fsck.ini")
	ini := fmt.Sprintf("[server]\ncache = %s\n[upstream]\nproxy = %s\n", cache, proxy)
	if err := os.WriteFile(conf, []byte(ini), 0o644); err != nil {
		t.Fatal(err)
	}
	return runToolEnv(t, env, "fsck", "-c", conf)
}

// fsck, beside a running server: a clean cache passes; a byte flipped in a
// committed zip is found, quarantined and fetched again (verified) by the
// server; a missing record is written again once the database vouches for
// the file; with the database unreachable nothing is vouched for.
func TestFsckFindsFlippedByte(t *testing.T) {
	u, vkey := sumdbSetup(t)
	env := map[string]string{"GOSUMDB": vkey, "GONOSUMDB": "example.com/fix/m01"}
	m := startModgate(t, options{proxy: u.URL(), env: env})
	genv := goEnv2(t, m.URL, vkey)
	for _, target := range []string{"example.com/fix/a@v1.1.0", "example.com/fix/m01@v1.0.0"} {
		mustGo(t, append(genv, "GONOSUMDB=example.com/fix/m01"), t.TempDir(), "mod", "download", target)
	}
	zip := cachePath(t, m.CacheDir, "example.com/fix/a", "v1.1.0", ".zip")
	waitCached(t, zip)
	waitCached(t, cachePath(t, m.CacheDir, "example.com/fix/m01", "v1.0.0", ".zip"))

	code, out := runFsck(t, m.CacheDir, u.URL(), env)
	if code != 0 || !strings.Contains(out, "fsck: 4 objects") || !strings.Contains(out, "0 quarantined, 0 unchecked") {
		t.Fatalf("fsck of a clean cache: exit %d\n%s", code, out)
	}

	// One byte flipped in place, as a failing disk or a careless hand would.
	f, err := os.OpenFile(zip, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	f.ReadAt(b, 200)
	b[0] ^= 0x01
	f.WriteAt(b, 200)
	f.Close()
	code, out = runFsck(t, m.CacheDir, u.URL(), env)
	if code != 1 || !strings.Contains(out, "QUARANTINED example.com/fix/a/@v/v1.1.0.zip") ||
		!strings.Contains(out, "1 quarantined") {
		t.Fatalf("fsck after a flipped byte: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(zip); err == nil {
		t.Errorf("the damaged zip is still in the cache")
	}
	q := quarantined(t, m.CacheDir)
	// Where the flipped bit lands decides which check fails first: the
	// zip's structure (inflate) or its hash.
	if len(q) != 1 || (q[0].Reason != "changed" && q[0].Reason != "invalid") || q[0].Rel != "example.com/fix/a/@v/v1.1.0.zip" {
		t.Errorf("quarantine: %+v", q)
	}
	// The server misses it now and fetches the genuine bytes again.
	want := fixtureModule(t, u, "example.com/fix/a", "v1.1.0")
	if st, body := rawGet(t, m.URL, "/example.com/fix/a/@v/v1.1.0.zip"); st != 200 || body != string(want.Zip) {
		t.Errorf("after fsck: %d", st)
	}

	// A lost record: written again once the database vouches for the file.
	if err := os.Remove(filepath.Join(m.CacheDir, ".sums", "example.com", "fix", "a", "@v", "v1.1.0.mod")); err != nil {
		t.Fatal(err)
	}
	code, out = runFsck(t, m.CacheDir, u.URL(), env)
	if code != 0 || !strings.Contains(out, "1 recorded now") {
		t.Errorf("fsck with a lost record: exit %d\n%s", code, out)
	}

	// Nothing can be vouched for with the database unreachable.
	u.Stop()
	code, out = runFsck(t, m.CacheDir, u.URL(), env)
	if code != 1 || !strings.Contains(out, "UNCHECKED") {
		t.Errorf("fsck without a database: exit %d\n%s", code, out)
	}
}

// logShows waits (briefly) for modgate's stderr, read through a pipe by
// another goroutine, to contain s.
func logShows(m *modgate, s string) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(m.Log(), s) {
			return true
		}
	}
	return false
}

// The cache gauges: modgate_cache_objects and modgate_cache_size_bytes
// agree with the GOPROXY tree on disk (modgate's dot-folders left out),
// and the free disk space is reported.
func TestCacheGauges(t *testing.T) {
	u := newUpstream(t)
	m := startModgate(t, options{proxy: u.URL()})
	download(t, goEnv(t, m.URL), "example.com/fix/a@v1.1.0")
	var files, size int64
	eventually(t, "the cache gauges to match the disk", func() bool {
		files, size = 0, 0
		filepath.WalkDir(m.CacheDir, func(p string, de fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if de.IsDir() && strings.HasPrefix(de.Name(), ".") {
				return filepath.SkipDir
			}
			if de.Type().IsRegular() {
				info, _ := de.Info()
				files++
				size += info.Size()
			}
			return nil
		})
		body := metricsText(t, m)
		return strings.Contains(body, fmt.Sprintf("modgate_cache_objects %d\n", files)) &&
			strings.Contains(body, fmt.Sprintf("modgate_cache_size_bytes %d\n", size)) &&
			strings.Contains(body, "modgate_disk_free_bytes ")
	})
	if files < 3 {
		t.Errorf("only %d files cached", files)
	}
}
