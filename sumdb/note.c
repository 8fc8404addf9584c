/*
 * note — see note.h. The parsing follows golang.org/x/mod/sumdb/note
 * (NewVerifier, Open, Sign) and sumdb/tlog ParseTree rule by rule, in their
 * order, so that the first rule broken is the one Go would report.
 */
#include "sumdb/note.h"

#include "proxy/errbuf.h"

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#define ALG_ED25519 1

/* The signature line prefix: U+2014 EM DASH and a space. */
static const char sig_prefix[] = "\xe2\x80\x94 ";
#define SIG_PREFIX_LEN 4

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* ---- text helpers ----------------------------------------------------- */

/* Writes s (len bytes) into dst as an error-line fragment: printable ASCII
 * as is, every other byte as \xNN, cut with "..." after 64 input bytes. */
static const char *quote(char *dst, size_t dstlen, const char *s, size_t len)
{
	size_t o = 0, i;

	for (i = 0; i < len && i < 64 && o + 5 < dstlen; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			dst[o++] = (char)c;
		else
			o += (size_t)snprintf(dst + o, dstlen - o, "\\x%02x", c);
	}
	if (i < len && o + 4 < dstlen) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	if (dstlen > 0)
		dst[o < dstlen ? o : dstlen - 1] = '\0';
	return dst;
}

/* Decodes one UTF-8 sequence at s (n > 0 bytes left) as Go's
 * utf8.DecodeRune does. Returns its length, or 0 for an invalid sequence
 * (Go's RuneError of size 1): overlong forms, surrogates and values past
 * U+10FFFF are invalid. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *r)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t need, i;

	if (c < 0x80) {
		*r = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		need = 2;
		*r = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 3;
		*r = c & 0x0f;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4;
		*r = c & 0x07;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (n < need)
		return 0;
	for (i = 1; i < need; i++) {
		unsigned char b = s[i];

		if (b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xbf))
			return 0;
		*r = (*r << 6) | (b & 0x3f);
	}
	return need;
}

/* Go's unicode.IsSpace. */
static int is_space(uint32_t r)
{
	if (r <= 0xff)
		return (r >= '\t' && r <= '\r') || r == ' ' || r == 0x85 || r == 0xa0;
	return r == 0x1680 || (r >= 0x2000 && r <= 0x200a) || r == 0x2028 || r == 0x2029 ||
	       r == 0x202f || r == 0x205f || r == 0x3000;
}

/* note.go's isValidName: non-empty, valid UTF-8, no space, no '+'. */
static const char *name_problem(const char *name, size_t len)
{
	const unsigned char *s = (const unsigned char *)name;
	size_t i = 0, n;
	uint32_t r;

	if (len == 0)
		return "empty name";
	while (i < len) {
		n = utf8_decode(s + i, len - i, &r);
		if (n == 0)
			return "name is not valid UTF-8";
		if (is_space(r))
			return "name holds a space";
		if (r == '+')
			return "name holds '+'";
		i += n;
	}
	return NULL;
}

/* ---- base64 (Go's StdEncoding) ---------------------------------------- */

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Decodes src as Go's base64.StdEncoding.DecodeString does: '\r' and '\n'
 * are skipped anywhere; what remains is quanta of 4 alphabet characters, the
 * last of which may be "xx==" or "xxx="; nothing but '\r' and '\n' after the
 * padding; unused trailing bits are ignored (StdEncoding is not Strict).
 * The first dstcap decoded bytes go to dst; the full decoded length to
 * *outlen. Returns 0, or -1 if src is not valid base64.
 */
