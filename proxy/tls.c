/*
 * tls — the client listener's certificate and key.
 *
 * Why a new context at each reload rather than new files loaded into the
 * running one: SSL_CTX_use_certificate* keeps one certificate per key type
 * (RSA, ECDSA, ...) and has no call to drop one, so a renewal that changes
 * the key type (certbot 2 moved from RSA to ECDSA) would leave the old
 * certificate in the context, still chosen by clients that prefer it; and
 * loading a certificate whose key then fails to load leaves the context
 * with no usable key. A context made whole beside the running one, and
 * swapped in, has neither problem.
 */
#include "proxy/tls.h"

#include "proxy/errbuf.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* One pair as read from its files. */
struct pair {
	X509 *leaf;
	STACK_OF(X509) * chain; /* the certificates after the first; may be empty */
	EVP_PKEY *key;
};

struct tls_listener {
	evhtp_t *htp;
	/* libevhtp keeps a pointer to it (htp->ssl_cfg) for as long as htp. */
	evhtp_ssl_cfg_t cfg;
	SSL_CTX *next; /* prepared by a reload, not yet installed */
	/* The leaf certificate's notAfter, installed and prepared (Unix time,
	 * 0 if unreadable). */
	time_t not_after, next_not_after;
};

/* libevhtp's evhtp_ssl_init loads pemfile and privfile itself, ignoring
 * failures, and OpenSSL would ask for an encrypted key's passphrase on the
 * terminal: it gets a name that opens nothing, and the pair read and
 * checked here is installed over it. */
static char no_file[] = "";

/* OpenSSL's reason for the last failure, with the error queue emptied: the
 * queue is the thread's, and libcurl's OpenSSL calls share it. */
static const char *ssl_reason(char *buf, size_t len)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	if (r)
		snprintf(buf, len, "%s", r);
	else if (e)
		snprintf(buf, len, "error %lx", e);
	else
		snprintf(buf, len, "no reason given");
	ERR_clear_error();
	return buf;
}

/* Refuses to decrypt: a key that needs a passphrase sets *asked. */
static int no_passphrase(char *buf, int size, int rwflag, void *asked)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	*(int *)asked = 1;
	return -1;
}

