#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Guest: libkaio-posix's own tests (userlib/posix/tests/posix_lib_test.c)
# under LD_PRELOAD, on kaio: the backend must be kaio, not the fallback.
# kaio-timeout: 300
cd /tmp || exit 1
LD_PRELOAD=/kaio/lib/posix/libkaio-posix.so.1 KAIO_POSIX_EXPECT=kaio \
	KAIO_POSIX_DEBUG=${KAIO_POSIX_DEBUG:-1} exec /kaio/lib/posix/posix_lib_test