static int b64_decode(const char *src, size_t len, unsigned char *dst, size_t dstcap,
                      size_t *outlen)
{
	unsigned char q[4];
	size_t i, j = 0, n = 0, pad = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];
		int v;

		if (c == '\r' || c == '\n')
			continue;
		if (pad > 0) {
			/* Only the second '=' of "xx==" may follow a '='. */
			if (c != '=' || pad != 1 || j != 3)
				return -1;
			pad = 2;
			j = 4;
			continue;
		}
		if (c == '=') {
			if (j < 2)
				return -1;
			pad = 1;
			if (j == 3)
				j = 4;
			else
				j = 3; /* "xx=" must be followed by "=" */
			continue;
		}
		v = b64_value(c);
		if (v < 0)
			return -1;
		q[j++] = (unsigned char)v;
		if (j == 4) {
			unsigned char out[3] = {(unsigned char)(q[0] << 2 | q[1] >> 4),
			                        (unsigned char)(q[1] << 4 | q[2] >> 2),
			                        (unsigned char)(q[2] << 6 | q[3])};
			size_t k;

			for (k = 0; k < 3; k++, n++) {
				if (n < dstcap)
					dst[n] = out[k];
			}
			j = 0;
		}
	}
	if (pad == 0) {
		if (j != 0)
			return -1;
	} else {
		/* "xx==" (pad 2 after j 2) or "xxx=" (pad 1 after j 3). */
		size_t got;

		if (j != 4)
			return -1;
		/* q holds 2 or 3 values: 1 or 2 bytes. */
		got = (pad == 2) ? 1 : 2;
		if (n < dstcap)
			dst[n] = (unsigned char)(q[0] << 2 | q[1] >> 4);
		n++;
		if (got == 2) {
			if (n < dstcap)
				dst[n] = (unsigned char)(q[1] << 4 | q[2] >> 2);
			n++;
		}
	}
	*outlen = n;
	return 0;
}

/* Writes the padded base64 of src and a NUL into dst (4 * ((len + 2) / 3)
 * + 1 bytes). Returns the length written. */
static size_t b64_encode(const unsigned char *src, size_t len, char *dst)
{
	size_t i, o = 0;

	for (i = 0; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 | src[i + 2];

		dst[o++] = b64_alphabet[v >> 18];
		dst[o++] = b64_alphabet[(v >> 12) & 63];
		dst[o++] = b64_alphabet[(v >> 6) & 63];
		dst[o++] = b64_alphabet[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)src[i] << 16;

		dst[o++] = b64_alphabet[v >> 18];
		dst[o++] = b64_alphabet[(v >> 12) & 63];
		dst[o++] = '=';
		dst[o++] = '=';
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8;

		dst[o++] = b64_alphabet[v >> 18];
		dst[o++] = b64_alphabet[(v >> 12) & 63];
		dst[o++] = b64_alphabet[(v >> 6) & 63];
		dst[o++] = '=';
	}
	dst[o] = '\0';
	return o;
}

/* ---- cryptography ----------------------------------------------------- */

/* note.go's keyHash: SHA-256(name "\n" key)[0:4], big-endian. key is the
 * algorithm byte followed by the public key. */
static int key_hash(const char *name, size_t name_len, const unsigned char *key, size_t key_len,
                    uint32_t *hash)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok;

	if (!ctx)
		return -1;
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(ctx, name, name_len) == 1 && EVP_DigestUpdate(ctx, "\n", 1) == 1 &&
	     EVP_DigestUpdate(ctx, key, key_len) == 1 && EVP_DigestFinal_ex(ctx, md, NULL) == 1;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return -1;
	*hash = (uint32_t)md[0] << 24 | (uint32_t)md[1] << 16 | (uint32_t)md[2] << 8 | md[3];
	return 0;
}

/* Ed25519 verification of sig over msg with the 32-byte public key pub.
 * 1 valid, 0 invalid, -1 local failure. A signature that is not 64 bytes
 * is invalid, as in Go's ed25519.Verify. */
static int ed25519_verify(const unsigned char pub[32], const char *msg, size_t len,
                          const unsigned char *sig, size_t siglen)
{
	EVP_PKEY *pkey = NULL;
	EVP_MD_CTX *ctx = NULL;
	int ret = -1;

	if (siglen != 64)
		return 0;
	pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
	if (!pkey) {
		/* OpenSSL refuses no 32-byte string here, but be safe. */
		ret = 0;
		goto out;
	}
	ctx = EVP_MD_CTX_new();
	if (!ctx)
		goto out;
	if (EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pkey) != 1)
		goto out;
	ret = EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)msg, len) == 1;
