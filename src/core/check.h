// AUTOLM_CHECK: internal invariant checks. A failure is a bug in autolm, reported as
// Error(ErrorKind::kInternal) naming the condition and place (never abort). Not public API.
#pragma once

#include <string>

#include "autolm/error.h"

#define AUTOLM_CHECK(cond, msg)                                                            \
  do {                                                                                     \
    if (!(cond))                                                                           \
      throw ::autolm::Error(::autolm::ErrorKind::kInternal,                                \
                            std::string("internal check failed: ") + #cond + " (" + (msg) + \
                                ") at " + __FILE__ + ":" + std::to_string(__LINE__));     \
  } while (0)
