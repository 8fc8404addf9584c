package integration

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"modgate.test/t/fixtures/upstream"
)

// A 404 body from the upstream reaches the go command, which prints it;
// the answer is then remembered for the negative TTL.
func TestNotFoundReasonReachesGoAndIsCachedBriefly(t *testing.T) {
	u := newUpstream(t)
	m := startModgate(t, options{proxy: u.URL(), extra: "\n[cache]\nnegative_ttl = 2s\n"})
	env := goEnv(t, m.URL)

	_, errs, err := runGo(t, env, t.TempDir(), "mod", "download", "-json", "example.com/fix/a@v9.9.9")
	if err == nil {
		t.Fatal("go mod download of a missing version succeeded")
	}
	// -json prints the error into the JSON on stdout for some go versions; check both.
	out, errs2, _ := runGo(t, env, t.TempDir(), "mod", "download", "example.com/fix/a@v9.9.9")
	if !strings.Contains(errs+out+errs2, "fixture: unknown revision") &&
		!strings.Contains(errs+out+errs2, "fixture: not found") {
		t.Errorf("the upstream's reason did not reach the go command:\n%s\n%s\n%s", out, errs, errs2)
	}
	// A fresh miss (the go command's own requests may have left an entry
	// that is about to expire on a slow machine), then a repeat within the
	// TTL: answered from memory.
	path := "/example.com/fix/a/@v/v9.9.9.info"
	eventually(t, "a fresh miss", func() bool {
		st, h, _ := get(t, m.URL+path)
		return st == 404 && h.Get("X-Modgate-Cache") == "MISS"
	})
	before := u.Count(path)
	st, h, body := get(t, m.URL+path)
	if st != 404 || h.Get("X-Modgate-Cache") != "NEGATIVE" || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
		t.Errorf("repeat within negative TTL: %d %q %q", st, h.Get("X-Modgate-Cache"), body)
	}
	if u.Count(path) != before {
		t.Errorf("a remembered 404 went upstream again")
	}
	time.Sleep(2100 * time.Millisecond)
	st, h, _ = get(t, m.URL+path)
	if st != 404 || h.Get("X-Modgate-Cache") != "MISS" || u.Count(path) != before+1 {
		t.Errorf("after negative TTL: %d %q, upstream count %d (was %d)", st, h.Get("X-Modgate-Cache"),
			u.Count(path), before)
	}
}

// GOPROXY semantics: after ',' only 404/410 move on; after '|' any error does.
func TestUpstreamListSeparators(t *testing.T) {
	bad := newUpstream(t)
	good := newUpstream(t)
	bad.SetFault("*", upstream.Fault{Mode: upstream.ServerError})
	want := fixtureModule(t, good, "example.com/fix/b", "v1.0.0")

	m := startModgate(t, options{proxy: bad.URL() + "|" + good.URL()})
	d := download(t, goEnv(t, m.URL), "example.com/fix/b@v1.0.0")
	if d.Sum != want.Sum {
		t.Errorf("with '|' after a failing upstream: Sum %s, want %s", d.Sum, want.Sum)
	}

	m2 := startModgate(t, options{proxy: bad.URL() + "," + good.URL()})
	st, _, body := get(t, m2.URL+"/example.com/fix/b/@v/v1.0.0.mod")
	if st != 502 || !strings.Contains(string(body), "answered 500") {
		t.Errorf("with ',' after a failing upstream: %d %q", st, body)
	}
	before := good.Count("/example.com/fix/b/@v/v1.0.0.mod")

	// 404 moves on after either separator.
	bad.SetFault("*", upstream.Fault{Mode: upstream.NotFound})
	st, _, body = get(t, m2.URL+"/example.com/fix/b/@v/v1.0.0.mod")
	if st != 200 || !bytes.Equal(body, want.Mod) {
		t.Errorf("',' after a 404: %d %q", st, body)
	}
	if good.Count("/example.com/fix/b/@v/v1.0.0.mod") != before+1 {
		t.Errorf("second upstream not asked after a 404")
	}

	// A refused connection after '|' moves on too.
	bad.Stop()
	m3 := startModgate(t, options{proxy: bad.URL() + "|" + good.URL()})
	if d := download(t, goEnv(t, m3.URL), "example.com/fix/a@v1.0.0"); d.Error != "" {
		t.Errorf("'|' after a stopped upstream: %s", d.Error)
	}
}

