package integration

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// rawGet sends one request line as given (no client-side cleaning of the
// path) and returns the status code and body.
func rawGet(t *testing.T, base, path string) (int, string) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path)
	r := bufio.NewReader(c)
	var proto string
	var status int
	if _, err := fmt.Fscanf(r, "%s %d", &proto, &status); err != nil {
		t.Fatalf("GET %q: reading status: %v", path, err)
	}
	var body strings.Builder
	inBody := false
	for {
		line, err := r.ReadString('\n')
		if inBody {
			body.WriteString(line)
		} else if line == "\r\n" {
			inBody = true
		}
		if err != nil {
			break
		}
	}
	return status, body.String()
}

// Hostile and malformed paths get a 400 or 404 with one line that says
// what was wrong, never reach an upstream, and never touch a file outside
// the cache.
func TestBadPathsAreRefused(t *testing.T) {
	u := newUpstream(t)
	m := startModgate(t, options{proxy: u.URL()})
	secret := filepath.Join(filepath.Dir(m.CacheDir), "secret")
	if err := os.WriteFile(secret, []byte("secret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		path   string
		status int
		says   string
	}{
		{"/../secret/@v/list", 400, ""},
		{"/example.com/../../secret/@v/list", 400, ""},
		{"/example.com/%2e%2e/%2e%2e/secret/@v/list", 400, ""},
		{"/example.com/x/@v/..%2f..%2f..%2fsecret.info", 400, ""},
		{"/example.com/x/@v/v1.0.0%00.info", 400, ""},
		{"/example.com/Upper/@v/list", 400, "case"},
		{"/example.com/!!x/@v/list", 400, ""},
		{"/example.com/x/@v/v1.0.0.tar", 404, ""},
		{"/example.com/x/@v/master.zip", 400, ""},
		{"/example.com/x/@v/", 404, ""},
		{"/example.com//x/@v/list", 400, ""},
		{"//etc/passwd/@v/list", 400, ""},
		{"/" + strings.Repeat("a", 3000) + ".com/@v/list", 400, "too long"},
		// Past 4 KiB libevhtp splits the path itself; refused all the same.
		{"/" + strings.Repeat("a", 5000) + ".com/@v/list", 0, ""},
		{"/", 404, ""},
		{"/favicon.ico", 404, ""},
	}
	for _, c := range cases {
		st, body := rawGet(t, m.URL, c.path)
		if st != c.status && !(c.status == 0 && (st == 400 || st == 404)) {
			t.Errorf("GET %.80q: status %d, want %d (%q)", c.path, st, c.status, body)
		}
		line := strings.TrimSuffix(body, "\n")
		if line == "" || strings.Contains(line, "\n") || !strings.HasPrefix(line, "modgate: ") {
			t.Errorf("GET %.80q: body %q is not one modgate line", c.path, body)
		}
		if c.says != "" && !strings.Contains(line, c.says) {
			t.Errorf("GET %.80q: %q does not say %q", c.path, line, c.says)
		}
		if strings.Contains(body, "secret\n") {
			t.Errorf("GET %.80q served a file outside the cache", c.path)
		}
	}
	if n := u.Total(); n != 0 {
		t.Errorf("bad paths caused %d upstream requests", n)
	}
	// The percent-encoded '!' the go command really sends is fine.
	if st, body := rawGet(t, m.URL, "/example.com/fix/%21upper/@v/list"); st != 200 || !strings.Contains(body, "v0.1.0") {
		t.Errorf("%%21-encoded path: %d %q", st, body)
	}
	// modgate serves GOSUMDB's database (it verifies against it) and
	// answers "supported" itself; another database's name is a 404,
	// which sends clients to it directly.
	if st, _ := rawGet(t, m.URL, "/sumdb/sum.golang.org/supported"); st != 200 {
		t.Errorf("/sumdb/sum.golang.org/supported: %d, want 200", st)
	}
	if st, _ := rawGet(t, m.URL, "/sumdb/sum.other.example/supported"); st != 404 {
		t.Errorf("/sumdb/sum.other.example/supported: %d, want 404", st)
	}
}

// GONOPROXY modules never go to a proxy upstream.
func TestNoProxyModulesNeverReachAProxy(t *testing.T) {
	u := newUpstream(t)
	m := startModgate(t, options{proxy: u.URL(), env: map[string]string{"GOPRIVATE": "example.com/fix/b"}})
	st, body := rawGet(t, m.URL, "/example.com/fix/b/@v/list")
	if st != 404 || !strings.Contains(body, "GONOPROXY") {
		t.Errorf("GOPRIVATE module: %d %q", st, body)
	}
	if st, _ := rawGet(t, m.URL, "/example.com/fix/a/@v/list"); st != 200 {
		t.Errorf("other module: %d", st)
	}
	if n := u.Count("/example.com/fix/b/@v/list"); n != 0 {
		t.Errorf("GOPRIVATE module asked upstream %d times", n)
	}

	// The go command with GOPROXY=modgate,direct then goes direct itself;
	// with no route to a VCS it fails, but not because of modgate.
	m2 := startModgate(t, options{proxy: u.URL(), noproxy: "example.com/fix/*"})
	if st, _ := rawGet(t, m2.URL, "/example.com/fix/m01/@v/v1.0.0.info"); st != 404 {
		t.Errorf("noproxy glob: %d, want 404", st)
	}
	if n := u.Total(); n != 1 {
		t.Errorf("upstream saw %d requests, want 1 (only fix/a's list)", n)
	}
}

// GOPROXY=off in modgate's list refuses lookups with the go command's words.
func TestGoproxyOff(t *testing.T) {
	m := startModgate(t, options{proxy: "off"})
	st, body := rawGet(t, m.URL, "/example.com/fix/a/@v/list")
	if st != 403 || !strings.Contains(body, "GOPROXY=off") {
		t.Errorf("GOPROXY=off: %d %q", st, body)
	}
}

// modgate -t checks a configuration: 0 and the effective settings when
// good, non-zero and the line of the first error when not.
func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.ini")
	os.WriteFile(good, []byte("[server]\nlisten = 127.0.0.1:9999\n[upstream]\nproxy = http://127.0.0.1:1|https://proxy.example,direct\n"), 0o644)
	out, err := exec.Command(binary(t), "-t", "-c", good).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "9999") || !strings.Contains(string(out), "valid") {
		t.Errorf("modgate -t good.ini: %v\n%s", err, out)
	}
	bad := filepath.Join(dir, "bad.ini")
	os.WriteFile(bad, []byte("[server]\nlisten = 127.0.0.1:9999\n\n[upstream]\nproxy = ftp://x\n"), 0o644)
	out, err = exec.Command(binary(t), "-t", "-c", bad).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "bad.ini:5") {
		t.Errorf("modgate -t bad.ini: %v, want an error naming line 5:\n%s", err, out)
	}
	out, err = exec.Command(binary(t), "-t", "-c", filepath.Join(dir, "missing.ini")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "missing.ini") {
		t.Errorf("modgate -t missing.ini: %v\n%s", err, out)
	}
	// Flags override the file.
	cmd := exec.Command(binary(t), "-t", "-c", good, "--listen", "127.0.0.1:7777", "--cache-dir", dir)
	out, err = cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "7777") || !strings.Contains(string(out), dir) {
		t.Errorf("flags over file: %v\n%s", err, out)
	}
	// Defaults follow the go command's environment.
	cmd = exec.Command(binary(t), "-t")
	cmd.Env = append(cleanEnv(), "GOPROXY=http://127.0.0.1:1|off", "GOPRIVATE=*.corp.example")
	out, err = cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "http://127.0.0.1:1|off") || !strings.Contains(string(out), "*.corp.example") {
		t.Errorf("environment defaults: %v\n%s", err, out)
	}
}
