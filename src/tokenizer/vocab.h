// Token <-> id table shared by the models: strings owned once, looked up by string_view.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "autolm/error.h"

namespace autolm::tokenizer_detail {

struct StringViewHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept {
    // FNV-1a, 64-bit
    uint64_t h = 1469598103934665603ull;
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    return static_cast<size_t>(h);
  }
};

class Vocab {
 public:
  // entries: (token, id); ids may be sparse. Duplicated tokens keep the last id.
  void build(std::vector<std::pair<std::string, int32_t>>&& entries, const std::string& source) {
    int32_t max_id = -1;
    for (auto& e : entries) {
      if (e.second < 0) throw Error(ErrorKind::kInvalidInput, source + ": negative token id for \"" + e.first + "\"");
      max_id = std::max(max_id, e.second);
    }
    tokens_.assign(static_cast<size_t>(max_id + 1), std::string());
    present_.assign(static_cast<size_t>(max_id + 1), false);
    for (auto& e : entries) {
      tokens_[e.second] = std::move(e.first);
      present_[e.second] = true;
    }
    map_.reserve(entries.size() * 2);
    for (size_t i = 0; i < tokens_.size(); ++i)
      if (present_[i]) map_[std::string_view(tokens_[i])] = static_cast<int32_t>(i);
    size_ = static_cast<int64_t>(map_.size());
  }
  std::optional<int32_t> find(std::string_view s) const {
    auto it = map_.find(s);
    if (it == map_.end()) return std::nullopt;
    return it->second;
  }
  const std::string* token(int32_t id) const {
    if (id < 0 || static_cast<size_t>(id) >= tokens_.size() || !present_[id]) return nullptr;
    return &tokens_[id];
  }
  int64_t size() const { return size_; }

 private:
  std::vector<std::string> tokens_;
  std::vector<bool> present_;
  std::unordered_map<std::string_view, int32_t, StringViewHash> map_;
  int64_t size_ = 0;
};

}  // namespace autolm::tokenizer_detail
