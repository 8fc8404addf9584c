/*
 * note — signed notes and verifier keys of the Go checksum database
 * (golang.org/x/mod sumdb/note), and the tree note text the database signs
 * (golang.org/x/mod sumdb/tlog ParseTree).
 *
 * A signed note is its text (UTF-8, ends in a newline), a blank line, then
 * one line per signature, "— NAME BASE64\n" (U+2014 EM DASH, a space); the
 * base64 holds the signer's 4-byte key hash (big-endian) followed by the
 * signature of the text. A verifier key is "NAME+HASH+KEYDATA": HASH is 8 hex
 * digits, KEYDATA the base64 of an algorithm byte (1 = Ed25519) and the
 * 32-byte public key, and the key hash is the first 4 bytes (big-endian) of
 * SHA-256(NAME "\n" ALG KEY).
 *
 * The rules are note.go's, so a note this module opens is one the go command
 * opens and the other way round: the whole note is valid UTF-8 without control
 * characters but newline; the text ends at the last blank line; at most
 * SUMDB_NOTE_MAX_SIGS signature lines; a name is non-empty, valid UTF-8, holds
 * no '+' and no Unicode space; base64 is Go's StdEncoding (padding required,
 * '\r' and '\n' skipped, unused trailing bits ignored). Of several signatures
 * by one known key only the first is checked; an unknown signer is listed,
 * once per distinct line, and does not fail the note by itself. Stricter than
 * Go only where it cannot matter: a verifier name is at most
 * SUMDB_NOTE_NAME_MAX bytes and holds no ASCII control byte (such a name can
 * never appear in a note that opens).
 *
 * Cryptography is OpenSSL's (SHA-256 and Ed25519 through EVP).
 *
 * Threading: no globals; every function is pure, reentrant and thread-safe,
 * and cheap enough (one Ed25519 verification per known signature) to run
 * anywhere, including inside a libcurl or libevhtp callback.
 *
 * Errors: functions return 0 on success, else a negative enum
 * sumdb_note_status value with one line in err (when err is not NULL and
 * errlen > 0; cut to fit). Untrusted bytes quoted in err are escaped, so the
 * line never holds a control byte or a newline.
 */
#ifndef MODGATE_SUMDB_NOTE_H
#define MODGATE_SUMDB_NOTE_H

#include <stddef.h>
#include <stdint.h>

/* note.go: a note with more signature lines than this is malformed. */
#define SUMDB_NOTE_MAX_SIGS 100

/* modgate's bound on a verifier key's name (Go has none). */
#define SUMDB_NOTE_NAME_MAX 255

/* Longest verifier key sumdb_verifier_format writes: name, '+', 8 hex
 * digits, '+', base64 of 33 bytes (44); out buffers hold one more for NUL. */
#define SUMDB_VERIFIER_KEY_MAX (SUMDB_NOTE_NAME_MAX + 1 + 8 + 1 + 44)

/* tlog.ParseTree: a tree note text longer than this is malformed. */
#define SUMDB_TREE_MAX_TEXT 1000000

enum sumdb_note_status {
	SUMDB_NOTE_OK = 0,
	/* The bytes are not a well-formed note, key or tree text. */
	SUMDB_NOTE_MALFORMED = -1,
	/* Well-formed, but no known verifier signed it (note.go's
	 * UnverifiedNoteError); the note's unknown signers are filled in. */
	SUMDB_NOTE_UNVERIFIED = -2,
	/* A known key's signature does not verify (note.go's
	 * InvalidSignatureError): forged or corrupted, never serve it. */
	SUMDB_NOTE_BAD_SIG = -3,
	/* A local failure: OpenSSL, output too small, bad arguments, or two
	 * known verifiers with one name and key hash (note.go's "ambiguous
	 * key"). Says nothing about the bytes. */
	SUMDB_NOTE_ERROR = -4,
};

/* A parsed verifier key. Plain data: copy it, keep arrays of it. */
struct sumdb_verifier {
	char name[SUMDB_NOTE_NAME_MAX + 1]; /* NUL-terminated */
	size_t name_len;
	uint32_t hash;         /* key hash */
	unsigned char alg;     /* 1: Ed25519, the only algorithm */
	unsigned char key[32]; /* Ed25519 public key */
};

/* One signature line of an opened note. The pointers are borrowed from the
 * note bytes given to sumdb_note_open and live as long as those bytes. */
struct sumdb_note_sig {
	const char *name; /* not NUL-terminated */
	size_t name_len;
	uint32_t hash;
	const char *b64; /* the line's base64, as written */
	size_t b64_len;
	size_t verifier; /* in sigs: index into the known array that verified it */
};

