// Forced tool calls (tool_grammar.h) as a grammar: the format's marker text around a JSON call
// object (or arguments) whose name is one of the tools and whose arguments follow that tool's
// schema.
#include "server/tool_grammar.h"

#include "autolm/error.h"
#include "generate/grammar/builder.h"

namespace autolm::server {

using grammar::GrammarBuilder;
using grammar::kNoNode;
using grammar::kUnbounded;

std::shared_ptr<const LogitsConstraint> tool_call_constraint(ToolFormat format, bool mistral_args,
                                                             const std::vector<ForcedTool>& tools, bool parallel,
                                                             std::shared_ptr<const TokenVocabulary> vocabulary) {
  if (tools.empty()) throw Error(ErrorKind::kInvalidInput, "tool_call_constraint: no tools");
  GrammarBuilder b;
  const uint32_t max_calls = parallel ? kUnbounded : 1;
  auto arguments = [&](const ForcedTool& t) { return t.parameters ? b.schema(*t.parameters) : b.any_object(); };
  // {"name": "<one tool>", "<args_key>": <its arguments>}, any of the tools.
  auto call_objects = [&](const char* args_key) {
    std::vector<int32_t> calls;
    for (const ForcedTool& t : tools) {
      const int32_t name = b.literal({nlohmann::json(t.name).dump()});
      calls.push_back(b.object({{"name", name}, {args_key, arguments(t)}}));
    }
    return b.any_of(std::move(calls));
  };
  int32_t root = kNoNode;
  switch (format) {
    case ToolFormat::kHermes:
      root = b.sequence({b.text("<tool_call>\n"), call_objects("arguments"), b.text("\n</tool_call>")}, b.text("\n"), 1,
                        max_calls);
      break;
    case ToolFormat::kLlama3Json:
      root = call_objects("parameters");
      break;
    case ToolFormat::kMistral:
      if (!mistral_args) {
        root = b.sequence({b.text("[TOOL_CALLS]"), b.array(call_objects("arguments"), 1, max_calls)});
      } else {
        std::vector<int32_t> calls;
        for (const ForcedTool& t : tools) calls.push_back(b.sequence({b.text(t.name + "[ARGS]"), arguments(t)}));
        root = b.sequence({b.text("[TOOL_CALLS]"), b.any_of(std::move(calls))}, kNoNode, 1, max_calls);
      }
      break;
    default:
      throw Error(ErrorKind::kUnsupported, "tool_call_constraint: the template has no tool-call format");
  }
  // JSON as the templates write it (json.dumps / tojson: ", " and ": "): at most one space between
  // tokens, so a model cannot wander into blank lines inside a call.
  return grammar::grammar_constraint(std::move(b).finish(root, true), std::move(vocabulary));
}

}  // namespace autolm::server
