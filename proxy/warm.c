/*
 * warm — `modgate warm FILE...`: every module version the files name is
 * fetched through a running modgate (so through its verification, into
 * its cache), a few at a time, with a progress line on a terminal and a
 * summary at the end.
 */
#include "proxy/warm.h"

#include "proxy/warmparse.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define FILE_MAX (64 << 20)
#define ERR_MAX 300

enum outcome { PENDING, HIT, MISS, FAILED };

/* One object (.info, .mod or .zip) of one entry. */
struct job {
	size_t entry;
	char url[3 * (2 * MODPATH_ESC_MAX + 16) + 512];
	enum outcome out;
	char cache[16];    /* X-Modgate-Cache */
	char err[ERR_MAX]; /* the first line of an error body */
	size_t err_len;
	long status;
	curl_off_t bytes;
};

static size_t on_header(char *buf, size_t size, size_t n, void *arg)
{
	struct job *j = arg;
	size_t len = size * n;

	if (len > 16 && strncasecmp(buf, "X-Modgate-Cache:", 16) == 0)
		sscanf(buf + 16, " %15s", j->cache);
	return len;
}

static size_t on_body(char *buf, size_t size, size_t n, void *arg)
{
	struct job *j = arg;
	size_t len = size * n, room;

	/* Keep the start of the body: the error line, when it is one. */
	room = ERR_MAX - 1 - j->err_len;
	if (room > 0) {
		if (len < room)
			room = len;
		memcpy(j->err + j->err_len, buf, room);
		j->err_len += room;
	}
	j->bytes += (curl_off_t)len;
	return len;
}

static int read_file(const char *path, char **out, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap), *grown;

	if (!f || !buf) {
		free(buf);
		if (f && f != stdin)
			fclose(f);
		return -1;
	}
	for (;;) {
		size_t got = fread(buf + n, 1, cap - n, f);

		n += got;
		if (got == 0)
			break;
		if (n == cap) {
			if (cap >= FILE_MAX || !(grown = realloc(buf, cap * 2))) {
				free(buf);
				if (f != stdin)
					fclose(f);
				return -1;
			}
			buf = grown;
			cap *= 2;
		}
	}
	if (f != stdin)
		fclose(f);
	*out = buf;
	*len = n;
	return 0;
}

static void start(CURLM *multi, struct job *j)
{
	CURL *e = curl_easy_init();

	if (!e) {
		j->out = FAILED;
		snprintf(j->err, sizeof(j->err), "out of memory");
		return;
	}
	curl_easy_setopt(e, CURLOPT_URL, j->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, j);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, j);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 10L);
	/* A modgate with a private CA: the go command's variable, which
	 * libcurl does not read itself. */
	if (getenv("SSL_CERT_FILE") && *getenv("SSL_CERT_FILE"))
		curl_easy_setopt(e, CURLOPT_CAINFO, getenv("SSL_CERT_FILE"));
	/* modgate's own deadlines bound a fetch; this bounds a stuck modgate. */
	curl_easy_setopt(e, CURLOPT_TIMEOUT, 600L);
	curl_multi_add_handle(multi, e);
}

static void finish(CURLM *multi, CURL *e, CURLcode rc)
{
	struct job *j;

	curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&j);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &j->status);
	if (rc != CURLE_OK) {
		j->out = FAILED;
		snprintf(j->err, sizeof(j->err), "%s", curl_easy_strerror(rc));
	} else if (j->status != 200) {
		j->out = FAILED;
		j->err[j->err_len] = '\0';
		j->err[strcspn(j->err, "\r\n")] = '\0';
		if (!j->err[0])
			snprintf(j->err, sizeof(j->err), "HTTP %ld", j->status);
	} else {
		j->out = strcasecmp(j->cache, "HIT") == 0 ? HIT : MISS;
	}
	curl_multi_remove_handle(multi, e);
	curl_easy_cleanup(e);
}

/* On a terminal, one line redrawn in place: a 30-cell bar, the files done,
 * and the failures so far. Elsewhere (CI logs) nothing: the summary says it
 * all once. */
