// tool_choice "required" / a named function: a constraint that makes the reply tool calls in the
// chat template's own format (tool_calls.h), each naming one of the offered tools with arguments
// valid against that tool's `parameters` schema. vLLM forces calls with a JSON schema too; here the
// template's markers stay around the JSON so the format's parser reads the calls back unchanged.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "autolm/structured_output.h"
#include "server/tool_calls.h"

namespace autolm::server {

struct ForcedTool {
  std::string name;
  std::optional<nlohmann::ordered_json> parameters;  // nullopt: any JSON object
  size_t index = 0;                                   // in the request's `tools` (for errors)
};

// The shape of calls in each format (docs/SERVER.md "Tool calls"):
//   kHermes          <tool_call>\n{"name": N, "arguments": A}\n</tool_call>  (several: separated by "\n")
//   kLlama3Json      {"name": N, "parameters": A}                            (one call: Llama 3.1's templates take one)
//   kMistral         [TOOL_CALLS][{"name": N, "arguments": A}, …]           (mistral_args false: Nemo's v3 list)
//   kMistral         [TOOL_CALLS]N[ARGS]A[TOOL_CALLS]N[ARGS]A…              (mistral_args true: v11+ templates)
// `parallel` false: exactly one call. Schema errors are Error(kUnsupported / kInvalidInput) naming
// the keyword; the caller names the tool.
std::shared_ptr<const LogitsConstraint> tool_call_constraint(ToolFormat format, bool mistral_args,
                                                             const std::vector<ForcedTool>& tools, bool parallel,
                                                             std::shared_ptr<const TokenVocabulary> vocabulary);

}  // namespace autolm::server
