// autolm._autolm: the thin native layer under the Python package (python/autolm). It exposes the
// C++ library's own objects and calls; the transformers-shaped API (argument handling, tensor
// types, BatchEncoding, streamers) is written in Python on top of it (docs/PYTHON.md).
//
// Conventions: token ids cross the boundary as lists of ints (the Python side converts NumPy
// arrays and torch tensors), JSON values as JSON text (configs, chat messages, generation
// settings), so this file holds no policy. Every call that computes releases the GIL.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <Python.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "autolm/auto.h"
#include "autolm/chat.h"
#include "autolm/error.h"
#include "autolm/generation.h"
#include "autolm/tokenizer.h"
#include "io/json_file.h"

namespace nb = nanobind;
using nlohmann::json;
using nlohmann::ordered_json;

namespace autolm::python {
namespace {

// Python exception classes for autolm::Error kinds (the message is the C++ one).
PyObject* exception_for(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kNotFound: return PyExc_FileNotFoundError;
    case ErrorKind::kInternal: return PyExc_RuntimeError;
    case ErrorKind::kInvalidInput:
    case ErrorKind::kUnsupported:
    case ErrorKind::kWrongClass: return PyExc_ValueError;
  }
  return PyExc_RuntimeError;
}

struct PyModel {
  std::shared_ptr<const Model> model;
};

struct PyTokenizer {
  std::shared_ptr<const Tokenizer> tok;
};

ModelFamily family_from(const std::string& name) {
  if (name == "causal") return ModelFamily::kCausal;
  if (name == "seq2seq") return ModelFamily::kSeq2Seq;
  throw Error(ErrorKind::kInvalidInput, "unknown model family \"" + name + "\" (causal or seq2seq)");
}

PyModel load(const std::string& path, const std::string& family, const std::string& dtype, bool weight_cache) {
  LoadOptions options;
  options.dtype = parse_dtype(dtype, "dtype");
  options.weight_cache = weight_cache;
  nb::gil_scoped_release release;
  if (family.empty()) return {load_model(path, options)};
  return {family_from(family) == ModelFamily::kCausal ? AutoModelForCausalLM::from_pretrained(path, options)
                                                      : AutoModelForSeq2SeqLM::from_pretrained(path, options)};
}

// float rows × vocab → a NumPy float32 array that owns a copy.
nb::ndarray<nb::numpy, float, nb::ndim<2>> to_numpy(std::vector<float>&& values, size_t rows, size_t cols) {
  auto* data = new std::vector<float>(std::move(values));
  nb::capsule owner(data, [](void* p) noexcept { delete static_cast<std::vector<float>*>(p); });
  return nb::ndarray<nb::numpy, float, nb::ndim<2>>(data->data(), {rows, cols}, owner);
}

// generate(model, input_ids, attention_mask, base_config_json, overrides_json, on_step, global_attention_mask)
//   base_config_json: the GenerationConfig to start from, as generation_config.json would hold it
//     ("" = the model's own, GenerationConfig::for_model);
//   overrides_json: fields set by the caller (kwargs), applied with GenerationConfig::update;
//   on_step: None or a callable receiving the list of tokens each row appended (greedy/sampling).
//   global_attention_mask: [] or LED's per-input mask (1 = global attention), as input_ids.
// Ctrl-C is checked after every step (not during beam search, which takes no step callback).
nb::dict generate_impl(const PyModel& m, const std::vector<std::vector<int32_t>>& input_ids,
                       const std::vector<std::vector<int32_t>>& attention_mask, const std::string& base_config_json,
                       const std::string& overrides_json, nb::object on_step,
                       const std::vector<std::vector<int32_t>>& global_attention_mask) {
  const Model& model = *m.model;
  GenerationConfig config = base_config_json.empty()
                                ? GenerationConfig::for_model(model)
                                : GenerationConfig::from_json(parse_json(base_config_json, "generation_config"),
                                                              "generation_config");
  if (!overrides_json.empty()) config.update(parse_json(overrides_json, "generate() arguments"), "generate() arguments");

  std::optional<nb::python_error> callback_error;
  GenerateHooks hooks;
  const bool user_callback = !on_step.is_none();
  // Seconds inside autolm::generate() and, of those, inside the step callback (GIL + Python):
  // what the binding adds around the C++ work is measured per call (bench/python_overhead.py).
  using Clock = std::chrono::steady_clock;
  double callback_s = 0;
  if (config.num_beams == 1) {
    hooks.on_step = [&](const StreamStep& s) -> bool {
      const auto t0 = Clock::now();
      struct AddTime {
        double& total;
        Clock::time_point t0;
        ~AddTime() { total += std::chrono::duration<double>(Clock::now() - t0).count(); }
      } add_time{callback_s, t0};
      nb::gil_scoped_acquire acquire;
      try {
        if (PyErr_CheckSignals() != 0) throw nb::python_error();
        if (user_callback) {
          nb::list tokens;
          for (int32_t t : s.tokens) tokens.append(t);
          nb::list finished;
          for (uint8_t f : s.finished) finished.append(f != 0);
          nb::object keep_going = on_step(tokens, finished);
          if (!keep_going.is_none() && !nb::cast<bool>(keep_going)) return false;
        }
        return true;
      } catch (nb::python_error& e) {
        callback_error.emplace(std::move(e));
        return false;
      }
    };
  } else if (user_callback) {
    throw Error(ErrorKind::kInvalidInput,
                "a streamer cannot be used with beam search (num_beams=" + std::to_string(config.num_beams) +
                    "), as in transformers: set num_beams=1");
  }

  GenerateOutput out;
  double generate_s = 0;
  {
    nb::gil_scoped_release release;
    const auto t0 = Clock::now();
    GenerateOptions options;
    options.global_attention_mask = global_attention_mask;  // LED's generate(global_attention_mask=...)
    out = generate(model, input_ids, attention_mask, config, hooks, options);
    generate_s = std::chrono::duration<double>(Clock::now() - t0).count();
  }
  if (callback_error) {
    nb::python_error e = std::move(*callback_error);
    e.restore();
    throw nb::python_error();
  }

  nb::dict result;
  nb::list sequences;
  for (const auto& row : out.sequences) {
    nb::list r;
    for (int32_t t : row) r.append(t);
    sequences.append(r);
  }
  result["sequences"] = sequences;
  result["prompt_length"] = out.prompt_length;
  if (!out.sequences_scores.empty()) {
    nb::list s;
    for (float v : out.sequences_scores) s.append(v);
    result["sequences_scores"] = s;
  } else {
    result["sequences_scores"] = nb::none();
  }
  nb::list scores;
  const size_t vocab = static_cast<size_t>(out.vocab_size);
  for (auto& step : out.scores) {
    const size_t rows = vocab ? step.size() / vocab : 0;
    scores.append(to_numpy(std::move(step), rows, vocab));
  }
  result["scores"] = scores;
  nb::list finish;
  for (FinishReason r : out.finish_reasons) finish.append(finish_reason_name(r));
  result["finish_reasons"] = finish;
  nb::list generated;
  for (int n : out.num_generated) generated.append(n);
  result["num_generated"] = generated;
  nb::dict timings;
  timings["generate_s"] = generate_s;
  timings["callback_s"] = callback_s;
  result["timings"] = timings;
  return result;
}

ChatTemplateOptions chat_options(bool add_generation_prompt, const std::string& continue_final_message,
                                 const std::string& tools_json, const std::string& documents_json,
                                 const std::string& extra_json, const std::string& template_name) {
  ChatTemplateOptions o;
  o.add_generation_prompt = add_generation_prompt;
  o.continue_final_message = continue_final_message;
  if (!tools_json.empty()) o.tools = parse_json<ordered_json>(tools_json, "tools");
  if (!documents_json.empty()) o.documents = parse_json<ordered_json>(documents_json, "documents");
  if (!extra_json.empty()) o.extra = parse_json<ordered_json>(extra_json, "chat template kwargs");
  o.template_name = template_name;
  return o;
}

std::string chat_template_impl(const PyTokenizer& t, const std::string& messages_json, bool add_generation_prompt,
                               const std::string& continue_final_message, const std::string& tools_json,
                               const std::string& documents_json, const std::string& extra_json,
                               const std::string& template_name) {
  const ChatTemplateOptions o =
      chat_options(add_generation_prompt, continue_final_message, tools_json, documents_json, extra_json, template_name);
  const ordered_json messages = parse_json<ordered_json>(messages_json, "messages");
  nb::gil_scoped_release release;
  return t.tok->apply_chat_template(messages, o);
}

// apply_chat_template(chat_template="{% ... %}"): a template given as text, rendered with the
// tokenizer folder's special tokens.
std::string render_template_impl(const PyTokenizer& t, const std::string& source, const std::string& messages_json,
                                 bool add_generation_prompt, const std::string& continue_final_message,
                                 const std::string& tools_json, const std::string& documents_json,
                                 const std::string& extra_json) {
  const ChatTemplateOptions o =
      chat_options(add_generation_prompt, continue_final_message, tools_json, documents_json, extra_json, "");
  const ordered_json messages = parse_json<ordered_json>(messages_json, "messages");
  nb::gil_scoped_release release;
  const ordered_json special = t.tok->dir().empty() ? ordered_json::object() : load_special_tokens(t.tok->dir());
  return render_chat_template(source, messages, o, special);
}

}  // namespace
}  // namespace autolm::python

