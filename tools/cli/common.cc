#include "common.h"

#include "io/hub_cache.h"

#include <charconv>
#include <optional>

namespace autolm::cli {

CLI::Validator model_dir_or_id(std::string* given_id) {
  return CLI::Validator(
      [given_id](std::string& v) {
        const std::string given = v;
        v = resolve_pretrained(v);  // throws autolm::Error (exit 2) naming the folder or the repo
        if (given_id) *given_id = v == given ? "" : parse_hub_model_id(given)->repo_id;
        return std::string();
      },
      "DIR|ORG/NAME[@REV]");
}

namespace {

std::string trim(std::string s) {
  while (!s.empty() && s.front() == ' ') s.erase(s.begin());
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

// Whole-string base-10 integer; nullopt for garbage, and `overflow` set past int64.
std::optional<int64_t> to_int64(const std::string& item, bool& overflow) {
  int64_t v = 0;
  const char* begin = item.data() + (item.size() > 1 && item[0] == '+' ? 1 : 0);
  auto [p, ec] = std::from_chars(begin, item.data() + item.size(), v);
  overflow = ec == std::errc::result_out_of_range;
  if (item.empty() || ec != std::errc() || p != item.data() + item.size()) return std::nullopt;
  return v;
}

}  // namespace

int64_t parse_int(const std::string& text, const std::string& flag, int64_t lo, int64_t hi) {
  bool overflow = false;
  const std::string item = trim(text);
  std::optional<int64_t> v = to_int64(item, overflow);
  if (!v && !overflow) throw Error(ErrorKind::kInvalidInput, flag + ": \"" + text + "\" is not an integer");
  if (!v || *v < lo || *v > hi)
    throw Error(ErrorKind::kInvalidInput, flag + ": " + item + " is out of range (" + std::to_string(lo) + " to " +
                                              std::to_string(hi) + ")");
  return *v;
}

uint64_t parse_u64(const std::string& text, const std::string& flag) {
  const std::string item = trim(text);
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
  if (ec == std::errc::result_out_of_range)
    throw Error(ErrorKind::kInvalidInput, flag + ": " + item + " is out of range (0 to 18446744073709551615)");
  if (item.empty() || ec != std::errc() || p != item.data() + item.size())
    throw Error(ErrorKind::kInvalidInput, flag + ": \"" + text + "\" is not a non-negative integer");
  return v;
}

std::vector<int32_t> parse_ids(const std::string& text, const std::string& flag) {
  std::vector<int32_t> ids;
  size_t pos = 0;
  while (pos <= text.size()) {
    if (ids.size() >= kMaxCliIds)
      throw Error(ErrorKind::kInvalidInput, flag + ": more than " + std::to_string(kMaxCliIds) + " token ids");
    size_t comma = text.find(',', pos);
    if (comma == std::string::npos) comma = text.size();
    const std::string item = trim(text.substr(pos, comma - pos));
    bool overflow = false;
    std::optional<int64_t> v = to_int64(item, overflow);
    if (!v && !overflow)
      throw Error(ErrorKind::kInvalidInput, flag + ": \"" + item + "\" is not an integer token id (expected e.g. 1,2,3)");
    if (!v || *v < 0 || *v > INT32_MAX)
      throw Error(ErrorKind::kInvalidInput, flag + ": " + item + " is not a valid token id (0 to 2147483647)");
    ids.push_back(static_cast<int32_t>(*v));
    pos = comma + 1;
  }
  if (ids.empty()) throw Error(ErrorKind::kInvalidInput, flag + ": no token ids given");
  return ids;
}

void check_vocab(const std::vector<int32_t>& ids, int64_t vocab_size, const std::string& flag) {
  if (vocab_size <= 0) return;
  for (int32_t t : ids)
    if (t >= vocab_size)
      throw Error(ErrorKind::kInvalidInput, flag + ": token id " + std::to_string(t) +
                                                " is outside the vocabulary (size " + std::to_string(vocab_size) + ")");
}

std::shared_ptr<const Model> load_with_class(const std::string& dir, const std::string& cls, const std::string& dtype,
                                             bool no_cache) {
  const LoadOptions options{.dtype = parse_dtype(dtype, "--dtype"), .weight_cache = !no_cache};
  if (cls.empty()) return load_model(dir, options);
  if (cls == "AutoModelForCausalLM") return AutoModelForCausalLM::from_pretrained(dir, options);
  if (cls == "AutoModelForSeq2SeqLM") return AutoModelForSeq2SeqLM::from_pretrained(dir, options);
  throw Error(ErrorKind::kInvalidInput, "--class: unknown class \"" + cls + "\" (AutoModelForCausalLM or AutoModelForSeq2SeqLM)");
}

void add_load_options(CLI::App* cmd, std::string& cls, std::string& dtype, bool& no_cache) {
  cmd->add_option("--class", cls, "force AutoModelForCausalLM or AutoModelForSeq2SeqLM (default: from config.json)");
  cmd->add_option("--dtype", dtype,
                  "weights in memory: auto (bf16/f16 used in place), float32 (upcast), int8, int4 or int4-g64 (quantized at "
                  "load; int4: 4-bit groups of 32 weights, int4-g64: of 64)");
  cmd->add_flag("--no-cache", no_cache,
                "int8 / int4: neither read nor write the cache of quantized weights ($AUTOLM_CACHE, else "
                "$XDG_CACHE_HOME/autolm, else ~/.cache/autolm; also AUTOLM_NO_CACHE=1)");
}

}  // namespace autolm::cli