out:
	/* A failed verification leaves entries on this thread's error queue. */
	ERR_clear_error();
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	return ret;
}

/* The Ed25519 public key (32 bytes) of seed, and with sig != NULL the
 * signature (64 bytes) of msg. 0 or -1. */
static int ed25519_sign(const unsigned char seed[32], unsigned char pub[32], const char *msg,
                        size_t len, unsigned char sig[64])
{
	EVP_PKEY *pkey = NULL;
	EVP_MD_CTX *ctx = NULL;
	size_t publen = 32, siglen = 64;
	int ret = -1;

	pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
	if (!pkey)
		goto out;
	if (EVP_PKEY_get_raw_public_key(pkey, pub, &publen) != 1 || publen != 32)
		goto out;
	if (sig) {
		ctx = EVP_MD_CTX_new();
		if (!ctx || EVP_DigestSignInit(ctx, NULL, NULL, NULL, pkey) != 1)
			goto out;
		if (EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)msg, len) != 1 ||
		    siglen != 64)
			goto out;
	}
	ret = 0;
out:
	ERR_clear_error();
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	return ret;
}

/* ---- verifier keys ---------------------------------------------------- */

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The name rules for a verifier: note.go's, plus modgate's length bound and
 * no ASCII control byte. */
static const char *verifier_name_problem(const char *name, size_t len)
{
	const char *why = name_problem(name, len);
	size_t i;

	if (why)
		return why;
	if (len > SUMDB_NOTE_NAME_MAX)
		return "name longer than 255 bytes";
	for (i = 0; i < len; i++) {
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return "name holds a control byte";
	}
	return NULL;
}

int sumdb_verifier_parse(const char *vkey, size_t len, struct sumdb_verifier *v, char *err,
                         size_t errlen)
{
	/* Anything longer than the 33 bytes of an Ed25519 key is refused by
	 * NewVerifier, whatever it is; decode a little more to know that. */
	unsigned char key[40];
	const char *p1, *p2, *name, *hash16, *key64, *why;
	size_t name_len, hash_len, key_len, klen, i;
	uint32_t hash = 0, want;
	char q[300];

	if (!vkey || !v) {
		errbuf_set(err, errlen, "sumdb_verifier_parse: bad arguments");
		return SUMDB_NOTE_ERROR;
	}
	/* strings.Cut twice: name, hash, and the rest (base64 holds '+'). */
	name = vkey;
	p1 = memchr(vkey, '+', len);
	name_len = p1 ? (size_t)(p1 - vkey) : len;
	hash16 = p1 ? p1 + 1 : vkey + len;
	p2 = memchr(hash16, '+', (size_t)(vkey + len - hash16));
	hash_len = p2 ? (size_t)(p2 - hash16) : (size_t)(vkey + len - hash16);
	key64 = p2 ? p2 + 1 : vkey + len;
	key_len = (size_t)(vkey + len - key64);

	if (hash_len != 8) {
		errbuf_set(err, errlen, "malformed verifier id: key hash is not 8 hex digits");
		return SUMDB_NOTE_MALFORMED;
	}
	for (i = 0; i < 8; i++) {
		int d = hex_value((unsigned char)hash16[i]);

		if (d < 0) {
			errbuf_set(err, errlen,
			           "malformed verifier id: key hash is not 8 hex digits");
			return SUMDB_NOTE_MALFORMED;
		}
		hash = hash << 4 | (uint32_t)d;
	}
	if (b64_decode(key64, key_len, key, sizeof(key), &klen) < 0) {
		errbuf_set(err, errlen, "malformed verifier id: key data is not base64");
		return SUMDB_NOTE_MALFORMED;
	}
	why = verifier_name_problem(name, name_len);
	if (why) {
		errbuf_set(err, errlen, "malformed verifier id: %s: \"%s\"", why,
		           quote(q, sizeof(q), name, name_len));
		return SUMDB_NOTE_MALFORMED;
	}
	if (klen == 0) {
		errbuf_set(err, errlen, "malformed verifier id: empty key data");
		return SUMDB_NOTE_MALFORMED;
	}
	if (klen > sizeof(key)) {
		/* Not the 33 bytes of an Ed25519 key, and too long to be hashed
		 * here; Go would first compare the hash, then refuse it. */
		errbuf_set(err, errlen, "malformed verifier id: key data too long (%zu bytes)",
		           klen);
		return SUMDB_NOTE_MALFORMED;
	}
	if (key_hash(name, name_len, key, klen, &want) < 0) {
		errbuf_set(err, errlen, "sumdb_verifier_parse: SHA-256 failed");
		return SUMDB_NOTE_ERROR;
	}
	if (want != hash) {
		errbuf_set(err, errlen,
		           "invalid verifier hash: key %08x, name and key data give %08x", hash,
		           want);
		return SUMDB_NOTE_MALFORMED;
	}
	if (key[0] != ALG_ED25519) {
		errbuf_set(err, errlen, "unknown verifier algorithm %u", key[0]);
		return SUMDB_NOTE_MALFORMED;
	}
	if (klen != 33) {
		errbuf_set(err, errlen, "malformed verifier id: Ed25519 key of %zu bytes, want 32",
		           klen - 1);
		return SUMDB_NOTE_MALFORMED;
	}
	memset(v, 0, sizeof(*v));
	memcpy(v->name, name, name_len);
	v->name[name_len] = '\0';
	v->name_len = name_len;
	v->hash = hash;
	v->alg = ALG_ED25519;
	memcpy(v->key, key + 1, 32);
	return SUMDB_NOTE_OK;
}

