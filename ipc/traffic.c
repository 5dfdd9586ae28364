/*
 * The traffic summary line.  Kept in ipc/ because net counts the bytes
 * and priv prints the line: both link this.
 */
#include <stdio.h>
#include <string.h>

#include "traffic.h"

#define KIB	1024.0
#define MIB	(1024.0 * 1024.0)
#define GIB	(1024.0 * 1024.0 * 1024.0)

char *
traffic_size(char *buf, size_t len, uint64_t n)
{
	if (n < 1024)
		(void)snprintf(buf, len, "%llu", (unsigned long long)n);
	else if (n < 1024 * 1024)
		(void)snprintf(buf, len, "%.2fK", (double)n / KIB);
	else if (n < 1024 * 1024 * 1024)
		(void)snprintf(buf, len, "%.2fM", (double)n / MIB);
	else
		(void)snprintf(buf, len, "%.2fG", (double)n / GIB);
	return buf;
}

/* " recv 3.24K" or " recv 3.24K (compr. 1.02K, factor 0.31)". */
static void
traffic_part(char *buf, size_t len, const char *what, uint64_t plain,
    uint64_t raw)
{
	char p[TRAFFIC_SIZE_MAX], r[TRAFFIC_SIZE_MAX];
	size_t used = strlen(buf);

	if (used >= len)
		return;
	(void)traffic_size(p, sizeof(p), plain);
	if (raw == 0 || plain == 0) {
		(void)snprintf(buf + used, len - used, " %s %s", what, p);
		return;
	}
	(void)traffic_size(r, sizeof(r), raw);
	(void)snprintf(buf + used, len - used,
	    " %s %s (compr. %s, factor %.2f)", what, p, r,
	    (double)raw / (double)plain);
}

char *
traffic_format(char *buf, size_t len, const struct traffic_stats *st)
{
	if (len == 0)
		return buf;
	(void)strlcpy(buf, "IMAP traffic (bytes):", len);
	traffic_part(buf, len, "recv", st->recv, st->recv_raw);
	traffic_part(buf, len, "sent", st->sent, st->sent_raw);
	return buf;
}
