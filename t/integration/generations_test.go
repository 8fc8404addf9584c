package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"modgate.test/t/fixtures/upstream"
)

// Live reload swaps one pool-set generation for the next while flights and
// requests still hold the old one. These tests keep work in flight across
// reloads and check that it ends as if no reload had happened: the right
// bytes, one upstream request per object, no error in the log, and (at
// cleanup, under AddressSanitizer) no leak and no use after free.

// genResult is one request's outcome, for requests run in goroutines
// (which may not call t.Fatal).
type genResult struct {
	code  int
	cache string
	body  []byte
	err   error
}

// genFetch GETs url with X-Request-Id id in a goroutine; the result
// arrives on the returned channel.
func genFetch(url, id string) <-chan genResult {
	ch := make(chan genResult, 1)
	go func() {
		req, err := http.NewRequest("GET", url, nil)
		if err != nil {
			ch <- genResult{err: err}
			return
		}
		req.Header.Set("X-Request-Id", id)
		resp, err := client.Do(req)
		if err != nil {
			ch <- genResult{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		ch <- genResult{resp.StatusCode, resp.Header.Get("X-Modgate-Cache"), body, err}
	}()
	return ch
}

// genWait waits for r, at most 10 s.
func genWait(t *testing.T, what string, ch <-chan genResult) genResult {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("%s: %v", what, r.err)
		}
		return r
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no answer within 10 s", what)
	}
	return genResult{}
}

// genStatus is an upstream as `modgate upstream status --json` shows it,
// with the counters these tests need.
type genStatus struct {
	upstreamStatus
	Answers int `json:"answers"`
}

// genUpstreams reads the admin endpoint's JSON status, by URL.
func genUpstreams(t *testing.T, m *modgate) map[string]genStatus {
	t.Helper()
	code, body := rawGet(t, "http://"+m.Admin, "/upstreams?format=json")
	var list []genStatus
	if err := json.Unmarshal([]byte(body), &list); code != 200 || err != nil {
		t.Fatalf("GET /upstreams?format=json: %d %v\n%s", code, err, body)
	}
	byURL := map[string]genStatus{}
	for _, u := range list {
		byURL[u.URL] = u
	}
	return byURL
}

// genAccess waits for the access line of the request with id and returns
// it decoded.
func genAccess(t *testing.T, m *modgate, id string) map[string]any {
	t.Helper()
	var line map[string]any
	eventually(t, "the access line of "+id, func() bool {
		for _, l := range strings.Split(m.Log(), "\n") {
			if !strings.Contains(l, `"id":"`+id+`"`) {
				continue
			}
			if err := json.Unmarshal([]byte(l), &line); err == nil {
				return true
			}
		}
		return false
	})
	return line
}

// genLogErrors lists the log lines of level error, and any sanitizer
// report.
func genLogErrors(m *modgate) []string {
	var bad []string
	for _, l := range strings.Split(m.Log(), "\n") {
		if strings.Contains(l, " error ") || strings.Contains(l, `"level":"error"`) ||
			strings.Contains(l, "Sanitizer") || strings.Contains(l, "runtime error") {
			bad = append(bad, l)
		}
	}
	return bad
}

// genMetric is the value of the unlabelled metric name on /metrics.
func genMetric(t *testing.T, m *modgate, name string) int {
	t.Helper()
	for _, l := range strings.Split(metricsText(t, m), "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("/metrics %s: %q", name, v)
			}
			return n
		}
	}
	t.Fatalf("/metrics has no %s", name)
	return 0
}

// genAccepted checks that a reload event line says accepted, generation gen.
func genAccepted(t *testing.T, what, line string, gen int) {
	t.Helper()
	if !strings.Contains(line, `"result":"accepted"`) || !strings.Contains(line, fmt.Sprintf(`"generation":%d,`, gen)) {
		t.Fatalf("%s: want accepted, generation %d: %s", what, gen, line)
	}
}

