#include "models/registry.h"

namespace autolm {

const std::vector<RegistryEntry>& registry() {
  using F = ModelFamily;
  static const std::vector<RegistryEntry> entries = {
      // Decoder-only (AutoModelForCausalLM)
      {"gpt2", F::kCausal, make_gpt2, {"GPT2LMHeadModel"}},
      {"llama", F::kCausal, make_llama, {"LlamaForCausalLM"}},
      {"mistral", F::kCausal, make_mistral, {"MistralForCausalLM"}},
      {"qwen2", F::kCausal, make_qwen2, {"Qwen2ForCausalLM"}},
      {"qwen3", F::kCausal, make_qwen3, {"Qwen3ForCausalLM"}},
      {"phi3", F::kCausal, make_phi3, {"Phi3ForCausalLM"}},
      {"smollm3", F::kCausal, make_smollm3, {"SmolLM3ForCausalLM"}},
      {"gemma2", F::kCausal, make_gemma, {"Gemma2ForCausalLM"}},
      {"gemma3_text", F::kCausal, make_gemma, {"Gemma3ForCausalLM"}},
      {"granite", F::kCausal, make_granite, {"GraniteForCausalLM"}},
      {"olmo", F::kCausal, make_olmo, {"OlmoForCausalLM"}},
      {"olmo2", F::kCausal, make_olmo2, {"Olmo2ForCausalLM"}},
      {"stablelm", F::kCausal, make_stablelm, {"StableLmForCausalLM"}},
      {"cohere", F::kCausal, make_cohere, {"CohereForCausalLM"}},
      {"mixtral", F::kCausal, make_mixtral, {"MixtralForCausalLM"}},
      {"qwen2_moe", F::kCausal, make_qwen2_moe, {"Qwen2MoeForCausalLM"}},
      {"qwen3_moe", F::kCausal, make_qwen3_moe, {"Qwen3MoeForCausalLM"}},
      {"phi", F::kCausal, make_phi, {"PhiForCausalLM"}},
      {"gpt_neox", F::kCausal, make_gpt_neox, {"GPTNeoXForCausalLM"}},
      {"falcon", F::kCausal, make_falcon, {"FalconForCausalLM"}},
      {"starcoder2", F::kCausal, make_starcoder2, {"Starcoder2ForCausalLM"}},
      {"gpt_bigcode", F::kCausal, make_gpt_bigcode, {"GPTBigCodeForCausalLM"}},
      {"opt", F::kCausal, make_opt, {"OPTForCausalLM"}},
      // Encoder-decoder (AutoModelForSeq2SeqLM)
      {"t5", F::kSeq2Seq, make_t5, {"T5ForConditionalGeneration"}},
      {"mt5", F::kSeq2Seq, make_t5, {"MT5ForConditionalGeneration"}},
      {"umt5", F::kSeq2Seq, make_t5, {"UMT5ForConditionalGeneration"}},
      {"switch_transformers", F::kSeq2Seq, make_switch_transformers, {"SwitchTransformersForConditionalGeneration"}},
      {"t5gemma", F::kSeq2Seq, make_t5gemma, {"T5GemmaForConditionalGeneration"}},
      {"longt5", F::kSeq2Seq, make_longt5, {"LongT5ForConditionalGeneration"}},
      {"bart", F::kSeq2Seq, make_bart_family, {"BartForConditionalGeneration"}},
      {"mbart", F::kSeq2Seq, make_bart_family, {"MBartForConditionalGeneration"}},
      {"marian", F::kSeq2Seq, make_bart_family, {"MarianMTModel"}},
      {"pegasus", F::kSeq2Seq, make_bart_family, {"PegasusForConditionalGeneration"}},
      {"m2m_100", F::kSeq2Seq, make_bart_family, {"M2M100ForConditionalGeneration"}},
      {"plbart", F::kSeq2Seq, make_bart_family, {"PLBartForConditionalGeneration"}},
      {"led", F::kSeq2Seq, make_bart_family, {"LEDForConditionalGeneration"}},
      {"blenderbot", F::kSeq2Seq, make_blenderbot, {"BlenderbotForConditionalGeneration"}},
      {"blenderbot-small", F::kSeq2Seq, make_blenderbot_small, {"BlenderbotSmallForConditionalGeneration"}},
      {"fsmt", F::kSeq2Seq, make_fsmt, {"FSMTForConditionalGeneration"}},
      {"nllb-moe", F::kSeq2Seq, nullptr, {"NllbMoeForConditionalGeneration"}},
  };
  return entries;
}

const RegistryEntry& find_registry_entry(const JsonConfig& config) {
  const std::string type = config.get_or<std::string>("model_type", "");
  for (const auto& e : registry())
    if (type == e.model_type) return e;
  if (type.empty() && config.has("architectures") && config.raw()["architectures"].is_array()) {
    for (const auto& arch : config.raw()["architectures"]) {
      if (!arch.is_string()) continue;
      for (const auto& e : registry())
        for (const char* a : e.architectures)
          if (arch.get<std::string>() == a) return e;
    }
  }
  std::string supported;
  for (const auto& e : registry()) supported += std::string(supported.empty() ? "" : ", ") + e.model_type;
  const std::string what = type.empty() ? "has no \"model_type\" and no known \"architectures\""
                                        : "has unsupported model_type \"" + type + "\"";
  throw Error(ErrorKind::kUnsupported, config.source() + " " + what + "; supported model types: " + supported);
}

}  // namespace autolm
