// SPDX-License-Identifier: GPL-2.0
/*
 * IOCB_CMD_NOOP, a kaio extension (fs/aio.c refuses it): needs no file,
 * completes inside SUBMIT with res 0. It measures the request's own cost
 * and tests the ring.
 */
#include "kaio.h"
#include "noop.h"

int kaio_noop_prep(struct kaio_req *req, const struct iocb *iocb)
{
	return 0;
}

enum kaio_issue kaio_noop_issue(struct kaio_req *req, long *res)
{
	*res = 0;
	return KAIO_ISSUE_DONE;
}
