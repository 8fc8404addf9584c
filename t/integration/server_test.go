package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"modgate.test/t/fixtures/upstream"
)

// Requests on one HTTP/1.1 connection: hits, misses, errors and HEADs all
// leave the connection usable for the next request.
func TestKeepAliveAcrossAnswers(t *testing.T) {
	u := newUpstream(t)
	m := startModgate(t, options{proxy: u.URL()})
	tr := &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	paths := []struct {
		method, path string
		status       int
	}{
		{"GET", "/example.com/fix/a/@v/list", 200},         // miss
		{"GET", "/example.com/fix/a/@v/v1.0.0.zip", 200},   // miss, streamed
		{"GET", "/example.com/fix/a/@v/v9.0.0.info", 404},  // upstream 404
		{"HEAD", "/example.com/fix/a/@v/v1.0.0.mod", 200},  // miss, HEAD
		{"GET", "/example.com/Bad/@v/list", 400},           // refused
		{"GET", "/example.com/fix/a/@v/v1.0.0.zip", 200},   // hit or join
		{"GET", "/example.com/fix/a/@v/v9.0.0.info", 404},  // negative
		{"GET", "/example.com/fix/big/@v/v1.0.0.zip", 200}, // 2 MiB miss
		{"GET", "/sumdb/sum.other.example/supported", 404}, // sumdb
		{"GET", "/example.com/fix/a/@v/list", 200},         // hit
	}
	reused := 0
	for _, p := range paths {
		req, _ := http.NewRequest(p.method, m.URL+p.path, nil)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(info httptrace.GotConnInfo) {
				if info.Reused {
					reused++
				}
			},
		}))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", p.method, p.path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != p.status {
			t.Errorf("%s %s: %d, want %d", p.method, p.path, resp.StatusCode, p.status)
		}
	}
	if reused != len(paths)-1 {
		t.Errorf("%d of %d requests reused the connection, want all but the first", reused, len(paths)-1)
	}
}

// server.max_connections bounds open client connections: one more is
// closed at once, and a slot frees when a client leaves.
func TestMaxConnections(t *testing.T) {
	u := newUpstream(t)
	m2 := startModgate(t, options{proxy: u.URL(), server: "max_connections = 2\n"})
	addr := strings.TrimPrefix(m2.URL, "http://")
	// ask sends one request on a new connection and reports whether it was answered.
	ask := func() (net.Conn, bool) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET /example.com/fix/a/@v/list HTTP/1.1\r\nHost: x\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		return c, err == nil && strings.Contains(line, "200")
	}
	var conns []net.Conn
	// The harness's own start-up probe may still count for a moment.
	eventually(t, "a first connection served", func() bool {
		c, ok := ask()
		if !ok {
			c.Close()
			return false
		}
		conns = append(conns, c)
		return true
	})
	c, ok := ask()
	if !ok {
		t.Fatalf("second connection within the limit was not served")
	}
	conns = append(conns, c)
	defer conns[1].Close()
	third, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	fmt.Fprintf(third, "GET /example.com/fix/a/@v/list HTTP/1.1\r\nHost: x\r\n\r\n")
	third.SetReadDeadline(time.Now().Add(10 * time.Second))
	if line, err := bufio.NewReader(third).ReadString('\n'); err == nil {
		t.Errorf("a third connection was served: %q", line)
	}
	eventually(t, "a log line about the refused connection", func() bool {
		return strings.Contains(m2.Log(), "max_connections")
	})
	// The metrics: every refusal counted (the start-up probe may have
	// been one too), the two held connections open.
	metrics := metricsText(t, m2)
	refused := strings.Count(m2.Log(), "refusing a client connection")
	for _, want := range []string{
		fmt.Sprintf("\nmodgate_client_connections_refused_total %d\n", refused),
		"\nmodgate_client_connections 2\n",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q (%d refusals logged)", strings.TrimSpace(want), refused)
		}
	}
	conns[0].Close()
	eventually(t, "a freed slot", func() bool {
		c, ok := ask()
		c.Close()
		return ok
	})
}

// A password in an upstream URL never reaches the log.
func TestUpstreamPasswordNotLogged(t *testing.T) {
	u := newUpstream(t)
	withCreds := strings.Replace(u.URL(), "http://", "http://user:s3cr3tpw@", 1)
	// From $GOPROXY: the config file refuses credentials in a URL.
	m := startModgate(t, options{env: map[string]string{"GOPROXY": withCreds}})
	if st, _, _ := get(t, m.URL+"/example.com/fix/a/@v/list"); st != 200 {
		t.Fatalf("list through an upstream URL with credentials: %d", st)
	}
	u.Stop()
	_, _, body := get(t, m.URL+"/example.com/fix/b/@v/list") // a failure, naming its upstream
	if strings.Contains(string(body), "s3cr3tpw") || !strings.Contains(string(body), "127.0.0.1") {
		t.Errorf("error body %q: want the upstream named without its password", body)
	}
	eventually(t, "the failure's log line", func() bool { return strings.Contains(m.Log(), "connect failed") })
	if strings.Contains(m.Log(), "s3cr3tpw") {
		t.Errorf("the log holds the upstream password:\n%s", m.Log())
	}
}

