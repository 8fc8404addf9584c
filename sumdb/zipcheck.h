/*
 * zipcheck — the module zip rules of golang.org/x/mod/zip (CheckZip, as
 * the go command applies them when it extracts a module), enforced before a
 * zip may be committed to the cache, in the same pass that computes its h1:.
 *
 * On top of the structural rules every sumdb/dirhash pass enforces (size
 * limits checked while inflating, CRCs, methods; see dirhash.h):
 *   - every name starts with "module@version/";
 *   - every remaining path is clean (path.Clean) and passes
 *     module.CheckFilePath: valid UTF-8, no empty, "." or ".." element, no
 *     leading or trailing "/", letters (any Unicode letter), digits, space and
 *     !#$%&()+,-.=@[]^_{}~ only (so no backslash, colon, NUL or control
 *     byte), no trailing dot, no Windows reserved name (CON, com1.txt, ...);
 *   - no two paths equal under Unicode simple case folding (strings.EqualFold,
 *     as zip.go's strToFold computes it: the same result as Go for ASCII and
 *     for every non-ASCII letter, from tables generated out of Go's unicode
 *     package, Unicode 15.0.0), no path both a file and a directory, no file
 *     twice;
 *   - a go.mod only at the module root and spelled "go.mod";
 *   - go.mod and LICENSE at most SUMDB_ZIP_MAX_GOMOD bytes;
 *   - the module path's major version suffix agrees with the version
 *     (module.Check: example.com/m/v2 needs v2.x.y).
 * And one rule of modgate's own: the zip's go.mod is byte-equal to the .mod
 * served for the same version (compared through SHA-256 and length), or,
 * when the zip has none, the .mod is the go command's synthesized
 * "module <path>\n".
 *
 * Threading and errors as in dirhash.h: no globals, thread-safe, blocking
 * (worker thread only, never inside a libcurl or libevhtp callback); returns
 * 0, SUMDB_ZIP_INVALID (the zip breaks a rule) or SUMDB_ZIP_ERROR (local
 * failure, or module/version unusable), with one escaped line in err.
 */
#ifndef MODGATE_SUMDB_ZIPCHECK_H
#define MODGATE_SUMDB_ZIPCHECK_H

#include <stddef.h>

#include "sumdb/dirhash.h"

/* zip.MaxGoMod and zip.MaxLICENSE. */
#define SUMDB_ZIP_MAX_GOMOD (16u << 20)

/* Checks the module zip read through fd against every rule above and
 * computes its h1: in the same pass (each file inflated once): the one call a
 * checker worker makes before committing a zip.
 *
 * fd: borrowed, a regular file, read with pread only (its offset never
 * moves). module, version: borrowed; the module path as it appears in the
 * zip (unescaped, e.g. github.com/Azure/x) and a canonical version, both as
 * proxy/modpath validated them (CheckPath, canonical version); only light
 * sanity checks are repeated here. gomod/gomod_len: the .mod served for this
 * version (borrowed), or gomod NULL to skip that comparison (e.g. fsck with
 * no .mod at hand). h1: receives the hash, or "" on failure; may be NULL. */
int sumdb_zip_check_hash_fd(int fd, const char *module, const char *version, const void *gomod,
                            size_t gomod_len, char h1[SUMDB_H1_LEN + 1], char *err, size_t errlen);

/* sumdb_zip_check_hash_fd without the hash. */
int sumdb_zip_check_fd(int fd, const char *module, const char *version, const void *gomod,
                       size_t gomod_len, char *err, size_t errlen);

/* module.CheckFilePath on path (len bytes, may hold NUL, which is refused):
 * 0, or SUMDB_ZIP_INVALID with `malformed file path "...": reason` in err.
 * Pure, cheap; any thread. */
int sumdb_check_file_path(const char *path, size_t len, char *err, size_t errlen);

#endif
