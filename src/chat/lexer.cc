// Jinja lexer mirroring jinja2.lexer's rules for the default delimiters, trim_blocks=True and
// lstrip_blocks=True (as transformers configures its environment).
#include "chat/lexer.h"

#include <algorithm>
#include <cstdio>

#include "autolm/error.h"
#include "chat/pystr.h"

namespace autolm::jinja {

SourceMap::SourceMap(std::string name, const std::string& source) : name_(std::move(name)), source_(source) {
  line_starts_.push_back(0);
  for (size_t i = 0; i < source.size(); ++i)
    if (source[i] == '\n') line_starts_.push_back(i + 1);
}

std::string SourceMap::where(size_t offset) const {
  offset = std::min(offset, source_.size());
  size_t line = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset) - line_starts_.begin();
  size_t start = line_starts_[line - 1];
  size_t col = utf8_length(std::string_view(source_).substr(start, offset - start)) + 1;
  return name_ + ":" + std::to_string(line) + ":" + std::to_string(col);
}

std::string normalize_source(const std::string& source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out.push_back(source[i]);
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();  // keep_trailing_newline=False
  return out;
}

namespace {

bool is_ascii_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// Length of the whitespace run (Python's \s, Unicode-aware) starting at pos.
size_t space_run(const std::string& s, size_t pos) {
  size_t p = pos;
  while (p < s.size()) {
    unsigned char c = s[p];
    if (c < 0x80) {
      if (!is_ascii_space(static_cast<char>(c)) && !(c >= 0x1c && c <= 0x1f)) break;
      ++p;
      continue;
    }
    size_t len = (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    std::u32string u = utf8_decode(std::string_view(s).substr(p, len));
    if (u.size() != 1 || !py_isspace(u[0])) break;
    p += len;
  }
  return p - pos;
}

bool starts_with(const std::string& s, size_t pos, const char* lit) {
  return s.compare(pos, std::char_traits<char>::length(lit), lit) == 0;
}

class Lexer {
 public:
  Lexer(const std::string& src, const SourceMap& map) : s_(src), map_(map) {}

  std::vector<Token> run() {
    size_t pos = 0;
    bool line_starting = true;
    while (pos < s_.size()) {
      size_t t = find_tag(pos);
      if (t == std::string::npos) {
        push_data(s_.substr(pos), pos);
        break;
      }
      char kind = s_[t + 1];
      char sign = t + 2 < s_.size() && (s_[t + 2] == '-' || s_[t + 2] == '+') ? s_[t + 2] : 0;
      size_t after = t + 2 + (sign ? 1 : 0);
      size_t raw_body = kind == '%' ? match_raw_begin(after) : std::string::npos;
      push_data(strip_text(s_.substr(pos, t - pos), sign, kind != '{', line_starting), pos);
      if (raw_body != std::string::npos) {
        pos = lex_raw(raw_body);
      } else if (kind == '#') {
        pos = skip_comment(t, after);
      } else {
        pos = lex_tag(t, after, kind == '%');
      }
      line_starting = pos > 0 && s_[pos - 1] == '\n';
    }
    tokens_.push_back(Token{Tok::kEof, "", 0, 0, s_.size()});
    return std::move(tokens_);
  }

 private:
  [[noreturn]] void fail(size_t offset, const std::string& msg) const {
    throw Error(ErrorKind::kInvalidInput, map_.where(offset) + ": " + msg);
  }

  size_t find_tag(size_t pos) const {
    for (size_t p = s_.find('{', pos); p != std::string::npos; p = s_.find('{', p + 1))
      if (p + 1 < s_.size() && (s_[p + 1] == '{' || s_[p + 1] == '%' || s_[p + 1] == '#')) return p;
    return std::string::npos;
  }

  void push_data(std::string text, size_t offset) {
    if (!text.empty()) tokens_.push_back(Token{Tok::kData, std::move(text), 0, 0, offset});
  }

  // jinja2's OptionalLStrip: '-' strips all whitespace before the tag; otherwise lstrip_blocks
  // removes spaces and tabs between the line start and a block/comment tag.
  std::string strip_text(std::string text, char sign, bool lstrip_applies, bool line_starting) const {
    if (sign == '-') {
      size_t e = text.size();
      while (e > 0) {  // Python str.rstrip(): Unicode whitespace, scanned back by characters
        size_t b = e - 1;
        while (b > 0 && (static_cast<unsigned char>(text[b]) & 0xc0) == 0x80) --b;
        std::u32string u = utf8_decode(std::string_view(text).substr(b, e - b));
        if (u.size() != 1 || !py_isspace(u[0])) break;
        e = b;
      }
      text.resize(e);
    } else if (sign != '+' && lstrip_applies) {
      size_t nl = text.rfind('\n');
      size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
      if ((l_pos > 0 || line_starting) && l_pos < text.size() &&
          space_run(text, l_pos) == text.size() - l_pos)
        text.resize(l_pos);
    }
    return text;
  }

  // `{%[-+]? raw (-%}\s*|%})`: returns the offset where the raw body starts, or npos.
  size_t match_raw_begin(size_t p) const {
    p += space_run(s_, p);
    if (!starts_with(s_, p, "raw")) return std::string::npos;
    p += 3;
    p += space_run(s_, p);
    if (starts_with(s_, p, "-%}")) return p + 3 + space_run(s_, p + 3);
    if (starts_with(s_, p, "%}")) return p + 2;
    return std::string::npos;
  }

  size_t lex_raw(size_t body) {
    for (size_t p = s_.find("{%", body); p != std::string::npos; p = s_.find("{%", p + 1)) {
      char sign = p + 2 < s_.size() && (s_[p + 2] == '-' || s_[p + 2] == '+') ? s_[p + 2] : 0;
      size_t q = p + 2 + (sign ? 1 : 0);
      q += space_run(s_, q);
      if (!starts_with(s_, q, "endraw")) continue;
      q += 6;
      q += space_run(s_, q);
      size_t end;
      if (starts_with(s_, q, "+%}")) {
        end = q + 3;
      } else if (starts_with(s_, q, "-%}")) {
        end = q + 3 + space_run(s_, q + 3);
      } else if (starts_with(s_, q, "%}")) {
        end = q + 2 + (q + 2 < s_.size() && s_[q + 2] == '\n' ? 1 : 0);
      } else {
        continue;
      }
      bool line_starting = body > 0 && s_[body - 1] == '\n';
      push_data(strip_text(s_.substr(body, p - body), sign, true, line_starting), body);
      return end;
    }
    fail(body, "Missing end of raw directive");
  }

  size_t skip_comment(size_t begin, size_t content) {
    size_t j = s_.find("#}", content);
    if (j == std::string::npos) fail(begin, "Missing end of comment tag");
    if (j > content && s_[j - 1] == '-') return j + 2 + space_run(s_, j + 2);
    if (j > content && s_[j - 1] == '+') return j + 2;
    return j + 2 + (j + 2 < s_.size() && s_[j + 2] == '\n' ? 1 : 0);
  }

  size_t lex_tag(size_t begin, size_t p, bool block) {
    tokens_.push_back(Token{block ? Tok::kBlockBegin : Tok::kVarBegin, "", 0, 0, begin});
    std::vector<char> balance;
    while (true) {
      if (p >= s_.size())
        fail(p, std::string("unexpected end of template, expected '") + (block ? "%}" : "}}") + "'");
      if (balance.empty()) {
        size_t end = std::string::npos;
        if (block) {
          if (starts_with(s_, p, "+%}")) end = p + 3;
          else if (starts_with(s_, p, "-%}")) end = p + 3 + space_run(s_, p + 3);
          else if (starts_with(s_, p, "%}")) end = p + 2 + (p + 2 < s_.size() && s_[p + 2] == '\n' ? 1 : 0);
        } else {
          if (starts_with(s_, p, "-}}")) end = p + 3 + space_run(s_, p + 3);
          else if (starts_with(s_, p, "}}")) end = p + 2;
        }
        if (end != std::string::npos) {
          tokens_.push_back(Token{block ? Tok::kBlockEnd : Tok::kVarEnd, "", 0, 0, p});
          return end;
        }
      }
      size_t ws = space_run(s_, p);
      if (ws) {
        p += ws;
        continue;
      }
      p = lex_token(p, balance);
    }
  }

  static bool digit(char c) { return c >= '0' && c <= '9'; }
  // (\d+_)*\d+ starting at p; returns the end or p when absent.
  size_t digits_run(size_t p) const {
    size_t q = p;
    while (true) {
      size_t r = q;
      while (r < s_.size() && digit(s_[r])) ++r;
      if (r == q) return q == p ? p : q - 1;  // a trailing '_' is not part of the number
      q = r;
      if (q < s_.size() && s_[q] == '_' && q + 1 < s_.size() && digit(s_[q + 1])) {
        ++q;
        continue;
      }
      return q;
    }
  }

  static std::string without_underscores(std::string s) {
    s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
    return s;
  }

  size_t lex_token(size_t p, std::vector<char>& balance) {
    char c = s_[p];
    // float: (?<!\.)(\d+_)*\d+((\.(\d+_)*\d+)?e[+\-]?(\d+_)*\d+|\.(\d+_)*\d+)
    if (digit(c) && !(p > 0 && s_[p - 1] == '.')) {
      size_t q = digits_run(p);
      size_t frac_end = q;
      if (q < s_.size() && s_[q] == '.') {
        size_t r = digits_run(q + 1);
        if (r > q + 1) frac_end = r;
      }
      size_t e = frac_end;
      size_t exp_end = std::string::npos;
      if (e < s_.size() && (s_[e] == 'e' || s_[e] == 'E')) {
        size_t r = e + 1;
        if (r < s_.size() && (s_[r] == '+' || s_[r] == '-')) ++r;
        size_t d = digits_run(r);
        if (d > r) exp_end = d;
      }
      size_t end = exp_end != std::string::npos ? exp_end : frac_end;
      if (end > q) {
        std::string text = without_underscores(s_.substr(p, end - p));
        tokens_.push_back(Token{Tok::kFloat, text, 0, std::strtod(text.c_str(), nullptr), p});
        return end;
      }
    }
    if (digit(c)) return lex_integer(p);
    if (c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || static_cast<unsigned char>(c) >= 0x80) {
      size_t q = p;
      while (q < s_.size() && (s_[q] == '_' || digit(s_[q]) || (s_[q] >= 'a' && s_[q] <= 'z') ||
                               (s_[q] >= 'A' && s_[q] <= 'Z') || static_cast<unsigned char>(s_[q]) >= 0x80))
        ++q;
      tokens_.push_back(Token{Tok::kName, s_.substr(p, q - p), 0, 0, p});
      return q;
    }
    if (c == '\'' || c == '"') return lex_string(p);
    static const char* kOps[] = {"//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[", "]",
                                 "(", ")", "{", "}", ">", "<", "=", ".", ":", "|", ",", ";"};
    for (const char* op : kOps) {
      if (!starts_with(s_, p, op)) continue;
      std::string o(op);
      if (o == "(" || o == "[" || o == "{") {
        balance.push_back(o == "(" ? ')' : o == "[" ? ']' : '}');
      } else if (o == ")" || o == "]" || o == "}") {
        if (balance.empty()) fail(p, "unexpected '" + o + "'");
        if (balance.back() != o[0])
          fail(p, "unexpected '" + o + "', expected '" + std::string(1, balance.back()) + "'");
        balance.pop_back();
      }
      tokens_.push_back(Token{Tok::kOp, o, 0, 0, p});
      return p + o.size();
    }
    std::string shown;
    utf8_append(shown, utf8_decode(std::string_view(s_).substr(p, 4)).at(0));
    fail(p, "unexpected char " + py_str_repr(shown));
  }

  size_t lex_integer(size_t p) {
    // (0b(_?[0-1])+|0o(_?[0-7])+|0x(_?[\da-f])+|[1-9](_?\d)*|0(_?0)*), case-insensitive
    auto run = [&](size_t q, auto ok) {
      size_t r = q;
      while (r < s_.size()) {
        if (ok(s_[r])) {
          ++r;
        } else if (s_[r] == '_' && r + 1 < s_.size() && ok(s_[r + 1])) {
          r += 2;
        } else {
          break;
        }
      }
      return r;
    };
    int base = 10;
    size_t end = p;
    if (s_[p] == '0' && p + 1 < s_.size()) {
      char k = static_cast<char>(s_[p + 1] | 0x20);
      auto bin = [](char ch) { return ch == '0' || ch == '1'; };
      auto oct = [](char ch) { return ch >= '0' && ch <= '7'; };
      auto hex = [](char ch) { return digit(ch) || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f'); };
      if (k == 'b' && run(p + 2, bin) > p + 2) base = 2, end = run(p + 2, bin);
      else if (k == 'o' && run(p + 2, oct) > p + 2) base = 8, end = run(p + 2, oct);
      else if (k == 'x' && run(p + 2, hex) > p + 2) base = 16, end = run(p + 2, hex);
    }
    if (base == 10) end = s_[p] == '0' ? run(p + 1, [](char ch) { return ch == '0'; })
                                       : run(p + 1, [](char ch) { return digit(ch); });
    std::string digits = without_underscores(s_.substr(p + (base == 10 ? 0 : 2), end - p - (base == 10 ? 0 : 2)));
    errno = 0;
    unsigned long long v = std::strtoull(digits.c_str(), nullptr, base);
    if (errno == ERANGE || v > static_cast<unsigned long long>(INT64_MAX)) fail(p, "integer literal too large");
    tokens_.push_back(Token{Tok::kInt, s_.substr(p, end - p), static_cast<int64_t>(v), 0, p});
    return end;
  }

  // A quoted string, decoded as Python's unicode-escape codec does.
  size_t lex_string(size_t p) {
    char quote = s_[p];
    size_t q = p + 1;
    while (q < s_.size() && s_[q] != quote) q += s_[q] == '\\' ? 2 : 1;
    if (q >= s_.size()) fail(p, "unexpected char " + py_str_repr(std::string(1, quote)));
    std::u32string in = utf8_decode(std::string_view(s_).substr(p + 1, q - p - 1));
    std::string out;
    for (size_t i = 0; i < in.size(); ++i) {
      char32_t ch = in[i];
      if (ch != '\\' || i + 1 >= in.size()) {
        utf8_append(out, ch);
        continue;
      }
      char32_t e = in[++i];
      auto hex_escape = [&](int n) {
        char32_t v = 0;
        for (int k = 0; k < n; ++k) {
          if (i + 1 >= in.size()) fail(p, "truncated escape in string literal");
          char32_t h = in[++i];
          int d = h >= '0' && h <= '9' ? h - '0' : (h | 0x20) >= 'a' && (h | 0x20) <= 'f' ? (h | 0x20) - 'a' + 10 : -1;
          if (d < 0) fail(p, "truncated escape in string literal");
          v = v * 16 + d;
        }
        if (v > 0x10ffff) fail(p, "illegal Unicode character in string literal");
        utf8_append(out, v);
      };
      switch (e) {
        case '\n': break;
        case '\\': out += '\\'; break;
        case '\'': out += '\''; break;
        case '"': out += '"'; break;
        case 'a': out += '\a'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'v': out += '\v'; break;
        case 'x': hex_escape(2); break;
        case 'u': hex_escape(4); break;
        case 'U': hex_escape(8); break;
        default:
          if (e >= '0' && e <= '7') {
            char32_t v = e - '0';
            for (int k = 0; k < 2 && i + 1 < in.size() && in[i + 1] >= '0' && in[i + 1] <= '7'; ++k)
              v = v * 8 + (in[++i] - '0');
            utf8_append(out, v);
          } else if (e >= 0x80) {  // backslashreplace turned the character into \xNN, \uNNNN or \UNNNNNNNN
            char b[16];
            std::snprintf(b, sizeof(b), e < 0x100 ? "\\x%02x" : e < 0x10000 ? "\\u%04x" : "\\U%08x",
                          static_cast<unsigned>(e));
            out += b;
          } else {
            out += '\\';
            utf8_append(out, e);
          }
      }
    }
    tokens_.push_back(Token{Tok::kString, std::move(out), 0, 0, p});
    return q + 1;
  }

  const std::string& s_;
  const SourceMap& map_;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> tokenize(const std::string& source, const SourceMap& map) { return Lexer(source, map).run(); }

}  // namespace autolm::jinja
