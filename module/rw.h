/* SPDX-License-Identifier: GPL-2.0 */
/* PREAD, PWRITE, PREADV, PWRITEV (rw.c), for the op table. */
#ifndef _KAIO_RW_H
#define _KAIO_RW_H

#include "ops.h"

int kaio_rw_prep(struct kaio_req *req, const struct iocb *iocb);
enum kaio_issue kaio_rw_issue(struct kaio_req *req, long *res);
enum kaio_issue kaio_rw_work(struct kaio_req *req, long *res);
enum kaio_issue kaio_rw_retry(struct kaio_req *req, long *res);
long kaio_rw_cancelled(struct kaio_req *req);
void kaio_rw_cleanup(struct kaio_req *req);
bool kaio_rw_cleanup_sleeps(struct kaio_req *req);
void kaio_rw_usercopy_region(unsigned int *offset, unsigned int *size);

#endif /* _KAIO_RW_H */
