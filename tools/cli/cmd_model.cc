// `autolm info` and `autolm logits`.
#include <iostream>
#include <nlohmann/json.hpp>

#include "common.h"
#include "core/check.h"

namespace autolm::cli {

void add_model_commands(CLI::App& app, int& rc) {
  struct InfoOpts { std::string dir, cls, dtype = "auto"; bool json = false, no_cache = false; };
  auto info_opts = std::make_shared<InfoOpts>();
  auto* info = app.add_subcommand("info", "model_type, family, Auto class, parameter count, dtypes");
  info->add_option("dir", info_opts->dir, "Hugging Face model folder or Hub model id (org/name[@revision])")->required()->transform(model_dir_or_id());
  add_load_options(info, info_opts->cls, info_opts->dtype, info_opts->no_cache);
  info->add_flag("--json", info_opts->json, "print JSON");
  info->callback([info_opts, &rc] {
    auto model = load_with_class(info_opts->dir, info_opts->cls, info_opts->dtype, info_opts->no_cache);
    const ModelConfig& c = model->config();
    nlohmann::json j = {{"model_type", c.model_type},
                        {"family", family_name(c.family)},
                        {"auto_class", auto_class_name(c.family)},
                        {"parameters", model->parameter_count()},
                        {"dtypes", model->weight_dtypes()},
                        {"vocab_size", c.vocab_size},
                        {"unused_tensors", model->unused_tensors()}};
    if (info_opts->json) {
      std::cout << j.dump() << "\n";
    } else {
      std::cout << "model_type: " << c.model_type << "\nfamily: " << family_name(c.family)
                << "\nauto_class: " << auto_class_name(c.family) << "\nparameters: " << model->parameter_count()
                << "\ndtypes:";
      for (auto& d : model->weight_dtypes()) std::cout << " " << d;
      std::cout << "\nvocab_size: " << c.vocab_size << "\n";
      if (!model->unused_tensors().empty()) std::cout << "unused tensors: " << model->unused_tensors().size() << "\n";
    }
    rc = 0;
  });

  struct LogitsOpts { std::string dir, cls, dtype = "auto", input_ids, decoder_input_ids; bool json = false, no_cache = false; };
  auto lo = std::make_shared<LogitsOpts>();
  auto* logits = app.add_subcommand("logits", "logits of one forward pass, one row per input position");
  logits->add_option("dir", lo->dir, "Hugging Face model folder or Hub model id (org/name[@revision])")->required()->transform(model_dir_or_id());
  logits->add_option("--input-ids", lo->input_ids, "comma-separated token ids")->required();
  logits->add_option("--decoder-input-ids", lo->decoder_input_ids,
                     "seq2seq: decoder ids (default: decoder_start_token_id)");
  add_load_options(logits, lo->cls, lo->dtype, lo->no_cache);
  logits->add_flag("--json", lo->json, "print {\"logits\": [[...], ...]} (the default output)");
  logits->callback([lo, &rc] {
    auto model = load_with_class(lo->dir, lo->cls, lo->dtype, lo->no_cache);
    const ModelConfig& c = model->config();
    std::vector<int32_t> ids = parse_ids(lo->input_ids, "--input-ids");
    std::vector<int32_t> dec;
    std::span<const float> out;
    std::unique_ptr<DecodeState> state;
    int rows;
    if (c.family == ModelFamily::kSeq2Seq) {
      if (!lo->decoder_input_ids.empty()) {
        dec = parse_ids(lo->decoder_input_ids, "--decoder-input-ids");
        check_vocab(dec, c.vocab_size, "--decoder-input-ids");
      } else {
        if (!c.decoder_start_token_id) throw Error(ErrorKind::kInvalidInput, c.dir + "/config.json: no decoder_start_token_id; pass --decoder-input-ids");
        const int64_t start = *c.decoder_start_token_id;
        if (start < 0 || (c.vocab_size > 0 && start >= c.vocab_size) || start > INT32_MAX)
          throw Error(ErrorKind::kInvalidInput, c.dir + "/config.json: decoder_start_token_id " + std::to_string(start) +
                                                    " is outside the vocabulary (size " + std::to_string(c.vocab_size) +
                                                    "); pass --decoder-input-ids");
        dec = {int32_t(start)};
      }
      state = model->new_state(1, int(dec.size()));
      model->encode(ids, {}, int(ids.size()), *state);
      out = model->decode(dec, {}, int(dec.size()), *state, true);
      rows = int(dec.size());
    } else {
      if (!lo->decoder_input_ids.empty())
        throw Error(ErrorKind::kInvalidInput, "--decoder-input-ids: model_type \"" + c.model_type + "\" is decoder-only");
      check_vocab(ids, c.vocab_size, "--input-ids");
      state = model->new_state(1, int(ids.size()));
      out = model->decode(ids, {}, int(ids.size()), *state, true);
      rows = int(ids.size());
    }
    AUTOLM_CHECK(out.size() >= size_t(rows) * size_t(c.vocab_size), "decode returned fewer logits than rows × vocab");
    // Stream the rows out rather than building one large JSON value.
    std::cout << "{\"logits\": [";
    for (int r = 0; r < rows; ++r) {
      std::cout << (r ? ", [" : "[");
      for (int64_t i = 0; i < c.vocab_size; ++i)
        std::cout << (i ? ", " : "") << nlohmann::json(out[size_t(r) * c.vocab_size + i]).dump();
      std::cout << "]";
    }
    std::cout << "]}\n";
    rc = 0;
  });
}

}  // namespace autolm::cli
