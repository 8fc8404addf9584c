/*
 * policy — [deny] and [allow] as verdicts.
 *
 * The rules are few (at most CONFIG_MAX_DENY + CONFIG_MAX_ALLOW) and each
 * match is a glob over a short path, so every check is a linear scan: no
 * index to keep in step with a reload.
 *
 * Filtering a list and reading a resolved version are where a hostile or
 * merely odd upstream could slip a denied version past us, so both read the
 * body the way the go command will (see policy.h), and err towards leaving
 * a line out or refusing a body rather than letting one through.
 */
#include "proxy/policy.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "proxy/modpath.h"
#include "proxy/pathglob.h"

static int module_matches(const struct config_policy_rule *r, const char *module)
{
	/* A stored pattern holds no ',', so it is a list of one. */
	return pathglob_match_prefix(r->pattern, module) == 1;
}

enum policy_verdict policy_check_module(const struct config *c, const char *module,
                                        const struct config_policy_rule **rule)
{
	int i;

	if (rule)
		*rule = NULL;
	if (c->n_allow > 0) {
		for (i = 0; i < c->n_allow && !module_matches(&c->allow[i], module); i++)
			;
		if (i == c->n_allow)
			return POLICY_NOT_ALLOWED;
	}
	for (i = 0; i < c->n_deny; i++) {
		if (!c->deny[i].version[0] && module_matches(&c->deny[i], module)) {
			if (rule)
				*rule = &c->deny[i];
			return POLICY_DENIED;
		}
	}
	return POLICY_OK;
}

/* The first [deny] rule with a version that denies module@version, or NULL;
 * the version is n bytes (not NUL-terminated in a list body). */
static const struct config_policy_rule *version_rule(const struct config *c, const char *module,
                                                     const char *version, size_t n)
{
	char v[MODPATH_MAX + 1];

	/* modgate serves no version this long (modpath refuses the request),
	 * so a list line holding one may as well go when any version of the
	 * module is denied. */
	if (n >= sizeof(v)) {
		for (int i = 0; i < c->n_deny; i++)
			if (c->deny[i].version[0] && module_matches(&c->deny[i], module))
				return &c->deny[i];
		return NULL;
	}
	memcpy(v, version, n);
	v[n] = '\0';
	for (int i = 0; i < c->n_deny; i++) {
		const struct config_policy_rule *r = &c->deny[i];

		if (r->version[0] && pathglob_match(r->version, v) == 1 &&
		    module_matches(r, module))
			return r;
	}
	return NULL;
}

enum policy_verdict policy_check_version(const struct config *c, const char *module,
                                         const char *version,
                                         const struct config_policy_rule **rule)
{
	enum policy_verdict v = policy_check_module(c, module, rule);
	const struct config_policy_rule *r;

	if (v != POLICY_OK)
		return v;
	r = version_rule(c, module, version, strlen(version));
	if (!r)
		return POLICY_OK;
	if (rule)
		*rule = r;
	return POLICY_DENIED;
}

int policy_filters(const struct config *c, const char *module)
{
	for (int i = 0; i < c->n_deny; i++)
		if (c->deny[i].version[0] && module_matches(&c->deny[i], module))
			return 1;
	return 0;
}

/* A character of a semantic version: what semver.IsValid can accept. */
static int version_char(unsigned char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       ch == '.' || ch == '-' || ch == '+';
}

size_t policy_filter_list(const struct config *c, const char *module, const char *body, size_t len,
                          char *out, size_t *dropped)
{
	const char *p = body, *end = body + len;
	size_t n = 0, gone = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl + 1 : end, *v = p, *ve;

		while (v < e && !version_char((unsigned char)*v))
			v++;
		for (ve = v; ve < e && version_char((unsigned char)*ve); ve++)
			;
		if (ve > v && version_rule(c, module, v, (size_t)(ve - v))) {
			gone++;
		} else {
			memcpy(out + n, p, (size_t)(e - p));
			n += (size_t)(e - p);
		}
		p = e;
	}
	if (dropped)
		*dropped = gone;
	return n;
}

/* 1 if key is "version" as encoding/json matches a field name: ASCII case
 * folded, and U+017F (long s, UTF-8 C5 BF) standing for 's'. U+212A (Kelvin)
 * folds to 'k', which "version" does not hold. */
static int is_version_key(const char *key)
{
	static const char want[] = "version";
	const unsigned char *k = (const unsigned char *)key;

	for (size_t i = 0; want[i]; i++) {
		if (want[i] == 's' && k[0] == 0xC5 && k[1] == 0xBF) {
			k += 2;
			continue;
		}
		if ((k[0] | 0x20) != (unsigned char)want[i])
			return 0;
		k++;
	}
	return *k == '\0';
}

int policy_info_version(const char *body, size_t len, char *version, size_t versionlen)
{
	json_error_t jerr;
	json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr), *val, *found = NULL;
	const char *key;
	int n = 0, rc = -1;

	if (!o)
		return -1;
	if (!json_is_object(o))
		goto out;
	json_object_foreach(o, key, val)
	{
		if (is_version_key(key)) {
			found = val;
			n++;
		}
	}
	if (n != 1 || !json_is_string(found) || json_string_length(found) >= versionlen ||
	    strlen(json_string_value(found)) != json_string_length(found))
		goto out;
	memcpy(version, json_string_value(found), json_string_length(found) + 1);
	rc = 0;
out:
	json_decref(o);
	return rc;
}

const char *policy_message(enum policy_verdict v, const struct config_policy_rule *rule,
                           const char *module, const char *version, char *buf, size_t len)
{
	int has_v = version && version[0];

	if (len == 0)
		return buf;
	if (v == POLICY_NOT_ALLOWED)
		snprintf(buf, len, "modgate: %s is not on this proxy's allow list", module);
	else if (v == POLICY_DENIED)
		snprintf(buf, len, "modgate: %s%s%s is denied: %s", module, has_v ? "@" : "",
		         has_v ? version : "", rule ? rule->reason : "by policy");
	else
		snprintf(buf, len, "modgate: %s is served", module);
	return buf;
}
