// Jinja template engine with jinja2's semantics as transformers configures it for chat templates
// (sandboxed, trim_blocks, lstrip_blocks, loop controls, tojson/raise_exception/strftime_now).
// Parse once, render many times; a JinjaTemplate is immutable and safe to render from several threads.
#pragma once

#include <cstdint>
#include <ctime>
#include <memory>
#include "autolm/export.h"
#include "autolm/json.h"
#include <optional>
#include <string>

namespace autolm {

namespace jinja {
struct Program;
}

struct JinjaRenderOptions {
  std::optional<std::time_t> now;         // the time strftime_now() formats; unset = current time
  int max_depth = 100;                    // nested macro / caller() / recursive loop calls
  int64_t max_iterations = 10'000'000;    // loop iterations (and list-building steps) per render
  size_t max_output = size_t{256} << 20;  // bytes of output
};

class AUTOLM_API JinjaTemplate {
 public:
  // Parses `source`. Syntax errors throw Error(kInvalidInput, "<name>:<line>:<col>: <message>").
  explicit JinjaTemplate(const std::string& source, const std::string& name = "<template>");

  // Renders with the variables of a JSON object (objects keep their key order, as Python dicts do).
  // Errors while rendering throw Error(kInvalidInput, "<name>:<line>:<col>: <message>");
  // raise_exception(msg) in the template throws Error(kInvalidInput, msg) with msg unchanged.
  std::string render(const OrderedJson& variables, const JinjaRenderOptions& options = {}) const;

  // The name errors use.
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  std::shared_ptr<const jinja::Program> program_;
};

}  // namespace autolm
