package integration

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"modgate.test/t/fixtures/upstream"
)

// SIGTERM: the listener closes at once, an idle keep-alive connection does
// not hold the stop up, a slow request in flight still
// completes with 200, and modgate exits 0.
func TestGracefulStop(t *testing.T) {
	u := newUpstream(t)
	p := "/example.com/fix/a/@v/v1.1.0.info"
	u.SetFault("*.info", upstream.Fault{Mode: upstream.Delay, Delay: 1500 * time.Millisecond})
	m := startModgate(t, options{extra: poolINI("upstream = " + u.URL() + "\n")})
	mv := fixtureModule(t, u, "example.com/fix/a", "v1.1.0")
	// An idle keep-alive connection must not hold the stop up.
	idle := &http.Client{Transport: &http.Transport{}, Timeout: 30 * time.Second}
	if resp, err := idle.Get(m.URL + "/healthz"); err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	type result struct {
		code int
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := client.Get(m.URL + p)
		if err != nil {
			done <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{resp.StatusCode, string(b), err}
	}()
	eventually(t, "the slow request upstream", func() bool { return u.Count(p) == 1 })
	start := time.Now()
	stopped := make(chan struct{})
	go func() { m.stop(); close(stopped) }()
	// New connections are refused while the slow one finishes.
	eventually(t, "the listener to close", func() bool {
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(m.URL, "http://"), time.Second)
		if err == nil {
			c.Close()
			return false
		}
		return true
	})
	select {
	case <-done:
		t.Fatalf("the slow request ended before the listener closed")
	default:
	}
	r := <-done
	if r.err != nil || r.code != 200 || r.body != string(mv.Info) {
		t.Errorf("slow request: %d %v %q", r.code, r.err, r.body)
	}
	<-stopped // m.stop checks the exit status 0
	if !strings.Contains(m.Log(), "stop: listener closed") {
		t.Errorf("no stop line in the log")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("stop took %v", d)
	}
}

// stop_timeout cuts requests still running short, and a second SIGTERM
// does not wait for it; either way the exit status is 0.
func TestStopTimeoutAndSecondSignal(t *testing.T) {
	for _, second := range []bool{false, true} {
		t.Run(fmt.Sprintf("second=%v", second), func(t *testing.T) {
			u := newUpstream(t)
			p := "/example.com/fix/b/@v/v1.0.0.info"
			u.SetFault("*.info", upstream.Fault{Mode: upstream.Blackhole})
			timeout := "1500ms"
			if second {
				timeout = "1m"
			}
			m := startModgate(t, options{server: "stop_timeout = " + timeout + "\n",
				extra: poolINI("upstream = " + u.URL() + "\n")})
			done := make(chan error, 1)
			go func() {
				resp, err := client.Get(m.URL + p)
				if err == nil {
					_, err = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				done <- err
			}()
			eventually(t, "the request upstream", func() bool { return u.Count(p) == 1 })
			start := time.Now()
			proc := m.cmd.Process
			stopped := make(chan struct{})
			go func() { m.stop(); close(stopped) }()
			if second {
				eventually(t, "the first signal's log line", func() bool {
					return strings.Contains(m.Log(), "stop: listener closed")
				})
				proc.Signal(syscall.SIGTERM)
			}
			<-stopped
			d := time.Since(start)
			if d > 8*time.Second {
				t.Errorf("stop took %v", d)
			}
			if !second && d < 1200*time.Millisecond {
				t.Errorf("stop did not wait for stop_timeout: %v", d)
			}
			if err := <-done; err == nil {
				t.Errorf("the cut request looked complete")
			}
			want := "stop_timeout (1500 ms) is over"
			if second {
				want = "asked again; stopping now"
			}
			if !strings.Contains(m.Log(), want) {
				t.Errorf("log lacks %q", want)
			}
		})
	}
}