// 1. Two flights outlive three reloads (by SIGHUP, modgate reload and POST
// /reload: weights change, a second upstream comes and goes). A .zip
// started in generation 0 is waited for to the end; a request of
// generation 2 joins it (one upstream request in all). A .info that u2
// drips byte by byte starts in generation 1, and its client hangs up after
// the first bytes: from then on the flight alone holds generation 1 (and,
// once u2 is removed, u2) while it fetches for the cache. Both end with
// the right bytes cached, the outcomes land on the upstream objects they
// came from, and the log has no error.
func TestGenerationsFlightOutlivesReloads(t *testing.T) {
	u1 := newUpstream(t)
	u2 := newUpstream(t)
	m := startModgate(t, options{extra: poolINI("upstream = " + u1.URL() + " weight=1\n")})
	want := fixtureModule(t, u1, "example.com/fix/a", "v1.0.0")
	wantB := fixtureModule(t, u2, "example.com/fix/b", "v1.0.0")
	p := "/example.com/fix/a/@v/v1.0.0.zip"
	pb := "/example.com/fix/b/@v/v1.0.0.info"
	u1.SetFault(p, upstream.Fault{Mode: upstream.Delay, Delay: 1500 * time.Millisecond})
	u2.SetFault(pb, upstream.Fault{Mode: upstream.SlowDrip, Delay: 1500 * time.Millisecond / time.Duration(len(wantB.Info))})

	first := genFetch(m.URL+p, "gen-first")
	eventually(t, "the slow fetch upstream", func() bool { return u1.Count(p) == 1 })

	// Generation 1: u2 joins the pool, weighing more (so it is asked
	// first).
	m.writeConfig(t, options{extra: poolINI("upstream = "+u1.URL()+" weight=1\n", "upstream = "+u2.URL()+" weight=3\n")})
	genAccepted(t, "reload 1 (SIGHUP)", hup(t, m), 1)
	// A client that hangs up once the answer has begun. (One waiting
	// for its first byte is noticed only when modgate answers it.)
	c, err := net.Dial("tcp", strings.TrimPrefix(m.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nX-Request-Id: gen-abandoned\r\n\r\n", pb)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != nil {
		t.Fatalf("the dripped answer: %v", err)
	}
	c.Close()
	if line := genAccess(t, m, "gen-abandoned"); u2.Count(pb) != 1 || line["upstream"] != u2.URL() {
		t.Fatalf("the abandoned request: %v, u2 asked %d times", line, u2.Count(pb))
	}
	select {
	case r := <-first:
		t.Fatalf("the slow request ended before the second reload (%d): the test proves nothing", r.code)
	default:
	}

	// Generation 2: other weights; a request of generation 2 joins the
	// flight of generation 0.
	m.writeConfig(t, options{extra: poolINI("upstream = "+u1.URL()+" weight=1\n", "upstream = "+u2.URL()+" weight=5\n")})
	if out, errs, ok := reloadCLI(t, m); !ok || !strings.Contains(out, "generation 2") {
		t.Fatalf("reload 2 (modgate reload): %q %q", out, errs)
	}
	second := genFetch(m.URL+p, "gen-joiner")
	eventually(t, "the second request to join the flight", func() bool {
		return genMetric(t, m, "modgate_singleflight_joins_total") == 1
	})
	// Generation 3: u2 leaves again.
	m.writeConfig(t, options{extra: poolINI("upstream = " + u1.URL() + " weight=2\n")})
	if code, _, body := adminPost(t, m, "/reload", ""); code != 200 || !strings.Contains(body, "generation 3") {
		t.Fatalf("reload 3 (POST /reload): %d %q", code, body)
	}
	select {
	case r := <-first:
		t.Fatalf("the slow request ended before the third reload (%d): the test proves nothing", r.code)
	default:
	}

	for _, c := range []struct {
		id string
		ch <-chan genResult
	}{{"gen-first", first}, {"gen-joiner", second}} {
		r := genWait(t, c.id, c.ch)
		if r.code != 200 || r.cache != "MISS" || string(r.body) != string(want.Zip) {
			t.Errorf("%s: %d %s, %d bytes (want 200 MISS, %d bytes of the fixture zip)",
				c.id, r.code, r.cache, len(r.body), len(want.Zip))
		}
		line := genAccess(t, m, c.id)
		if line["status"] != 200.0 || line["upstream"] != u1.URL() || line["attempts"] != 1.0 {
			t.Errorf("%s: access line %v; want status 200 from %s in 1 attempt", c.id, line, u1.URL())
		}
	}
	// The abandoned flight fetched for the cache.
	if b := waitCached(t, filepath.Join(m.CacheDir, pb)); string(b) != string(wantB.Info) {
		t.Errorf("the abandoned .info cached: %q; want %q", b, wantB.Info)
	}
	for _, c := range []struct {
		path string
		body []byte
	}{{p, want.Zip}, {pb, wantB.Info}} {
		code, h, body := get(t, m.URL+c.path)
		if code != 200 || h.Get("X-Modgate-Cache") != "HIT" || string(body) != string(c.body) {
			t.Errorf("GET %s after the flights: %d %s, %d bytes; want 200 HIT", c.path, code, h.Get("X-Modgate-Cache"), len(body))
		}
	}
	if u1.Count(p) != 1 || u2.Count(pb) != 1 || u1.Total() != 1 || u2.Total() != 1 {
		t.Errorf("upstream requests: u1 %d (%d for %s), u2 %d (%d for %s); want one each",
			u1.Total(), u1.Count(p), p, u2.Total(), u2.Count(pb), pb)
	}
	// u1's attempt began in generation 0 and ended in generation 3: its
	// outcome is on the upstream object generation 3 shows.
	st := genUpstreams(t, m)
	if len(st) != 1 || st[u1.URL()].Requests != 1 || st[u1.URL()].Answers != 1 ||
		st[u1.URL()].Failures != 0 || st[u1.URL()].State != "closed" {
		t.Errorf("upstreams after the flights: %+v; want u1 alone, 1 request, 1 answer", st)
	}
	if w := st[u1.URL()].Pools; len(w) != 1 || w[0].Weight != 2 {
		t.Errorf("u1's pools: %+v; want main, weight 2", w)
	}
	if bad := genLogErrors(m); len(bad) > 0 {
		t.Errorf("errors in the log:\n%s", strings.Join(bad, "\n"))
	}
}

// 2. A hedged .info in flight across a reload that removes the upstream
// that answers it: the answer still arrives, named in the access line, and
// the cancelled other attempt counts against nobody.
func TestGenerationsHedgeAcrossReload(t *testing.T) {
	cases := []struct {
		name string
		// delays of the first upstream and of the hedge's
		firstDelay, hedgeDelay time.Duration
		hedgeAnswers           bool // else the first attempt does
	}{
		{"hedge answers, its upstream removed", 3 * time.Second, 700 * time.Millisecond, true},
		{"first attempt answers, its upstream removed", 800 * time.Millisecond, 3 * time.Second, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u1 := newUpstream(t)
			u2 := newUpstream(t)
			pool := func(ups ...*upstream.Server) string {
				var lines []string
				for _, u := range ups {
					lines = append(lines, "upstream = "+u.URL()+" weight=1\n")
				}
				return poolINI(append(lines, "hedge = 100ms\n")...)
			}
			m := startModgate(t, options{extra: pool(u1, u2)})
			want := fixtureModule(t, u1, "example.com/fix/b", "v1.0.0")
			p := "/example.com/fix/b/@v/v1.0.0.info"
			// Equal weights: smooth round robin picks u1 first in a new
			// generation, and the hedge goes to u2.
			u1.SetFault(p, upstream.Fault{Mode: upstream.Delay, Delay: c.firstDelay})
			u2.SetFault(p, upstream.Fault{Mode: upstream.Delay, Delay: c.hedgeDelay})
			start := time.Now()
			res := genFetch(m.URL+p, "gen-hedged")
			eventually(t, "the hedge", func() bool { return u1.Count(p) == 1 && u2.Count(p) == 1 })
			answering, other := u1, u2
			if c.hedgeAnswers {
				answering, other = u2, u1
			}
			m.writeConfig(t, options{extra: pool(other)})
			genAccepted(t, "reload", hup(t, m), 1)
			// A request of the new generation joins the old flight; its
			// access line names an upstream only the old one has.
			joiner := genFetch(m.URL+p, "gen-hedged-joiner")
			eventually(t, "the joiner", func() bool {
				return genMetric(t, m, "modgate_singleflight_joins_total") == 1
			})
			select {
			case r := <-res:
				t.Fatalf("answered before the reload (%d): the test proves nothing", r.code)
			default:
			}

			for _, id := range []string{"gen-hedged", "gen-hedged-joiner"} {
				ch := res
				if id == "gen-hedged-joiner" {
					ch = joiner
				}
				r := genWait(t, id, ch)
				took := time.Since(start)
				if r.code != 200 || r.cache != "MISS" || string(r.body) != string(want.Info) {
					t.Fatalf("%s: %d %s %q; want 200 MISS %q", id, r.code, r.cache, r.body, want.Info)
				}
				if c.hedgeAnswers && took >= c.firstDelay {
					t.Errorf("%s took %v: the hedge's answer was not used", id, took)
				}
				if line := genAccess(t, m, id); line["upstream"] != answering.URL() || line["attempts"] != 2.0 {
					t.Errorf("%s: access line %v; want upstream %s, attempts 2", id, line, answering.URL())
				}
			}
			if u1.Count(p) != 1 || u2.Count(p) != 1 {
				t.Errorf("upstream requests: u1 %d, u2 %d; want 1 and 1", u1.Count(p), u2.Count(p))
			}
			// Metadata reaches waiters before its commit: wait for it.
			if b := waitCached(t, filepath.Join(m.CacheDir, p)); string(b) != string(want.Info) {
				t.Errorf("cached: %q; want %q", b, want.Info)
			}
			if code, h, body := get(t, m.URL+p); code != 200 || h.Get("X-Modgate-Cache") != "HIT" || string(body) != string(want.Info) {
				t.Errorf("after: %d %s %q; want 200 HIT", code, h.Get("X-Modgate-Cache"), body)
			}
			// The cancelled attempt went to the upstream still
			// configured: released, not a failure.
			st := genUpstreams(t, m)
			if o := st[other.URL()]; len(st) != 1 || o.Requests != 1 || o.Failures != 0 || o.Answers != 0 || o.State != "closed" {
				t.Errorf("upstreams after the reload: %+v; want %s alone: 1 request, no failure, no answer", st, other.URL())
			}
			// The new generation sends new objects to the one left.
			q := "/example.com/fix/m07/@v/v1.0.0.info"
			if code, _, body := get(t, m.URL+q); code != 200 || other.Count(q) != 1 || answering.Count(q) != 0 {
				t.Errorf("GET %s: %d %q, from the remaining upstream %d times, from the removed one %d", q, code, body, other.Count(q), answering.Count(q))
			}
			if bad := genLogErrors(m); len(bad) > 0 {
				t.Errorf("errors in the log:\n%s", strings.Join(bad, "\n"))
			}
		})
	}
}

