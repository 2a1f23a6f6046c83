// Token id → the bytes it stands for, for constrained decoding: what the decoder chain makes of
// one token before the bytes are joined and turned into text (GPT-2 byte-level characters mapped
// back to bytes, SentencePiece "▁" to a space and <0xNN> byte fallback to the byte).
#include "tokenizer/token_bytes.h"

#include "tokenizer/components.h"
#include "tokenizer/unicode.h"

namespace autolm::tokenizer_detail {

namespace {

void scan(const json& d, TokenByteForm& f, int depth) {
  if (!d.is_object() || depth > kMaxSequenceNesting) return;
  const std::string type = d.value("type", std::string());
  if (type == "ByteLevel") f.byte_level = true;
  if (type == "ByteFallback") f.byte_fallback = true;
  if (type == "Metaspace") f.space_marker = d.value("replacement", std::string("\xE2\x96\x81"));
  if (type == "Replace" && d.contains("pattern") && d["pattern"].is_object() && d["pattern"].contains("String") &&
      d["pattern"]["String"].is_string() && d.value("content", std::string()) == " ")
    f.space_marker = d["pattern"]["String"].get<std::string>();
  if (type == "Sequence" && d.contains("decoders") && d["decoders"].is_array())
    for (const auto& item : d["decoders"]) scan(item, f, depth + 1);
}

int hex_digit(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

}  // namespace

TokenByteForm token_byte_form(const json& decoder) {
  TokenByteForm f;
  scan(decoder, f, 0);
  return f;
}

std::string token_to_bytes(std::string_view token, const TokenByteForm& f) {
  if (f.byte_level) {
    std::string out;
    for (size_t i = 0; i < token.size();) {
      size_t len = 1;
      const char32_t c = decode_utf8(token, i, &len);
      const int b = char_to_byte(c);
      if (b < 0) return std::string(token);  // not a byte-level token: its text as is
      out.push_back(static_cast<char>(b));
      i += len;
    }
    return out;
  }
  if (f.byte_fallback && token.size() == 6 && token.substr(0, 3) == "<0x" && token[5] == '>') {
    const int h = hex_digit(token[3]), l = hex_digit(token[4]);
    if (h >= 0 && l >= 0) return std::string(1, static_cast<char>(h * 16 + l));
  }
  std::string out(token);
  if (!f.space_marker.empty())
    for (size_t p = out.find(f.space_marker); p != std::string::npos; p = out.find(f.space_marker, p + 1))
      out.replace(p, f.space_marker.size(), " ");
  return out;
}

std::optional<std::string> Backend::token_bytes(int32_t id) const {
  // The SentencePiece library's pieces: "▁" for spaces and <0xNN> byte pieces.
  if (is_special(id)) return std::nullopt;
  const auto t = id_to_token(id);
  if (!t) return std::nullopt;
  TokenByteForm f;
  f.byte_fallback = true;
  f.space_marker = "\xE2\x96\x81";
  return token_to_bytes(*t, f);
}

}  // namespace autolm::tokenizer_detail
