package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	"modgate.test/t/fixtures/upstream"
)

// ctl runs "modgate upstream ARGS" against m's admin endpoint.
func ctl(t *testing.T, m *modgate, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(binary(t), append([]string{"upstream", "--admin", m.Admin}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

type upstreamStatus struct {
	URL      string `json:"url"`
	State    string `json:"state"`
	Mode     string `json:"mode"`
	Drained  bool   `json:"drained"`
	Requests int    `json:"requests"`
	Failures int    `json:"failures"`
	Pools    []struct {
		Pool   string `json:"pool"`
		Weight int    `json:"weight"`
		Backup bool   `json:"backup"`
	} `json:"pools"`
	MsUntilHalfOpen int64 `json:"ms_until_half_open"`
	Latency         struct {
		P50, P95, P99 int64
	} `json:"latency_ms"`
}

func status(t *testing.T, m *modgate) map[string]upstreamStatus {
	t.Helper()
	out, err := ctl(t, m, "status", "--json")
	if err != nil {
		t.Fatalf("modgate upstream status --json: %v\n%s", err, out)
	}
	var list []upstreamStatus
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("status JSON: %v\n%s", err, out)
	}
	byURL := map[string]upstreamStatus{}
	for _, u := range list {
		byURL[u.URL] = u
	}
	return byURL
}

// Drain and undrain an upstream from the command line; force a breaker
// open and hand it back; read the state as text and JSON.
func TestUpstreamControlFromTheCommandLine(t *testing.T) {
	a := newUpstream(t)
	b := newUpstream(t)
	m := startModgate(t, options{extra: fmt.Sprintf(`
[pool "main"]
upstream = %s weight=2
upstream = %s weight=1
`, a.URL(), b.URL())})
	// Each object once: a miss that must go upstream (no caching in between).
	objects := []string{}
	for i := 0; i < 20; i++ {
		for _, ext := range []string{"info", "mod", "zip"} {
			objects = append(objects, fmt.Sprintf("/example.com/fix/m%02d/@v/v1.0.0.%s", i, ext))
		}
	}
	next := 0
	fetch := func(n int) {
		for i := 0; i < n; i++ {
			if st, _, _ := get(t, m.URL+objects[next]); st != 200 {
				t.Fatalf("%s: %d", objects[next], st)
			}
			next++
		}
	}
	fetch(30)
	if a.Total() != 20 || b.Total() != 10 {
		t.Errorf("weights 2:1 over 30 requests gave %d:%d", a.Total(), b.Total())
	}
	st := status(t, m)
	if su := st[a.URL()]; su.State != "closed" || su.Mode != "auto" || su.Requests != 20 ||
		len(su.Pools) != 1 || su.Pools[0].Weight != 2 || su.Latency.P95 <= 0 {
		t.Errorf("status of a: %+v", su)
	}
	text, err := ctl(t, m, "status")
	if err != nil || !strings.Contains(text, a.URL()) || !strings.Contains(text, "main:2") {
		t.Errorf("text status: %v\n%s", err, text)
	}

	// Drain a (named by its port, a part of its URL): all traffic to b.
	port := a.URL()[strings.LastIndex(a.URL(), ":"):]
	if out, err := ctl(t, m, "drain", port); err != nil || !strings.Contains(out, "drained") {
		t.Fatalf("drain: %v %s", err, out)
	}
	a.ResetCounts()
	b.ResetCounts()
	fetch(10)
	if a.Total() != 0 || b.Total() != 10 {
		t.Errorf("drained a still got %d of 10 requests", a.Total())
	}
	if !status(t, m)[a.URL()].Drained {
		t.Errorf("status does not show a drained")
	}
	if out, err := ctl(t, m, "undrain", port); err != nil {
		t.Fatalf("undrain: %v %s", err, out)
	}
	fetch(6)
	if a.Total() == 0 {
		t.Errorf("undrained a got no traffic")
	}

	// Force b's breaker open: everything to a; then auto again.
	if out, err := ctl(t, m, "open", b.URL()); err != nil || !strings.Contains(out, "open") {
		t.Fatalf("open: %v %s", err, out)
	}
	if s := status(t, m)[b.URL()]; s.State != "open" || s.Mode != "forced-open" || s.MsUntilHalfOpen != -1 {
		t.Errorf("forced open b: %+v", s)
	}
	b.ResetCounts()
	fetch(9)
	if b.Total() != 0 {
		t.Errorf("forced-open b got %d requests", b.Total())
	}
	if out, err := ctl(t, m, "auto", b.URL()); err != nil {
		t.Fatalf("auto: %v %s", err, out)
	}

	// Bad names: none or several match; a bad command.
	if out, err := ctl(t, m, "drain", "no-such-upstream"); err == nil || !strings.Contains(out, "no upstream matches") {
		t.Errorf("unknown name: %v %s", err, out)
	}
	if out, err := ctl(t, m, "drain", "127.0.0.1"); err == nil || !strings.Contains(out, "more than one") {
		t.Errorf("ambiguous name: %v %s", err, out)
	}
	if _, err := ctl(t, m, "explode", "x"); err == nil {
		t.Errorf("unknown command accepted")
	}
}

// The status never shows an upstream's password.
func TestStatusHidesCredentials(t *testing.T) {
	u := newUpstream(t)
	u.SetFault("", upstream.Fault{})
	withCreds := strings.Replace(u.URL(), "http://", "http://user:s3cr3tpw@", 1)
	// The config file refuses credentials in a URL; $GOPROXY takes them,
	// as for the go command.
	m := startModgate(t, options{env: map[string]string{"GOPROXY": withCreds}})
	get(t, m.URL+"/example.com/fix/a/@v/list")
	text, _ := ctl(t, m, "status")
	js, _ := ctl(t, m, "status", "--json")
	if strings.Contains(text+js, "s3cr3tpw") || !strings.Contains(text, "127.0.0.1") {
		t.Errorf("status shows the password or not the upstream:\n%s\n%s", text, js)
	}
}

// adminPost sends POST path to m's admin endpoint with the Authorization
// header auth ("" for none) and returns the status, headers and body.
func adminPost(t *testing.T, m *modgate, path, auth string, header ...string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://"+m.Admin+path, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body)
}

// With [admin] token_file, every change needs the bearer token (401 and no
// change without it or with a wrong one) while reads stay open; the
// command line sends the token of the config it reads, or
// $MODGATE_ADMIN_TOKEN; a reload rotates it; refusals are counted; the
// token shows nowhere.
func TestAdminToken(t *testing.T) {
	u := newUpstream(t)
	tok1, tok2 := secret(t, "adm1-"), secret(t, "adm2-")
	file := writeSecret(t, "admin.token", tok1+"\n", 0o600)
	o := options{proxy: u.URL(), extra: "[admin]\ntoken_file = " + file + "\n"}
	m := startModgate(t, o)
	host := strings.TrimPrefix(u.URL(), "http://")

	for _, p := range []string{"/", "/metrics", "/upstreams"} {
		if code, _, body := get(t, "http://"+m.Admin+p); code != 200 {
			t.Errorf("GET %s without a token: %d %s", p, code, body)
		}
	}
	drain := "/upstreams/drain?name=" + host
	code, h, body := adminPost(t, m, drain, "")
	if code != 401 || h.Get("WWW-Authenticate") == "" || !strings.Contains(body, "Authorization: Bearer") {
		t.Errorf("POST without a token: %d %q %q", code, h.Get("WWW-Authenticate"), body)
	}
	for _, bad := range []string{"Bearer " + tok2, "Bearer " + tok1 + "x", "Bearer " + tok1[:len(tok1)-1], "Basic " + tok1, tok1} {
		if code, _, body := adminPost(t, m, drain, bad); code != 401 {
			t.Errorf("POST with %q: %d %q", bad, code, body)
		}
	}
	if code, _, body := adminPost(t, m, "/reload", ""); code != 401 {
		t.Errorf("POST /reload without a token: %d %q", code, body)
	}
	if status(t, m)[u.URL()].Drained {
		t.Fatal("a refused drain drained the upstream")
	}
	if code, _, body := adminPost(t, m, drain, "bearer "+tok1); code != 200 {
		t.Errorf("POST with the token: %d %q", code, body)
	}
	if !status(t, m)[u.URL()].Drained {
		t.Error("the drain with the token did not drain")
	}

	// The command line: the token of the config it reads; with --admin
	// alone none, unless $MODGATE_ADMIN_TOKEN.
	cli := func(env []string, args ...string) (string, error) {
		cmd := exec.Command(binary(t), args...)
		cmd.Env = append(cleanEnv(), env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := cli(nil, "upstream", "undrain", host, "-c", m.conf); err != nil {
		t.Errorf("modgate upstream undrain -c: %v %s", err, out)
	}
	out, err := cli(nil, "reload", "--admin", m.Admin)
	if err == nil || !strings.Contains(out, "Authorization: Bearer") {
		t.Errorf("modgate reload --admin without a token: %v %q", err, out)
	}
	if out, err := cli([]string{"MODGATE_ADMIN_TOKEN=" + tok1}, "reload", "--admin", m.Admin); err != nil {
		t.Errorf("modgate reload with $MODGATE_ADMIN_TOKEN: %v %q", err, out)
	}

	// Rotation: the new token in the file, SIGHUP (needs none).
	if err := os.WriteFile(file, []byte(tok2+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if ev := hup(t, m); !strings.Contains(ev, `"result":"accepted"`) || !strings.Contains(ev, "[admin] token") {
		t.Fatalf("reload after the rotation: %s", ev)
	}
	if code, _, _ := adminPost(t, m, "/reload", "Bearer "+tok1); code != 401 {
		t.Errorf("the old token after the rotation: %d", code)
	}
	if code, _, body := adminPost(t, m, "/reload", "Bearer "+tok2); code != 200 {
		t.Errorf("the new token after the rotation: %d %q", code, body)
	}
	// 1 + 5 + 1 refused POSTs, 1 refused modgate reload, 1 old token.
	if metrics := metricsText(t, m); !strings.Contains(metrics, "\nmodgate_admin_denied_total 9\n") {
		t.Errorf("modgate_admin_denied_total is not 9:\n%s", metrics)
	}
	if n := strings.Count(m.Log(), "admin: refused POST"); n != 9 {
		t.Errorf("%d refusal log lines, want 9", n)
	}
	assertNoSecret(t, m, nil, tok1, tok2)
	if _, _, page := get(t, "http://"+m.Admin+"/"); strings.Contains(string(page), tok2) {
		t.Error("the status page shows the token")
	}
}

// A browser never controls modgate, even from this host and with the
// token: a page (or a DNS-rebinding one) could otherwise POST here without
// a preflight. curl-like clients, without Origin, still may.
func TestAdminRefusesBrowsers(t *testing.T) {
	u := newUpstream(t)
	tok := secret(t, "adm-")
	file := writeSecret(t, "admin.token", tok+"\n", 0o600)
	for _, withToken := range []bool{false, true} {
		o := options{proxy: u.URL()}
		auth := ""
		if withToken {
			o.extra = "[admin]\ntoken_file = " + file + "\n"
			auth = "Bearer " + tok
		}
		m := startModgate(t, o)
		drain := "/upstreams/drain?name=" + strings.TrimPrefix(u.URL(), "http://")
		for _, h := range [][]string{
			{"Origin", "https://evil.example"},
			{"Origin", "http://" + m.Admin},
			{"Sec-Fetch-Site", "cross-site"},
			{"Sec-Fetch-Site", "same-origin"},
		} {
			if code, _, body := adminPost(t, m, drain, auth, h...); code != 403 || !strings.Contains(body, "not taken from a browser") {
				t.Errorf("token %v, %s: %s: %d %q", withToken, h[0], h[1], code, body)
			}
		}
		if code, _, body := adminPost(t, m, "/reload", auth, "Origin", "null"); code != 403 {
			t.Errorf("token %v, POST /reload from a browser: %d %q", withToken, code, body)
		}
		if status(t, m)[u.URL()].Drained || reloadEvents(m) != 0 {
			t.Fatalf("token %v: a refused browser POST changed something", withToken)
		}
		if !strings.Contains(metricsText(t, m), "\nmodgate_admin_denied_total 5\n") {
			t.Errorf("token %v: modgate_admin_denied_total is not 5", withToken)
		}
		if code, _, body := adminPost(t, m, drain, auth, "Sec-Fetch-Site", "none"); code != 200 {
			t.Errorf("token %v, no Origin, Sec-Fetch-Site none: %d %q", withToken, code, body)
		}
	}
}
