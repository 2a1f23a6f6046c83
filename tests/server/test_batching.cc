// Continuous batching (issue #15, docs/SERVER.md "Continuous batching"): requests generating at
// the same time against a BatchingModel — greedy, seeded sampling, n > 1, beam search, different
// prompt lengths and max_new_tokens, joining at different times, one cancelled mid-batch — give
// exactly what generate() gives each alone; chunked prefill; and over HTTP, batched = unbatched,
// the KV budget (wait, or 400 when a request can never fit) and the batch counters.
#include <gtest/gtest.h>
#include <httplib.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "autolm/auto.h"
#include "autolm/generation.h"
#include "autolm/tokenizer.h"
#include "fixtures.h"
#include "server/batcher.h"
#include "server/scheduler.h"
#include "server/server.h"

namespace autolm::server {
namespace {

using json = nlohmann::ordered_json;

struct Request {
  std::vector<std::vector<int32_t>> prompts;
  GenerationConfig config;
  int cancel_after = 0;  // > 0: the on_step hook stops the request after this many steps
};

GenerateOutput run(const Model& m, const Request& r, const std::function<void()>& after_step = {}) {
  GenerateHooks hooks;
  int steps = 0;
  if (r.config.num_beams == 1) hooks.on_step = [&](const StreamStep&) {
    ++steps;
    if (after_step) after_step();
    return r.cancel_after == 0 || steps < r.cancel_after;
  };
  return generate(m, r.prompts, r.config, hooks);
}

// Requests of every kind, prompts of 1 to 9 tokens, 3 to 14 new tokens.
std::vector<Request> requests(const Model& m) {
  const GenerationConfig base = GenerationConfig::for_model(m);
  const int32_t V = int32_t(m.config().vocab_size);
  auto prompt = [&](int len, int salt) {
    std::vector<int32_t> p;
    for (int i = 0; i < len; ++i) p.push_back(int32_t((salt * 31 + i * 17 + 5) % V));
    return p;
  };
  std::vector<Request> rs;
  auto add = [&](std::vector<std::vector<int32_t>> prompts, int max_new) -> GenerationConfig& {
    Request r;
    r.prompts = std::move(prompts);
    r.config = base;
    r.config.do_sample = false;
    r.config.num_beams = 1;
    r.config.max_new_tokens = max_new;
    r.config.max_length.reset();
    r.config.eos_token_id.clear();  // every row runs to max_new_tokens: more steps side by side
    if (!r.config.pad_token_id) r.config.pad_token_id = 0;
    rs.push_back(std::move(r));
    return rs.back().config;
  };
  add({prompt(5, 1)}, 14);  // greedy; the one the others join
  GenerationConfig& s = add({prompt(1, 2)}, 9);  // seeded sampling, a one-token prompt
  s.do_sample = true, s.seed = 7, s.temperature = 0.8f, s.top_k = 20;
  GenerationConfig& n2 = add({prompt(3, 3)}, 6);  // n = 2: one request, two rows
  n2.do_sample = true, n2.seed = 11, n2.num_return_sequences = 2;
  add({prompt(9, 4), prompt(4, 5)}, 8);  // two prompts: left padding
  GenerationConfig& beam = add({prompt(6, 6)}, 5);  // beam search (rows reordered between steps)
  beam.num_beams = 2;
  add({prompt(2, 7)}, 3);  // leaves early
  rs.push_back(rs[0]);  // cancelled mid-batch
  rs.back().prompts = {prompt(7, 8)};
  rs.back().cancel_after = 4;
  return rs;
}

class Batching : public ::testing::TestWithParam<std::string> {};

// Request 0 starts; request i joins after request 0's i-th step.
TEST_P(Batching, ConcurrentRequestsEqualEachAlone) {
  const auto model = AutoModelForCausalLM::from_pretrained(test::model_dir(GetParam()));
  const std::vector<Request> rs = requests(*model);
  std::vector<GenerateOutput> alone;
  for (const Request& r : rs) alone.push_back(run(*model, r));

  const auto batching = std::make_shared<BatchingModel>(model, 0);
  std::vector<GenerateOutput> got(rs.size());
  std::mutex mu;
  std::condition_variable cv;
  int lead_steps = 0;
  std::vector<std::thread> threads;
  threads.emplace_back([&] {
    got[0] = run(*batching, rs[0], [&] {
      std::lock_guard lock(mu);
      ++lead_steps;
      cv.notify_all();
    });
  });
  for (size_t i = 1; i < rs.size(); ++i)
    threads.emplace_back([&, i] {
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return lead_steps >= int(i) || lead_steps >= 13; });
      }
      got[i] = run(*batching, rs[i]);
    });
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < rs.size(); ++i) {
    EXPECT_EQ(got[i].sequences, alone[i].sequences) << "request " << i;
    EXPECT_EQ(got[i].num_generated, alone[i].num_generated) << "request " << i;
  }
  EXPECT_EQ(got.back().num_generated[0], 4);  // the cancelled one stopped where it was told
  const StepBatcher::Stats st = batching->stats();
  EXPECT_GT(st.steps, 0u);
  // Whether two requests' steps coincided here depends on thread timing: StepsShareOneForward
  // checks that deterministically.
}

