// The JSON text grammar (RFC 8259) walked byte by byte, with the schema's nodes choosing what
// each value may be.
#include "generate/grammar/matcher.h"

#include <algorithm>

namespace autolm::grammar {
namespace {

// Object phases.
constexpr uint8_t kObjOpen = 0, kObjColon = 1, kObjAfterValue = 2, kObjComma = 3;
// Array phases.
constexpr uint8_t kArrOpen = 0, kArrAfterValue = 1, kArrComma = 2;
// String phases: plain text, after '\\', hex digit 1..4 of \uXXXX (kHex2Low: after a 'D', the
// second digit must be 0-7 so no surrogate is escaped: nlohmann and Python reject lone ones).
constexpr uint8_t kStrPlain = 0, kStrEscape = 1, kHex1 = 2, kHex2 = 3, kHex3 = 4, kHex4 = 5, kHex2Low = 6;
// Number states.
constexpr uint8_t kNumMinus = 0, kNumZero = 1, kNumInt = 2, kNumDot = 3, kNumFrac = 4, kNumE = 5, kNumESign = 6,
                  kNumExp = 7;

bool is_ws(uint8_t c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }
bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }
bool is_hex(uint8_t c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// Whitespace between tokens: a newline and up to 4 spaces of indentation per open level (what
// pretty-printers write), never more than kMaxWhitespace, so a model cannot spend its tokens on
// blanks.
int whitespace_room(const Branch& b) { return std::min(Matcher::kMaxWhitespace, 1 + 4 * int(b.depth)); }

uint32_t fnv(uint32_t h, uint8_t c) { return (h ^ c) * 16777619u; }
constexpr uint32_t kFnvStart = 2166136261u;

bool number_accepting(uint8_t state) {
  return state == kNumZero || state == kNumInt || state == kNumFrac || state == kNumExp;
}

// One byte of a number; false when c cannot continue it.
bool number_byte(Frame& f, uint8_t c, bool integer) {
  switch (f.phase) {
    case kNumMinus:
      if (c == '0') f.phase = kNumZero;
      else if (is_digit(c)) f.phase = kNumInt, f.a = 1;
      else return false;
      return true;
    case kNumZero:
    case kNumInt:
      if (f.phase == kNumInt && is_digit(c) && f.a < Matcher::kMaxIntDigits) return ++f.a, true;
      if (integer) return false;
      if (c == '.') return f.phase = kNumDot, true;
      if (c == 'e' || c == 'E') return f.phase = kNumE, f.a = 0, true;
      return false;
    case kNumDot:
      if (is_digit(c)) return f.phase = kNumFrac, f.a = 1, true;
      return false;
    case kNumFrac:
      if (is_digit(c) && f.a < Matcher::kMaxFracDigits) return ++f.a, true;
      if (c == 'e' || c == 'E') return f.phase = kNumE, f.a = 0, true;
      return false;
    case kNumE:
      if (c == '+' || c == '-') return f.phase = kNumESign, true;
      [[fallthrough]];
    case kNumESign:
      if (is_digit(c)) return f.phase = kNumExp, f.a = 1, true;
      return false;
    case kNumExp:
      if (is_digit(c) && f.a < Matcher::kMaxExpDigits) return ++f.a, true;
      return false;
  }
  return false;
}

}  // namespace

uint8_t utf8_step(uint8_t s, uint8_t c) {
  // States: 0 start; 1 need 1 more; 2 need 2; 3 need 3; 4 after E0 (A0-BF); 5 after ED (80-9F);
  // 6 after F0 (90-BF); 7 after F4 (80-8F).
  switch (s) {
    case 0:
      if (c < 0x80) return 0;
      if (c >= 0xC2 && c <= 0xDF) return 1;
      if (c == 0xE0) return 4;
      if (c == 0xED) return 5;
      if (c >= 0xE1 && c <= 0xEF) return 2;
      if (c == 0xF0) return 6;
      if (c >= 0xF1 && c <= 0xF3) return 3;
      if (c == 0xF4) return 7;
      return kUtf8Reject;
    case 1: case 2: case 3:
      return (c & 0xC0) == 0x80 ? s - 1 : kUtf8Reject;
    case 4: return c >= 0xA0 && c <= 0xBF ? 1 : kUtf8Reject;
    case 5: return c >= 0x80 && c <= 0x9F ? 1 : kUtf8Reject;
    case 6: return c >= 0x90 && c <= 0xBF ? 2 : kUtf8Reject;
    case 7: return c >= 0x80 && c <= 0x8F ? 2 : kUtf8Reject;
  }
  return kUtf8Reject;
}

Matcher::Matcher(const Grammar& g) : g_(g), text_led_(g.nodes.size(), false) {
  for (size_t i = 0; i < g.nodes.size(); ++i)
    text_led_[i] = g.nodes[i].kind == NodeKind::kText || g.nodes[i].kind == NodeKind::kSequence;
  // anyOf nodes whose alternatives all are text-led, to a fixpoint (monotone: at most one pass per node).
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      const Node& n = g.nodes[i];
      if (text_led_[i] || n.kind != NodeKind::kAnyOf || n.alternatives.empty()) continue;
      bool all = true;
      for (int32_t a : n.alternatives) all = all && text_led_[size_t(a)];
      if (all) text_led_[i] = changed = true;
    }
  }
}

