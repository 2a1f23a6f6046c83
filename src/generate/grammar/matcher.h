// Byte-level recognizer of a JSON grammar (json_schema.h): a set of branches, each a
// deterministic stack of frames (one per open object / array / string / number / literal).
// anyOf and object keys fork branches at the byte that starts them; branches that reject a byte
// are dropped. Everything is bounded: kMaxDepth frames, kMaxBranches branches, whitespace runs,
// number digits.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "generate/grammar/json_schema.h"

namespace autolm::grammar {

enum class FrameKind : uint8_t {
  kValue, kObject, kArray, kString, kKeyString, kKeyLiteral, kNumber, kLiteral, kText, kSequence
};

// One open construct. Fields by kind:
//   kValue       node: the expected value's node
//   kObject      phase; a = next property index; b = chosen property (kAdditionalKey: an extra key)
//   kArray       phase; a = items so far
//   kString      phase = escape state; u8 = UTF-8 state; a = code points so far
//   kKeyString   (an extra object key) same as kString; b = FNV-1a hash of its bytes
//   kKeyLiteral  node = the object; b = property index; a = bytes of its key_json matched
//   kNumber      phase = number state; a = digits in the current part
//   kLiteral     a = bytes matched; b, c = [lo, hi) of the node's literals still matching
//   kText        a = bytes of the node's text matched
//   kSequence    a = items of the current repetition started; b = repetitions completed
// No member initializers: the matcher copies frames by the million; `Frame{}` zeroes one.
struct Frame {
  int32_t node;
  FrameKind kind;
  uint8_t phase;
  uint8_t u8;
  uint8_t pad;
  uint32_t a, b, c;
  bool operator==(const Frame&) const = default;
};

struct Branch {
  static constexpr int kMaxDepth = 32;
  uint8_t depth = 0;  // 0: the top-level value is complete
  uint8_t ws = 0;     // consecutive whitespace bytes just read
  std::array<Frame, kMaxDepth> frames;

  Frame& top() { return frames[depth - 1]; }
  const Frame& top() const { return frames[depth - 1]; }
  void copy_from(const Branch& o) {
    depth = o.depth;
    ws = o.ws;
    for (int i = 0; i < depth; ++i) frames[i] = o.frames[i];
  }
  bool same(const Branch& o) const {
    if (depth != o.depth || ws != o.ws) return false;
    for (int i = 0; i < depth; ++i)
      if (!(frames[i] == o.frames[i])) return false;
    return true;
  }
};

// A reusable list of branches: clear() keeps the storage, so the mask's search allocates nothing
// once warm.
class BranchList {
 public:
  size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  void clear() { n_ = 0; }
  const Branch& operator[](size_t i) const { return buf_[i]; }
  Branch& add() {
    if (n_ == buf_.size()) buf_.emplace_back();
    return buf_[n_++];
  }

 private:
  std::vector<Branch> buf_;
  size_t n_ = 0;
};

class Matcher {
 public:
  static constexpr size_t kMaxBranches = 64;
  static constexpr int kMaxWhitespace = 24;  // in a row between tokens; less at shallow depth (matcher.cc)
  static constexpr uint32_t kMaxIntDigits = 15, kMaxFracDigits = 15, kMaxExpDigits = 2;
  static constexpr uint32_t kAdditionalKey = UINT32_MAX;
  static constexpr int kMaxAnyOfVisits = 1024;  // alternatives tried for one value's first byte

  explicit Matcher(const Grammar& g);

  // The branches before any byte: one, expecting the root value.
  void start(BranchList& out) const;
  // Appends to `out` every branch `in` becomes after byte c (none: rejected). Deduplicates
  // against what `out` already holds and keeps at most kMaxBranches.
  void feed(const Branch& in, uint8_t c, BranchList& out) const;
  // Feeds c to every branch of `in` into `out` (cleared first).
  void feed_all(const BranchList& in, uint8_t c, BranchList& out) const {
    out.clear();
    for (size_t i = 0; i < in.size(); ++i) feed(in[i], c, out);
  }
  // The text so far is a complete value (end of output allowed).
  bool accepting(const Branch& b) const;
  // The branch is inside a string's plain characters (not an escape): every token made only of
  // plain bytes (no '"', '\\', control bytes) is then decided by UTF-8 validity and length alone.
  // Gives the UTF-8 state and how many more code points the string may take.
  bool in_plain_string(const Branch& b, uint8_t& utf8_state, uint32_t& room) const;

  const Grammar& grammar() const { return g_; }

 private:
  void push(BranchList& out, Branch& b) const;
  // c (a JSON whitespace byte) may come next; counts it in b.ws.
  bool whitespace_ok(Branch& b, uint8_t c) const;
  // Top frame is kValue(node): c is the value's first non-whitespace byte.
  // after_ws: whitespace preceded c (then literal text cannot start here).
  void start_value(Branch& b, int32_t node, uint8_t c, BranchList& out, int& hops, bool after_ws = false) const;
  void object_byte(Branch& b, uint8_t c, BranchList& out) const;
  void array_byte(Branch& b, uint8_t c, BranchList& out) const;
  void start_key(Branch& b, BranchList& out) const;
  bool push_value(Branch& b, int32_t node) const;

  const Grammar& g_;
  // Per node: it starts with literal text (kText, kSequence, an anyOf of only such), so no
  // whitespace may come before it.
  std::vector<bool> text_led_;
};

// UTF-8 validation as a DFA over bytes: 0 = between characters, otherwise expecting a
// continuation byte (states restrict the second byte of E0, ED, F0, F4 sequences, so overlong
// forms and surrogates are rejected). Returns kUtf8Reject for an invalid byte.
inline constexpr uint8_t kUtf8Reject = 0xFF;
inline constexpr int kUtf8States = 8;
uint8_t utf8_step(uint8_t state, uint8_t c);

}  // namespace autolm::grammar
