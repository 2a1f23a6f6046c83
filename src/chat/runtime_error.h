// RuntimeError: a failure while evaluating a template (Python's TypeError, ValueError, UndefinedError…),
// thrown without a location; the evaluator adds "name:line:col:" and turns it into autolm::Error.
#pragma once

#include <stdexcept>
#include <string>

namespace autolm::jinja {

class RuntimeError : public std::runtime_error {
 public:
  explicit RuntimeError(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace autolm::jinja
