/*
 * The per-connection traffic summary printed when a client goes away
 * (unless -q), e.g. "IMAP traffic (bytes): recv 3.24K sent 590".
 *
 * net counts; priv prints.  The counters cross the IPC as IMSG_NET_STATS,
 * four u64 in the order of struct traffic_stats.
 */
#ifndef IPC_TRAFFIC_H
#define IPC_TRAFFIC_H

#include <stddef.h>
#include <stdint.h>

struct traffic_stats {
	uint64_t	recv;		/* from the server, inflated */
	uint64_t	recv_raw;	/* the same at the TLS/socket layer */
	uint64_t	sent;		/* commands, before deflate */
	uint64_t	sent_raw;	/* the same at the TLS/socket layer */
};

/*
 * The raw counters are 0 when compression was never active on the
 * connection: the "(compr. ...)" parts appear only when compression was
 * used, and then only for a direction whose plain count is non-zero.
 */

/* Long enough for the longest line traffic_format() can produce. */
#define TRAFFIC_LINE_MAX	160
#define TRAFFIC_SIZE_MAX	32

/*
 * A byte count as the summary shows it: below 1024 the plain integer,
 * else "%.2fK", "%.2fM" or "%.2fG" (1024-based).  Writes into buf (at
 * least TRAFFIC_SIZE_MAX bytes) and returns it.
 */
char	*traffic_size(char *, size_t, uint64_t);

/*
 * "IMAP traffic (bytes): recv R[ (compr. RAW, factor F)] sent S[ (...)]"
 * into buf (TRAFFIC_LINE_MAX bytes suffice).  Returns buf.
 */
char	*traffic_format(char *, size_t, const struct traffic_stats *);

#endif
