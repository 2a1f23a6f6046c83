// Progress of file downloads on stderr: one bar per file (bytes, percent, speed, ETA), redrawn
// in place when stderr is a terminal; plain lines (start, every 10 s, end) when it is not.
// HF_HUB_DISABLE_PROGRESS_BARS=1 silences it, as it silences huggingface_hub's bars.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace autolm {

// "1.5 GB", "312.0 kB", "12 B" (decimal units, as huggingface_hub's tqdm bars print them).
std::string human_bytes(double bytes);

class DownloadProgress {
 public:
  static DownloadProgress& global();  // writes to stderr
  // A bar for `name` of `total` bytes (0 = unknown), `already` of them on disk (a resume).
  int start(const std::string& name, uint64_t total, uint64_t already);
  void update(int id, uint64_t done);
  void finish(int id, bool ok);
  // A line of its own above the bars (e.g. "Downloading 3 files (1.2 GB) of org/name").
  void note(const std::string& line);

 private:
  DownloadProgress();
  struct Bar {
    int id;
    std::string name;
    uint64_t total, already, done;
    std::chrono::steady_clock::time_point started, last_plain;
  };
  std::string render(const Bar& b, bool final_line) const;
  void redraw(const std::string& above);  // with mu_ held
  std::mutex mu_;
  std::vector<Bar> bars_;
  int next_id_ = 0, lines_drawn_ = 0;
  bool tty_, enabled_;
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace autolm
