/*
 * A test-only engine (engine/testclient.c, linked into the test build
 * only: ipc/testhooks.h): when the environment holds
 * INTERIMAP_TEST_ENGINE_SCRIPT, engine_main() runs a small script of
 * IMAP operations against the two nets instead of the synchronisation,
 * logging every answer, so that tests can drive net/imap_ops.c through
 * the real IPC without the sync engine.
 *
 * The script: steps separated by ';' or newlines, words by blanks,
 * "double quotes" (with \" and \\; other backslashes are kept) for
 * words holding blanks; "" is the
 * empty word.  Steps are sent at once, pipelined, unless "wait" says to
 * wait for every answer so far.
 *
 *	SIDE list [REF [PATTERN...]]	LIST ... RETURN (SUBSCRIBED STATUS)
 *	SIDE listplain [REF [PATTERN...]]	LIST without RETURN
 *	SIDE select MBX [UIDVALIDITY MODSEQ KNOWN [SEQSET UIDSET]]
 *	SIDE examine MBX
 *	SIDE fetch SET ITEM[,ITEM...] [CHANGEDSINCE]
 *			(items: modseq flags internaldate envelope body)
 *	SIDE store SET replace|add|remove [UNCHANGEDSINCE] FLAG...
 *	SIDE expunge SET
 *	SIDE create|delete|subscribe|unsubscribe MBX
 *	SIDE rename OLD NEW
 *	SIDE append MBX FLAGS DATE TEXT	(FLAGS space-separated, may be
 *			""; DATE may be ""; "\n" in TEXT becomes CRLF)
 *	SIDE noop | unselect | logout
 *	SIDE notify [status] [personal] [none] [MBX...]
 *	SIDE idle		(answered once "SIDE done" ends it)
 *	SIDE done
 *	pause SECONDS
 *	wait
 *	copy FROMSIDE SRC DST	every message of SRC (SELECT, UID FETCH
 *			1:* with bodies) appended to DST on the other side
 *			as one MULTIAPPEND, each body streamed chunk by
 *			chunk as it arrives
 *
 * Presets: "list" (both sides' LIST), "copy:MBX" (copy remote MBX MBX).
 *
 * Output (LOG_LVL_NOTICE, name = the side): "#ID OP OK|NO|BAD [CODE
 * data] text", "LIST name delim=C attrs=...", "STATUS name ...",
 * "FETCH uid=... flags=(...) ...", "BODY uid=N bytes=M", "EXISTS n",
 * "VANISHED [(EARLIER) ]set", "CODE NAME value rest", "copy: ...".
 * The engine then reports IMSG_ENGINE_DONE with EXIT_OK (EXIT_FAIL for
 * a script that does not parse) and waits for priv to end the run.
 */
#ifndef ENGINE_TESTCLIENT_H
#define ENGINE_TESTCLIENT_H

struct ipc_chan;

/* Never returns: exits when priv ends the run. */
void	 eng_testclient(struct ipc_chan *, struct ipc_chan *, const char *)
	    __attribute__((noreturn));

#endif