int sumdb_verifier_from_seed(const char *name, const unsigned char seed[32],
                             struct sumdb_verifier *v, char *err, size_t errlen)
{
	unsigned char key[33];
	const char *why;
	size_t name_len;
	uint32_t hash;
	char q[300];

	if (!name || !seed || !v) {
		errbuf_set(err, errlen, "sumdb_verifier_from_seed: bad arguments");
		return SUMDB_NOTE_ERROR;
	}
	name_len = strlen(name);
	why = verifier_name_problem(name, name_len);
	if (why) {
		errbuf_set(err, errlen, "invalid signer: %s: \"%s\"", why,
		           quote(q, sizeof(q), name, name_len));
		return SUMDB_NOTE_MALFORMED;
	}
	key[0] = ALG_ED25519;
	if (ed25519_sign(seed, key + 1, NULL, 0, NULL) < 0 ||
	    key_hash(name, name_len, key, sizeof(key), &hash) < 0) {
		errbuf_set(err, errlen, "sumdb_verifier_from_seed: OpenSSL failed");
		return SUMDB_NOTE_ERROR;
	}
	memset(v->name, 0, sizeof(v->name));
	memcpy(v->name, name, name_len);
	v->name_len = name_len;
	v->hash = hash;
	v->alg = ALG_ED25519;
	memcpy(v->key, key + 1, 32);
	return SUMDB_NOTE_OK;
}

int sumdb_verifier_format(const struct sumdb_verifier *v, char *out, size_t outlen, char *err,
                          size_t errlen)
{
	unsigned char key[33];
	char b64[45];

	if (!v || !out || v->alg != ALG_ED25519 || v->name_len > SUMDB_NOTE_NAME_MAX ||
	    verifier_name_problem(v->name, v->name_len)) {
		errbuf_set(err, errlen, "sumdb_verifier_format: bad arguments");
		return SUMDB_NOTE_ERROR;
	}
	key[0] = ALG_ED25519;
	memcpy(key + 1, v->key, 32);
	b64_encode(key, sizeof(key), b64);
	if (outlen < v->name_len + 1 + 8 + 1 + 44 + 1) {
		errbuf_set(err, errlen, "sumdb_verifier_format: output buffer too small");
		return SUMDB_NOTE_ERROR;
	}
	snprintf(out, outlen, "%.*s+%08x+%s", (int)v->name_len, v->name, (unsigned)v->hash, b64);
	return SUMDB_NOTE_OK;
}

/* ---- notes ------------------------------------------------------------ */

