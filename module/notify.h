/* SPDX-License-Identifier: GPL-2.0 */
/* Completion signals (notify.c): KAIO_IOCB_FLAG_SIGEVENT and SUBMIT_LIST. */
#ifndef _KAIO_NOTIFY_H
#define _KAIO_NOTIFY_H

#include "kaio.h"

struct kaio_notify;
struct kaio_notify_list;

void kaio_notify_ctx_init(struct kaio_ctx *ctx);
void kaio_notify_ctx_exit(struct kaio_ctx *ctx);

struct kaio_notify *kaio_notify_new(struct kaio_ctx *ctx,
				    const struct kaio_sigevent *sev,
				    struct kaio_notify_list *list);
void kaio_notify_queue(struct kaio_ctx *ctx, struct kaio_notify *n);
void kaio_notify_discard(struct kaio_notify *n);

struct kaio_notify_list *kaio_notify_list_new(struct kaio_ctx *ctx,
					      const struct kaio_sigevent *sev);
void kaio_notify_list_end(struct kaio_notify_list *list, bool took);

#endif /* _KAIO_NOTIFY_H */
