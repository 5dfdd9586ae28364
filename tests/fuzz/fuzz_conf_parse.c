/*
 * libFuzzer target for the configuration file parser (priv/conf_parse.c)
 * and the value checks (priv/conf_validate.c): the input is a config
 * file's bytes.  Every key of every section is checked as conf.c checks
 * it, and list-mailbox values are tokenised.  The parse must be
 * consistent: "_" first, every section findable by name, every key
 * findable in its section, lengths matching the NUL-terminated copies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "conf_int.h"
#include "fuzz_common.h"

void
conf_error(const char *fmt, ...)
{
	(void)fmt;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ini		 ini;
	struct conf_pattern	*pats;
	const struct ini_section *s;
	const struct ini_kv	*kv;
	size_t			 i, j, n;
	int			 r;

	memset(&ini, 0, sizeof(ini));
	r = conf_ini_parse(&ini, (const char *)data, size);
	if (r == 0) {
		if (ini.nsec == 0 || strcmp(ini.sec[0].name, INI_DEFAULT) != 0)
			abort();
		for (i = 0; i < ini.nsec; i++) {
			s = &ini.sec[i];
			if (s->name[s->namelen] != '\0')
				abort();
			if (memchr(s->name, '\0', s->namelen) == NULL &&
			    conf_ini_section(&ini, s->name) == NULL)
				abort();
			for (j = 0; j < s->nkv; j++) {
				kv = &s->kv[j];
				if (kv->key[kv->keylen] != '\0' ||
				    kv->value[kv->vallen] != '\0' ||
				    kv->line < 1)
					abort();
				(void)conf_check(kv->key, kv->keylen,
				    kv->value, kv->vallen);
				(void)conf_nocontrol(kv->value, kv->vallen);
				(void)conf_printable(kv->value, kv->vallen);
				if (memchr(kv->key, '\0', kv->keylen) == NULL &&
				    conf_ini_get(s, kv->key) == NULL)
					abort();
				if (strcmp(kv->key, "list-mailbox") == 0 &&
				    conf_list_mailbox(kv->value, &pats,
				    &n) == 0)
					conf_patterns_free(pats, n);
			}
		}
	} else if (ini.errline > 0 && ini.errtext == NULL)
		abort();
	conf_ini_free(&ini);
	return 0;
}