// The first step is held until three one-row requests wait for one (hold_next_step), so it
// carries all three rows in one forward; outputs still equal each alone.
TEST_P(Batching, StepsShareOneForward) {
  const auto model = AutoModelForCausalLM::from_pretrained(test::model_dir(GetParam()));
  std::vector<Request> rs = requests(*model);
  rs = {rs[0], rs[1], rs[5]};  // one row each: greedy, seeded sampling, greedy leaving early
  std::vector<GenerateOutput> alone;
  for (const Request& r : rs) alone.push_back(run(*model, r));

  const auto batching = std::make_shared<BatchingModel>(model, 0);
  batching->hold_next_step(3);
  std::vector<GenerateOutput> got(rs.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < rs.size(); ++i) threads.emplace_back([&, i] { got[i] = run(*batching, rs[i]); });
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < rs.size(); ++i) EXPECT_EQ(got[i].sequences, alone[i].sequences) << "request " << i;
  const StepBatcher::Stats st = batching->stats();
  EXPECT_GT(st.steps, 0u);
  EXPECT_GE(st.stepped_rows, st.steps + 2);  // the held step: 3 rows, every other step at least 1
}

// GQA llama, gemma3 (sliding window), MoE, gpt2 (learned positions), qwen3 (the demo chat model).
INSTANTIATE_TEST_SUITE_P(Fixtures, Batching,
                         ::testing::Values("llama-tiny", "gemma3-tiny", "qwen2_moe-tiny", "mixtral-tiny", "gpt2-tiny",
                                           "chat-tiny"),
                         test::FixtureName());

// Prompts longer than the chunk run in pieces between steps; greedy tokens stay the same (the
// logits differ from the whole prompt's by float rounding only).
TEST(BatchingPrefill, ChunkedPromptsGiveTheSameTokens) {
  const auto model = AutoModelForCausalLM::from_pretrained(test::model_dir("chat-tiny"));
  const auto batching = std::make_shared<BatchingModel>(model, 4);
  std::vector<Request> rs = requests(*model);
  rs.resize(4);
  std::vector<GenerateOutput> got(rs.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < rs.size(); ++i) threads.emplace_back([&, i] { got[i] = run(*batching, rs[i]); });
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < rs.size(); ++i) EXPECT_EQ(got[i].sequences, run(*model, rs[i]).sequences) << "request " << i;
  EXPECT_GT(batching->stats().prefill_chunks, rs.size());  // the 9-token prompt took 3 chunks
}

// A step that fails (here: ids outside the vocabulary) fails for its request only.
TEST(BatchingErrors, OneBadStepFailsAlone) {
  const auto model = AutoModelForCausalLM::from_pretrained(test::model_dir("gpt2-tiny"));
  const auto owner = std::make_shared<BatchingModel>(model, 0);
  const Model* batching = owner.get();
  auto good = batching->new_state(1, 8), bad = batching->new_state(1, 8);
  const std::vector<int32_t> p = {5, 6, 7};
  batching->decode(p, {}, 3, *good, false);
  EXPECT_THROW(batching->decode(std::vector<int32_t>{int32_t(model->config().vocab_size)}, {}, 1, *bad, false), Error);
  const auto l = batching->decode(std::vector<int32_t>{9}, {}, 1, *good, false);
  EXPECT_EQ(l.size(), size_t(model->config().vocab_size));
}

// --- over HTTP, on the demo chat model ---

std::string demo(const std::string& name) { return std::string(AUTOLM_SOURCE_DIR) + "/models/" + name; }

