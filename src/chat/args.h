// Argument checks shared by the Jinja builtins and str.format: Python's TypeError messages.
#pragma once

#include <string>

#include "chat/runtime_error.h"
#include "chat/value.h"

namespace autolm::jinja {

inline bool given_not_none(const Value& v) { return !v.is_undefined() && !v.is_none(); }

inline int64_t int_arg(const Value& v, const char* what) {
  if (v.is_int() || v.is_bool()) return v.as_int();
  throw RuntimeError(std::string(what) + ": '" + v.type_name() + "' object cannot be interpreted as an integer");
}

inline const std::string& str_arg(const Value& v, const char* what) {
  if (!v.is_string()) throw RuntimeError(std::string(what) + " argument must be str, not " + v.type_name());
  return v.str();
}

}  // namespace autolm::jinja
