// Shared helpers for the libFuzzer targets (see docs/SECURITY.md, scripts/fuzz.sh).
//
// Every target feeds untrusted bytes to one entry point. An autolm::Error is the expected way
// to refuse input; what the fuzzers report is everything else: crashes, ASan/UBSan reports,
// leaks, timeouts, allocations past -rss_limit_mb, and (issue #11) exceptions that escape
// as another type or as ErrorKind::kInternal, which mean the input reached code that did not
// validate it. AUTOLM_FUZZ_LENIENT=1 accepts any exception, to fuzz past a known one.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "autolm/error.h"

namespace fs = std::filesystem;

namespace autolm::fuzz {

inline std::string source_dir() { return AUTOLM_SOURCE_DIR; }
inline std::string fixtures() { return AUTOLM_FIXTURES; }

inline bool lenient() {
  static const bool v = [] {
    const char* e = std::getenv("AUTOLM_FUZZ_LENIENT");
    return e && *e && std::string(e) != "0";
  }();
  return v;
}

[[noreturn]] inline void finding(const char* what, const char* message) {
  std::fprintf(stderr, "\n==autolm-fuzz== %s: %s\n", what, message);
  std::fflush(stderr);
  std::abort();  // libFuzzer saves the input as crash-*
}

// Runs `f` on one input; refusals (autolm::Error other than kInternal) are fine.
template <typename F>
void guarded(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kInternal && !lenient()) finding("ErrorKind::kInternal escaped", e.what());
  } catch (const std::bad_alloc& e) {
    // An allocation that failed outright (size beyond what malloc accepts) is an unbounded
    // allocation driven by the input: the bound should have been checked first.
    if (!lenient()) finding("std::bad_alloc escaped", e.what());
  } catch (const std::exception& e) {
    if (!lenient()) finding("non-autolm exception escaped", e.what());
  }
}

// A private directory for this process, removed at exit.
class TempDir {
 public:
  TempDir() {
    // Each input is written to a file: a RAM-backed directory keeps that from dominating
    // the run time (a disk-backed /tmp can cost milliseconds per write).
    // AUTOLM_FUZZ_TMPDIR (scripts/fuzz.sh) collects what a crashed process could not remove.
    std::error_code ec;
    const char* env = std::getenv("AUTOLM_FUZZ_TMPDIR");
    const fs::path base = env && *env ? fs::path(env)
                          : fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm") : fs::temp_directory_path();
    std::string templ = (base / "autolm-fuzz-XXXXXX").string();
    if (!::mkdtemp(templ.data())) std::abort();
    path_ = templ;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline void write_file(const std::string& path, std::string_view data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(data.data(), std::streamsize(data.size()));
  if (!f) std::abort();
}

inline std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return std::string_view(reinterpret_cast<const char*>(data), size);
}

// The first existing path among `candidates` (fixtures may be absent; the bundled demos are not).
inline std::string first_existing(std::initializer_list<std::string> candidates) {
  for (const auto& c : candidates)
    if (fs::exists(c)) return c;
  return "";
}

}  // namespace autolm::fuzz
