// Shared helpers of the pipeline components: JSON field access with file-naming errors and
// the GPT-2 byte-level alphabet.
#include <mutex>

#include "autolm/error.h"
#include "tokenizer/components.h"

namespace autolm::tokenizer_detail {

const json& jfield(const json& j, const char* key, const std::string& source) {
  if (!j.is_object() || !j.contains(key))
    throw Error(ErrorKind::kInvalidInput, source + ": missing key \"" + key + "\" in " + j.dump().substr(0, 200));
  return j.at(key);
}

std::string jstring(const json& j, const char* key, const std::string& source, const std::string& fallback) {
  if (!j.is_object() || !j.contains(key) || j.at(key).is_null()) return fallback;
  if (!j.at(key).is_string())
    throw Error(ErrorKind::kInvalidInput, source + ": key \"" + key + "\" must be a string");
  return j.at(key).get<std::string>();
}

bool jbool(const json& j, const char* key, bool fallback) {
  if (!j.is_object() || !j.contains(key) || !j.at(key).is_boolean()) return fallback;
  return j.at(key).get<bool>();
}

int32_t jtoken_id(const json& v, const std::string& what, const std::string& source) {
  if (v.is_number_unsigned() && v.get<uint64_t>() <= uint64_t(INT32_MAX)) return static_cast<int32_t>(v.get<uint64_t>());
  if (v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() <= INT32_MAX)
    return static_cast<int32_t>(v.get<int64_t>());
  throw Error(ErrorKind::kInvalidInput, source + ": id of " + what + " must be an integer in 0.." +
                                            std::to_string(INT32_MAX) + ", got " + v.dump());
}

void require_vocab(const json& j, const ModelTables& t, ModelTables::Vocab form, const char* what,
                   const std::string& source) {
  if (t.vocab == form) return;
  if (t.vocab == ModelTables::Vocab::kNone) jfield(j, "vocab", source);  // names a missing key
  throw Error(ErrorKind::kInvalidInput, source + ": " + what + " vocab must be " +
                                            (form == ModelTables::Vocab::kObject ? "an object" : "an array"));
}

namespace {
thread_local int sequence_nesting = 0;
}

SequenceNesting::SequenceNesting(const char* what, const std::string& source) {
  if (sequence_nesting >= kMaxSequenceNesting)
    throw Error(ErrorKind::kInvalidInput, source + ": " + what + " Sequence nested deeper than " +
                                              std::to_string(kMaxSequenceNesting) + " levels");
  ++sequence_nesting;
}
SequenceNesting::~SequenceNesting() { --sequence_nesting; }

void unknown_type(const std::string& what, const std::string& type, const std::string& source) {
  throw Error(ErrorKind::kUnsupported, source + ": unsupported " + what + " type \"" + type + "\"");
}

namespace {
struct ByteTables {
  char32_t b2c[256];
  int c2b[0x180];
  ByteTables() {
    for (int& x : c2b) x = -1;
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
      b2c[b] = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + n++);
      c2b[b2c[b]] = b;
    }
  }
};
const ByteTables& tables() {
  static const ByteTables t;
  return t;
}
}  // namespace

const char32_t* byte_to_char_table() { return tables().b2c; }
int char_to_byte(char32_t c) { return c < 0x180 ? tables().c2b[c] : -1; }

}  // namespace autolm::tokenizer_detail
