/* SPDX-License-Identifier: GPL-2.0 */
/* setup_shim.c: kaio.ko as it was before KAIO_SETUP_WRITES_IN_SUBMIT. */
#ifndef KAIO_COMPAT_SETUP_SHIM_H
#define KAIO_COMPAT_SETUP_SHIM_H

#include <stdbool.h>

/* While true, KAIO_IOC_SETUP with KAIO_SETUP_WRITES_IN_SUBMIT fails EINVAL. */
extern bool shim_refuse_writes_in_submit;
/* KAIO_IOC_SETUP calls the library made. */
extern int shim_setup_calls;

#endif
