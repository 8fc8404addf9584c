package integration

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"modgate.test/t/fixtures/upstream"
)

// A blackholed primary and a healthy backup: 20 modules download through
// modgate in about one deadline, the primary's breaker opens after the
// configured count, and the primary then gets no traffic.
func TestBlackholedPrimaryCostsOneDeadline(t *testing.T) {
	hole := newUpstream(t)
	good := newUpstream(t)
	hole.SetFault("*", upstream.Fault{Mode: upstream.Blackhole})
	m := startModgate(t, options{extra: fmt.Sprintf(`
[pool "main"]
upstream = %s
upstream = %s backup

[timeouts]
connect = 1s
first_byte = 1s

[breaker]
failures = 1
open = 60s
`, hole.URL(), good.URL())})

	var targets []string
	for i := 0; i < 20; i++ {
		targets = append(targets, fmt.Sprintf("example.com/fix/m%02d@v1.0.0", i))
	}
	// The same download with both upstreams healthy, for reference.
	healthy := startModgate(t, options{extra: fmt.Sprintf("[pool \"main\"]\nupstream = %s\n", good.URL())})
	start := time.Now()
	mustGo(t, goEnv(t, healthy.URL), t.TempDir(), append([]string{"mod", "download", "-json"}, targets...)...)
	base := time.Since(start)
	good.ResetCounts()

	start = time.Now()
	out := mustGo(t, goEnv(t, m.URL), t.TempDir(), append([]string{"mod", "download", "-json"}, targets...)...)
	took := time.Since(start)
	if n := strings.Count(out, `"Sum":`); n != 20 {
		t.Fatalf("downloaded %d modules, want 20:\n%s", n, out)
	}
	// The go command sends its first requests one after another, so each
	// failure the breaker needs costs a deadline: failures = 1 here (the
	// count itself is tested in TestBreakerRecoversAndWeightsHold).
	t.Logf("20 modules: %v with a blackholed primary, %v with healthy upstreams (first_byte 1s); the primary saw %d requests",
		took, base, hole.Total())
	if took > base+1500*time.Millisecond {
		t.Errorf("took %v, healthy %v: one 1 s deadline plus margin expected", took, base)
	}
	holeCount := hole.Total()
	if holeCount < 1 {
		t.Errorf("the blackholed primary saw no request")
	}
	eventually(t, "the breaker's log line", func() bool { return strings.Contains(m.Log(), "breaker open") })

	// Open: the primary gets nothing more; every request goes to the backup at once.
	start = time.Now()
	for i := 0; i < 10; i++ {
		if st, _, _ := get(t, fmt.Sprintf("%s/example.com/fix/m%02d/@v/v1.0.0.mod", m.URL, i)); st != 200 {
			t.Errorf("with the breaker open: %d", st)
		}
	}
	if hole.Total() != holeCount {
		t.Errorf("the primary got %d requests while its breaker was open", hole.Total()-holeCount)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("10 requests with the breaker open took %v", d)
	}
}

// A failing upstream's breaker opens, goes half-open after its cool-down,
// closes when the upstream heals, and the upstream then takes its share by
// weight again.
func TestBreakerRecoversAndWeightsHold(t *testing.T) {
	a := newUpstream(t)
	b := newUpstream(t)
	a.SetFault("*", upstream.Fault{Mode: upstream.ServerError})
	m := startModgate(t, options{extra: fmt.Sprintf(`
[pool "main"]
upstream = %s weight=3
upstream = %s weight=1

[breaker]
failures = 2
open = 1s
open_max = 1s
jitter = 0%%
`, a.URL(), b.URL())})
	// Distinct objects, each a miss that must go upstream.
	var objects []string
	for _, ext := range []string{"info", "mod", "zip"} {
		for i := 0; i < 20; i++ {
			objects = append(objects, fmt.Sprintf("/example.com/fix/m%02d/@v/v1.0.0.%s", i, ext))
		}
	}
	next := 0
	fetch := func(n int) {
		for i := 0; i < n; i++ {
			if st, _, body := get(t, m.URL+objects[next]); st != 200 {
				t.Fatalf("%s: %d %s", objects[next], st, body)
			}
			next++
		}
	}
	// While a fails, every request still succeeds (failover to b).
	fetch(5)
	eventually(t, "a's breaker to open", func() bool { return strings.Contains(m.Log(), "breaker open") })
	if n := a.Total(); n != 2 {
		t.Errorf("a saw %d requests before its breaker opened after 2 failures", n)
	}
	aBefore := a.Total()
	fetch(5)
	if a.Total() != aBefore {
		t.Errorf("a got %d requests while open", a.Total()-aBefore)
	}
	// Healed; after the cool-down a probe closes the breaker.
	a.SetFault("", upstream.Fault{})
	time.Sleep(1100 * time.Millisecond)
	fetch(2)
	eventually(t, "a's breaker to close", func() bool { return strings.Contains(m.Log(), "breaker closed") })
	a.ResetCounts()
	b.ResetCounts()
	n := len(objects) - next
	fetch(n)
	ca, cb := a.Total(), b.Total()
	t.Logf("after healing, weights 3:1 over %d requests gave %d:%d", n, ca, cb)
	if ca+cb != n || ca < n*3/4-2 || ca > n*3/4+2 {
		t.Errorf("weights 3:1 over %d requests gave %d:%d", n, ca, cb)
	}
}