static void progress_bar(size_t done, size_t total, size_t failed)
{
	char bar[31];
	size_t full = total ? done * 30 / total : 30;

	memset(bar, '#', full);
	memset(bar + full, '-', 30 - full);
	bar[30] = '\0';
	fprintf(stderr, "\rwarm [%s] %zu/%zu files, %zu failed", bar, done, total, failed);
}

int warm_run(const char *server, int parallel, int argc, char **argv)
{
	struct warm_list list = {0};
	struct job *jobs = NULL;
	size_t njobs = 0, next = 0, done = 0, fetched = 0, cached = 0, failed = 0;
	int running = 0, tty = isatty(2), rc = 1;
	curl_off_t bytes = 0;
	CURLM *multi = NULL;
	char err[512];

	for (int i = 0; i < argc; i++) {
		char *text;
		size_t len;

		if (read_file(argv[i], &text, &len) < 0) {
			fprintf(stderr, "modgate warm: cannot read %s\n", argv[i]);
			goto out;
		}
		if (warm_parse(&list, text, len, err, sizeof(err)) < 0) {
			fprintf(stderr, "modgate warm: %s: %s\n", argv[i], err);
			free(text);
			goto out;
		}
		free(text);
	}
	jobs = calloc(list.n * 3 + 1, sizeof(*jobs));
	if (!jobs || curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || !(multi = curl_multi_init())) {
		fprintf(stderr, "modgate warm: out of memory\n");
		goto out;
	}
	for (size_t i = 0; i < list.n; i++) {
		static const char *const ext[] = {".info", ".mod", ".zip"};
		char em[MODPATH_ESC_MAX + 1], ev[MODPATH_ESC_MAX + 1],
		    rel[2 * MODPATH_ESC_MAX + 16], esc[3 * sizeof(rel)];

		if (modpath_escape_path(list.v[i].module, em, sizeof(em), err, sizeof(err)) < 0 ||
		    modpath_escape_version(list.v[i].version, ev, sizeof(ev), err, sizeof(err)) < 0)
			continue; /* checked when parsed */
		for (int k = 0; k < (list.v[i].want_zip ? 3 : 2); k++) {
			snprintf(rel, sizeof(rel), "%s/@v/%s%s", em, ev, ext[k]);
			modpath_url_escape(rel, esc, sizeof(esc));
			jobs[njobs].entry = i;
			snprintf(jobs[njobs].url, sizeof(jobs[njobs].url), "%s/%s", server, esc);
			njobs++;
		}
	}
	while (done < njobs) {
		CURLMsg *msg;
		int left;

		while (running < parallel && next < njobs) {
			start(multi, &jobs[next++]);
			running++;
		}
		curl_multi_perform(multi, &left);
		while ((msg = curl_multi_info_read(multi, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			finish(multi, msg->easy_handle, msg->data.result);
			running--;
			done++;
		}
		if (tty) {
			size_t bad = 0;

			for (size_t i = 0; i < next; i++)
				bad += jobs[i].out == FAILED;
			progress_bar(done, njobs, bad);
		}
		if (done < njobs)
			curl_multi_poll(multi, NULL, 0, 200, NULL);
	}
	if (tty)
		fputc('\n', stderr);
	/* Per module version: failed if any file failed, fetched if any came
	 * from upstream, else already cached. */
	for (size_t i = 0, j = 0; i < list.n; i++) {
		int any_fail = 0, any_miss = 0;

		for (; j < njobs && jobs[j].entry == i; j++) {
			bytes += jobs[j].bytes;
			if (jobs[j].out == FAILED && !any_fail) {
				any_fail = 1;
				printf("FAILED %s@%s: %s\n", list.v[i].module, list.v[i].version,
				       jobs[j].err);
			}
			any_miss |= jobs[j].out == MISS;
		}
		if (any_fail)
			failed++;
		else if (any_miss)
			fetched++;
		else
			cached++;
	}
	printf("warm: %zu module versions (%zu files, %lld bytes): %zu fetched, %zu already "
	       "cached, %zu failed\n",
	       list.n, njobs, (long long)bytes, fetched, cached, failed);
	rc = failed ? 1 : 0;
out:
	if (multi)
		curl_multi_cleanup(multi);
	free(jobs);
	warm_list_free(&list);
	curl_global_cleanup();
	return rc;
}
