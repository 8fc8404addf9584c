package integration

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// secret is a random string no test text could hold by chance, so that
// finding it anywhere it must not be is meaningful.
func secret(t *testing.T, prefix string) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return prefix + hex.EncodeToString(b)
}

// front is a private module proxy on 127.0.0.1: it checks the
// Authorization header of every request (when it wants one), records what
// it got, and serves the fixture upstream's answers behind that. redirect,
// when set, answers matching requests with a 302 to another origin instead.
type front struct {
	URL      string
	want     string // the Authorization header required; "" requires none
	redirect func(r *http.Request) string
	mu       sync.Mutex
	auths    []string // Authorization of each request, "" when none
	refused  int
	srv      *http.Server
}

func startFront(t *testing.T, backend, want string) *front {
	t.Helper()
	target, err := url.Parse(backend)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	director := rp.Director
	rp.Director = func(r *http.Request) {
		director(r)
		r.Header.Del("Authorization") // the fixture is someone else
	}
	f := &front{want: want}
	f.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got := r.Header.Get("Authorization")
			f.mu.Lock()
			f.auths = append(f.auths, got)
			ok := f.want == "" || got == f.want
			if !ok {
				f.refused++
			}
			f.mu.Unlock()
			if !ok {
				w.Header().Set("WWW-Authenticate", `Bearer realm="test"`)
				http.Error(w, "authorization required", http.StatusUnauthorized)
				return
			}
			if f.redirect != nil {
				if to := f.redirect(r); to != "" {
					http.Redirect(w, r, to, http.StatusFound)
					return
				}
			}
			rp.ServeHTTP(w, r)
		})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.URL = "http://" + ln.Addr().String()
	go f.srv.Serve(ln)
	t.Cleanup(func() { f.srv.Close() })
	return f
}

// seen returns the Authorization headers received so far.
func (f *front) seen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.auths...)
}

func basicHeader(user, pass string) string {
	r, _ := http.NewRequest("GET", "http://x/", nil)
	r.SetBasicAuth(user, pass)
	return r.Header.Get("Authorization")
}

// runModgate runs the binary with args (no server) and returns its
// combined output.
func runModgate(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func writeSecret(t *testing.T, name, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// assertNoSecret fails if any secret shows in modgate's log, its metrics,
// its status page (text and JSON), or the bodies it gave clients.
func assertNoSecret(t *testing.T, m *modgate, bodies []string, secrets ...string) {
	t.Helper()
	places := map[string]string{"stderr log": m.Log()}
	for _, p := range []string{"/metrics", "/upstreams", "/upstreams?format=json"} {
		code, _, body := get(t, "http://"+m.Admin+p)
		if code != 200 {
			t.Fatalf("GET %s: %d %s", p, code, body)
		}
		places[p] = string(body)
	}
	for i, b := range bodies {
		places[fmt.Sprintf("client body %d", i)] = b
	}
	for where, text := range places {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("the secret %q appears in %s:\n%s", s, where, text)
			}
		}
	}
}

