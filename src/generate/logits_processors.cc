// Logits processors and warpers: transformers generation/logits_process.py, row by row.
#include "generate/logits_processors.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <unordered_map>
#include <numeric>

namespace autolm::gen {

namespace {

bool in_range(int64_t t, size_t v) { return t >= 0 && static_cast<size_t>(t) < v; }

// Tokens that follow each (n-1)-gram of ids (transformers' _get_ngrams + _get_generated_ngrams):
// bans the tokens that followed earlier occurrences of `prefix` (ids' last n-1 tokens) in
// `source`. Occurrences are found with Knuth-Morris-Pratt, O(len + n) per call: a direct
// comparison at every position costs len × n on a repetitive (hostile) prompt.
void ban_ngram_continuations(std::span<float> scores, std::span<const int32_t> source,
                             std::span<const int32_t> prefix, int n) {
  const size_t m = static_cast<size_t>(n - 1);
  if (source.size() < static_cast<size_t>(n)) return;
  auto ban = [&](size_t next) {
    const int32_t t = source[next];
    if (in_range(t, scores.size())) scores[t] = kNegInf;
  };
  if (m == 0) {  // unigrams: every token seen is banned
    for (size_t i = 0; i < source.size(); ++i) ban(i);
    return;
  }
  std::vector<size_t> fail(m, 0);  // longest proper border of prefix[0..k]
  for (size_t k = 1, b = 0; k < m; ++k) {
    while (b > 0 && prefix[k] != prefix[b]) b = fail[b - 1];
    if (prefix[k] == prefix[b]) ++b;
    fail[k] = b;
  }
  for (size_t i = 0, j = 0; i + 1 < source.size(); ++i) {  // a match must have a next token
    while (j > 0 && source[i] != prefix[j]) j = fail[j - 1];
    if (source[i] == prefix[j]) ++j;
    if (j == m) {
      ban(i + 1);
      j = fail[j - 1];
    }
  }
}

// Value of the k-th largest score (torch.topk(scores, k)[0][..., -1]), k clamped to [1, size].
float kth_largest(std::span<const float> scores, int k) {
  k = std::clamp<int>(k, 1, static_cast<int>(scores.size()));
  std::vector<float> tmp(scores.begin(), scores.end());
  std::nth_element(tmp.begin(), tmp.begin() + (k - 1), tmp.end(), std::greater<float>());
  return tmp[k - 1];
}

// Epsilon/Eta warpers' mask: probability < cutoff, unless the score reaches the
// min_tokens_to_keep-th largest one.
void cut_below(std::span<float> scores, std::span<const float> probs, float cutoff, int min_tokens_to_keep) {
  if (scores.empty()) return;
  const float kth = kth_largest(scores, min_tokens_to_keep);
  for (size_t i = 0; i < scores.size(); ++i)
    if (probs[i] < cutoff && scores[i] < kth) scores[i] = kNegInf;
}

}  // namespace

GenerationConfig::SequenceBias prepare_sequence_bias(const GenerationConfig::SequenceBias& bias) {
  // {tuple(ids): bias for ids, bias in list}: first position, last value.
  // (an index of the sequences seen: a list of many entries must not cost quadratic time)
  GenerationConfig::SequenceBias out;
  std::map<std::vector<int64_t>, size_t> position;
  for (const auto& [ids, b] : bias) {
    auto [it, added] = position.emplace(ids, out.size());
    if (added) out.emplace_back(ids, b);
    else out[it->second].second = b;
  }
  return out;
}

void sequence_bias(std::span<float> scores, std::span<const int32_t> ids, const GenerationConfig::SequenceBias& bias) {
  // HF builds a dense float32 bias row: length-1 biases assigned first, then every matching longer
  // sequence's bias added to its last token in order; then scores + bias. Only biased tokens can
  // change, so the row is kept sparse here, with the same float32 additions in the same order.
  std::unordered_map<int64_t, float> acc;  // token → accumulated bias (additions per token in order)
  auto slot = [&](int64_t t) -> float& { return acc.try_emplace(t, 0.0f).first->second; };
  for (const auto& [seq, b] : bias)
    if (seq.size() == 1 && in_range(seq[0], scores.size())) slot(seq[0]) = b;
  for (const auto& [seq, b] : bias) {
    if (seq.size() < 2 || !in_range(seq.back(), scores.size())) continue;
    if (seq.size() > ids.size()) continue;  // 5.17: the sequence is longer than the context, ignore
    const size_t p = seq.size() - 1;
    bool match = true;
    for (size_t i = 0; i < p && match; ++i) match = ids[ids.size() - p + i] == seq[i];
    float& a = slot(seq.back());
    if (match) a = a + b;
  }
  for (const auto& [t, b] : acc) scores[t] = scores[t] + b;
}

void encoder_repetition_penalty(std::span<float> scores, std::span<const int32_t> encoder_ids, double penalty) {
  // self.penalty = 1 / penalty (Python double), applied to float32 scores as float32.
  const float inv = static_cast<float>(1.0 / penalty);
  std::vector<int32_t> seen(encoder_ids.begin(), encoder_ids.end());
  std::sort(seen.begin(), seen.end());
  seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
  for (int32_t t : seen) {
    if (!in_range(t, scores.size())) continue;
    const float s = scores[t];
    scores[t] = s < 0 ? s * inv : s / inv;
  }
}

std::span<const int32_t> encoder_repetition_ids(const std::vector<std::vector<int32_t>>& inputs, int row) {
  if (row >= 0 && static_cast<size_t>(row) < inputs.size()) return inputs[row];
  return {};
}

void remove_invalid_values(std::span<float> scores) {
  for (float& s : scores) {
    if (std::isnan(s)) s = 0.0f;
    else if (s == std::numeric_limits<float>::infinity()) s = std::numeric_limits<float>::max();
    else if (s == kNegInf) s = std::numeric_limits<float>::lowest();
  }
}

void exponential_decay_length_penalty(std::span<float> scores, int cur_len, int64_t regulation_start, double factor,
                                      const std::vector<int64_t>& eos) {
  if (cur_len <= regulation_start) return;
  // pow(regulation_factor, penalty_idx) - 1 in Python doubles, then a float32 scalar.
  const float mult = static_cast<float>(std::pow(factor, cur_len - regulation_start) - 1.0);
  std::vector<std::pair<int64_t, float>> updated;
  for (int64_t e : eos)
    if (in_range(e, scores.size())) updated.emplace_back(e, scores[e] + std::fabs(scores[e]) * mult);
  for (const auto& [e, v] : updated) scores[e] = v;
}

void repetition_penalty(std::span<float> scores, std::span<const int32_t> ids, float penalty) {
  // torch.gather then scatter_: a token seen twice is still penalised once.
  std::vector<int32_t> seen(ids.begin(), ids.end());
  std::sort(seen.begin(), seen.end());
  seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
  for (int32_t t : seen) {
    if (!in_range(t, scores.size())) continue;
    float s = scores[t];
    scores[t] = s < 0 ? s * penalty : s / penalty;
  }
}

void presence_frequency_penalty(std::span<float> scores, std::span<const int32_t> generated, float presence,
                                float frequency) {
  std::vector<int32_t> seen(generated.begin(), generated.end());
  std::sort(seen.begin(), seen.end());
  for (size_t i = 0; i < seen.size();) {
    size_t j = i;
    while (j < seen.size() && seen[j] == seen[i]) ++j;
    const int32_t t = seen[i];
    if (in_range(t, scores.size())) {
      // vLLM's order, in float32: logits -= frequency * counts; logits -= presence * mask.
      scores[t] -= frequency * static_cast<float>(j - i);
      scores[t] -= presence;
    }
    i = j;
  }
}

void no_repeat_ngram(std::span<float> scores, std::span<const int32_t> ids, int n) {
  if (n <= 0) return;
  const size_t cur_len = ids.size();
  if (cur_len + 1 < static_cast<size_t>(n)) return;
  std::span<const int32_t> prefix = ids.subspan(cur_len + 1 - n, n - 1);
  ban_ngram_continuations(scores, ids, prefix, n);
}

void encoder_no_repeat_ngram(std::span<float> scores, std::span<const int32_t> ids,
                             std::span<const int32_t> encoder_ids, int n) {
  if (n <= 0) return;
  const size_t cur_len = ids.size();
  if (cur_len + 1 < static_cast<size_t>(n)) return;
  std::span<const int32_t> prefix = ids.subspan(cur_len + 1 - n, n - 1);
  ban_ngram_continuations(scores, encoder_ids, prefix, n);
}

std::vector<std::vector<int64_t>> filter_bad_words(const std::vector<std::vector<int64_t>>& bad_words,
                                                   const std::vector<int64_t>& eos) {
  std::vector<std::vector<int64_t>> out;
  for (const auto& w : bad_words) {
    bool is_eos = w.size() == 1 && std::find(eos.begin(), eos.end(), w[0]) != eos.end();
    if (!is_eos) out.push_back(w);
  }
  return out;
}

void no_bad_words(std::span<float> scores, std::span<const int32_t> ids,
                  const std::vector<std::vector<int64_t>>& bad_words) {
  for (const auto& w : bad_words) {
    if (w.empty() || !in_range(w.back(), scores.size())) continue;
    if (w.size() == 1) {
      scores[w[0]] = kNegInf;
      continue;
    }
    if (w.size() > ids.size()) continue;  // SequenceBias: sequence longer than the context
    const size_t p = w.size() - 1;
    bool match = true;
    for (size_t i = 0; i < p && match; ++i) match = ids[ids.size() - p + i] == w[i];
    if (match) scores[w.back()] = kNegInf;
  }
}

void min_length(std::span<float> scores, int cur_len, int min_len, const std::vector<int64_t>& eos) {
  if (cur_len >= min_len) return;
  for (int64_t e : eos)
    if (in_range(e, scores.size())) scores[e] = kNegInf;
}

void min_new_tokens(std::span<float> scores, int cur_len, int prompt_len, int min_new,
                    const std::vector<int64_t>& eos) {
  if (cur_len - prompt_len >= min_new) return;
  for (int64_t e : eos)
    if (in_range(e, scores.size())) scores[e] = kNegInf;
}

void forced_bos(std::span<float> scores, int cur_len, int64_t bos) {
  if (cur_len != 1) return;
  std::fill(scores.begin(), scores.end(), kNegInf);
  if (in_range(bos, scores.size())) scores[bos] = 0.0f;
}

void forced_eos(std::span<float> scores, int cur_len, int max_length, const std::vector<int64_t>& eos) {
  if (cur_len != max_length - 1) return;
  std::fill(scores.begin(), scores.end(), kNegInf);
  for (int64_t e : eos)
    if (in_range(e, scores.size())) scores[e] = 0.0f;
}

void suppress(std::span<float> scores, const std::vector<int64_t>& tokens) {
  for (int64_t t : tokens)
    if (in_range(t, scores.size())) scores[t] = kNegInf;
}

void begin_suppress(std::span<float> scores, int cur_len, int begin_index, const std::vector<int64_t>& tokens) {
  if (cur_len == begin_index) suppress(scores, tokens);
}

void temperature(std::span<float> scores, float t) {
  for (float& s : scores) s = s / t;
}

void top_k(std::span<float> scores, int k, int min_tokens_to_keep) {
  k = std::min<int>(std::max(k, min_tokens_to_keep), static_cast<int>(scores.size()));
  if (k <= 0) return;
  std::vector<float> tmp(scores.begin(), scores.end());
  std::nth_element(tmp.begin(), tmp.begin() + (k - 1), tmp.end(), std::greater<float>());
  const float kth = tmp[k - 1];
  for (float& s : scores)
    if (s < kth) s = kNegInf;
}

void softmax(std::span<const float> scores, std::span<float> out) {
  float mx = kNegInf;
  for (float s : scores) mx = std::max(mx, s);
  if (mx == kNegInf) {  // all masked: torch gives NaN; keep a defined uniform-free zero row
    std::fill(out.begin(), out.end(), 0.0f);
    return;
  }
  double sum = 0;
  for (size_t i = 0; i < scores.size(); ++i) {
    float e = std::exp(scores[i] - mx);
    out[i] = e;
    sum += e;
  }
  const float inv = static_cast<float>(sum);
  for (float& o : out) o = o / inv;
}

void epsilon_cutoff(std::span<float> scores, float epsilon, int min_tokens_to_keep) {
  std::vector<float> probs(scores.size());
  softmax(scores, probs);
  cut_below(scores, probs, epsilon, min_tokens_to_keep);
}

void eta_cutoff(std::span<float> scores, float eta, int min_tokens_to_keep) {
  std::vector<float> probs(scores.size());
  softmax(scores, probs);
  // Categorical(logits=scores).entropy(): -Σ p · (s - logsumexp(s)); masked (-inf) tokens add 0.
  float mx = kNegInf;
  for (float s : scores) mx = std::max(mx, s);
  double entropy = 0.0;
  if (mx != kNegInf) {
    double sum = 0.0;
    for (float s : scores) sum += std::exp(static_cast<double>(s) - mx);
    const double lse = mx + std::log(sum);
    for (size_t i = 0; i < scores.size(); ++i)
      if (std::isfinite(scores[i])) entropy -= static_cast<double>(probs[i]) * (scores[i] - lse);
  }
  // eta = min(epsilon, sqrt(epsilon) * exp(-entropy)), float32 tensors.
  const float cutoff = std::min(eta, std::sqrt(eta) * std::exp(-static_cast<float>(entropy)));
  cut_below(scores, probs, cutoff, min_tokens_to_keep);
}

void log_softmax(std::span<float> scores) {
  float mx = kNegInf;
  for (float s : scores) mx = std::max(mx, s);
  if (mx == kNegInf) return;
  double sum = 0;
  for (float s : scores) sum += std::exp(static_cast<double>(s - mx));
  const float lse = static_cast<float>(std::log(sum));
  for (float& s : scores) s = (s - mx) - lse;
}

void top_p(std::span<float> scores, float p, int min_tokens_to_keep) {
  const size_t v = scores.size();
  std::vector<int32_t> order(v);
  std::iota(order.begin(), order.end(), 0);
  // torch.sort(scores, descending=False)
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return scores[a] < scores[b]; });
  std::vector<float> sorted(v), probs(v);
  for (size_t i = 0; i < v; ++i) sorted[i] = scores[order[i]];
  softmax(sorted, probs);
  std::vector<uint8_t> remove(v, 0);
  float cum = 0.0f;
  for (size_t i = 0; i < v; ++i) {
    cum += probs[i];  // float32 cumsum, as torch
    remove[i] = cum <= (1.0f - p);
  }
  for (size_t i = v - std::min<size_t>(v, static_cast<size_t>(std::max(min_tokens_to_keep, 0))); i < v; ++i) remove[i] = 0;
  for (size_t i = 0; i < v; ++i)
    if (remove[i]) scores[order[i]] = kNegInf;
}

