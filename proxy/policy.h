/*
 * policy — the [deny] and [allow] rules of the configuration applied to
 * module requests: which modules are served at all, which versions are
 * refused (and why), and what a @v/list or a resolved query says once the
 * refused versions are taken out.
 *
 * Pure functions over a loaded struct config: no I/O, no global state. Every
 * argument is borrowed for the duration of the call; a rule returned through
 * **rule points into the config and lives as long as it does. Callable from
 * any thread, and from inside libevhtp and libcurl callbacks.
 */
#ifndef MODGATE_POLICY_H
#define MODGATE_POLICY_H

#include <stddef.h>

#include "proxy/config-t.h"

enum policy_verdict {
	POLICY_OK,          /* serve it */
	POLICY_NOT_ALLOWED, /* there is an [allow] list and the module is not on it */
	POLICY_DENIED,      /* a [deny] rule matches */
};

/* The verdict for the module as a whole, before any version is known (its
 * list, its latest, a query): POLICY_NOT_ALLOWED when [allow] has rules and
 * none matches module; POLICY_DENIED when a [deny] rule without a version
 * matches it (*rule: the first such rule in file order); else POLICY_OK.
 * rule may be NULL; it is set to NULL unless the verdict is POLICY_DENIED.
 * A pattern matches as one GOPRIVATE pattern does (pathglob_match_prefix):
 * the module it names and every module below it. */
enum policy_verdict policy_check_module(const struct config *c, const char *module,
                                        const struct config_policy_rule **rule);

/* The verdict for module@version: policy_check_module's, else POLICY_DENIED
 * when a [deny] rule with a version glob matching version matches module.
 * *rule as for policy_check_module. */
enum policy_verdict policy_check_version(const struct config *c, const char *module,
                                         const char *version,
                                         const struct config_policy_rule **rule);

/* 1 if some [deny] rule with a version matches module: its @v/list must go
 * through policy_filter_list, and what its queries resolve to must be
 * checked; else 0. */
int policy_filters(const struct config *c, const char *module);

/* Copies the @v/list body (len bytes) into out, which has room for len bytes,
 * without the lines whose version is denied for module; other lines are kept
 * byte for byte. Returns the length written; *dropped (may be NULL) is set
 * to the number of lines left out.
 *
 * A line's version is its first run of the characters a version is made of
 * (A-Z a-z 0-9 . - +). The go command takes the first blank-separated field,
 * skipping Unicode spaces too, and ignores it unless it is a valid version:
 * whenever that field is a version, it is this run, so a denied version
 * never gets through however the line is dressed. */
size_t policy_filter_list(const struct config *c, const char *module, const char *body, size_t len,
                          char *out, size_t *dropped);

/* Reads the Version of a .info or @latest body (JSON) into version
 * (versionlen bytes). The go command decodes it with encoding/json, which
 * matches keys without regard to case (and folds U+017F to 's'): so does
 * this. 0; or -1 when the body is not one JSON object with exactly one
 * such key holding a string that fits, in which case the caller cannot know
 * what the go command would see and must not pass the body on. */
int policy_info_version(const char *body, size_t len, char *version, size_t versionlen);

/* Writes the one-line refusal for the client into buf (len bytes, cut short
 * if need be) and returns buf:
 *   POLICY_DENIED       "modgate: MODULE[@VERSION] is denied: REASON"
 *   POLICY_NOT_ALLOWED  "modgate: MODULE is not on this proxy's allow list"
 * version may be NULL or "" (the module as a whole). rule is the one the
 * check returned (NULL for POLICY_NOT_ALLOWED). */
const char *policy_message(enum policy_verdict v, const struct config_policy_rule *rule,
                           const char *module, const char *version, char *buf, size_t len);

#endif
