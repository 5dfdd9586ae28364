/*
 * Where the config file and the database live: the reference's reading
 * of the XDG base directory specification.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "conf_int.h"

#define XDG_SUBDIR	"interimap"

/*
 * path absolute: itself, nothing created.  Otherwise the base is $envvar
 * when set, even to the empty string (which then is no directory), else
 * $HOME/fallback ("" for an unset HOME, as the reference does).  The base
 * must be a directory; <base>/interimap is created with mode 0700 if
 * missing, and path is taken relative to it.
 */
char *
conf_xdg_path(const char *envvar, const char *fallback, const char *path)
{
	struct stat st;
	const char *env, *home;
	char *base = NULL, *dir = NULL, *res = NULL;

	if (*path == '\0' || !conf_printable(path, strlen(path))) {
		conf_error("Insecure %s", path);
		return NULL;
	}
	if (path[0] == '/') {
		if ((res = strdup(path)) == NULL)
			conf_error("out of memory");
		return res;
	}

	if ((env = getenv(envvar)) != NULL)
		base = strdup(env);
	else {
		home = getenv("HOME");
		if (asprintf(&base, "%s/%s", home == NULL ? "" : home,
		    fallback) == -1)
			base = NULL;
	}
	if (base == NULL) {
		conf_error("out of memory");
		return NULL;
	}
	if (stat(base, &st) == -1 || !S_ISDIR(st.st_mode)) {
		conf_error("No such directory: %s", base);
		goto out;
	}
	if (asprintf(&dir, "%s/%s", base, XDG_SUBDIR) == -1) {
		dir = NULL;
		conf_error("out of memory");
		goto out;
	}
	/* A relative base ("$XDG_DATA_HOME=foo") is refused, as upstream. */
	if (dir[0] != '/' || !conf_printable(dir + 1, strlen(dir + 1))) {
		conf_error("Insecure %s", dir);
		goto out;
	}
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		conf_error("Couldn't create %s: %s", dir, strerror(errno));
		goto out;
	}
	if (asprintf(&res, "%s/%s", dir, path) == -1) {
		res = NULL;
		conf_error("out of memory");
	}
out:
	free(base);
	free(dir);
	return res;
}
