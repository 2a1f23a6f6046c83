// Python str semantics over UTF-8 (see pystr.h). Case mapping and character classes use utf8proc.
#include "chat/pystr.h"

#include <utf8proc.h>

#include <charconv>
#include <cmath>
#include <cstdio>

#include "chat/runtime_error.h"

namespace autolm::jinja {

std::u32string utf8_decode(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = s[i];
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    char32_t cp = len == 1 ? c : len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
    bool ok = len > 0 && i + len <= s.size();
    for (int k = 1; ok && k < len; ++k) {
      unsigned char cc = s[i + k];
      if ((cc & 0xc0) != 0x80) ok = false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (ok && len > 1) {
      static const char32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
      if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) ok = false;
    }
    if (!ok) {
      out.push_back(0xdc00 + c);
      ++i;
    } else {
      out.push_back(cp);
      i += len;
    }
  }
  return out;
}

void utf8_append(std::string& out, char32_t c) {
  if (c >= 0xdc80 && c <= 0xdcff) {  // an undecodable byte, restored as-is
    out.push_back(static_cast<char>(c - 0xdc00));
  } else if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3f)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3f)));
  }
}

std::string utf8_encode(std::u32string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s) utf8_append(out, c);
  return out;
}

size_t utf8_length(std::string_view s) {
  bool ascii = true;
  for (unsigned char c : s)
    if (c >= 0x80) {
      ascii = false;
      break;
    }
  return ascii ? s.size() : utf8_decode(s).size();
}

size_t utf8_index_of_byte(std::string_view s, size_t byte) { return utf8_length(s.substr(0, byte)); }

bool py_isspace(char32_t c) {
  switch (c) {
    case 0x09: case 0x0a: case 0x0b: case 0x0c: case 0x0d: case 0x1c: case 0x1d: case 0x1e:
    case 0x1f: case 0x20: case 0x85: case 0xa0: case 0x1680: case 0x2028: case 0x2029:
    case 0x202f: case 0x205f: case 0x3000:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200a;
  }
}

bool py_is_linebreak(char32_t c) {
  switch (c) {
    case 0x0a: case 0x0b: case 0x0c: case 0x0d: case 0x1c: case 0x1d: case 0x1e: case 0x85:
    case 0x2028: case 0x2029:
      return true;
    default:
      return false;
  }
}

static utf8proc_category_t category(char32_t c) {
  if (c > 0x10ffff) return UTF8PROC_CATEGORY_CN;
  return utf8proc_category(static_cast<utf8proc_int32_t>(c));
}

bool py_isprintable(char32_t c) {
  if (c == ' ') return true;
  switch (category(c)) {
    case UTF8PROC_CATEGORY_CC: case UTF8PROC_CATEGORY_CF: case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO: case UTF8PROC_CATEGORY_CN: case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP: case UTF8PROC_CATEGORY_ZS:
      return false;
    default:
      return true;
  }
}

bool py_isalpha(char32_t c) {
  auto k = category(c);
  return k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT ||
         k == UTF8PROC_CATEGORY_LM || k == UTF8PROC_CATEGORY_LO;
}
bool py_isdigit(char32_t c) { return category(c) == UTF8PROC_CATEGORY_ND; }
bool py_isalnum(char32_t c) {
  auto k = category(c);
  return py_isalpha(c) || k == UTF8PROC_CATEGORY_ND || k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_NO;
}
static bool is_cased(char32_t c) {
  auto k = category(c);
  return k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT;
}
static char32_t to_upper(char32_t c) { return c > 0x10ffff ? c : utf8proc_toupper(c); }
static char32_t to_lower(char32_t c) { return c > 0x10ffff ? c : utf8proc_tolower(c); }
static char32_t to_title(char32_t c) { return c > 0x10ffff ? c : utf8proc_totitle(c); }

template <typename F>
static std::string map_chars(std::string_view s, F f) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : utf8_decode(s)) utf8_append(out, f(c));
  return out;
}

std::string py_upper(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : utf8_decode(s)) {
    if (c == 0xdf) out += "SS";  // the common full (multi-character) mapping from SpecialCasing.txt
    else utf8_append(out, to_upper(c));
  }
  return out;
}
std::string py_lower(std::string_view s) { return map_chars(s, to_lower); }
std::string py_swapcase(std::string_view s) {
  return map_chars(s, [](char32_t c) {
    auto k = category(c);
    return k == UTF8PROC_CATEGORY_LU ? to_lower(c) : k == UTF8PROC_CATEGORY_LL ? to_upper(c) : c;
  });
}

