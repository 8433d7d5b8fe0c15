/* SPDX-License-Identifier: GPL-2.0 */
/* FSYNC and FDSYNC (fsync.c), for the op table. */
#ifndef _KAIO_FSYNC_H
#define _KAIO_FSYNC_H

#include "ops.h"

int kaio_fsync_prep(struct kaio_req *req, const struct iocb *iocb);
enum kaio_issue kaio_fsync_issue(struct kaio_req *req, long *res);
enum kaio_issue kaio_fsync_work(struct kaio_req *req, long *res);

#endif /* _KAIO_FSYNC_H */
