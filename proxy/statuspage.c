/*
 * statuspage — the admin's HTML at a glance.
 */
#include "proxy/statuspage.h"

#include "breaker/breaker.h"
#include "cache/store.h"
#include "proxy/pool.h"

#include <dirent.h>
#include <event2/buffer.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RECORD_MAX (64 * 1024)

void statuspage_escape(struct evbuffer *out, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&':
			evbuffer_add(out, "&amp;", 5);
			break;
		case '<':
			evbuffer_add(out, "&lt;", 4);
			break;
		case '>':
			evbuffer_add(out, "&gt;", 4);
			break;
		case '"':
			evbuffer_add(out, "&quot;", 6);
			break;
		case '\'':
			evbuffer_add(out, "&#39;", 5);
			break;
		default:
			evbuffer_add(out, s, 1);
		}
	}
}

static void cell(struct evbuffer *out, const char *s)
{
	evbuffer_add_printf(out, "<td>");
	statuspage_escape(out, s);
	evbuffer_add_printf(out, "</td>");
}

static void human(char *buf, size_t len, uint64_t b)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)b;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

static void upstreams(struct evbuffer *out, struct pool_set *ps, int64_t now)
{
	evbuffer_add_printf(out, "<h2>Upstreams</h2>\n<table id=\"upstreams\"><tr><th>pool</th>"
	                         "<th>upstream</th><th>weight</th><th>breaker</th><th>mode</th>"
	                         "<th>requests</th><th>error rate</th><th>p50 ms</th>"
	                         "<th>p95 ms</th></tr>\n");
	for (int i = 0; i < ps->n_pools; i++) {
		for (int j = 0; j < ps->pools[i].n; j++) {
			struct pool_member *m = &ps->pools[i].members[j];
			struct upstream *up = m->up;
			char buf[64];
			const char *state;
			uint64_t calls;

			if (!up)
				continue;
			state = breaker_state_name(breaker_state(&up->breaker, now));
			evbuffer_add_printf(out, "<tr class=\"%s\">", state);
			cell(out, ps->pools[i].name);
			cell(out, up->shown);
			snprintf(buf, sizeof(buf), "%d%s", m->weight, m->backup ? " (backup)" : "");
			cell(out, buf);
			evbuffer_add_printf(out, "<td class=\"state\">");
			statuspage_escape(out, state);
			evbuffer_add_printf(out, "</td>");
			cell(out, up->drained ? "drained"
			                      : breaker_mode_name(breaker_mode(&up->breaker)));
			snprintf(buf, sizeof(buf), "%llu", (unsigned long long)up->requests);
			cell(out, buf);
			calls = up->failures + up->answers;
			snprintf(buf, sizeof(buf), "%.1f%%",
			         calls ? 100.0 * (double)up->failures / (double)calls : 0.0);
			cell(out, buf);
			snprintf(buf, sizeof(buf), "%lld",
			         (long long)pool_latency_quantile(up, 0.50));
			cell(out, buf);
			snprintf(buf, sizeof(buf), "%lld",
			         (long long)pool_latency_quantile(up, 0.95));
			cell(out, buf);
			evbuffer_add_printf(out, "</tr>\n");
		}
	}
	evbuffer_add_printf(out, "</table>\n");
}

static void cache(struct evbuffer *out, const struct statuspage_info *in)
{
	char a[32], b[32], ratio[32];
	uint64_t asked = in->hits + in->misses + in->stale + in->negative;

	if (in->usage_known) {
		human(a, sizeof(a), in->cache_bytes);
		snprintf(b, sizeof(b), "%llu", (unsigned long long)in->cache_objects);
	} else {
		snprintf(a, sizeof(a), "(counting)");
		snprintf(b, sizeof(b), "(counting)");
	}
	snprintf(ratio, sizeof(ratio), "%.1f%%",
	         asked ? 100.0 * (double)(in->hits + in->negative) / (double)asked : 0.0);
	evbuffer_add_printf(out, "<h2>Cache</h2>\n<table id=\"cache\">");
	evbuffer_add_printf(out, "<tr><th>folder</th>");
	cell(out, in->cache_dir);
	evbuffer_add_printf(out, "</tr><tr><th>size</th>");
	cell(out, a);
	evbuffer_add_printf(out, "</tr><tr><th>objects</th>");
	cell(out, b);
	evbuffer_add_printf(out, "</tr><tr><th>hit ratio</th>");
	cell(out, ratio);
	human(a, sizeof(a), in->disk_free);
	evbuffer_add_printf(out, "</tr><tr><th>disk free</th>");
	cell(out, in->disk_known ? a : "unknown");
	evbuffer_add_printf(out, "</tr><tr><th>mode</th>");
	cell(out, in->offline ? "offline: cache only" : "online");
	evbuffer_add_printf(out,
	                    "</tr></table>\n<h2>Verification</h2>\n<table id=\"verify\"><tr>"
	                    "<th>ok</th><th>mismatch</th><th>tamper</th><th>invalid</th>"
	                    "<th>refused</th><th>quarantined</th><th>pinned</th></tr><tr>"
	                    "<td>%lu</td><td>%lu</td><td>%lu</td><td>%lu</td><td>%lu</td>"
	                    "<td>%lu</td><td>%lu</td></tr></table>\n",
	                    in->verify.ok, in->verify.mismatch, in->verify.tamper,
	                    in->verify.invalid, in->verify.refused, in->verify.quarantined,
	                    in->verify.pinned);
}

