package integration

import (
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"modgate.test/t/fixtures/upstream"
)

// dbAtURL starts a module proxy that serves no checksum database and,
// apart, a checksum database at its own 127.0.0.1 URL, and a modgate whose
// [sumdb] database names that URL (more INI text in extra). No pool can
// reach the database: the proxy answers 404 to every /sumdb/ path. It
// returns the proxy, the database's server, the database's URL, its key
// and the modgate.
func dbAtURL(t *testing.T, name, extra string) (*upstream.Server, *upstream.Server, string, string, *modgate) {
	t.Helper()
	proxy := newUpstream(t)
	db := newUpstream(t)
	vkey, err := db.EnableSumDB(name)
	if err != nil {
		t.Fatal(err)
	}
	dbURL := db.URL() + "/sumdb/" + name
	m := startModgate(t, options{
		proxy: proxy.URL(),
		env:   map[string]string{"GONOSUMDB": ""},
		extra: fmt.Sprintf("\n[sumdb]\ndatabase = %s %s\n%s", vkey, dbURL, extra),
	})
	return proxy, db, dbURL, vkey, m
}

// sumdbFiles lists the files under cache/sumdb/NAME/sub, relative to the
// cache.
func sumdbFiles(t *testing.T, cache, name, sub string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(filepath.Join(cache, "sumdb", name, sub), func(p string, de fs.DirEntry, err error) error {
		if err == nil && !de.IsDir() {
			rel, _ := filepath.Rel(cache, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	return out
}

// A company's own checksum database at its own URL, which no pool routes:
// with `[sumdb] database = NAME+HASH+KEY URL`, clients whose GOSUMDB names
// the database without a URL reach it through modgate (their GOPROXY),
// which asks the URL directly. A module modgate pins (its nosumdb) is
// still looked up by the go command, cold, through modgate; with the
// database stopped, a fresh client verifies a cached module from the
// answers modgate proved and kept (the lookup served stale).
func TestChecksumDatabaseAtItsOwnURL(t *testing.T) {
	const name = "sum.corp.example"
	proxy, db, dbURL, vkey, m := dbAtURL(t, name, "nosumdb = example.com/fix/b\n[cache]\nlist_ttl = 2s\n")
	sumPath := func(rest string) string { return "/sumdb/" + name + "/" + rest }

	// The go command verifies a module modgate verified: modgate's own
	// lookup and tiles went to the database's URL and were kept.
	want := fixtureModule(t, proxy, "example.com/fix/a", "v1.1.0")
	d := download(t, goEnv2(t, m.URL, vkey), "example.com/fix/a@v1.1.0")
	if d.Error != "" || d.Sum != want.Sum || d.GoModSum != want.GoModSum {
		t.Fatalf("verified download: %+v", d)
	}
	if n := db.SumDBCount("lookup"); n < 1 {
		t.Errorf("the database was asked for %d lookups", n)
	}
	lookupA := "sumdb/" + name + "/lookup/example.com/fix/a@v1.1.0"
	waitCached(t, filepath.Join(m.CacheDir, filepath.FromSlash(lookupA)))
	if len(sumdbFiles(t, m.CacheDir, name, "tile")) == 0 {
		t.Errorf("no proven tile was kept")
	}

	// A module modgate pins: the go command's own lookup and the tiles of
	// the database's grown tree are not in modgate's cache, so they come
	// from the database's URL, passed through.
	lookups, tiles := db.SumDBCount("lookup"), db.SumDBCount("tile")
	wantB := fixtureModule(t, proxy, "example.com/fix/b", "v1.0.0")
	if d := download(t, goEnv2(t, m.URL, vkey), "example.com/fix/b@v1.0.0"); d.Error != "" || d.Sum != wantB.Sum {
		t.Fatalf("download verified by the go command alone: %+v", d)
	}
	if db.SumDBCount("lookup") != lookups+1 || db.SumDBCount("tile") <= tiles {
		t.Errorf("through modgate, the database saw %d lookups and %d tile requests, want 1 and some",
			db.SumDBCount("lookup")-lookups, db.SumDBCount("tile")-tiles)
	}
	// Passed through, never kept: modgate did not prove them.
	if _, err := os.Stat(filepath.Join(m.CacheDir, "sumdb", name, "lookup", "example.com", "fix", "b@v1.0.0")); err == nil {
		t.Errorf("an unproven lookup answer was cached")
	}
	// The latest tree head, byte for byte the database's, never cached.
	latest := db.SumDBCount("latest")
	_, _, direct := get(t, dbURL+"/latest")
	_, h, body := get(t, m.URL+sumPath("latest"))
	if string(body) != string(direct) || h.Get("X-Modgate-Cache") != "MISS" || db.SumDBCount("latest") != latest+2 {
		t.Errorf("latest through modgate: %q %q, database asked %d times", h.Get("X-Modgate-Cache"), body,
			db.SumDBCount("latest")-latest)
	}
	if id := db.RequestID(sumPath("latest")); id == "" || id != h.Get("X-Request-Id") {
		t.Errorf("the database saw request id %q, the client %q", id, h.Get("X-Request-Id"))
	}
	// A tile is immutable, also when passed through.
	_, h, body = get(t, m.URL+sumPath("tile/8/0/000.p/2"))
	_, _, direct = get(t, dbURL+"/tile/8/0/000.p/2")
	if string(body) != string(direct) || len(body) != 64 ||
		h.Get("Cache-Control") != "public, max-age=31536000, immutable" || h.Get("Content-Type") != "application/octet-stream" {
		t.Errorf("tile through modgate: %d bytes, %q %q", len(body), h.Get("Cache-Control"), h.Get("Content-Type"))
	}
	// The database's 404 is an answer: passed on, with its own words.
	if st, body := rawGet(t, m.URL, sumPath("lookup/example.com/fix/nosuch@v1.0.0")); st != 404 || !strings.Contains(body, "fixture") {
		t.Errorf("lookup of a module the database lacks: %d %q", st, body)
	}
	// None of it went to the pool.
	for _, p := range []string{"lookup/example.com/fix/a@v1.1.0", "lookup/example.com/fix/b@v1.0.0", "latest", "tile/8/0/000.p/2"} {
		if n := proxy.Count(sumPath(p)); n != 0 {
			t.Errorf("the pool's upstream was asked for %s %d times", p, n)
		}
	}
	if !strings.Contains(m.Log(), `"upstream":"`+dbURL+`"`) {
		t.Errorf("no access line names the database's URL as the upstream")
	}

	// The database goes away and the kept lookup answer expires
	// (list_ttl 2s): a client with an empty module cache still verifies
	// the cached module, from the kept answer (served stale) and the
	// proven tiles.
	db.Stop()
	time.Sleep(2100 * time.Millisecond)
	if d := download(t, goEnv2(t, m.URL, vkey), "example.com/fix/a@v1.1.0"); d.Error != "" || d.Sum != want.Sum {
		t.Errorf("verified download with the database down: %+v", d)
	}
	st, h, body := get(t, m.URL+"/"+lookupA)
	if st != 200 || h.Get("X-Modgate-Cache") != "STALE" || !strings.Contains(string(body), "example.com/fix/a v1.1.0 "+want.Sum) {
		t.Errorf("kept lookup with the database down: %d %q %q", st, h.Get("X-Modgate-Cache"), body)
	}
	// Nothing kept to fall back on: a fast 502 naming the database.
	st, body2 := rawGet(t, m.URL, sumPath("lookup/example.com/fix/m01@v1.0.0"))
	if st != 502 || !strings.Contains(body2, dbURL) || !strings.Contains(body2, "connect") {
		t.Errorf("uncached lookup with the database down: %d %q", st, body2)
	}
}

// Answers of the database at its own URL that fail their proof are
// refused and never cached: a forged signature (caught by modgate for
// what it verifies, by the go command for what modgate only passes
// through) and a tile that does not match the signed tree.
func TestChecksumDatabaseAtItsOwnURLRefusesUnproven(t *testing.T) {
	const name = "sum.corp.example"
	_, db, dbURL, vkey, m := dbAtURL(t, name, "nosumdb = example.com/fix/b\n")

	db.SetSumDBFault(upstream.ForgedSignature, true)
	// modgate's own proof fails: the module is refused, nothing cached.
	_, errs, err := runGo(t, goEnv2(t, m.URL, vkey), t.TempDir(), "mod", "download", "example.com/fix/m07@v1.0.0")
	if err == nil || !strings.Contains(errs, "does not verify with its key") {
		t.Errorf("a forged tree head did not stop the download: %v\n%s", err, errs)
	}
	for _, ext := range []string{".mod", ".zip"} {
		if _, err := os.Stat(cachePath(t, m.CacheDir, "example.com/fix/m07", "v1.0.0", ext)); err == nil {
			t.Errorf("m07%s cached although unproven", ext)
		}
	}
	// A module modgate pins: the forged answer reaches the go command,
	// which refuses it; modgate keeps none of it.
	_, errs, err = runGo(t, goEnv2(t, m.URL, vkey), t.TempDir(), "mod", "download", "example.com/fix/b@v1.0.0")
	if err == nil || !strings.Contains(errs, "verifying go.mod") || !strings.Contains(errs, "invalid signature for key "+name) {
		t.Errorf("the go command accepted a forged answer passed through: %v\n%s", err, errs)
	}
	time.Sleep(200 * time.Millisecond) // a wrongly kept answer would be written by now
	if f := sumdbFiles(t, m.CacheDir, name, ""); len(f) != 0 {
		t.Errorf("cached from forged answers: %v", f)
	}
	db.SetSumDBFault(upstream.ForgedSignature, false)

	db.SetSumDBFault(upstream.BadTile, true)
	st, body := rawGet(t, m.URL, "/example.com/fix/m10/@v/v1.0.0.zip")
	if st != 502 || !strings.Contains(body, "tiles do not match") {
		t.Errorf("a bad tile: %d %q", st, body)
	}
	time.Sleep(200 * time.Millisecond)
	if f := sumdbFiles(t, m.CacheDir, name, ""); len(f) != 0 {
		t.Errorf("cached from a refused proof: %v", f)
	}
	db.SetSumDBFault(upstream.BadTile, false)

	// The genuine database again: verified, and what is kept is the
	// database's own bytes.
	d := download(t, goEnv2(t, m.URL, vkey), "example.com/fix/m07@v1.0.0")
	if d.Error != "" {
		t.Fatalf("genuine database again: %+v", d)
	}
	var kept []string
	eventually(t, "kept lookup answers and tiles", func() bool {
		kept = sumdbFiles(t, m.CacheDir, name, "")
		return len(kept) >= 2
	})
	for _, rel := range kept {
		b, _ := os.ReadFile(filepath.Join(m.CacheDir, filepath.FromSlash(rel)))
		if strings.Contains(rel, "/lookup/") {
			// The database's answer then; its tree may have grown since.
			if !strings.Contains(string(b), "example.com/fix/m07 v1.0.0 "+d.Sum+"\n") {
				t.Errorf("%s:\n%s", rel, b)
			}
			continue
		}
		_, _, direct := get(t, dbURL+"/"+strings.TrimPrefix(rel, "sumdb/"+name+"/"))
		if string(b) != string(direct) {
			t.Errorf("%s is not the database's", rel)
		}
	}
}

// The database's URL gets the deadlines of modgate's own lookups: a
// database that accepts and never answers costs a client one first-byte
// deadline and a 502 saying so; a 5xx is passed on as a 502 naming the
// database; a client that leaves while its answer is on the way cancels
// the fetch (modgate then stops cleanly, which under ASan means no leak).
func TestChecksumDatabaseAtItsOwnURLDeadlines(t *testing.T) {
	const name = "sum.corp.example"
	_, db, dbURL, _, m := dbAtURL(t, name, "[timeouts]\nfirst_byte = 500ms\n")
	sumPath := func(rest string) string { return "/sumdb/" + name + "/" + rest }

	db.SetFault(sumPath("latest"), upstream.Fault{Mode: upstream.Blackhole})
	start := time.Now()
	st, body := rawGet(t, m.URL, sumPath("latest"))
	took := time.Since(start)
	if st != 502 || !strings.Contains(body, dbURL) || !strings.Contains(body, "timed out") {
		t.Errorf("a blackholed database: %d %q", st, body)
	}
	if took < 400*time.Millisecond || took > 10*time.Second {
		t.Errorf("a blackholed database answered in %v, want about the 500ms first-byte deadline", took)
	}

	db.SetFault(sumPath("lookup/example.com/fix/m02@v1.0.0"), upstream.Fault{Mode: upstream.Status, Status: 500, Body: "database on fire"})
	st, body = rawGet(t, m.URL, sumPath("lookup/example.com/fix/m02@v1.0.0"))
	if st != 502 || !strings.Contains(body, "answered 500") || !strings.Contains(body, "database on fire") {
		t.Errorf("a failing database: %d %q", st, body)
	}

	// A client that leaves while modgate waits for the database (a paused
	// request does not read its socket, so modgate learns of it when it
	// answers): the fetch keeps its deadline, and its answer goes nowhere,
	// cleanly.
	c, err := net.Dial("tcp", strings.TrimPrefix(m.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", sumPath("latest"))
	time.Sleep(100 * time.Millisecond)
	c.Close()
	eventually(t, "the abandoned fetch's deadline", func() bool { return strings.Count(m.Log(), "timed out") == 2 })
	db.SetFault("", upstream.Fault{})
	if st, _ := rawGet(t, m.URL, sumPath("latest")); st != 200 {
		t.Errorf("latest after the database healed: %d", st)
	}
}

// Stopping while a client waits on the database: the request is cut
// short with its fetch dropped, and modgate exits 0 (the harness checks;
// under ASan that also means nothing leaked).
func TestChecksumDatabaseAtItsOwnURLStopWhileWaiting(t *testing.T) {
	const name = "sum.corp.example"
	_, db, _, _, m := dbAtURL(t, name, "[timeouts]\nfirst_byte = 30s\n[server]\nstop_timeout = 200ms\n")
	db.SetFault("/sumdb/"+name+"/latest", upstream.Fault{Mode: upstream.Blackhole})
	c, err := net.Dial("tcp", strings.TrimPrefix(m.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /sumdb/%s/latest HTTP/1.1\r\nHost: x\r\n\r\n", name)
	eventually(t, "the request to reach the database", func() bool { return db.Count("/sumdb/"+name+"/latest") == 1 })
	start := time.Now()
	m.stop()
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("stop took %v with a request waiting on the database", d)
	}
	if !strings.Contains(m.Log(), "cutting 1 connection(s) short") {
		t.Errorf("the waiting request was not cut short at stop")
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Errorf("the waiting client was answered (%d bytes, %v), want the connection closed", n, err)
	}
}

// A database behind a front that wants basic auth: modgate sends the netrc
// entry of the URL's host:port with its own lookups and tiles and with the
// clients' /sumdb/ requests it passes on, as the go command does for
// GOSUMDB; never to the origin a redirect names; never in a log line, a
// status page, a metric, an answer or the dump. Without the entry,
// verification fails with a 502 naming the database.
func TestChecksumDatabaseAtItsOwnURLNetrc(t *testing.T) {
	const name = "sum.corp.example"
	proxy := newUpstream(t)
	db := newUpstream(t)
	vkey, err := db.EnableSumDB(name)
	if err != nil {
		t.Fatal(err)
	}
	user, pass := secret(t, "usr"), secret(t, "pw")
	guarded := startFront(t, db.URL(), basicHeader(user, pass))
	elsewhere := startFront(t, db.URL(), "") // the same database, another port
	guarded.redirect = func(r *http.Request) string {
		if strings.HasSuffix(r.URL.Path, "/latest") {
			return elsewhere.URL + r.URL.Path
		}
		return ""
	}
	host := strings.TrimPrefix(guarded.URL, "http://")
	netrc := writeSecret(t, "netrc", "machine "+host+" login "+user+" password "+pass+"\n", 0o600)
	dbURL := guarded.URL + "/sumdb/" + name
	conf := func(netrc string) string {
		return fmt.Sprintf("[upstream]\nnetrc = %s\n[sumdb]\ndatabase = %s %s\n", netrc, vkey, dbURL)
	}
	m := startModgate(t, options{proxy: proxy.URL(), env: map[string]string{"GONOSUMDB": ""},
		extra: conf(netrc)})
	sumPath := func(rest string) string { return "/sumdb/" + name + "/" + rest }

	// modgate verifies what it caches: its own lookup and tiles went
	// through the front, with the credential.
	want := fixtureModule(t, proxy, "example.com/fix/a", "v1.1.0")
	if d := download(t, goEnv2(t, m.URL, vkey), "example.com/fix/a@v1.1.0"); d.Error != "" || d.Sum != want.Sum {
		t.Fatalf("verified download: %+v", d)
	}
	if db.SumDBCount("lookup") < 1 || len(guarded.seen()) == 0 || guarded.refused != 0 {
		t.Errorf("the database saw %d lookups; the front %d requests, %d refused",
			db.SumDBCount("lookup"), len(guarded.seen()), guarded.refused)
	}
	// A client's lookup passed through, with the credential too.
	st, body := rawGet(t, m.URL, sumPath("lookup/example.com/fix/m01@v1.0.0"))
	if st != 200 || !strings.Contains(body, "example.com/fix/m01 v1.0.0 h1:") {
		t.Errorf("a client's lookup through modgate: %d %q", st, body)
	}
	// Redirected to another port: followed without the credential.
	st, latest := rawGet(t, m.URL, sumPath("latest"))
	if st != 200 || !strings.Contains(latest, name) {
		t.Errorf("latest, redirected: %d %q", st, latest)
	}
	if got := elsewhere.seen(); len(got) != 1 || got[0] != "" {
		t.Errorf("the redirect's target got Authorization %q", got)
	}
	if guarded.refused != 0 {
		t.Errorf("the front refused %d requests", guarded.refused)
	}
	if !logShows(m, "checksum database "+name+" at "+dbURL+", auth basic from netrc (machine "+host+")") {
		t.Errorf("the log does not say where the database's credential comes from")
	}
	out, err := runModgate(t, "-t", "-c", m.conf)
	if err != nil || strings.Contains(out, user) || strings.Contains(out, pass) {
		t.Errorf("modgate -t: %v\n%s", err, out)
	}
	assertNoSecret(t, m, []string{body, latest, out}, user, pass)

	// Without the netrc entry the front refuses: nothing is verified, and
	// the 502 names the database.
	empty := writeSecret(t, "empty-netrc", "machine other.example login a password b\n", 0o600)
	m2 := startModgate(t, options{proxy: proxy.URL(), env: map[string]string{"GONOSUMDB": ""},
		extra: conf(empty)})
	refused := guarded.refused
	st, body = rawGet(t, m2.URL, "/example.com/fix/m02/@v/v1.0.0.mod")
	if st != 502 || !strings.Contains(body, "checksum database "+name) ||
		!strings.Contains(body, "HTTP 401: authorization required") {
		t.Errorf("verification without the credential: %d %q", st, body)
	}
	st, body2 := rawGet(t, m2.URL, sumPath("lookup/example.com/fix/m01@v1.0.0"))
	if st != 502 || !strings.Contains(body2, dbURL) || !strings.Contains(body2, "401") {
		t.Errorf("a client's lookup without the credential: %d %q", st, body2)
	}
	if guarded.refused <= refused {
		t.Errorf("the front refused nothing")
	}
	assertNoSecret(t, m2, []string{body, body2}, user, pass)
}

// Clients asking the database's URL for one path while it is being asked
// share that one transfer: twenty concurrent lookups on a slow database
// cost it one request, and all twenty get its answer. Clients that leave
// while they wait take nothing from the others; when every client of a
// transfer is cut short (at stop) the transfer goes too, and modgate
// exits 0 (under ASan: nothing used after free, nothing leaked).
func TestChecksumDatabaseAtItsOwnURLSharedTransfer(t *testing.T) {
	const name = "sum.corp.example"
	_, db, _, _, m := dbAtURL(t, name, "[timeouts]\nfirst_byte = 30s\n[server]\nstop_timeout = 200ms\n")
	lookup := "/sumdb/" + name + "/lookup/example.com/fix/m03@v1.0.0"
	db.SetFault(lookup, upstream.Fault{Mode: upstream.Delay, Delay: 700 * time.Millisecond})

	// Two clients leave while they wait: the first, which started the
	// transfer, and one that joined it.
	leave := func() {
		c, err := net.Dial("tcp", strings.TrimPrefix(m.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", lookup)
		time.Sleep(50 * time.Millisecond)
		c.Close()
	}
	leave()
	eventually(t, "the lookup to reach the database", func() bool { return db.Count(lookup) == 1 })
	const n = 20
	type answer struct {
		status int
		body   string
	}
	answers := make([]answer, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			st, body := rawGet(t, m.URL, lookup)
			answers[i] = answer{st, body}
		}(i)
	}
	leave()
	wg.Wait()
	if got := db.Count(lookup); got != 1 {
		t.Errorf("the database was asked %d times for the lookup, want 1", got)
	}
	for i, a := range answers {
		if a.status != 200 || a.body != answers[0].body || !strings.Contains(a.body, "example.com/fix/m03 v1.0.0 h1:") {
			t.Errorf("client %d: %d %q (client 0: %q)", i, a.status, a.body, answers[0].body)
		}
	}
	// Once answered, the next client asks the database afresh.
	if st, _ := rawGet(t, m.URL, lookup); st != 200 || db.Count(lookup) != 2 {
		t.Errorf("a lookup after the shared one: %d, the database asked %d times", st, db.Count(lookup))
	}

	// Three clients wait on a database that never answers; stopping cuts
	// them short, and the last one to go takes the transfer with it.
	latest := "/sumdb/" + name + "/latest"
	db.SetFault(latest, upstream.Fault{Mode: upstream.Blackhole})
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", strings.TrimPrefix(m.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", latest)
	}
	eventually(t, "the request to reach the database", func() bool { return db.Count(latest) == 1 })
	time.Sleep(100 * time.Millisecond) // the other two join meanwhile
	if got := db.Count(latest); got != 1 {
		t.Errorf("three waiting clients asked the database %d times, want 1", got)
	}
	m.stop()
	if !strings.Contains(m.Log(), "cutting 3 connection(s) short") {
		t.Errorf("the waiting requests were not cut short at stop")
	}
}