std::string py_title(std::string_view s) {
  std::string out;
  bool prev_cased = false;
  for (char32_t c : utf8_decode(s)) {
    utf8_append(out, prev_cased ? to_lower(c) : to_title(c));
    prev_cased = is_cased(c);
  }
  return out;
}

std::string py_capitalize(std::string_view s) {
  std::string out;
  bool first = true;
  for (char32_t c : utf8_decode(s)) {
    utf8_append(out, first ? to_title(c) : to_lower(c));
    first = false;
  }
  return out;
}

static bool case_test(std::string_view s, utf8proc_category_t want, utf8proc_category_t reject) {
  bool any = false;
  for (char32_t c : utf8_decode(s)) {
    auto k = category(c);
    if (k == reject || k == UTF8PROC_CATEGORY_LT) return false;
    if (k == want) any = true;
  }
  return any;
}
bool py_isupper(std::string_view s) { return case_test(s, UTF8PROC_CATEGORY_LU, UTF8PROC_CATEGORY_LL); }
bool py_islower(std::string_view s) { return case_test(s, UTF8PROC_CATEGORY_LL, UTF8PROC_CATEGORY_LU); }

std::string py_strip(std::string_view s, const std::optional<std::string>& chars, bool left, bool right) {
  std::u32string u = utf8_decode(s);
  std::u32string set = chars ? utf8_decode(*chars) : std::u32string();
  auto strip_me = [&](char32_t c) { return chars ? set.find(c) != std::u32string::npos : py_isspace(c); };
  size_t b = 0, e = u.size();
  if (left)
    while (b < e && strip_me(u[b])) ++b;
  if (right)
    while (e > b && strip_me(u[e - 1])) --e;
  return utf8_encode(std::u32string_view(u).substr(b, e - b));
}

std::vector<std::string> py_split(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit) {
  std::vector<std::string> out;
  if (sep) {
    if (sep->empty()) throw RuntimeError("empty separator");
    size_t pos = 0;
    while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
      size_t f = s.find(*sep, pos);
      if (f == std::string_view::npos) break;
      out.emplace_back(s.substr(pos, f - pos));
      pos = f + sep->size();
    }
    out.emplace_back(s.substr(pos));
    return out;
  }
  std::u32string u = utf8_decode(s);
  size_t i = 0, n = u.size();
  while (true) {
    while (i < n && py_isspace(u[i])) ++i;
    if (i >= n) break;
    if (maxsplit >= 0 && static_cast<int64_t>(out.size()) >= maxsplit) {
      size_t e = n;
      while (e > i && py_isspace(u[e - 1])) --e;
      out.push_back(utf8_encode(std::u32string_view(u).substr(i, e - i)));
      break;
    }
    size_t j = i;
    while (j < n && !py_isspace(u[j])) ++j;
    out.push_back(utf8_encode(std::u32string_view(u).substr(i, j - i)));
    i = j;
  }
  return out;
}

std::vector<std::string> py_rsplit(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit) {
  std::vector<std::string> out;
  if (sep) {
    if (sep->empty()) throw RuntimeError("empty separator");
    size_t end = s.size();
    while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
      if (end < sep->size()) break;
      size_t f = s.rfind(*sep, end - sep->size());
      if (f == std::string_view::npos) break;
      out.emplace_back(s.substr(f + sep->size(), end - f - sep->size()));
      end = f;
    }
    out.emplace_back(s.substr(0, end));
  } else {
    std::u32string u = utf8_decode(s);
    size_t e = u.size();
    while (true) {
      while (e > 0 && py_isspace(u[e - 1])) --e;
      if (e == 0) break;
      if (maxsplit >= 0 && static_cast<int64_t>(out.size()) >= maxsplit) {
        size_t b = 0;
        while (b < e && py_isspace(u[b])) ++b;
        out.push_back(utf8_encode(std::u32string_view(u).substr(b, e - b)));
        break;
      }
      size_t b = e;
      while (b > 0 && !py_isspace(u[b - 1])) --b;
      out.push_back(utf8_encode(std::u32string_view(u).substr(b, e - b)));
      e = b;
    }
  }
  return {out.rbegin(), out.rend()};
}

