/*
 * Unit tests for sumdb/note: verifier keys, signed notes, tree note texts.
 *
 * The vectors in t/unit/testdata/note_vectors.inc come from the real
 * golang.org/x/mod/sumdb/note and sumdb/tlog packages (regenerate with
 * `cd t && go run ./unit/testdata/gen_note.go`): keys from note.GenerateKey
 * with fixed seeds, notes from note.Sign, and for every key, note and tree
 * text, good or broken, the verdict of note.NewVerifier, note.Open and
 * tlog.ParseTree. Each test asserts the C module reaches Go's verdict, so
 * every rule can fail on its own vector.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sumdb/note.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vec_key {
	const char *name;
	const char *vkey;
	unsigned char seed[32];
	const char *skey;
};

struct vec_vkey {
	const char *what;
	const char *vkey;
	size_t len;
	int ok;
};

struct vec_note {
	const char *what;
	int set; /* 0: keys 1, 2, 3; 1: none; 2: keys 1, 1, 2 */
	const char *msg;
	size_t len;
	int verdict;
	size_t text_len;
	const char *sigs;       /* indices into the set of the verified signers */
	const char *unverified; /* "name+hash " per unknown signer */
};

struct vec_tree {
	const char *what;
	const char *text;
	size_t len;
	int ok;
	long long n;
	const char *hash;
};

#include "t/unit/testdata/note_vectors.inc"

#define NVEC(a) (sizeof(a) / sizeof((a)[0]))

static const char sum_golang_key[] =
    "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8";

/* An error line: non-empty, printable ASCII or UTF-8, no control byte. */
static void assert_one_line(const char *err)
{
	const unsigned char *s = (const unsigned char *)err;

	assert_true(s[0] != '\0');
	for (; *s; s++) {
		if (*s < 0x20 || *s == 0x7f)
			fail_msg("control byte 0x%02x in error line \"%s\"", *s, err);
	}
}

static void parse_key(const char *vkey, struct sumdb_verifier *v)
{
	char err[256] = "";

	if (sumdb_verifier_parse(vkey, strlen(vkey), v, err, sizeof(err)) != SUMDB_NOTE_OK)
		fail_msg("parse %s: %s", vkey, err);
}

static void assert_same_verifier(const struct sumdb_verifier *a, const struct sumdb_verifier *b)
{
	assert_int_equal(a->name_len, b->name_len);
	assert_memory_equal(a->name, b->name, a->name_len + 1);
	assert_int_equal(a->hash, b->hash);
	assert_int_equal(a->alg, b->alg);
	assert_memory_equal(a->key, b->key, sizeof(a->key));
}

/* The verifier sets of the note vectors. */
static size_t make_set(int set, struct sumdb_verifier *v)
{
	switch (set) {
	case 0:
		parse_key(vec_key1.vkey, &v[0]);
		parse_key(vec_key2.vkey, &v[1]);
		parse_key(vec_key3.vkey, &v[2]);
		return 3;
	case 1:
		return 0;
	default:
		parse_key(vec_key1.vkey, &v[0]);
		parse_key(vec_key1.vkey, &v[1]);
		parse_key(vec_key2.vkey, &v[2]);
		return 3;
	}
}

/* ---- verifier keys ------------------------------------------------------ */

static void test_sum_golang_org(void **state)
{
	struct sumdb_verifier v;
	char out[SUMDB_VERIFIER_KEY_MAX + 1], err[256] = "";

	(void)state;
	assert_int_equal(
	    sumdb_verifier_parse(sum_golang_key, strlen(sum_golang_key), &v, err, sizeof(err)),
	    SUMDB_NOTE_OK);
	assert_string_equal(v.name, "sum.golang.org");
	assert_int_equal(v.name_len, 14);
	assert_int_equal(v.hash, 0x033de0ae);
	assert_int_equal(v.alg, 1);
	assert_int_equal(v.key[0], 0xce);
	assert_int_equal(sumdb_verifier_format(&v, out, sizeof(out), err, sizeof(err)),
	                 SUMDB_NOTE_OK);
	assert_string_equal(out, sum_golang_key);
}

