// Jinja parser: tokens to a Program (statements and expressions), following jinja2.parser's grammar.
#pragma once

#include <memory>
#include <string>

#include "chat/ast.h"

namespace autolm::jinja {

// Parses template source; syntax errors throw autolm::Error(kInvalidInput, "name:line:col: message").
std::shared_ptr<const Program> parse_program(const std::string& source, const std::string& name);

}  // namespace autolm::jinja
