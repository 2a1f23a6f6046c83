// JinjaTemplate: the public face of the engine (parser.cc builds the Program, evaluator.cc runs it).
#include "autolm/jinja.h"

#include "autolm/error.h"
#include "chat/interp.h"
#include "chat/parser.h"

namespace autolm {

JinjaTemplate::JinjaTemplate(const std::string& source, const std::string& name)
    : name_(name), program_(jinja::parse_program(source, name)) {}

std::string JinjaTemplate::render(const nlohmann::ordered_json& variables, const JinjaRenderOptions& options) const {
  if (!variables.is_object() && !variables.is_null())
    throw Error(ErrorKind::kInvalidInput, name_ + ": template variables must be a JSON object");
  if (jinja::json_nested_deeper_than(variables, jinja::Value::kMaxNesting))
    throw Error(ErrorKind::kInvalidInput, name_ + ": template variables: JSON nesting exceeds " +
                                              std::to_string(jinja::Value::kMaxNesting) + " levels");
  try {
    jinja::Dict vars;
    if (variables.is_object())
      for (auto it = variables.begin(); it != variables.end(); ++it)
        vars.append_unique(jinja::Value(it.key()), jinja::Value::from_json(it.value()));
    jinja::Limits limits;
    limits.max_depth = options.max_depth;
    limits.max_iterations = options.max_iterations;
    limits.max_output = options.max_output;
    jinja::Interp interp(*program_, limits, options.now);
    return interp.render(vars);
  } catch (const Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception& e) {  // RuntimeError outside any expression, std::out_of_range…
    throw Error(ErrorKind::kInvalidInput, name_ + ": " + e.what());
  }
}

}  // namespace autolm
