package integration

import (
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"modgate.test/t/fixtures/upstream"
)

// The go command with a checksum database and only modgate to reach it:
// modgate answers /sumdb/NAME/supported, passes lookups, the latest tree
// and tiles through to its upstream, caches the tiles it has proven, and
// the go command verifies every module against the database (built on
// golang.org/x/mod/sumdb). A substituted zip never reaches the go command:
// modgate refuses it first.
func TestChecksumDatabaseThroughModgate(t *testing.T) {
	const name = "sum.fixture.example"
	u := newUpstream(t)
	vkey, err := u.EnableSumDB(name)
	if err != nil {
		t.Fatal(err)
	}
	m := startModgate(t, options{proxy: u.URL(), env: map[string]string{"GOSUMDB": vkey, "GONOSUMDB": ""}})
	env := append(goEnv(t, m.URL), "GOSUMDB="+vkey, "GONOSUMDB=", "GONOSUMCHECK=", "GOPRIVATE=")

	want := fixtureModule(t, u, "example.com/fix/a", "v1.1.0")
	d := download(t, env, "example.com/fix/a@v1.1.0")
	if d.Sum != want.Sum || d.Error != "" {
		t.Fatalf("verified download: %+v", d)
	}
	// One lookup, modgate's own (for the .mod and the .zip): the go
	// command's is answered with the answer modgate proved.
	if u.Count("/sumdb/"+name+"/lookup/example.com/fix/a@v1.1.0") != 1 {
		t.Errorf("the database was not reached through modgate: lookup %d",
			u.Count("/sumdb/"+name+"/lookup/example.com/fix/a@v1.1.0"))
	}
	// modgate answers "supported" itself: it verifies against this database.
	if st, _ := rawGet(t, m.URL, "/sumdb/"+name+"/supported"); st != 200 || u.Count("/sumdb/"+name+"/supported") != 0 {
		t.Errorf("supported: %d, upstream asked %d times", st, u.Count("/sumdb/"+name+"/supported"))
	}
	// Tiles are cached for good: one is now on disk and served as a hit.
	var tile string
	eventually(t, "a cached tile", func() bool {
		filepath.WalkDir(filepath.Join(m.CacheDir, "sumdb", name, "tile"), func(p string, de fs.DirEntry, err error) error {
			if err == nil && !de.IsDir() {
				tile = p
			}
			return nil
		})
		return tile != ""
	})
	rel, _ := filepath.Rel(m.CacheDir, tile)
	_, h, _ := get(t, m.URL+"/"+filepath.ToSlash(rel))
	if h.Get("X-Modgate-Cache") != "HIT" || h.Get("Content-Type") != "application/octet-stream" {
		t.Errorf("cached tile %s: %q %q", rel, h.Get("X-Modgate-Cache"), h.Get("Content-Type"))
	}
	before := u.Total()
	if d2 := download(t, goEnv2(t, m.URL, vkey), "example.com/fix/b@v1.0.0"); d2.Error != "" {
		t.Fatalf("second module: %s", d2.Error)
	}
	t.Logf("second verified download: %d upstream requests", u.Total()-before)

	// Another database than GOSUMDB's: 404, the go command asks it directly.
	if st, body := rawGet(t, m.URL, "/sumdb/sum.golang.org/supported"); st != 404 || !strings.Contains(body, "not proxied here") {
		t.Errorf("another database: %d %q", st, body)
	}
	// Malformed paths are refused before anything goes upstream.
	for _, p := range []string{"/sumdb/" + name + "/tile/8/0/x1/234", "/sumdb/" + name + "/lookup/x", "/sumdb/" + name + "/../x", "/sumdb/" + name + "/tile/8/0/../../x"} {
		if st, _ := rawGet(t, m.URL, p); st != 400 && st != 404 {
			t.Errorf("%s: %d", p, st)
		}
	}

	// Every upstream down: a client with an empty module cache still
	// downloads and verifies what modgate has, from its cache alone.
	u.Stop()
	if d3 := download(t, goEnv2(t, m.URL, vkey), "example.com/fix/a@v1.1.0"); d3.Error != "" || d3.Sum != want.Sum {
		t.Errorf("verified download with the upstream down: %+v", d3)
	}
	u.Start()

	// A substituted zip from the upstream: modgate refuses it before the
	// go command sees a byte.
	u.SetFault("/example.com/fix/m05/@v/v1.0.0.zip", upstream.Fault{Mode: upstream.Substitute})
	_, errs, err := runGo(t, goEnv2(t, m.URL, vkey), t.TempDir(), "mod", "download", "example.com/fix/m05@v1.0.0")
	if err == nil || !strings.Contains(errs, "502 Bad Gateway") || !strings.Contains(errs, "checksum mismatch") {
		t.Errorf("a substituted zip was not caught: %v\n%s", err, errs)
	}
}

// goEnv2 is goEnv with the fixture database as GOSUMDB.
func goEnv2(t *testing.T, proxy, vkey string) []string {
	return append(goEnv(t, proxy), "GOSUMDB="+vkey, "GONOSUMDB=", "GOPRIVATE=")
}
