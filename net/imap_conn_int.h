/*
 * Private to imap_conn.c (the session and the read side) and imap_cmd.c
 * (commands and the write side): the connection's state.
 */
#ifndef NET_IMAP_CONN_INT_H
#define NET_IMAP_CONN_INT_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "imap_conn.h"
#include "imap_fmt.h"

#define CONN_RBUF_SIZE	65536	/* one read from the stream */
#define CONN_TAG_SIZE	16

enum cmd_part_kind {
	PART_TEXT,		/* bytes of the line */
	PART_LITERAL,		/* "{N}" or "{N+}" CRLF */
	PART_DATA,		/* literal bytes */
	PART_CONT,		/* CRLF, then wait for "+" */
	PART_END,		/* the final CRLF */
};

struct cmd_part {
	enum cmd_part_kind	 kind;
	unsigned char		*data;		/* TEXT, DATA */
	size_t			 len, off;	/* off: bytes written */
	uint64_t		 size;		/* LITERAL */
	int			 sync;		/* LITERAL: wait for "+" */
	int			 secret;	/* wipe; redact in the log */
};

struct imap_cmd {
	TAILQ_ENTRY(imap_cmd)	 wentry;	/* the write queue */
	TAILQ_ENTRY(imap_cmd)	 fentry;	/* in flight */
	struct imap_conn	*conn;
	char			 tag[CONN_TAG_SIZE];
	const char		*name;
	imap_cmd_cb		 cb;
	void			*arg;
	struct cmd_part		*parts;
	size_t			 nparts, cap, ipart;
	size_t			 queued;	/* bytes in parts, unwritten */
	int			 closed;	/* imap_cmd_end() was called */
	int			 submitted;
	int			 inflight;	/* its first byte is out */
	int			 waiting;	/* for a "+" continuation */
	uint64_t		 lit_begin;	/* literal to start at "+" */
	int			 lit_pending;
	int			 finished;	/* the tagged answer came */
	int			 secret;	/* a secret part was added */
	int			 in_cb;		/* its callback is running */
	int			 barrier;	/* written: nothing after it until
						   its answer (COMPRESS) */
	int64_t			 owed_since;	/* written whole, or "+" due */
};

TAILQ_HEAD(imap_cmdq, imap_cmd);

enum conn_state {
	CONN_NEW,		/* no stream yet */
	CONN_HANDSHAKE,		/* imaps: TLS before the greeting */
	CONN_GREETING,
	CONN_SETUP,		/* CAPABILITY ... ENABLE */
	CONN_READY,
	CONN_LOGOUT,		/* LOGOUT sent */
	CONN_CLOSED,
};

struct net_stream;
struct imap_parser;

struct scram;

struct imap_conn {
	struct imap_conn_conf	 conf;
	struct imap_conn_hooks	 hooks;
	enum conn_state		 state;
	struct net_stream	*stream;
	struct imap_parser	*parser;
	int			 debug;

	/* read side */
	unsigned char		*rbuf;
	size_t			 roff, rend;	/* unfed bytes [roff, rend) */
	int			 read_paused;	/* stopped reading, not EAGAIN */
	size_t			 fed_end;	/* the window fed ends here */
	int			 fed;		/* the parser holds a window */
	int			 careful;	/* feed one line at a time */
	int			 eof;		/* imap_parser_eof() called */
	int			 stop_pump;

	/* write side */
	struct imap_cmdq	 wq;	/* submitted, not fully written */
	struct imap_cmdq	 fq;		/* tag sent, no answer yet */
	struct imap_cmd		*in_cb;		/* answered, its cb running */
	uint32_t		 tagno;
	size_t			 queued; /* bytes in all commands' parts */

	/* session */
	char			**caps;
	size_t			 ncaps;
	int			 caps_known;
	char			**enabled;
	size_t			 nenabled;
	int			 authenticated;
	int			 tls_done;	/* STARTTLS or imaps */
	int			 compress_tried;
	/*
	 * COMPRESS is sent right behind the session's first command, not
	 * before it (imap_conn.c: conn_compress()); nothing is written
	 * after it (hold) until its answer.
	 */
	int			 compress_due;
	int			 hold;
	int			 enable_sent;
	enum imap_method	 method;	/* chosen at ENABLE time */
	int			 in_auth; /* quiet protocol log (debug 1) */
	struct scram		*scram;	/* a SCRAM exchange under way */
	struct imap_cmd		*sasl_cmd; /* its AUTHENTICATE, left open */
	int			 sasl_step; /* continuations answered */
	int			 oauth;	/* 1 XOAUTH2, 2 OAUTHBEARER */
	int			 oauth_refused; /* its error payload came */
	char			*sasl_err; /* the server's error payload */
	int			 tls_logged;
	char			*bye;	/* the text of an untagged BYE */
	struct imap_cmd		*logout;

	/* protocol log (--debug) */
	struct imap_buf		 clog;		/* the client line so far */
	int			 clog_redact;
	struct imap_buf		 slog;		/* the server line so far */
	uint64_t		 slog_skip;	/* literal bytes to skip */
	int			 slog_lit;	/* the line follows a literal */

	/* timers (CLOCK_MONOTONIC milliseconds; imap_conn.h) */
	int64_t			 setup_timeout;	/* each set-up phase */
	int64_t			 stall_timeout;	/* the session's silence */
	int64_t			 idle_probe;
	int64_t			 phase_start;	/* this set-up phase began */
	int64_t			 last_io;	/* a byte moved either way */
	int64_t			 last_recv;	/* one came, or we held back */
	int64_t			 last_drain;	/* blocked output went out */
	int64_t			 write_since;	/* output blocked since */
	int64_t			 logout_at;
	uint64_t		 recv_mark;	/* counters at last_recv */
	uint64_t		 sent_mark;
	int			 write_blocked;	/* output was pending */
	int			 held;		/* we stopped reading */
	int			 handshaking;	/* TLS handshake under way */
	int			 probing;	/* our own NOOP in flight */
};

/* imap_cmd.c */
void	 cmd_free(struct imap_cmd *);
/* Frees it if answered, ended and written (or dropped). */
void	 cmd_maybe_free(struct imap_cmd *);
/* Writes what the queue allows; 0, or -1 (stream error). */
int	 cmd_write(struct imap_conn *);
/* The server's "+": the command waiting for it goes on. 0 / -1. */
int	 cmd_continue(struct imap_conn *);
/* The tagged answer of cmd: out of both queues, rest dropped. */
void	 cmd_unlink(struct imap_cmd *);
/* COMPRESS, behind the session's first command (imap_conn.c). */
void	 conn_compress(struct imap_conn *);
/* The --debug line logger for server bytes. */
void	 conn_slog(struct imap_conn *, const unsigned char *, size_t);

#endif
