/*
 * dirhash — h1: hashes of module zips and go.mod files.
 *
 * One pass over a zip, all state on the caller's stack or heap:
 *   1. fstat: at most SUMDB_ZIP_MAX_SIZE bytes.
 *   2. Our own read of the central directory, a port of what Go's
 *      archive/zip does (readDirectoryEnd, readDirectoryHeader): the entry
 *      names, sizes and CRCs exactly as the go command sees them.
 *   3. libzip opens the same bytes through a pread source; its entry count,
 *      sizes, CRCs, methods and names must agree with ours, so the bytes we
 *      hash are the bytes Go would hash.
 *   4. Structural rules (methods, sizes, data descriptors, directories), then
 *      the listed hook.
 *   5. Every file inflated once and hashed, reading at most one byte past its
 *      declared size; then the hashed hook, the sorted summary and the h1:.
 *
 * Why not trust libzip alone: it replaces a NUL in a name with a space and
 * prefers an Info-ZIP Unicode Path extra field to the stored name, where Go
 * keeps the stored bytes; and it does not check that a file inflates to its
 * declared size. Each of those gives a hash the go command never computes.
 */
#include "sumdb/dirhash.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zip.h>

#define SIG_LOCAL 0x04034b50u
#define SIG_CDIR 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_EOCD64_LOC 0x07064b50u
#define SIG_DESCRIPTOR 0x08074b50u

#define LOCAL_LEN 30
#define CDIR_LEN 46
#define EOCD_LEN 22
#define EOCD64_LOC_LEN 20
#define EOCD64_LEN 56

#define EXTRA_ZIP64 0x0001
#define EXTRA_UNICODE_PATH 0x7075

#define FLAG_ENCRYPTED 0x0001
#define FLAG_DESCRIPTOR 0x0008

#define METHOD_STORE 0
#define METHOD_DEFLATE 8

/* One central directory header with its name, extra and comment fits. */
#define CDR_BUF (256 * 1024)
/* Inflated bytes handed to SHA-256 per zip_fread. */
#define INFLATE_BUF (128 * 1024)
/* Read-ahead for libzip's small reads of compressed data, and for ours. */
#define SRC_CACHE (64 * 1024)
#define READ_CACHE (64 * 1024)

/* What the pass knows of an entry beyond what hooks see. */
struct zmeta {
	uint16_t flags, method;
	uint32_t crc;
	uint64_t csize;
	uint64_t offset;  /* of the local header */
	int unicode_path; /* has an Info-ZIP Unicode Path field */
	int shadowed;     /* a later entry has the same name (Go hashes that one) */
};

struct zpass {
	int fd;
	uint64_t size;
	unsigned char *cache; /* read-ahead for the header checks, or NULL */
	uint64_t cache_off;
	size_t cache_len;
	struct sumdb_zip_entry *files;
	struct zmeta *meta;
	size_t n, cap;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 4, 5))) static int fail(char *err, size_t errlen, int status,
                                                      const char *fmt, ...)
{
	va_list ap;

	if (err && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return status;
}

static uint16_t le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static const char hexdigits[] = "0123456789abcdef";

char *sumdb_quote(char *dst, size_t dstlen, const char *s, size_t len)
{
	size_t o = 0, i, lim = len > 120 ? 120 : len;

#define PUT(c)                                                                                     \
	do {                                                                                       \
		if (o + 1 < dstlen)                                                                \
			dst[o++] = (char)(c);                                                      \
	} while (0)
	if (dstlen == 0)
		return dst;
	PUT('"');
	for (i = 0; i < lim; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			PUT('\\');
			PUT(c);
		} else if (c >= 0x20 && c < 0x7f) {
			PUT(c);
		} else {
			PUT('\\');
			PUT('x');
			PUT(hexdigits[c >> 4]);
			PUT(hexdigits[c & 15]);
		}
	}
	PUT('"');
	if (len > lim) {
		PUT('.');
		PUT('.');
		PUT('.');
	}
#undef PUT
	dst[o] = '\0';
	return dst;
}

/* Reads exactly len bytes at off. 1 when read; 0 when the file ends first
 * (or off lies beyond it: offsets come from untrusted headers); -1 with errno
 * on a read error. Small reads go through p->cache when there is one: the
 * header checks walk the file from start to end, a few bytes per entry. */
