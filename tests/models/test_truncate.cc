// DecodeState::truncate on every fixture model: after decoding tokens that are then rolled back,
// the next tokens see exactly the cache of a state that never saw them (self-attention truncated,
// seq2seq cross-attention kept).
#include <gtest/gtest.h>

#include <cmath>

#include "autolm/auto.h"
#include "fixtures.h"

namespace autolm {
namespace {

class Truncate : public ::testing::TestWithParam<std::string> {};

TEST_P(Truncate, RolledBackTokensLeaveNoTrace) {
  auto model = load_model(test::model_dir(GetParam()));
  const bool s2s = model->family() == ModelFamily::kSeq2Seq;
  const std::vector<int32_t> src = {5, 17, 42, 8, 99, 3};
  // The decoder row: causal prompt or a start token, then one kept token.
  const std::vector<int32_t> head = s2s ? std::vector<int32_t>{0, 21} : std::vector<int32_t>{5, 17, 42, 8, 99, 21};
  const std::vector<int32_t> rejected = {7, 200, 11}, next = {64, 2};

  auto fresh = [&] {
    auto st = model->new_state(1, 32);
    if (s2s) model->encode(src, {}, int(src.size()), *st);
    return st;
  };
  // A: head, rejected drafts, roll back, next tokens.
  auto a = fresh();
  model->decode(head, {}, int(head.size()), *a, false);
  model->decode(rejected, {}, int(rejected.size()), *a, true);
  ASSERT_EQ(a->length(), int(head.size() + rejected.size()));
  a->truncate(int(head.size()));
  EXPECT_EQ(a->length(), int(head.size()));
  std::span<const float> la = model->decode(next, {}, int(next.size()), *a, true);
  const std::vector<float> got(la.begin(), la.end());
  // B: head, next tokens.
  auto b = fresh();
  model->decode(head, {}, int(head.size()), *b, false);
  std::span<const float> lb = model->decode(next, {}, int(next.size()), *b, true);
  ASSERT_EQ(got.size(), lb.size());
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], lb[i], 1e-5f * (1 + std::fabs(lb[i]))) << i;
  // Truncating to 0 and decoding the whole row again gives the same logits too.
  a->truncate(0);
  std::vector<int32_t> all = head;
  all.insert(all.end(), next.begin(), next.end());
  std::span<const float> lc = model->decode(all, {}, int(all.size()), *a, false);
  const size_t vocab = lc.size();
  for (size_t i = 0; i < vocab; ++i) ASSERT_NEAR(lc[i], lb[vocab + i], 1e-4f * (1 + std::fabs(lb[vocab + i]))) << i;
  EXPECT_THROW(a->truncate(a->length() + 1), Error);
}

std::vector<std::string> names() {
  std::vector<std::string> v = test::causal_models();
  for (const auto& s : test::seq2seq_models()) v.push_back(s);
  return v;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Truncate, ::testing::ValuesIn(names()), [](const auto& info) {
  std::string s = info.param;
  for (char& ch : s)
    if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
});

}  // namespace
}  // namespace autolm