static int newest_first(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*b)->d_name, (*a)->d_name);
}

static int is_record(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] != '.' && n > 5 && strcmp(d->d_name + n - 5, ".json") == 0;
}

static const char *field(json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));

	return v ? v : "";
}

static void quarantine(struct evbuffer *out, const char *cache_dir)
{
	char dir[4096], path[4400];
	struct dirent **names = NULL;
	int n, shown = 0;

	snprintf(dir, sizeof(dir), "%s/%s", cache_dir, CACHE_QUARANTINE_DIR);
	n = scandir(dir, &names, is_record, newest_first);
	evbuffer_add_printf(out, "<h2>Recent quarantines</h2>\n<table id=\"quarantine\"><tr>"
	                         "<th>time</th><th>module@version</th><th>kind</th>"
	                         "<th>upstream</th><th>reason</th></tr>\n");
	for (int i = 0; i < n; i++) {
		json_t *o;
		char mv[1200];

		if (shown < STATUSPAGE_QUARANTINE_MAX) {
			snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
			o = json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
			if (json_is_object(o)) {
				snprintf(mv, sizeof(mv), "%s@%s", field(o, "module"),
				         field(o, "version"));
				evbuffer_add_printf(out, "<tr>");
				cell(out, field(o, "time"));
				cell(out, mv);
				cell(out, field(o, "kind"));
				cell(out, field(o, "upstream"));
				cell(out, field(o, "reason"));
				evbuffer_add_printf(out, "</tr>\n");
				shown++;
			}
			json_decref(o);
		}
		free(names[i]);
	}
	free(names);
	if (!shown)
		evbuffer_add_printf(out, "<tr><td colspan=\"5\">none</td></tr>\n");
	evbuffer_add_printf(out, "</table>\n");
}

/* Release, uptime and the last reload: "systemctl reload" succeeds even
 * when modgate refuses the file, so a refusal is shown in red here. */
/* t as "2026-12-06 21:09:42 UTC" in when (32 bytes). */
static const char *utc_text(time_t t, char *when)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(when, 32, "%Y-%m-%d %H:%M:%S UTC", &tm);
	return when;
}

static void process(struct evbuffer *out, const struct statuspage_info *info)
{
	char when[32];
	time_t now = time(NULL);
	long long up = info->started && now > info->started ? (long long)(now - info->started) : 0;

	evbuffer_add_printf(
	    out, "<p>modgate %s, up %lldd %02lldh %02lldm; reloads: %u accepted, %llu refused",
	    info->version ? info->version : "?", up / 86400, up / 3600 % 24, up / 60 % 60,
	    info->reloads, (unsigned long long)info->reloads_refused);
	if (info->last_reload_at) {
		evbuffer_add_printf(
		    out, "; the last one, %s, was %s", utc_text(info->last_reload_at, when),
		    info->last_reload_ok
		        ? "accepted"
		        : "<b class=\"refused\" style=\"color:#b91c1c\">refused: the "
		          "configuration file is not what runs (see the log)</b>");
	}
	evbuffer_add_printf(out, ".</p>\n");
	if (info->tls_not_after) {
		long long left = (long long)info->tls_not_after - (long long)now;
		long long days = (left < 0 ? -left : left) / 86400;

		/* Two weeks: certbot renews a month ahead, so a certificate this
		 * close to its end was not renewed, or not reloaded. */
		evbuffer_add_printf(
		    out, "<p>TLS certificate %s %s (%s%lld day%s%s)%s.</p>\n",
		    left < 0 ? "expired" : "valid until", utc_text(info->tls_not_after, when),
		    left < 0 ? "" : "in ", days, days == 1 ? "" : "s", left < 0 ? " ago" : "",
		    left < 14 * 86400 ? ": <b class=\"expiring\" "
		                        "style=\"color:#b91c1c\">renew it and reload</b>"
		                      : "");
	}
}

void statuspage_write(struct evbuffer *out, struct pool_set *ps, const struct statuspage_info *info,
                      int64_t now)
{
	evbuffer_add_printf(
	    out, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
	         "<meta http-equiv=\"refresh\" content=\"5\"><title>modgate</title><style>"
	         "body{font:14px "
	         "sans-serif;margin:1.5em}table{border-collapse:collapse;margin-bottom:1em}"
	         "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}"
	         "tr.open td.state{background:#f8b4b4}tr.half-open td.state{background:#fde68a}"
	         "tr.closed td.state{background:#bbf7d0}</style></head><body>\n"
	         "<h1>modgate</h1>\n");
	process(out, info);
	upstreams(out, ps, now);
	cache(out, info);
	quarantine(out, info->cache_dir);
	evbuffer_add_printf(out, "<p>Refreshes every 5 s. Machine-readable: "
	                         "<a href=\"/upstreams?format=json\">/upstreams?format=json</a>, "
	                         "<a href=\"/metrics\">/metrics</a>.</p>\n</body></html>\n");
}