static int read_at(struct zpass *p, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	if (off > p->size || len > p->size - off)
		return 0;
	if (p->cache && len <= READ_CACHE) {
		if (off < p->cache_off || off + len > p->cache_off + p->cache_len) {
			size_t want =
			    p->size - off < READ_CACHE ? (size_t)(p->size - off) : READ_CACHE;
			unsigned char *cache = p->cache;
			int r;

			p->cache = NULL; /* fill it with a direct read */
			p->cache_len = 0;
			r = read_at(p, cache, want, off);
			p->cache = cache;
			if (r <= 0)
				return r;
			p->cache_off = off;
			p->cache_len = want;
		}
		memcpy(buf, p->cache + (off - p->cache_off), len);
		return 1;
	}
	while (done < len) {
		ssize_t n = pread(p->fd, (char *)buf + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		done += (size_t)n;
	}
	return 1;
}

/* ---- the central directory, as archive/zip reads it ---------------------- */

/* findSignatureInBlock: the last end record in b whose comment fits. Like
 * Go, a candidate with a truncated comment ends the search. */
static long find_eocd(const unsigned char *b, size_t len)
{
	long i;

	if (len < EOCD_LEN)
		return -1;
	for (i = (long)(len - EOCD_LEN); i >= 0; i--) {
		if (le32(b + i) != SIG_EOCD)
			continue;
		if ((size_t)i + EOCD_LEN + le16(b + i + EOCD_LEN - 2) > len)
			return -1;
		return i;
	}
	return -1;
}

struct dir_end {
	uint64_t offset; /* of the end record (the zip64 one when present) */
	uint64_t records, dir_size, dir_offset;
};

static int read_dir_end(struct zpass *p, struct dir_end *d)
{
	static const uint64_t blocks[2] = {1024, 65 * 1024};
	unsigned char *buf = malloc(65 * 1024), loc[EOCD64_LOC_LEN], e64[EOCD64_LEN];
	long at = -1;
	int i, rc = SUMDB_ZIP_OK;

	if (!buf)
		return fail(p->err, p->errlen, SUMDB_ZIP_ERROR, "out of memory");
	for (i = 0; i < 2; i++) {
		uint64_t blen = blocks[i] > p->size ? p->size : blocks[i];
		int r = read_at(p, buf, blen, p->size - blen);

		if (r < 0) {
			rc = fail(p->err, p->errlen, SUMDB_ZIP_ERROR, "read zip: %s",
			          strerror(errno));
			goto out;
		}
		at = r > 0 ? find_eocd(buf, blen) : -1;
		if (at >= 0) {
			d->offset = p->size - blen + (uint64_t)at;
			break;
		}
		if (i == 1 || blen == p->size) {
			rc = fail(p->err, p->errlen, SUMDB_ZIP_INVALID,
			          "not a valid zip file: no end of central directory record");
			goto out;
		}
	}
	d->records = le16(buf + at + 10);
	d->dir_size = le32(buf + at + 12);
	d->dir_offset = le32(buf + at + 16);

	/* Go looks for zip64 records on these values (0xffff for the size is
	 * Go's own test, kept so that we read what it reads). */
	if (d->records == 0xffff || d->dir_size == 0xffff || d->dir_offset == 0xffffffff) {
		if (d->offset >= EOCD64_LOC_LEN) {
			int r = read_at(p, loc, sizeof(loc), d->offset - EOCD64_LOC_LEN);

			if (r < 0) {
				rc = fail(p->err, p->errlen, SUMDB_ZIP_ERROR, "read zip: %s",
				          strerror(errno));
				goto out;
			}
			if (r > 0 && le32(loc) == SIG_EOCD64_LOC && le32(loc + 4) == 0 &&
			    le32(loc + 16) == 1) {
				uint64_t off64 = le64(loc + 8);

				r = read_at(p, e64, sizeof(e64), off64);
				if (r < 0) {
					rc = fail(p->err, p->errlen, SUMDB_ZIP_ERROR,
					          "read zip: %s", strerror(errno));
					goto out;
				}
				if (r == 0 || le32(e64) != SIG_EOCD64) {
					rc = fail(p->err, p->errlen, SUMDB_ZIP_INVALID,
					          "not a valid zip file: bad zip64 end record");
					goto out;
				}
				d->offset = off64;
				d->records = le64(e64 + 32);
				d->dir_size = le64(e64 + 40);
				d->dir_offset = le64(e64 + 48);
			}
		}
	}
out:
	free(buf);
	return rc;
}

/* A sequential reader over the central directory. */
struct cdr {
	const struct zpass *p;
	uint64_t next; /* file offset of buf[len] */
	unsigned char *buf;
	size_t start, len; /* unread bytes are buf[start, len) */
};

/* Makes k <= CDR_BUF bytes available at buf + start: 1, 0 at end of file, -1
 * on a read error. */
static int cdr_need(struct cdr *r, size_t k)
{
	if (r->len - r->start >= k)
		return 1;
	memmove(r->buf, r->buf + r->start, r->len - r->start);
	r->len -= r->start;
	r->start = 0;
	while (r->len < k) {
		uint64_t left = r->p->size - r->next;
		size_t want = CDR_BUF - r->len;
		ssize_t n;

		if (left == 0)
			return 0;
		if (want > left)
			want = (size_t)left;
		n = pread(r->p->fd, r->buf + r->len, want, (off_t)r->next);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		r->len += (size_t)n;
		r->next += (uint64_t)n;
	}
	return 1;
}

static int add_entry(struct zpass *p, const unsigned char *h)
{
	size_t nlen = le16(h + 28), xlen = le16(h + 30);
	const unsigned char *x = h + CDIR_LEN + nlen, *xend = x + xlen;
	struct sumdb_zip_entry *f;
	struct zmeta *m;
	int need_usize, need_csize, need_offset;
	char *name;

	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 64;
		void *nf = realloc(p->files, cap * sizeof(*p->files));

		if (!nf)
			return -1;
		p->files = nf;
		nf = realloc(p->meta, cap * sizeof(*p->meta));
		if (!nf)
			return -1;
		p->meta = nf;
		p->cap = cap;
	}
	name = malloc(nlen + 1);
	if (!name)
		return -1;
	memcpy(name, h + CDIR_LEN, nlen);
	name[nlen] = '\0';
	f = &p->files[p->n];
	m = &p->meta[p->n];
	memset(f, 0, sizeof(*f));
	memset(m, 0, sizeof(*m));
	f->name = name;
	f->name_len = nlen;
	p->n++;
	m->flags = le16(h + 8);
	m->method = le16(h + 10);
	m->crc = le32(h + 16);
	m->csize = le32(h + 20);
	f->size = le32(h + 24);
	m->offset = le32(h + 42);
	need_usize = f->size == 0xffffffff;
	need_csize = m->csize == 0xffffffff;
	need_offset = m->offset == 0xffffffff;
	/* The extra fields, read as Go reads them: a zip64 field supplies the
	 * values that are maxed out above, in this order. */
	while (xend - x >= 4) {
		unsigned tag = le16(x), size = le16(x + 2);
		const unsigned char *b = x + 4, *bend = b + size;

		if ((size_t)(xend - b) < size)
			break;
		x = bend;
		if (tag == EXTRA_UNICODE_PATH) {
			m->unicode_path = 1;
		} else if (tag == EXTRA_ZIP64) {
			if (need_usize) {
				need_usize = 0;
				if (bend - b < 8)
					return 1;
				f->size = le64(b);
				b += 8;
			}
			if (need_csize) {
				need_csize = 0;
				if (bend - b < 8)
					return 1;
				m->csize = le64(b);
				b += 8;
			}
			if (need_offset) {
				need_offset = 0;
				if (bend - b < 8)
					return 1;
				m->offset = le64(b);
			}
		}
	}
	return 0;
}

