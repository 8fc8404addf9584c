package integration

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"modgate.test/t/fixtures/upstream"
)

// reloadCLI runs "modgate reload --admin ADDR" and returns stdout, stderr
// and whether it exited 0.
func reloadCLI(t *testing.T, m *modgate) (string, string, bool) {
	t.Helper()
	cmd := exec.Command(binary(t), "reload", "--admin", m.Admin)
	var out, errb strings.Builder
	cmd.Stdout = &out
	cmd.Stderr = &errb
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("modgate reload: %v", err)
	}
	return out.String(), errb.String(), err == nil
}

// reloadEvents counts the reload event lines in m's log.
func reloadEvents(m *modgate) int {
	return strings.Count(m.Log(), `"event":"reload"`)
}

// hup sends SIGHUP and waits for the reload's event line, which it returns.
func hup(t *testing.T, m *modgate) string {
	t.Helper()
	before := reloadEvents(m)
	if err := m.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the reload event line", func() bool { return reloadEvents(m) > before })
	lines := strings.Split(m.Log(), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], `"event":"reload"`) {
			return lines[i]
		}
	}
	return ""
}

func poolINI(ups ...string) string {
	return "[cache]\nlist_ttl = 0\n[pool \"main\"]\n" + strings.Join(ups, "") + "retry_budget = 100%\n"
}

// Reloads under load: 20 keep-alive clients ask for cached and uncached
// objects for 3 s while the config gains a second upstream, changes
// weights and loses the first one, by SIGHUP and by modgate reload, with
// an operator's drain in between. No request may fail and no connection
// may drop; after the reloads the traffic goes to the new upstream, and
// the drain survives the reloads.
func TestReloadUnderLoad(t *testing.T) {
	u1 := newUpstream(t)
	u2 := newUpstream(t)
	opts := options{extra: poolINI("upstream = " + u1.URL() + "\n")}
	m := startModgate(t, opts)
	// Cached: fetched once now. Uncached: @v/list, with list_ttl = 0,
	// goes upstream every time.
	cached := []string{"/example.com/fix/a/@v/v1.0.0.info", "/example.com/fix/b/@v/v1.0.0.info"}
	want := map[string]string{}
	for _, p := range cached {
		code, _, body := get(t, m.URL+p)
		if code != 200 {
			t.Fatalf("GET %s: %d %s", p, code, body)
		}
		want[p] = string(body)
	}
	uncached := []string{"/example.com/fix/a/@v/list", "/example.com/fix/b/@v/list"}
	for _, p := range uncached {
		_, _, body := get(t, m.URL+p)
		want[p] = string(body)
	}
	paths := append(append([]string{}, cached...), uncached...)

	var ok, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < 20; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			// One connection per client, reused: a drop shows as an error.
			tr := &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				p := paths[(g+i)%len(paths)]
				resp, err := c.Get(m.URL + p)
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("GET %s: %v", p, err))
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || string(body) != want[p] {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("GET %s: %d %v %q", p, resp.StatusCode, err, body))
					continue
				}
				ok.Add(1)
			}
		}(g)
	}
	step := func() { time.Sleep(400 * time.Millisecond) }
	start := time.Now()

	step()
	m.writeConfig(t, options{extra: poolINI("upstream = "+u1.URL()+" weight=1\n", "upstream = "+u2.URL()+" weight=1\n")})
	if line := hup(t, m); !strings.Contains(line, `"result":"accepted"`) || !strings.Contains(line, "pools") {
		t.Errorf("reload 1: %s", line)
	}
	step()
	m.writeConfig(t, options{extra: poolINI("upstream = "+u1.URL()+" weight=1\n", "upstream = "+u2.URL()+" weight=5\n")})
	if out, errs, good := reloadCLI(t, m); !good || !strings.Contains(out, "reload accepted") {
		t.Errorf("modgate reload 2: %q %q", out, errs)
	}
	step()
	// An operator drains u1; a reload that keeps u1 keeps it drained.
	if out, err := ctl(t, m, "drain", u1.URL()); err != nil {
		t.Fatalf("drain: %v %s", err, out)
	}
	m.writeConfig(t, options{extra: poolINI("upstream = "+u1.URL()+" weight=2\n", "upstream = "+u2.URL()+" weight=5\n")})
	if out, errs, good := reloadCLI(t, m); !good {
		t.Errorf("modgate reload 3: %q %q", out, errs)
	}
	if st := status(t, m)[u1.URL()]; !st.Drained {
		t.Errorf("u1 not drained after the reload: %+v", st)
	}
	step()
	u1.ResetCounts()
	u2.ResetCounts()
	time.Sleep(300 * time.Millisecond)
	if n := u1.Total(); n != 0 {
		t.Errorf("drained u1 got %d requests", n)
	}
	if n := u2.Total(); n == 0 {
		t.Errorf("u2 got no traffic after the reloads")
	}
	// u1 leaves the config altogether.
	m.writeConfig(t, options{extra: poolINI("upstream = " + u2.URL() + "\n")})
	if line := hup(t, m); !strings.Contains(line, `"result":"accepted"`) {
		t.Errorf("reload 4: %s", line)
	}
	if d := 3*time.Second - time.Since(start); d > 0 {
		time.Sleep(d)
	}
	close(stop)
	wg.Wait()
	if failed.Load() != 0 {
		t.Errorf("%d of %d requests failed; first: %v", failed.Load(), failed.Load()+ok.Load(), firstErr.Load())
	}
	if ok.Load() < 100 {
		t.Errorf("only %d requests in 3 s", ok.Load())
	}
	st := status(t, m)
	if _, still := st[u1.URL()]; still || len(st) != 1 {
		t.Errorf("upstreams after the last reload: %+v", st)
	}
	t.Logf("%d requests, 4 reloads, 0 failed", ok.Load())
}

