package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"modgate.test/t/fixtures/upstream"
)

// The status page, in a real browser (headless Chromium, installed by
// `make test`): an upstream forced open shows as open, the other as
// closed, a quarantine record is listed, and a screenshot is saved.
func TestStatusPageInChromium(t *testing.T) {
	browser, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium not found (make test installs Debian's chromium): %v", err)
	}
	bad, vkey := sumdbSetup(t)
	good := newUpstream(t)
	m := startModgate(t, options{
		env:   map[string]string{"GOSUMDB": vkey, "GONOSUMDB": ""},
		extra: fmt.Sprintf("[pool \"main\"]\nupstream = %s\nupstream = %s backup\n", bad.URL(), good.URL()),
	})
	// A quarantine record to list: a substituted zip caught on the way.
	bad.SetFault("/example.com/fix/m04/@v/v1.0.0.zip", upstream.Fault{Mode: upstream.Substitute})
	if st, _ := rawGet(t, m.URL, "/example.com/fix/m04/@v/v1.0.0.zip"); st != 200 {
		t.Fatalf("zip through the backup: %d", st)
	}
	eventually(t, "the quarantine record", func() bool { return len(quarantined(t, m.CacheDir)) == 1 })
	if out, err := ctl(t, m, "open", good.URL()); err != nil {
		t.Fatalf("forcing %s open: %v\n%s", good.URL(), err, out)
	}

	out := os.Getenv("MODGATE_TEST_OUT")
	if out == "" {
		out = filepath.Join(os.TempDir(), "modgate-test-out")
	}
	os.MkdirAll(out, 0o755)
	shot := filepath.Join(out, "status.png")
	os.Remove(shot)
	page := "http://" + m.Admin + "/"
	run := func(args ...string) []byte {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
			"--user-data-dir=" + t.TempDir(), "--window-size=1200,900"}
		cmd := exec.CommandContext(ctx, browser, append(base, args...)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
		}
		return stdout.Bytes()
	}
	dom := string(run("--dump-dom", page))
	row := func(url string) string {
		re := regexp.MustCompile(`<tr class="[^"]*"><td>main</td><td>` + regexp.QuoteMeta(url) + `</td>.*?</tr>`)
		return re.FindString(dom)
	}
	if r := row(good.URL()); !strings.Contains(r, `<td class="state">open</td>`) || !strings.Contains(r, "forced") {
		t.Errorf("the forced-open upstream's row: %q", r)
	}
	if r := row(bad.URL()); !strings.Contains(r, `<td class="state">closed</td>`) {
		t.Errorf("the other upstream's row: %q", r)
	}
	if !strings.Contains(dom, "example.com/fix/m04@v1.0.0") || !strings.Contains(dom, "mismatch") {
		t.Errorf("the quarantine record is not listed")
	}
	if !strings.Contains(dom, "hit ratio") || !strings.Contains(dom, `http-equiv="refresh"`) {
		t.Errorf("the page lacks the cache table or its refresh")
	}
	if t.Failed() {
		t.Logf("DOM:\n%s", dom)
	}
	run("--screenshot="+shot, page)
	b, err := os.ReadFile(shot)
	if err != nil || len(b) < 1000 || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Errorf("screenshot %s: %d bytes, %v", shot, len(b), err)
	}
	t.Logf("status page screenshot: %s", shot)
}