static void test_vkey_vectors(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NVEC(vec_vkeys); i++) {
		const struct vec_vkey *c = &vec_vkeys[i];
		struct sumdb_verifier v;
		char err[256] = "";
		int rc = sumdb_verifier_parse(c->vkey, c->len, &v, err, sizeof(err));

		if (c->ok && rc != SUMDB_NOTE_OK)
			fail_msg("%s: Go accepts, C says %d: %s", c->what, rc, err);
		if (!c->ok && rc != SUMDB_NOTE_MALFORMED)
			fail_msg("%s: Go refuses, C says %d", c->what, rc);
		if (!c->ok)
			assert_one_line(err);
	}
}

static void test_vkey_canonical_roundtrip(void **state)
{
	const struct vec_key *keys[] = {&vec_key1, &vec_key2, &vec_key3, &vec_key4};
	size_t i;

	(void)state;
	for (i = 0; i < NVEC(keys); i++) {
		struct sumdb_verifier parsed, made;
		char out[SUMDB_VERIFIER_KEY_MAX + 1], err[256] = "";

		parse_key(keys[i]->vkey, &parsed);
		assert_string_equal(parsed.name, keys[i]->name);
		assert_int_equal(
		    sumdb_verifier_from_seed(keys[i]->name, keys[i]->seed, &made, err, sizeof(err)),
		    SUMDB_NOTE_OK);
		assert_same_verifier(&parsed, &made);
		assert_int_equal(sumdb_verifier_format(&made, out, sizeof(out), err, sizeof(err)),
		                 SUMDB_NOTE_OK);
		assert_string_equal(out, keys[i]->vkey);
		/* Too small by one byte. */
		assert_int_equal(
		    sumdb_verifier_format(&made, out, strlen(keys[i]->vkey), err, sizeof(err)),
		    SUMDB_NOTE_ERROR);
	}
}

/* Rules where modgate is stricter than Go, and argument checks. */
static void test_vkey_modgate_rules(void **state)
{
	struct sumdb_verifier v;
	char name[SUMDB_NOTE_NAME_MAX + 2], err[256] = "";
	unsigned char seed[32] = {1};

	(void)state;
	/* A name holding a control byte could never sign a note that opens. */
	assert_int_equal(sumdb_verifier_from_seed("a\001b", seed, &v, err, sizeof(err)),
	                 SUMDB_NOTE_MALFORMED);
	assert_one_line(err);
	assert_int_equal(sumdb_verifier_from_seed("a\177b", seed, &v, err, sizeof(err)),
	                 SUMDB_NOTE_MALFORMED);
	memset(name, 'n', sizeof(name) - 1);
	name[SUMDB_NOTE_NAME_MAX] = '\0';
	assert_int_equal(sumdb_verifier_from_seed(name, seed, &v, err, sizeof(err)), SUMDB_NOTE_OK);
	assert_int_equal(v.name_len, SUMDB_NOTE_NAME_MAX);
	{
		char out[SUMDB_VERIFIER_KEY_MAX + 1];
		struct sumdb_verifier back;

		assert_int_equal(sumdb_verifier_format(&v, out, sizeof(out), err, sizeof(err)),
		                 SUMDB_NOTE_OK);
		assert_int_equal(strlen(out), SUMDB_VERIFIER_KEY_MAX);
		parse_key(out, &back);
		assert_same_verifier(&back, &v);
	}
	name[SUMDB_NOTE_NAME_MAX] = 'n';
	name[SUMDB_NOTE_NAME_MAX + 1] = '\0';
	assert_int_equal(sumdb_verifier_from_seed(name, seed, &v, err, sizeof(err)),
	                 SUMDB_NOTE_MALFORMED);
	assert_int_equal(sumdb_verifier_from_seed("a+b", seed, &v, err, sizeof(err)),
	                 SUMDB_NOTE_MALFORMED);
	assert_int_equal(sumdb_verifier_from_seed("", seed, &v, err, sizeof(err)),
	                 SUMDB_NOTE_MALFORMED);
	/* Not NUL-terminated: len is what counts. */
	assert_int_equal(
	    sumdb_verifier_parse(sum_golang_key, strlen(sum_golang_key) - 1, &v, err, sizeof(err)),
	    SUMDB_NOTE_MALFORMED);
	assert_int_equal(sumdb_verifier_parse(NULL, 0, &v, err, sizeof(err)), SUMDB_NOTE_ERROR);
	assert_int_equal(sumdb_verifier_parse(sum_golang_key, 5, NULL, err, sizeof(err)),
	                 SUMDB_NOTE_ERROR);
	/* err may be NULL or too small. */
	assert_int_equal(sumdb_verifier_parse("x", 1, &v, NULL, 0), SUMDB_NOTE_MALFORMED);
	assert_int_equal(sumdb_verifier_parse("x", 1, &v, err, 4), SUMDB_NOTE_MALFORMED);
	assert_int_equal(strlen(err), 3);
}

