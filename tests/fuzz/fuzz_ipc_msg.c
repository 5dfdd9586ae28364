/*
 * libFuzzer target for the unpackers of IPC payloads that a process
 * receives from another: the input's first byte picks the message, the
 * rest is its payload.
 *
 *	0 IMSG_LOG		priv, from a net or the engine
 *				(logsink_imsg(), priv/logsink.c)
 *	1 IMSG_NET_STATS	priv, from a net (priv/priv_net.c)
 *	2 IMSG_IMAP_FETCH_ITEM	the engine, from a net
 *				(fitem_decode(), engine/fitem.c)
 *	3 IMSG_ENGINE_CONF	the engine, from priv (engine/engine.c)
 *	4 IMSG_NET_CONF		a net, from priv (net/net.c)
 *	5 IMSG_NET_STREAM	a net, from priv: the transport, a SOCKS5
 *				request (net/net.c)
 *	6 IMSG_NET_SECRETS	a spare net, from priv (net/net.c)
 *
 * A payload outside the catalogue's length bounds never reaches an
 * unpacker (ipc_get() refuses it; fuzz_ipc_frame covers that), so such
 * inputs are skipped.  The database requests (fuzz_priv_db), the
 * engine's IMAP requests to a net (fuzz_net_ops), the children's own
 * messages to priv (fuzz_priv_msg) and the engine's other answers from
 * the nets and priv (fuzz_engine_msg) have their own targets.
 */
#include <stdlib.h>
#include <string.h>

#include "ipc.h"
#include "log.h"
#include "logsink.h"
#include "priv_net.h"
#include "../../priv/proc.h"	/* priv's, not ipc/proc.h */
#include "eng.h"
#include "imap_proto.h"
#include "fuzz_common.h"
#include "fuzz_msg.h"

int	fuzz_eng_conf(const struct ipc_msg *);
int	fuzz_net_conf(const struct ipc_msg *);
int	fuzz_net_stream(const struct ipc_msg *);
int	fuzz_net_secrets(const struct ipc_msg *);

static const uint32_t types[] = {
	IMSG_LOG, IMSG_NET_STATS, IMSG_IMAP_FETCH_ITEM, IMSG_ENGINE_CONF,
	IMSG_NET_CONF, IMSG_NET_STREAM, IMSG_NET_SECRETS,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ipc_msg	 msg;
	struct fitem	 fi;
	uint8_t		 sel;
	volatile size_t	 n = 0;

	if (size < 1)
		return 0;
	sel = data[0] % (sizeof(types) / sizeof(types[0]));
	if (fuzz_msg(&msg, types[sel], data + 1, size - 1) == -1)
		return 0;
	switch (msg.hdr.type) {
	case IMSG_LOG:
		(void)logsink_imsg(&msg, logsink_names(PROC_NET,
		    data[0] & 0x80 ? SIDE_REMOTE : SIDE_LOCAL));
		(void)logsink_imsg(&msg, logsink_names(PROC_ENGINE,
		    SIDE_NONE));
		break;
	case IMSG_NET_STATS: {
		struct proc_child net;

		memset(&net, 0, sizeof(net));
		net.kind = PROC_NET;
		net.side = data[0] & 0x80 ? SIDE_REMOTE : SIDE_LOCAL;
		net.ready = (data[0] & 0x40) == 0;
		priv_net_init(0);
		if (priv_net_stats(&net, &msg) == NULL &&
		    (!net.ready || priv_net_stats(&net, &msg) == NULL))
			abort();	/* early, or sent twice: refused */
		break;
	}
	case IMSG_IMAP_FETCH_ITEM:
		if (fitem_decode(&msg, &fi) == 0) {
			if ((fi.flags != NULL) != !!(fi.mask &
			    IMAP_FETCH_FLAGS) || (fi.cont && fi.mask &
			    IMAP_FETCH_BODY))
				abort();
			n += fi.flags != NULL ? strlen(fi.flags) : 0;
			n += fi.date != NULL ? strlen(fi.date) : 0;
			n += fi.env != NULL ? strlen(fi.env) : 0;
			fitem_free(&fi);
		} else if (fi.flags != NULL || fi.date != NULL ||
		    fi.env != NULL)
			abort();
		break;
	case IMSG_ENGINE_CONF:
		(void)fuzz_eng_conf(&msg);
		break;
	case IMSG_NET_STREAM:
		(void)fuzz_net_stream(&msg);
		break;
	case IMSG_NET_SECRETS:
		(void)fuzz_net_secrets(&msg);
		break;
	case IMSG_NET_CONF:
		(void)fuzz_net_conf(&msg);
		break;
	}
	ipc_msg_free(&msg);
	(void)n;
	return 0;
}

int	LLVMFuzzerInitialize(int *, char ***);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* The sink: lines go nowhere, but are formatted with a prefix. */
	(void)logsink_init("%?n?%?m?%n(%m)&%n?: ?", 0, 2, NULL);
	log_set_sink(fuzz_sink);
	return 0;
}