NB_MODULE(_autolm, m) {
  using namespace autolm;
  using namespace autolm::python;
  m.doc() = "autolm native layer (use the autolm package, not this module)";

  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const Error& e) {
      PyErr_SetString(exception_for(e.kind()), e.what());
    }
  });

  nb::class_<PyModel>(m, "Model")
      .def_prop_ro("model_type", [](const PyModel& x) { return x.model->config().model_type; })
      .def_prop_ro("family", [](const PyModel& x) { return std::string(family_name(x.model->family())); })
      .def_prop_ro("dir", [](const PyModel& x) { return x.model->config().dir; })
      .def_prop_ro("vocab_size", [](const PyModel& x) { return x.model->config().vocab_size; })
      .def_prop_ro("max_positions", [](const PyModel& x) { return x.model->config().max_positions; })
      .def("config_json", [](const PyModel& x) { return x.model->config().raw.dump(); })
      .def("generation_config_json", [](const PyModel& x) { return GenerationConfig::for_model(*x.model).to_json().dump(); })
      .def("parameter_count", [](const PyModel& x) { return x.model->parameter_count(); })
      .def("weight_dtypes", [](const PyModel& x) { return x.model->weight_dtypes(); });

  m.def("load_model", &load, nb::arg("path"), nb::arg("family") = "", nb::arg("dtype") = "auto",
        nb::arg("weight_cache") = true);
  m.def("config_json", [](const std::string& path) {
    nb::gil_scoped_release release;
    ModelConfig c = AutoConfig::from_pretrained(path);
    json j = c.raw;
    j["model_type"] = c.model_type;
    return j.dump();
  });
  m.def("generation_config_json", [](const std::string& path) {
    nb::gil_scoped_release release;
    return GenerationConfig::from_pretrained(path).to_json().dump();
  });
  m.def("default_generation_config_json", [](const std::string& overrides_json) {
    GenerationConfig c;
    if (!overrides_json.empty()) c.update(parse_json(overrides_json, "GenerationConfig arguments"), "GenerationConfig arguments");
    c.validate();
    return c.to_json().dump();
  });
  m.def("generate", &generate_impl, nb::arg("model"), nb::arg("input_ids"), nb::arg("attention_mask"),
        nb::arg("base_config_json"), nb::arg("overrides_json"), nb::arg("on_step").none(),
        nb::arg("global_attention_mask") = std::vector<std::vector<int32_t>>{});

  nb::class_<PyTokenizer>(m, "Tokenizer")
      .def("encode",
           [](const PyTokenizer& t, const std::string& text, bool add_special_tokens) {
             nb::gil_scoped_release release;
             return t.tok->encode(text, add_special_tokens);
           },
           nb::arg("text"), nb::arg("add_special_tokens") = true)
      .def("encode_batch",
           [](const PyTokenizer& t, const std::vector<std::string>& texts, bool add_special_tokens) {
             nb::gil_scoped_release release;
             std::vector<std::vector<int32_t>> out;
             out.reserve(texts.size());
             for (const auto& s : texts) out.push_back(t.tok->encode(s, add_special_tokens));
             return out;
           },
           nb::arg("texts"), nb::arg("add_special_tokens") = true)
      .def("decode",
           [](const PyTokenizer& t, const std::vector<int32_t>& ids, bool skip_special_tokens,
              std::optional<bool> clean_up) {
             nb::gil_scoped_release release;
             return t.tok->decode(ids, skip_special_tokens, clean_up);
           },
           nb::arg("ids"), nb::arg("skip_special_tokens") = false, nb::arg("clean_up_tokenization_spaces").none() = nb::none())
      .def("token_to_id", [](const PyTokenizer& t, const std::string& s) { return t.tok->token_to_id(s); })
      .def("id_to_token", [](const PyTokenizer& t, int32_t id) { return t.tok->id_to_token(id); })
      .def("is_special", [](const PyTokenizer& t, int32_t id) { return t.tok->is_special(id); })
      .def_prop_ro("vocab_size", [](const PyTokenizer& t) { return t.tok->vocab_size(); })
      .def_prop_ro("bos_token", [](const PyTokenizer& t) { return t.tok->bos_token(); })
      .def_prop_ro("eos_token", [](const PyTokenizer& t) { return t.tok->eos_token(); })
      .def_prop_ro("pad_token", [](const PyTokenizer& t) { return t.tok->pad_token(); })
      .def_prop_ro("unk_token", [](const PyTokenizer& t) { return t.tok->unk_token(); })
      .def_prop_ro("bos_token_id", [](const PyTokenizer& t) { return t.tok->bos_token_id(); })
      .def_prop_ro("eos_token_id", [](const PyTokenizer& t) { return t.tok->eos_token_id(); })
      .def_prop_ro("pad_token_id", [](const PyTokenizer& t) { return t.tok->pad_token_id(); })
      .def_prop_ro("unk_token_id", [](const PyTokenizer& t) { return t.tok->unk_token_id(); })
      .def_prop_ro("model_max_length", [](const PyTokenizer& t) { return t.tok->model_max_length(); })
      .def_prop_ro("padding_side", [](const PyTokenizer& t) { return t.tok->padding_side(); })
      .def_prop_ro("truncation_side", [](const PyTokenizer& t) { return t.tok->truncation_side(); })
      .def_prop_ro("tokenizer_class", [](const PyTokenizer& t) { return t.tok->tokenizer_class(); })
      .def("tokenizer_config_json", [](const PyTokenizer& t) { return t.tok->tokenizer_config().dump(); })
      .def("apply_chat_template", &chat_template_impl, nb::arg("messages_json"), nb::arg("add_generation_prompt"),
           nb::arg("continue_final_message"), nb::arg("tools_json"), nb::arg("documents_json"), nb::arg("extra_json"),
           nb::arg("template_name"));

  m.def("load_tokenizer", [](const std::string& path) {
    nb::gil_scoped_release release;
    return PyTokenizer{AutoTokenizer::from_pretrained(path)};
  });
  m.def("render_chat_template", &render_template_impl);
  m.def("supported_model_types", [] {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& [type, family] : supported_model_types()) out.emplace_back(type, family_name(family));
    return out;
  });
}
