/*
 * The one decoder of IMSG_IMAP_FETCH_ITEM (ipc/imap_proto.h): every
 * reader of FETCH answers gets a struct fitem, never the raw layout.
 */
#include <stdlib.h>
#include <string.h>

#include "eng.h"
#include "imap_proto.h"

int
fitem_decode(const struct ipc_msg *msg, struct fitem *fi)
{
	struct ipc_rd rd;

	memset(fi, 0, sizeof(*fi));
	ipc_rd_init(&rd, msg);
	fi->seq = ipc_get_u32(&rd);
	fi->uid = ipc_get_u32(&rd);
	fi->modseq = ipc_get_u64(&rd);
	fi->mask = ipc_get_u32(&rd);
	fi->flags = ipc_get_str(&rd);
	fi->date = ipc_get_str(&rd);
	fi->size = ipc_get_u64(&rd);
	fi->env = ipc_get_str(&rd);
	if (ipc_rd_end(&rd) == -1 ||
	    (fi->mask & IMAP_FETCH_BODY && fi->mask & IMAP_FETCH_CONT)) {
		fitem_free(fi);
		return -1;
	}
	if (!(fi->mask & IMAP_FETCH_UID))
		fi->uid = 0;
	if (!(fi->mask & IMAP_FETCH_FLAGS)) {
		free(fi->flags);
		fi->flags = NULL;
	} else if (fi->flags == NULL)
		fi->flags = eng_strdup("");
	if (!(fi->mask & IMAP_FETCH_INTERNALDATE) ||
	    (fi->date != NULL && *fi->date == '\0')) {
		free(fi->date);
		fi->date = NULL;
		fi->mask &= ~IMAP_FETCH_INTERNALDATE;
	}
	if (!(fi->mask & IMAP_FETCH_ENVELOPE)) {
		free(fi->env);
		fi->env = NULL;
	}
	if (!(fi->mask & (IMAP_FETCH_BODY | IMAP_FETCH_SIZE)))
		fi->size = 0;
	fi->cont = (fi->mask & IMAP_FETCH_CONT) != 0;
	return 0;
}

void
fitem_free(struct fitem *fi)
{
	free(fi->flags);
	free(fi->date);
	free(fi->env);
	fi->flags = fi->date = fi->env = NULL;
}
