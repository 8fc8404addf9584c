/*
 * tls — the certificate and key of the client listener ([server] tls_cert,
 * tls_key): reading and checking a pair, and the listener's SSL_CTX, made
 * at start and made again at each reload so that a renewed certificate is
 * served to new handshakes (connections already open keep theirs).
 *
 * A pair is read once into memory, checked there (in a throwaway SSL_CTX,
 * so OpenSSL's own refusals, like a key too small, show at load), and
 * those same bytes are installed: a file rewritten meanwhile can never
 * leave a context half updated. An encrypted key is refused, never asked a
 * passphrase for on the terminal.
 *
 * Every function reads files and is for the loop thread (or main, before
 * the loop runs), never from inside a libcurl callback; none is called from
 * a libevhtp callback.
 */
#ifndef MODGATE_TLS_H
#define MODGATE_TLS_H

#include <evhtp.h>
#include <stddef.h>
#include <time.h>

/* SHA-256 over the DER of every certificate of the chain file, in order. */
#define TLS_FINGERPRINT_LEN 32

/* Which file a tls_pair_check failure is about. */
enum tls_fault {
	TLS_FAULT_CERT,
	TLS_FAULT_KEY,
};

/* Reads the PEM certificate chain at cert (the server's certificate first,
 * then any intermediates) and the PEM private key at key (the same file
 * may hold both), and checks that the key belongs to the certificate and
 * that OpenSSL accepts the pair for a server. Fills fp (TLS_FINGERPRINT_LEN
 * bytes; may be NULL). 0; or -1 with err naming the file and OpenSSL's
 * reason, and *fault (may be NULL) saying which file is at fault. Paths are
 * borrowed. */
int tls_pair_check(const char *cert, const char *key, unsigned char *fp, enum tls_fault *fault,
                   char *err, size_t errlen);

struct tls_listener;

/* Makes htp (not yet bound) speak TLS only, with the pair at cert and key:
 * TLS 1.2 at least, OpenSSL's default ciphers, no client certificates. The
 * result must outlive htp (libevhtp keeps a pointer into it) and be freed
 * after evhtp_free(htp), which frees the context. NULL with err on
 * failure. */
struct tls_listener *tls_listener_new(evhtp_t *htp, const char *cert, const char *key, char *err,
                                      size_t errlen);

/* The first half of a reload: reads and checks the pair again (the paths
 * may be the old ones: certbot renews in place) and builds the context that
 * tls_listener_commit will install; fills fp as tls_pair_check does. 0, or
 * -1 with err (the running context is untouched). Call commit or abort
 * before preparing again. */
int tls_listener_prepare(struct tls_listener *l, const char *cert, const char *key,
                         unsigned char *fp, char *err, size_t errlen);

/* Installs the prepared context: every handshake from now on uses it. The
 * old one lives on in the connections that use it. Cannot fail. */
void tls_listener_commit(struct tls_listener *l);

/* Drops a prepared context, if any. */
void tls_listener_abort(struct tls_listener *l);

/* When the certificate served now expires (its notAfter, Unix time); 0
 * for NULL or a date OpenSSL cannot read. */
time_t tls_listener_not_after(const struct tls_listener *l);

/* Frees l (NULL is fine); a prepared context is dropped. */
void tls_listener_free(struct tls_listener *l);

#endif
