package integration

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testCA is a throwaway certificate authority; its servers' certificates
// are for 127.0.0.1 (an IP SAN), as the go command checks.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
	File string // the CA certificate as PEM, for SSL_CERT_FILE
	Pool *x509.CertPool
}

func newCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1000),
		Subject:               pkix.Name{CommonName: "modgate test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ca := &testCA{cert: cert, key: key, File: filepath.Join(t.TempDir(), "ca.pem"), Pool: x509.NewCertPool()}
	ca.Pool.AddCert(cert)
	writePEM(t, ca.File, "CERTIFICATE", der)
	return ca
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// issue writes a server certificate for 127.0.0.1 with the serial given to
// certFile and its key to keyFile, over whatever they held (a renewal in
// place): ECDSA P-256, or RSA 2048 when rsaKey.
// certExpiry is the notAfter of the certificate of serial: a day and
// serial hours from now, to the second, so each renewal's differs.
func certExpiry(serial int64) time.Time {
	return time.Now().Add(24*time.Hour + time.Duration(serial)*time.Hour).Truncate(time.Second)
}

// expiryMetric is modgate_tls_certificate_expiry_timestamp_seconds.
func expiryMetric(t *testing.T, m *modgate) int64 {
	t.Helper()
	var v int64
	for _, l := range strings.Split(metricsText(t, m), "\n") {
		if rest, ok := strings.CutPrefix(l, "modgate_tls_certificate_expiry_timestamp_seconds "); ok {
			v, _ = strconv.ParseInt(rest, 10, 64)
		}
	}
	return v
}

func (ca *testCA) issue(t *testing.T, serial int64, certFile, keyFile string, rsaKey bool) {
	t.Helper()
	var key crypto.Signer
	var err error
	if rsaKey {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     certExpiry(serial),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "PRIVATE KEY", pkcs8)
}

// tlsModgate starts modgate serving TLS with a certificate of serial 1 from
// a new CA; it returns modgate, the CA and the two files.
func tlsModgate(t *testing.T, o options) (*modgate, *testCA, string, string) {
	t.Helper()
	ca := newCA(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "fullchain.pem"), filepath.Join(dir, "privkey.pem")
	ca.issue(t, 1, certFile, keyFile, false)
	o.server += "tls_cert = " + certFile + "\ntls_key = " + keyFile + "\n"
	return startModgate(t, o), ca, certFile, keyFile
}

// tlsClient trusts ca alone and keeps one connection per host.
func tlsClient(ca *testCA) *http.Client {
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool}, MaxConnsPerHost: 1}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// servedSerial opens a new TLS connection to m and returns the serial
// number of the certificate it was shown, and its key's algorithm.
func servedSerial(t *testing.T, m *modgate, ca *testCA) (int64, x509.PublicKeyAlgorithm) {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", strings.TrimPrefix(m.TLS, "https://"), &tls.Config{RootCAs: ca.Pool})
	if err != nil {
		t.Fatalf("TLS handshake with modgate: %v", err)
	}
	defer c.Close()
	leaf := c.ConnectionState().PeerCertificates[0]
	return leaf.SerialNumber.Int64(), leaf.PublicKeyAlgorithm
}

// The go command downloads through https://127.0.0.1:PORT, trusting the
// test CA through SSL_CERT_FILE, and gets the upstream's bytes: a small
// module and the 2 MiB zip, which modgate sends as a file segment (mapped
// into the TLS stream, since sendfile cannot encrypt). Without the CA the
// go command refuses modgate's certificate: the check is real. The same
// downloads through a plain modgate give the times to compare.
func TestTLSGoDownload(t *testing.T) {
	u := newUpstream(t)
	m, ca, _, _ := tlsModgate(t, options{proxy: u.URL()})
	plain := startModgate(t, options{proxy: u.URL()})
	if !strings.Contains(m.Log(), "listening on https://127.0.0.1:") {
		t.Errorf("the start line does not say https:\n%s", m.Log())
	}

	// (-json puts the error in its output.)
	out, errs, err := runGo(t, goEnv(t, m.TLS), t.TempDir(), "mod", "download", "-json", "example.com/fix/a@v1.0.0")
	if err == nil || !strings.Contains(out+errs, "certificate signed by unknown authority") {
		t.Fatalf("without the CA the go command should refuse the certificate; err %v, output:\n%s%s", err, out, errs)
	}

	for _, target := range []string{"example.com/fix/a@v1.0.0", "example.com/fix/big@v1.0.0"} {
		path, version, _ := strings.Cut(target, "@")
		want := fixtureModule(t, u, path, version)
		for _, run := range []struct {
			name string
			env  []string
		}{
			{"tls, miss", append(goEnv(t, m.TLS), "SSL_CERT_FILE="+ca.File)},
			{"tls, hit", append(goEnv(t, m.TLS), "SSL_CERT_FILE="+ca.File)},
			{"plain, miss", goEnv(t, plain.URL)},
			{"plain, hit", goEnv(t, plain.URL)},
		} {
			start := time.Now()
			d := download(t, run.env, target)
			took := time.Since(start)
			if d.Sum != want.Sum || d.GoModSum != want.GoModSum {
				t.Errorf("%s %s: go computed %s %s, fixture has %s %s", run.name, target,
					d.Sum, d.GoModSum, want.Sum, want.GoModSum)
			}
			zip, err := os.ReadFile(d.Zip)
			if err != nil || !bytes.Equal(zip, want.Zip) {
				t.Errorf("%s %s: the zip differs from the upstream's (%v)", run.name, target, err)
			}
			t.Logf("%-12s %s (%d bytes zip): go mod download %v", run.name, target, len(zip),
				took.Round(time.Millisecond))
		}
	}
}

