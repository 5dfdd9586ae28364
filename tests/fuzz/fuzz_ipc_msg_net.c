/*
 * net/net.c compiled into the ipc_msg fuzz target, so that its static
 * unpackers of priv's messages (IMSG_NET_CONF, IMSG_NET_STREAM,
 * IMSG_NET_SECRETS) can be called (and are instrumented).
 */
#include "../../net/net.c"

int	fuzz_net_conf(const struct ipc_msg *);
int	fuzz_net_stream(const struct ipc_msg *);
int	fuzz_net_secrets(const struct ipc_msg *);

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

int
fuzz_net_stream(const struct ipc_msg *msg)
{
	struct socks5_req req;
	uint32_t transport;
	int timeout;

	if (net_stream_unpack(msg, &transport, &req, &timeout) == -1) {
		/* A refusal keeps nothing. */
		if (req.user != NULL || req.pass != NULL)
			abort();
		return -1;
	}
	if (transport > NET_STREAM_SOCKS5)
		abort();
	if (transport == NET_STREAM_SOCKS5) {
		if (timeout <= 0 || timeout > NET_STREAM_MAXTIMEOUT ||
		    req.addrlen < 1 || req.addrlen > sizeof(req.addr) ||
		    (req.atyp == SOCKS5_ATYP_IPV4 && req.addrlen != 4) ||
		    (req.atyp == SOCKS5_ATYP_IPV6 && req.addrlen != 16) ||
		    (req.user == NULL) != (req.pass == NULL))
			abort();
	} else if (req.user != NULL || req.pass != NULL)
		abort();
	if (req.user != NULL)
		freezero(req.user, strlen(req.user));
	if (req.pass != NULL)
		freezero(req.pass, strlen(req.pass));
	return 0;
}

int
fuzz_net_secrets(const struct ipc_msg *msg)
{
	char *pw, *tok;

	if (net_secrets_unpack(msg, &pw, &tok) == -1) {
		if (pw != NULL || tok != NULL)
			abort();
		return -1;
	}
	/* None is NULL, never "". */
	if ((pw != NULL && *pw == '\0') || (tok != NULL && *tok == '\0'))
		abort();
	if (pw != NULL)
		freezero(pw, strlen(pw));
	if (tok != NULL)
		freezero(tok, strlen(tok));
	return 0;
}