/* An opened note. text points into the note bytes (text_len includes the
 * text's final newline). sigs: the verified signatures, one per known key,
 * in note order. unverified: the signature lines of unknown keys, in note
 * order, each distinct line once. */
struct sumdb_note {
	const char *text;
	size_t text_len;
	size_t nsigs;
	struct sumdb_note_sig sigs[SUMDB_NOTE_MAX_SIGS];
	size_t nunverified;
	struct sumdb_note_sig unverified[SUMDB_NOTE_MAX_SIGS];
};

/* A signed tree head: the first n records of the log have this root hash. */
struct sumdb_tree {
	int64_t n;
	unsigned char hash[32];
};

/* Parses the verifier key vkey (len bytes, borrowed; need not be
 * NUL-terminated) into *v, as note.NewVerifier does: a malformed key
 * ("malformed verifier id"), a key hash that does not match the name and
 * key data ("invalid verifier hash"), an algorithm other than Ed25519
 * ("unknown verifier algorithm") all give SUMDB_NOTE_MALFORMED. */
int sumdb_verifier_parse(const char *vkey, size_t len, struct sumdb_verifier *v, char *err,
                         size_t errlen);

/* Fills *v with the Ed25519 verifier of the private key seed (32 bytes,
 * borrowed) under name (NUL-terminated, borrowed; same rules as a parsed
 * key's name). SUMDB_NOTE_MALFORMED for a bad name, SUMDB_NOTE_ERROR if
 * OpenSSL fails. */
int sumdb_verifier_from_seed(const char *name, const unsigned char seed[32],
                             struct sumdb_verifier *v, char *err, size_t errlen);

/* Writes v as a verifier key "NAME+HASH+KEYDATA" (hash in lower-case hex)
 * and a NUL into out (outlen bytes; SUMDB_VERIFIER_KEY_MAX + 1 always
 * suffice). 0, or SUMDB_NOTE_ERROR if out is too small or v is not a valid
 * Ed25519 verifier. */
int sumdb_verifier_format(const struct sumdb_verifier *v, char *out, size_t outlen, char *err,
                          size_t errlen);

/* Opens the signed note msg (len bytes, borrowed) against the known
 * verifiers (nknown of them, borrowed; may be NULL when nknown is 0), as
 * note.Open does, and fills *note (caller-owned; its pointers borrow msg).
 * 0 when at least one known key signed the text and no known key's
 * signature failed. SUMDB_NOTE_MALFORMED; SUMDB_NOTE_BAD_SIG ("invalid
 * signature for key NAME+HASH"); SUMDB_NOTE_UNVERIFIED ("note has no
 * verifiable signatures"), with text and unverified filled so the caller
 * can name the unknown signers; SUMDB_NOTE_ERROR. With nknown 0 it checks
 * the form only: a well-formed note gives SUMDB_NOTE_UNVERIFIED. */
int sumdb_note_open(const char *msg, size_t len, const struct sumdb_verifier *known, size_t nknown,
                    struct sumdb_note *note, char *err, size_t errlen);

/* Signs text (text_len bytes, borrowed; must end in a newline, as note.Sign
 * requires, and nothing else is checked) with the Ed25519 key of seed (32
 * bytes, borrowed) under name (NUL-terminated, borrowed), and writes the
 * note "TEXT\n— NAME BASE64\n" and a NUL into out (outlen bytes). The note's
 * length (without the NUL) goes to *outused when outused is not NULL.
 * SUMDB_NOTE_MALFORMED for a bad text or name, SUMDB_NOTE_ERROR if out is
 * too small (text_len + name length + 100 bytes suffice) or OpenSSL fails. */
int sumdb_note_sign(const char *text, size_t text_len, const char *name,
                    const unsigned char seed[32], char *out, size_t outlen, size_t *outused,
                    char *err, size_t errlen);

/* Parses a tree note text (len bytes, borrowed), as tlog.ParseTree does:
 * "go.sum database tree\n", N in canonical decimal (0 <= N <= INT64_MAX),
 * "\n", the base64 of the 32-byte root hash, "\n"; further lines are
 * ignored (Go keeps them for forward compatibility); at most
 * SUMDB_TREE_MAX_TEXT bytes. 0 with *tree filled, or SUMDB_NOTE_MALFORMED. */
int sumdb_tree_parse(const char *text, size_t len, struct sumdb_tree *tree, char *err,
                     size_t errlen);

#endif