// Plain HTTP to the TLS port fails at once, with no HTTP answer, and
// leaves modgate serving: the connections are closed and counted down. A
// TLS 1.1 client fails too.
func TestTLSPlainHTTPRefused(t *testing.T) {
	m, ca, _, _ := tlsModgate(t, options{})
	addr := strings.TrimPrefix(m.TLS, "https://")
	for i := 0; i < 20; i++ {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
		got, err := io.ReadAll(c)
		c.Close()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("plain request %d: no close within 5 s (read %q)", i, got)
		}
		if bytes.Contains(got, []byte("HTTP/")) {
			t.Fatalf("plain request %d: got an HTTP answer over the TLS port: %q", i, got)
		}
	}
	// The go command's way too: its HTTP client reports an error.
	if resp, err := client.Get(m.URL + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatalf("plain GET to the TLS port answered %s", resp.Status)
	}
	// TLS 1.1 is refused; the go command's default client gets TLS 1.3,
	// and is never asked for a client certificate.
	old := &tls.Config{RootCAs: ca.Pool, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}
	if c, err := tls.Dial("tcp", addr, old); err == nil {
		c.Close()
		t.Errorf("a TLS 1.1 client got a connection")
	}
	asked := false
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			asked = true
			return &tls.Certificate{}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	if v := c.ConnectionState().Version; v != tls.VersionTLS13 || asked {
		t.Errorf("TLS version %x, asked for a client certificate %v; want TLS 1.3, false", v, asked)
	}
	c.Close()
	code, _, body := doWith(t, tlsClient(ca), "GET", m.TLS+"/healthz")
	if code != 200 {
		t.Fatalf("GET /healthz over TLS after the plain attempts: %d %s", code, body)
	}
	// Only the admin probe's own connection (plain HTTP, another port) is
	// left: every refused one was freed.
	eventually(t, "the refused connections to close", func() bool {
		_, _, metrics := get(t, "http://"+m.Admin+"/metrics")
		return strings.Contains(string(metrics), "\nmodgate_client_connections 0\n") ||
			strings.Contains(string(metrics), "\nmodgate_client_connections 1\n")
	})
}

// getOnConn GETs url with c and returns the serial of the certificate of
// the connection it went over, and whether that connection was reused.
func getOnConn(t *testing.T, c *http.Client, url string) (int64, bool) {
	t.Helper()
	var reused bool
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) { reused = info.Reused },
	}))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return resp.TLS.PeerCertificates[0].SerialNumber.Int64(), reused
}

