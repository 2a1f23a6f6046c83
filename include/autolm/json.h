// The JSON types of the public API. JSON values (config.json contents, chat messages, generation
// overrides, JSON schemas) cross it as nlohmann::json (https://github.com/nlohmann/json, 3.10 or
// later; the only third-party header the public headers include):
//   Json         keys sorted (configuration files, GenerationConfig overrides);
//   OrderedJson  keys in insertion order, as Python dicts keep them (chat messages, template
//                variables, JSON schemas: the order is visible in what they render).
#pragma once

#include <nlohmann/json.hpp>

namespace autolm {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

}  // namespace autolm
