package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func runWarm(t *testing.T, m *modgate, files ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), append([]string{"warm", "--server", m.URL}, files...)...)
	cmd.Env = append(cleanEnv(), "ASAN_OPTIONS=detect_leaks=1")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

// `modgate warm go.sum` (a go.sum the go command wrote) fetches every
// module version it names into a fresh modgate's cache, verified; a second
// run finds them cached; with the upstream stopped the go command then
// downloads them from modgate alone; a version no upstream has is reported
// with its reason and the exit status says so.
func TestWarmFromGoSum(t *testing.T) {
	u := newUpstream(t)
	first := startModgate(t, options{proxy: u.URL()})
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/ci\n\ngo 1.21\n"), 0o644)
	mustGo(t, goEnv(t, first.URL), dir, "get", "example.com/fix/a@v1.1.0")
	gosum := filepath.Join(dir, "go.sum")
	if b, err := os.ReadFile(gosum); err != nil || !strings.Contains(string(b), "example.com/fix/b v1.0.0/go.mod") {
		t.Fatalf("go.sum from the go command: %v\n%s", err, b)
	}

	m := startModgate(t, options{proxy: u.URL()})
	code, out := runWarm(t, m, gosum)
	if code != 0 || !strings.Contains(out, "2 module versions") || !strings.Contains(out, "2 fetched, 0 already cached, 0 failed") {
		t.Fatalf("first warm: exit %d\n%s", code, out)
	}
	for _, ext := range []string{".info", ".mod", ".zip"} {
		waitCached(t, cachePath(t, m.CacheDir, "example.com/fix/a", "v1.1.0", ext))
	}
	waitCached(t, cachePath(t, m.CacheDir, "example.com/fix/b", "v1.0.0", ".mod"))
	code, out = runWarm(t, m, gosum)
	if code != 0 || !strings.Contains(out, "0 fetched, 2 already cached, 0 failed") {
		t.Errorf("second warm: exit %d\n%s", code, out)
	}

	u.Stop()
	dir2 := t.TempDir()
	os.WriteFile(filepath.Join(dir2, "go.mod"), []byte("module example.com/ci\n\ngo 1.21\n\nrequire example.com/fix/a v1.1.0\n"), 0o644)
	os.WriteFile(filepath.Join(dir2, "go.sum"), mustRead(t, gosum), 0o644)
	mustGo(t, goEnv(t, m.URL), dir2, "mod", "download")
	u.Start()

	bad := filepath.Join(t.TempDir(), "go.sum")
	os.WriteFile(bad, []byte("example.com/fix/a v9.9.9 h1:AAAA=\n"), 0o644)
	code, out = runWarm(t, m, bad, gosum)
	if code != 1 || !strings.Contains(out, "FAILED example.com/fix/a@v9.9.9: ") || !strings.Contains(out, "1 failed") {
		t.Errorf("warm with a missing version: exit %d\n%s", code, out)
	}
	code, out = runWarm(t, m, filepath.Join(dir, "go.mod"))
	if code != 0 || !strings.Contains(out, "2 module versions") {
		t.Errorf("warm from go.mod: exit %d\n%s", code, out)
	}
	// Piped (as in CI logs): the summary alone, no progress line.
	if strings.Contains(out, "\r") || strings.Contains(out, "warm [") {
		t.Errorf("a progress line without a terminal:\n%q", out)
	}
}

// On a terminal (script(1) gives warm a pseudo-terminal) a progress bar is
// redrawn in place and ends full, before the summary.
func TestWarmProgressBarOnATerminal(t *testing.T) {
	u := newUpstream(t)
	m := startModgate(t, options{proxy: u.URL()})
	gosum := filepath.Join(t.TempDir(), "go.sum")
	var lines []string
	for _, mod := range []string{"example.com/fix/a", "example.com/fix/b"} {
		mv := fixtureModule(t, u, mod, "v1.0.0")
		lines = append(lines, mod+" v1.0.0 "+mv.Sum, mod+" v1.0.0/go.mod "+mv.GoModSum)
	}
	os.WriteFile(gosum, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "script", "-qefc", binary(t)+" warm --server "+m.URL+" "+gosum, "/dev/null")
	cmd.Env = cleanEnv()
	b, err := cmd.CombinedOutput()
	out := string(b)
	if err != nil {
		t.Fatalf("warm on a terminal: %v\n%q", err, out)
	}
	last := strings.LastIndex(out, "\rwarm [")
	if strings.Count(out, "\rwarm [") < 1 || last < 0 ||
		!strings.HasPrefix(out[last:], "\rwarm [##############################] 6/6 files, 0 failed") {
		t.Errorf("no full progress bar on the terminal:\n%q", out)
	}
	if i := strings.Index(out, "2 fetched, 0 already cached, 0 failed"); i < last {
		t.Errorf("the summary is not after the bar:\n%q", out)
	}
}

func mustRead(t *testing.T, p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