// Bearer from a file and basic from an environment variable each go to
// their own upstream, go mod download works through both, and a third
// upstream without credentials never sees an Authorization header.
func TestCredsBearerBasicAndNoLeak(t *testing.T) {
	u := newUpstream(t)
	token := secret(t, "tok")
	user, pass := secret(t, "usr"), secret(t, "pw")
	bearer := startFront(t, u.URL(), "Bearer "+token)
	basic := startFront(t, u.URL(), basicHeader(user, pass))
	public := startFront(t, u.URL(), "")
	tokenFile := writeSecret(t, "corp.token", token+"\n", 0o600)

	m := startModgate(t, options{
		env: map[string]string{"MODGATE_TEST_BASIC": user + ":" + pass},
		extra: fmt.Sprintf("[pool \"corp\"]\nupstream = %s token_file=%s\n"+
			"[pool \"other\"]\nupstream = %s weight=2 basic_env=MODGATE_TEST_BASIC\n"+
			"[pool \"public\"]\nupstream = %s\n"+
			"[route]\nexample.com/fix/a = corp\nexample.com/fix/b = other\n* = public\n",
			bearer.URL, tokenFile, basic.URL, public.URL),
	})
	env := goEnv(t, m.URL)
	for _, mv := range []string{"example.com/fix/a@v1.1.0", "example.com/fix/b@v1.0.0",
		"example.com/fix/Upper@v0.1.0"} {
		download(t, env, mv)
	}

	if got := bearer.seen(); len(got) == 0 || bearer.refused != 0 {
		t.Errorf("bearer upstream: %d requests, %d refused (%q)", len(got), bearer.refused, got)
	}
	if got := basic.seen(); len(got) == 0 || basic.refused != 0 {
		t.Errorf("basic upstream: %d requests, %d refused", len(got), basic.refused)
	}
	pub := public.seen()
	if len(pub) == 0 {
		t.Errorf("the public upstream got no request")
	}
	for _, a := range pub {
		if a != "" {
			t.Errorf("the upstream without credentials got Authorization %q", a)
		}
	}

	// The status page says how each credential is found, and only that.
	_, _, body := get(t, "http://"+m.Admin+"/upstreams?format=json")
	var st []struct{ URL, Auth string }
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("/upstreams JSON: %v\n%s", err, body)
	}
	auth := map[string]string{}
	for _, up := range st {
		auth[up.URL] = up.Auth
	}
	if auth[bearer.URL] != "bearer from token_file="+tokenFile ||
		auth[basic.URL] != "basic from basic_env=MODGATE_TEST_BASIC" || auth[public.URL] != "none" {
		t.Errorf("/upstreams auth: %v", auth)
	}
	assertNoSecret(t, m, nil, token, user, pass)
}

// Without the credential the private upstream refuses, and the client sees
// an error; with a wrong one too. Neither error shows the secret, and
// modgate refuses to start with a token inline in its config.
func TestCredsRequiredAndNotShown(t *testing.T) {
	u := newUpstream(t)
	token := secret(t, "tok")
	bearer := startFront(t, u.URL(), "Bearer "+token)

	m := startModgate(t, options{extra: "[pool \"corp\"]\nupstream = " + bearer.URL + "\n"})
	_, errs, err := runGo(t, goEnv(t, m.URL), t.TempDir(), "mod", "download", "-json",
		"example.com/fix/a@v1.1.0")
	if err == nil {
		t.Fatalf("go mod download succeeded without the credential")
	}
	code, _, body := get(t, m.URL+"/example.com/fix/a/@v/v1.0.0.info")
	if code == 200 {
		t.Fatalf("GET .info without the credential: 200")
	}
	if bearer.refused == 0 {
		t.Errorf("the private upstream refused nothing: %q", bearer.seen())
	}
	assertNoSecret(t, m, []string{errs, string(body)}, token)

	// A wrong token: refused too, and neither it nor the right one shows.
	wrong := secret(t, "bad")
	m2 := startModgate(t, options{
		env:   map[string]string{"MODGATE_TEST_TOKEN": wrong},
		extra: "[pool \"corp\"]\nupstream = " + bearer.URL + " token_env=MODGATE_TEST_TOKEN\n",
	})
	code, _, body = get(t, m2.URL+"/example.com/fix/a/@v/v1.0.0.info")
	if code == 200 {
		t.Fatalf("GET .info with a wrong token: 200")
	}
	assertNoSecret(t, m2, []string{string(body)}, token, wrong)

	// Inline, the secret would be in a world-readable file: refused.
	conf := writeSecret(t, "inline.ini", "[pool \"corp\"]\nupstream = "+bearer.URL+" token="+
		token+"\n", 0o644)
	out, err := runModgate(t, "-t", "-c", conf)
	if err == nil || !strings.Contains(out, "credential itself in the config file") ||
		strings.Contains(out, token) {
		t.Errorf("modgate -t with token=: %v\n%s", err, out)
	}
}