// 3. An operator drains u2; a reload removes it; another adds it back. A
// removed upstream is forgotten: the one that comes back is a new upstream,
// in rotation (not drained), with zeroed counters — even when a flight of
// an older generation still holds the drained object at that moment.
func TestGenerationsDrainedRemovedReadded(t *testing.T) {
	u1 := newUpstream(t)
	u2 := newUpstream(t)
	both := poolINI("upstream = "+u1.URL()+" weight=1\n", "upstream = "+u2.URL()+" weight=1\n")
	only1 := poolINI("upstream = " + u1.URL() + " weight=1\n")
	m := startModgate(t, options{extra: both})
	gen := 0
	reload := func(extra string) {
		t.Helper()
		m.writeConfig(t, options{extra: extra})
		gen++
		genAccepted(t, fmt.Sprintf("reload %d", gen), hup(t, m), gen)
	}
	next := 0
	fetch := func(n int) {
		t.Helper()
		for i := 0; i < n; i++ {
			q := fmt.Sprintf("/example.com/fix/m%02d/@v/v1.0.0.info", next)
			next++
			if code, _, body := get(t, m.URL+q); code != 200 {
				t.Fatalf("GET %s: %d %q", q, code, body)
			}
		}
	}

	t.Run("last holder gone", func(t *testing.T) {
		fetch(2) // one each
		if u2.Total() != 1 {
			t.Fatalf("u2 got %d of 2 requests; want 1", u2.Total())
		}
		if out, err := ctl(t, m, "drain", u2.URL()); err != nil {
			t.Fatalf("drain: %v %s", err, out)
		}
		fetch(2)
		if u2.Total() != 1 {
			t.Fatalf("drained u2 got %d more requests", u2.Total()-1)
		}
		reload(only1)
		if st := genUpstreams(t, m); len(st) != 1 {
			t.Fatalf("after removing u2: %+v", st)
		}
		// Not configured: the operator cannot reach it any more.
		if out, err := ctl(t, m, "undrain", u2.URL()); err == nil || !strings.Contains(out, "no upstream matches") {
			t.Errorf("undrain of a removed upstream: %v %q", err, out)
		}
		reload(both)
		st := genUpstreams(t, m)[u2.URL()]
		if st.Drained || st.Mode != "auto" || st.State != "closed" || st.Requests != 0 || st.Answers != 0 {
			t.Errorf("u2 back: %+v; want a new upstream: not drained, auto, closed, no requests", st)
		}
		u2.ResetCounts()
		fetch(2)
		if u2.Total() != 1 {
			t.Errorf("u2 back in rotation got %d of 2 requests; want 1", u2.Total())
		}
	})

	t.Run("old flight still holds it", func(t *testing.T) {
		// A zip on u2 that takes 1.5 s: its flight holds generation
		// `both` (and the drained u2 object) across both reloads.
		p := "/example.com/fix/b/@v/v1.0.1.zip"
		want := fixtureModule(t, u2, "example.com/fix/b", "v1.0.1")
		u2.SetFault(p, upstream.Fault{Mode: upstream.Delay, Delay: 1500 * time.Millisecond})
		u1.SetFault(p, upstream.Fault{Mode: upstream.NotFound})
		u1.ResetCounts()
		u2.ResetCounts()
		// u1 says 404, so the walk ends on u2 whichever it asks first.
		res := genFetch(m.URL+p, "gen-held")
		eventually(t, "the zip on u2", func() bool { return u2.Count(p) == 1 })
		if out, err := ctl(t, m, "drain", u2.URL()); err != nil {
			t.Fatalf("drain: %v %s", err, out)
		}
		reload(only1)
		reload(both)
		st := genUpstreams(t, m)[u2.URL()]
		if st.Drained || st.Requests != 0 {
			t.Errorf("u2 back while the old object lives: %+v; want a new one, not drained", st)
		}
		r := genWait(t, "the held flight", res)
		if r.code != 200 || string(r.body) != string(want.Zip) {
			t.Errorf("the held flight: %d, %d bytes", r.code, len(r.body))
		}
		// Its outcome went to the old object, not the new one.
		if st := genUpstreams(t, m)[u2.URL()]; st.Requests != 0 || st.Answers != 0 {
			t.Errorf("new u2 after the old flight: %+v; want untouched", st)
		}
	})
	if bad := genLogErrors(m); len(bad) > 0 {
		t.Errorf("errors in the log:\n%s", strings.Join(bad, "\n"))
	}
}

