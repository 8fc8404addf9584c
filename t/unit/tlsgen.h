/* Helpers for the unit tests that need a certificate and key on disk
 * (test_tls.c, test_config.c): throwaway pairs made with OpenSSL's API.
 * Include after cmocka.h; every function is static, for one test program
 * each. */
#ifndef MODGATE_T_UNIT_TLSGEN_H
#define MODGATE_T_UNIT_TLSGEN_H

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>

/* A new key: RSA 2048 when rsa, else ECDSA P-256. */
static EVP_PKEY *tlsgen_key(int rsa)
{
	EVP_PKEY *k = rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");

	assert_non_null(k);
	return k;
}

/* A certificate for 127.0.0.1 with key's public half and the serial given,
 * signed by issuer_key (its subject issuer's), or self-signed when issuer
 * is NULL. Valid from an hour ago for a day. */
static X509 *tlsgen_cert(EVP_PKEY *key, long serial, X509 *issuer, EVP_PKEY *issuer_key)
{
	X509 *x = X509_new();
	X509_NAME *name;
	X509_EXTENSION *ext;
	X509V3_CTX v3;

	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), serial), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -3600));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
	assert_int_equal(X509_set_pubkey(x, key), 1);
	name = X509_get_subject_name(x);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	                                            (const unsigned char *)"127.0.0.1", -1, -1, 0),
	                 1);
	assert_int_equal(X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name), 1);
	X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "IP:127.0.0.1");
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
	return x;
}

/* Writes cert (then extra, if not NULL) to path as PEM, and, when key is
 * not NULL, the key after them: a combined file. "w" or "a" as mode. */
static void tlsgen_write(const char *path, const char *mode, X509 *cert, X509 *extra, EVP_PKEY *key)
{
	FILE *f = fopen(path, mode);

	assert_non_null(f);
	if (cert)
		assert_int_equal(PEM_write_X509(f, cert), 1);
	if (extra)
		assert_int_equal(PEM_write_X509(f, extra), 1);
	if (key)
		assert_int_equal(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
	assert_int_equal(fclose(f), 0);
}

/* A self-signed pair with serial: the certificate at cert_path, the key at
 * key_path (files replaced). */
static void tlsgen_pair(const char *cert_path, const char *key_path, long serial, int rsa)
{
	EVP_PKEY *k = tlsgen_key(rsa);
	X509 *x = tlsgen_cert(k, serial, NULL, NULL);

	tlsgen_write(cert_path, "w", x, NULL, NULL);
	tlsgen_write(key_path, "w", NULL, NULL, k);
	X509_free(x);
	EVP_PKEY_free(k);
}

#endif