std::unique_ptr<Server> serve(bool batching, int parallel, uint64_t kv_budget = 0) {
  ServerOptions o;
  o.model = AutoModelForCausalLM::from_pretrained(demo("chat-tiny"));
  o.tokenizer = AutoTokenizer::from_pretrained(demo("chat-tiny"));
  o.port = 0;
  o.parallel = parallel;
  o.batching = batching;
  o.kv_budget = kv_budget;
  auto s = std::make_unique<Server>(std::move(o));
  s->start();
  return s;
}

json post(int port, const json& body, int* status = nullptr) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_read_timeout(120, 0);
  auto res = cli.Post("/v1/completions", body.dump(), "application/json");
  if (status) *status = res ? res->status : 0;
  return res ? json::parse(res->body, nullptr, false) : json();
}

std::vector<json> bodies() {
  std::vector<json> v;
  const char* prompts[] = {"Once upon a time", "The cat", "Hello", "In a land far away, there lived", "Why", "One two three"};
  for (int i = 0; i < 6; ++i) {
    json b = {{"prompt", prompts[i]}, {"max_tokens", 6 + 3 * i}, {"seed", 100 + i}};
    if (i % 2) b["temperature"] = 0;
    else b["temperature"] = 0.9;
    if (i == 2) b["n"] = 2;
    v.push_back(b);
  }
  return v;
}

TEST(BatchingServer, ConcurrentRequestsEqualUnbatched) {
  const std::vector<json> bs = bodies();
  std::vector<json> want;
  {
    auto alone = serve(false, 1);
    for (const json& b : bs) want.push_back(post(alone->port(), b)["choices"]);
  }
  auto srv = serve(true, 4);
  std::vector<json> got(bs.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < bs.size(); ++i) threads.emplace_back([&, i] { got[i] = post(srv->port(), bs[i])["choices"]; });
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < bs.size(); ++i) {
    ASSERT_TRUE(want[i].is_array()) << i;
    EXPECT_EQ(got[i], want[i]) << "request " << i;
  }
  EXPECT_GT(srv->stats().batched_steps, 0u);
  const std::string metrics = srv->metrics();
  EXPECT_NE(metrics.find("vllm:num_requests_running"), std::string::npos);
  // The batcher's counters: what the stats say, in the exposition format.
  const ServerStats st = srv->stats();
  EXPECT_NE(metrics.find("autolm:batched_steps_total{model_name=\"" ), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("} " + std::to_string(st.batched_steps) + "\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("} " + std::to_string(st.batched_rows) + "\n"), std::string::npos) << metrics;
  EXPECT_GE(st.batched_rows, st.batched_steps);
}

// A request that could never fit in --kv-budget is refused at once, in OpenAI's shape (one that
// does not fit yet waits: SchedulerBudget below).
TEST(BatchingServer, KvBudgetRefusesWhatCanNeverFit) {
  auto srv = serve(true, 4, 64u << 10);  // 64 KiB: less than any request of this model needs
  int status = 0;
  const json r = post(srv->port(), {{"prompt", "Once upon a time"}, {"max_tokens", 200}, {"temperature", 0}}, &status);
  EXPECT_EQ(status, 400);
  EXPECT_EQ(r["error"]["code"], "limit_exceeded");
  EXPECT_EQ(r["error"]["type"], "invalid_request_error");
  EXPECT_NE(r["error"]["message"].get<std::string>().find("--kv-budget"), std::string::npos) << r.dump();
}

// The scheduler on its own: memory beyond the budget waits, and one task larger than it is refused.
TEST(SchedulerBudget, WaitsForMemoryAndRefusesTheImpossible) {
  Scheduler s(4, 8, 100);
  Scheduler::Task too_big;
  too_big.memory = 101;
  EXPECT_EQ(s.submit(std::move(too_big)), Scheduler::Admit::kTooBig);
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  int started = 0, max_running = 0;
  for (int i = 0; i < 3; ++i) {
    Scheduler::Task t;
    t.memory = 60;  // two never fit together
    t.run = [&](const std::function<void()>&) {
      std::unique_lock lock(mu);
      ++started;
      max_running = std::max(max_running, s.running());
      cv.notify_all();
      cv.wait(lock, [&] { return release; });
    };
    EXPECT_EQ(s.submit(std::move(t)), Scheduler::Admit::kQueued);
  }
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return started == 1; });
    EXPECT_EQ(s.waiting(), 2);  // workers free, memory not
    release = true;
    cv.notify_all();
  }
  EXPECT_TRUE(s.wait_idle(60));
  EXPECT_EQ(started, 3);
  EXPECT_EQ(max_running, 1);
}

}  // namespace
}  // namespace autolm::server
