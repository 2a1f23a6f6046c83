#include "io/json_file.h"

#include "io/mmap.h"

namespace autolm {

json load_json_file(const std::string& path) {
  std::string text = read_text_file(path);
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    throw Error(ErrorKind::kInvalidInput, path + ": malformed JSON: " + e.what());
  }
}

}  // namespace autolm
