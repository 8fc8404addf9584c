// Package integration starts the modgate binary built by make (MODGATE_BIN)
// in front of fixture upstreams on 127.0.0.1 and drives it with the real go
// command and with raw HTTP, asserting what a user would see.
package integration

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"modgate.test/t/fixtures/upstream"
)

// modgate is one running modgate process.
type modgate struct {
	t        *testing.T
	URL      string // http://127.0.0.1:PORT
	TLS      string // https://127.0.0.1:PORT: the same port, when [server] has tls_cert
	Admin    string // 127.0.0.1:PORT of the admin endpoint
	CacheDir string
	cmd      *exec.Cmd
	conf     string // the INI file
	server   string // its [server] lines: the port and cache of this run
	admin    string // its [admin] section
	mu       sync.Mutex
	log      bytes.Buffer
	done     chan error
}

type options struct {
	proxy    string            // [upstream] proxy = ...
	noproxy  string            // [upstream] noproxy = ...
	server   string            // more [server] lines
	extra    string            // more INI text, appended
	env      map[string]string // extra environment for modgate
	cacheDir string            // reuse a cache directory
}

func binary(t *testing.T) string {
	bin := os.Getenv("MODGATE_BIN")
	if bin == "" {
		bin = "../../build/modgate"
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(abs); err != nil {
		t.Fatalf("modgate binary %s: %v (run make, or set MODGATE_BIN)", abs, err)
	}
	return abs
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startModgate writes a config, starts modgate on a free loopback port and
// waits until it accepts connections. It is stopped (SIGTERM) at cleanup and
// must then exit 0, which under AddressSanitizer also means no leak.
//
// The ports are found free by binding and closing them, so another process
// may take one before modgate binds it: a start that fails with "Address
// already in use" is tried again on new ports.
func startModgate(t *testing.T, o options) *modgate {
	t.Helper()
	dir := t.TempDir()
	cache := o.cacheDir
	if cache == "" {
		cache = filepath.Join(dir, "cache")
	}
	for attempt := 1; ; attempt++ {
		m, err := launchModgate(t, o, dir, cache)
		if err == nil {
			t.Cleanup(m.stop)
			return m
		}
		if attempt == 5 || !strings.Contains(m.Log(), "Address already in use") {
			t.Fatalf("%v:\n%s", err, m.Log())
		}
		t.Logf("modgate start %d: a port was taken meanwhile; trying others", attempt)
	}
}

// launchModgate is one try of startModgate: the modgate running, or an
// error once it has exited or not listened within 10 s.
func launchModgate(t *testing.T, o options, dir, cache string) (*modgate, error) {
	t.Helper()
	port := freePort(t)
	adminPort := freePort(t)
	conf := filepath.Join(dir, "modgate.ini")
	m := &modgate{t: t, URL: fmt.Sprintf("http://127.0.0.1:%d", port), CacheDir: cache,
		TLS:    fmt.Sprintf("https://127.0.0.1:%d", port),
		Admin:  fmt.Sprintf("127.0.0.1:%d", adminPort),
		conf:   conf,
		server: fmt.Sprintf("[server]\nlisten = 127.0.0.1:%d\ncache = %s\n", port, cache),
		admin:  fmt.Sprintf("\n[admin]\nlisten = 127.0.0.1:%d\n", adminPort),
		done:   make(chan error, 1)}
	m.writeConfig(t, o)
	m.cmd = exec.Command(binary(t), "serve", "-c", conf, "--log-level", "debug")
	m.cmd.Env = append(cleanEnv(), "ASAN_OPTIONS=detect_leaks=1:abort_on_error=0")
	// As for the go commands (goEnv): the fixture's modules are in no
	// public checksum database, so modgate pins them unless a test
	// brings a database of its own.
	if _, ok := o.env["GONOSUMDB"]; !ok {
		m.cmd.Env = append(m.cmd.Env, "GONOSUMDB=example.com,example.test")
	}
	for k, v := range o.env {
		m.cmd.Env = append(m.cmd.Env, k+"="+v)
	}
	stderr, err := m.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			m.mu.Lock()
			m.log.WriteString(sc.Text() + "\n")
			m.mu.Unlock()
		}
		m.done <- m.cmd.Wait()
	}()
	// Ready when this modgate answers its own /metrics: both listeners
	// are bound before its loop answers anything. A bare connect to the
	// client port is not enough: another process (a fixture server of a
	// package tested alongside) may have taken the port freePort found,
	// and this modgate then fails to bind and exits.
	probe := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if resp, err := probe.Get("http://" + m.Admin + "/metrics"); err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && strings.Contains(string(body), "\nmodgate_build_info{") {
				return m, nil
			}
		}
		select {
		case err := <-m.done:
			m.cmd.Process = nil
			return m, fmt.Errorf("modgate exited before listening (%v)", err)
		default:
		}
		if time.Now().After(deadline) {
			m.cmd.Process.Kill()
			<-m.done
			m.cmd.Process = nil
			return m, fmt.Errorf("modgate did not start listening within 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// writeConfig writes the INI file: this run's listen and admin addresses
// and cache, then o's settings (o.env and o.cacheDir are ignored).
// startModgate uses it; a test rewrites the file with it before a reload.
func (m *modgate) writeConfig(t *testing.T, o options) {
	t.Helper()
	ini := m.server + o.server + m.admin
	if o.proxy != "" {
		ini += "[upstream]\nproxy = " + o.proxy + "\n"
	}
	if o.noproxy != "" {
		ini += "[upstream]\nnoproxy = " + o.noproxy + "\n"
	}
	ini += o.extra
	// Written aside and renamed, as an operator's tool would: a reload
	// never reads a half-written file.
	tmp := m.conf + ".new"
	if err := os.WriteFile(tmp, []byte(ini), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, m.conf); err != nil {
		t.Fatal(err)
	}
}

// Log returns what modgate has written to stderr so far.
func (m *modgate) Log() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.log.String()
}

func (m *modgate) stop() {
	if m.cmd.Process == nil {
		return
	}
	m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-m.done:
		if err != nil {
			m.t.Errorf("modgate exited with %v; its log:\n%s", err, m.Log())
		} else if m.t.Failed() {
			m.t.Logf("modgate log:\n%s", m.Log())
		}
	case <-time.After(15 * time.Second):
		m.cmd.Process.Kill()
		m.t.Errorf("modgate did not stop within 15s of SIGTERM; its log:\n%s", m.Log())
	}
	m.cmd.Process = nil
}

