// Request bodies → JSON, with errors that say where parsing stopped; OpenAI's error shapes.
#include <string>
#include <vector>

#include "autolm/error.h"
#include "io/json_file.h"
#include "server/openai.h"
#include "server/request_fields.h"

namespace autolm::server {

namespace {

// Walks JSON text that failed to parse, only to say where: the path of the value being read
// when the parser stopped ("messages[2].content"), whether it stopped for depth, and
// nlohmann's reason. SAX events, an explicit stack: no recursion however hostile the text.
class ErrorLocator : public nlohmann::json_sax<ojson> {
 public:
  explicit ErrorLocator(int max_depth) : max_depth_(max_depth) {}
  std::string path() const {
    std::string p;
    for (const auto& l : stack_) {
      if (l.object) p += (p.empty() ? "" : ".") + l.key;
      else p += "[" + std::to_string(l.index) + "]";
    }
    return p;
  }
  bool too_deep = false;
  int error_id = 0;
  std::string error;

  bool null() override { return value(); }
  bool boolean(bool) override { return value(); }
  bool number_integer(number_integer_t) override { return value(); }
  bool number_unsigned(number_unsigned_t) override { return value(); }
  bool number_float(number_float_t, const string_t&) override { return value(); }
  bool string(string_t&) override { return value(); }
  bool binary(binary_t&) override { return value(); }
  bool start_object(std::size_t) override { return open(true); }
  bool key(string_t& k) override {
    stack_.back().key = k;
    return true;
  }
  bool end_object() override { return close(); }
  bool start_array(std::size_t) override { return open(false); }
  bool end_array() override { return close(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& ex) override {
    error_id = ex.id;
    error = ex.what();
    return false;
  }

 private:
  struct Level {
    bool object;
    size_t index = 0;
    std::string key;
  };
  bool value() {
    if (!stack_.empty() && !stack_.back().object) ++stack_.back().index;
    return true;
  }
  bool open(bool object) {
    if (static_cast<int>(stack_.size()) >= max_depth_) {
      too_deep = true;
      return false;
    }
    stack_.push_back(Level{object, 0, {}});
    return true;
  }
  bool close() {
    stack_.pop_back();
    return value();
  }
  int max_depth_;
  std::vector<Level> stack_;
};

}  // namespace

ojson parse_body(const Engine& engine, const std::string& body) {
  // Copying, dumping and rendering JSON recurse: deep nesting is refused while parsing.
  ojson req = parse_request_json(body, engine.limits.json_max_depth);
  if (!req.is_object()) throw ApiError(400, "The request body must be a JSON object.", "", "invalid_json");
  return req;
}

ojson parse_request_json(std::string_view text, int max_depth, const std::string& where) {
  try {
    return parse_json<ojson>(text, where.empty() ? "request body" : where, max_depth);
  } catch (const Error&) {
    // Rare: walk the text again to name the field that broke it.
    ErrorLocator loc(max_depth);
    try {
      ojson::sax_parse(text.begin(), text.end(), &loc);
    } catch (const std::exception& e) {
      loc.error = e.what();
    }
    // Keys and the parser's "last read" text come from the request: clipped, as an 8 MB key
    // or string would otherwise be echoed whole.
    auto clip = [](std::string t, size_t n) { return t.size() <= n ? t : t.substr(0, n) + "…"; };
    loc.error = clip(loc.error, 300);
    std::string at = loc.path();
    if (!where.empty()) at = at.empty() ? where : (at[0] == '[' ? where + at : where + "." + at);
    at = clip(at, 300);
    const std::string in = at.empty() ? "" : " (at '" + at + "')";
    if (loc.too_deep) {
      // param: the field that holds the nesting ("top_k", or `where`), not its 64 indexes.
      const std::string top = !where.empty() ? where : at.substr(0, at.find_first_of(".["));
      throw ApiError(400,
                     "The JSON " + std::string(where.empty() ? "body" : "in '" + where + "'") + " is nested more than " +
                         std::to_string(max_depth) + " levels deep" + (top.empty() ? "" : " (in '" + top + "')") +
                         " (autolm serve --max-json-depth).",
                     top, "invalid_json");
    }
    if (loc.error_id == 406)  // number overflow: valid JSON syntax, a value no double holds
      throw ApiError(400, "Invalid value for '" + at + "': " + loc.error.substr(loc.error.find(']') + 2) +
                              " (out of the range of a double).",
                     at, "invalid_value");
    throw ApiError(400,
                   "We could not parse the JSON body of your request" + in +
                       ". (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API "
                       "expects a JSON payload.) " + loc.error,
                   at, "invalid_json");
  }
}

ojson error_body(const std::string& message, const std::string& type, const std::string& param, const std::string& code) {
  return {{"error",
           {{"message", message},
            {"type", type},
            {"param", param.empty() ? ojson(nullptr) : ojson(param)},
            {"code", code.empty() ? ojson(nullptr) : ojson(code)}}}};
}

std::string dump(const ojson& j) { return j.dump(-1, ' ', false, ojson::error_handler_t::replace); }

std::string error_event(const std::string& message, const std::string& type) {
  return "data: " + dump(error_body(message, type)) + "\n\n";
}

}  // namespace autolm::server
