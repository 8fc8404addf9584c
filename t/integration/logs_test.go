package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// [log] output and format: every line — events as JSON objects, and the
// access lines — goes to the file, none to stderr; each line parses.
func TestLogToFileAsJSON(t *testing.T) {
	u := newUpstream(t)
	file := filepath.Join(t.TempDir(), "modgate.log")
	m := startModgate(t, options{proxy: u.URL(), extra: "[log]\noutput = " + file + "\nformat = json\n"})
	if st, _ := rawGet(t, m.URL, "/example.com/fix/a/@v/v1.0.0.info"); st != 200 {
		t.Fatalf("info: %d", st)
	}
	var lines []string
	eventually(t, "the access line in the file", func() bool {
		b, _ := os.ReadFile(file)
		lines = strings.Split(strings.TrimSpace(string(b)), "\n")
		return strings.Contains(string(b), `"path":"/example.com/fix/a/@v/v1.0.0.info"`)
	})
	events := 0
	for _, l := range lines {
		var v map[string]any
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Errorf("not a JSON line: %q", l)
			continue
		}
		if v["msg"] != nil && v["level"] != nil && v["time"] != nil {
			events++
		}
	}
	if events == 0 || !strings.Contains(strings.Join(lines, "\n"), `listening on http://127.0.0.1`) {
		t.Errorf("no JSON event lines:\n%s", strings.Join(lines, "\n"))
	}
	if strings.TrimSpace(m.Log()) != "" {
		t.Errorf("lines went to stderr as well:\n%s", m.Log())
	}
}