static int same(const char *a, size_t alen, const char *b, size_t blen)
{
	return alen == blen && memcmp(a, b, alen) == 0;
}

int sumdb_note_open(const char *msg, size_t len, const struct sumdb_verifier *known, size_t nknown,
                    struct sumdb_note *note, char *err, size_t errlen)
{
	const unsigned char *s = (const unsigned char *)msg;
	const char *sigs, *end;
	size_t i, split, numsig = 0;
	char q[300];

	if ((!msg && len > 0) || (!known && nknown > 0) || !note) {
		errbuf_set(err, errlen, "sumdb_note_open: bad arguments");
		return SUMDB_NOTE_ERROR;
	}
	memset(note, 0, sizeof(*note));

	/* Valid UTF-8, no control character but newline. */
	for (i = 0; i < len;) {
		uint32_t r;
		size_t n = utf8_decode(s + i, len - i, &r);

		if (n == 0) {
			errbuf_set(err, errlen, "malformed note: invalid UTF-8 at byte %zu", i);
			return SUMDB_NOTE_MALFORMED;
		}
		if (r < 0x20 && r != '\n') {
			errbuf_set(err, errlen, "malformed note: control byte 0x%02x at byte %zu",
			           (unsigned)r, i);
			return SUMDB_NOTE_MALFORMED;
		}
		i += n;
	}

	/* The text ends at the last blank line, newline included. */
	for (split = len; split >= 2; split--) {
		if (s[split - 2] == '\n' && s[split - 1] == '\n')
			break;
	}
	if (split < 2) {
		errbuf_set(err, errlen, "malformed note: no blank line before the signatures");
		return SUMDB_NOTE_MALFORMED;
	}
	split -= 2;
	note->text = msg;
	note->text_len = split + 1;
	sigs = msg + split + 2;
	end = msg + len;
	if (sigs == end || end[-1] != '\n') {
		errbuf_set(err, errlen, "malformed note: %s",
		           sigs == end ? "no signature lines"
		                       : "signature lines do not end in a newline");
		return SUMDB_NOTE_MALFORMED;
	}