std::vector<std::string> py_splitlines(std::string_view s, bool keepends) {
  std::vector<std::string> out;
  std::u32string u = utf8_decode(s);
  size_t i = 0, start = 0, n = u.size();
  while (i < n) {
    if (!py_is_linebreak(u[i])) {
      ++i;
      continue;
    }
    size_t eol = i;
    ++i;
    if (u[eol] == '\r' && i < n && u[i] == '\n') ++i;
    out.push_back(utf8_encode(std::u32string_view(u).substr(start, (keepends ? i : eol) - start)));
    start = i;
  }
  if (start < n) out.push_back(utf8_encode(std::u32string_view(u).substr(start)));
  return out;
}

std::string py_replace(std::string_view s, std::string_view old, std::string_view repl, int64_t count) {
  std::string out;
  if (old.empty()) {  // Python inserts repl before every code point and at the end
    std::u32string u = utf8_decode(s);
    int64_t done = 0;
    for (char32_t c : u) {
      if (count < 0 || done < count) {
        check_grow(out.size(), repl.size() + 4);
        out += repl;
        ++done;
      }
      utf8_append(out, c);
    }
    check_grow(out.size(), repl.size());
    if (count < 0 || done < count) out += repl;
    return out;
  }
  size_t pos = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    size_t f = s.find(old, pos);
    if (f == std::string_view::npos) break;
    check_grow(out.size(), f - pos + repl.size());  // before growing: s.replace('', huge) fails early
    out.append(s.substr(pos, f - pos));
    out.append(repl);
    pos = f + old.size();
    ++done;
  }
  check_grow(out.size(), s.size() - pos);
  out.append(s.substr(pos));
  return out;
}

int64_t py_count(std::string_view s, std::string_view sub) {
  if (sub.empty()) return static_cast<int64_t>(utf8_length(s)) + 1;
  int64_t n = 0;
  for (size_t pos = s.find(sub); pos != std::string_view::npos; pos = s.find(sub, pos + sub.size())) ++n;
  return n;
}

std::string py_float_repr(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  std::string sign;
  if (!sci.empty() && sci[0] == '-') {
    sign = "-";
    sci.erase(0, 1);
  }
  size_t e = sci.find('e');
  std::string digits;
  for (size_t i = 0; i < e; ++i)
    if (sci[i] != '.') digits.push_back(sci[i]);
  int exp10 = std::stoi(sci.substr(e + 1));
  int decpt = exp10 + 1;
  int n = static_cast<int>(digits.size());
  std::string out = sign;
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) {
      out += "0." + std::string(-decpt, '0') + digits;
    } else if (decpt >= n) {
      out += digits + std::string(decpt - n, '0') + ".0";
    } else {
      out += digits.substr(0, decpt) + "." + digits.substr(decpt);
    }
  } else {
    out += digits.substr(0, 1);
    if (n > 1) out += "." + digits.substr(1);
    int x = decpt - 1;
    char eb[16];
    std::snprintf(eb, sizeof(eb), "e%c%02d", x < 0 ? '-' : '+', x < 0 ? -x : x);
    out += eb;
  }
  return out;
}

std::string py_str_repr(std::string_view s) {
  bool has_single = s.find('\'') != std::string_view::npos;
  bool has_double = s.find('"') != std::string_view::npos;
  char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  for (char32_t c : utf8_decode(s)) {
    if (c == static_cast<char32_t>(quote) || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c >= 0xdc80 && c <= 0xdcff) {  // undecodable byte: Python would show a surrogate escape
      char b[16];
      std::snprintf(b, sizeof(b), "\\udc%02x", static_cast<unsigned>(c - 0xdc00));
      out += b;
    } else if (!py_isprintable(c)) {
      char b[16];
      if (c < 0x100)
        std::snprintf(b, sizeof(b), "\\x%02x", static_cast<unsigned>(c));
      else if (c < 0x10000)
        std::snprintf(b, sizeof(b), "\\u%04x", static_cast<unsigned>(c));
      else
        std::snprintf(b, sizeof(b), "\\U%08x", static_cast<unsigned>(c));
      out += b;
    } else {
      utf8_append(out, c);
    }
  }
  out.push_back(quote);
  return out;
}

