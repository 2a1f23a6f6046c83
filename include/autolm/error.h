// autolm::Error: the one exception type that user- or request-caused failures throw.
// Callers map ErrorKind to exit codes (CLI) or HTTP statuses (server).
#pragma once

#include <stdexcept>
#include <string>

namespace autolm {

enum class ErrorKind {
  kInvalidInput,  // bad file, key, value, tensor or argument: the user can fix it
  kNotFound,      // a required file or tensor is absent
  kUnsupported,   // valid input that autolm does not handle (unknown model_type, dtype…)
  kWrongClass,    // asked for AutoModelForCausalLM on a seq2seq folder or the reverse
  kInternal,      // a broken invariant: a bug in autolm
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

// Exit code for the CLI: 2 for anything the user can fix, 1 for internal failures.
inline int exit_code_for(ErrorKind kind) { return kind == ErrorKind::kInternal ? 1 : 2; }

}  // namespace autolm

// Internal invariant check: a failure is a bug, reported as ErrorKind::kInternal (never abort).
#define AUTOLM_CHECK(cond, msg)                                                            \
  do {                                                                                     \
    if (!(cond))                                                                           \
      throw ::autolm::Error(::autolm::ErrorKind::kInternal,                                \
                            std::string("internal check failed: ") + #cond + " (" + (msg) + \
                                ") at " + __FILE__ + ":" + std::to_string(__LINE__));     \
  } while (0)
