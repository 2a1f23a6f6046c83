// Runs a function in a child process whose address space is capped, so a hostile-input test can
// show that an operation fails cleanly instead of allocating gigabytes first.
#pragma once

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <functional>

#include "autolm/error.h"

namespace autolm::test {

// The child's exit code: 0 when f returned normally, 1 for an autolm::Error, 2 for any other
// exception (std::bad_alloc included), 3 for anything else (crash, killed after `timeout_s`).
inline int run_capped(const std::function<void()>& f, size_t max_bytes, int timeout_s = 60) {
  pid_t pid = ::fork();
  if (pid == 0) {
#if !defined(__SANITIZE_ADDRESS__)  // ASan reserves terabytes of shadow address space: no cap there,
    rlimit r{max_bytes, max_bytes};   // its allocator reports any oversized allocation instead
    ::setrlimit(RLIMIT_AS, &r);
#endif
    ::alarm(static_cast<unsigned>(timeout_s));
    int code = 0;
    try {
      f();
    } catch (const Error&) {
      code = 1;
    } catch (...) {
      code = 2;
    }
    ::_exit(code);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 3;
}

}  // namespace autolm::test