// A config that does not load, or routes to a pool that does not exist,
// is refused with its reason; the old one keeps serving.
func TestReloadRefusesBadConfig(t *testing.T) {
	u := newUpstream(t)
	m := startModgate(t, options{extra: poolINI("upstream = " + u.URL() + "\n")})
	p := "/example.com/fix/a/@v/v1.0.0.info"
	cases := []struct {
		extra, reason string
	}{
		{"[pool \"main\"\nupstream = " + u.URL() + "\n", "modgate.ini:"},
		{poolINI("upstream = "+u.URL()+"\n") + "[route]\n* = nowhere\n", "no pool named"},
	}
	for i, c := range cases {
		m.writeConfig(t, options{extra: c.extra})
		out, errs, good := reloadCLI(t, m)
		if good || !strings.Contains(errs, "reload refused") || !strings.Contains(errs, c.reason) {
			t.Errorf("case %d: modgate reload: ok=%v stdout %q stderr %q", i, good, out, errs)
		}
		if line := hup(t, m); !strings.Contains(line, `"result":"refused"`) || !strings.Contains(line, c.reason) {
			t.Errorf("case %d: SIGHUP event: %s", i, line)
		}
		if code, _, body := get(t, m.URL+p); code != 200 {
			t.Errorf("case %d: old config no longer serves: %d %s", i, code, body)
		}
	}
	// systemctl reload succeeds whatever modgate makes of the file: the
	// refusal shows in the metrics and on the status page.
	refused := []string{
		"\nmodgate_reloads_total{result=\"accepted\"} 0\n",
		"\nmodgate_reloads_total{result=\"refused\"} 4\n",
		"\nmodgate_config_last_reload_successful 0\n",
	}
	metrics := metricsText(t, m)
	for _, want := range refused {
		if !strings.Contains(metrics, want) {
			t.Errorf("after 4 refusals, /metrics lacks %q", strings.TrimSpace(want))
		}
	}
	if _, _, page := get(t, "http://"+m.Admin+"/"); !strings.Contains(string(page), "reloads: 0 accepted, 4 refused") ||
		!strings.Contains(string(page), "is not what runs") {
		t.Errorf("the status page does not show the refusal")
	}
	// Fixed again: accepted.
	m.writeConfig(t, options{extra: poolINI("upstream = " + u.URL() + " weight=2\n")})
	if out, errs, good := reloadCLI(t, m); !good || !strings.Contains(out, "changed pools") {
		t.Errorf("good config: %q %q", out, errs)
	}
	metrics = metricsText(t, m)
	for _, want := range []string{"\nmodgate_reloads_total{result=\"accepted\"} 1\n", "\nmodgate_config_last_reload_successful 1\n"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("after the good reload, /metrics lacks %q", strings.TrimSpace(want))
		}
	}
}

