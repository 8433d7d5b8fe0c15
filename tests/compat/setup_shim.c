// SPDX-License-Identifier: GPL-2.0
/*
 * A kaio.ko older than KAIO_SETUP_WRITES_IN_SUBMIT, played in user space:
 * kaio's libaio.so.1 calls ioctl() through its PLT, so this definition in
 * the program stands in for libc's in the library's calls. Every call is
 * passed on; SETUP with the flag is refused as such a module's flag check
 * would refuse it, while the test says so. Its own file: <linux/kaio.h>
 * (through <linux/aio_abi.h>) and <libaio.h> cannot share one.
 */
#include <errno.h>
#include <stdarg.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/kaio.h>

#include "setup_shim.h"

bool shim_refuse_writes_in_submit;
int shim_setup_calls;

int ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (request == KAIO_IOC_SETUP) {
		const struct kaio_setup *s = arg;

		shim_setup_calls++;
		if (shim_refuse_writes_in_submit &&
		    (s->flags & KAIO_SETUP_WRITES_IN_SUBMIT)) {
			errno = EINVAL;
			return -1;
		}
	}
	return syscall(SYS_ioctl, fd, request, arg);
}