// Certificate rotation by reload: certbot's way, new files at the same
// paths, then SIGHUP. New connections see the new certificate (even when
// the key type changes, where a context that kept one certificate per type
// would go on offering the old one); a keep-alive
// connection opened before keeps working with the certificate it had. A
// reload with an unchanged pair does not name TLS as changed. A broken key
// or one of another pair refuses the reload, naming the file, and the old
// certificate stays; fixed files then reload.
func TestTLSRotation(t *testing.T) {
	u := newUpstream(t)
	m, ca, certFile, keyFile := tlsModgate(t, options{proxy: u.URL()})
	kept := tlsClient(ca)
	zipURL := m.TLS + "/example.com/fix/big/@v/v1.0.0.zip"
	if serial, _ := getOnConn(t, kept, zipURL); serial != 1 {
		t.Fatalf("first connection: serial %d, want 1", serial)
	}

	ca.issue(t, 2, certFile, keyFile, true)
	line := hup(t, m)
	if !strings.Contains(line, `"result":"accepted"`) || !strings.Contains(line, `"changed":"[server] tls"`) {
		t.Fatalf("reload after renewal: %s", line)
	}
	if serial, _ := servedSerial(t, m, ca); serial != 2 {
		t.Errorf("new connection after the renewal: serial %d, want 2", serial)
	}
	serial, reused := getOnConn(t, kept, zipURL)
	if !reused || serial != 1 {
		t.Errorf("keep-alive connection from before the reload: reused %v, serial %d; want true, 1", reused, serial)
	}

	line = hup(t, m)
	if !strings.Contains(line, `"result":"accepted"`) || !strings.Contains(line, `"changed":"nothing"`) {
		t.Errorf("reload with the same pair: %s", line)
	}

	// Back to ECDSA. Go clients list RSA-PSS first, and OpenSSL follows
	// the client's order: a leftover RSA certificate would be chosen.
	ca.issue(t, 3, certFile, keyFile, false)
	if line = hup(t, m); !strings.Contains(line, `"changed":"[server] tls"`) {
		t.Fatalf("reload after an ECDSA renewal: %s", line)
	}
	if serial, alg := servedSerial(t, m, ca); serial != 3 || alg != x509.ECDSA {
		t.Errorf("after the RSA to ECDSA renewal: serial %d %v, want 3 ECDSA", serial, alg)
	}

	// Broken: a key file that is not a key, then a key of another pair.
	if err := os.WriteFile(keyFile, []byte("-----BEGIN PRIVATE KEY-----\nbroken\n-----END PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	line = hup(t, m)
	if !strings.Contains(line, `"result":"refused"`) || !strings.Contains(line, "tls_key: "+keyFile+": no PEM private key") {
		t.Errorf("reload with a broken key: %s", line)
	}
	if serial, _ := servedSerial(t, m, ca); serial != 3 {
		t.Errorf("after the refused reload: serial %d, want the old 3", serial)
	}
	other := t.TempDir()
	ca.issue(t, 4, filepath.Join(other, "c.pem"), keyFile, false)
	line = hup(t, m)
	if !strings.Contains(line, `"result":"refused"`) ||
		!strings.Contains(line, keyFile+": the private key does not belong to the certificate in "+certFile) {
		t.Errorf("reload with another pair's key: %s", line)
	}
	if serial, _ := servedSerial(t, m, ca); serial != 3 {
		t.Errorf("after the refused reload: serial %d, want the old 3", serial)
	}

	want := certExpiry(3).Unix()
	if got := expiryMetric(t, m); got < want-60 || got > want {
		t.Errorf("expiry metric after the refused reloads: %d, want serial 3's, %d", got, want)
	}
	ca.issue(t, 5, certFile, keyFile, false)
	if line = hup(t, m); !strings.Contains(line, `"result":"accepted"`) {
		t.Fatalf("reload with the pair fixed: %s", line)
	}
	// The certificate served now: 2 hours later than serial 3's.
	want = certExpiry(5).Unix()
	if got := expiryMetric(t, m); got < want-60 || got > want {
		t.Errorf("expiry metric after the renewal: %d, want serial 5's, %d", got, want)
	}
	if _, _, page := get(t, "http://"+m.Admin+"/"); !strings.Contains(string(page), "TLS certificate valid until "+time.Unix(expiryMetric(t, m), 0).UTC().Format("2006-01-02 15:04:05")+" UTC (in 1 day)") {
		t.Errorf("the status page does not show the expiry")
	}
	if serial, _ := servedSerial(t, m, ca); serial != 5 {
		t.Errorf("after the fixed reload: serial %d, want 5", serial)
	}
	// The zip over the connection kept since the start, one last time.
	if serial, reused := getOnConn(t, kept, zipURL); !reused || serial != 1 {
		t.Errorf("the first connection at the end: reused %v, serial %d", reused, serial)
	}

	// Turning TLS off is a restart.
	m.writeConfig(t, options{proxy: u.URL()})
	if line = hup(t, m); !strings.Contains(line, `"result":"refused"`) ||
		!strings.Contains(line, "needs a restart: [server] tls on -> off") {
		t.Errorf("reload without TLS: %s", line)
	}
}

// modgate -t refuses a TLS configuration that cannot work, with the line
// and the reason; and serve refuses to start with it.
func TestTLSConfigErrors(t *testing.T) {
	ca := newCA(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	ca.issue(t, 1, certFile, keyFile, false)
	otherKey := filepath.Join(dir, "other.pem")
	ca.issue(t, 2, filepath.Join(dir, "other-c.pem"), otherKey, false)

	check := func(server string) (string, error) {
		conf := filepath.Join(t.TempDir(), "modgate.ini")
		if err := os.WriteFile(conf, []byte("[server]\nlisten = 127.0.0.1:1\n"+server), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(binary(t), "-t", "-c", conf)
		cmd.Env = cleanEnv()
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := check("tls_cert = " + certFile + "\ntls_key = " + keyFile + "\n")
	if err != nil || !strings.Contains(out, "\ntls_cert = "+certFile+"\ntls_key = "+keyFile+"\n") {
		t.Fatalf("a good pair: %v\n%s", err, out)
	}
	for _, c := range []struct{ server, want string }{
		{"tls_cert = " + certFile + "\n",
			"modgate.ini:3: [server] tls_cert: tls_key is not set (TLS needs both, or neither)"},
		{"tls_key = " + keyFile + "\n",
			"modgate.ini:3: [server] tls_key: tls_cert is not set (TLS needs both, or neither)"},
		{"tls_cert = c.pem\ntls_key = " + keyFile + "\n",
			`modgate.ini:3: [server] tls_cert: "c.pem": write an absolute path`},
		{"tls_cert = " + certFile + "\ntls_key = " + otherKey + "\n",
			"modgate.ini:4: [server] tls_key: " + otherKey + ": the private key does not belong to the certificate in " +
				certFile + " (OpenSSL: key values mismatch)"},
		{"tls_cert = " + filepath.Join(dir, "none.pem") + "\ntls_key = " + keyFile + "\n",
			"modgate.ini:3: [server] tls_cert: " + filepath.Join(dir, "none.pem") +
				": cannot read the certificate: No such file or directory"},
		{"tls_cert = " + keyFile + "\ntls_key = " + keyFile + "\n",
			"modgate.ini:3: [server] tls_cert: " + keyFile + ": no PEM certificate in the file"},
	} {
		out, err := check(c.server)
		var exit *exec.ExitError
		if !errors.As(err, &exit) || !strings.Contains(out, c.want) {
			t.Errorf("%q: %v, output:\n%s\nwant a failure with %q", c.server, err, out, c.want)
		}
	}

	// serve: the same refusal, before listening.
	conf := filepath.Join(t.TempDir(), "modgate.ini")
	ini := fmt.Sprintf("[server]\nlisten = 127.0.0.1:%d\ncache = %s\ntls_cert = %s\ntls_key = %s\n"+
		"[admin]\nlisten = off\n", freePort(t), filepath.Join(t.TempDir(), "cache"), certFile, otherKey)
	if err := os.WriteFile(conf, []byte(ini), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary(t), "serve", "-c", conf)
	cmd.Env = cleanEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(stderr.String(), "the private key does not belong to the certificate") {
			t.Errorf("serve with a mismatched key: %v, stderr:\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Errorf("serve with a mismatched key kept running")
	}
}

// Only serve and -t read the key: the other commands run as operators
// who often cannot read it (here: it is gone), and `modgate warm` goes
// through https when TLS is on, trusting $SSL_CERT_FILE.
func TestTLSKeyOnlyForServing(t *testing.T) {
	u := newUpstream(t)
	m, ca, _, _ := tlsModgate(t, options{proxy: u.URL()})
	conf, err := os.ReadFile(m.conf)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(conf), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "tls_key = ") {
			lines[i] = "tls_key = " + filepath.Join(t.TempDir(), "unreadable.pem")
		}
	}
	other := filepath.Join(t.TempDir(), "operator.ini")
	if err := os.WriteFile(other, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := runModgate(t, "upstream", "status", "-c", other); err != nil || !strings.Contains(out, u.URL()) {
		t.Errorf("modgate upstream status with the key out of reach: %v\n%s", err, out)
	}
	if out, err := runModgate(t, "-t", "-c", other); err == nil || !strings.Contains(out, "unreadable.pem") {
		t.Errorf("modgate -t with the key out of reach: %v\n%s", err, out)
	}

	gosum := filepath.Join(t.TempDir(), "go.sum")
	mv := fixtureModule(t, u, "example.com/fix/a", "v1.0.0")
	if err := os.WriteFile(gosum, []byte("example.com/fix/a v1.0.0 "+mv.Sum+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary(t), "warm", "-c", other, gosum)
	cmd.Env = append(cleanEnv(), "SSL_CERT_FILE="+ca.File)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "1 fetched") {
		t.Errorf("modgate warm over https: %v\n%s", err, out)
	}
}