/* readDirectoryEnd + Reader.init: fills p->files and p->meta. */
static int read_dir(struct zpass *p)
{
	struct dir_end d = {0};
	struct cdr r = {.p = p};
	uint64_t used = 0;
	int rc = read_dir_end(p, &d);

	if (rc)
		return rc;
	if (d.dir_size > INT64_MAX || d.dir_offset > INT64_MAX || d.dir_size > d.offset)
		return fail(p->err, p->errlen, SUMDB_ZIP_INVALID,
		            "not a valid zip file: central directory out of bounds");
	/* Go accepts data before the first entry (a "base offset"); the go
	 * command never writes it and libzip does not read it the same way.
	 * Go also takes the offset as written when a header is found there. */
	if (d.offset - d.dir_size != d.dir_offset) {
		unsigned char sig[4];

		if (d.offset - d.dir_size < d.dir_offset || read_at(p, sig, 4, d.dir_offset) != 1 ||
		    le32(sig) != SIG_CDIR)
			return fail(p->err, p->errlen, SUMDB_ZIP_INVALID,
			            "zip has data before its first entry");
	}
	r.next = d.dir_offset;
	r.buf = malloc(CDR_BUF);
	if (!r.buf)
		return fail(p->err, p->errlen, SUMDB_ZIP_ERROR, "out of memory");
	/* Like Go, read headers until one fails, then compare the count. */
	for (;;) {
		const unsigned char *h;
		size_t total;
		int got = cdr_need(&r, CDIR_LEN);

		if (got == 0)
			break;
		if (got < 0) {
			rc = fail(p->err, p->errlen, SUMDB_ZIP_ERROR, "read zip: %s",
			          strerror(errno));
			goto out;
		}
		h = r.buf + r.start;
		if (le32(h) != SIG_CDIR)
			break;
		total = CDIR_LEN + (size_t)le16(h + 28) + le16(h + 30) + le16(h + 32);
		got = cdr_need(&r, total);
		if (got == 0)
			break;
		if (got < 0) {
			rc = fail(p->err, p->errlen, SUMDB_ZIP_ERROR, "read zip: %s",
			          strerror(errno));
			goto out;
		}
		used += total;
		if (used > SUMDB_ZIP_MAX_DIR) {
			rc = fail(p->err, p->errlen, SUMDB_ZIP_INVALID,
			          "zip central directory larger than %llu bytes",
			          (unsigned long long)SUMDB_ZIP_MAX_DIR);
			goto out;
		}
		got = add_entry(p, r.buf + r.start);
		if (got < 0) {
			rc = fail(p->err, p->errlen, SUMDB_ZIP_ERROR, "out of memory");
			goto out;
		}
		if (got > 0) {
			/* A short zip64 field: Go stops reading headers here. */
			free((char *)p->files[--p->n].name);
			break;
		}
		r.start += total;
	}
	/* Go compares only 16 bits of the count; the go command never writes
	 * a zip where the difference matters, and libzip reads exactly the
	 * count, so insist on it. */
	if (p->n != d.records)
		rc = fail(p->err, p->errlen, SUMDB_ZIP_INVALID,
		          "not a valid zip file: central directory has %zu entries, end record "
		          "says %llu",
		          p->n, (unsigned long long)d.records);
out:
	free(r.buf);
	return rc;
}