// A zip whose body breaks off mid-transfer reaches the client as a 502
// and never as bytes (a .zip is downloaded whole and verified before any
// client sees it), and leaves nothing in the cache; once the upstream
// behaves, the next request succeeds.
func TestBrokenTransfersLeaveNothingCached(t *testing.T) {
	cases := []struct {
		name  string
		fault upstream.Fault
	}{
		{"Reset", upstream.Fault{Mode: upstream.ResetMidBody}},
		{"Truncate", upstream.Fault{Mode: upstream.Truncate}},
		// A pause before the break: the client is surely mid-body.
		{"ResetAfterPause", upstream.Fault{Mode: upstream.ResetMidBody, Delay: 300 * time.Millisecond}},
		{"TruncateAfterPause", upstream.Fault{Mode: upstream.Truncate, Delay: 300 * time.Millisecond}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u := newUpstream(t)
			m := startModgate(t, options{proxy: u.URL()})
			want := fixtureModule(t, u, "example.com/fix/big", "v1.0.0")
			path := "/example.com/fix/big/@v/v1.0.0.zip"
			u.SetFault(path, c.fault)

			resp, err := client.Get(m.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 502 || bytes.Contains(body, want.Zip[:64]) {
				t.Errorf("status %d with %d bytes, want 502 and no zip bytes", resp.StatusCode, len(body))
			}
			_, errs, gerr := runGo(t, goEnv(t, m.URL), t.TempDir(), "mod", "download", "example.com/fix/big@v1.0.0")
			if gerr == nil {
				t.Errorf("go mod download succeeded through a broken upstream")
			}
			_ = errs
			file := cachePath(t, m.CacheDir, "example.com/fix/big", "v1.0.0", ".zip")
			eventually(t, "temp files to go", func() bool { return len(tmpFiles(t, m.CacheDir)) == 0 })
			if _, err := os.Stat(file); err == nil {
				t.Fatalf("a broken transfer left %s in the cache", file)
			}

			u.SetFault("", upstream.Fault{})
			d := download(t, goEnv(t, m.URL), "example.com/fix/big@v1.0.0")
			if d.Sum != want.Sum {
				t.Errorf("after the upstream healed: Sum %s, want %s", d.Sum, want.Sum)
			}
			if got := waitCached(t, file); !bytes.Equal(got, want.Zip) {
				t.Errorf("cached zip differs after healing")
			}
		})
	}
}

// 200 clients asking at once for one uncached object cause one upstream
// request, and they stream from the growing file rather than wait for the
// end of the transfer.
func TestSingleFlight200Clients(t *testing.T) {
	u := newUpstream(t)
	m := startModgate(t, options{proxy: u.URL()})
	want := fixtureModule(t, u, "example.com/fix/big", "v1.0.0")
	path := "/example.com/fix/big/@v/v1.0.0.zip"
	u.SetFault(path, upstream.Fault{Mode: upstream.Delay, Delay: 300 * time.Millisecond})

	const n = 200
	tr := &http.Transport{MaxIdleConnsPerHost: n, MaxConnsPerHost: n}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 60 * time.Second}

	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get(m.URL + path)
			if err != nil {
				errs <- err.Error()
				return
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || !bytes.Equal(body, want.Zip) {
				errs <- "bad answer: " + resp.Status
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if c := u.Count(path); c != 1 {
		t.Errorf("upstream asked %d times for one object, want 1", c)
	}

	// Streaming (metadata; a .mod or .zip is verified whole first): with
	// a slow upstream, joiners see the first bytes long before the
	// upstream has sent the last one.
	mod := "/example.com/fix/m07/@v/v1.0.0.info"
	body := fixtureModule(t, u, "example.com/fix/m07", "v1.0.0").Info
	drip := 40 * time.Millisecond
	u.SetFault(mod, upstream.Fault{Mode: upstream.SlowDrip, Delay: drip})
	total := time.Duration(len(body)) * drip
	const readers = 20
	firsts := make(chan time.Duration, readers)
	start := time.Now()
	for i := 0; i < readers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get(m.URL + mod)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			one := make([]byte, 1)
			if _, err := io.ReadFull(resp.Body, one); err != nil {
				t.Error(err)
				return
			}
			firsts <- time.Since(start)
			rest, err := io.ReadAll(resp.Body)
			if err != nil || !bytes.Equal(append(one, rest...), body) {
				t.Errorf("slow stream: %v", err)
			}
		}()
	}
	wg.Wait()
	close(firsts)
	for f := range firsts {
		if f > total*3/4 {
			t.Errorf("a reader got its first byte after %v; the upstream needs %v for the whole body", f, total)
		}
	}
	if c := u.Count(mod); c != 1 {
		t.Errorf("slow object asked %d times, want 1", c)
	}
}

// An upstream that accepts and never answers costs one first-byte deadline:
// the client gets a 504 (or, after '|', the next upstream's answer) instead
// of hanging as the go command would.
func TestBlackholedUpstreamCostsOneDeadline(t *testing.T) {
	hole := newUpstream(t)
	good := newUpstream(t)
	hole.SetFault("*", upstream.Fault{Mode: upstream.Blackhole})
	extra := "\n[timeouts]\nconnect = 1s\nfirst_byte = 500ms\n"

	m := startModgate(t, options{proxy: hole.URL(), extra: extra})
	start := time.Now()
	st, _, body := get(t, m.URL+"/example.com/fix/b/@v/v1.0.0.info")
	took := time.Since(start)
	if st != 504 || !strings.Contains(string(body), "no response within") {
		t.Errorf("blackholed upstream: %d %q", st, body)
	}
	if took > 3*time.Second {
		t.Errorf("blackholed upstream took %v, deadline is 0.5 s after connecting", took)
	}
	t.Logf("blackholed upstream answered 504 after %v", took)

	m2 := startModgate(t, options{proxy: hole.URL() + "|" + good.URL(), extra: extra})
	start = time.Now()
	want := fixtureModule(t, good, "example.com/fix/b", "v1.0.0")
	d := download(t, goEnv(t, m2.URL), "example.com/fix/b@v1.0.0")
	if d.Sum != want.Sum {
		t.Errorf("failover past a blackhole: Sum %s, want %s", d.Sum, want.Sum)
	}
	t.Logf("go mod download past a blackholed first upstream: %v", time.Since(start))
}
