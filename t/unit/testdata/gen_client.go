//go:build ignore

// gen_client writes t/unit/testdata/client_vectors.inc, the vectors of
// t/unit/test_client.c and t/fuzz/fuzz_client.c, with the real
// golang.org/x/mod/sumdb: a checksum database (sumdb.Server over a
// tlog log, key from note.GenerateKey with a fixed seed) grown in stages,
// and a fork of it signed by the same key that shares the first 100
// records and differs after. Every /lookup answer and /tile/ body is what
// sumdb.Server serves for that path at that stage; each genuine answer is
// also proven by a real sumdb.Client before it is written. It also writes
// a forged signature, a tile with one flipped byte, a tree head signed by
// another key, tlog.ParseRecord verdicts for good and bad answers, and
// the seed corpus of fuzz_client.
//
//	cd t && go run ./unit/testdata/gen_client.go
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const (
	height    = 8
	total     = 1000 // records in the largest genuine tree
	shared    = 100  // records the fork shares with the genuine log
	forkTotal = 1000
)

// The genuine log's stages (tree sizes served, in order); the fork's.
var (
	stages     = []int64{3, 20, 40, 60, 80, 300, 700, 1000}
	forkStages = []int64{80, 300, 1000}
)

type fixedRand struct{ b byte }

func (r *fixedRand) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.b
		r.b++
	}
	return len(p), nil
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

func h1(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "h1:" + base64.StdEncoding.EncodeToString(sum[:])
}

// modVersion is the module@version of record id: example.com/modID v1.0.0,
// but for id 2 (a path with an upper-case letter, escaped in the URL) and
// id 9 (a +incompatible version).
func modVersion(id int64) (string, string) {
	switch id {
	case 2:
		return "example.com/Upper", "v1.0.0"
	case 9:
		return "example.com/mod9", "v2.0.0+incompatible"
	}
	return fmt.Sprintf("example.com/mod%d", id), "v1.0.0"
}

// recordText is the go.sum lines of record id in a log (fork > 0: the
// forked log's record, other hashes past the shared prefix). Record 7
// lists only its go.mod, as the database does for a module with no zip.
func recordText(id int64, fork bool) string {
	m, v := modVersion(id)
	salt := ""
	if fork && id >= shared {
		salt = "forked "
	}
	mod := fmt.Sprintf("%s %s/go.mod %s\n", m, v, h1(salt+"go.mod of "+m+"@"+v))
	if id == 7 {
		return mod
	}
	return fmt.Sprintf("%s %s %s\n", m, v, h1(salt+"zip of "+m+"@"+v)) + mod
}

// db is one log served by sumdb.Server at a chosen size.
type db struct {
	signer  note.Signer
	records [][]byte
	hashes  []tlog.Hash
	n       int64 // the size served
	mu      sync.Mutex
}

func (d *db) reader() tlog.HashReader {
	return tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			if x >= tlog.StoredHashCount(d.n) {
				return nil, os.ErrNotExist
			}
			out[i] = d.hashes[x]
		}
		return out, nil
	})
}

func (d *db) add(text string) {
	id := int64(len(d.records))
	hs, err := tlog.StoredHashes(id, []byte(text), tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = d.hashes[x]
		}
		return out, nil
	}))
	must(err)
	d.records = append(d.records, []byte(text))
	d.hashes = append(d.hashes, hs...)
}

func (d *db) tree() tlog.Tree {
	h, err := tlog.TreeHash(d.n, d.reader())
	must(err)
	return tlog.Tree{N: d.n, Hash: h}
}

func (d *db) Signed(ctx context.Context) ([]byte, error) {
	return note.Sign(&note.Note{Text: string(tlog.FormatTree(d.tree()))}, d.signer)
}

func (d *db) ReadRecords(ctx context.Context, id, n int64) ([][]byte, error) {
	if id+n > d.n {
		return nil, os.ErrNotExist
	}
	return d.records[id : id+n], nil
}

func (d *db) Lookup(ctx context.Context, m module.Version) (int64, error) {
	for id := int64(0); id < d.n; id++ {
		p, v := modVersion(id)
		if p == m.Path && v == m.Version {
			return id, nil
		}
	}
	return 0, os.ErrNotExist
}

func (d *db) ReadTileData(ctx context.Context, t tlog.Tile) ([]byte, error) {
	return tlog.ReadTileData(t, d.reader())
}

// get serves path through sumdb.Server as it stands.
func (d *db) get(path string) (int, []byte) {
	rec := httptest.NewRecorder()
	sumdb.NewServer(d).ServeHTTP(rec, httptest.NewRequest("GET", "/"+path, nil))
	return rec.Code, rec.Body.Bytes()
}