/* ---- notes -------------------------------------------------------------- */

static void test_note_vectors(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NVEC(vec_notes); i++) {
		const struct vec_note *c = &vec_notes[i];
		struct sumdb_verifier known[3];
		struct sumdb_note *note = malloc(sizeof(*note));
		size_t nknown = make_set(c->set, known), j;
		char err[512] = "", sigs[8] = "", unv[2048] = "";
		int rc;

		assert_non_null(note);
		rc = sumdb_note_open(c->msg, c->len, known, nknown, note, err, sizeof(err));
		if (rc != c->verdict)
			fail_msg("%s: Go says %d, C says %d (%s)", c->what, c->verdict, rc, err);
		if (rc != SUMDB_NOTE_OK)
			assert_one_line(err);
		if (rc == SUMDB_NOTE_OK || rc == SUMDB_NOTE_UNVERIFIED) {
			assert_ptr_equal(note->text, c->msg);
			if (note->text_len != c->text_len)
				fail_msg("%s: text of %zu bytes, Go %zu", c->what, note->text_len,
				         c->text_len);
			for (j = 0; j < note->nsigs; j++) {
				assert_true(note->sigs[j].verifier < nknown);
				sigs[j] = (char)('0' + note->sigs[j].verifier);
				assert_int_equal(note->sigs[j].hash,
				                 known[note->sigs[j].verifier].hash);
			}
			for (j = 0; j < note->nunverified; j++) {
				const struct sumdb_note_sig *u = &note->unverified[j];

				snprintf(unv + strlen(unv), sizeof(unv) - strlen(unv), "%.*s+%08x ",
				         (int)u->name_len, u->name, (unsigned)u->hash);
			}
			if (strcmp(sigs, c->sigs) != 0 || strcmp(unv, c->unverified) != 0)
				fail_msg("%s: signers \"%s\" unknown \"%s\"; Go \"%s\" \"%s\"",
				         c->what, sigs, unv, c->sigs, c->unverified);
		}
		if (rc == SUMDB_NOTE_BAD_SIG)
			assert_string_equal(err, "invalid signature for key PeterNeumann+0878cf9d");
		if (rc == SUMDB_NOTE_UNVERIFIED)
			assert_memory_equal(err, "note has no verifiable signatures", 33);
		if (rc == SUMDB_NOTE_MALFORMED)
			assert_memory_equal(err, "malformed note: ", 16);
		free(note);
	}
}

