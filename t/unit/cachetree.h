/* Helpers for the unit tests of the cache tools (test_snapshot.c,
 * test_prune.c): files in a scratch cache, and its removal. Include after
 * cmocka.h; every function is static, for one test program each. */
#ifndef MODGATE_T_UNIT_CACHETREE_H
#define MODGATE_T_UNIT_CACHETREE_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The uid and gid a root test becomes to lose root's rights. */
#define TREE_NOBODY 65534

/* Writes text to root/rel, making its folders. */
static void tree_put(const char *root, const char *rel, const char *text)
{
	char path[1024], *slash;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (slash = strchr(path + strlen(root) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(path, 0755);
		*slash = '/';
	}
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* 1 when root/rel exists (a symlink is not followed). */
static int tree_exists(const char *root, const char *rel)
{
	char path[1024];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	return lstat(path, &sb) == 0;
}

/* rm -rf of dir: 0, or -1. */
static int tree_remove(const char *dir)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int tree_give_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return lchown(path, TREE_NOBODY, TREE_NOBODY);
}

/* Gives everything below dir (itself too) to nobody: 0, or -1. */
static int tree_give_nobody(const char *dir)
{
	return nftw(dir, tree_give_one, 16, FTW_PHYS);
}

#endif
