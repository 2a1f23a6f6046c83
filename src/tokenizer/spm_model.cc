// Minimal protobuf wire-format reader for sentencepiece_model.proto (fields by number; unknown
// fields skipped), so the model's pieces and settings need no generated protobuf code.
#include "tokenizer/spm_model.h"

#include <cstring>

#include "autolm/error.h"
#include "io/mmap.h"

namespace autolm::tokenizer_detail {
namespace {

class Reader {
 public:
  Reader(std::string_view s, const std::string& source) : s_(s), source_(source) {}
  bool done() const { return pos_ >= s_.size(); }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= s_.size()) fail();
      auto b = static_cast<unsigned char>(s_[pos_++]);
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    fail();
  }
  std::string_view bytes() {
    uint64_t n = varint();
    if (n > s_.size() - pos_) fail();
    std::string_view r = s_.substr(pos_, n);
    pos_ += n;
    return r;
  }
  float fixed32_float() {
    if (s_.size() - pos_ < 4) fail();
    float f;
    std::memcpy(&f, s_.data() + pos_, 4);
    pos_ += 4;
    return f;
  }
  void skip(int wire) {
    switch (wire) {
      case 0: varint(); return;
      case 1: if (s_.size() - pos_ < 8) fail(); pos_ += 8; return;
      case 2: bytes(); return;
      case 5: if (s_.size() - pos_ < 4) fail(); pos_ += 4; return;
      default: fail();
    }
  }
  [[noreturn]] void fail() const {
    throw Error(ErrorKind::kInvalidInput, source_ + ": not a valid SentencePiece model (truncated or malformed protobuf)");
  }

 private:
  std::string_view s_;
  const std::string& source_;
  size_t pos_ = 0;
};

template <typename F>
void fields(std::string_view msg, const std::string& source, F&& on_field) {
  Reader r(msg, source);
  while (!r.done()) {
    uint64_t key = r.varint();
    int field = static_cast<int>(key >> 3), wire = static_cast<int>(key & 7);
    if (!on_field(field, wire, r)) r.skip(wire);
  }
}

}  // namespace

SpmModel parse_spm_model(std::string_view bytes, const std::string& source) {
  SpmModel m;
  fields(bytes, source, [&](int field, int wire, Reader& r) {
    if (field == 1 && wire == 2) {  // pieces
      SpmModel::Piece p;
      fields(r.bytes(), source, [&](int f, int w, Reader& pr) {
        if (f == 1 && w == 2) p.piece = std::string(pr.bytes());
        else if (f == 2 && w == 5) p.score = pr.fixed32_float();
        else if (f == 3 && w == 0) p.type = static_cast<int>(pr.varint());
        else return false;
        return true;
      });
      m.pieces.push_back(std::move(p));
      return true;
    }
    if (field == 2 && wire == 2) {  // trainer_spec
      fields(r.bytes(), source, [&](int f, int w, Reader& tr) {
        auto i32 = [&] { return static_cast<int32_t>(static_cast<uint32_t>(tr.varint())); };
        if (w == 0 && f == 3) m.model_type = i32();
        else if (w == 0 && f == 35) m.byte_fallback = tr.varint() != 0;
        else if (w == 0 && f == 40) m.unk_id = i32();
        else if (w == 0 && f == 41) m.bos_id = i32();
        else if (w == 0 && f == 42) m.eos_id = i32();
        else if (w == 0 && f == 43) m.pad_id = i32();
        else if (w == 2 && f == 45) m.unk_piece = std::string(tr.bytes());
        else if (w == 2 && f == 46) m.bos_piece = std::string(tr.bytes());
        else if (w == 2 && f == 47) m.eos_piece = std::string(tr.bytes());
        else if (w == 2 && f == 48) m.pad_piece = std::string(tr.bytes());
        else return false;
        return true;
      });
      return true;
    }
    if (field == 3 && wire == 2) {  // normalizer_spec
      fields(r.bytes(), source, [&](int f, int w, Reader& nr) {
        if (w == 2 && f == 1) m.normalizer_name = std::string(nr.bytes());
        else if (w == 2 && f == 2) m.precompiled_charsmap = std::string(nr.bytes());
        else if (w == 0 && f == 3) m.add_dummy_prefix = nr.varint() != 0;
        else if (w == 0 && f == 4) m.remove_extra_whitespaces = nr.varint() != 0;
        else if (w == 0 && f == 5) m.escape_whitespaces = nr.varint() != 0;
        else return false;
        return true;
      });
      return true;
    }
    return false;
  });
  if (m.pieces.empty()) throw Error(ErrorKind::kInvalidInput, source + ": SentencePiece model has no pieces");
  return m;
}

SpmModel load_spm_model(const std::string& path) {
  MappedFile f(path);
  return parse_spm_model(std::string_view(reinterpret_cast<const char*>(f.data()), f.size()), path);
}

}  // namespace autolm::tokenizer_detail