// /healthz answers while the loop turns; /readyz says whether the cache can
// take new objects (503 if not) and names pools without a usable upstream
// (still 200: cached modules are served).
func TestHealthAndReadiness(t *testing.T) {
	u := newUpstream(t)
	m := startModgate(t, options{extra: fmt.Sprintf("[pool \"p\"]\nupstream = %s\n", u.URL())})
	if st, body := rawGet(t, m.URL, "/healthz"); st != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", st, body)
	}
	if st, body := rawGet(t, m.URL, "/readyz"); st != 200 || !strings.HasPrefix(body, "ready: ") {
		t.Errorf("/readyz: %d %q", st, body)
	}
	if out, err := ctl(t, m, "open", u.URL()); err != nil {
		t.Fatalf("force open: %v %s", err, out)
	}
	if st, body := rawGet(t, m.URL, "/readyz"); st != 203 || !strings.Contains(body, "degraded: no usable upstream in pool p") {
		t.Errorf("/readyz with the only upstream open: %d %q", st, body)
	}
	if err := os.RemoveAll(filepath.Join(m.CacheDir, ".tmp")); err != nil {
		t.Fatal(err)
	}
	if st, body := rawGet(t, m.URL, "/readyz"); st != 503 || !strings.Contains(body, "not ready") {
		t.Errorf("/readyz with the cache broken: %d %q", st, body)
	}
	if st, _ := rawGet(t, m.URL, "/healthz"); st != 200 {
		t.Errorf("/healthz with the cache broken: %d (the process is alive)", st)
	}
}

