package integration

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// treeBytes adds up the GOPROXY tree of cache as prune counts it: every
// regular file outside the top-level dot-folders.
func treeBytes(t *testing.T, cache string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(cache, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if de.IsDir() && filepath.Dir(p) == cache && strings.HasPrefix(de.Name(), ".") {
			return filepath.SkipDir
		}
		if de.Type().IsRegular() {
			info, err := de.Info()
			if err != nil {
				return err
			}
			n += info.Size()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// versionBytes is the size of a cached version's .info, .mod and .zip.
func versionBytes(t *testing.T, cache, mod, ver string) int64 {
	t.Helper()
	var n int64
	for _, ext := range []string{".info", ".mod", ".zip"} {
		info, err := os.Stat(cachePath(t, cache, mod, ver, ext))
		if err != nil {
			t.Fatal(err)
		}
		n += info.Size()
	}
	return n
}

// prune on the cache of a running server, with the real go command: the
// versions aged past --unused go (least recently used first), their pins
// stay; fsck's reads are not uses; a recent version is still a HIT with no
// upstream request; a pruned one is fetched again by the go command and
// checked against its pin; --max-size then drops the oldest-used until the
// tree fits, counting bytes a snapshot still holds apart from bytes freed.
func TestPruneUnusedThenMaxSize(t *testing.T) {
	u := newUpstream(t)
	m := startModgate(t, options{proxy: u.URL()}) // GONOSUMDB=example.com: pinned
	type mv struct {
		path, version string
		days          int // last used so many days ago; 0: just now
	}
	mods := []mv{
		{"example.com/fix/a", "v1.0.0", 200},
		{"example.com/fix/Upper", "v0.1.0", 100},
		{"example.com/fix/b", "v1.0.1", 40},
		{"example.com/fix/big", "v1.0.0", 20},
		{"example.com/fix/m02", "v1.0.0", 10},
		{"example.com/fix/a", "v1.1.0", 0},
	}
	for _, x := range mods {
		want := fixtureModule(t, u, x.path, x.version)
		if d := download(t, goEnv(t, m.URL), x.path+"@"+x.version); d.Sum != want.Sum {
			t.Fatalf("go mod download %s@%s: %s, want %s", x.path, x.version, d.Sum, want.Sum)
		}
		for _, ext := range []string{".info", ".mod", ".zip"} {
			waitCached(t, cachePath(t, m.CacheDir, x.path, x.version, ext))
		}
	}
	now := time.Now()
	for _, x := range mods {
		if x.days == 0 {
			continue
		}
		when := now.Add(-time.Duration(x.days) * 24 * time.Hour)
		for _, ext := range []string{".info", ".mod", ".zip"} {
			if err := os.Chtimes(cachePath(t, m.CacheDir, x.path, x.version, ext), when, when); err != nil {
				t.Fatal(err)
			}
		}
	}
	pinZip := filepath.Join(m.CacheDir, ".sums", "example.com", "fix", "a", "@v", "v1.0.0.zip")
	pin, err := os.ReadFile(pinZip)
	if err != nil {
		t.Fatalf("pin of a@v1.0.0: %v", err)
	}

	// fsck reads every object, and leaves their atime alone.
	if code, out := runFsck(t, m.CacheDir, u.URL(), map[string]string{"GONOSUMDB": "example.com"}); code != 0 {
		t.Fatalf("fsck: exit %d\n%s", code, out)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(cachePath(t, m.CacheDir, "example.com/fix/a", "v1.0.0", ".zip"), &st); err != nil {
		t.Fatal(err)
	}
	if age := now.Sub(time.Unix(st.Atim.Sec, 0)); age < 199*24*time.Hour {
		t.Errorf("after fsck a@v1.0.0.zip was last read %v ago, want 200 days", age)
	}

	// Usage errors.
	if code, out := runTool(t, "prune", "--cache-dir", m.CacheDir); code != 2 || !strings.Contains(out, "--unused DURATION, --max-size SIZE") {
		t.Errorf("prune without a limit: exit %d\n%s", code, out)
	}
	if code, out := runTool(t, "prune", "--unused", "90 days", "--cache-dir", m.CacheDir); code != 2 || !strings.Contains(out, "unknown unit") {
		t.Errorf("prune --unused '90 days': exit %d\n%s", code, out)
	}
	if code, out := runTool(t, "prune", "--max-size", "5GB", "--cache-dir", m.CacheDir); code != 2 || !strings.Contains(out, `unknown unit "GB"`) {
		t.Errorf("prune --max-size 5GB: exit %d\n%s", code, out)
	}
	if code, out := runTool(t, "purge", "--dry-run", "example.com/fix/a", "--cache-dir", m.CacheDir); code != 2 {
		t.Errorf("purge --dry-run: exit %d\n%s", code, out)
	}

	// --dry-run names what would go and removes nothing.
	code, out := runTool(t, "prune", "--unused", "90d", "--dry-run", "--cache-dir", m.CacheDir)
	if code != 0 || !regexp.MustCompile(`(?m)^would remove example.com/fix/a@v1.0.0 \(last used \S+, [0-9]+ bytes\)\nwould remove example.com/fix/Upper@v0.1.0 `).MatchString(out) ||
		!regexp.MustCompile(`(?m)^would prune 2 versions, [1-9][0-9]* bytes freed, 0 bytes still held by snapshots; `).MatchString(out) {
		t.Fatalf("prune --dry-run: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(cachePath(t, m.CacheDir, "example.com/fix/a", "v1.0.0", ".zip")); err != nil {
		t.Fatalf("dry run removed a@v1.0.0: %v", err)
	}

	// --unused 90d: the two older than that go, oldest first.
	freed := versionBytes(t, m.CacheDir, "example.com/fix/a", "v1.0.0") +
		versionBytes(t, m.CacheDir, "example.com/fix/Upper", "v0.1.0")
	code, out = runTool(t, "prune", "--unused", "90d", "--cache-dir", m.CacheDir)
	if code != 0 || !regexp.MustCompile(`(?m)^removed example.com/fix/a@v1.0.0 \(last used \S+, [0-9]+ bytes\)\nremoved example.com/fix/Upper@v0.1.0 `).MatchString(out) ||
		!strings.Contains(out, fmt.Sprintf("pruned 2 versions, %d bytes freed, 0 bytes still held by snapshots; ", freed)) ||
		strings.Contains(out, "example.com/fix/b@") {
		t.Fatalf("prune --unused 90d: exit %d\n%s", code, out)
	}
	for _, ext := range []string{".info", ".mod", ".zip"} {
		if _, err := os.Stat(cachePath(t, m.CacheDir, "example.com/fix/a", "v1.0.0", ext)); err == nil {
			t.Errorf("a@v1.0.0%s still cached", ext)
		}
		if _, err := os.Stat(cachePath(t, m.CacheDir, "example.com/fix/b", "v1.0.1", ext)); err != nil {
			t.Errorf("b@v1.0.1%s (40 days) went: %v", ext, err)
		}
	}
	if _, err := os.Stat(filepath.Join(m.CacheDir, "example.com", "fix", "!upper")); err == nil {
		t.Errorf("the emptied folder of example.com/fix/Upper is still there")
	}
	for _, p := range []string{pinZip,
		filepath.Join(m.CacheDir, ".sums", "example.com", "fix", "a", "@v", "v1.0.0.mod"),
		filepath.Join(m.CacheDir, ".sums", "example.com", "fix", "!upper", "@v", "v0.1.0.zip")} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("prune removed the pin %s: %v", p, err)
		}
	}

	// A recent version: still a HIT, no upstream request.
	u.ResetCounts()
	st2, h, _ := get(t, m.URL+"/example.com/fix/a/@v/v1.1.0.zip")
	if st2 != 200 || h.Get("X-Modgate-Cache") != "HIT" {
		t.Errorf("a@v1.1.0.zip after prune: %d %q", st2, h.Get("X-Modgate-Cache"))
	}
	if d := download(t, goEnv(t, m.URL), "example.com/fix/a@v1.1.0"); d.Sum != fixtureModule(t, u, "example.com/fix/a", "v1.1.0").Sum {
		t.Errorf("go mod download a@v1.1.0 after prune: %s", d.Sum)
	}
	if n := u.Total(); n != 0 {
		t.Errorf("a recent version made %d upstream requests after prune", n)
	}

	// A pruned version: fetched again (an empty module cache), checked
	// against the pin that stayed — not pinned anew.
	want := fixtureModule(t, u, "example.com/fix/a", "v1.0.0")
	if d := download(t, goEnv(t, m.URL), "example.com/fix/a@v1.0.0"); d.Sum != want.Sum {
		t.Errorf("go mod download a@v1.0.0 after prune: %s, want %s", d.Sum, want.Sum)
	}
	if n := u.Count("/example.com/fix/a/@v/v1.0.0.zip"); n != 1 {
		t.Errorf("the upstream was asked for the pruned zip %d times, want 1", n)
	}
	waitCached(t, cachePath(t, m.CacheDir, "example.com/fix/a", "v1.0.0", ".zip"))
	if !logShows(m, "verified and cached example.com/fix/a/@v/v1.0.0.zip") {
		t.Errorf("the refetched zip was not verified and cached")
	}
	if n := strings.Count(m.Log(), "pinned example.com/fix/a/@v/v1.0.0.zip"); n != 1 {
		t.Errorf("a@v1.0.0.zip pinned %d times, want once (the refetch matches the pin)", n)
	}
	if b, _ := os.ReadFile(pinZip); !bytes.Equal(b, pin) {
		t.Errorf("pin changed: %q, was %q", b, pin)
	}

	// --max-size one byte under the tree: the oldest used (b, 40 days)
	// goes. A snapshot holds its bytes: none freed.
	if code, out := runTool(t, "snapshot", "s1", "--cache-dir", m.CacheDir); code != 0 {
		t.Fatalf("snapshot: exit %d\n%s", code, out)
	}
	held := versionBytes(t, m.CacheDir, "example.com/fix/b", "v1.0.1")
	tree := treeBytes(t, m.CacheDir)
	code, out = runTool(t, "prune", "--max-size", fmt.Sprint(tree-1), "--cache-dir", m.CacheDir)
	if code != 0 || !regexp.MustCompile(`(?m)^removed example.com/fix/b@v1.0.1 \(last used \S+, [0-9]+ bytes, [0-9]+ held by snapshots\)$`).MatchString(out) ||
		!strings.Contains(out, fmt.Sprintf("pruned 1 version, 0 bytes freed, %d bytes still held by snapshots; the GOPROXY tree is now %d bytes (was %d)", held, tree-held, tree)) {
		t.Fatalf("prune --max-size %d: exit %d\n%s", tree-1, code, out)
	}
	if _, err := os.Stat(filepath.Join(m.CacheDir, ".snapshots", "s1", "example.com", "fix", "b", "@v", "v1.0.1.zip")); err != nil {
		t.Errorf("the snapshot lost b@v1.0.1: %v", err)
	}

	// --max-size 1M, the snapshot gone: big (2 MiB, 20 days) goes, its
	// bytes freed, and the tree fits.
	if err := os.RemoveAll(filepath.Join(m.CacheDir, ".snapshots", "s1")); err != nil {
		t.Fatal(err)
	}
	big := versionBytes(t, m.CacheDir, "example.com/fix/big", "v1.0.0")
	code, out = runTool(t, "prune", "--max-size", "1M", "--cache-dir", m.CacheDir)
	if code != 0 || !strings.Contains(out, "removed example.com/fix/big@v1.0.0 ") ||
		!strings.Contains(out, fmt.Sprintf("pruned 1 version, %d bytes freed, 0 bytes still held by snapshots", big)) {
		t.Fatalf("prune --max-size 1M: exit %d\n%s", code, out)
	}
	if n := treeBytes(t, m.CacheDir); n > 1<<20 {
		t.Errorf("after --max-size 1M the tree is %d bytes", n)
	}
	for _, x := range []mv{{"example.com/fix/m02", "v1.0.0", 0}, {"example.com/fix/a", "v1.1.0", 0}, {"example.com/fix/a", "v1.0.0", 0}} {
		if _, err := os.Stat(cachePath(t, m.CacheDir, x.path, x.version, ".zip")); err != nil {
			t.Errorf("%s@%s went: %v", x.path, x.version, err)
		}
	}
	// Pruned again with the server running: the cache is still clean.
	if code, out := runFsck(t, m.CacheDir, u.URL(), map[string]string{"GONOSUMDB": "example.com"}); code != 0 {
		t.Errorf("fsck after prune: exit %d\n%s", code, out)
	}
}