// ---- format-spec mini-language: [[fill]align][sign][#][0][width][,|_][.precision][type]

namespace {
struct Spec {
  char32_t fill = ' ';
  char align = 0;
  char sign = '-';
  bool alt = false;
  int64_t width = -1;
  char grouping = 0;
  int precision = -1;
  char type = 0;
};

Spec parse_spec(const std::string& text) {
  Spec sp;
  std::u32string s = utf8_decode(text);
  size_t i = 0;
  auto is_align = [](char32_t c) { return c == '<' || c == '>' || c == '^' || c == '='; };
  if (s.size() >= 2 && is_align(s[1])) {
    sp.fill = s[0];
    sp.align = static_cast<char>(s[1]);
    i = 2;
  } else if (!s.empty() && is_align(s[0])) {
    sp.align = static_cast<char>(s[0]);
    i = 1;
  }
  if (i < s.size() && (s[i] == '+' || s[i] == '-' || s[i] == ' ')) sp.sign = static_cast<char>(s[i++]);
  if (i < s.size() && s[i] == '#') {
    sp.alt = true;
    ++i;
  }
  if (i < s.size() && s[i] == '0') {
    if (!sp.align) {
      sp.fill = '0';
      sp.align = '=';
    }
    ++i;
  }
  int64_t w = -1;
  auto digit = [&](int64_t acc) {  // Python's limit: a width or precision must fit a Py_ssize_t
    if (acc > (INT64_MAX - 9) / 10) throw RuntimeError("Too many decimal digits in format string");
    return acc * 10 + (s[i++] - '0');
  };
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') w = digit(w < 0 ? 0 : w);
  sp.width = w;
  if (i < s.size() && (s[i] == ',' || s[i] == '_')) sp.grouping = static_cast<char>(s[i++]);
  if (i < s.size() && s[i] == '.') {
    ++i;
    int64_t p = 0;
    bool any = false;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      p = digit(p);
      any = true;
    }
    if (!any) throw RuntimeError("Format specifier missing precision");
    if (p > INT32_MAX) throw RuntimeError("precision too big");
    sp.precision = static_cast<int>(p);
  }
  if (i < s.size()) sp.type = static_cast<char>(s[i++]);
  if (i != s.size()) throw RuntimeError("Invalid format specifier '" + text + "'");
  return sp;
}

std::string group_digits(const std::string& digits, char sep) {
  if (!sep) return digits;
  std::string out;
  int n = static_cast<int>(digits.size());
  for (int i = 0; i < n; ++i) {
    if (i > 0 && (n - i) % 3 == 0) out.push_back(sep);
    out.push_back(digits[i]);
  }
  return out;
}

// Pads sign+body to the width; '=' puts the padding between sign and digits.
std::string pad(const std::string& sign, const std::string& body, const Spec& sp, char default_align) {
  char align = sp.align ? sp.align : default_align;
  int64_t len = static_cast<int64_t>(utf8_length(sign) + utf8_length(body));
  if (sp.width <= len) return sign + body;
  int64_t n = sp.width - len;
  std::string fill;
  utf8_append(fill, sp.fill);
  check_grow_times(sign.size() + body.size(), fill.size(), static_cast<uint64_t>(n));  // before padding
  auto rep = [&](int64_t k) {
    std::string r;
    for (int64_t j = 0; j < k; ++j) r += fill;
    return r;
  };
  switch (align) {
    case '<': return sign + body + rep(n);
    case '^': return rep(n / 2) + sign + body + rep(n - n / 2);
    case '=': return sign + rep(n) + body;
    default: return rep(n) + sign + body;
  }
}

std::string sign_of(bool negative, const Spec& sp) {
  if (negative) return "-";
  return sp.sign == '+' ? "+" : sp.sign == ' ' ? " " : "";
}
}  // namespace