// Every upstream blackholed, on_open = 503: after the breakers open the
// client gets a fast 503 with Retry-After and a body naming the upstreams.
func TestAllUpstreamsDownFast503(t *testing.T) {
	h1 := newUpstream(t)
	h2 := newUpstream(t)
	h1.SetFault("*", upstream.Fault{Mode: upstream.Blackhole})
	h2.SetFault("*", upstream.Fault{Mode: upstream.Blackhole})
	m := startModgate(t, options{extra: fmt.Sprintf(`
[pool "main"]
upstream = %s
upstream = %s
on_open = 503

[timeouts]
first_byte = 300ms

[breaker]
failures = 1
open = 30s
jitter = 0%%
`, h1.URL(), h2.URL())})
	// The first request pays the deadlines and opens both breakers.
	st, _, body := get(t, m.URL+"/example.com/fix/a/@v/v1.0.0.info")
	if st != 504 && st != 503 {
		t.Errorf("first request: %d %q", st, body)
	}
	start := time.Now()
	st, h, body := get(t, m.URL+"/example.com/fix/b/@v/v1.0.0.info")
	took := time.Since(start)
	if st != 503 {
		t.Fatalf("with every breaker open: %d %q", st, body)
	}
	ra, err := strconv.Atoi(h.Get("Retry-After"))
	if err != nil || ra < 1 || ra > 31 {
		t.Errorf("Retry-After %q, want 1..31 s", h.Get("Retry-After"))
	}
	for _, u := range []string{h1.URL(), h2.URL()} {
		if !strings.Contains(string(body), u+": open") {
			t.Errorf("503 body does not name %s as open: %q", u, body)
		}
	}
	if took > 200*time.Millisecond {
		t.Errorf("the 503 took %v", took)
	}
	t.Logf("503 after %v, Retry-After %s", took, h.Get("Retry-After"))

	// Concurrent clients all get the fast answer too.
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			st, _, _ := get(t, fmt.Sprintf("%s/example.com/fix/m%02d/@v/v1.0.0.info", m.URL, i))
			if st != 503 {
				t.Errorf("concurrent client %d: %d", i, st)
			}
		}(i)
	}
	wg.Wait()
}

// Each kind of failure the issue names moves requests to the healthy
// upstream and counts against the failing one's breaker: a refused
// connection, 429, 500, and a slow drip (1 byte every 2 s, cut by the idle
// deadline; a client already mid-body gets a clean error, the next request
// succeeds).
func TestFailureKindsOpenTheBreaker(t *testing.T) {
	cases := []struct {
		name  string
		fault upstream.Fault
		stop  bool
	}{
		{"refused", upstream.Fault{}, true},
		{"429", upstream.Fault{Mode: upstream.Status, Status: 429}, false},
		{"500", upstream.Fault{Mode: upstream.ServerError}, false},
		{"slow-drip", upstream.Fault{Mode: upstream.SlowDrip, Delay: 2 * time.Second}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bad := newUpstream(t)
			good := newUpstream(t)
			if c.stop {
				bad.Stop()
			} else {
				bad.SetFault("*", c.fault)
			}
			m := startModgate(t, options{extra: fmt.Sprintf(`
[pool "main"]
upstream = %s weight=5
upstream = %s weight=1

[timeouts]
idle = 1s

[breaker]
failures = 2
open = 60s
`, bad.URL(), good.URL())})
			ok := 0
			for i := 0; i < 10; i++ {
				st, _, _ := get(t, fmt.Sprintf("%s/example.com/fix/m%02d/@v/v1.0.0.info", m.URL, i))
				if st == 200 {
					ok++
				}
			}
			// Only a drip that started its body may cost a client an error.
			if ok < 10 && !(c.name == "slow-drip" && ok >= 8) {
				t.Errorf("%d of 10 requests succeeded", ok)
			}
			st := status(t, m)[bad.URL()]
			if st.State != "open" || st.Failures < 2 {
				t.Errorf("failing upstream: %+v", st)
			}
			t.Logf("%s: %d/10 ok, bad upstream %s after %d failures", c.name, ok, st.State, st.Failures)
		})
	}
}

