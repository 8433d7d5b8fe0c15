/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libkaio-posix: glibc's <aio.h> ABI served by kaio. Everything the library
 * exports beside the <aio.h> functions (version node KAIO_POSIX_1).
 */
#ifndef KAIO_POSIX_H
#define KAIO_POSIX_H

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The backend serving this process: "kaio" (/dev/kaio) or "glibc" (every
 * call forwarded to the C library's own implementation). Decides it if no
 * <aio.h> call has yet.
 */
const char *kaio_posix_backend(void);

#ifdef __cplusplus
}
#endif

#endif /* KAIO_POSIX_H */
