package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// runTool runs `modgate ARGS...` beside the server and returns its exit
// code and output.
func runTool(t *testing.T, args ...string) (int, string) {
	t.Helper()
	return runToolEnv(t, nil, args...)
}

// runToolEnv runs `modgate ARGS...` with env added to a clean environment
// (bounded in time, leaks checked under ASan) and returns its exit code
// and combined output.
func runToolEnv(t *testing.T, env map[string]string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	cmd.Env = append(cleanEnv(), "ASAN_OPTIONS=detect_leaks=1")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, string(out)
}

// Snapshot, purge and restore on the cache of a running server: a purged
// module is fetched from the upstream again; a restore made while the
// server runs is served (HIT, no upstream request) within seconds; the old
// tree is kept as a snapshot; and the cache passes fsck afterwards.
func TestCacheToolsSnapshotPurgeRestore(t *testing.T) {
	u := newUpstream(t)
	m := startModgate(t, options{proxy: u.URL()})
	const mod, ver = "example.com/fix/a", "v1.1.0"
	want := fixtureModule(t, u, mod, ver)
	zipURL := "/" + mod + "/@v/" + ver + ".zip"

	download(t, goEnv(t, m.URL), mod+"@"+ver)
	for _, ext := range []string{".info", ".mod", ".zip"} {
		waitCached(t, cachePath(t, m.CacheDir, mod, ver, ext))
	}

	code, out := runTool(t, "snapshot", "s1", "--cache-dir", m.CacheDir)
	if code != 0 || !regexp.MustCompile(`snapshot s1: [0-9]+ objects, [0-9]+ bytes, [0-9]+ ms`).MatchString(out) {
		t.Fatalf("snapshot: exit %d\n%s", code, out)
	}
	snapZip := filepath.Join(m.CacheDir, ".snapshots", "s1", "example.com", "fix", "a", "@v", ver+".zip")
	if b, err := os.ReadFile(snapZip); err != nil || !bytes.Equal(b, want.Zip) {
		t.Fatalf("snapshot's zip: %v", err)
	}
	if code, out := runTool(t, "snapshot", "s1", "--cache-dir", m.CacheDir); code != 1 || !strings.Contains(out, "exists") {
		t.Errorf("second snapshot s1: exit %d\n%s", code, out)
	}
	if code, out := runTool(t, "snapshot", ".hidden", "--cache-dir", m.CacheDir); code != 1 || !strings.Contains(out, "must not start with '.'") {
		t.Errorf("snapshot .hidden: exit %d\n%s", code, out)
	}

	// Purged: gone from the cache, its pin kept, fetched again on demand.
	purge := func() {
		t.Helper()
		code, out := runTool(t, "purge", mod, "--cache-dir", m.CacheDir)
		if code != 0 || !strings.Contains(out, "removed example.com/fix/a/@v/v1.1.0.zip") ||
			!strings.Contains(out, "removed example.com/fix/a/@v/v1.1.0.mod") {
			t.Fatalf("purge: exit %d\n%s", code, out)
		}
		if _, err := os.Stat(cachePath(t, m.CacheDir, mod, ver, ".zip")); err == nil {
			t.Fatalf("purged zip still cached")
		}
	}
	purge()
	if _, err := os.Stat(filepath.Join(m.CacheDir, ".sums", "example.com", "fix", "a", "@v", ver+".zip")); err != nil {
		t.Errorf("purge removed the pin: %v", err)
	}
	// The go command (an empty module cache of its own) makes modgate ask
	// the upstream again, and gets the same bytes.
	u.ResetCounts()
	if d := download(t, goEnv(t, m.URL), mod+"@"+ver); d.Sum != want.Sum {
		t.Errorf("go mod download after purge: %s, want %s", d.Sum, want.Sum)
	}
	if n := u.Count(zipURL); n != 1 {
		t.Fatalf("after purge the upstream was asked for the zip %d times, want 1", n)
	}
	waitCached(t, cachePath(t, m.CacheDir, mod, ver, ".zip"))
	st, h, body := get(t, m.URL+zipURL)
	if st != 200 || h.Get("X-Modgate-Cache") != "HIT" || !bytes.Equal(body, want.Zip) || u.Count(zipURL) != 1 {
		t.Fatalf("refetched zip: %d %q, upstream asked %d times", st, h.Get("X-Modgate-Cache"), u.Count(zipURL))
	}
	if code, out := runTool(t, "purge", mod+"@"+ver, "--cache-dir", m.CacheDir); code != 0 || !strings.Contains(out, "purged example.com/fix/a@v1.1.0: 3 objects") {
		t.Fatalf("purge of a version: exit %d\n%s", code, out)
	}
	if code, out := runTool(t, "purge", "../etc", "--cache-dir", m.CacheDir); code != 1 || !strings.Contains(out, "malformed module path") {
		t.Errorf("purge ../etc: exit %d\n%s", code, out)
	}

	// Restored while the server runs: served from the snapshot's objects.
	code, out = runTool(t, "restore", "s1", "--cache-dir", m.CacheDir)
	if code != 0 || !strings.Contains(out, "restored s1:") {
		t.Fatalf("restore: exit %d\n%s", code, out)
	}
	eventually(t, "the server to notice the restore", func() bool {
		return strings.Contains(m.Log(), "the folder was replaced")
	})
	u.ResetCounts()
	for _, ext := range []string{".info", ".mod", ".zip"} {
		st, h, _ := get(t, m.URL+"/"+mod+"/@v/"+ver+ext)
		if st != 200 || h.Get("X-Modgate-Cache") != "HIT" {
			t.Errorf("%s after restore: %d %q", ext, st, h.Get("X-Modgate-Cache"))
		}
	}
	if d := download(t, goEnv(t, m.URL), mod+"@"+ver); d.Sum != want.Sum {
		t.Errorf("go mod download after restore: %s, want %s", d.Sum, want.Sum)
	}
	if n := u.Total(); n != 0 {
		t.Errorf("after restore the upstream saw %d requests", n)
	}

	// Listed through a config file, like the server's.
	conf := filepath.Join(t.TempDir(), "tools.ini")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("[server]\ncache = %s\n", m.CacheDir)), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out = runTool(t, "snapshots", "-c", conf)
	if code != 0 || !regexp.MustCompile(`(?m)^s1 +\S+ +[1-9][0-9]* +[1-9]`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^pre-restore-[0-9]{8}T[0-9]{6}Z `).MatchString(out) {
		t.Errorf("snapshots: exit %d\n%s", code, out)
	}
	code, out = runTool(t, "snapshots", "--json", "-c", conf)
	var list []struct {
		Name, Created  string
		Objects, Bytes int64
	}
	if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil || len(list) != 2 {
		t.Fatalf("snapshots --json: exit %d, %v\n%s", code, err, out)
	}
	if list[0].Name != "s1" || list[0].Objects < 3 || list[0].Bytes < int64(len(want.Zip)) ||
		!strings.HasPrefix(list[1].Name, "pre-restore-") {
		t.Errorf("snapshots --json: %+v", list)
	}
	if _, err := time.Parse(time.RFC3339, list[0].Created); err != nil {
		t.Errorf("snapshots --json: created %q: %v", list[0].Created, err)
	}

	// The round trip leaves a cache fsck finds clean.
	code, out = runFsck(t, m.CacheDir, u.URL(), map[string]string{"GONOSUMDB": "example.com,example.test"})
	if code != 0 {
		t.Errorf("fsck after snapshot, purge and restore: exit %d\n%s", code, out)
	}
}

// Every subcommand explains itself: modgate --help names them all, and
// modgate COMMAND --help is that command's page with each of its options.
func TestHelpEveryCommand(t *testing.T) {
	// Every subcommand the overview names has a page of its own that
	// names each option the command takes.
	options := map[string][]string{
		"serve":     {"--config", "--listen", "--cache-dir", "--log-level", "--test", "SIGHUP", "SIGTERM"},
		"upstream":  {"--config", "--admin", "--json", "drain", "undrain", "open", "close", "auto"},
		"reload":    {"--config", "--admin", "need a restart", "exit 1"},
		"fsck":      {"--config", "--cache-dir", "--log-level", "Exit 0"},
		"hash":      {"h1:", "go.mod"},
		"warm":      {"--config", "--server", "--parallel", "go.sum"},
		"snapshot":  {"--cache-dir"},
		"snapshots": {"--cache-dir", "--json"},
		"restore":   {"--cache-dir"},
		"purge":     {"--cache-dir", "MODULE[@VERSION]"},
		"prune":     {"--config", "--cache-dir", "--unused", "--max-size", "--dry-run", "noatime", "Exit 0"},
	}
	code, overview := runTool(t, "--help")
	if code != 0 {
		t.Fatalf("--help: exit %d\n%s", code, overview)
	}
	for c, opts := range options {
		if !strings.Contains(overview, "modgate "+c) && !strings.Contains(overview, "modgate ["+c+"]") {
			t.Errorf("--help does not name %s", c)
		}
		code, out := runTool(t, c, "--help")
		if code != 0 || (!strings.HasPrefix(out, "usage: modgate "+c) && !strings.HasPrefix(out, "usage: modgate ["+c+"]")) {
			t.Errorf("%s --help: exit %d\n%s", c, code, out)
			continue
		}
		for _, o := range opts {
			if !strings.Contains(out, o) {
				t.Errorf("%s --help does not mention %s:\n%s", c, o, out)
			}
		}
	}
	if code, out := runTool(t, "restore", "--cache-dir", t.TempDir()); code != 2 || !strings.Contains(out, "usage: modgate restore") {
		t.Errorf("restore without a name: exit %d\n%s", code, out)
	}
}
