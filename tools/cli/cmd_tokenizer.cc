// `autolm tokenize` and `autolm detokenize`: the folder's tokenizer, as AutoTokenizer loads it.
#include <iostream>
#include <nlohmann/json.hpp>

#include "autolm/tokenizer.h"
#include "common.h"

namespace autolm::cli {

void add_tokenizer_commands(CLI::App& app, int& rc) {
  struct TokOpts { std::string dir, text; bool no_special = false, json = false; };
  auto t = std::make_shared<TokOpts>();
  auto* tok = app.add_subcommand("tokenize", "text → ids and tokens");
  tok->add_option("dir", t->dir, "folder with tokenizer.json / SentencePiece / vocab.json+merges.txt")->required()->transform(model_dir_or_id());
  tok->add_option("text", t->text, "text to encode")->required();
  tok->add_flag("--no-special-tokens", t->no_special, "do not add BOS/EOS or template tokens");
  tok->add_flag("--json", t->json, "print {\"ids\": [...], \"tokens\": [...]}");
  tok->callback([t, &rc] {
    auto tk = AutoTokenizer::from_pretrained(t->dir);
    Encoding e = tk->encode_full(t->text, !t->no_special);
    if (t->json) {
      std::cout << nlohmann::json({{"ids", e.ids}, {"tokens", e.tokens}}).dump() << "\n";
    } else {
      for (size_t i = 0; i < e.ids.size(); ++i) std::cout << (i ? "," : "") << e.ids[i];
      std::cout << "\n";
    }
    rc = 0;
  });

  struct DetokOpts { std::string dir, ids; bool skip = false; };
  auto d = std::make_shared<DetokOpts>();
  auto* detok = app.add_subcommand("detokenize", "ids → text");
  detok->add_option("dir", d->dir, "folder with the tokenizer")->required()->transform(model_dir_or_id());
  detok->add_option("ids", d->ids, "comma-separated token ids")->required();
  detok->add_flag("--skip-special-tokens", d->skip, "drop special tokens from the text");
  detok->callback([d, &rc] {
    auto tk = AutoTokenizer::from_pretrained(d->dir);
    // No ids decode to the empty text (as transformers' decode([])); ids past the vocabulary
    // are skipped by decode; parse_ids refuses negative ids and ids past INT32_MAX.
    std::vector<int32_t> ids;
    if (d->ids.find_first_not_of(" \t") != std::string::npos) ids = parse_ids(d->ids, "ids");
    std::cout << tk->decode(ids, d->skip) << "\n";
    rc = 0;
  });
}

}  // namespace autolm::cli