	while (sigs < end) {
		const char *nl = memchr(sigs, '\n', (size_t)(end - sigs));
		const char *line = sigs, *name, *b64, *sp, *why = NULL;
		size_t line_len = (size_t)(nl - sigs), name_len, b64_len, siglen, k = 0, match = 0;
		/* 4-byte key hash + 64-byte Ed25519 signature; longer
		 * signatures are only measured. */
		unsigned char raw[68];
		struct sumdb_note_sig *sig;
		uint32_t hash;
		int ok;

		sigs = nl + 1;
		if (line_len < SIG_PREFIX_LEN || memcmp(line, sig_prefix, SIG_PREFIX_LEN) != 0) {
			errbuf_set(err, errlen,
			           "malformed note: signature line does not start with an em dash "
			           "and a space: \"%s\"",
			           quote(q, sizeof(q), line, line_len));
			return SUMDB_NOTE_MALFORMED;
		}
		name = line + SIG_PREFIX_LEN;
		line_len -= SIG_PREFIX_LEN;
		sp = memchr(name, ' ', line_len);
		name_len = sp ? (size_t)(sp - name) : line_len;
		b64 = sp ? sp + 1 : name + line_len;
		b64_len = sp ? line_len - name_len - 1 : 0;
		if (b64_decode(b64, b64_len, raw, sizeof(raw), &siglen) < 0)
			why = "signature is not base64";
		else if ((why = name_problem(name, name_len)) != NULL)
			;
		else if (b64_len == 0)
			why = "no signature";
		else if (siglen < 5)
			why = "signature shorter than 5 bytes";
		if (why) {
			errbuf_set(err, errlen, "malformed note: %s: \"%s\"", why,
			           quote(q, sizeof(q), line, line_len));
			return SUMDB_NOTE_MALFORMED;
		}
		hash = (uint32_t)raw[0] << 24 | (uint32_t)raw[1] << 16 | (uint32_t)raw[2] << 8 |
		       raw[3];
		if (++numsig > SUMDB_NOTE_MAX_SIGS) {
			errbuf_set(err, errlen, "malformed note: more than %d signatures",
			           SUMDB_NOTE_MAX_SIGS);
			return SUMDB_NOTE_MALFORMED;
		}

		/* note.VerifierList's lookup: by name and key hash. */
		for (i = 0; i < nknown; i++) {
			if (known[i].hash == hash &&
			    same(known[i].name, known[i].name_len, name, name_len)) {
				if (match++ == 0)
					k = i;
			}
		}
		if (match == 0) {
			/* Unknown key: list each distinct line once. */
			for (i = 0; i < note->nunverified; i++) {
				sig = &note->unverified[i];
				if (same(sig->name, sig->name_len, name, name_len) &&
				    same(sig->b64, sig->b64_len, b64, b64_len))
					break;
			}
			if (i < note->nunverified)
				continue;
			sig = &note->unverified[note->nunverified++];
		} else {
			if (match > 1) {
				errbuf_set(err, errlen, "ambiguous key %s+%08x",
				           quote(q, sizeof(q), name, name_len), hash);
				return SUMDB_NOTE_ERROR;
			}
			/* Only the first signature by a known key counts. */
			for (i = 0; i < note->nsigs; i++) {
				if (note->sigs[i].verifier == k)
					break;
			}
			if (i < note->nsigs)
				continue;
			ok = ed25519_verify(known[k].key, note->text, note->text_len, raw + 4,
			                    siglen - 4);
			if (ok < 0) {
				errbuf_set(err, errlen,
				           "sumdb_note_open: Ed25519 verification failed "
				           "in OpenSSL");
				return SUMDB_NOTE_ERROR;
			}
			if (!ok) {
				errbuf_set(err, errlen, "invalid signature for key %s+%08x",
				           quote(q, sizeof(q), name, name_len), hash);
				return SUMDB_NOTE_BAD_SIG;
			}
			sig = &note->sigs[note->nsigs++];
			sig->verifier = k;
		}
		sig->name = name;
		sig->name_len = name_len;
		sig->hash = hash;
		sig->b64 = b64;
		sig->b64_len = b64_len;
	}
	if (note->nsigs == 0) {
		if (note->nunverified > 0) {
			const struct sumdb_note_sig *u = &note->unverified[0];

			errbuf_set(err, errlen,
			           "note has no verifiable signatures (unknown key %s+%08x)",
			           quote(q, sizeof(q), u->name, u->name_len), u->hash);
		} else {
			errbuf_set(err, errlen, "note has no verifiable signatures");
		}
		return SUMDB_NOTE_UNVERIFIED;
	}
	return SUMDB_NOTE_OK;
}