// The pool's budget bounds a client's wait whatever the upstreams do, and a
// metadata transfer that drags on past its total deadline is a failure.
func TestBudgetAndMetadataDeadline(t *testing.T) {
	hole := newUpstream(t)
	hole.SetFault("*", upstream.Fault{Mode: upstream.Blackhole})
	m := startModgate(t, options{proxy: hole.URL(), extra: `
[timeouts]
first_byte = 10s
budget = 500ms
`})
	start := time.Now()
	st, _, body := get(t, m.URL+"/example.com/fix/a/@v/list")
	took := time.Since(start)
	if st != 504 || !strings.Contains(string(body), "within 500 ms") {
		t.Errorf("budget: %d %q", st, body)
	}
	if took > 2*time.Second {
		t.Errorf("the client waited %v with a 500 ms budget", took)
	}
	t.Logf("504 after %v with budget 500ms and first_byte 10s", took)

	drip := newUpstream(t)
	drip.SetFault("*.info", upstream.Fault{Mode: upstream.SlowDrip, Delay: 100 * time.Millisecond})
	m2 := startModgate(t, options{extra: fmt.Sprintf(`
[pool "p"]
upstream = %s

[timeouts]
metadata = 1s
`, drip.URL())})
	start = time.Now()
	resp, err := client.Get(m2.URL + "/example.com/fix/a/@v/v1.0.0.info")
	if err == nil {
		_, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		// Cut short mid-body (a read error) or refused outright: either
		// way, never the whole slow body.
		if resp.StatusCode == 200 && rerr == nil {
			t.Errorf("a 5 s drip passed a 1 s metadata deadline")
		}
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("metadata deadline 1s took %v", d)
	}
	if s := status(t, m2)[drip.URL()]; s.Failures != 1 {
		t.Errorf("the dragging transfer did not count as a failure: %+v", s)
	}
}

// Hedged metadata: when the first upstream has not started answering a
// .info or @v/list within the hedge delay, a second one is asked too and the
// first good answer wins; a prompt upstream is never hedged.
func TestHedgedMetadata(t *testing.T) {
	slow := newUpstream(t)
	fast := newUpstream(t)
	slow.SetFault("*.info", upstream.Fault{Mode: upstream.Delay, Delay: 3 * time.Second})
	m := startModgate(t, options{extra: fmt.Sprintf(`
[pool "main"]
upstream = %s weight=100
upstream = %s weight=1
hedge = 100ms
`, slow.URL(), fast.URL())})
	want := fixtureModule(t, fast, "example.com/fix/a", "v1.0.0")
	start := time.Now()
	st, h, body := get(t, m.URL+"/example.com/fix/a/@v/v1.0.0.info")
	took := time.Since(start)
	if st != 200 || string(body) != string(want.Info) || h.Get("X-Modgate-Cache") != "MISS" {
		t.Fatalf("hedged .info: %d %q", st, body)
	}
	if took > 1500*time.Millisecond {
		t.Errorf("hedged .info took %v: the 3 s upstream was waited for", took)
	}
	if slow.Total() != 1 || fast.Total() != 1 {
		t.Errorf("upstream requests: slow %d, fast %d; want 1 and 1", slow.Total(), fast.Total())
	}
	t.Logf("hedged .info answered in %v (first upstream delayed 3 s, hedge 100ms)", took)

	// A prompt first upstream: no hedge.
	slow.ResetCounts()
	fast.ResetCounts()
	if st, _, _ := get(t, m.URL+"/example.com/fix/a/@v/list"); st != 200 {
		t.Fatalf("list: %d", st)
	}
	if fast.Total() != 0 {
		t.Errorf("a prompt answer was hedged anyway (%d requests to the second upstream)", fast.Total())
	}
	// Not for zips, however slow.
	slow.SetFault("*.zip", upstream.Fault{Mode: upstream.Delay, Delay: 500 * time.Millisecond})
	get(t, m.URL+"/example.com/fix/a/@v/v1.0.0.zip")
	if fast.Count("/example.com/fix/a/@v/v1.0.0.zip") != 0 {
		t.Errorf("a zip was hedged")
	}
}
