/* SPDX-License-Identifier: GPL-2.0 */
/* POLL (poll.c), for the op table. */
#ifndef _KAIO_POLL_H
#define _KAIO_POLL_H

#include "ops.h"

int kaio_poll_prep(struct kaio_req *req, const struct iocb *iocb);
enum kaio_issue kaio_poll_issue(struct kaio_req *req, long *res);
enum kaio_issue kaio_poll_retry(struct kaio_req *req, long *res);
bool kaio_poll_cancel(struct kaio_req *req);

#endif /* _KAIO_POLL_H */
