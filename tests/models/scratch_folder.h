// Test helpers for hostile model folders: a scratch copy of a fixture folder that a test may
// corrupt, rewriters of its safetensors file, and an expectation on load_model's Error.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "autolm/auto.h"
#include "fixtures.h"
#include "io/json_file.h"
#include "io/mmap.h"

namespace autolm::test {

namespace fs = std::filesystem;

// A scratch copy of a fixture folder that a test may corrupt.
class ScratchFolder {
 public:
  explicit ScratchFolder(const std::string& fixture) {
    dir_ = fs::temp_directory_path() / ("autolm-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    for (auto& e : fs::directory_iterator(model_dir(fixture))) fs::copy(e.path(), dir_ / e.path().filename());
  }
  ~ScratchFolder() { fs::remove_all(dir_); }
  std::string path() const { return dir_.string(); }
  std::string file(const std::string& f) const { return (dir_ / f).string(); }
  void write(const std::string& f, const std::string& bytes) const {
    std::ofstream(dir_ / f, std::ios::binary | std::ios::trunc) << bytes;
  }
  std::string read(const std::string& f) const { return read_text_file(file(f)); }

 private:
  fs::path dir_;
  static inline int counter_ = 0;
};

// Expects load_model(dir) to throw an Error of `kind` whose message contains every fragment.
inline void expect_error(const std::string& dir, ErrorKind kind, std::vector<std::string> fragments,
                         const LoadOptions& options = {}) {
  try {
    load_model(dir, options);
    FAIL() << "loading " << dir << " should have failed";
  } catch (const Error& e) {
    EXPECT_EQ(int(e.kind()), int(kind)) << e.what();
    for (auto& f : fragments) EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << "'" << f << "' not in: " << e.what();
  }
}

// Rewrites model.safetensors with a new header (keeping the data section as is).
inline std::string with_header(const std::string& file, const std::function<void(json&)>& edit, size_t truncate_by = 0) {
  std::string bytes = read_text_file(file);
  uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  json header = json::parse(bytes.substr(8, n));
  std::string data = bytes.substr(8 + n);
  edit(header);
  std::string h = header.dump();
  while (h.size() % 8) h += ' ';
  uint64_t hn = h.size();
  std::string out(reinterpret_cast<const char*>(&hn), 8);
  out += h + data;
  out.resize(out.size() - truncate_by);
  return out;
}

// Rewrites a safetensors file keeping only the tensors `keep` accepts, packed back to back as
// the format requires (no holes).
inline std::string repacked(const std::string& file, const std::function<bool(const std::string&)>& keep) {
  std::string bytes = read_text_file(file);
  uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  json header = json::parse(bytes.substr(8, n));
  const std::string data = bytes.substr(8 + n);
  json out_header = json::object();
  std::string out_data;
  for (auto& [name, v] : header.items()) {
    if (name == "__metadata__") { out_header[name] = v; continue; }
    if (!keep(name)) continue;
    const uint64_t b = v["data_offsets"][0], e = v["data_offsets"][1];
    json t = v;
    t["data_offsets"] = {out_data.size(), out_data.size() + (e - b)};
    out_data += data.substr(b, e - b);
    out_header[name] = t;
  }
  std::string h = out_header.dump();
  while (h.size() % 8) h += ' ';
  uint64_t hn = h.size();
  return std::string(reinterpret_cast<const char*>(&hn), 8) + h + out_data;
}

// Rewrites config.json through `edit`.
inline void edit_config(const ScratchFolder& f, const std::function<void(json&)>& edit) {
  json c = json::parse(f.read("config.json"));
  edit(c);
  f.write("config.json", c.dump());
}

}  // namespace autolm::test
