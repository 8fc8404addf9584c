/*
 * dirhash — the go command's "h1:" hashes (golang.org/x/mod sumdb/dirhash
 * Hash1) of a module zip and of a go.mod file, as recorded in go.sum and in
 * the checksum database.
 *
 * Hash1 sorts the file names, writes one line per file, "hex(SHA-256(content))
 * name\n" (two spaces), and returns "h1:" + standard base64 of the SHA-256 of
 * those lines. For a zip the names are the entry names as stored (with their
 * "module@version/" prefix); for a go.mod the one name is "go.mod".
 *
 * A zip is read the way Go's archive/zip reads it, so that a hash computed
 * here equals the one the go command computes from the same bytes: names come
 * straight from the central directory (libzip rewrites some names: a NUL
 * byte becomes a space, an Info-ZIP Unicode Path field replaces the stored
 * name); contents are inflated by libzip and hashed with OpenSSL SHA-256
 * through EVP. libzip's view of the archive is cross-checked against ours
 * entry by entry, and an archive the two read differently is refused.
 *
 * Every zip pass also enforces what Go's zip reader and the go command's
 * download path enforce, whatever the caller: the file is at most
 * SUMDB_ZIP_MAX_SIZE bytes, the declared uncompressed sizes add up to at most
 * SUMDB_ZIP_MAX_SIZE, each file inflates to exactly its declared size (read
 * at most one byte past it, so a zip bomb that lies about its sizes is stopped
 * there), CRC-32s match, only the store and deflate methods, no encryption,
 * and directory entries hold no data. On top of Go's rules modgate bounds the
 * central directory to SUMDB_ZIP_MAX_DIR bytes, which bounds the memory a
 * hostile zip costs before anything is inflated.
 *
 * Threading: no globals; every function is reentrant and thread-safe. The
 * zip functions block on disk reads and CPU (a 500 MiB zip takes seconds):
 * run them on a worker thread, never on the loop, and never inside a libcurl
 * or libevhtp callback. sumdb_hash_gomod and sumdb_quote are pure and cheap and
 * may be called anywhere.
 *
 * Errors: functions return 0 on success; on failure a negative enum
 * sumdb_zip_status value, with one short line in err (when err is not NULL
 * and errlen > 0; truncated to fit). Untrusted bytes quoted in err are
 * escaped, so the line never holds a control byte or a newline.
 */
#ifndef MODGATE_SUMDB_DIRHASH_H
#define MODGATE_SUMDB_DIRHASH_H

#include <stddef.h>
#include <stdint.h>

/* "h1:" + base64 of 32 bytes (44 characters); out buffers hold one more for NUL. */
#define SUMDB_H1_LEN 47

/* zip.MaxZipFile: largest module zip, and largest total of its uncompressed files. */
#define SUMDB_ZIP_MAX_SIZE ((uint64_t)500 << 20)

/* modgate's own bound on the central directory (names, headers). The largest
 * real modules need a few MB; the go command has no such limit. */
#define SUMDB_ZIP_MAX_DIR ((uint64_t)64 << 20)

enum sumdb_zip_status {
	SUMDB_ZIP_OK = 0,
	/* The bytes are not an acceptable module zip: the sender is at fault
	 * (quarantine them, count it against the upstream). */
	SUMDB_ZIP_INVALID = -1,
	/* A local failure: read error, out of memory, OpenSSL failure, bad
	 * arguments. Says nothing about the bytes; do not blame the upstream. */
	SUMDB_ZIP_ERROR = -2,
};

/* One entry of a zip, as a hook sees it. */
struct sumdb_zip_entry {
	const char *name; /* raw bytes from the central directory, NUL-terminated for
	                     convenience, but may hold NUL itself: use name_len */
	size_t name_len;
	uint64_t size;            /* declared uncompressed size; the pass fails unless the
	                             file inflates to exactly this many bytes */
	unsigned char sha256[32]; /* SHA-256 of the content; valid in the hashed hook */
};

/* Hooks that let a rule checker (sumdb/zipcheck) ride the hash pass, so a zip
 * is read and inflated once. Both run on the calling thread, entries in zip
 * order; the array and its strings are borrowed for the duration of the call.
 * A hook returns 0 to go on, or SUMDB_ZIP_INVALID / SUMDB_ZIP_ERROR with err
 * filled, which ends the pass with that value. Either hook may be NULL. */
struct sumdb_zip_hooks {
	/* After the central directory has been read and the structural rules
	 * above checked, before anything is inflated. */
	int (*listed)(void *arg, const struct sumdb_zip_entry *files, size_t n, char *err,
	              size_t errlen);
	/* After every file has been inflated and hashed, before the h1: is made. */
	int (*hashed)(void *arg, const struct sumdb_zip_entry *files, size_t n, char *err,
	              size_t errlen);
	void *arg;
};

/* The h1: of a go.mod file (Hash1 of one file named "go.mod" holding data),
 * what go.sum records as "$module $version/go.mod h1:...". data is borrowed
 * (may be NULL when len is 0). Writes SUMDB_H1_LEN characters and a NUL into
 * out. 0, or SUMDB_ZIP_ERROR if OpenSSL fails. */
int sumdb_hash_gomod(const void *data, size_t len, char out[SUMDB_H1_LEN + 1], char *err,
                     size_t errlen);

/* The h1: of the module zip read through fd, as dirhash.HashZip computes it.
 * fd is borrowed: it must be a regular file open for reading; it is read with
 * pread only, so its offset never moves and other threads may pread or
 * sendfile from it meanwhile; the caller still owns and closes it. Checks
 * the structural rules above but not the module zip rules (see
 * sumdb/zipcheck.h). Blocking: worker thread only. 0 with out filled,
 * SUMDB_ZIP_INVALID or SUMDB_ZIP_ERROR. */
int sumdb_hash_zip_fd(int fd, char out[SUMDB_H1_LEN + 1], char *err, size_t errlen);

/* sumdb_hash_zip_fd with hooks (may be NULL); out may be NULL when only the
 * hooks' verdict is wanted. Same ownership and threading. */
int sumdb_hash_zip_fd_hooks(int fd, const struct sumdb_zip_hooks *hooks, char out[SUMDB_H1_LEN + 1],
                            char *err, size_t errlen);

/* Writes s (len bytes, may hold NUL) into dst as a double-quoted string fit
 * for an error line: printable ASCII as is, '"' and '\' escaped, every other
 * byte as \xNN, cut with "..." after 120 input bytes. dst always ends up
 * NUL-terminated (when dstlen > 0). Pure; any thread. Returns dst. */
char *sumdb_quote(char *dst, size_t dstlen, const char *s, size_t len);

#endif