void min_p(std::span<float> scores, float p, int min_tokens_to_keep) {
  const size_t v = scores.size();
  std::vector<float> probs(v);
  softmax(scores, probs);
  const float top = *std::max_element(probs.begin(), probs.end());
  const float thresh = p * top;
  std::vector<int32_t> order(v);
  std::iota(order.begin(), order.end(), 0);
  // argsort(scores, descending=True): the min_tokens_to_keep best are always kept.
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return scores[a] > scores[b]; });
  std::vector<uint8_t> keep(v, 0);
  for (size_t i = 0; i < std::min<size_t>(v, static_cast<size_t>(std::max(min_tokens_to_keep, 0))); ++i) keep[order[i]] = 1;
  for (size_t i = 0; i < v; ++i)
    if (probs[i] < thresh && !keep[i]) scores[i] = kNegInf;
}

void typical(std::span<float> scores, float mass, int min_tokens_to_keep) {
  const size_t v = scores.size();
  std::vector<float> normalized(scores.begin(), scores.end());
  log_softmax(normalized);
  float ent = 0.0f;
  for (float l : normalized) {
    float pr = std::exp(l);
    float term = l * pr;
    if (!std::isnan(term)) ent += term;  // nansum
  }
  ent = -ent;
  std::vector<float> shifted(v);
  for (size_t i = 0; i < v; ++i) shifted[i] = std::fabs(-normalized[i] - ent);
  std::vector<int32_t> order(v);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return shifted[a] < shifted[b]; });
  std::vector<float> sorted_logits(v), probs(v);
  for (size_t i = 0; i < v; ++i) sorted_logits[i] = scores[order[i]];
  softmax(sorted_logits, probs);
  size_t last_ind = 0;
  float cum = 0.0f;
  for (size_t i = 0; i < v; ++i) {
    cum += probs[i];
    if (cum < mass) ++last_ind;
  }
  last_ind = std::min(last_ind, v - 1);
  const float limit = shifted[order[last_ind]];
  const size_t keep = std::min<size_t>(v, static_cast<size_t>(std::max(min_tokens_to_keep, 0)));
  for (size_t i = keep; i < v; ++i)
    if (shifted[order[i]] > limit) scores[order[i]] = kNegInf;
}