// 4. A reload storm: 40 SIGHUPs, alternating two configs (u1 and u3 come and
// go, u2 stays; weights and hedging differ), each sent as soon as the last
// one's event line is out, while 8 keep-alive clients fetch cached and
// uncached objects. No request fails, no connection drops, and modgate
// exits 0 at SIGTERM (cleanup: under ASan, no leak and no use after free).
func TestGenerationsReloadStorm(t *testing.T) {
	u1 := newUpstream(t)
	u2 := newUpstream(t)
	u3 := newUpstream(t)
	// Slow enough that flights and hedges span reloads.
	u1.SetFault("*/@v/list", upstream.Fault{Mode: upstream.Delay, Delay: 80 * time.Millisecond})
	u2.SetFault("*.info", upstream.Fault{Mode: upstream.Delay, Delay: 60 * time.Millisecond})
	u3.SetFault("*.zip", upstream.Fault{Mode: upstream.Delay, Delay: 150 * time.Millisecond})
	cfgA := poolINI("upstream = "+u1.URL()+" weight=1\n", "upstream = "+u2.URL()+" weight=2\n", "hedge = 50ms\n")
	cfgB := poolINI("upstream = "+u2.URL()+" weight=1\n", "upstream = "+u3.URL()+" weight=3\n", "hedge = 30ms\n")
	m := startModgate(t, options{extra: cfgA})

	cached := []string{"/example.com/fix/a/@v/v1.0.0.info", "/example.com/fix/b/@v/v1.0.0.mod",
		"/example.com/fix/a/@v/v1.0.0.zip"}
	for _, p := range cached {
		if code, _, body := get(t, m.URL+p); code != 200 {
			t.Fatalf("GET %s: %d %q", p, code, body)
		}
	}
	// Uncached: lists (list_ttl = 0: upstream every time) and 60
	// objects asked for the first time during the storm.
	paths := append([]string{}, cached...)
	paths = append(paths, "/example.com/fix/a/@v/list", "/example.com/fix/b/@v/list")
	for i := 0; i < 20; i++ {
		for _, ext := range []string{"info", "mod", "zip"} {
			paths = append(paths, fmt.Sprintf("/example.com/fix/m%02d/@v/v1.0.0.%s", i, ext))
		}
	}
	want := map[string]string{}
	for _, p := range paths {
		code, _, body := get(t, u2.URL()+p)
		if code != 200 {
			t.Fatalf("fixture GET %s: %d", p, code)
		}
		want[p] = string(body)
	}

	// check GETs p on c's keep-alive connection: 200 and the fixture's bytes.
	check := func(c *http.Client, p string) error {
		resp, err := c.Get(m.URL + p)
		if err != nil {
			return fmt.Errorf("GET %s: %v", p, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != 200 || string(body) != want[p] {
			return fmt.Errorf("GET %s: %d %v %.200q", p, resp.StatusCode, err, body)
		}
		return nil
	}
	const clients = 8
	var ok, failed, dials atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < clients; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			d := &net.Dialer{}
			tr := &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1,
				DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
					dials.Add(1)
					return d.DialContext(ctx, network, addr)
				}}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				// Each client walks the list from its own place,
				// with its own stride: the same uncached object is
				// often asked by several at once.
				p := paths[(g*7+i*(g%3+1))%len(paths)]
				if err := check(c, p); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				ok.Add(1)
			}
		}(g)
	}

	start := time.Now()
	const reloads = 40
	for i := 1; i <= reloads; i++ {
		cfg := cfgB
		if i%2 == 0 {
			cfg = cfgA
		}
		m.writeConfig(t, options{extra: cfg})
		genAccepted(t, fmt.Sprintf("reload %d", i), hup(t, m), i)
	}
	stormTook := time.Since(start)
	// Let the last generation serve a little too.
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	if failed.Load() != 0 {
		t.Errorf("%d of %d requests failed; first: %v", failed.Load(), failed.Load()+ok.Load(), firstErr.Load())
	}
	if dials.Load() != clients {
		t.Errorf("%d connections for %d keep-alive clients: %d dropped", dials.Load(), clients, dials.Load()-clients)
	}
	if ok.Load() < 200 {
		t.Errorf("only %d requests during the storm", ok.Load())
	}
	// Every object of the storm is cached now; the last generation (A)
	// is the one in charge.
	for _, p := range paths {
		if strings.HasSuffix(p, "/list") {
			continue
		}
		if code, h, _ := get(t, m.URL+p); code != 200 || h.Get("X-Modgate-Cache") != "HIT" {
			t.Errorf("after the storm, GET %s: %d %s; want 200 HIT", p, code, h.Get("X-Modgate-Cache"))
		}
	}
	st := genUpstreams(t, m)
	if len(st) != 2 || st[u1.URL()].State != "closed" || st[u2.URL()].State != "closed" || st[u2.URL()].Failures != 0 {
		t.Errorf("upstreams after the storm: %+v; want u1 and u2, closed", st)
	}
	if bad := genLogErrors(m); len(bad) > 0 {
		t.Errorf("errors in the log:\n%s", strings.Join(bad, "\n"))
	}
	t.Logf("%d requests, %d reloads in %v, %d upstream requests (u1 %d, u2 %d, u3 %d)",
		ok.Load(), reloads, stormTook, u1.Total()+u2.Total()+u3.Total(), u1.Total(), u2.Total(), u3.Total())
}