/* ---- libzip over pread ------------------------------------------------- */

/* A read-only libzip source on a borrowed descriptor. pread keeps the
 * descriptor's offset untouched (a dup would share it), so the loop may use
 * the same descriptor while a worker hashes. */
struct src {
	int fd;
	uint64_t size, pos;
	zip_error_t error;
	unsigned char *cache;
	uint64_t cache_off;
	size_t cache_len;
};

static zip_int64_t src_read(struct src *s, unsigned char *out, zip_uint64_t len)
{
	uint64_t left = s->pos < s->size ? s->size - s->pos : 0;
	unsigned char *dst;
	size_t want;
	ssize_t n;

	if (len > left)
		len = left;
	if (len > (1u << 30))
		len = 1u << 30;
	if (len == 0)
		return 0;
	if (s->pos >= s->cache_off && s->pos - s->cache_off < s->cache_len) {
		size_t have = s->cache_len - (size_t)(s->pos - s->cache_off);

		if (len > have)
			len = have;
		memcpy(out, s->cache + (s->pos - s->cache_off), len);
		s->pos += len;
		return (zip_int64_t)len;
	}
	/* Big reads go straight to the caller; small ones through the cache. */
	dst = len >= SRC_CACHE ? out : s->cache;
	want = len >= SRC_CACHE ? (size_t)len : (left < SRC_CACHE ? (size_t)left : SRC_CACHE);
	do
		n = pread(s->fd, dst, want, (off_t)s->pos);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		zip_error_set(&s->error, ZIP_ER_READ, errno);
		return -1;
	}
	if (dst == s->cache) {
		s->cache_off = s->pos;
		s->cache_len = (size_t)n;
		if ((size_t)n < len)
			len = (size_t)n;
		memcpy(out, s->cache, len);
	} else {
		len = (size_t)n;
	}
	s->pos += len;
	return (zip_int64_t)len;
}