// A redirect from the authenticated upstream to another origin, another
// port on 127.0.0.1 or the name localhost, is followed without the
// credential; the download still works from the storage it points at.
func TestCredsRedirectDropsCredential(t *testing.T) {
	u := newUpstream(t)
	token := secret(t, "tok")
	storage := startFront(t, u.URL(), "")
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(storage.URL, "http://"))
	bearer := startFront(t, u.URL(), "Bearer "+token)
	bearer.redirect = func(r *http.Request) string {
		switch {
		case strings.HasSuffix(r.URL.Path, "/fix/a/@v/v1.1.0.zip"):
			return storage.URL + r.URL.Path // 127.0.0.1, another port
		case strings.HasSuffix(r.URL.Path, "/fix/b/@v/v1.0.0.zip"):
			return "http://localhost:" + port + r.URL.Path // another name
		}
		return ""
	}
	// Group-readable: modgate runs, and says so.
	tokenFile := writeSecret(t, "tok", token, 0o640)
	m := startModgate(t, options{extra: fmt.Sprintf(
		"[pool \"corp\"]\nupstream = %s token_file=%s\n", bearer.URL, tokenFile)})
	env := goEnv(t, m.URL)
	for _, mv := range []string{"example.com/fix/a@v1.1.0", "example.com/fix/b@v1.0.0"} {
		want := fixtureModule(t, u, strings.Split(mv, "@")[0], strings.Split(mv, "@")[1])
		if d := download(t, env, mv); d.Sum != want.Sum {
			t.Errorf("%s: Sum %s, want %s", mv, d.Sum, want.Sum)
		}
	}
	got := storage.seen()
	if len(got) < 2 {
		t.Fatalf("the storage origin got %d requests, want the 2 redirected zips", len(got))
	}
	for _, a := range got {
		if a != "" {
			t.Errorf("the redirect target got Authorization %q", a)
		}
	}
	if bearer.refused != 0 {
		t.Errorf("the authenticated upstream refused %d requests", bearer.refused)
	}
	if !logShows(m, "secret file "+tokenFile+" is readable by its group") {
		t.Errorf("no warning about the group-readable token file:\n%s", m.Log())
	}
	assertNoSecret(t, m, nil, token)
}

// netrc gives the GOPROXY chain's upstream its credential by host:port, as
// the go command matches it; an upstream on another port gets nothing.
func TestCredsNetrc(t *testing.T) {
	u := newUpstream(t)
	user, pass := secret(t, "usr"), secret(t, "pw")
	basic := startFront(t, u.URL(), basicHeader(user, pass))
	public := startFront(t, u.URL(), "")
	host := strings.TrimPrefix(basic.URL, "http://")
	netrc := writeSecret(t, "netrc", "machine "+strings.TrimPrefix(public.URL, "http://")+
		"x login no password no\n"+ // a near miss: another machine
		"machine "+host+"\n\tlogin "+user+"\n\tpassword "+pass+"\n", 0o600)

	m := startModgate(t, options{
		proxy: basic.URL + "," + public.URL,
		extra: "[upstream]\nnetrc = " + netrc + "\n",
	})
	env := goEnv(t, m.URL)
	download(t, env, "example.com/fix/a@v1.1.0")
	// Not found on the first upstream: the chain moves on after 404.
	code, _, _ := get(t, m.URL+"/example.com/fix/b/@v/v9.9.9.info")
	if code != 404 && code != 410 {
		t.Errorf("a missing version: %d", code)
	}
	if got := basic.seen(); len(got) == 0 || basic.refused != 0 {
		t.Errorf("netrc upstream: %d requests, %d refused", len(got), basic.refused)
	}
	pub := public.seen()
	if len(pub) == 0 {
		t.Errorf("the second upstream got no request")
	}
	for _, a := range pub {
		if a != "" {
			t.Errorf("the upstream without a netrc entry got Authorization %q", a)
		}
	}
	if !logShows(m, "auth basic from netrc (machine "+host+")") {
		t.Errorf("the log does not say where the credential comes from:\n%s", m.Log())
	}
	assertNoSecret(t, m, nil, user, pass)

	// A netrc the config names must exist.
	conf := writeSecret(t, "m.ini", "[upstream]\nnetrc = "+netrc+".missing\n", 0o644)
	out, err := runModgate(t, "-t", "-c", conf)
	if err == nil || !strings.Contains(out, "No such file") {
		t.Errorf("modgate -t with a missing netrc: %v\n%s", err, out)
	}
}
