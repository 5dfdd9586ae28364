/*
 * Which network failures may clear by themselves (ipc/proc.h): priv
 * connecting to a server or a proxy, and a net talking to the proxy,
 * decide with the same list whether a failure is EXIT_NET_LOST.
 */
#include <errno.h>

#include "proc.h"

int
errno_transient(int e)
{
	switch (e) {
	case ECONNREFUSED:
	case ECONNRESET:
	case ECONNABORTED:
	case ETIMEDOUT:
	case EHOSTUNREACH:
	case EHOSTDOWN:
	case ENETUNREACH:
	case ENETDOWN:
	case ENETRESET:
	case ENONET:
	case EADDRNOTAVAIL:	/* no local address yet: the link is down */
	case EPIPE:
	case EAGAIN:
		return 1;
	default:
		return 0;
	}
}
