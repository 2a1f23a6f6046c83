#include "io/download_progress.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace autolm {

namespace {

using Clock = std::chrono::steady_clock;

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string duration(double s) {
  if (!(s >= 0) || s > 1e7) return "?";
  const long t = long(s + 0.5);
  char buf[32];
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
  else std::snprintf(buf, sizeof buf, "%ld:%02ld", t / 60, t % 60);
  return buf;
}

bool truthy(const char* v) {
  if (!v) return false;
  std::string s(v);
  for (auto& c : s) c = char(std::toupper(static_cast<unsigned char>(c)));
  return s == "1" || s == "ON" || s == "YES" || s == "TRUE";
}

}  // namespace

std::string human_bytes(double b) {
  if (b < 1000) return fmt("%.0f B", b);
  const char* units[] = {"kB", "MB", "GB", "TB"};
  int u = -1;
  while (b >= 1000 && u < 3) b /= 1000, ++u;
  return fmt("%.1f ", b) + units[u];
}

DownloadProgress::DownloadProgress()
    : tty_(::isatty(STDERR_FILENO) == 1), enabled_(!truthy(std::getenv("HF_HUB_DISABLE_PROGRESS_BARS"))) {}

DownloadProgress& DownloadProgress::global() {
  static DownloadProgress p;
  return p;
}

std::string DownloadProgress::render(const Bar& b, bool final_line) const {
  const double secs = std::chrono::duration<double>(Clock::now() - b.started).count();
  const double speed = secs > 0 ? double(b.done - b.already) / secs : 0;
  std::string name = b.name.size() > 40 ? "(…)" + b.name.substr(b.name.size() - 37) : b.name;
  std::string line = name + ": ";
  if (b.total > 0) {
    const double frac = std::min(1.0, double(b.done) / double(b.total));
    line += fmt("%3.0f%%", frac * 100);
    if (tty_ && !final_line) {
      constexpr int kWidth = 20;
      const int filled = int(frac * kWidth);
      line += " [" + std::string(size_t(filled), '#') + std::string(size_t(kWidth - filled), ' ') + "]";
    }
    line += " " + human_bytes(double(b.done)) + " / " + human_bytes(double(b.total));
  } else {
    line += human_bytes(double(b.done));
  }
  line += "  " + human_bytes(speed) + "/s";
  if (final_line) line += "  in " + duration(secs);
  else if (b.total > 0 && speed > 0) line += "  ETA " + duration(double(b.total - std::min(b.total, b.done)) / speed);
  return line;
}

void DownloadProgress::redraw(const std::string& above) {
  std::string out;
  if (lines_drawn_ > 0) out += "\x1b[" + std::to_string(lines_drawn_) + "F";  // to the first bar's line
  if (!above.empty()) out += "\x1b[2K" + above + "\n";
  for (const Bar& b : bars_) out += "\x1b[2K" + render(b, false) + "\n";
  out += "\x1b[J";  // clear what the previous drawing left below
  lines_drawn_ = int(bars_.size());
  std::fwrite(out.data(), 1, out.size(), stderr);
  std::fflush(stderr);
  last_draw_ = Clock::now();
}

int DownloadProgress::start(const std::string& name, uint64_t total, uint64_t already) {
  std::lock_guard<std::mutex> lock(mu_);
  const int id = next_id_++;
  const auto now = Clock::now();
  bars_.push_back({id, name, total, already, already, now, now});
  if (!enabled_) return id;
  if (tty_) {
    redraw("");
  } else {
    std::string line = "Downloading " + name + (total ? " (" + human_bytes(double(total)) + ")" : "");
    if (already) line += ", resuming at " + human_bytes(double(already));
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  return id;
}

void DownloadProgress::update(int id, uint64_t done) {
  std::lock_guard<std::mutex> lock(mu_);
  for (Bar& b : bars_) {
    if (b.id != id) continue;
    b.done = done;
    if (!enabled_) return;
    const auto now = Clock::now();
    if (tty_) {
      if (now - last_draw_ > std::chrono::milliseconds(100)) redraw("");
    } else if (now - b.last_plain > std::chrono::seconds(10)) {
      b.last_plain = now;
      std::fprintf(stderr, "  %s\n", render(b, false).c_str());
    }
    return;
  }
}

void DownloadProgress::finish(int id, bool ok) {
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < bars_.size(); ++i) {
    if (bars_[i].id != id) continue;
    const Bar b = bars_[i];
    bars_.erase(bars_.begin() + long(i));
    if (!enabled_) return;
    const std::string line = ok ? render(b, true) : b.name + ": failed";
    if (tty_) redraw(line);
    else std::fprintf(stderr, "%s\n", line.c_str());
    return;
  }
}

void DownloadProgress::note(const std::string& line) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!enabled_) return;
  if (tty_) redraw(line);
  else std::fprintf(stderr, "%s\n", line.c_str());
}

}  // namespace autolm
