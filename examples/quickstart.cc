// The README's C++ example: load the bundled T5, tokenize, generate, decode.
// Usage: quickstart [model_dir] [prompt]
#include <iostream>

#include "autolm/autolm.h"

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "models/t5-numbers";
  const std::string prompt = argc > 2 ? argv[2] : "spell: 4021";
  try {
    auto model = autolm::AutoModelForSeq2SeqLM::from_pretrained(dir);
    auto tokenizer = autolm::AutoTokenizer::from_pretrained(dir);
    auto config = autolm::GenerationConfig::for_model(*model);  // generation_config.json
    config.max_new_tokens = 32;
    auto out = autolm::generate(*model, {tokenizer->encode(prompt)}, config);
    std::cout << tokenizer->decode(out.new_tokens[0], /*skip_special_tokens=*/true) << "\n";
  } catch (const autolm::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
