// A program outside the autolm tree: one include, one library (find_package or pkg-config).
// Usage: consumer <t5-numbers model dir> <prompt>; prints the version, then the generated text.
#include <autolm/autolm.h>

#include <cstring>
#include <iostream>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: consumer <model_dir> <prompt>\n";
    return 2;
  }
  if (std::strcmp(autolm::version(), AUTOLM_VERSION_STRING) != 0) {
    std::cerr << "headers " << AUTOLM_VERSION_STRING << " but library " << autolm::version() << "\n";
    return 1;
  }
  try {
    auto model = autolm::AutoModelForSeq2SeqLM::from_pretrained(argv[1], {.dtype = autolm::Dtype::kAuto});
    auto tokenizer = autolm::AutoTokenizer::from_pretrained(argv[1]);
    auto config = autolm::GenerationConfig::for_model(*model);
    config.max_new_tokens = 32;
    auto out = autolm::generate(*model, {tokenizer->encode(argv[2])}, config);
    std::cout << "autolm " << autolm::version() << ": " << tokenizer->decode(out.new_tokens[0], true) << "\n";
  } catch (const autolm::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
