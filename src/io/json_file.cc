#include "io/json_file.h"

#include "io/mmap.h"

namespace autolm {

json load_json_file(const std::string& path, uint64_t max_bytes) {
  return parse_json(read_text_file(path, max_bytes), path);
}

}  // namespace autolm