bool Matcher::whitespace_ok(Branch& b, uint8_t c) const {
  if (g_.single_spaces) return c == ' ' && ++b.ws <= 1;
  return ++b.ws <= whitespace_room(b);
}

void Matcher::start(BranchList& out) const {
  out.clear();
  Branch& b = out.add();
  b.depth = 1;
  b.ws = 0;
  b.frames[0] = Frame{};
  b.frames[0].node = g_.root;
}

void Matcher::push(BranchList& out, Branch& b) const {
  for (size_t i = 0; i < out.size(); ++i)
    if (out[i].same(b)) return;
  if (out.size() >= kMaxBranches) return;  // bounded: fewer choices, never an invalid one
  out.add().copy_from(b);
}

bool Matcher::push_value(Branch& b, int32_t node) const {
  if (b.depth >= Branch::kMaxDepth) return false;
  Frame f{};
  f.node = node;
  b.frames[b.depth++] = f;
  return true;
}

bool Matcher::in_plain_string(const Branch& b, uint8_t& utf8_state, uint32_t& room) const {
  if (b.depth == 0) return false;
  const Frame& f = b.top();
  if ((f.kind != FrameKind::kString && f.kind != FrameKind::kKeyString) || f.phase != kStrPlain) return false;
  utf8_state = f.u8;
  room = kUnbounded;
  if (f.kind == FrameKind::kString) {
    const uint32_t max = g_.nodes[f.node].max_length;
    room = max == kUnbounded ? kUnbounded : max - f.a;
  }
  return true;
}

bool Matcher::accepting(const Branch& in) const {
  int d = in.depth;
  while (d > 0) {
    const Frame& f = in.frames[d - 1];
    if (f.kind == FrameKind::kNumber && number_accepting(f.phase)) --d;
    else if (f.kind == FrameKind::kLiteral && g_.nodes[f.node].literals[f.b].size() == f.a) --d;
    else if (f.kind == FrameKind::kSequence && f.a == g_.nodes[f.node].sequence.size() &&
             f.b + 1 >= g_.nodes[f.node].min_items)
      --d;
    else return false;
  }
  return true;
}

