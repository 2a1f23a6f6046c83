#include "io/limits.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <mutex>

#include "autolm/error.h"

namespace autolm {

namespace {

uint64_t env_u64(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  errno = 0;
  unsigned long long n = std::strtoull(v, &end, 10);
  if (errno != 0 || *end != '\0' || n == 0 || v[0] == '-')
    throw Error(ErrorKind::kInvalidInput, std::string("environment variable ") + name + "=\"" + v +
                                              "\" is not a positive integer");
  return n;
}

InputLimits from_env() {
  InputLimits l;
  const uint64_t depth = env_u64("AUTOLM_MAX_JSON_DEPTH", uint64_t(l.json_max_depth));
  l.json_max_depth = depth > 100000 ? 100000 : int(depth);
  l.config_max_bytes = env_u64("AUTOLM_MAX_CONFIG_BYTES", l.config_max_bytes);
  l.tokenizer_max_bytes = env_u64("AUTOLM_MAX_TOKENIZER_BYTES", l.tokenizer_max_bytes);
  // Positions index int KV caches and T5's (2 × length + 1)-wide bias tables: at most 2^30.
  const uint64_t positions = env_u64("AUTOLM_MAX_POSITIONS", 0);
  l.max_positions = int64_t(std::min<uint64_t>(positions, uint64_t(1) << 30));
  return l;
}

std::mutex g_mu;
InputLimits* g_limits = nullptr;

}  // namespace

const InputLimits& input_limits() {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_limits) g_limits = new InputLimits(from_env());
  return *g_limits;
}

void set_input_limits(const InputLimits& limits) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_limits) g_limits = new InputLimits(limits);
  else *g_limits = limits;
}

}  // namespace autolm
