package integration

import (
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"modgate.test/t/fixtures/upstream"
)

// SIGTERM stops gracefully: the listener closes (new connections are
// refused), a request in flight still gets its answer, and modgate then
// exits 0 (checked by the harness at cleanup).
func TestGracefulStop(t *testing.T) {
	u := newUpstream(t)
	m := startModgate(t, options{proxy: u.URL()})
	path := "/example.com/fix/a/@v/v1.0.0.info"
	u.SetFault(path, upstream.Fault{Mode: upstream.Delay, Delay: 1500 * time.Millisecond})
	want := fixtureModule(t, u, "example.com/fix/a", "v1.0.0")

	type result struct {
		status int
		body   string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.Get(m.URL + path)
		if err != nil {
			done <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{resp.StatusCode, string(b), err}
	}()
	eventually(t, "the slow request to reach the upstream", func() bool { return u.Count(path) == 1 })
	if err := m.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the listener to close", func() bool {
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(m.URL, "http://"), time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	select {
	case r := <-done:
		if r.err != nil || r.status != 200 || r.body != string(want.Info) {
			t.Errorf("request in flight at SIGTERM: %d %q %v", r.status, r.body, r.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the request in flight never finished")
	}
	if !logShows(m, "stopping: no new connections") {
		t.Errorf("no stop line in the log")
	}
}