static BIO *open_pem(const char *path, const char *what, char *err, size_t errlen)
{
	struct stat st;
	FILE *f = fopen(path, "r");
	BIO *b;

	if (!f) {
		errbuf_set(err, errlen, "%s: cannot read the %s: %s", path, what, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
		errbuf_set(err, errlen, "%s: the %s is not a regular file", path, what);
		fclose(f);
		return NULL;
	}
	b = BIO_new_fp(f, BIO_CLOSE);
	if (!b) {
		errbuf_set(err, errlen, "%s: out of memory", path);
		fclose(f);
	}
	return b;
}

static void pair_free(struct pair *p)
{
	X509_free(p->leaf);
	p->leaf = NULL;
	sk_X509_pop_free(p->chain, X509_free);
	p->chain = NULL;
	EVP_PKEY_free(p->key);
	p->key = NULL;
}

/* Reads the chain at cert and the key at key into p, as
 * SSL_CTX_use_certificate_chain_file and SSL_CTX_use_PrivateKey_file
 * would, and checks that they belong together. 0, or -1 with err and
 * *fault (p is then empty). */
static int read_pair(const char *cert, const char *key, struct pair *p, enum tls_fault *fault,
                     char *err, size_t errlen)
{
	char why[256];
	unsigned long e;
	int asked = 0;
	X509 *x;
	BIO *b;

	memset(p, 0, sizeof(*p));
	ERR_clear_error();
	*fault = TLS_FAULT_CERT;
	b = open_pem(cert, "certificate", err, errlen);
	if (!b)
		return -1;
	p->leaf = PEM_read_bio_X509_AUX(b, NULL, no_passphrase, &asked);
	if (!p->leaf) {
		errbuf_set(err, errlen, "%s: no PEM certificate in the file (OpenSSL: %s)", cert,
		           ssl_reason(why, sizeof(why)));
		goto fail;
	}
	p->chain = sk_X509_new_null();
	if (!p->chain) {
		errbuf_set(err, errlen, "%s: out of memory", cert);
		goto fail;
	}
	while ((x = PEM_read_bio_X509(b, NULL, no_passphrase, &asked)) != NULL) {
		if (!sk_X509_push(p->chain, x)) {
			X509_free(x);
			errbuf_set(err, errlen, "%s: out of memory", cert);
			goto fail;
		}
	}
	/* The end of the file reads as "no start line"; anything else is a
	 * certificate of the chain that does not parse. */
	e = ERR_peek_last_error();
	if (e && !(ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)) {
		errbuf_set(err, errlen,
		           "%s: certificate %d of the chain does not parse (OpenSSL: %s)", cert,
		           sk_X509_num(p->chain) + 2, ssl_reason(why, sizeof(why)));
		goto fail;
	}
	ERR_clear_error();
	BIO_free(b);

	*fault = TLS_FAULT_KEY;
	b = open_pem(key, "private key", err, errlen);
	if (!b)
		goto fail;
	p->key = PEM_read_bio_PrivateKey(b, NULL, no_passphrase, &asked);
	if (!p->key) {
		if (asked)
			errbuf_set(
			    err, errlen,
			    "%s: the private key is encrypted, and modgate cannot ask for its "
			    "passphrase (store it unencrypted, readable by modgate alone)",
			    key);
		else
			errbuf_set(err, errlen, "%s: no PEM private key in the file (OpenSSL: %s)",
			           key, ssl_reason(why, sizeof(why)));
		ERR_clear_error();
		goto fail;
	}
	if (X509_check_private_key(p->leaf, p->key) != 1) {
		errbuf_set(err, errlen,
		           "%s: the private key does not belong to the certificate in %s (OpenSSL: "
		           "%s)",
		           key, cert, ssl_reason(why, sizeof(why)));
		goto fail;
	}
	BIO_free(b);
	return 0;
fail:
	BIO_free(b);
	pair_free(p);
	return -1;
}

/* Installs p in ctx as its one certificate, chain and key, checked by
 * OpenSSL (which also refuses, say, a key too small for its security
 * level). 0, or -1 with err naming cert. */
static int use_pair(SSL_CTX *ctx, const struct pair *p, const char *cert, char *err, size_t errlen)
{
	char why[256];

	if (SSL_CTX_use_cert_and_key(ctx, p->leaf, p->key, p->chain, 1) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		errbuf_set(err, errlen, "%s: OpenSSL refuses the pair for a server (%s)", cert,
		           ssl_reason(why, sizeof(why)));
		return -1;
	}
	return 0;
}

static int fingerprint(const struct pair *p, unsigned char *fp)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1;

	for (int i = -1; ok && i < sk_X509_num(p->chain); i++) {
		unsigned char *der = NULL;
		int n = i2d_X509(i < 0 ? p->leaf : sk_X509_value(p->chain, i), &der);

		ok = n > 0 && EVP_DigestUpdate(md, der, (size_t)n) == 1;
		OPENSSL_free(der);
	}
	ok = ok && EVP_DigestFinal_ex(md, fp, NULL) == 1;
	EVP_MD_CTX_free(md);
	ERR_clear_error();
	return ok ? 0 : -1;
}

int tls_pair_check(const char *cert, const char *key, unsigned char *fp, enum tls_fault *fault,
                   char *err, size_t errlen)
{
	enum tls_fault f;
	struct pair p;
	SSL_CTX *ctx = NULL;
	int rc = -1;

	if (read_pair(cert, key, &p, &f, err, errlen) < 0)
		goto out;
	f = TLS_FAULT_CERT;
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		errbuf_set(err, errlen, "%s: cannot make an OpenSSL context", cert);
		goto out;
	}
	if (use_pair(ctx, &p, cert, err, errlen) < 0)
		goto out;
	if (fp && fingerprint(&p, fp) < 0) {
		errbuf_set(err, errlen, "%s: cannot hash the certificates", cert);
		goto out;
	}
	rc = 0;
out:
	if (fault)
		*fault = f;
	SSL_CTX_free(ctx);
	pair_free(&p);
	ERR_clear_error();
	return rc;
}