// clientOps is a real sumdb.Client's view of a db, to prove each answer
// written with the go command's own client.
type clientOps struct {
	d      *db
	vkey   string
	latest []byte
}

func (c *clientOps) ReadRemote(path string) ([]byte, error) {
	code, body := c.d.get(strings.TrimPrefix(path, "/"))
	if code != 200 {
		return nil, fmt.Errorf("%s: HTTP %d", path, code)
	}
	return body, nil
}
func (c *clientOps) ReadConfig(file string) ([]byte, error) {
	if file == "key" {
		return []byte(c.vkey), nil
	}
	if strings.HasSuffix(file, "/latest") {
		return c.latest, nil
	}
	return nil, os.ErrNotExist
}
func (c *clientOps) WriteConfig(file string, old, new []byte) error {
	if strings.HasSuffix(file, "/latest") {
		c.latest = append([]byte(nil), new...)
	}
	return nil
}
func (c *clientOps) ReadCache(file string) ([]byte, error) { return nil, os.ErrNotExist }
func (c *clientOps) WriteCache(file string, data []byte)   {}
func (c *clientOps) Log(msg string)                        {}
func (c *clientOps) SecurityError(msg string)              { panic("security error: " + msg) }

func cstr(b []byte) string {
	var sb strings.Builder
	sb.WriteByte('"')
	col := 0
	for i, c := range b {
		switch {
		case c == '"' || c == '\\':
			sb.WriteByte('\\')
			sb.WriteByte(c)
			col += 2
		case c == '\n':
			sb.WriteString("\\n")
			col = 80
		case c >= 0x20 && c < 0x7f && c != '?':
			sb.WriteByte(c)
			col++
		default:
			fmt.Fprintf(&sb, "\\%03o", c)
			col += 4
		}
		if col >= 80 && i+1 < len(b) {
			sb.WriteString("\"\n\t    \"")
			col = 0
		}
	}
	sb.WriteByte('"')
	return sb.String()
}

var out bytes.Buffer

func p(format string, args ...any) { fmt.Fprintf(&out, format, args...) }

