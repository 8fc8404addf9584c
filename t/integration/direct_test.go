package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"modgate.test/t/fixtures/upstream"
)

const gitModule = "example.test/repo.git"

// gitOrigin makes a bare git repository holding gitModule with tags v1.0.0
// and v1.1.0, and returns the environment through which a go command
// reaches it offline: git's url.<base>.insteadOf maps https://example.test/
// to the folder.
func gitOrigin(t *testing.T) []string {
	t.Helper()
	root := t.TempDir()
	src := filepath.Join(root, "src")
	script := fmt.Sprintf(`set -e
mkdir -p %[1]s && cd %[1]s && git init -q -b master
printf 'module %[2]s\n\ngo 1.21\n' > go.mod
printf 'package repo\n\nconst V = 1\n' > repo.go
git add . && git -c user.email=t@t -c user.name=t commit -qm one && git tag v1.0.0
printf 'package repo\n\nconst V = 2\n' > repo.go
git -c user.email=t@t -c user.name=t commit -qam two && git tag v1.1.0
git clone -q --bare . %[3]s/git/repo.git
`, src, gitModule, root)
	if out, err := exec.Command("sh", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("making the git origin: %v\n%s", err, out)
	}
	return []string{
		"GIT_CONFIG_COUNT=2",
		"GIT_CONFIG_KEY_0=url.file://" + root + "/git/.insteadOf",
		"GIT_CONFIG_VALUE_0=https://example.test/",
		"GIT_CONFIG_KEY_1=protocol.file.allow",
		"GIT_CONFIG_VALUE_1=always",
		"GOPRIVATE=example.test",
		"GOINSECURE=example.test",
	}
}

func envMap(kv []string) map[string]string {
	m := map[string]string{}
	for _, s := range kv {
		k, v, _ := strings.Cut(s, "=")
		m[k] = v
	}
	return m
}

// With every upstream of a pool dead and on_open = direct, modgate runs the
// go command against the module's origin itself (a git repository here),
// serves the result and caches it like any upstream answer.
func TestOnOpenDirectFetchesFromOrigin(t *testing.T) {
	origin := gitOrigin(t)
	dead := newUpstream(t)
	dead.Stop()
	m := startModgate(t, options{env: envMap(origin), extra: fmt.Sprintf(`
[pool "main"]
upstream = %s
on_open = direct

[breaker]
failures = 1
`, dead.URL())})
	env := append(goEnv(t, m.URL), "GONOSUMDB=example.com,example.test")
	first := mustGo(t, env, t.TempDir(), "mod", "download", "-json", gitModule+"@v1.0.0")
	if !strings.Contains(first, `"Version": "v1.0.0"`) || !strings.Contains(first, `"Sum": "h1:`) {
		t.Fatalf("go mod download through direct: %s", first)
	}
	for _, ext := range []string{".info", ".mod", ".zip"} {
		waitCached(t, cachePath(t, m.CacheDir, gitModule, "v1.0.0", ext))
	}
	eventually(t, "the direct log line", func() bool { return strings.Contains(m.Log(), "came from its origin (direct)") })

	// Versions and @latest through direct too.
	out := mustGo(t, env, t.TempDir(), "list", "-m", "-versions", gitModule)
	if strings.TrimSpace(out) != gitModule+" v1.0.0 v1.1.0" {
		t.Errorf("go list -m -versions through direct: %q", out)
	}
	// An unknown version: a 404 the go command reports.
	_, errs, err := runGo(t, env, t.TempDir(), "mod", "download", gitModule+"@v9.9.9")
	if err == nil || !strings.Contains(errs, "v9.9.9") {
		t.Errorf("unknown version through direct: %v %s", err, errs)
	}
	// The same bytes again with the origin gone: from the cache.
	gitDir := strings.TrimSuffix(strings.TrimPrefix(envMap(origin)["GIT_CONFIG_KEY_0"], "url.file://"), "/.insteadOf")
	if err := os.RemoveAll(gitDir); err != nil {
		t.Fatal(err)
	}
	again := mustGo(t, append(goEnv(t, m.URL), "GONOSUMDB=example.com,example.test"), t.TempDir(),
		"mod", "download", "-json", gitModule+"@v1.0.0")
	if sumOf(again) == "" || sumOf(again) != sumOf(first) {
		t.Errorf("from the cache: %q, first time %q", sumOf(again), sumOf(first))
	}
}

func sumOf(downloadJSON string) string {
	i := strings.Index(downloadJSON, `"Sum": "`)
	if i < 0 {
		return ""
	}
	rest := downloadJSON[i+8:]
	return rest[:strings.Index(rest, `"`)]
}

// A [route] to direct sends a module straight to its origin; other modules
// still go to their pool.
func TestRouteToDirect(t *testing.T) {
	origin := gitOrigin(t)
	u := newUpstream(t)
	u.SetFault("", upstream.Fault{})
	m := startModgate(t, options{env: envMap(origin), extra: fmt.Sprintf(`
[pool "public"]
upstream = %s

[route]
example.test/* = direct
* = public
`, u.URL())})
	env := append(goEnv(t, m.URL), "GONOSUMDB=example.com,example.test")
	mustGo(t, env, t.TempDir(), "mod", "download", gitModule+"@v1.1.0")
	mustGo(t, env, t.TempDir(), "mod", "download", "example.com/fix/b@v1.0.0")
	if n := u.Count("/example.test/repo.git/@v/v1.1.0.info"); n != 0 {
		t.Errorf("the direct route's module went to the pool %d times", n)
	}
	if u.Count("/example.com/fix/b/@v/v1.0.0.zip") != 1 {
		t.Errorf("the pool's module did not go to the pool")
	}
}
