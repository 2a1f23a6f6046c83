// Beam search (and beam sampling) as transformers 5.17 `GenerationMixin._beam_search`: per step
// log_softmax → processors → + running beam scores; top-K (K = max(2, 1 + #eos) × num_beams)
// continuations; the best non-finished num_beams keep running; candidates among the first
// num_beams that hit a stopping criterion enter the finished set with score / len**length_penalty.
// The -1e9 float32 penalties of the reference are reproduced so ties and ordering match.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "generate/row_constraints.h"
#include "generate/sampling.h"
#include "generate/search.h"
#include "core/check.h"

namespace autolm::gen {

namespace {

constexpr float kBig = -1.0e9f;

// torch.topk(v, n) on CPU (ATen TopKImpl.h): the same (value, index) queue, comparator and
// algorithm choice (partial_sort when n * 64 <= size, else nth_element + sort of the first n - 1),
// so that ties between equal scores resolve as in transformers (both use libstdc++).
std::vector<int> top_n(std::span<const float> v, int n) {
  using elem_t = std::pair<double, int64_t>;
  const int64_t size = static_cast<int64_t>(v.size());
  n = static_cast<int>(std::min<int64_t>(n, size));
  if (n <= 0) return {};
  std::vector<elem_t> queue(size);
  for (int64_t j = 0; j < size; ++j) queue[j] = {static_cast<double>(v[j]), j};
  auto cmp = [](const elem_t& x, const elem_t& y) -> bool {
    return (std::isnan(x.first) && !std::isnan(y.first)) || (x.first > y.first);
  };
  if (static_cast<int64_t>(n) * 64 <= size) {
    std::partial_sort(queue.begin(), queue.begin() + n, queue.end(), cmp);
  } else {
    std::nth_element(queue.begin(), queue.begin() + n - 1, queue.end(), cmp);
    std::sort(queue.begin(), queue.begin() + n - 1, cmp);
  }
  std::vector<int> idx(n);
  for (int i = 0; i < n; ++i) idx[i] = static_cast<int>(queue[i].second);
  return idx;
}

struct Beam {
  std::vector<int32_t> seq;  // prompt + generated tokens (HF's fill value past them is added at the end)
  float score = 0.0f;
  int gen_len = 0;           // generated tokens (beam_indices != -1)
  bool done = false;         // is_sent_finished (finished set only)
  bool timed_out = false;    // finished because max_time ran out (not EOS, stop string or length)
};

}  // namespace

GenerateOutput beam_search(const Model& model, const Request& req) {
  const auto& cfg = req.cfg;
  const int nb = cfg.num_beams;
  const int B = req.batch;
  const int rows = B * nb;
  const int prompt_len = req.input_len;  // decoder_prompt_len
  const int max_length = req.max_length;
  // beams_to_keep; never more than the nb × vocab candidates there are (top_n clamps to that).
  const int64_t n_eos = static_cast<int64_t>(cfg.eos_token_id.size());
  const int K = static_cast<int>(std::min<int64_t>(std::max<int64_t>(2, 1 + n_eos) * nb, INT32_MAX));
  // output_fill_value = (pad_token_id or eos_token_id[0]) if eos_token_id is not None else -1;
  // a pad id of 0 is falsy there. Without EOS we use the pad id (or 0) instead of -1.
  int32_t fill = 0;
  if (!cfg.eos_token_id.empty()) fill = (req.pad && *req.pad != 0) ? (int32_t)*req.pad : (int32_t)cfg.eos_token_id[0];
  else if (req.pad) fill = (int32_t)*req.pad;

  RowConstraints constraints(req.hooks, cfg, rows);  // per running beam
  std::vector<int32_t> ids, mask;
  int len = 0;
  std::unique_ptr<DecodeState> state = start_state(model, req, nb, ids, mask, len);

  std::vector<Beam> running(rows), finished(rows);
  std::vector<int> skip(B, 0);
  for (int b = 0; b < B; ++b) {
    skip[b] = req.seq2seq ? 0 : req.left_pad[b];
    for (int j = 0; j < nb; ++j) {
      Beam& r = running[b * nb + j];
      // Sequences grow with the search: nothing is allocated for a max_length never reached.
      if (req.seq2seq) r.seq.assign(1, req.decoder_start);
      else r.seq.assign(req.input_ids.begin() + (size_t)b * req.src_len, req.input_ids.begin() + (size_t)(b + 1) * req.src_len);
      r.score = j == 0 ? 0.0f : kBig;
      finished[b * nb + j] = r;
      finished[b * nb + j].score = kBig;
    }
  }
  std::vector<uint8_t> heuristic_unsatisfied(B, 1);

  LogitsPipeline pipeline(cfg, req.input_len, req.max_length, req.min_length);
  Sampler sampler(cfg.seed);
  const MaxTime max_time(cfg.max_time);  // after the encoder, as transformers' criteria
  GenerateOutput out;
  out.prompt_length = req.seq2seq ? 1 : req.src_len;

  int cur_len = prompt_len;
  std::vector<float> logp, acc, cand_vals, run_lp, fin_lp;
  std::vector<int32_t> tmp;
  std::vector<int> reorder(rows);
  while (true) {
    std::span<const float> logits = model.decode(ids, mask, len, *state, false);
    AUTOLM_CHECK(!logits.empty() && logits.size() % rows == 0, "decode returned a bad logits span");
    const int V = static_cast<int>(logits.size() / rows);
    out.vocab_size = V;
    logp.assign(logits.begin(), logits.end());
    for (int r = 0; r < rows; ++r) {
      std::span<float> row(logp.data() + (size_t)r * V, V);
      log_softmax(row);
      constraints.mask(r, row);
      const int b = r / nb;
      RowView view{std::span<const int32_t>(running[r].seq).subspan(skip[b], cur_len - skip[b]), req.unpadded[b],
                   encoder_repetition_ids(req.unpadded, r)};
      pipeline.apply(row, view, cur_len);
      if (constraints.settle(r, row, logits.subspan((size_t)r * V, V))) log_softmax(row);
    }
    if (cfg.output_scores) out.scores.push_back(logp);

    bool all_hit = true;
    // MaxTimeCriteria is evaluated with the others on every candidate: once the time is up, every
    // candidate "hits" and the search ends after this step.
    const bool timed_out = max_time.exceeded();
    std::vector<Beam> next_running(rows), next_finished(rows);
    for (int b = 0; b < B; ++b) {
      // accumulated log-probs over num_beams × vocab
      acc.resize((size_t)nb * V);
      for (int j = 0; j < nb; ++j)
        for (int v = 0; v < V; ++v) acc[(size_t)j * V + v] = logp[(size_t)(b * nb + j) * V + v] + running[b * nb + j].score;
      std::vector<int> cand;
      if (cfg.do_sample) {
        for (int32_t x : sampler.sample_without_replacement(acc, K)) cand.push_back(x);
      } else {
        cand = top_n(acc, K);
      }
      const int k_n = static_cast<int>(cand.size());
      cand_vals.resize(k_n);
      std::vector<int> src(k_n);
      std::vector<int32_t> tok(k_n);
      std::vector<uint8_t> hits(k_n);
      for (int k = 0; k < k_n; ++k) {
        cand_vals[k] = acc[cand[k]];
        src[k] = cand[k] / V;
        tok[k] = cand[k] % V;
        bool hit = timed_out || cur_len + 1 >= max_length || req.is_eos(tok[k]);
        if (!hit && req.stop.enabled()) {
          const auto& s = running[b * nb + src[k]].seq;
          // Only the tail the checker reads: copying whole sequences per candidate is O(length).
          const int from = std::max<int64_t>(skip[b], int64_t(cur_len) - int64_t(req.stop.window()));
          tmp.assign(s.begin() + from, s.begin() + cur_len);
          tmp.push_back(tok[k]);
          hit = req.stop.hit(tmp);
        }
        hits[k] = hit;
        all_hit = all_hit && hit;
      }
      auto make = [&](int k, float score) {
        Beam n;
        const auto& from = running[b * nb + src[k]].seq;
        n.seq.reserve(from.size() + 1);
        n.seq.assign(from.begin(), from.end());
        n.seq.push_back(tok[k]);
        n.score = score;
        n.gen_len = cur_len + 1 - prompt_len;
        return n;
      };
      // e. running beams for the next step: the best candidates that did not stop.
      run_lp.resize(k_n);
      for (int k = 0; k < k_n; ++k) run_lp[k] = cand_vals[k] + (hits[k] ? kBig : 0.0f);
      std::vector<int> keep = top_n(run_lp, nb);
      for (int i = 0; i < nb; ++i) {
        next_running[b * nb + i] = make(keep[i], run_lp[keep[i]]);
        reorder[b * nb + i] = b * nb + src[keep[i]];
      }
      // f. finished beams: merge the previous finished set with the candidates that just stopped.
      const float lp = static_cast<float>(std::pow(static_cast<double>(cur_len + 1 - prompt_len), (double)cfg.length_penalty));
      bool all_done = true;
      for (int j = 0; j < nb; ++j) all_done = all_done && finished[b * nb + j].done;
      const bool full = all_done && cfg.early_stopping == EarlyStopping::kTrue;
      std::vector<float> merged(nb + k_n);
      for (int j = 0; j < nb; ++j) merged[j] = finished[b * nb + j].score;
      for (int k = 0; k < k_n; ++k) {
        float s = cand_vals[k] / lp;
        if (full) s += kBig;
        if (!heuristic_unsatisfied[b]) s += kBig;
        const bool did = hits[k] && k < nb;
        if (!did) s += kBig;
        merged[nb + k] = s;
      }
      std::vector<int> best = top_n(merged, nb);
      for (int i = 0; i < nb; ++i) {
        const int m = best[i];
        if (m < nb) {
          next_finished[b * nb + i] = finished[b * nb + m];
        } else {
          const int k = m - nb;
          Beam n = make(k, merged[m]);
          n.done = hits[k] && k < nb;
          n.timed_out = n.done && timed_out;
          next_finished[b * nb + i] = std::move(n);
        }
      }
    }
    running.swap(next_running);
    finished.swap(next_finished);
    if (constraints.enabled()) {
      std::vector<int32_t> last(rows);
      for (int r = 0; r < rows; ++r) last[r] = running[r].seq.back();
      constraints.follow(reorder, last);
    }
    // g. caches follow their beams.
    bool identity = true;
    for (int r = 0; r < rows; ++r) identity = identity && reorder[r] == r;
    if (!identity) state->reorder(reorder);
    ++cur_len;

    // _check_early_stop_heuristic and _beam_search_has_unfinished_sequences.
    bool improvement_possible = false, all_finished = true;
    for (int b = 0; b < B; ++b) {
      const int best_len = (cfg.early_stopping == EarlyStopping::kNever && cfg.length_penalty > 0.0f)
                               ? max_length - prompt_len
                               : cur_len - prompt_len;
      const float best_possible =
          running[b * nb].score / static_cast<float>(std::pow((double)best_len, (double)cfg.length_penalty));
      float worst = finished[b * nb].score;
      for (int j = 0; j < nb; ++j) worst = std::min(worst, finished[b * nb + j].score);
      bool any = false;
      for (int j = 0; j < nb; ++j) any = any || best_possible > (finished[b * nb + j].done ? worst : kBig);
      heuristic_unsatisfied[b] = heuristic_unsatisfied[b] && any;
      improvement_possible = improvement_possible || heuristic_unsatisfied[b];
      for (int j = 0; j < nb; ++j) all_finished = all_finished && finished[b * nb + j].done;
    }
    const bool exists_open_beam = !(all_finished && cfg.early_stopping == EarlyStopping::kTrue);
    if (!(improvement_possible && exists_open_beam && !all_hit)) break;

    ids.resize(rows);
    for (int r = 0; r < rows; ++r) ids[r] = running[r].seq[cur_len - 1];
    mask.clear();
    len = 1;
  }

  // 5. the best num_return_sequences per input, cropped to the longest returned generation.
  const int nrs = cfg.num_return_sequences;
  int max_gen = 0;
  for (int b = 0; b < B; ++b)
    for (int i = 0; i < nrs; ++i) max_gen = std::max(max_gen, finished[b * nb + i].gen_len);
  for (int b = 0; b < B; ++b) {
    for (int i = 0; i < nrs; ++i) {
      const Beam& f = finished[b * nb + i];
      std::vector<int32_t> seq(f.seq.begin(), f.seq.begin() + prompt_len + f.gen_len);
      seq.resize(static_cast<size_t>(prompt_len) + max_gen, fill);
      out.sequences.push_back(std::move(seq));
      out.sequences_scores.push_back(f.score);
      out.num_generated.push_back(f.gen_len);
      FinishReason why = FinishReason::kLength;
      if (f.gen_len > 0) {
        const int32_t last = f.seq[prompt_len + f.gen_len - 1];
        if (req.is_eos(last)) why = FinishReason::kEos;
        else if (req.stop.enabled() &&
                 req.stop.hit(std::span<const int32_t>(f.seq).subspan(skip[b], prompt_len + f.gen_len - skip[b])))
          why = FinishReason::kStopString;
        else if (f.timed_out && prompt_len + f.gen_len < max_length)
          why = FinishReason::kTime;
      }
      out.finish_reasons.push_back(why);
    }
  }
  return out;
}

}  // namespace autolm::gen