static zip_int64_t src_cb(void *ud, void *data, zip_uint64_t len, zip_source_cmd_t cmd)
{
	struct src *s = ud;

	switch (cmd) {
	case ZIP_SOURCE_OPEN:
		s->pos = 0;
		return 0;
	case ZIP_SOURCE_READ:
		return src_read(s, data, len);
	case ZIP_SOURCE_CLOSE:
	case ZIP_SOURCE_FREE:
		return 0;
	case ZIP_SOURCE_STAT: {
		zip_stat_t *st = data;

		if (len < sizeof(*st)) {
			zip_error_set(&s->error, ZIP_ER_INVAL, 0);
			return -1;
		}
		zip_stat_init(st);
		st->size = s->size;
		st->valid |= ZIP_STAT_SIZE;
		return sizeof(*st);
	}
	case ZIP_SOURCE_ERROR:
		return zip_error_to_data(&s->error, data, len);
	case ZIP_SOURCE_SEEK: {
		zip_int64_t to =
		    zip_source_seek_compute_offset(s->pos, s->size, data, len, &s->error);

		if (to < 0)
			return -1;
		s->pos = (uint64_t)to;
		return 0;
	}
	case ZIP_SOURCE_TELL:
		return (zip_int64_t)s->pos;
	case ZIP_SOURCE_SUPPORTS:
		return zip_source_make_command_bitmap(
		    ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE, ZIP_SOURCE_STAT,
		    ZIP_SOURCE_ERROR, ZIP_SOURCE_FREE, ZIP_SOURCE_SEEK, ZIP_SOURCE_TELL,
		    ZIP_SOURCE_SUPPORTS, -1);
	default:
		zip_error_set(&s->error, ZIP_ER_OPNOTSUPP, 0);
		return -1;
	}
}

/* A libzip error is ours (I/O, memory) or the zip's (everything else). */
static int zip_status(zip_error_t *ze)
{
	switch (zip_error_code_zip(ze)) {
	case ZIP_ER_MEMORY:
	case ZIP_ER_READ:
	case ZIP_ER_INTERNAL:
	case ZIP_ER_OPEN:
	case ZIP_ER_TMPOPEN:
	case ZIP_ER_WRITE:
	case ZIP_ER_CLOSE:
		return SUMDB_ZIP_ERROR;
	default:
		return SUMDB_ZIP_INVALID;
	}
}

/* ---- the pass ---------------------------------------------------------- */

static int cmp_name(const void *a, const void *b)
{
	const struct sumdb_zip_entry *x = *(const struct sumdb_zip_entry *const *)a;
	const struct sumdb_zip_entry *y = *(const struct sumdb_zip_entry *const *)b;
	size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
	int c = memcmp(x->name, y->name, n);

	if (c)
		return c;
	if (x->name_len != y->name_len)
		return x->name_len < y->name_len ? -1 : 1;
	/* Equal names: zip order, so the last of a run is the last in the zip. */
	return x < y ? -1 : x > y;
}

static int same_name(const struct sumdb_zip_entry *x, const struct sumdb_zip_entry *y)
{
	return x->name_len == y->name_len && memcmp(x->name, y->name, x->name_len) == 0;
}

static int is_dir_entry(const struct sumdb_zip_entry *f)
{
	return f->name_len > 0 && f->name[f->name_len - 1] == '/';
}

/* libzip must read the archive as we do. */
static int cross_check(struct zpass *p, zip_t *z)
{
	zip_int64_t count = zip_get_num_entries(z, 0);
	size_t i, j;
	char q[300];

	if (count < 0 || (uint64_t)count != p->n)
		return fail(
		    p->err, p->errlen, SUMDB_ZIP_INVALID,
		    "ambiguous zip: libzip reads %lld entries, the central directory has %zu",
		    (long long)count, p->n);
	for (i = 0; i < p->n; i++) {
		const struct sumdb_zip_entry *f = &p->files[i];
		const struct zmeta *m = &p->meta[i];
		zip_uint64_t need =
		    ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE | ZIP_STAT_CRC | ZIP_STAT_COMP_METHOD;
		const char *lname;
		zip_stat_t st;

		zip_stat_init(&st);
		if (zip_stat_index(z, i, 0, &st) < 0 || (st.valid & need) != need ||
		    st.size != f->size || st.comp_size != m->csize || st.crc != m->crc ||
		    st.comp_method != m->method ||
		    ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) &&
		     st.encryption_method != ZIP_EM_NONE) != ((m->flags & FLAG_ENCRYPTED) != 0))
			return fail(p->err, p->errlen, SUMDB_ZIP_INVALID,
			            "ambiguous zip: libzip reads entry %s differently",
			            sumdb_quote(q, sizeof(q), f->name, f->name_len));
		if (m->unicode_path)
			continue; /* libzip reports the extra field's name; Go the stored one */
		lname = zip_get_name(z, i, ZIP_FL_ENC_RAW);
		if (!lname || strlen(lname) != f->name_len)
			goto bad_name;
		for (j = 0; j < f->name_len; j++)
			if (lname[j] != (f->name[j] ? f->name[j] : ' '))
				goto bad_name;
		continue;
	bad_name:
		return fail(p->err, p->errlen, SUMDB_ZIP_INVALID,
		            "ambiguous zip: libzip reads the name of entry %s differently",
		            sumdb_quote(q, sizeof(q), f->name, f->name_len));
	}
	return SUMDB_ZIP_OK;
}