void Matcher::feed(const Branch& in, uint8_t c, BranchList& out) const {
  Branch b;
  b.copy_from(in);
  while (true) {
    if (b.depth == 0) return;  // nothing may follow the value
    Frame& f = b.top();
    switch (f.kind) {
      case FrameKind::kValue: {
        if (is_ws(c) && !text_led_[size_t(f.node)]) {
          if (!whitespace_ok(b, c)) return;
          push(out, b);
          return;
        }
        const bool after_ws = b.ws != 0;
        b.ws = 0;
        int hops = 0;
        start_value(b, f.node, c, out, hops, after_ws);
        return;
      }
      case FrameKind::kText: {
        const std::string& text = g_.nodes[f.node].text;
        if (static_cast<uint8_t>(text[f.a]) != c) return;
        if (++f.a == text.size()) --b.depth;
        push(out, b);
        return;
      }
      case FrameKind::kSequence: {
        const Node& n = g_.nodes[f.node];
        if (f.a < n.sequence.size()) {  // the next item takes c
          if (!push_value(b, n.sequence[f.a++])) return;
          continue;
        }
        // A repetition is complete: c starts another one (its separator first), or follows the
        // sequence.
        const uint32_t done = f.b + 1;
        if (done < n.max_items) {
          Branch again;
          again.copy_from(b);
          again.top().a = 0;
          again.top().b = done;
          if (n.separator == kNoNode || push_value(again, n.separator)) feed(again, c, out);
        }
        if (done < n.min_items) return;
        --b.depth;
        continue;
      }
      case FrameKind::kObject:
        object_byte(b, c, out);
        return;
      case FrameKind::kArray:
        array_byte(b, c, out);
        return;
      case FrameKind::kKeyLiteral: {
        const std::string& key = g_.nodes[f.node].properties[f.b].key_json;
        if (key[f.a] != static_cast<char>(c)) return;
        if (++f.a == key.size()) --b.depth;  // closing quote: back to the object (phase kObjColon)
        push(out, b);
        return;
      }
      case FrameKind::kString:
      case FrameKind::kKeyString: {
        const bool key = f.kind == FrameKind::kKeyString;
        if (key) f.b = fnv(f.b, c);
        switch (f.phase) {
          case kStrPlain: {
            if (f.u8 != 0) {
              const uint8_t s = utf8_step(f.u8, c);
              if (s == kUtf8Reject) return;
              f.u8 = s;
              push(out, b);
              return;
            }
            const uint32_t max = key ? kUnbounded : g_.nodes[f.node].max_length;
            if (c == '"') {
              if (key) {
                // An extra key must not repeat a property the schema names (hash of the bytes
                // between the quotes, compared with each name's).
                const Node& obj = g_.nodes[b.frames[b.depth - 2].node];
                for (const Property& p : obj.properties) {
                  uint32_t h = kFnvStart;
                  for (size_t i = 1; i < p.key_json.size(); ++i) h = fnv(h, static_cast<uint8_t>(p.key_json[i]));
                  if (h == f.b) return;
                }
              } else if (f.a < g_.nodes[f.node].min_length) {
                return;
              }
              --b.depth;
              push(out, b);
              return;
            }
            if (c < 0x20) return;
            if (f.a >= max) return;
            if (c == '\\') {
              if (key) return;  // extra keys are written without escapes (so the check above is exact)
              f.phase = kStrEscape;
              ++f.a;
              push(out, b);
              return;
            }
            const uint8_t s = utf8_step(0, c);
            if (s == kUtf8Reject) return;
            f.u8 = s;
            ++f.a;
            push(out, b);
            return;
          }
          case kStrEscape:
            if (c == 'u') f.phase = kHex1;
            else if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' || c == 't')
              f.phase = kStrPlain;
            else return;
            push(out, b);
            return;
          case kHex1:
            if (!is_hex(c)) return;
            f.phase = (c == 'd' || c == 'D') ? kHex2Low : kHex2;
            push(out, b);
            return;
          case kHex2Low:
            if (c < '0' || c > '7') return;
            f.phase = kHex3;
            push(out, b);
            return;
          case kHex2:
          case kHex3:
          case kHex4:
            if (!is_hex(c)) return;
            f.phase = f.phase == kHex4 ? kStrPlain : f.phase + 1;
            push(out, b);
            return;
        }
        return;
      }
      case FrameKind::kNumber:
        if (number_byte(f, c, g_.nodes[f.node].kind == NodeKind::kInteger)) {
          push(out, b);
          return;
        }
        if (!number_accepting(f.phase)) return;
        --b.depth;  // the number ended before c: c belongs to the enclosing value
        continue;
      case FrameKind::kLiteral: {
        const auto& lits = g_.nodes[f.node].literals;
        uint32_t lo = f.b, hi = f.c;
        // Literals in [lo, hi) share the first f.a bytes and are sorted: those continuing with c
        // form a sub-range (one of exactly f.a bytes sorts first).
        uint32_t nlo = lo;
        while (nlo < hi && (lits[nlo].size() <= f.a || static_cast<uint8_t>(lits[nlo][f.a]) < c)) ++nlo;
        uint32_t nhi = nlo;
        while (nhi < hi && lits[nhi].size() > f.a && static_cast<uint8_t>(lits[nhi][f.a]) == c) ++nhi;
        if (nhi > nlo) {
          f.b = nlo, f.c = nhi, ++f.a;
          push(out, b);
          return;
        }
        if (lits[lo].size() != f.a) return;
        --b.depth;  // complete: c belongs to the enclosing value
        continue;
      }
    }
    return;
  }
}

