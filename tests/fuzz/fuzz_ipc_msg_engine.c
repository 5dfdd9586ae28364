/*
 * engine/engine.c compiled into the ipc_msg fuzz target, so that its
 * static IMSG_ENGINE_CONF unpacker can be called (and is instrumented).
 */
#include "../../engine/engine.c"

int	fuzz_eng_conf(const struct ipc_msg *);

int
fuzz_eng_conf(const struct ipc_msg *msg)
{
	struct eng_conf	c;
	size_t		i;
	volatile size_t	n = 0;

	if (eng_conf_unpack(&c, msg) == -1)
		return -1;
	for (i = 0; i < c.nmailbox; i++)
		n += c.mailbox[i].len;
	for (i = 0; i < c.npattern; i++)
		n += c.pattern[i].len;
	n += c.list_select_opts != NULL ? strlen(c.list_select_opts) : 0;
	n += c.ignore_mailbox != NULL ? strlen(c.ignore_mailbox) : 0;
	n += strlen(c.list_reference[SIDE_LOCAL]) +
	    strlen(c.list_reference[SIDE_REMOTE]);
	eng_conf_free(&c);
	(void)n;
	return 0;
}
