// Fuzz target: config.json → AutoConfig, load_model and two greedy steps. The folder beside the
// config holds a real tiny checkpoint (model.safetensors, generation_config.json) of the
// family the input names in "model_type" (llama when it names none we have), so that mutated
// sizes, head counts, layer counts, rope settings, token ids... meet real tensors. A config
// whose numbers disagree with the tensors must be refused, never trusted for an allocation.
#include <map>

#include "autolm/auto.h"
#include "autolm/generation.h"
#include "fuzz_common.h"
#include "io/json_file.h"

using namespace autolm;

namespace {

// model_type → a private folder with that family's checkpoint (copied, not linked: the
// loader refuses links that leave the folder).
const std::map<std::string, std::string>& folders() {
  static fuzz::TempDir root;
  static const std::map<std::string, std::string> m = [] {
    std::map<std::string, std::string> out;
    std::vector<std::string> sources;
    for (const std::string& base : {fuzz::fixtures() + "/models", fuzz::fixtures() + "/demo", fuzz::source_dir() + "/models"}) {
      std::error_code ec;
      for (auto& e : fs::directory_iterator(base, ec))
        if (fs::exists(e.path() / "config.json") && fs::exists(e.path() / "model.safetensors")) sources.push_back(e.path());
    }
    for (const auto& src : sources) {
      const auto config = nlohmann::json::parse(fuzz::read_file(src + "/config.json"));
      const std::string type = config.value("model_type", "");
      if (type.empty() || out.count(type)) continue;
      const std::string dst = root / type;
      fs::create_directory(dst);
      fs::copy_file(src + "/model.safetensors", dst + "/model.safetensors");
      if (fs::exists(src + "/generation_config.json")) fs::copy_file(src + "/generation_config.json", dst + "/generation_config.json");
      out[type] = dst;
    }
    if (out.empty()) std::abort();
    return out;
  }();
  return m;
}

std::string folder_for(std::string_view text) {
  const auto& m = folders();
  try {
    const json j = parse_json(text, "config.json");
    if (j.is_object() && j.contains("model_type") && j["model_type"].is_string()) {
      auto it = m.find(j["model_type"].get<std::string>());
      if (it != m.end()) return it->second;
    }
  } catch (const Error&) {
  }
  return m.count("llama") ? m.at("llama") : m.begin()->second;
}

}  // namespace

// Loads the fixed inputs once, before libFuzzer starts timing units (-timeout).
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  folders();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = fuzz::as_text(data, size);
  const std::string dir = folder_for(text);
  fuzz::write_file(dir + "/config.json", text);
  fuzz::guarded([&] { AutoConfig::from_pretrained(dir); });
  fuzz::guarded([&] {
    auto model = load_model(dir);
    GenerationConfig config = GenerationConfig::for_model(*model);
    config.max_new_tokens = 2;
    config.max_length.reset();
    config.num_beams = 1;
    config.num_return_sequences = 1;
    config.do_sample = false;
    config.validate();
    generate(*model, {{0, 1, 2}}, config);
  });
  return 0;
}
