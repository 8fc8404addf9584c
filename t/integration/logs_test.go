package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"modgate.test/t/fixtures/upstream"
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

// logrotate: the file is renamed, SIGHUP reloads and opens the path
// again; later lines go to the new file, none to the renamed one.
func TestLogReopenedOnReload(t *testing.T) {
	u := newUpstream(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "modgate.log")
	m := startModgate(t, options{proxy: u.URL(), extra: "[log]\noutput = " + file + "\nformat = json\n"})
	first, second := "/example.com/fix/a/@v/v1.0.0.info", "/example.com/fix/b/@v/v1.0.0.info"
	if st, _ := rawGet(t, m.URL, first); st != 200 {
		t.Fatalf("info: %d", st)
	}
	fileHas := func(name, s string) bool {
		b, _ := os.ReadFile(name)
		return strings.Contains(string(b), s)
	}
	eventually(t, "the first access line", func() bool { return fileHas(file, first) })
	rotated := file + ".1"
	if err := os.Rename(file, rotated); err != nil {
		t.Fatal(err)
	}
	if err := m.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the reload event in a new file", func() bool {
		return fileHas(file, `"event":"reload","result":"accepted"`)
	})
	if st, _ := rawGet(t, m.URL, second); st != 200 {
		t.Fatalf("info: %d", st)
	}
	eventually(t, "the second access line in the new file", func() bool { return fileHas(file, second) })
	if fileHas(rotated, second) || fileHas(rotated, `"event":"reload"`) {
		t.Errorf("lines after the reload went to the rotated file")
	}
	// A configuration broken meanwhile is refused, but the file is
	// still reopened: logrotate does not know about the refusal.
	if err := os.Rename(file, file+".2"); err != nil {
		t.Fatal(err)
	}
	m.writeConfig(t, options{extra: "[pool \"broken\"\n"})
	if err := m.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the refused reload's event in a new file", func() bool {
		return fileHas(file, `"event":"reload","result":"refused"`)
	})
}

// With format = json, the events worth matching in a log pipeline carry
// their fields, not only a sentence: a breaker opening (upstream, from,
// to, reason), a quarantine (module, version, kind, upstream, reason,
// record) and a tamper alarm (module, version, upstream, recorded,
// received).
func TestStructuredEventLines(t *testing.T) {
	bad := newUpstream(t)
	good := newUpstream(t)
	bad.SetFault("*", upstream.Fault{Mode: upstream.ServerError})
	m := startModgate(t, options{extra: "[log]\nformat = json\n[breaker]\nfailures = 2\n" +
		poolINI("upstream = "+bad.URL()+"\nupstream = "+good.URL()+" backup\n")})
	events := func(name string) []map[string]string {
		var out []map[string]string
		for _, l := range strings.Split(m.Log(), "\n") {
			var v map[string]string
			if json.Unmarshal([]byte(l), &v) == nil && v["event"] == name {
				out = append(out, v)
			}
		}
		return out
	}
	for _, mod := range []string{"example.com/fix/a", "example.com/fix/b"} {
		if st, _ := rawGet(t, m.URL, "/"+mod+"/@v/v1.0.0.info"); st != 200 {
			t.Fatalf("%s through the backup: %d", mod, st)
		}
	}
	var br []map[string]string
	eventually(t, "a breaker event", func() bool { br = events("breaker"); return len(br) == 1 })
	if e := br[0]; e["upstream"] != bad.URL() || e["from"] != "closed" || e["to"] != "open" ||
		e["reason"] != "consecutive failures" || e["level"] != "warn" || !strings.Contains(e["msg"], "breaker open") {
		t.Errorf("breaker event: %v", e)
	}

	// Tamper: a pinned zip leaves the cache and comes back different.
	mod := "example.com/fix/m03"
	want := fixtureModule(t, good, mod, "v1.0.0")
	path := "/" + mod + "/@v/v1.0.0.zip"
	if st, _ := rawGet(t, m.URL, path); st != 200 {
		t.Fatalf("first zip: %d", st)
	}
	zip := cachePath(t, m.CacheDir, mod, "v1.0.0", ".zip")
	waitCached(t, zip)
	if err := os.Remove(zip); err != nil {
		t.Fatal(err)
	}
	good.SetFault(path, upstream.Fault{Mode: upstream.Substitute})
	// (502, or 503 since the other upstream's breaker is open.)
	if st, _ := rawGet(t, m.URL, path); st == 200 {
		t.Fatalf("substituted zip: %d", st)
	}
	var tamper, quar []map[string]string
	eventually(t, "tamper and quarantine events", func() bool {
		tamper, quar = events("tamper"), events("quarantine")
		return len(tamper) == 1 && len(quar) == 1
	})
	if e := tamper[0]; e["module"] != mod || e["version"] != "v1.0.0" || e["upstream"] != good.URL() ||
		e["recorded"] != want.Sum || e["received"] == "" || e["received"] == want.Sum || e["level"] != "error" ||
		!strings.HasPrefix(e["msg"], "ALARM: ") {
		t.Errorf("tamper event: %v", e)
	}
	if e := quar[0]; e["module"] != mod || e["version"] != "v1.0.0" || e["kind"] != "zip" ||
		e["upstream"] != good.URL() || e["reason"] != "tamper" ||
		!strings.HasPrefix(e["record"], filepath.Join(m.CacheDir, ".quarantine")+"/") {
		t.Errorf("quarantine event: %v", e)
	} else if _, err := os.Stat(e["record"]); err != nil {
		t.Errorf("the record the event names: %v", err)
	}
}