// A new listen address needs a restart: the reload says so and changes
// nothing.
func TestReloadRefusesListenChange(t *testing.T) {
	u := newUpstream(t)
	m := startModgate(t, options{extra: poolINI("upstream = " + u.URL() + "\n")})
	other := freePort(t)
	// Replace the listen line: the harness writes this run's port.
	old := m.server
	m.server = strings.Replace(m.server, strings.TrimPrefix(m.URL, "http://"), fmt.Sprintf("127.0.0.1:%d", other), 1)
	m.writeConfig(t, options{extra: poolINI("upstream = " + u.URL() + "\n")})
	m.server = old
	out, errs, good := reloadCLI(t, m)
	want := fmt.Sprintf("[server] listen %s -> 127.0.0.1:%d", strings.TrimPrefix(m.URL, "http://"), other)
	if good || !strings.Contains(errs, "needs a restart") || !strings.Contains(errs, want) {
		t.Errorf("modgate reload: ok=%v stdout %q stderr %q (want %q)", good, out, errs, want)
	}
	if code, _, _ := get(t, m.URL+"/example.com/fix/a/@v/list"); code != 200 {
		t.Errorf("old address stopped serving: %d", code)
	}
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", other), time.Second); err == nil {
		c.Close()
		t.Errorf("modgate listens on the new address too")
	}
}

// A reload's new weights apply to the very next requests, in the smooth
// weighted round-robin order: 1:3 gives exactly 2 and 6 of 8 sequential
// fetches, and a reload that removes u1 sends all to u2.
func TestReloadAppliesWeights(t *testing.T) {
	u1 := newUpstream(t)
	u2 := newUpstream(t)
	m := startModgate(t, options{extra: poolINI("upstream = " + u1.URL() + "\n")})
	// Each request a different module's .info: one upstream request
	// apiece, none joining another's flight.
	next := 0
	fetch := func(n int) {
		for i := 0; i < n; i++ {
			p := fmt.Sprintf("/example.com/fix/m%02d/@v/v1.0.0.info", next)
			next++
			if code, _, body := get(t, m.URL+p); code != 200 {
				t.Fatalf("GET %s: %d %s", p, code, body)
			}
		}
	}
	fetch(2)
	if u1.Total() != 2 || u2.Total() != 0 {
		t.Fatalf("before the reload: u1 %d, u2 %d requests", u1.Total(), u2.Total())
	}
	m.writeConfig(t, options{extra: poolINI("upstream = "+u1.URL()+" weight=1\n", "upstream = "+u2.URL()+" weight=3\n")})
	if out, errs, good := reloadCLI(t, m); !good || !strings.Contains(out, "changed pools") {
		t.Fatalf("modgate reload: %q %q", out, errs)
	}
	u1.ResetCounts()
	u2.ResetCounts()
	fetch(8)
	if u1.Total() != 2 || u2.Total() != 6 {
		t.Errorf("weights 1:3 after the reload: u1 %d, u2 %d of 8 requests", u1.Total(), u2.Total())
	}
	m.writeConfig(t, options{extra: poolINI("upstream = " + u2.URL() + "\n")})
	if out, errs, good := reloadCLI(t, m); !good {
		t.Fatalf("modgate reload: %q %q", out, errs)
	}
	u1.ResetCounts()
	u2.ResetCounts()
	fetch(4)
	if u1.Total() != 0 || u2.Total() != 4 {
		t.Errorf("u1 removed: u1 %d, u2 %d of 4 requests", u1.Total(), u2.Total())
	}
}

