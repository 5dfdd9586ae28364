/*
 * The engine's side of a net child: IMSG_IMAP_* requests (ipc/imap_proto.h)
 * turned into IMAP commands on the connection, pipelined, and what the
 * server answers turned back into typed messages for the engine.
 *
 * Order and ids.  Requests are taken in the order they arrive and their
 * commands submitted at once (one request may become several commands:
 * a UID set longer than UIDSET_CHUNK_MAX is split; EXPUNGE is STORE then
 * UID EXPUNGE).  Every request gets exactly one IMSG_IMAP_DONE, in the
 * order the requests came, with the worst status of its commands.  Data
 * the server sends untagged goes out as it arrives, with the id of the
 * oldest request not yet DONE (0 if none).
 *
 * Streaming.  A FETCH body goes to the engine chunk by chunk as the
 * parser produces it (never whole); an APPEND is written to the server
 * as its IMSG_IMAP_APPEND_DATA chunks arrive.  Between IMSG_IMAP_APPEND
 * and IMSG_IMAP_APPEND_END the engine sends nothing but the APPEND_MSG
 * and APPEND_DATA of that batch.
 *
 * Flow control.  net reads the engine's channel only while
 * imap_ops_accepting() (commands queued below IMAP_QUEUE_HWM), and
 * parses the server's bytes only while !imap_ops_congested() (the
 * engine's queue below OPS_ENGINE_HWM), so memory stays bounded whatever
 * the message sizes.
 *
 * A broken request (bad layout, a set that is not a set, a name holding
 * a NUL, APPEND pieces out of order) is the engine's bug: fatal
 * (EXIT_CHILD).
 */
#ifndef NET_IMAP_OPS_H
#define NET_IMAP_OPS_H

#include <stdint.h>

#define OPS_ENGINE_HWM	(1024 * 1024)

struct imap_ops;
struct imap_conn;
struct imap_resp;
struct imap_event;
struct ipc_chan;
struct ipc_msg;

struct imap_ops *imap_ops_new(struct ipc_chan *);
void	 imap_ops_free(struct imap_ops *);
void	 imap_ops_set_conn(struct imap_ops *, struct imap_conn *);

/* A request from the engine. */
void	 imap_ops_request(struct imap_ops *, const struct ipc_msg *);
int	 imap_ops_accepting(const struct imap_ops *);
int	 imap_ops_congested(const struct imap_ops *);

/* The connection's hooks. */
void	 imap_ops_ready(struct imap_ops *);
void	 imap_ops_untagged(struct imap_ops *, const struct imap_resp *);
void	 imap_ops_body(struct imap_ops *, const struct imap_event *);
void	 imap_ops_closed(struct imap_ops *);

#endif