/* What Go's File.Open and checksumReader insist on, checked before inflating.
 * Only entries Go would open (not shadowed) are looked at. */
static int check_entry(struct zpass *p, size_t i)
{
	const struct sumdb_zip_entry *f = &p->files[i];
	const struct zmeta *m = &p->meta[i];
	unsigned char h[LOCAL_LEN], desc[16];
	uint64_t body;
	char q[300];
	int r;

	sumdb_quote(q, sizeof(q), f->name, f->name_len);
	if (memchr(f->name, '\n', f->name_len))
		return fail(p->err, p->errlen, SUMDB_ZIP_INVALID,
		            "%s: file names with newlines are not supported", q);
	r = read_at(p, h, sizeof(h), m->offset);
	if (r < 0)
		return fail(p->err, p->errlen, SUMDB_ZIP_ERROR, "read zip: %s", strerror(errno));
	if (r == 0 || le32(h) != SIG_LOCAL)
		return fail(p->err, p->errlen, SUMDB_ZIP_INVALID, "%s: bad local file header", q);
	if (is_dir_entry(f)) {
		if (f->size != 0)
			return fail(p->err, p->errlen, SUMDB_ZIP_INVALID,
			            "%s: directory entry has content", q);
		return SUMDB_ZIP_OK;
	}
	if (m->method != METHOD_STORE && m->method != METHOD_DEFLATE)
		return fail(p->err, p->errlen, SUMDB_ZIP_INVALID,
		            "%s: unsupported compression method %u", q, m->method);
	if (m->flags & FLAG_ENCRYPTED)
		return fail(p->err, p->errlen, SUMDB_ZIP_INVALID, "%s: encrypted entry", q);
	if (!(m->flags & FLAG_DESCRIPTOR))
		return SUMDB_ZIP_OK;
	/* Go checks the data descriptor's CRC-32 against the directory's. */
	body = m->offset + LOCAL_LEN + le16(h + 26) + le16(h + 28);
	if (m->csize > p->size || body > p->size - m->csize)
		return fail(p->err, p->errlen, SUMDB_ZIP_INVALID, "%s: data out of bounds", q);
	/* 12 bytes (CRC-32 and two sizes), 16 with the optional signature. */
	r = read_at(p, desc, p->size - body - m->csize >= 16 ? 16 : 12, body + m->csize);
	if (r < 0)
		return fail(p->err, p->errlen, SUMDB_ZIP_ERROR, "read zip: %s", strerror(errno));
	if (r == 0 || (le32(desc) == SIG_DESCRIPTOR && p->size - body - m->csize < 16))
		return fail(p->err, p->errlen, SUMDB_ZIP_INVALID, "%s: truncated data descriptor",
		            q);
	if (le32(le32(desc) == SIG_DESCRIPTOR ? desc + 4 : desc) != m->crc)
		return fail(p->err, p->errlen, SUMDB_ZIP_INVALID,
		            "%s: data descriptor checksum mismatch", q);
	return SUMDB_ZIP_OK;
}