/* A context for htp made libevhtp's way, with p installed; htp keeps the
 * context it had (evhtp_ssl_init installs what it makes: taken back out). */
static SSL_CTX *make_ctx(struct tls_listener *l, const struct pair *p, const char *cert, char *err,
                         size_t errlen)
{
	SSL_CTX *old = l->htp->ssl_ctx, *ctx;
	int rc;

	rc = evhtp_ssl_init(l->htp, &l->cfg);
	ctx = l->htp->ssl_ctx;
	l->htp->ssl_ctx = old;
	/* Its attempt at no_file, and its verify locations (none), left
	 * errors behind. */
	ERR_clear_error();
	if (rc < 0 || ctx == old) {
		if (ctx != old)
			SSL_CTX_free(ctx);
		errbuf_set(err, errlen, "%s: libevhtp cannot set up TLS", cert);
		return NULL;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
		errbuf_set(err, errlen, "%s: cannot require TLS 1.2", cert);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (use_pair(ctx, p, cert, err, errlen) < 0) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* When p's leaf certificate expires, as Unix time; 0 if it cannot say. */
static time_t leaf_not_after(const struct pair *p)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (!ASN1_TIME_to_tm(X509_get0_notAfter(p->leaf), &tm))
		return 0;
	return timegm(&tm);
}

struct tls_listener *tls_listener_new(evhtp_t *htp, const char *cert, const char *key, char *err,
                                      size_t errlen)
{
	struct tls_listener *l = calloc(1, sizeof(*l));
	enum tls_fault f;
	struct pair p;
	SSL_CTX *ctx;

	if (!l) {
		errbuf_set(err, errlen, "out of memory");
		return NULL;
	}
	l->htp = htp;
	l->cfg.pemfile = no_file;
	l->cfg.verify_peer = SSL_VERIFY_NONE;      /* no client certificates */
	l->cfg.ssl_opts = SSL_OP_NO_RENEGOTIATION; /* a handshake's cost, once per connection */
	l->cfg.ssl_ctx_timeout = 300;              /* OpenSSL's default session lifetime */
	l->cfg.scache_type = evhtp_ssl_scache_type_disabled;
	if (read_pair(cert, key, &p, &f, err, errlen) < 0) {
		free(l);
		return NULL;
	}
	l->not_after = leaf_not_after(&p);
	ctx = make_ctx(l, &p, cert, err, errlen);
	pair_free(&p);
	if (!ctx) {
		htp->ssl_cfg = NULL; /* it pointed into l */
		free(l);
		return NULL;
	}
	htp->ssl_ctx = ctx; /* evhtp_free frees it */
	return l;
}

int tls_listener_prepare(struct tls_listener *l, const char *cert, const char *key,
                         unsigned char *fp, char *err, size_t errlen)
{
	enum tls_fault f;
	struct pair p;

	tls_listener_abort(l);
	if (read_pair(cert, key, &p, &f, err, errlen) < 0)
		return -1;
	if (fp && fingerprint(&p, fp) < 0) {
		errbuf_set(err, errlen, "%s: cannot hash the certificates", cert);
		pair_free(&p);
		return -1;
	}
	l->next_not_after = leaf_not_after(&p);
	l->next = make_ctx(l, &p, cert, err, errlen);
	pair_free(&p);
	return l->next ? 0 : -1;
}

void tls_listener_commit(struct tls_listener *l)
{
	SSL_CTX *old = l->htp->ssl_ctx;

	if (!l->next)
		return;
	l->htp->ssl_ctx = l->next;
	l->next = NULL;
	l->not_after = l->next_not_after;
	/* Each open connection's SSL holds a reference of its own. */
	SSL_CTX_free(old);
}

void tls_listener_abort(struct tls_listener *l)
{
	SSL_CTX_free(l->next);
	l->next = NULL;
}

time_t tls_listener_not_after(const struct tls_listener *l)
{
	return l ? l->not_after : 0;
}

void tls_listener_free(struct tls_listener *l)
{
	if (!l)
		return;
	tls_listener_abort(l);
	free(l);
}
