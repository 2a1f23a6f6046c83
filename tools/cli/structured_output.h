// --json-schema FILE / --json-object: the structured-output constraint of `generate` and `chat`
// (docs/GENERATION.md "Constrained decoding").
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "autolm/generation.h"
#include "autolm/tokenizer.h"

namespace autolm::cli {

struct StructuredOutputOpts {
  std::string schema_file;
  bool json_object = false;
};

void add_structured_output_options(CLI::App* cmd, StructuredOutputOpts& o);
// nullptr when neither flag is given. Errors name the flag and the schema keyword.
std::shared_ptr<const LogitsConstraint> structured_output_constraint(const StructuredOutputOpts& o, const Tokenizer* tok);

}  // namespace autolm::cli
