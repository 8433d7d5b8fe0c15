/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kaio's tracepoints: a request's life as events/kaio/ in tracefs. Every
 * event names the request and its iocb so one request can be followed.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM kaio

#if !defined(_KAIO_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _KAIO_TRACE_H

#include <linux/tracepoint.h>
#include "kaio.h"
#include "ops.h"

/* The op by name from the table; the number too, for event filters. */
TRACE_EVENT(kaio_submit,
	TP_PROTO(struct kaio_req *req, u16 opcode, int fd, loff_t pos,
		 u64 nbytes),
	TP_ARGS(req, opcode, fd, pos, nbytes),
	TP_STRUCT__entry(
		__field(const void *, req)
		__field(u64, iocb)
		__field(u16, opcode)
		__field(int, fd)
		__field(loff_t, pos)
		__field(u64, nbytes)
		__string(op, req->op->name)	/* last: the others keep their offsets */
	),
	TP_fast_assign(
		__entry->req = req;
		__entry->iocb = req->user_iocb;
		__entry->opcode = opcode;
		__entry->fd = fd;
		__entry->pos = pos;
		__entry->nbytes = nbytes;
		__assign_str(op, req->op->name);
	),
	TP_printk("req %p iocb 0x%llx %s (opcode %u) fd %d pos %lld nbytes %llu",
		  __entry->req, __entry->iocb, __get_str(op), __entry->opcode,
		  __entry->fd, __entry->pos, __entry->nbytes)
);

DECLARE_EVENT_CLASS(kaio_req_event,
	TP_PROTO(struct kaio_req *req),
	TP_ARGS(req),
	TP_STRUCT__entry(
		__field(const void *, req)
		__field(u64, iocb)
	),
	TP_fast_assign(
		__entry->req = req;
		__entry->iocb = req->user_iocb;
	),
	TP_printk("req %p iocb 0x%llx", __entry->req, __entry->iocb)
);

/* A page-wait callback is being armed (logged before: after, not ours). */
DEFINE_EVENT(kaio_req_event, kaio_arm,
	TP_PROTO(struct kaio_req *req),
	TP_ARGS(req)
);

/* A wait callback fired: page unlocked, or the polled file woke. */
DEFINE_EVENT(kaio_req_event, kaio_wake,
	TP_PROTO(struct kaio_req *req),
	TP_ARGS(req)
);

/* A retry runs: on the retry workqueue, or in a GETEVENTS waiter. */
DEFINE_EVENT(kaio_req_event, kaio_retry,
	TP_PROTO(struct kaio_req *req),
	TP_ARGS(req)
);

/* Handed to the bounded blocking worker pool. */
/* A GETEVENTS waiter could not finish the retry: to the retry queue. */
DEFINE_EVENT(kaio_req_event, kaio_requeue,
	TP_PROTO(struct kaio_req *req),
	TP_ARGS(req)
);

DEFINE_EVENT(kaio_req_event, kaio_punt,
	TP_PROTO(struct kaio_req *req),
	TP_ARGS(req)
);

TRACE_EVENT(kaio_complete,
	TP_PROTO(struct kaio_req *req, long res),
	TP_ARGS(req, res),
	TP_STRUCT__entry(
		__field(const void *, req)
		__field(u64, iocb)
		__field(long, res)
		__field(u8, path)
	),
	TP_fast_assign(
		__entry->req = req;
		__entry->iocb = req->user_iocb;
		__entry->res = res;
		__entry->path = req->path;
	),
	TP_printk("req %p iocb 0x%llx res %ld path %s", __entry->req,
		  __entry->iocb, __entry->res,
		  __print_symbolic(__entry->path,
				   { 0, "none" },
				   { KAIO_PATH_INLINE, "inline" },
				   { KAIO_PATH_ASYNC, "async" },
				   { KAIO_PATH_RETRY, "retry" },
				   { KAIO_PATH_WORKER, "worker" }))
);

#endif /* _KAIO_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
