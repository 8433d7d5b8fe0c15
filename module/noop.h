/* SPDX-License-Identifier: GPL-2.0 */
/* NOOP (noop.c), for the op table. */
#ifndef _KAIO_NOOP_H
#define _KAIO_NOOP_H

#include "ops.h"

int kaio_noop_prep(struct kaio_req *req, const struct iocb *iocb);
enum kaio_issue kaio_noop_issue(struct kaio_req *req, long *res);

#endif /* _KAIO_NOOP_H */
