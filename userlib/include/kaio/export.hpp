// SPDX-License-Identifier: LGPL-2.1-or-later
// Symbol visibility of libkaio++: the library is built with
// -fvisibility=hidden, so only what is marked KAIO_API is part of the ABI of
// libkaio++.so (the linker version script narrows it further to kaio::*).
#ifndef KAIO_EXPORT_HPP
#define KAIO_EXPORT_HPP

#define KAIO_API __attribute__((visibility("default")))
// For members of exported classes that are not part of the API.
#define KAIO_LOCAL __attribute__((visibility("hidden")))

#endif