/* Ed25519 is deterministic: the C signature must equal Go's, byte for byte. */
static void test_sign_matches_go(void **state)
{
	static const struct {
		const char *what;
		const struct vec_key *key;
	} cases[] = {
	    {"single signer", &vec_key1},
	    {"unicode text, unicode signer", &vec_key3},
	    {"text with a blank line", &vec_key2},
	    {"tree note", &vec_key1},
	    {"empty text", &vec_key1},
	};
	size_t i, j;

	(void)state;
	for (i = 0; i < NVEC(cases); i++) {
		const struct vec_note *c = NULL;
		char out[1024], err[256] = "";
		size_t used = 0;

		for (j = 0; j < NVEC(vec_notes); j++) {
			if (strcmp(vec_notes[j].what, cases[i].what) == 0)
				c = &vec_notes[j];
		}
		assert_non_null(c);
		assert_int_equal(sumdb_note_sign(c->msg, c->text_len, cases[i].key->name,
		                                 cases[i].key->seed, out, sizeof(out), &used, err,
		                                 sizeof(err)),
		                 SUMDB_NOTE_OK);
		assert_int_equal(used, c->len);
		assert_memory_equal(out, c->msg, c->len);
		assert_int_equal(out[used], '\0');
		/* Exactly enough room, then one byte short. */
		assert_int_equal(sumdb_note_sign(c->msg, c->text_len, cases[i].key->name,
		                                 cases[i].key->seed, out, used + 1, NULL, err,
		                                 sizeof(err)),
		                 SUMDB_NOTE_OK);
		assert_int_equal(sumdb_note_sign(c->msg, c->text_len, cases[i].key->name,
		                                 cases[i].key->seed, out, used, NULL, err,
		                                 sizeof(err)),
		                 SUMDB_NOTE_ERROR);
		assert_one_line(err);
	}
}

static void test_sign_errors(void **state)
{
	char out[512], err[256] = "";

	(void)state;
	assert_int_equal(
	    sumdb_note_sign("abc", 3, "n", vec_key1.seed, out, sizeof(out), NULL, err, sizeof(err)),
	    SUMDB_NOTE_MALFORMED);
	assert_one_line(err);
	assert_int_equal(
	    sumdb_note_sign("", 0, "n", vec_key1.seed, out, sizeof(out), NULL, err, sizeof(err)),
	    SUMDB_NOTE_MALFORMED);
	assert_int_equal(sumdb_note_sign("a\n", 2, "a b", vec_key1.seed, out, sizeof(out), NULL,
	                                 err, sizeof(err)),
	                 SUMDB_NOTE_MALFORMED);
	assert_int_equal(sumdb_note_sign("a\n", 2, "a+b", vec_key1.seed, out, sizeof(out), NULL,
	                                 err, sizeof(err)),
	                 SUMDB_NOTE_MALFORMED);
	assert_int_equal(
	    sumdb_note_sign("a\n", 2, "", vec_key1.seed, out, sizeof(out), NULL, err, sizeof(err)),
	    SUMDB_NOTE_MALFORMED);
	assert_int_equal(sumdb_note_sign("a\n", 2, "a\xff", vec_key1.seed, out, sizeof(out), NULL,
	                                 err, sizeof(err)),
	                 SUMDB_NOTE_MALFORMED);
	assert_int_equal(
	    sumdb_note_sign(NULL, 2, "a", vec_key1.seed, out, sizeof(out), NULL, err, sizeof(err)),
	    SUMDB_NOTE_ERROR);
}

/* A note C signs opens in C with the signer's key, under its name and hash
 * only, and its text parses as a tree. */