// 5. A flight's deadline for a first byte is its own generation's: a
// reload that lengthens [timeouts] budget neither stretches the wait of a
// flight already running nor rewrites what its 504 says it waited.
func TestGenerationsOldFlightKeepsItsBudget(t *testing.T) {
	u := newUpstream(t)
	cfg := func(budget string) string {
		return "[timeouts]\nbudget = " + budget + "\n" + poolINI("upstream = "+u.URL()+"\n")
	}
	m := startModgate(t, options{extra: cfg("700ms")})
	p := "/example.com/fix/a/@v/v1.0.0.info"
	u.SetFault(p, upstream.Fault{Mode: upstream.Blackhole})
	start := time.Now()
	res := genFetch(m.URL+p, "gen-budget")
	eventually(t, "the request upstream", func() bool { return u.Count(p) == 1 })
	m.writeConfig(t, options{extra: cfg("5s")})
	genAccepted(t, "reload", hup(t, m), 1)
	r := genWait(t, "the request", res)
	took := time.Since(start)
	want := "modgate: no answer for example.com/fix/a/@v/v1.0.0.info within 700 ms"
	if r.code != 504 || !strings.HasPrefix(string(r.body), want) {
		t.Errorf("got %d %q; want 504 %q", r.code, r.body, want)
	}
	// (libevent arms timers from the time its loop last looked: a
	// few ms early.)
	if took < 600*time.Millisecond || took > 2*time.Second {
		t.Errorf("answered after %v; want the old budget, 700 ms", took)
	}
	eventually(t, "the log line", func() bool {
		return strings.Contains(m.Log(), " warn "+strings.TrimPrefix(want, "modgate: "))
	})
}