// offline, [deny] and [allow] change with a reload, and back: the next
// request sees them, and offline means zero upstream requests at once.
func TestReloadOfflineAndDeny(t *testing.T) {
	u := newUpstream(t)
	m := startModgate(t, options{proxy: u.URL()})
	cached := "/example.com/fix/a/@v/v1.0.0.info"
	uncached := "/example.com/fix/a/@v/v1.1.0.info"
	denied := "/example.com/fix/b/@v/v1.0.0.info"
	if code, _, body := get(t, m.URL+cached); code != 200 {
		t.Fatalf("GET %s: %d %s", cached, code, body)
	}
	m.writeConfig(t, options{proxy: u.URL(), server: "offline = on\n",
		extra: "[deny]\nexample.com/fix/b@v1.0.0 = pulled by the reload test\n"})
	out, errs, good := reloadCLI(t, m)
	if !good || !strings.Contains(out, "[deny]") || !strings.Contains(out, "[server] offline on") {
		t.Fatalf("modgate reload: %q %q", out, errs)
	}
	u.ResetCounts()
	if code, h, body := get(t, m.URL+cached); code != 200 || h.Get("X-Modgate-Cache") != "HIT" {
		t.Errorf("offline, cached: %d %s %q", code, h.Get("X-Modgate-Cache"), body)
	}
	if code, _, body := get(t, m.URL+uncached); code != 404 || !strings.Contains(string(body), "modgate is offline") {
		t.Errorf("offline, uncached: %d %q", code, body)
	}
	if code, _, body := get(t, m.URL+denied); code != 403 || !strings.Contains(string(body), "is denied: pulled by the reload test") {
		t.Errorf("denied after the reload: %d %q", code, body)
	}
	if code, _, body := get(t, m.URL+"/readyz"); code != 200 || !strings.Contains(string(body), "offline") {
		t.Errorf("/readyz offline: %d %q", code, body)
	}
	if !strings.Contains(metricsText(t, m), "\nmodgate_offline 1\n") {
		t.Errorf("/metrics: modgate_offline is not 1")
	}
	if n := u.Total(); n != 0 {
		t.Errorf("offline: the upstream was asked %d times", n)
	}
	m.writeConfig(t, options{proxy: u.URL()})
	if out, errs, good := reloadCLI(t, m); !good || !strings.Contains(out, "[server] offline off") {
		t.Fatalf("modgate reload back: %q %q", out, errs)
	}
	for _, p := range []string{uncached, denied} {
		if code, _, body := get(t, m.URL+p); code != 200 {
			t.Errorf("online again, GET %s: %d %q", p, code, body)
		}
	}
}

// A 404 remembered from the old upstreams says nothing about the new
// ones: a reload forgets the negative cache, and a flight of the old
// generation that ends in a 404 after the swap does not record it.
func TestReloadForgetsNotFound(t *testing.T) {
	u1 := newUpstream(t)
	u2 := newUpstream(t)
	u2.AddVersion("example.com/fix/a", "v1.5.0")
	u2.AddVersion("example.com/fix/a", "v1.6.0")
	extra := "[cache]\nnegative_ttl = 10m\n"
	m := startModgate(t, options{proxy: u1.URL(), extra: extra})
	known := "/example.com/fix/a/@v/v1.5.0.info"
	for i, want := range []string{"MISS", "NEGATIVE"} {
		if code, h, body := get(t, m.URL+known); code != 404 || h.Get("X-Modgate-Cache") != want {
			t.Fatalf("GET %d before the reload: %d %s %q", i, code, h.Get("X-Modgate-Cache"), body)
		}
	}
	m.writeConfig(t, options{proxy: u2.URL(), extra: extra})
	if out, errs, good := reloadCLI(t, m); !good {
		t.Fatalf("modgate reload: %q %q", out, errs)
	}
	if code, h, body := get(t, m.URL+known); code != 200 {
		t.Errorf("after the reload: %d %s %q", code, h.Get("X-Modgate-Cache"), body)
	}

	// The old generation's flight: u1 (no v1.6.0) answers its 404 a
	// second late; the reload to u2 (which has it) lands meanwhile.
	m.writeConfig(t, options{proxy: u1.URL(), extra: extra})
	if out, errs, good := reloadCLI(t, m); !good {
		t.Fatalf("modgate reload to u1: %q %q", out, errs)
	}
	late := "/example.com/fix/a/@v/v1.6.0.info"
	u1.SetFault(late, upstream.Fault{Mode: upstream.Delay, Delay: time.Second})
	done := make(chan int, 1)
	go func() {
		code, _, _ := get(t, m.URL+late)
		done <- code
	}()
	eventually(t, "the slow request upstream", func() bool { return u1.Count(late) == 1 })
	m.writeConfig(t, options{proxy: u2.URL(), extra: extra})
	if out, errs, good := reloadCLI(t, m); !good {
		t.Fatalf("modgate reload to u2: %q %q", out, errs)
	}
	if code := <-done; code != 404 {
		t.Errorf("the old generation's request: %d, want u1's 404", code)
	}
	if code, h, body := get(t, m.URL+late); code != 200 {
		t.Errorf("after the old flight's 404: %d %s %q", code, h.Get("X-Modgate-Cache"), body)
	}
}