/* Inflates entry i into its digest, never more than its size + 1 bytes. */
static int hash_entry(struct zpass *p, zip_t *z, size_t i, EVP_MD_CTX *ctx, unsigned char *buf)
{
	struct sumdb_zip_entry *f = &p->files[i];
	uint64_t got = 0;
	zip_file_t *zf = NULL;
	int rc = SUMDB_ZIP_OK;
	char q[300];

	if (!EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
		return fail(p->err, p->errlen, SUMDB_ZIP_ERROR, "sha256 init failed");
	if (!is_dir_entry(f)) {
		zf = zip_fopen_index(z, i, 0);
		if (!zf) {
			zip_error_t *ze = zip_get_error(z);

			return fail(p->err, p->errlen, zip_status(ze), "%s: %s",
			            sumdb_quote(q, sizeof(q), f->name, f->name_len),
			            zip_error_strerror(ze));
		}
		for (;;) {
			uint64_t want = f->size - got + 1;
			zip_int64_t n = zip_fread(zf, buf, want < INFLATE_BUF ? want : INFLATE_BUF);

			if (n < 0) {
				zip_error_t *ze = zip_file_get_error(zf);

				rc = fail(p->err, p->errlen, zip_status(ze), "%s: %s",
				          sumdb_quote(q, sizeof(q), f->name, f->name_len),
				          zip_error_strerror(ze));
				goto out;
			}
			if (n == 0)
				break;
			got += (uint64_t)n;
			if (got > f->size) {
				rc =
				    fail(p->err, p->errlen, SUMDB_ZIP_INVALID,
				         "%s: uncompressed size is larger than declared size (%llu "
				         "bytes)",
				         sumdb_quote(q, sizeof(q), f->name, f->name_len),
				         (unsigned long long)f->size);
				goto out;
			}
			if (!EVP_DigestUpdate(ctx, buf, (size_t)n)) {
				rc = fail(p->err, p->errlen, SUMDB_ZIP_ERROR, "sha256 failed");
				goto out;
			}
		}
		if (got < f->size) {
			rc =
			    fail(p->err, p->errlen, SUMDB_ZIP_INVALID,
			         "%s: uncompressed size is smaller than declared size (%llu bytes)",
			         sumdb_quote(q, sizeof(q), f->name, f->name_len),
			         (unsigned long long)f->size);
			goto out;
		}
	}
	if (!EVP_DigestFinal_ex(ctx, f->sha256, NULL))
		rc = fail(p->err, p->errlen, SUMDB_ZIP_ERROR, "sha256 failed");
out:
	if (zf)
		zip_fclose(zf);
	return rc;
}

/* Hash1 over the entries in sorted order: "hex  name\n" per file. */
static int summarize(struct zpass *p, struct sumdb_zip_entry **order, char out[SUMDB_H1_LEN + 1])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char sum[32];
	char line[64 + 2];
	size_t i, k;
	int ok;

	if (!ctx)
		return fail(p->err, p->errlen, SUMDB_ZIP_ERROR, "out of memory");
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	for (i = 0; ok && i < p->n; i++) {
		for (k = 0; k < 32; k++) {
			line[2 * k] = hexdigits[order[i]->sha256[k] >> 4];
			line[2 * k + 1] = hexdigits[order[i]->sha256[k] & 15];
		}
		line[64] = line[65] = ' ';
		ok = EVP_DigestUpdate(ctx, line, sizeof(line)) &&
		     EVP_DigestUpdate(ctx, order[i]->name, order[i]->name_len) &&
		     EVP_DigestUpdate(ctx, "\n", 1);
	}
	ok = ok && EVP_DigestFinal_ex(ctx, sum, NULL);
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return fail(p->err, p->errlen, SUMDB_ZIP_ERROR, "sha256 failed");
	memcpy(out, "h1:", 3);
	EVP_EncodeBlock((unsigned char *)out + 3, sum, sizeof(sum));
	return SUMDB_ZIP_OK;
}