void Matcher::start_value(Branch& b, int32_t node, uint8_t c, BranchList& out, int& hops, bool after_ws) const {
  const Node& n = g_.nodes[node];
  Frame& f = b.top();
  f = Frame{};
  f.node = node;
  switch (n.kind) {
    case NodeKind::kAnyOf: {
      // hops counts the anyOf nodes visited for this byte: nested or cyclic anyOf ($ref loops
      // with no value in between, A = anyOf[A, A]) must not explode.
      for (int32_t alt : n.alternatives) {
        if (++hops > kMaxAnyOfVisits) return;
        Branch nb;
        nb.copy_from(b);
        start_value(nb, alt, c, out, hops, after_ws);
      }
      return;
    }
    case NodeKind::kText:
    case NodeKind::kSequence:
      if (after_ws) return;  // whitespace is JSON's, not allowed before literal text
      f.kind = n.kind == NodeKind::kText ? FrameKind::kText : FrameKind::kSequence;
      feed(b, c, out);  // the new frame takes c
      return;
    case NodeKind::kObject:
      if (c != '{') return;
      f.kind = FrameKind::kObject;
      f.phase = kObjOpen;
      break;
    case NodeKind::kArray:
      if (c != '[') return;
      f.kind = FrameKind::kArray;
      f.phase = kArrOpen;
      break;
    case NodeKind::kString:
      if (c != '"') return;
      f.kind = FrameKind::kString;
      break;
    case NodeKind::kNumber:
    case NodeKind::kInteger:
      f.kind = FrameKind::kNumber;
      if (c == '-') f.phase = kNumMinus;
      else if (c == '0') f.phase = kNumZero;
      else if (is_digit(c)) f.phase = kNumInt, f.a = 1;
      else return;
      break;
    case NodeKind::kLiteral: {
      const auto& lits = n.literals;
      uint32_t lo = 0;
      while (lo < lits.size() && static_cast<uint8_t>(lits[lo][0]) < c) ++lo;
      uint32_t hi = lo;
      while (hi < lits.size() && static_cast<uint8_t>(lits[hi][0]) == c) ++hi;
      if (hi == lo) return;
      f.kind = FrameKind::kLiteral;
      f.a = 1, f.b = lo, f.c = hi;
      break;
    }
  }
  push(out, b);
}

void Matcher::start_key(Branch& b, BranchList& out) const {
  const Frame f = b.top();
  const Node& n = g_.nodes[f.node];
  const uint32_t np = static_cast<uint32_t>(n.properties.size());
  const uint32_t last = n.next_required[f.a];  // no required property may be skipped
  if (b.depth >= Branch::kMaxDepth) return;
  for (uint32_t j = f.a; j < np && j <= last; ++j) {
    Branch nb;
    nb.copy_from(b);
    Frame& o = nb.top();
    o.phase = kObjColon, o.a = j + 1, o.b = j;
    Frame k{};
    k.kind = FrameKind::kKeyLiteral, k.node = f.node, k.b = j, k.a = 1;
    nb.frames[nb.depth++] = k;
    push(out, nb);
  }
  if (n.additional != kNoNode && last == np) {
    Frame& o = b.top();
    o.phase = kObjColon, o.a = np, o.b = kAdditionalKey;
    Frame k{};
    k.kind = FrameKind::kKeyString, k.b = kFnvStart;
    b.frames[b.depth++] = k;
    push(out, b);
  }
}

void Matcher::object_byte(Branch& b, uint8_t c, BranchList& out) const {
  Frame& f = b.top();
  if (is_ws(c)) {
    if (!whitespace_ok(b, c)) return;
    push(out, b);
    return;
  }
  b.ws = 0;
  const Node& n = g_.nodes[f.node];
  const uint32_t np = static_cast<uint32_t>(n.properties.size());
  const bool can_close = n.next_required[f.a] == np;
  switch (f.phase) {
    case kObjOpen:
      if (c == '}' && can_close) break;
      if (c == '"') start_key(b, out);
      return;
    case kObjColon: {
      if (c != ':') return;
      f.phase = kObjAfterValue;
      const int32_t value = f.b == kAdditionalKey ? n.additional : n.properties[f.b].node;
      if (push_value(b, value)) push(out, b);
      return;
    }
    case kObjAfterValue:
      if (c == '}' && can_close) break;
      if (c == ',' && (f.a < np || n.additional != kNoNode)) {
        f.phase = kObjComma;
        push(out, b);
      }
      return;
    case kObjComma:
      if (c == '"') start_key(b, out);
      return;
    default:
      return;
  }
  --b.depth;  // '}'
  push(out, b);
}

void Matcher::array_byte(Branch& b, uint8_t c, BranchList& out) const {
  Frame& f = b.top();
  if (is_ws(c)) {
    if (!whitespace_ok(b, c)) return;
    push(out, b);
    return;
  }
  b.ws = 0;
  const Node& n = g_.nodes[f.node];
  if (c == ']' && (f.phase == kArrAfterValue || f.phase == kArrOpen) && f.a >= n.min_items) {
    --b.depth;
    push(out, b);
    return;
  }
  if (f.phase == kArrAfterValue) {
    if (c == ',' && f.a < n.max_items) {
      f.phase = kArrComma;
      push(out, b);
    }
    return;
  }
  // kArrOpen or kArrComma: c starts an item.
  if (f.a >= n.max_items) return;
  f.phase = kArrAfterValue;
  ++f.a;
  if (!push_value(b, n.items)) return;
  int hops = 0;
  start_value(b, n.items, c, out, hops);
}

}  // namespace autolm::grammar