int sumdb_note_sign(const char *text, size_t text_len, const char *name,
                    const unsigned char seed[32], char *out, size_t outlen, size_t *outused,
                    char *err, size_t errlen)
{
	unsigned char raw[68], pub[32], key[33];
	char b64[93], q[300];
	const char *why;
	size_t name_len, b64_len, need, o;
	uint32_t hash;

	if ((!text && text_len > 0) || !name || !seed || !out) {
		errbuf_set(err, errlen, "sumdb_note_sign: bad arguments");
		return SUMDB_NOTE_ERROR;
	}
	if (text_len == 0 || text[text_len - 1] != '\n') {
		errbuf_set(err, errlen, "malformed note: text does not end in a newline");
		return SUMDB_NOTE_MALFORMED;
	}
	name_len = strlen(name);
	why = name_problem(name, name_len);
	if (why) {
		errbuf_set(err, errlen, "invalid signer: %s: \"%s\"", why,
		           quote(q, sizeof(q), name, name_len));
		return SUMDB_NOTE_MALFORMED;
	}
	if (ed25519_sign(seed, pub, text, text_len, raw + 4) < 0) {
		errbuf_set(err, errlen, "sumdb_note_sign: Ed25519 signing failed in OpenSSL");
		return SUMDB_NOTE_ERROR;
	}
	key[0] = ALG_ED25519;
	memcpy(key + 1, pub, 32);
	if (key_hash(name, name_len, key, sizeof(key), &hash) < 0) {
		errbuf_set(err, errlen, "sumdb_note_sign: SHA-256 failed");
		return SUMDB_NOTE_ERROR;
	}
	raw[0] = (unsigned char)(hash >> 24);
	raw[1] = (unsigned char)(hash >> 16);
	raw[2] = (unsigned char)(hash >> 8);
	raw[3] = (unsigned char)hash;
	b64_len = b64_encode(raw, sizeof(raw), b64);

	/* text, "\n", prefix, name, " ", base64, "\n", NUL */
	need = text_len + 1 + SIG_PREFIX_LEN + name_len + 1 + b64_len + 1 + 1;
	if (need < text_len || outlen < need) {
		errbuf_set(err, errlen,
		           "sumdb_note_sign: output buffer too small (%zu bytes, need %zu)", outlen,
		           need);
		return SUMDB_NOTE_ERROR;
	}
	memcpy(out, text, text_len);
	o = text_len;
	out[o++] = '\n';
	memcpy(out + o, sig_prefix, SIG_PREFIX_LEN);
	o += SIG_PREFIX_LEN;
	memcpy(out + o, name, name_len);
	o += name_len;
	out[o++] = ' ';
	memcpy(out + o, b64, b64_len);
	o += b64_len;
	out[o++] = '\n';
	out[o] = '\0';
	if (outused)
		*outused = o;
	return SUMDB_NOTE_OK;
}

/* ---- tree notes ------------------------------------------------------- */

static const char tree_prefix[] = "go.sum database tree\n";

int sumdb_tree_parse(const char *text, size_t len, struct sumdb_tree *tree, char *err,
                     size_t errlen)
{
	const size_t plen = sizeof(tree_prefix) - 1;
	const char *l1, *e1, *l2, *e2;
	unsigned char h[33];
	size_t hlen, nl = 0, i;
	int64_t n = 0;

	if ((!text && len > 0) || !tree) {
		errbuf_set(err, errlen, "sumdb_tree_parse: bad arguments");
		return SUMDB_NOTE_ERROR;
	}
	for (i = 0; i < len && nl < 3; i++)
		nl += text[i] == '\n';
	if (len < plen || memcmp(text, tree_prefix, plen) != 0 || nl < 3 ||
	    len > SUMDB_TREE_MAX_TEXT) {
		errbuf_set(err, errlen, "malformed tree note: %s",
		           len > SUMDB_TREE_MAX_TEXT ? "longer than 1000000 bytes"
		           : nl < 3                  ? "fewer than 3 lines"
		                    : "does not start with \"go.sum database tree\"");
		return SUMDB_NOTE_MALFORMED;
	}
	l1 = text + plen;
	e1 = memchr(l1, '\n', (size_t)(text + len - l1));
	l2 = e1 + 1;
	e2 = memchr(l2, '\n', (size_t)(text + len - l2));

	/* strconv.ParseInt and FormatInt give back the same: canonical
	 * decimal, no sign, no leading zero, fits int64. */
	if (e1 == l1 || (*l1 == '0' && e1 - l1 > 1)) {
		errbuf_set(err, errlen, "malformed tree note: tree size is not canonical decimal");
		return SUMDB_NOTE_MALFORMED;
	}
	for (; l1 < e1; l1++) {
		if (*l1 < '0' || *l1 > '9' || n > (INT64_MAX - (*l1 - '0')) / 10) {
			errbuf_set(err, errlen,
			           "malformed tree note: tree size is not canonical "
			           "decimal or too large");
			return SUMDB_NOTE_MALFORMED;
		}
		n = n * 10 + (*l1 - '0');
	}
	if (b64_decode(l2, (size_t)(e2 - l2), h, sizeof(h), &hlen) < 0 || hlen != 32) {
		errbuf_set(err, errlen, "malformed tree note: root hash is not base64 of 32 bytes");
		return SUMDB_NOTE_MALFORMED;
	}
	tree->n = n;
	memcpy(tree->hash, h, 32);
	return SUMDB_NOTE_OK;
}
