// The t5-numbers demo task (as ../shared/tools/textgen_data.py defines it) and its greedy
// accuracy: the quality check every weight format runs (tests/quant).
#pragma once

#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "autolm/generation.h"
#include "autolm/model.h"
#include "autolm/tokenizer.h"

namespace autolm::test {

inline const char* kOnes[] = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
                       "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
                       "seventeen", "eighteen", "nineteen"};
inline const char* kTens[] = {"", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"};
inline const char* kMonths[] = {"January", "February", "March", "April", "May", "June", "July", "August",
                         "September", "October", "November", "December"};

inline std::string below_thousand(int n) {
  std::string out;
  if (n >= 100) {
    out = std::string(kOnes[n / 100]) + " hundred";
    n %= 100;
    if (n == 0) return out;
    out += " ";
  }
  if (n >= 20) return out + kTens[n / 10] + (n % 10 ? std::string("-") + kOnes[n % 10] : "");
  return out + kOnes[n];
}

inline std::string spell(int n) {
  if (n == 0) return "zero";
  std::string out;
  if (n >= 1000) {
    out = below_thousand(n / 1000) + " thousand";
    n %= 1000;
    if (n == 0) return out;
    out += " ";
  }
  return out + below_thousand(n);
}

inline std::pair<std::string, std::string> example(std::mt19937& rng) {
  std::uniform_real_distribution<double> u(0, 1);
  const double task = u(rng);
  const int digits = std::uniform_int_distribution<int>(1, 6)(rng);
  const int lo = digits == 1 ? 0 : int(std::pow(10, digits - 1)), hi = int(std::pow(10, digits)) - 1;
  const int n = std::uniform_int_distribution<int>(lo, hi)(rng);
  if (task < 0.4) return {"spell: " + std::to_string(n), spell(n)};
  if (task < 0.8) return {"digits: " + spell(n), std::to_string(n)};
  const int y = std::uniform_int_distribution<int>(1900, 2099)(rng);
  const int m = std::uniform_int_distribution<int>(1, 12)(rng);
  const int days = m == 2 ? 28 : (m == 4 || m == 6 || m == 9 || m == 11) ? 30 : 31;
  const int d = std::uniform_int_distribution<int>(1, days)(rng);
  char iso[16];
  std::snprintf(iso, sizeof iso, "%04d-%02d-%02d", y, m, d);
  const std::string text = std::string(kMonths[m - 1]) + " " + std::to_string(d) + ", " + std::to_string(y);
  if (u(rng) < 0.5) return {std::string("date: ") + iso, text};
  return {"iso date: " + text, iso};
}

inline double accuracy(const Model& model, const Tokenizer& tok, int count) {
  std::mt19937 rng(2024);
  std::vector<std::vector<int32_t>> prompts;
  std::vector<std::string> answers;
  for (int i = 0; i < count; ++i) {
    auto [q, a] = example(rng);
    prompts.push_back(tok.encode(q));
    answers.push_back(a);
  }
  GenerationConfig cfg = GenerationConfig::for_model(model);
  cfg.max_new_tokens = 32;
  auto out = generate(model, prompts, cfg);
  int correct = 0;
  for (int i = 0; i < count; ++i) correct += tok.decode(out.sequences[i], true) == answers[i];
  return double(correct) / count;
}

}  // namespace autolm::test
