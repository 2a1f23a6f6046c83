// AUTOLM_API marks the public classes and functions of libautolm. The shared library is built
// with -fvisibility=hidden, so only what carries this macro is exported from libautolm.so; in
// the static library it changes nothing.
#pragma once

#if defined(__GNUC__) || defined(__clang__)
#define AUTOLM_API __attribute__((visibility("default")))
#else
#define AUTOLM_API
#endif
