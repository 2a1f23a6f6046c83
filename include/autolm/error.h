// autolm::Error: the one exception type that user- or request-caused failures throw.
// Callers map ErrorKind to their own policy (the CLI to exit codes, the server to HTTP statuses).
#pragma once

#include <stdexcept>
#include <string>

#include "autolm/export.h"

namespace autolm {

enum class ErrorKind {
  kInvalidInput,  // bad file, key, value, tensor or argument: the user can fix it
  kNotFound,      // a required file or tensor is absent
  kUnsupported,   // valid input that autolm does not handle (unknown model_type, dtype…)
  kWrongClass,    // asked for AutoModelForCausalLM on a seq2seq folder or the reverse
  kInternal,      // a broken invariant: a bug in autolm
};

// What every autolm function throws for a failure it can name; what() says which file, key or
// value was wrong.
class AUTOLM_API Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  // Which kind of failure this is.
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

}  // namespace autolm
