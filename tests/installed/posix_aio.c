// SPDX-License-Identifier: GPL-2.0
/*
 * A POSIX aio program as anyone writes one: glibc's <aio.h> only, nothing
 * of kaio. scripts/deb-check.sh builds it on the host twice, plainly (run
 * in the guest with LD_PRELOAD of the installed libkaio-posix.so.1) and
 * with -lkaio-posix against the installed libkaio-posix-dev, and
 * tests/installed/kaio_installed.sh runs both on kaio.
 *
 *   posix_aio FILE: aio_write 64 KiB, aio_fsync, then lio_listio(LIO_WAIT)
 *   of 16 reads of 4 KiB; every byte is checked. Exit status 0 if right.
 */
#define _GNU_SOURCE
#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define SIZE (64 * 1024)
#define CHUNK 4096
#define NREADS (SIZE / CHUNK)

static unsigned char out[SIZE], in[SIZE];

static int wait_one(struct aiocb *cb, const char *what)
{
	const struct aiocb *l[1] = { cb };
	int err;

	while ((err = aio_error(cb)) == EINPROGRESS)
		if (aio_suspend(l, 1, NULL) && errno != EINTR) {
			perror("aio_suspend");
			return -1;
		}
	if (err) {
		fprintf(stderr, "%s: %s\n", what, strerror(err));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct aiocb w, s, r[NREADS], *list[NREADS];
	int fd, i;

	if (argc != 2) {
		fprintf(stderr, "usage: posix_aio FILE\n");
		return 2;
	}
	fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	for (i = 0; i < SIZE; i++)
		out[i] = (unsigned char)(i * 7 + i / CHUNK);

	memset(&w, 0, sizeof(w));
	w.aio_fildes = fd;
	w.aio_buf = out;
	w.aio_nbytes = SIZE;
	if (aio_write(&w) || wait_one(&w, "aio_write") || aio_return(&w) != SIZE) {
		fprintf(stderr, "aio_write failed\n");
		return 1;
	}
	memset(&s, 0, sizeof(s));
	s.aio_fildes = fd;
	if (aio_fsync(O_SYNC, &s) || wait_one(&s, "aio_fsync") || aio_return(&s)) {
		fprintf(stderr, "aio_fsync failed\n");
		return 1;
	}
	for (i = 0; i < NREADS; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].aio_fildes = fd;
		r[i].aio_buf = in + i * CHUNK;
		r[i].aio_nbytes = CHUNK;
		r[i].aio_offset = (off_t)i * CHUNK;
		r[i].aio_lio_opcode = LIO_READ;
		list[i] = &r[i];
	}
	if (lio_listio(LIO_WAIT, list, NREADS, NULL)) {
		perror("lio_listio");
		return 1;
	}
	for (i = 0; i < NREADS; i++)
		if (aio_error(&r[i]) || aio_return(&r[i]) != CHUNK) {
			fprintf(stderr, "read %d: error %d\n", i, aio_error(&r[i]));
			return 1;
		}
	if (memcmp(in, out, SIZE)) {
		fprintf(stderr, "the data read back differs\n");
		return 1;
	}
	close(fd);
	printf("posix_aio: %d bytes written, synced and read back in %d reads\n",
	       SIZE, NREADS);
	return 0;
}