static void test_sign_open_tree(void **state)
{
	static const char text[] = "go.sum database tree\n"
	                           "31337\n"
	                           "nND/nri/U0xuHUrYSy0HtMeal2vzD9V4k/BO79C+QeI=\n";
	unsigned char seed[32];
	struct sumdb_verifier v[2];
	struct sumdb_note note;
	struct sumdb_tree tree;
	char out[512], err[256] = "";
	size_t used, i;

	(void)state;
	for (i = 0; i < sizeof(seed); i++)
		seed[i] = (unsigned char)(i * 7 + 3);
	assert_int_equal(sumdb_verifier_from_seed("sum.example.com", seed, &v[0], err, sizeof(err)),
	                 SUMDB_NOTE_OK);
	parse_key(sum_golang_key, &v[1]);
	assert_int_equal(sumdb_note_sign(text, strlen(text), "sum.example.com", seed, out,
	                                 sizeof(out), &used, err, sizeof(err)),
	                 SUMDB_NOTE_OK);
	assert_int_equal(sumdb_note_open(out, used, v, 2, &note, err, sizeof(err)), SUMDB_NOTE_OK);
	assert_int_equal(note.nsigs, 1);
	assert_int_equal(note.sigs[0].verifier, 0);
	assert_int_equal(note.nunverified, 0);
	assert_int_equal(note.text_len, strlen(text));
	assert_int_equal(sumdb_tree_parse(note.text, note.text_len, &tree, err, sizeof(err)),
	                 SUMDB_NOTE_OK);
	assert_int_equal(tree.n, 31337);
	assert_int_equal(tree.hash[0], 0x9c);

	/* Only sum.golang.org known: unverified, the signer named. */
	assert_int_equal(sumdb_note_open(out, used, &v[1], 1, &note, err, sizeof(err)),
	                 SUMDB_NOTE_UNVERIFIED);
	assert_int_equal(note.nunverified, 1);
	assert_memory_equal(note.unverified[0].name, "sum.example.com", 15);
	assert_int_equal(note.unverified[0].hash, v[0].hash);
	assert_non_null(strstr(err, "unknown key sum.example.com+"));

	/* Same name, another key: its hash differs, so the signer is unknown. */
	seed[0] ^= 1;
	assert_int_equal(sumdb_verifier_from_seed("sum.example.com", seed, &v[1], err, sizeof(err)),
	                 SUMDB_NOTE_OK);
	assert_int_equal(sumdb_note_open(out, used, &v[1], 1, &note, err, sizeof(err)),
	                 SUMDB_NOTE_UNVERIFIED);

	/* Same name and hash, another key (a forged verifier entry): the
	 * signature is checked against that key and fails. */
	v[1].hash = v[0].hash;
	assert_int_equal(sumdb_note_open(out, used, &v[1], 1, &note, err, sizeof(err)),
	                 SUMDB_NOTE_BAD_SIG);
	assert_memory_equal(err, "invalid signature for key sum.example.com+", 42);

	/* Every single-bit flip in the signature fails; every flip in the
	 * text fails too (or breaks the form). */
	for (i = 0; i < used; i++) {
		char copy[512];
		int rc;

		memcpy(copy, out, used);
		copy[i] ^= 0x01;
		rc = sumdb_note_open(copy, used, v, 1, &note, err, sizeof(err));
		if (rc == SUMDB_NOTE_OK)
			fail_msg("flipping byte %zu still verifies", i);
	}
	assert_int_equal(sumdb_note_open(NULL, 1, v, 1, &note, err, sizeof(err)), SUMDB_NOTE_ERROR);
	assert_int_equal(sumdb_note_open(out, used, NULL, 1, &note, err, sizeof(err)),
	                 SUMDB_NOTE_ERROR);
	assert_int_equal(sumdb_note_open(out, used, v, 1, NULL, err, sizeof(err)),
	                 SUMDB_NOTE_ERROR);
}

/* Errors quote untrusted names escaped: no control byte reaches the line. */
static void test_error_escaping(void **state)
{
	static const char msg[] = "t\n\n\xe2\x80\x94 a\xc2\x85z AAAAAAAA\n";
	static const char msg2[] = "t\n\n\xe2\x80\x94 a\xc2\x80z AAAAAAAA\n";
	struct sumdb_note note;
	char err[256] = "";

	(void)state;
	assert_int_equal(sumdb_note_open(msg, sizeof(msg) - 1, NULL, 0, &note, err, sizeof(err)),
	                 SUMDB_NOTE_MALFORMED);
	assert_one_line(err);
	assert_non_null(strstr(err, "a\\xc2\\x85z"));
	assert_int_equal(sumdb_note_open(msg2, sizeof(msg2) - 1, NULL, 0, &note, err, sizeof(err)),
	                 SUMDB_NOTE_UNVERIFIED);
	assert_one_line(err);
	assert_non_null(strstr(err, "unknown key a\\xc2\\x80z+00000000"));
}

struct thread_arg {
	const struct vec_note *c;
	int failures;
};

