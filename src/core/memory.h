// Refusing allocations that cannot fit: sizes derived from untrusted input (config.json values,
// prompt lengths, batch sizes) are checked against the machine's memory before allocating, so
// an absurd value is an Error naming its cause rather than std::bad_alloc or the OOM killer.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <string>

#include "autolm/error.h"

namespace autolm {

// Physical memory of this machine in bytes (0 when unknown).
inline double physical_memory_bytes() {
  static const double bytes = [] {
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
    return pages > 0 && page > 0 ? double(pages) * double(page) : 0.0;
  }();
  return bytes;
}

// Largest single allocation (or set of allocations made together) that input may ask for:
// three quarters of physical memory, leaving room for the weights and the rest of the process.
inline double allocation_budget_bytes() { return 0.75 * physical_memory_bytes(); }

// "12345 MiB" (printed as a double beyond int64's range: the values come from the input).
inline std::string mib_str(double bytes) {
  const double mib = bytes / double(1 << 20);
  return (mib < 9e18 ? std::to_string(int64_t(mib)) : std::to_string(mib)) + " MiB";
}

// Throws Error(kInvalidInput) when `bytes` (computed in double: no overflow) exceed the budget.
// `what` says what would be allocated and from which values ("a KV cache for 64 rows × …"),
// `fix` how to avoid it.
inline void check_allocation(double bytes, const std::string& what, const std::string& fix) {
  const double budget = allocation_budget_bytes();
  if (budget > 0 && !(bytes <= budget))
    throw Error(ErrorKind::kInvalidInput, what + " needs " + mib_str(bytes) + ", more than this machine can hold (" +
                                              mib_str(physical_memory_bytes()) + ")" + (fix.empty() ? "" : "; " + fix));
}

}  // namespace autolm