// cleanEnv is the environment without the go command's proxy settings, so
// nothing from the machine leaks into a test.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "GOPROXY", "GONOPROXY", "GOPRIVATE", "GONOSUMDB", "GOSUMDB", "GOFLAGS",
			"GOMODCACHE", "MODGATE_CACHE", "XDG_CACHE_HOME":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// goEnv is the environment for a go command that reaches modules only
// through proxy, with its own empty module cache.
func goEnv(t *testing.T, proxy string) []string {
	gopath := t.TempDir()
	return append(cleanEnv(),
		"GOPROXY="+proxy,
		// Its own GOPATH too: the go command keeps checksum database
		// state (the newest tree it has verified) in GOPATH/pkg/sumdb.
		"GOPATH="+gopath,
		"GOMODCACHE="+filepath.Join(gopath, "modcache"),
		// The fixture modules are not in any checksum database; the
		// integrity issue brings a test database of our own.
		"GONOSUMDB=example.com",
		"GOFLAGS=-mod=mod -modcacherw",
		"GOTOOLCHAIN=local",
	)
}

// runGo runs the go command in dir with env and returns its stdout and
// stderr and whether it succeeded.
func runGo(t *testing.T, env []string, dir string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Env = env
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

func mustGo(t *testing.T, env []string, dir string, args ...string) string {
	t.Helper()
	out, errs, err := runGo(t, env, dir, args...)
	if err != nil {
		t.Fatalf("go %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errs)
	}
	return out
}

// get fetches url and returns status, headers and body.
func get(t *testing.T, url string) (int, http.Header, []byte) {
	t.Helper()
	return do(t, "GET", url)
}

// client bounds every raw request: a hang fails the test, not the suite.
var client = &http.Client{Timeout: 30 * time.Second}

func do(t *testing.T, method, url string) (int, http.Header, []byte) {
	t.Helper()
	return doWith(t, client, method, url)
}

// doWith is do with another client (one that trusts a test CA, say).
func doWith(t *testing.T, c *http.Client, method, url string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return resp.StatusCode, resp.Header, body
}

// newUpstream starts a fixture upstream, stopped at cleanup.
func newUpstream(t *testing.T) *upstream.Server {
	t.Helper()
	u := upstream.New()
	if err := u.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.Stop)
	return u
}

func fixtureModule(t *testing.T, u *upstream.Server, path, version string) upstream.ModuleVersion {
	t.Helper()
	mv, ok := u.Module(path, version)
	if !ok {
		t.Fatalf("fixture has no %s@%s", path, version)
	}
	return mv
}

// tmpFiles lists what is left in the cache's temp folder.
func tmpFiles(t *testing.T, cache string) []string {
	entries, err := os.ReadDir(filepath.Join(cache, ".tmp"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// eventually polls cond until it holds or 10 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