LogitsPipeline::LogitsPipeline(const GenerationConfig& cfg, int input_len, int max_length, int min_len)
    : cfg_(cfg), input_len_(input_len), max_length_(max_length), min_length_(min_len) {
  const auto& eos = cfg.eos_token_id;
  if (cfg.sequence_bias) {
    sequence_bias_ = prepare_sequence_bias(*cfg.sequence_bias);
    steps_.push_back(Kind::kSequenceBias);
  }
  if (cfg.encoder_repetition_penalty != 1.0) steps_.push_back(Kind::kEncoderRepetition);
  if (cfg.repetition_penalty != 1.0f) steps_.push_back(Kind::kRepetition);
  if (cfg.presence_penalty != 0.0f || cfg.frequency_penalty != 0.0f) steps_.push_back(Kind::kPresenceFrequency);
  if (cfg.no_repeat_ngram_size > 0) steps_.push_back(Kind::kNoRepeatNgram);
  if (cfg.encoder_no_repeat_ngram_size > 0) steps_.push_back(Kind::kEncoderNoRepeatNgram);
  if (cfg.bad_words_ids) {
    bad_words_ = filter_bad_words(*cfg.bad_words_ids, eos);
    steps_.push_back(Kind::kBadWords);
  }
  if (!eos.empty() && min_length_ > 0) steps_.push_back(Kind::kMinLength);
  if (!eos.empty() && cfg.min_new_tokens && *cfg.min_new_tokens > 0) steps_.push_back(Kind::kMinNewTokens);
  if (cfg.forced_bos_token_id) steps_.push_back(Kind::kForcedBos);
  if (cfg.forced_eos_token_id) steps_.push_back(Kind::kForcedEos);
  if (cfg.remove_invalid_values) steps_.push_back(Kind::kRemoveInvalid);
  if (cfg.exponential_decay_length_penalty) {
    // ExponentialDecayLengthPenalty(..., input_ids_seq_length): regulation_start = start_index +
    // input_ids_seq_length (the padded prompt length; 1, the decoder start, for seq2seq).
    regulation_start_ = int64_t(cfg.exponential_decay_length_penalty->first) + input_len;
    steps_.push_back(Kind::kExpDecay);
  }
  if (cfg.suppress_tokens) steps_.push_back(Kind::kSuppress);
  begin_index_ = input_len;
  if (cfg.begin_suppress_tokens) {
    if (!(input_len > 1 || !cfg.forced_bos_token_id)) begin_index_ = input_len + 1;
    steps_.push_back(Kind::kBeginSuppress);
  }
  min_keep_ = 1;
  if (cfg.do_sample) {
    // Beam sampling keeps at least one non-EOS continuation.
    if (cfg.num_beams > 1) min_keep_ = eos.empty() ? 2 : static_cast<int>(eos.size()) + 1;
    if (cfg.temperature != 1.0f) steps_.push_back(Kind::kTemperature);
    if (cfg.top_k != 0) steps_.push_back(Kind::kTopK);
    if (cfg.top_p < 1.0f) steps_.push_back(Kind::kTopP);
    if (cfg.min_p) steps_.push_back(Kind::kMinP);
    if (cfg.typical_p < 1.0f) steps_.push_back(Kind::kTypical);
    if (cfg.epsilon_cutoff > 0.0f && cfg.epsilon_cutoff < 1.0f) steps_.push_back(Kind::kEpsilon);
    if (cfg.eta_cutoff > 0.0f && cfg.eta_cutoff < 1.0f) steps_.push_back(Kind::kEta);
  }
  if (cfg.renormalize_logits) steps_.push_back(Kind::kRenormalize);
}