// An old flight keeps its generation's deadlines too: with first_byte
// 500ms and two blackholed upstreams, a reload to first_byte 5s while the
// first attempt waits leaves the second attempt at 500 ms, so the request
// fails after about 1 s, not 5.5 s.
func TestGenerationsOldFlightKeepsItsDeadlines(t *testing.T) {
	u1 := newUpstream(t)
	u2 := newUpstream(t)
	cfg := func(firstByte string) string {
		return "[timeouts]\nfirst_byte = " + firstByte + "\nbudget = 20s\n[breaker]\nfailures = 10\n" +
			poolINI("upstream = "+u1.URL()+"\nupstream = "+u2.URL()+"\n")
	}
	m := startModgate(t, options{extra: cfg("500ms")})
	p := "/example.com/fix/a/@v/v1.0.0.info"
	u1.SetFault(p, upstream.Fault{Mode: upstream.Blackhole})
	u2.SetFault(p, upstream.Fault{Mode: upstream.Blackhole})
	start := time.Now()
	res := genFetch(m.URL+p, "gen-deadlines")
	eventually(t, "the first attempt upstream", func() bool { return u1.Count(p)+u2.Count(p) == 1 })
	m.writeConfig(t, options{extra: cfg("5s")})
	genAccepted(t, "reload", hup(t, m), 1)
	r := genWait(t, "the request", res)
	took := time.Since(start)
	if r.code == 200 || u1.Count(p)+u2.Count(p) != 2 {
		t.Errorf("got %d %q after %d attempts; want a failure after both", r.code, r.body, u1.Count(p)+u2.Count(p))
	}
	if took > 3*time.Second {
		t.Errorf("failed after %v: the second attempt waited the new first_byte (5 s), not its generation's 500 ms", took)
	}
}
