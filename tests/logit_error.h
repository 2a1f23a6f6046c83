// The forward-logit comparison of the parity suites (test_parity.cc, tests/arch): run a model over
// one case of a reference (tests/data/make_*fixtures*.py) and measure the stored rows of logits
// against transformers'.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "autolm/auto.h"
#include "fixtures.h"

namespace autolm::test {

struct LogitError {
  float max_diff = 0.f;  // max |logit - reference logit| over the stored rows
  float max_ref = 0.f;   // max |reference logit|
  // max_diff relative to the logits' scale (at least 1).
  float relative() const { return max_diff / std::max(1.f, max_ref); }
};

// The model's forward logits over reference case `c`: causal models over c["input_ids"];
// seq2seq ones encode c["input_ids"] (with `encoder_mask` when not empty) and decode
// c["forward"]["decoder_input_ids"]. `state` keeps the logits' storage alive.
inline std::span<const float> forward_logits(const Model& model, const nlohmann::json& c,
                                             std::unique_ptr<DecodeState>& state,
                                             const std::vector<int32_t>& encoder_mask = {}) {
  auto input_ids = c["input_ids"].get<std::vector<int32_t>>();
  if (model.family() == ModelFamily::kSeq2Seq) {
    auto dec = c["forward"]["decoder_input_ids"].get<std::vector<int32_t>>();
    state = model.new_state(1, int(dec.size()));  // [1, T_dec]
    model.encode(input_ids, encoder_mask, int(input_ids.size()), *state);
    return model.decode(dec, {}, int(dec.size()), *state, true);  // [T_dec, V]
  }
  state = model.new_state(1, int(input_ids.size()));
  return model.decode(input_ids, {}, int(input_ids.size()), *state, true);  // [T, V]
}

// Case `c`'s forward logits against the rows c["forward"]["positions"] of the reference tensor
// c["forward"]["logits_tensor"] in `store` ([positions, V]). A reference of another shape is a
// test failure and an infinite error.
inline LogitError case_logit_error(const Model& model, WeightStore& store, const nlohmann::json& c,
                                   const std::vector<int32_t>& encoder_mask = {}) {
  std::unique_ptr<DecodeState> state;
  const std::span<const float> logits = forward_logits(model, c, state, encoder_mask);
  const int64_t V = model.config().vocab_size;
  TensorView expected = store.require(c["forward"]["logits_tensor"].get<std::string>());
  const auto positions = c["forward"]["positions"].get<std::vector<int>>();
  const float inf = std::numeric_limits<float>::infinity();
  if (expected.shape != Shape{int64_t(positions.size()), V}) {
    ADD_FAILURE() << "reference logits of shape " << ::testing::PrintToString(expected.shape) << ", want ["
                  << positions.size() << ", " << V << "]";
    return {inf, 0.f};
  }
  LogitError err;
  for (size_t r = 0; r < positions.size(); ++r) {
    if (positions[r] < 0 || int64_t(positions[r] + 1) * V > int64_t(logits.size())) {
      ADD_FAILURE() << "reference position " << positions[r] << " is past the model's " << logits.size() / V << " rows";
      return {inf, 0.f};
    }
    for (int64_t i = 0; i < V; ++i) {
      const float e = expected.data[r * V + i], got = logits[positions[r] * V + i];
      err.max_ref = std::max(err.max_ref, std::abs(e));
      // NaN never passes: std::max(x, NaN) would keep x.
      const float d = std::abs(e - got);
      err.max_diff = std::isnan(d) ? inf : std::max(err.max_diff, d);
      if (std::isinf(err.max_diff)) return err;
    }
  }
  return err;
}

}  // namespace autolm::test
