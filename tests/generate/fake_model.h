// A deterministic stand-in Model for generate() unit tests: logits are a pure function of a row's
// (unmasked) token history and its encoder input, so batching, caching and beam reordering must
// not change what a row produces.
#pragma once

#include <cstdint>
#include <functional>
#include <numeric>
#include <span>
#include <stdexcept>
#include <vector>

#include "autolm/model.h"

namespace autolm::test {

inline uint64_t splitmix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

using LogitsFn = std::function<void(const std::vector<int32_t>& history, const std::vector<int32_t>& encoder,
                                    std::span<float> logits)>;

// Pseudo-random logits in [-4, 4) from the history; EOS (id 1) gets likely every 5th token.
inline void default_logits(const std::vector<int32_t>& h, const std::vector<int32_t>& enc, std::span<float> out) {
  uint64_t seed = 1469598103934665603ULL;
  for (int32_t t : enc) seed = splitmix(seed ^ (uint64_t)(t + 7));
  for (int32_t t : h) seed = splitmix(seed ^ (uint64_t)(t + 1000003));
  for (size_t v = 0; v < out.size(); ++v) {
    uint64_t r = splitmix(seed + v * 0x2545F4914F6CDD1DULL);
    out[v] = static_cast<float>((r >> 11) * (1.0 / 9007199254740992.0)) * 8.0f - 4.0f;
  }
  if (out.size() > 1) out[1] += (h.size() % 5 == 0) ? 3.0f : -1.0f;
}

class FakeState : public DecodeState {
 public:
  FakeState(int rows, int max_length, int rpi) : hist(rows), at(rows), enc_of(rows), max_length_(max_length), rpi_(rpi) {
    for (int r = 0; r < rows; ++r) enc_of[r] = r / rpi;
  }
  int batch_size() const override { return static_cast<int>(hist.size()); }
  int length() const override { return len; }
  void reorder(std::span<const int> src) override {
    if (src.size() != hist.size()) throw std::runtime_error("reorder: wrong size");
    std::vector<std::vector<int32_t>> n(hist.size());
    for (size_t i = 0; i < src.size(); ++i) {
      if ((int)i / rpi_ != src[i] / rpi_) throw std::runtime_error("reorder across inputs");
      n[i] = hist[src[i]];
    }
    hist.swap(n);
    std::vector<std::vector<int>> a(hist.size());
    for (size_t i = 0; i < src.size(); ++i) a[i] = at[src[i]];
    at.swap(a);
    ++reorders;
  }
  void truncate(int length) override {
    if (length < 0 || length > len) throw std::runtime_error("truncate: bad length");
    for (size_t r = 0; r < hist.size(); ++r)
      while (!at[r].empty() && at[r].back() >= length) {
        at[r].pop_back();
        hist[r].pop_back();
      }
    len = length;
    ++truncations;
  }
  std::vector<std::vector<int32_t>> hist;  // unmasked tokens per row
  std::vector<std::vector<int>> at;        // cache position of each hist entry
  std::vector<int> enc_of;                 // encoder input of each row
  std::vector<std::vector<int32_t>> enc;   // encoder inputs (unpadded)
  std::vector<float> scratch;
  int len = 0, reorders = 0, truncations = 0;
  int max_length_, rpi_;
};

class FakeModel : public Model {
 public:
  explicit FakeModel(ModelFamily family, int vocab = 16, int64_t max_positions = 0, LogitsFn fn = default_logits)
      : fn_(std::move(fn)) {
    config_.family = family;
    config_.model_type = family == ModelFamily::kCausal ? "fake-causal" : "fake-seq2seq";
    config_.vocab_size = vocab;
    config_.max_positions = max_positions;
    config_.raw = nlohmann::json::object();
  }
  std::unique_ptr<DecodeState> new_state(int batch_size, int max_length, int rows_per_input = 1) const override {
    ++states;
    return std::make_unique<FakeState>(batch_size, max_length, rows_per_input);
  }
  void encode(std::span<const int32_t> ids, std::span<const int32_t> mask, int src_len,
              DecodeState& state) const override {
    auto& s = static_cast<FakeState&>(state);
    if (family() != ModelFamily::kSeq2Seq) throw std::runtime_error("encode on a causal fake");
    const size_t n = ids.size() / src_len;
    s.enc.assign(n, {});
    for (size_t b = 0; b < n; ++b)
      for (int i = 0; i < src_len; ++i)
        if (mask.empty() || mask[b * src_len + i]) s.enc[b].push_back(ids[b * src_len + i]);
    ++encodes;
  }
  std::span<const float> decode(std::span<const int32_t> ids, std::span<const int32_t> mask, int seq_len,
                                DecodeState& state, bool all_positions) const override {
    auto& s = static_cast<FakeState&>(state);
    const int rows = s.batch_size();
    if ((int)ids.size() != rows * seq_len) throw std::runtime_error("fake: ids size");
    if (!mask.empty() && mask.size() != ids.size()) throw std::runtime_error("fake: mask size");
    const int start = s.len;
    s.len += seq_len;
    if (s.len > s.max_length_) throw std::runtime_error("fake: state overflow");
    const int V = static_cast<int>(config_.vocab_size);
    const int per_row = all_positions ? seq_len : 1;
    s.scratch.assign((size_t)rows * per_row * V, 0.0f);
    static const std::vector<int32_t> none;
    for (int r = 0; r < rows; ++r) {
      const auto& enc = s.enc.empty() ? none : s.enc[s.enc_of[r]];
      for (int t = 0; t < seq_len; ++t) {
        if (mask.empty() || mask[(size_t)r * seq_len + t]) {
          s.hist[r].push_back(ids[(size_t)r * seq_len + t]);
          s.at[r].push_back(start + t);
        }
        if (all_positions || t == seq_len - 1)
          fn_(s.hist[r], enc, std::span<float>(s.scratch.data() + ((size_t)r * per_row + (all_positions ? t : 0)) * V, V));
      }
    }
    ++decodes;
    return s.scratch;
  }
  // What the fake claims its KV cache costs per token (it allocates none): for memory estimates.
  int64_t kv_bytes_per_token() const override { return kv_bytes; }
  int64_t parameter_count() const override { return 0; }
  std::vector<std::string> weight_dtypes() const override { return {"F32"}; }
  std::vector<std::string> unused_tensors() const override { return {}; }

  // Logits a row would see after `history` (for reference loops in tests).
  std::vector<float> logits_for(const std::vector<int32_t>& history, const std::vector<int32_t>& enc = {}) const {
    std::vector<float> out(config_.vocab_size);
    fn_(history, enc, out);
    return out;
  }

  mutable int states = 0, encodes = 0, decodes = 0;
  int64_t kv_bytes = 0;

 private:
  LogitsFn fn_;
};

}  // namespace autolm::test