std::string py_format_float(double v, const std::string& spec_text) {
  Spec sp = parse_spec(spec_text);
  char type = sp.type;
  if (type && std::string("eEfFgG%").find(type) == std::string::npos)
    throw RuntimeError(std::string("Unknown format code '") + type + "' for object of type 'float'");
  bool neg = std::signbit(v) && !std::isnan(v);
  double a = std::fabs(v);
  std::string body;
  if (!type && sp.precision < 0) {
    body = py_float_repr(a);
  } else if (std::isinf(a) || std::isnan(a)) {
    body = std::isnan(a) ? "nan" : "inf";
    if (type == 'E' || type == 'F' || type == 'G') body = std::isnan(a) ? "NAN" : "INF";
  } else {
    int prec = sp.precision < 0 ? 6 : sp.precision;
    char fmt[16];
    // The whole number, however long ('{:.1000f}' is exact in Python), sized before it is built.
    auto print = [&](double x) {
      // At most ~310 integer digits, the precision, sign, exponent: checked before snprintf
      // spends seconds producing a billion digits only to have them refused.
      check_grow(0, static_cast<size_t>(prec) + 400);
      int n = std::snprintf(nullptr, 0, fmt, prec, x);
      if (n < 0) throw RuntimeError("cannot format float");
      check_grow(0, static_cast<size_t>(n));
      std::string r(static_cast<size_t>(n), '\0');
      std::snprintf(r.data(), r.size() + 1, fmt, prec, x);
      return r;
    };
    if (type == '%') {
      std::snprintf(fmt, sizeof(fmt), "%%%s.*f", sp.alt ? "#" : "");
      body = print(a * 100.0) + "%";
    } else {
      char t = type ? type : 'g';
      if (!type && prec == 0) prec = 1;
      std::snprintf(fmt, sizeof(fmt), "%%%s.*%c", sp.alt ? "#" : "", t);
      body = print(a);
      if (!type && body.find_first_of(".eEn") == std::string::npos) body += ".0";
    }
  }
  if (sp.grouping) {
    size_t end = body.find_first_not_of("0123456789");
    if (end == std::string::npos) end = body.size();
    body = group_digits(body.substr(0, end), sp.grouping) + body.substr(end);
  }
  return pad(sign_of(neg, sp), body, sp, '>');
}

std::string py_format_int(int64_t v, const std::string& spec_text) {
  Spec sp = parse_spec(spec_text);
  if (sp.type && std::string("eEfFgG%").find(sp.type) != std::string::npos)
    return py_format_float(static_cast<double>(v), spec_text);
  bool neg = v < 0;
  uint64_t a = neg ? (0 - static_cast<uint64_t>(v)) : static_cast<uint64_t>(v);
  std::string body, prefix;
  switch (sp.type) {
    case 0: case 'd': case 'n': body = std::to_string(a); break;
    case 'x': case 'X': {
      char b[32];
      std::snprintf(b, sizeof(b), sp.type == 'x' ? "%llx" : "%llX", static_cast<unsigned long long>(a));
      body = b;
      if (sp.alt) prefix = sp.type == 'x' ? "0x" : "0X";
      break;
    }
    case 'o': {
      char b[32];
      std::snprintf(b, sizeof(b), "%llo", static_cast<unsigned long long>(a));
      body = b;
      if (sp.alt) prefix = "0o";
      break;
    }
    case 'b':
      if (a == 0) body = "0";
      for (uint64_t x = a; x; x >>= 1) body.insert(body.begin(), static_cast<char>('0' + (x & 1)));
      if (sp.alt) prefix = "0b";
      break;
    case 'c': {
      std::string s;
      utf8_append(s, static_cast<char32_t>(v));
      return pad("", s, sp, '<');
    }
    default:
      throw RuntimeError(std::string("Unknown format code '") + sp.type + "' for object of type 'int'");
  }
  if (sp.grouping) body = group_digits(body, sp.grouping);
  return pad(sign_of(neg, sp) + prefix, body, sp, '>');
}

std::string py_format_str(const std::string& v, const std::string& spec_text) {
  Spec sp = parse_spec(spec_text);
  if (sp.type && sp.type != 's')
    throw RuntimeError(std::string("Unknown format code '") + sp.type + "' for object of type 'str'");
  std::string body = v;
  if (sp.precision >= 0) {
    std::u32string u = utf8_decode(v);
    if (static_cast<int64_t>(u.size()) > sp.precision) body = utf8_encode(u.substr(0, sp.precision));
  }
  return pad("", body, sp, '<');
}

}  // namespace autolm::jinja