void LogitsPipeline::apply(std::span<float> scores, const RowView& row, int cur_len) const {
  const auto& eos = cfg_.eos_token_id;
  for (Kind k : steps_) {
    switch (k) {
      case Kind::kSequenceBias: sequence_bias(scores, row.ids, sequence_bias_); break;
      case Kind::kEncoderRepetition:
        encoder_repetition_penalty(scores, row.encoder_penalty_ids, cfg_.encoder_repetition_penalty);
        break;
      case Kind::kRepetition: repetition_penalty(scores, row.ids, cfg_.repetition_penalty); break;
      case Kind::kPresenceFrequency: {
        // Generated tokens: the last cur_len - input_len of the row (causal rows hold the prompt
        // before them; seq2seq rows the decoder start).
        const size_t n = static_cast<size_t>(std::max(cur_len - input_len_, 0));
        presence_frequency_penalty(scores, row.ids.last(std::min(n, row.ids.size())), cfg_.presence_penalty,
                                   cfg_.frequency_penalty);
        break;
      }
      case Kind::kNoRepeatNgram: no_repeat_ngram(scores, row.ids, cfg_.no_repeat_ngram_size); break;
      case Kind::kEncoderNoRepeatNgram:
        encoder_no_repeat_ngram(scores, row.ids, row.encoder_ids, cfg_.encoder_no_repeat_ngram_size);
        break;
      case Kind::kBadWords: no_bad_words(scores, row.ids, bad_words_); break;
      case Kind::kMinLength: min_length(scores, cur_len, min_length_, eos); break;
      case Kind::kMinNewTokens: min_new_tokens(scores, cur_len, input_len_, *cfg_.min_new_tokens, eos); break;
      case Kind::kForcedBos: forced_bos(scores, cur_len, *cfg_.forced_bos_token_id); break;
      case Kind::kForcedEos: forced_eos(scores, cur_len, max_length_, *cfg_.forced_eos_token_id); break;
      case Kind::kRemoveInvalid: remove_invalid_values(scores); break;
      case Kind::kExpDecay:
        exponential_decay_length_penalty(scores, cur_len, regulation_start_,
                                         cfg_.exponential_decay_length_penalty->second, eos);
        break;
      case Kind::kSuppress: suppress(scores, *cfg_.suppress_tokens); break;
      case Kind::kBeginSuppress: begin_suppress(scores, cur_len, begin_index_, *cfg_.begin_suppress_tokens); break;
      case Kind::kTemperature: temperature(scores, cfg_.temperature); break;
      case Kind::kTopK: top_k(scores, cfg_.top_k, min_keep_); break;
      case Kind::kTopP: top_p(scores, cfg_.top_p, min_keep_); break;
      case Kind::kMinP: min_p(scores, *cfg_.min_p, min_keep_); break;
      case Kind::kTypical: typical(scores, cfg_.typical_p, min_keep_); break;
      case Kind::kEpsilon: epsilon_cutoff(scores, cfg_.epsilon_cutoff, min_keep_); break;
      case Kind::kEta: eta_cutoff(scores, cfg_.eta_cutoff, min_keep_); break;
      case Kind::kRenormalize: log_softmax(scores); break;
    }
  }
}

}  // namespace autolm::gen
