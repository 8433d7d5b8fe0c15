// SPDX-License-Identifier: GPL-2.0
// Keeps glibc's getaddrinfo out of the static test program.
//
// libgtest.a references getaddrinfo for --gtest_stream_result_to (results
// over TCP), which the guest never uses. Linked statically, glibc's
// getaddrinfo needs the NSS shared libraries at run time, and ld warns about
// it on every build. Defining the two functions of glibc's getaddrinfo.o
// here means that object is never pulled in: no warning, and a request to
// stream results fails cleanly instead of depending on NSS.
#include <netdb.h>

#include <cerrno>

extern "C" int getaddrinfo(const char*, const char*, const addrinfo*, addrinfo** result)
{
	*result = nullptr;
	errno = ENOSYS;
	return EAI_SYSTEM;
}

extern "C" void freeaddrinfo(addrinfo*) {}