static void *open_many(void *p)
{
	struct thread_arg *a = p;
	struct sumdb_verifier known[3];
	struct sumdb_note *note = malloc(sizeof(*note));
	size_t nknown = make_set(0, known);
	int i;

	if (!note) {
		a->failures++;
		return NULL;
	}
	for (i = 0; i < 200; i++) {
		if (sumdb_note_open(a->c->msg, a->c->len, known, nknown, note, NULL, 0) !=
		    a->c->verdict)
			a->failures++;
	}
	free(note);
	return NULL;
}

/* No globals: opens on several threads at once agree with one thread. */
static void test_threads(void **state)
{
	pthread_t th[4];
	struct thread_arg args[4];
	size_t i, k = 0;

	(void)state;
	for (i = 0; i < NVEC(vec_notes) && k < 4; i++) {
		if (vec_notes[i].set == 0 &&
		    (k % 2 == 0 ? vec_notes[i].verdict == SUMDB_NOTE_OK
		                : vec_notes[i].verdict == SUMDB_NOTE_BAD_SIG)) {
			args[k].c = &vec_notes[i];
			args[k].failures = 0;
			k++;
		}
	}
	assert_int_equal(k, 4);
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, open_many, &args[i]), 0);
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].failures, 0);
	}
}

/* ---- tree notes --------------------------------------------------------- */

static void test_tree_vectors(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NVEC(vec_trees); i++) {
		const struct vec_tree *c = &vec_trees[i];
		struct sumdb_tree tree;
		char err[256] = "";
		int rc = sumdb_tree_parse(c->text, c->len, &tree, err, sizeof(err));

		if (c->ok && rc != SUMDB_NOTE_OK)
			fail_msg("%s: Go accepts, C says %d: %s", c->what, rc, err);
		if (!c->ok && rc != SUMDB_NOTE_MALFORMED)
			fail_msg("%s: Go refuses, C says %d", c->what, rc);
		if (c->ok) {
			assert_int_equal(tree.n, c->n);
			assert_memory_equal(tree.hash, c->hash, 32);
		} else {
			assert_one_line(err);
		}
	}
}

/* tlog.ParseTree refuses a text over 1e6 bytes, however well-formed. */
static void test_tree_size_limit(void **state)
{
	static const char head[] = "go.sum database tree\n"
	                           "7\n"
	                           "nND/nri/U0xuHUrYSy0HtMeal2vzD9V4k/BO79C+QeI=\n";
	char *text = malloc(SUMDB_TREE_MAX_TEXT + 1);
	struct sumdb_tree tree;
	char err[256] = "";

	(void)state;
	assert_non_null(text);
	memset(text, 'x', SUMDB_TREE_MAX_TEXT + 1);
	memcpy(text, head, sizeof(head) - 1);
	assert_int_equal(sumdb_tree_parse(text, SUMDB_TREE_MAX_TEXT, &tree, err, sizeof(err)),
	                 SUMDB_NOTE_OK);
	assert_int_equal(tree.n, 7);
	assert_int_equal(sumdb_tree_parse(text, SUMDB_TREE_MAX_TEXT + 1, &tree, err, sizeof(err)),
	                 SUMDB_NOTE_MALFORMED);
	assert_one_line(err);
	assert_int_equal(sumdb_tree_parse(NULL, 3, &tree, err, sizeof(err)), SUMDB_NOTE_ERROR);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sum_golang_org),
	    cmocka_unit_test(test_vkey_vectors),
	    cmocka_unit_test(test_vkey_canonical_roundtrip),
	    cmocka_unit_test(test_vkey_modgate_rules),
	    cmocka_unit_test(test_note_vectors),
	    cmocka_unit_test(test_sign_matches_go),
	    cmocka_unit_test(test_sign_errors),
	    cmocka_unit_test(test_sign_open_tree),
	    cmocka_unit_test(test_error_escaping),
	    cmocka_unit_test(test_threads),
	    cmocka_unit_test(test_tree_vectors),
	    cmocka_unit_test(test_tree_size_limit),
	};

	return cmocka_run_group_tests_name("sumdb/note", tests, NULL, NULL);
}
