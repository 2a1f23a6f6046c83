// RuntimeError: a failure while evaluating a template (Python's TypeError, ValueError, UndefinedError…),
// thrown without a location; the evaluator adds "name:line:col:" and turns it into autolm::Error.
// Also the size check every string builder calls before it grows a string.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace autolm::jinja {

class RuntimeError : public std::runtime_error {
 public:
  explicit RuntimeError(const std::string& message) : std::runtime_error(message) {}
};

// The budgets of the render running on this thread (JinjaRenderOptions; the Interp sets them for
// the duration of a render, unlimited outside one): the largest string it may build
// (max_output), and the loop iterations and list-building steps it may take (max_iterations).
inline thread_local size_t max_string_bytes = SIZE_MAX;
inline thread_local int64_t max_work_steps = INT64_MAX;
inline thread_local int64_t work_steps = 0;

// Bytes of long strings (Value::kShareFrom and more) built by the render so far, and the cap:
// kBuiltPerOutput times max_output. Each string is below max_output, but without a total a
// loop could keep a thousand of them alive at once.
constexpr uint64_t kBuiltPerOutput = 4;
inline thread_local uint64_t max_built_bytes = UINT64_MAX;
inline thread_local uint64_t built_bytes = 0;

inline void count_built(size_t n) {
  if (n > max_built_bytes - built_bytes)
    throw RuntimeError("template built more than " + std::to_string(max_built_bytes) +
                       " bytes of strings (" + std::to_string(kBuiltPerOutput) + " times the max_output limit)");
  built_bytes += n;
}

// Charges `n` steps (iterations, elements built) BEFORE the work is done; overflow-safe.
inline void count_work(int64_t n) {
  if (n > max_work_steps - work_steps || n < 0)
    throw RuntimeError("template exceeded " + std::to_string(max_work_steps) + " loop iterations (the max_iterations limit)");
  work_steps += n;
}

[[noreturn]] inline void string_too_long() {
  throw RuntimeError("template output exceeded " + std::to_string(max_string_bytes) +
                     " bytes (the max_output limit)");
}

// Throws unless a string of `current` bytes may grow by `add` bytes. Called BEFORE appending or
// allocating, so an operation like 'x' * 10**12, width=10**12 or a huge replace fails without
// allocating first. Overflow-safe: `add` may be any size_t.
inline void check_grow(size_t current, size_t add) {
  if (current > max_string_bytes || add > max_string_bytes - current) string_too_long();
}

// `count` copies of `unit` bytes (repetition, padding), overflow-checked.
inline void check_grow_times(size_t current, size_t unit, uint64_t count) {
  if (unit != 0 && count > (SIZE_MAX - current) / unit) string_too_long();
  check_grow(current, unit * count);
}

}  // namespace autolm::jinja