static int run_pass(struct zpass *p, const struct sumdb_zip_hooks *hooks,
                    char out[SUMDB_H1_LEN + 1])
{
	struct src s = {.fd = p->fd, .size = p->size};
	struct sumdb_zip_entry **order = NULL;
	zip_source_t *zs = NULL;
	zip_t *z = NULL;
	EVP_MD_CTX *ctx = NULL;
	unsigned char *buf = NULL;
	uint64_t total = 0;
	zip_error_t ze;
	size_t i;
	int rc;

	zip_error_init(&ze);
	zip_error_init(&s.error);
	rc = read_dir(p);
	if (rc)
		goto out;

	s.cache = malloc(SRC_CACHE);
	p->cache = malloc(READ_CACHE);
	order = malloc((p->n ? p->n : 1) * sizeof(*order));
	buf = malloc(INFLATE_BUF);
	ctx = EVP_MD_CTX_new();
	if (!s.cache || !p->cache || !order || !buf || !ctx) {
		rc = fail(p->err, p->errlen, SUMDB_ZIP_ERROR, "out of memory");
		goto out;
	}
	zs = zip_source_function_create(src_cb, &s, &ze);
	if (!zs) {
		rc =
		    fail(p->err, p->errlen, SUMDB_ZIP_ERROR, "libzip: %s", zip_error_strerror(&ze));
		goto out;
	}
	z = zip_open_from_source(zs, ZIP_RDONLY, &ze);
	if (!z) {
		rc =
		    fail(p->err, p->errlen, zip_status(&ze), "libzip: %s", zip_error_strerror(&ze));
		goto out;
	}
	zs = NULL; /* z owns it now */
	rc = cross_check(p, z);
	if (rc)
		goto out;

	/* dirhash.HashZip keeps the last entry of each name (a map) and hashes
	 * it once per occurrence; the others are never opened. */
	for (i = 0; i < p->n; i++)
		order[i] = &p->files[i];
	qsort(order, p->n, sizeof(*order), cmp_name);
	for (i = 0; i + 1 < p->n; i++)
		if (same_name(order[i], order[i + 1]))
			p->meta[order[i] - p->files].shadowed = 1;

	for (i = 0; i < p->n; i++) {
		if (p->files[i].size > SUMDB_ZIP_MAX_SIZE - total) {
			rc = fail(p->err, p->errlen, SUMDB_ZIP_INVALID,
			          "total uncompressed size of module contents too large (max size "
			          "is %llu bytes)",
			          (unsigned long long)SUMDB_ZIP_MAX_SIZE);
			goto out;
		}
		total += p->files[i].size;
	}
	for (i = 0; i < p->n; i++) {
		if (p->meta[i].shadowed)
			continue;
		rc = check_entry(p, i);
		if (rc)
			goto out;
	}
	if (hooks && hooks->listed) {
		rc = hooks->listed(hooks->arg, p->files, p->n, p->err, p->errlen);
		if (rc)
			goto out;
	}
	for (i = 0; i < p->n; i++) {
		if (p->meta[i].shadowed)
			continue;
		rc = hash_entry(p, z, i, ctx, buf);
		if (rc)
			goto out;
	}
	/* Walk runs of equal names backwards: each takes the digest of the last. */
	for (i = p->n; i-- > 1;)
		if (same_name(order[i - 1], order[i]))
			memcpy(order[i - 1]->sha256, order[i]->sha256, 32);
	if (hooks && hooks->hashed) {
		rc = hooks->hashed(hooks->arg, p->files, p->n, p->err, p->errlen);
		if (rc)
			goto out;
	}
	if (out)
		rc = summarize(p, order, out);
out:
	if (z)
		zip_discard(z);
	if (zs)
		zip_source_free(zs);
	zip_error_fini(&ze);
	zip_error_fini(&s.error);
	EVP_MD_CTX_free(ctx);
	free(buf);
	free(order);
	free(s.cache);
	free(p->cache);
	p->cache = NULL;
	return rc;
}

int sumdb_hash_zip_fd_hooks(int fd, const struct sumdb_zip_hooks *hooks, char out[SUMDB_H1_LEN + 1],
                            char *err, size_t errlen)
{
	struct zpass p = {.fd = fd, .err = err, .errlen = errlen};
	struct stat st;
	size_t i;
	int rc;

	if (out)
		out[0] = '\0';
	if (fstat(fd, &st) < 0)
		return fail(err, errlen, SUMDB_ZIP_ERROR, "stat zip: %s", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return fail(err, errlen, SUMDB_ZIP_ERROR, "zip is not a regular file");
	if ((uint64_t)st.st_size > SUMDB_ZIP_MAX_SIZE)
		return fail(err, errlen, SUMDB_ZIP_INVALID,
		            "module zip file is too large (%lld bytes; limit is %llu bytes)",
		            (long long)st.st_size, (unsigned long long)SUMDB_ZIP_MAX_SIZE);
	p.size = (uint64_t)st.st_size;
	rc = run_pass(&p, hooks, out);
	for (i = 0; i < p.n; i++)
		free((char *)p.files[i].name);
	free(p.files);
	free(p.meta);
	if (rc && out)
		out[0] = '\0';
	return rc;
}

int sumdb_hash_zip_fd(int fd, char out[SUMDB_H1_LEN + 1], char *err, size_t errlen)
{
	return sumdb_hash_zip_fd_hooks(fd, NULL, out, err, errlen);
}

int sumdb_hash_gomod(const void *data, size_t len, char out[SUMDB_H1_LEN + 1], char *err,
                     size_t errlen)
{
	struct zpass p = {.n = 1, .err = err, .errlen = errlen};
	struct sumdb_zip_entry f = {.name = "go.mod", .name_len = 6, .size = len};
	struct sumdb_zip_entry *order = &f;
	unsigned int mdlen = 0;

	out[0] = '\0';
	p.files = &f;
	if (!EVP_Digest(len ? data : "", len, f.sha256, &mdlen, EVP_sha256(), NULL))
		return fail(err, errlen, SUMDB_ZIP_ERROR, "sha256 failed");
	return summarize(&p, &order, out);
}
