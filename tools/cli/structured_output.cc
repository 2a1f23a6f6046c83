// The CLI's structured-output flags.
#include "structured_output.h"

#include "autolm/error.h"
#include "autolm/structured_output.h"
#include "io/json_file.h"
#include "io/mmap.h"

namespace autolm::cli {

void add_structured_output_options(CLI::App* cmd, StructuredOutputOpts& o) {
  cmd->add_option("--json-schema", o.schema_file,
                  "constrain the output to JSON valid against this JSON schema file (docs/GENERATION.md)");
  cmd->add_flag("--json-object", o.json_object, "constrain the output to one JSON object");
}

std::shared_ptr<const LogitsConstraint> structured_output_constraint(const StructuredOutputOpts& o, const Tokenizer* tok) {
  if (o.schema_file.empty() && !o.json_object) return nullptr;
  const std::string flag = o.schema_file.empty() ? "--json-object" : "--json-schema";
  if (!o.schema_file.empty() && o.json_object)
    throw Error(ErrorKind::kInvalidInput, "give either --json-schema or --json-object, not both");
  if (!tok) throw Error(ErrorKind::kInvalidInput, flag + " needs the model folder's tokenizer");
  auto vocab = make_token_vocabulary(tok->token_bytes());
  if (o.json_object) return json_object_constraint(vocab);
  const auto schema = parse_json<nlohmann::ordered_json>(read_user_file(o.schema_file), o.schema_file);
  try {
    return json_schema_constraint(schema, vocab);
  } catch (const Error& e) {
    throw Error(e.kind(), o.schema_file + ": " + e.what());
  }
}

}  // namespace autolm::cli
