/*
 * netc's internals shared by netc.c (requests, dispatch) and
 * netc_state.c (what servers report).
 */
#ifndef ENGINE_NETC_INT_H
#define ENGINE_NETC_INT_H

#include <stdint.h>

struct fitem;
struct ipc_msg;
struct mbox;
struct peer;
struct req;

/* The server now speaks of mb (the reference's _open_mailbox()). */
void	 netc_open(struct peer *, struct mbox *);
/* Nothing is selected any more; a SELECT in flight comes next. */
void	 netc_unselected(struct peer *);
/* A response code, untagged or tagged, about the selected mailbox. */
void	 netc_code(struct peer *, uint32_t, uint64_t);
void	 netc_command_hms(struct peer *, uint64_t);
void	 netc_exists(struct peer *, uint32_t);
void	 netc_vanished(struct peer *, uint32_t, const char *);
/* Could an item about uid answer one of our metadata FETCHes? */
int	 netc_nomod(const struct peer *, uint32_t);
/* A FETCH item, given to owner (may be NULL). */
void	 netc_fetch_item(struct peer *, struct fitem *, const struct req *);
/* A FETCH response without MODSEQ: the reference panics. */
void	 netc_no_modseq(struct peer *);
/* An unsolicited STATUS (NOTIFY): the live cache. */
void	 netc_status_item(struct peer *, struct ipc_msg *);
/* The reference's checks after every command on the selected mailbox. */
void	 netc_check_selected(struct peer *);
/* A broken message from net: ends the engine. */
__attribute__((noreturn))
void	 netc_bad(struct peer *, struct ipc_msg *, const char *);

#endif
