/*
 * Unit tests for proxy/tls: reading and checking a certificate and key
 * (every refusal names its file and says why), the fingerprint, and the
 * listener's context made, replaced by a reload and kept when a reload
 * fails. Pairs are made by the test (tlsgen.h) in a scratch folder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <event2/event.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proxy/tls.h"
#include "tlsgen.h"

static char dir[] = "/tmp/modgate-test-tls-XXXXXX";

/* dir/name, in one of a few rotating buffers. */
static const char *at(const char *name)
{
	static char path[8][256];
	static int next;
	char *p = path[next++ % 8];

	snprintf(p, 256, "%s/%s", dir, name);
	return p;
}

static void put(const char *name, const char *text)
{
	FILE *f = fopen(at(name), "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	(void)state;
	return nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static int is_zero(const unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

/* The check fails, on the file it should, with want in the message. */
static void assert_refused(const char *cert, const char *key, enum tls_fault want_fault,
                           const char *want)
{
	char err[1024];
	enum tls_fault fault = want_fault == TLS_FAULT_KEY ? TLS_FAULT_CERT : TLS_FAULT_KEY;

	assert_int_equal(tls_pair_check(cert, key, NULL, &fault, err, sizeof(err)), -1);
	if (!strstr(err, want))
		fail_msg("\"%s\" not in \"%s\"", want, err);
	assert_int_equal(fault, want_fault);
}

static void test_pair_ok(void **state)
{
	unsigned char fp1[TLS_FINGERPRINT_LEN], fp2[TLS_FINGERPRINT_LEN], fp3[TLS_FINGERPRINT_LEN];
	char err[1024];
	EVP_PKEY *ca_key, *key;
	X509 *ca, *leaf;

	(void)state;
	tlsgen_pair(at("a.crt"), at("a.key"), 1, 0);
	assert_int_equal(tls_pair_check(at("a.crt"), at("a.key"), fp1, NULL, err, sizeof(err)), 0);
	assert_false(is_zero(fp1, sizeof(fp1)));
	/* The same files, the same fingerprint; a renewal in place, another. */
	assert_int_equal(tls_pair_check(at("a.crt"), at("a.key"), fp2, NULL, err, sizeof(err)), 0);
	assert_memory_equal(fp1, fp2, sizeof(fp1));
	tlsgen_pair(at("a.crt"), at("a.key"), 2, 0);
	assert_int_equal(tls_pair_check(at("a.crt"), at("a.key"), fp2, NULL, err, sizeof(err)), 0);
	assert_memory_not_equal(fp1, fp2, sizeof(fp1));

	/* RSA too; and certificate and key in one file. */
	tlsgen_pair(at("r.crt"), at("r.key"), 3, 1);
	assert_int_equal(tls_pair_check(at("r.crt"), at("r.key"), NULL, NULL, err, sizeof(err)), 0);
	key = tlsgen_key(0);
	leaf = tlsgen_cert(key, 4, NULL, NULL);
	tlsgen_write(at("both.pem"), "w", leaf, NULL, key);
	assert_int_equal(
	    tls_pair_check(at("both.pem"), at("both.pem"), NULL, NULL, err, sizeof(err)), 0);
	X509_free(leaf);
	EVP_PKEY_free(key);

	/* A chain: the leaf, then its CA; the CA counts in the fingerprint. */
	ca_key = tlsgen_key(0);
	ca = tlsgen_cert(ca_key, 10, NULL, NULL);
	key = tlsgen_key(0);
	leaf = tlsgen_cert(key, 11, ca, ca_key);
	tlsgen_write(at("chain.crt"), "w", leaf, ca, NULL);
	tlsgen_write(at("leaf.crt"), "w", leaf, NULL, NULL);
	tlsgen_write(at("chain.key"), "w", NULL, NULL, key);
	assert_int_equal(
	    tls_pair_check(at("chain.crt"), at("chain.key"), fp1, NULL, err, sizeof(err)), 0);
	assert_int_equal(
	    tls_pair_check(at("leaf.crt"), at("chain.key"), fp3, NULL, err, sizeof(err)), 0);
	assert_memory_not_equal(fp1, fp3, sizeof(fp1));
	X509_free(leaf);
	X509_free(ca);
	EVP_PKEY_free(key);
	EVP_PKEY_free(ca_key);
}

static void test_pair_refused(void **state)
{
	EVP_PKEY *key;
	FILE *f;
	char text[8192];
	size_t n;

	(void)state;
	tlsgen_pair(at("b.crt"), at("b.key"), 1, 0);
	tlsgen_pair(at("other.crt"), at("other.key"), 2, 0);

	assert_refused(at("none.crt"), at("b.key"), TLS_FAULT_CERT,
	               "/none.crt: cannot read the certificate: No such file or directory");
	assert_refused(dir, at("b.key"), TLS_FAULT_CERT, ": the certificate is not a regular file");
	put("junk.crt", "not a certificate\n");
	assert_refused(at("junk.crt"), at("b.key"), TLS_FAULT_CERT,
	               "/junk.crt: no PEM certificate in the file (OpenSSL: no start line)");
	/* A key where the certificate should be. */
	assert_refused(at("b.key"), at("b.key"), TLS_FAULT_CERT, "/b.key: no PEM certificate");

	assert_refused(at("b.crt"), at("none.key"), TLS_FAULT_KEY,
	               "/none.key: cannot read the private key: No such file or directory");
	put("junk.key", "not a key\n");
	assert_refused(at("b.crt"), at("junk.key"), TLS_FAULT_KEY,
	               "/junk.key: no PEM private key in the file (OpenSSL: ");
	assert_refused(at("b.crt"), at("other.key"), TLS_FAULT_KEY,
	               "/other.key: the private key does not belong to the certificate in ");

	/* An encrypted key: refused, never a passphrase prompt. */
	key = tlsgen_key(0);
	f = fopen(at("enc.key"), "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_PrivateKey(f, key, EVP_aes_128_cbc(), (unsigned char *)"secret",
	                                      6, NULL, NULL),
	                 1);
	fclose(f);
	EVP_PKEY_free(key);
	assert_refused(at("b.crt"), at("enc.key"), TLS_FAULT_KEY,
	               "/enc.key: the private key is encrypted, and modgate cannot ask for its "
	               "passphrase");

	/* A chain whose second certificate is cut short. */
	f = fopen(at("b.crt"), "r");
	assert_non_null(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	f = fopen(at("cut.crt"), "w");
	assert_non_null(f);
	fputs(text, f);
	fwrite(text, 1, n / 2, f);
	fputs("\n-----END CERTIFICATE-----\n", f);
	fclose(f);
	assert_refused(at("cut.crt"), at("b.key"), TLS_FAULT_CERT,
	               "/cut.crt: certificate 2 of the chain does not parse");
}

/* How many certificates ctx holds (one per key type at most). */
static int certs_in(SSL_CTX *ctx)
{
	int n = 0;

	if (SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_FIRST) != 1)
		return 0;
	do
		n++;
	while (SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_NEXT) == 1);
	return n;
}

static long serial_of(SSL_CTX *ctx)
{
	X509 *x = SSL_CTX_get0_certificate(ctx);

	assert_non_null(x);
	return ASN1_INTEGER_get(X509_get0_serialNumber(x));
}

static void test_listener(void **state)
{
	unsigned char fp1[TLS_FINGERPRINT_LEN], fp2[TLS_FINGERPRINT_LEN];
	struct event_base *base = event_base_new();
	evhtp_t *htp = evhtp_new(base, NULL);
	struct tls_listener *l;
	SSL_CTX *first;
	char err[1024];

	(void)state;
	assert_non_null(htp);
	tlsgen_pair(at("l.crt"), at("l.key"), 21, 0);
	tlsgen_pair(at("m.crt"), at("m.key"), 22, 0);

	/* A pair that does not load makes no listener, and leaves htp plain. */
	assert_null(tls_listener_new(htp, at("l.crt"), at("m.key"), err, sizeof(err)));
	assert_non_null(strstr(err, "does not belong"));
	assert_null(htp->ssl_ctx);

	l = tls_listener_new(htp, at("l.crt"), at("l.key"), err, sizeof(err));
	if (!l)
		fail_msg("%s", err);
	first = htp->ssl_ctx;
	assert_non_null(first);
	assert_int_equal(serial_of(first), 21);
	assert_int_equal(certs_in(first), 1);
	assert_int_equal(SSL_CTX_get_min_proto_version(first), TLS1_2_VERSION);
	assert_int_equal(SSL_CTX_get_verify_mode(first), SSL_VERIFY_NONE);
	/* tlsgen makes certificates valid for a day from now */
	if (labs((long)(tls_listener_not_after(l) - (time(NULL) + 86400))) > 60)
		fail_msg("not after %lld, now %lld", (long long)tls_listener_not_after(l),
		         (long long)time(NULL));

	/* A reload with a broken pair: the running context stays as it was. */
	assert_int_equal(tls_listener_prepare(l, at("l.crt"), at("m.key"), fp1, err, sizeof(err)),
	                 -1);
	assert_non_null(strstr(err, "does not belong"));
	tls_listener_abort(l);
	assert_ptr_equal(htp->ssl_ctx, first);
	assert_int_equal(serial_of(first), 21);

	/* Prepared then abandoned (a later step of the reload failed). */
	assert_int_equal(tls_listener_prepare(l, at("m.crt"), at("m.key"), fp1, err, sizeof(err)),
	                 0);
	assert_ptr_equal(htp->ssl_ctx, first);
	tls_listener_abort(l);
	assert_ptr_equal(htp->ssl_ctx, first);

	/* Renewed in place, from ECDSA to RSA: after the commit the context
	 * holds the new certificate alone, not the old one beside it. */
	tlsgen_pair(at("l.crt"), at("l.key"), 23, 1);
	assert_int_equal(tls_listener_prepare(l, at("l.crt"), at("l.key"), fp1, err, sizeof(err)),
	                 0);
	assert_int_equal(tls_pair_check(at("l.crt"), at("l.key"), fp2, NULL, err, sizeof(err)), 0);
	assert_memory_equal(fp1, fp2, sizeof(fp1));
	assert_ptr_equal(htp->ssl_ctx, first);
	tls_listener_commit(l);
	assert_ptr_not_equal(htp->ssl_ctx, first);
	assert_true(tls_listener_not_after(l) > time(NULL));
	assert_int_equal(serial_of(htp->ssl_ctx), 23);
	assert_int_equal(certs_in(htp->ssl_ctx), 1);
	assert_int_equal(SSL_CTX_get_min_proto_version(htp->ssl_ctx), TLS1_2_VERSION);
	/* A commit with nothing prepared changes nothing. */
	first = htp->ssl_ctx;
	tls_listener_commit(l);
	assert_ptr_equal(htp->ssl_ctx, first);

	/* Left prepared at the end: freed with the listener. */
	assert_int_equal(tls_listener_prepare(l, at("m.crt"), at("m.key"), NULL, err, sizeof(err)),
	                 0);
	evhtp_free(htp);
	tls_listener_free(l);
	tls_listener_free(NULL);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pair_ok),
	    cmocka_unit_test(test_pair_refused),
	    cmocka_unit_test(test_listener),
	};

	return cmocka_run_group_tests_name("tls", tests, setup, teardown);
}
