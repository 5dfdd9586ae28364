/*
 * net/net.c compiled into the ipc_msg fuzz target, so that its static
 * IMSG_NET_CONF unpacker can be called (and is instrumented).
 */
#include "../../net/net.c"

int	fuzz_net_conf(const struct ipc_msg *);

int
fuzz_net_conf(const struct ipc_msg *msg)
{
	size_t	i;
	int	r;

	memset(&net_conf, 0, sizeof(net_conf));
	r = net_conf_unpack(&net_conf, msg);
	if (r == 0)
		for (i = 0; i < net_conf.nkv; i++)
			if (net_conf.kv[i].key == NULL ||
			    net_conf.kv[i].value == NULL ||
			    net_conf.kv[i].key[0] == '\0' ||
			    net_conf_get(net_conf.kv[i].key) == NULL)
				abort();
	net_conf_wipe();
	return r;
}
