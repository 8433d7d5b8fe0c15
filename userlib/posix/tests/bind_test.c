// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Binding probe for host-check.sh: references every <aio.h> function, so
 * LD_DEBUG=bindings shows where each resolves. Built three ways: plain,
 * with -D_FILE_OFFSET_BITS=64 (the *64 names), and with -DOLD_BINARY,
 * which binds the references to GLIBC_2.2.5 as a binary linked before glibc
 * 2.34 does. Runs one read through them and prints the backend.
 */
#define _GNU_SOURCE
#include <aio.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifdef OLD_BINARY
__asm__(".symver aio_read,aio_read@GLIBC_2.2.5");
__asm__(".symver aio_error,aio_error@GLIBC_2.2.5");
__asm__(".symver aio_return,aio_return@GLIBC_2.2.5");
__asm__(".symver aio_suspend,aio_suspend@GLIBC_2.2.5");
__asm__(".symver aio_cancel,aio_cancel@GLIBC_2.2.5");
__asm__(".symver lio_listio,lio_listio@GLIBC_2.2.5");
#endif

int main(void)
{
	const char *(*backend)(void) = (const char *(*)(void))
		dlsym(RTLD_DEFAULT, "kaio_posix_backend");
	struct aiocb cb, *list[1] = { &cb };
	const struct aiocb *l[1] = { &cb };
	char buf[16];
	int fd = open("/proc/self/exe", O_RDONLY);

	memset(&cb, 0, sizeof(cb));
	cb.aio_fildes = fd;
	cb.aio_buf = buf;
	cb.aio_nbytes = sizeof(buf);
	cb.aio_lio_opcode = LIO_READ;
	if (fd < 0 || aio_read(&cb))
		return 1;
	while (aio_error(&cb) == EINPROGRESS)
		aio_suspend(l, 1, NULL);
	if (aio_return(&cb) != sizeof(buf) || memcmp(buf, "\177ELF", 4))
		return 1;
	if (lio_listio(LIO_WAIT, list, 1, NULL))
		return 1;
	/*
	 * glibc 2.36's lio_listio@GLIBC_2.2.5 does not wait (its LIO_WAIT
	 * test sees the mode with LIO_NO_INDIVIDUAL_EVENT or'ed in).
	 */
	while (aio_error(&cb) == EINPROGRESS)
		aio_suspend(l, 1, NULL);
	if (aio_return(&cb) != 16)
		return 1;
	if (aio_cancel(fd, NULL) != AIO_ALLDONE)
		return 1;
	printf("backend %s\n", backend ? backend() : "none");
	return 0;
}
