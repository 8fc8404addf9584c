#include "proxy/ctl.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

static size_t to_stdout(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	(void)userdata;
	return fwrite(ptr, size, nmemb, stdout);
}

/* The admin endpoint's answer, kept to print where it belongs. */
struct answer {
	char buf[4096];
	size_t len;
};

static size_t to_answer(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct answer *a = userdata;
	size_t n = size * nmemb, room = sizeof(a->buf) - 1 - a->len;

	memcpy(a->buf + a->len, ptr, n < room ? n : room);
	a->len += n < room ? n : room;
	a->buf[a->len] = '\0';
	return n;
}

/* One request to the admin endpoint: the body goes to stdout, or into *a
 * when a is not NULL. The HTTP status, or -1 (said on stderr) when the
 * endpoint could not be reached. c is consumed. */
static long call(CURL *c, const char *admin, const char *token, const char *url, int post,
                 long timeout_s, struct answer *a)
{
	CURLcode rc;
	long status = 0;

	curl_easy_setopt(c, CURLOPT_URL, url);
	if (token && *token) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
		curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, token);
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, a ? to_answer : to_stdout);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (post)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK) {
		fprintf(stderr,
		        "modgate: admin endpoint %s: %s (is modgate running, and is "
		        "[admin] listen this address?)\n",
		        admin, curl_easy_strerror(rc));
		return -1;
	}
	return status;
}

int ctl_upstream(int argc, char **argv, const char *admin, const char *token, int json)
{
	static const char *actions[] = {"drain", "undrain", "open", "close", "auto"};
	char url[1200];
	CURL *c;
	char *name;
	int post = 0, i;

	if (argc < 1 || (strcmp(argv[0], "status") != 0 && argc != 2)) {
		fprintf(stderr, "usage: modgate upstream status [--json]\n"
		                "       modgate upstream drain|undrain|open|close|auto NAME\n");
		return 2;
	}
	c = curl_easy_init();
	if (!c)
		return 1;
	if (strcmp(argv[0], "status") == 0) {
		snprintf(url, sizeof(url), "http://%s/upstreams%s", admin,
		         json ? "?format=json" : "");
	} else {
		for (i = 0; i < 5 && strcmp(argv[0], actions[i]) != 0; i++)
			;
		if (i == 5) {
			fprintf(stderr, "modgate: unknown upstream command %s\n", argv[0]);
			curl_easy_cleanup(c);
			return 2;
		}
		name = curl_easy_escape(c, argv[1], 0);
		snprintf(url, sizeof(url), "http://%s/upstreams/%s?name=%s", admin, argv[0],
		         name ? name : "");
		curl_free(name);
		post = 1;
	}
	return call(c, admin, token, url, post, 10L, NULL) == 200 ? 0 : 1;
}

int ctl_reload(const char *admin, const char *token)
{
	struct answer a = {.len = 0};
	char url[1200];
	CURL *c;
	long status;

	c = curl_easy_init();
	if (!c)
		return 1;
	snprintf(url, sizeof(url), "http://%s/reload", admin);
	/* Loading reads a few small files: a long wait means something is
	 * wrong, but give a slow disk its chance. */
	status = call(c, admin, token, url, 1, 30L, &a);
	if (status == 200) {
		fputs(a.buf, stdout);
		return 0;
	}
	if (status == 409 || status == 401 || status == 403) {
		fputs(a.buf, stderr);
	} else if (status > 0) {
		/* An older modgate without POST /reload answers 404. */
		fprintf(stderr, "modgate: admin endpoint %s answered %ld: %s", admin, status,
		        a.buf);
	}
	return 1;
}
