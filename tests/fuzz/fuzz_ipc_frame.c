/*
 * libFuzzer target for the IPC framing (ipc/ipc.c ipc_get() and the
 * catalogue): the input's first byte picks which end of which channel
 * receives (priv from a net or the engine, the engine from priv or a
 * net, a net from priv or the engine), the rest is the byte stream, fed
 * in pieces whose sizes come from the stream itself.  Every message
 * handed out must respect the catalogue (direction, bounds), and after an
 * error nothing more comes out.  Each payload is then walked with the
 * ipc_rd readers as a string list, as handlers do.
 */
#include <stdlib.h>
#include <string.h>

#include "ipc.h"
#include "log.h"
#include "fuzz_common.h"

static const uint32_t ends[][2] = {	/* self, peer */
	{ PROC_PRIV, PROC_NET },
	{ PROC_PRIV, PROC_ENGINE },
	{ PROC_ENGINE, PROC_PRIV },
	{ PROC_ENGINE, PROC_NET },
	{ PROC_NET, PROC_PRIV },
	{ PROC_NET, PROC_ENGINE },
};

static void
walk(const struct ipc_msg *msg, uint8_t how)
{
	struct ipc_rd	 rd;
	const void	*d;
	char		*s;
	size_t		 len;
	volatile uint64_t sum = 0;

	ipc_rd_init(&rd, msg);
	while (!rd.error && rd.left > 0) {
		switch (how++ % 4) {
		case 0:
			sum += ipc_get_u32(&rd);
			break;
		case 1:
			sum += ipc_get_u64(&rd);
			break;
		case 2:
			if ((d = ipc_get_data(&rd, &len)) != NULL && len > 0)
				sum += ((const uint8_t *)d)[len - 1];
			break;
		default:
			if ((s = ipc_get_str(&rd)) != NULL) {
				sum += strlen(s);
				free(s);
			}
			break;
		}
	}
	(void)ipc_rd_end(&rd);
	(void)sum;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct ipc_catalogue_entry *e;
	struct ipc_chan	 chan;
	struct ipc_msg	 msg;
	size_t		 fed = 0, step, total;
	uint8_t		 sel;
	int		 r, broken = 0;

	log_set_sink(fuzz_sink);
	if (size < 1)
		return 0;
	sel = data[0];
	data++;
	size--;
	memset(&chan, 0, sizeof(chan));
	chan.fd = -1;
	chan.self = ends[sel % 6][0];
	chan.peer = ends[sel % 6][1];
	/* The stream arrives in pieces, as reads would bring it. */
	while (fed < size) {
		step = 1 + (size_t)data[fed] * (1 + sel / 6);
		if (step > size - fed)
			step = size - fed;
		total = chan.rlen + step;
		if (total > chan.rcap) {
			if ((chan.rbuf = realloc(chan.rbuf, total)) == NULL)
				abort();
			chan.rcap = total;
		}
		memcpy(chan.rbuf + chan.rlen, data + fed, step);
		chan.rlen += step;
		fed += step;
		while ((r = ipc_get(&chan, &msg)) == 1) {
			if (broken)
				abort();
			e = ipc_catalogue(msg.hdr.type);
			if (e == NULL || msg.len != msg.hdr.len ||
			    msg.len < e->minlen || msg.len > e->maxlen ||
			    (e->from & chan.peer) == 0 ||
			    (e->to & chan.self) == 0 || msg.fd != -1 ||
			    (msg.len > 0) != (msg.data != NULL))
				abort();
			walk(&msg, sel);
			ipc_msg_free(&msg);
		}
		if (r == -1) {
			if (chan.err[0] == '\0')
				abort();
			broken = 1;
		}
		/* ipc_read() would compact; keep the buffer ours. */
		if (chan.roff == chan.rlen) {
			chan.rstream += chan.roff;
			chan.roff = chan.rlen = 0;
		}
	}
	free(chan.rbuf);
	chan.rbuf = NULL;
	chan.rlen = chan.rcap = chan.roff = 0;
	ipc_chan_close(&chan);
	return 0;
}