func main() {
	skey, vkey, err := note.GenerateKey(&fixedRand{0x21}, "sum.example.test")
	must(err)
	signer, err := note.NewSigner(skey)
	must(err)
	oskey, ovkey, err := note.GenerateKey(&fixedRand{0x77}, "sum.example.test")
	must(err)
	osigner, err := note.NewSigner(oskey)
	must(err)

	logs := []*db{{signer: signer}, {signer: signer}} // genuine, fork
	for id := int64(0); id < total; id++ {
		logs[0].add(recordText(id, false))
	}
	for id := int64(0); id < forkTotal; id++ {
		logs[1].add(recordText(id, true))
	}

	p("/* Generated by t/unit/testdata/gen_client.go from golang.org/x/mod/sumdb. Do not edit. */\n\n")
	p("#define CV_GENUINE 0\n#define CV_FORK 1\n#define CV_SHARED %d\n\n", shared)
	p("static const char cv_vkey[] = %s;\n", cstr([]byte(vkey)))
	p("/* Same name, another key. */\nstatic const char cv_other_vkey[] = %s;\n\n", cstr([]byte(ovkey)))

	// ---- stages: the signed tree head of each ----
	type stage struct {
		log int
		n   int64
	}
	var all []stage
	for _, n := range stages {
		all = append(all, stage{0, n})
	}
	for _, n := range forkStages {
		all = append(all, stage{1, n})
	}
	p("static const struct cv_stage cv_stages[] = {\n")
	for _, s := range all {
		d := logs[s.log]
		d.n = s.n
		code, latest := d.get("latest")
		if code != 200 {
			panic("latest")
		}
		t := d.tree()
		p("\t{%d, %d, %s,\n\t    %s, %d},\n", s.log, s.n, cstr(t.Hash[:]), cstr(latest), len(latest))
	}
	p("};\n\n")

	// A tree head of genuine stage 300 signed by the other key.
	logs[0].n = 300
	otherNote, err := note.Sign(&note.Note{Text: string(tlog.FormatTree(logs[0].tree()))}, osigner)
	must(err)
	p("/* Genuine tree of 300 signed by cv_other_vkey's key. */\nstatic const char cv_other_note[] = %s;\n\n", cstr(otherNote))

	// ---- lookup answers ----
	ids := []int64{0, 2, 7, 9, 50, 99, 100, 150, 255, 256, 299, 511, 512, 699, 767, 768, 999}
	type answer struct {
		log          int
		n, id        int64
		path, esc    string
		m, v         string
		body         []byte
		zipH1, modH1 string
	}
	var answers []answer
	for _, s := range all {
		d := logs[s.log]
		d.n = s.n
		co := &clientOps{d: d, vkey: vkey}
		cl := sumdb.NewClient(co)
		for _, id := range append(ids, s.n-1) {
			if id >= s.n {
				continue
			}
			dup := false
			for _, a := range answers {
				if a.log == s.log && a.n == s.n && a.id == id {
					dup = true
				}
			}
			if dup {
				continue
			}
			m, v := modVersion(id)
			esc, err := module.EscapePath(m)
			must(err)
			escv, err := module.EscapeVersion(v)
			must(err)
			path := "lookup/" + esc + "@" + escv
			code, body := d.get(path)
			if code != 200 {
				panic(fmt.Sprintf("%s: %d %s", path, code, body))
			}
			// The go command looks up the zip and the go.mod lines apart.
			lines, err := cl.Lookup(m, v)
			must(err)
			modLines, err := cl.Lookup(m, v+"/go.mod")
			must(err)
			lines = append(lines, modLines...)
			a := answer{log: s.log, n: s.n, id: id, path: path, esc: esc + "@" + escv, m: m, v: v, body: body}
			for _, l := range lines {
				f := strings.Fields(l)
				if strings.HasSuffix(f[1], "/go.mod") {
					a.modH1 = f[2]
				} else {
					a.zipH1 = f[2]
				}
			}
			answers = append(answers, a)
		}
	}
	p("static const struct cv_answer cv_answers[] = {\n")
	for _, a := range answers {
		p("\t{%d, %d, %d, %s, %s, %s, %s,\n\t    %s, %s,\n\t    %s,\n\t    %d},\n", a.log, a.n, a.id,
			cstr([]byte(a.m)), cstr([]byte(a.v)), cstr([]byte(a.esc)), cstr([]byte(a.path)),
			cstr([]byte(a.zipH1)), cstr([]byte(a.modH1)), cstr(a.body), len(a.body))
	}
	p("};\n\n")

	// ---- tiles: every hash tile of every stage, as served ----
	type tileVec struct {
		log  int
		path string
		data []byte
	}
	var tiles []tileVec
	seen := map[string]bool{}
	for _, s := range all {
		d := logs[s.log]
		d.n = s.n
		for _, t := range tlog.NewTiles(height, 0, s.n) {
			path := t.Path()
			key := fmt.Sprint(s.log, path)
			if seen[key] {
				continue
			}
			seen[key] = true
			code, body := d.get(path)
			if code != 200 {
				panic(path)
			}
			tiles = append(tiles, tileVec{s.log, path, body})
		}
	}
	sort.SliceStable(tiles, func(i, j int) bool { return tiles[i].log < tiles[j].log })
	p("static const struct cv_tile cv_tiles[] = {\n")
	for _, t := range tiles {
		p("\t{%d, %s, %d,\n\t    %s},\n", t.log, cstr([]byte(t.path)), len(t.data), cstr(t.data))
	}
	p("};\n\n")

	// ---- a forged signature: genuine stage 300, record 5 ----
	logs[0].n = 300
	_, good := logs[0].get("lookup/example.com/mod50@v1.0.0")
	sigAt := bytes.LastIndex(good, []byte(" ")) + 1 + 4 + 10 // a base64 char past the key hash
	forged := append([]byte(nil), good...)
	if forged[sigAt] == 'A' {
		forged[sigAt] = 'B'
	} else {
		forged[sigAt] = 'A'
	}
	p("/* The genuine answer for example.com/mod50@v1.0.0 at stage 300, one base64\n * character of its signature changed. */\n")
	p("static const char cv_forged[] = %s;\n\n", cstr(forged))

	// ---- a bad tile: tile/8/0/000 with one byte flipped ----
	code, tile := logs[0].get("tile/8/0/000")
	if code != 200 {
		panic("tile")
	}
	bad := append([]byte(nil), tile...)
	bad[50*32+7] ^= 0x10
	p("/* tile/8/0/000 of the genuine log with the 8th byte of hash 50 flipped. */\n")
	p("static const char cv_bad_tile[] = %s;\n#define CV_BAD_TILE_LEN %d\n\n", cstr(bad), len(bad))

	// ---- tlog.ParseRecord verdicts ----
	// strict: Go accepts it but modgate refuses it on purpose (the database
	// writes only a canonical record id and ASCII go.sum lines).
	_, signed := logs[0].get("latest")
	rec := recordText(3, false)
	p("static const struct cv_record cv_records[] = {\n")
	pr := func(what string, strict int, msg []byte) {
		id, text, rest, err := tlog.ParseRecord(msg)
		ok := 0
		if err == nil {
			ok = 1
		}
		p("\t{%s, %s,\n\t    %d, %d, %d, %dLL, %d, %d}, /* %v */\n", cstr([]byte(what)), cstr(msg), len(msg), ok,
			strict, id, len(text), len(rest), err)
	}
	pr("genuine answer", 0, answers[3].body)
	pr("record 0", 0, []byte("0\n"+rec+"\n"+string(signed)))
	pr("int64 max", 0, []byte("9223372036854775807\n"+rec+"\n"))
	pr("int64 max + 1", 0, []byte("9223372036854775808\n"+rec+"\n"))
	pr("19 nines", 0, []byte("9999999999999999999\n"+rec+"\n"))
	pr("20 digits", 0, []byte("10000000000000000000\n"+rec+"\n"))
	pr("empty note", 0, []byte("5\n"+rec+"\n"))
	pr("empty text", 0, []byte("5\n\n\nnote"))
	pr("no blank line", 0, []byte("5\n"+rec))
	pr("no newline at all", 0, []byte("5"))
	pr("empty id", 0, []byte("\n"+rec+"\n"))
	pr("empty", 0, []byte(""))
	pr("space in id", 0, []byte(" 5\n"+rec+"\n"))
	pr("hex id", 0, []byte("0x5\n"+rec+"\n"))
	pr("letters id", 0, []byte("five\n"+rec+"\n"))
	pr("negative id", 1, []byte("-5\n"+rec+"\n"))
	pr("minus zero", 1, []byte("-0\n"+rec+"\n"))
	pr("plus sign", 1, []byte("+5\n"+rec+"\n"))
	pr("leading zero", 1, []byte("05\n"+rec+"\n"))
	pr("underscore", 0, []byte("1_0\n"+rec+"\n"))
	pr("tab in text", 0, []byte("5\na\tb\n\n"))
	pr("CR in text", 0, []byte("5\na b\r\n\n"))
	pr("NUL in text", 0, []byte("5\na\x00b\n\n"))
	pr("DEL in text", 1, []byte("5\na\x7fb\n\n"))
	pr("UTF-8 in text", 1, []byte("5\nh\u00e9llo\n\n"))
	pr("invalid UTF-8 in text", 0, []byte("5\na\xffb\n\n"))
	pr("text without blank line but CRLF", 0, []byte("5\nabc\r\n\r\nnote"))
	pr("three newlines", 0, []byte("5\nabc\n\n\nnote"))
	pr("blank line at once", 0, []byte("5\n\nabc\n\n"))
	pr("CR before id newline", 0, []byte("5\r\nabc\n\n"))
	p("};\n")

	must(os.WriteFile("unit/testdata/client_vectors.inc", out.Bytes(), 0o644))

	// ---- fuzz_client seed corpus (see t/fuzz/fuzz_client.c for the format) ----
	dir := "fuzz/corpus/fuzz_client"
	must(os.MkdirAll(dir, 0o755))
	seed := func(name string, kept byte, steps ...[]byte) {
		b := []byte{kept}
		for _, s := range steps {
			b = append(b, s...)
		}
		must(os.WriteFile(filepath.Join(dir, name), b, 0o644))
	}
	// A step: answer index (2 bytes), the answer's bytes (mode 0: as given,
	// length-prefixed), then the count and modes of the tiles answered
	// ('g': the recorded tile; the tiles not counted get it too).
	step := func(idx int, body []byte, tileModes string) []byte {
		b := []byte{byte(idx >> 8), byte(idx), 0, byte(len(body) >> 8), byte(len(body))}
		b = append(b, body...)
		b = append(b, byte(len(tileModes)))
		return append(b, []byte(tileModes)...)
	}
	find := func(log int, n, id int64) int {
		for i, a := range answers {
			if a.log == log && a.n == n && a.id == id {
				return i
			}
		}
		panic("no answer")
	}
	i1, i2, i3 := find(0, 3, 2), find(0, 300, 256), find(0, 1000, 999)
	// The kept byte k is the note of stage k-1 (cv_stages: the genuine
	// stages, then the fork's).
	seed("small", 0, step(i1, answers[i1].body, "c"))
	seed("grow", 0, step(i1, answers[i1].body, ""), step(i2, answers[i2].body, "gn"),
		step(i2, answers[i2].body, "u"), step(i3, answers[i3].body, "xg"))
	f := find(1, 1000, 512)
	seed("fork", 6, step(f, answers[f].body, "")) // kept: genuine 300
	seed("forged", 0, step(find(0, 300, 50), forged, ""))
	seed("older", 8, step(i2, answers[i2].body, ""), step(i1, answers[i1].body, "o")) // kept: genuine 1000
	seed("badtile", 0, step(find(0, 300, 50), answers[find(0, 300, 50)].body, "\xff\x20\x00"+string(bad)))
	seed("notfound", 0, []byte{0, 0, 1, 0, 0, 2})
}
