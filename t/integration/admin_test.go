package integration

import (
	"encoding/json"
	"fmt"
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
