/*
 * modpath — module paths and versions as the GOPROXY protocol spells them.
 *
 * A port of the rules in golang.org/x/mod module/module.go (CheckPath,
 * checkElem, EscapePath, UnescapePath, EscapeVersion, UnescapeVersion) and
 * semver/semver.go, plus the parser for the request paths the go command
 * sends a proxy: $module/@v/list, $module/@v/$version.{info,mod,zip} and
 * $module/@latest.
 *
 * Everything here is pure: no I/O, no allocation, no global state. Every
 * function is reentrant, thread-safe, and may be called from inside a libcurl
 * or libevhtp callback. String arguments are borrowed NUL-terminated strings;
 * out buffers are the caller's. Functions that can fail return 0 or -1 and,
 * on -1, write one short lowercase line into err (when err is not NULL and
 * errlen > 0; the line is truncated to fit). Untrusted bytes quoted in err
 * are escaped, so the line never holds a control character or a newline.
 */
#ifndef MODGATE_MODPATH_H
#define MODGATE_MODPATH_H

#include <stddef.h>

/* Longest module path or version we accept, unescaped. */
#define MODPATH_MAX 1024
/* Longest escaped form: every byte could be an uppercase letter, "!x". */
#define MODPATH_ESC_MAX (2 * MODPATH_MAX)
/* Longest raw request path modpath_parse_request looks at. */
#define MODPATH_RAW_MAX (4 * MODPATH_MAX)

enum modpath_kind { MODPATH_LIST, MODPATH_INFO, MODPATH_MOD, MODPATH_ZIP, MODPATH_LATEST };

/* One GOPROXY request, split and checked. Every string is NUL-terminated. The
 * module path passes CheckPath and the version passes checkElem in file-path
 * mode, so both can be joined under a cache directory as they are: no "..",
 * no empty element, no leading or trailing "/", no backslash, no NUL, no
 * control character.
 *
 * The esc_ forms are case-encoded ("!a" for "A"), not URL-encoded: a version
 * may hold '#', '%', ' ' and similar, so build upstream URLs with
 * modpath_url_escape. */
struct modpath_req {
	enum modpath_kind kind;
	char module[MODPATH_MAX + 1];          /* unescaped, e.g. github.com/Azure/x */
	char version[MODPATH_MAX + 1];         /* unescaped; "" for LIST and LATEST */
	char esc_module[MODPATH_ESC_MAX + 1];  /* canonical escaped, e.g. github.com/!azure/x */
	char esc_version[MODPATH_ESC_MAX + 1]; /* canonical escaped; "" for LIST and LATEST */
	int canonical; /* version is module.CanonicalVersion(version): v1.2.3, v1.2.3-pre,
	                  v2.0.0+incompatible; 0 for queries like "master" and for LIST/LATEST */
};

/* Parses the raw URL path of a GOPROXY request, as received on the wire (still
 * percent-encoded, without the query string), e.g.
 * "/github.com/!azure/x/@v/v1.2.3.zip".
 *
 * Percent-escapes are decoded once (an encoded "/" counts as "/"); a bad
 * escape, %00, or any control byte is refused. The path is then split at its
 * last "/@v/", or at a trailing "/@latest". A .mod or .zip version must be
 * canonical, since the go command asks for nothing else; a .info version may
 * be any query the go command would send (a branch name, a commit hash).
 *
 * Returns 0 with *req filled and *status 200. Returns -1 with *status 400
 * (malformed: no leading "/", longer than MODPATH_RAW_MAX bytes, bad
 * percent-encoding, bad case-encoding, invalid module path or version, module
 * or version longer than MODPATH_MAX unescaped) or 404 (well formed, but not a
 * GOPROXY endpoint, e.g. "/foo/@v/v1.0.0.tar"), err holding one line fit for
 * the client, and every string in *req empty. */
int modpath_parse_request(const char *raw, struct modpath_req *req, int *status, char *err,
                          size_t errlen);

/* Decodes the %XX escapes of raw[0..n) once into out (at least n bytes; not
 * NUL-terminated). Returns the decoded length, or -1 for a truncated or
 * non-hex escape or a control byte, raw or decoded. */
long modpath_percent_decode(const char *raw, size_t n, char *out);

/* module.EscapePath: checks path with modpath_check_path, then writes its
 * case-encoded form into out. 0, or -1 when the path is invalid or the result
 * (with its NUL) does not fit in outlen bytes. */
int modpath_escape_path(const char *path, char *out, size_t outlen, char *err, size_t errlen);

/* module.UnescapePath: decodes a case-encoded path ("!" + lowercase letter for
 * an uppercase letter; a bare uppercase letter, a "!" before anything else, or
 * a non-ASCII byte is malformed) into out, then checks the result with
 * modpath_check_path. 0, or -1 when malformed, invalid, or too long for out. */
int modpath_unescape_path(const char *esc, char *out, size_t outlen, char *err, size_t errlen);

/* module.EscapeVersion: checks v with modpath_check_version_elem and refuses
 * "!", then writes its case-encoded form into out. 0, or -1 when v is
 * disallowed or the result does not fit in outlen bytes. */
int modpath_escape_version(const char *v, char *out, size_t outlen, char *err, size_t errlen);

/* module.UnescapeVersion: decodes a case-encoded version into out and checks
 * the result with modpath_check_version_elem. 0, or -1 when malformed,
 * disallowed, or too long for out. */
int modpath_unescape_version(const char *esc, char *out, size_t outlen, char *err, size_t errlen);

/* module.CheckPath: 0 when path is a valid module path, else -1 with the
 * reason, e.g. `malformed module path "x.y/z/v1": invalid version`. */
int modpath_check_path(const char *path, char *err, size_t errlen);

/* A version must be a valid file-path element: checkElem in file-path mode,
 * which UnescapeVersion enforces. Not empty, not all dots, no trailing dot, no
 * Windows reserved name (CON, com1.x, ...), and only ASCII letters, digits,
 * space and the punctuation !#$%&()+,-.=@[]^_{}~. Stricter than Go in one
 * way: non-ASCII letters are refused too (Go's checkElem accepts them, but
 * UnescapeVersion and EscapeVersion never let them through). 0 or -1. */
int modpath_check_version_elem(const char *v, char *err, size_t errlen);

/* semver.IsValid: 1 when v is a semantic version as Go's semver package reads
 * it (leading "v"; vMAJOR and vMAJOR.MINOR shorthands allowed), else 0. */
int modpath_semver_is_valid(const char *v);

/* 1 when module.CanonicalVersion(v) == v and v is not empty: semver.Canonical(v)
 * == v, or v is a canonical version followed by "+incompatible". Else 0. */
int modpath_is_canonical_version(const char *v);

/* Percent-encodes s the way the go command puts paths into URLs
 * (url.PathEscape, with "/" kept): ASCII letters, digits, "-._~$&+:=@" and "/"
 * stay, every other byte becomes %XX. Use it on esc_module and esc_version to
 * build an upstream URL. 0, or -1 when the result does not fit in outlen bytes
 * (out then holds ""). */
int modpath_url_escape(const char *s, char *out, size_t outlen);

#endif