// /metrics (admin listener, Prometheus text) after a known sequence of
// requests gives exact counts.
func TestMetricsExactCounts(t *testing.T) {
	u := newUpstream(t)
	m := startModgate(t, options{proxy: u.URL()})
	info := "/example.com/fix/a/@v/v1.0.0.info"
	missing := "/example.com/fix/a/@v/v9.9.9.info"
	bytes := 0
	step := func(path string, want int) {
		t.Helper()
		st, body := rawGet(t, m.URL, path)
		if st != want {
			t.Fatalf("%s: %d, want %d", path, st, want)
		}
		bytes += len(body)
	}
	step(info, 200) // miss
	waitCached(t, cachePath(t, m.CacheDir, "example.com/fix/a", "v1.0.0", ".info"))
	step(info, 200)                          // hit
	step(missing, 404)                       // miss, upstream 404
	step(missing, 404)                       // negative
	step("/example.com/Upper/@v/list", 400)  // refused
	step("/sumdb/other.example/latest", 404) // not proxied
	// A slow one: its duration cannot land in a bucket below 0.3 s, and
	// while it runs it is a fetch in progress.
	slow := "/example.com/fix/b/@v/list"
	u.SetFault(slow, upstream.Fault{Mode: upstream.Delay, Delay: 300 * time.Millisecond})
	done := make(chan int)
	go func() {
		st, body := rawGet(t, m.URL, slow)
		bytes += len(body)
		done <- st
	}()
	eventually(t, "the slow fetch upstream", func() bool { return u.Count(slow) == 1 })
	if !strings.Contains(metricsText(t, m), "\nmodgate_upstream_fetches_in_progress 1\n") {
		t.Errorf("during the slow fetch: modgate_upstream_fetches_in_progress is not 1")
	}
	if st := <-done; st != 200 {
		t.Fatalf("%s: %d", slow, st)
	}
	// Done once the object is committed, a moment after the client has it.
	var body string
	eventually(t, "no fetch in progress", func() bool {
		var st int
		st, body = rawGet(t, "http://"+m.Admin, "/metrics")
		return st == 200 && strings.Contains(body, "\nmodgate_upstream_fetches_in_progress 0\n")
	})
	want := []string{
		`modgate_requests_total{kind="info",code="200"} 2`,
		`modgate_requests_total{kind="info",code="404"} 2`,
		`modgate_requests_total{kind="list",code="400"} 1`,
		`modgate_requests_total{kind="list",code="200"} 1`,
		`modgate_requests_total{kind="sumdb",code="404"} 1`,
		`modgate_cache_results_total{result="hit"} 1`,
		`modgate_cache_results_total{result="miss"} 3`,
		`modgate_cache_results_total{result="negative"} 1`,
		`modgate_cache_results_total{result="stale"} 0`,
		fmt.Sprintf(`modgate_served_bytes_total %d`, bytes),
		`modgate_upstream_fetches_total 3`,
		fmt.Sprintf(`modgate_upstream_requests_total{upstream="%s",outcome="answer"} 3`, u.URL()),
		fmt.Sprintf(`modgate_upstream_requests_total{upstream="%s",outcome="failure"} 0`, u.URL()),
		fmt.Sprintf(`modgate_upstream_response_seconds_count{upstream="%s"} 3`, u.URL()),
		fmt.Sprintf(`modgate_breaker_state{upstream="%s"} 0`, u.URL()),
		`modgate_cache_ready 1`,
		`modgate_reloads_total{result="accepted"} 0`,
		`modgate_config_last_reload_successful 1`,
		`modgate_admin_denied_total 0`,
		`modgate_request_duration_seconds_count{kind="info"} 4`,
		`modgate_request_duration_seconds_bucket{kind="info",le="+Inf"} 4`,
		`modgate_request_duration_seconds_count{kind="list"} 2`,
		`modgate_request_duration_seconds_count{kind="sumdb"} 1`,
		`modgate_request_duration_seconds_count{kind="zip"} 0`,
		`modgate_client_connections_refused_total 0`,
	}
	// Its start, to the second: between just before modgate was launched
	// and now.
	var started int64
	for _, l := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(l, "process_start_time_seconds "); ok {
			started, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	if now := time.Now().Unix(); started < now-60 || started > now {
		t.Errorf("process_start_time_seconds %d, now %d", started, now)
	}
	if !strings.Contains(body, "\nmodgate_build_info{version=\"") {
		t.Errorf("/metrics lacks modgate_build_info")
	}
	for _, w := range want {
		if !strings.Contains(body, w+"\n") {
			t.Errorf("/metrics lacks %q", w)
		}
	}
	for _, le := range []string{"0.001", "0.1", "0.25"} {
		var n int
		line := `modgate_request_duration_seconds_bucket{kind="list",le="` + le + `"} `
		if i := strings.Index(body, line); i < 0 {
			t.Errorf("/metrics lacks %s", line)
		} else if fmt.Sscan(body[i+len(line):], &n); n > 1 {
			t.Errorf("%s%d: the 0.3 s list is in it", line, n)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", body)
	}
}

// One JSON access line per request; the request id is the client's
// X-Request-Id (or made here), echoed to the client and sent upstream.
func TestAccessLogAndRequestID(t *testing.T) {
	u := newUpstream(t)
	m := startModgate(t, options{proxy: u.URL()})
	req, _ := http.NewRequest("GET", m.URL+"/example.com/fix/b/@v/v1.0.0.info", nil)
	req.Header.Set("X-Request-Id", "ci-run-42.7")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if got := resp.Header.Get("X-Request-Id"); got != "ci-run-42.7" {
		t.Errorf("X-Request-Id echoed as %q", got)
	}
	if got := u.RequestID("/example.com/fix/b/@v/v1.0.0.info"); got != "ci-run-42.7" {
		t.Errorf("upstream saw X-Request-Id %q", got)
	}
	// A hit with no id of its own gets one made here.
	waitCached(t, cachePath(t, m.CacheDir, "example.com/fix/b", "v1.0.0", ".info"))
	_, h, _ := get(t, m.URL+"/example.com/fix/b/@v/v1.0.0.info")
	made := h.Get("X-Request-Id")
	if len(made) != 16 {
		t.Errorf("made-up request id %q", made)
	}
	type line struct {
		ID, Method, Path, Module, Version, Cache, Upstream string
		Status, Attempts                                   int
		Bytes                                              int64
	}
	var seen []line
	access := func(n int) bool {
		seen = nil
		for _, l := range strings.Split(m.Log(), "\n") {
			var a line
			if strings.HasPrefix(l, "{") && json.Unmarshal([]byte(l), &a) == nil && a.Path != "" {
				seen = append(seen, a)
			}
		}
		return len(seen) >= n
	}
	eventually(t, "two access lines", func() bool { return access(2) })
	want := fixtureModule(t, u, "example.com/fix/b", "v1.0.0")
	first := seen[0]
	if first.ID != "ci-run-42.7" || first.Status != 200 || first.Cache != "MISS" || first.Upstream != u.URL() ||
		first.Attempts != 1 || first.Module != "example.com/fix/b" || first.Version != "v1.0.0" ||
		first.Bytes != int64(len(want.Info)) || first.Method != "GET" {
		t.Errorf("first access line: %+v", first)
	}
	if second := seen[1]; second.ID != made || second.Cache != "HIT" || second.Upstream != "" {
		t.Errorf("second access line: %+v", second)
	}
	// A hostile id is not trusted: a fresh one is made.
	req, _ = http.NewRequest("GET", m.URL+"/example.com/fix/b/@v/v1.0.0.info", nil)
	req.Header.Set("X-Request-Id", `x"}{injected`)
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Request-Id"); strings.Contains(got, "injected") {
		t.Errorf("a malformed request id was kept: %q", got)
	}
	// A "not found" names the upstream that said so.
	if st, _, _ := get(t, m.URL+"/example.com/fix/b/@v/v9.9.9.info"); st != 404 {
		t.Fatalf("missing version: %d", st)
	}
	eventually(t, "four access lines", func() bool { return access(4) })
	if last := seen[3]; last.Status != 404 || last.Cache != "MISS" || last.Upstream != u.URL() || last.Attempts != 1 {
		t.Errorf("404 access line: %+v", last)
	}
}
