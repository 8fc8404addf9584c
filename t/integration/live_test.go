package integration

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// liveProxy is the first proxy URL of this machine's go configuration.
func liveProxy(t *testing.T) string {
	out, err := exec.Command("go", "env", "GOPROXY").Output()
	if err != nil {
		t.Fatalf("go env GOPROXY: %v", err)
	}
	for _, p := range strings.FieldsFunc(strings.TrimSpace(string(out)), func(r rune) bool { return r == ',' || r == '|' }) {
		if strings.HasPrefix(p, "http://") || strings.HasPrefix(p, "https://") {
			return strings.TrimSuffix(p, "/")
		}
	}
	t.Skipf("go env GOPROXY names no proxy URL (%q)", out)
	return ""
}

// TestLiveModuleGraph fronts the real module proxy this machine's go command
// uses and downloads golang.org/x/tools with its whole module graph through
// modgate, verified by the go command against sum.golang.org reached through
// modgate's /sumdb/ (the go command's default GOSUMDB, no other route).
// Opt-in: make test-live.
func TestLiveModuleGraph(t *testing.T) {
	if os.Getenv("MODGATE_LIVE") == "" {
		t.Skip("live test: run make test-live")
	}
	proxy := liveProxy(t)
	m := startModgate(t, options{proxy: proxy})
	env := append(goEnv(t, m.URL), "GONOSUMDB=")
	app := t.TempDir()
	mustGo(t, env, app, "mod", "init", "example.com/live")
	mustGo(t, env, app, "get", "golang.org/x/tools@v0.52.0")
	out := mustGo(t, env, app, "mod", "download", "-json", "all")
	n := strings.Count(out, `"Sum":`)
	if n < 3 {
		t.Fatalf("go mod download all printed %d modules:\n%s", n, out)
	}
	if strings.Contains(out, `"Error"`) {
		t.Fatalf("errors in go mod download all:\n%s", out)
	}
	t.Logf("downloaded and verified %d modules through modgate (module proxy and checksum database)", n)

	// Again with an empty module cache and the upstream unreachable: the
	// graph comes from modgate's cache alone.
	m.stop()
	m2 := startModgate(t, options{proxy: "http://127.0.0.1:1", cacheDir: m.CacheDir})
	env2 := append(goEnv(t, m2.URL), "GONOSUMDB=")
	app2 := t.TempDir()
	gomod, _ := os.ReadFile(app + "/go.mod")
	gosum, _ := os.ReadFile(app + "/go.sum")
	os.WriteFile(app2+"/go.mod", gomod, 0o644)
	os.WriteFile(app2+"/go.sum", gosum, 0o644)
	out2 := mustGo(t, env2, app2, "mod", "download", "-json", "all")
	if got := strings.Count(out2, `"Sum":`); got != n {
		t.Errorf("from cache alone: %d modules, want %d", got, n)
	}
}
