// Python formatting for templates: slicing, "fmt" % args, str.format, and json.dumps as transformers'
// tojson calls it (ensure_ascii=False unless asked, indent, separators, sort_keys).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>

#include "chat/args.h"
#include "chat/interp.h"
#include "chat/pystr.h"
#include "chat/runtime_error.h"

namespace autolm::jinja {
namespace {




}  // namespace

// ---- slicing (CPython's PySlice_GetIndicesEx)

Value py_slice(const Value& seq, const Value& start_v, const Value& stop_v, const Value& step_v) {
  auto idx = [](const Value& v) -> std::optional<int64_t> {
    if (v.is_none() || v.is_undefined()) return std::nullopt;
    if (v.is_int() || v.is_bool()) return v.as_int();
    throw RuntimeError("slice indices must be integers or None or have an __index__ method");
  };
  int64_t step = idx(step_v).value_or(1);
  if (step == 0) throw RuntimeError("slice step cannot be zero");
  std::u32string chars;
  int64_t n;
  if (seq.is_string()) {
    chars = utf8_decode(seq.str());
    n = static_cast<int64_t>(chars.size());
  } else {
    n = static_cast<int64_t>(seq.list().size());
  }
  auto adjust = [&](std::optional<int64_t> v, int64_t dflt) {
    if (!v) return dflt;
    int64_t x = *v;
    if (x < 0) {
      x += n;
      if (x < 0) x = step < 0 ? -1 : 0;
    } else if (x >= n) {
      x = step < 0 ? n - 1 : n;
    }
    return x;
  };
  int64_t start = adjust(idx(start_v), step < 0 ? n - 1 : 0);
  int64_t stop = adjust(idx(stop_v), step < 0 ? -1 : n);
  std::vector<int64_t> picks;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) picks.push_back(i);
  if (seq.is_string()) {
    std::u32string out;
    for (int64_t i : picks) out.push_back(chars[i]);
    return Value(utf8_encode(out));
  }
  List out;
  for (int64_t i : picks) out.push_back(seq.list()[i]);
  return Value::list(std::move(out), seq.is_tuple());
}

// ---- formatting

static std::string format_value(const Value& v, const std::string& spec) {
  if (v.is_string()) return py_format_str(v.str(), spec);
  if (v.is_bool() && spec.empty()) return v.to_str();
  if (v.is_int() || v.is_bool()) return py_format_int(v.as_int(), spec);
  if (v.is_float()) return py_format_float(v.as_double(), spec);
  if (!spec.empty())
    throw RuntimeError("unsupported format string passed to " + v.type_name() + ".__format__");
  return v.to_str();
}

// One replacement field's value: "" (next positional), "0", "name", then .attr / [key] chains.
static Value resolve_field(Interp& in, const std::string& field, const CallArgs& args, size_t& auto_index) {
  size_t name_end = field.find_first_of(".[");
  std::string head = field.substr(0, name_end);
  Value v;
  auto is_digits = [](const std::string& t) {
    return !t.empty() && std::all_of(t.begin(), t.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
  };
  if (head.empty()) {
    if (auto_index >= args.args.size())
      throw RuntimeError("Replacement index " + std::to_string(auto_index) + " out of range for positional args tuple");
    v = args.args[auto_index++];
  } else if (is_digits(head)) {
    size_t k = std::stoul(head);
    if (k >= args.args.size()) throw RuntimeError("Replacement index " + head + " out of range for positional args tuple");
    v = args.args[k];
  } else {
    bool found = false;
    for (const auto& [kname, kv] : args.kwargs)
      if (kname == head) {
        v = kv;
        found = true;
      }
    if (!found) throw RuntimeError("'" + head + "'");
  }
  for (size_t p = name_end; p != std::string::npos && p < field.size();) {
    if (field[p] == '.') {
      size_t q = field.find_first_of(".[", p + 1);
      v = in.getattr(v, field.substr(p + 1, q == std::string::npos ? std::string::npos : q - p - 1));
      p = q;
    } else {
      size_t q = field.find(']', p);
      if (q == std::string::npos) throw RuntimeError("Missing ']' in format string");
      std::string key = field.substr(p + 1, q - p - 1);
      v = in.getitem(v, is_digits(key) ? Value(static_cast<int64_t>(std::stoll(key))) : Value(key));
      p = q + 1;
    }
  }
  return v;
}

std::string str_format(Interp& in, const std::string& fmt, const CallArgs& args) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < fmt.size();) {
    char c = fmt[i];
    if (c == '}') {
      if (i + 1 < fmt.size() && fmt[i + 1] == '}') {
        out += '}';
        i += 2;
        continue;
      }
      throw RuntimeError("Single '}' encountered in format string");
    }
    if (c != '{') {
      out += c;
      ++i;
      continue;
    }
    if (i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out += '{';
      i += 2;
      continue;
    }
    size_t j = i + 1;
    int depth = 1;
    while (j < fmt.size() && depth > 0) {
      if (fmt[j] == '{') ++depth;
      else if (fmt[j] == '}') --depth;
      if (depth > 0) ++j;
    }
    if (j >= fmt.size()) throw RuntimeError("expected '}' before end of string");
    std::string field = fmt.substr(i + 1, j - i - 1);
    i = j + 1;
    std::string spec, conv;
    size_t colon = field.find(':');
    if (colon != std::string::npos) {
      spec = field.substr(colon + 1);
      field.resize(colon);
    }
    size_t bang = field.find('!');
    if (bang != std::string::npos) {
      conv = field.substr(bang + 1);
      field.resize(bang);
    }
    Value v = resolve_field(in, field, args, auto_index);
    // Nested fields inside the spec ("{:>{width}}") are formatted first, in order.
    std::string expanded;
    for (size_t k = 0; k < spec.size(); ++k) {
      if (spec[k] != '{') {
        expanded += spec[k];
        continue;
      }
      size_t close = spec.find('}', k);
      if (close == std::string::npos) throw RuntimeError("unmatched '{' in format spec");
      std::string nested = resolve_field(in, spec.substr(k + 1, close - k - 1), args, auto_index).to_str();
      check_grow(expanded.size(), nested.size());
      expanded += nested;
      k = close;
    }
    if (conv == "r" || conv == "a") v = Value(v.repr());
    else if (conv == "s") v = Value(v.to_str());
    else if (!conv.empty()) throw RuntimeError("Unknown conversion specifier " + conv);
    std::string piece = format_value(v, expanded);
    check_grow(out.size(), piece.size());
    out += piece;
  }
  return out;
}

std::string percent_format(Interp& in, const std::string& fmt, const Value& args) {
  List positional;
  const Dict* mapping = nullptr;
  if (args.is_tuple()) positional = args.list();
  else {
    positional.push_back(args);
    if (args.is_dict()) mapping = &args.dict();
  }
  size_t next = 0;
  bool used_mapping = false;
  auto take = [&]() -> Value {
    if (next >= positional.size()) throw RuntimeError("not enough arguments for format string");
    return positional[next++];
  };
  std::string out;
  auto append = [&](const std::string& piece) {
    check_grow(out.size(), piece.size());
    out += piece;
  };
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out += fmt[i];
      continue;
    }
    if (++i >= fmt.size()) throw RuntimeError("incomplete format");
    Value v;
    bool have_value = false;
    if (fmt[i] == '(') {
      size_t close = fmt.find(')', i);
      if (close == std::string::npos) throw RuntimeError("incomplete format key");
      if (!mapping) throw RuntimeError("format requires a mapping");
      const Value* found = mapping->find(std::string_view(fmt).substr(i + 1, close - i - 1));
      if (!found) throw RuntimeError("'" + fmt.substr(i + 1, close - i - 1) + "'");
      v = *found;
      have_value = used_mapping = true;
      i = close + 1;
    }
    std::string flags;
    while (i < fmt.size() && std::string("-+ #0").find(fmt[i]) != std::string::npos) flags += fmt[i++];
    std::string width, precision;
    if (i < fmt.size() && fmt[i] == '*') {
      width = std::to_string(int_arg(take(), "* wants int"));
      ++i;
    }
    while (i < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[i]))) width += fmt[i++];
    if (i < fmt.size() && fmt[i] == '.') {
      precision = ".";
      ++i;
      while (i < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[i]))) precision += fmt[i++];
      if (precision == ".") precision = ".0";
    }
    while (i < fmt.size() && (fmt[i] == 'h' || fmt[i] == 'l' || fmt[i] == 'L')) ++i;
    if (i >= fmt.size()) throw RuntimeError("incomplete format");
    char type = fmt[i];
    if (type == '%') {
      out += '%';
      continue;
    }
    if (!have_value) v = take();
    std::string spec;
    bool left = flags.find('-') != std::string::npos;
    if (left) spec += '<';
    else if (flags.find('0') != std::string::npos && type != 's' && type != 'r' && type != 'a' && type != 'c') spec += "0=";
    if (flags.find('+') != std::string::npos) spec += '+';
    else if (flags.find(' ') != std::string::npos) spec += ' ';
    if (flags.find('#') != std::string::npos) spec += '#';
    if (spec == "0=") spec = "0";
    std::string full = spec + width;
    switch (type) {
      case 's': case 'r': case 'a': {
        std::string s = type == 's' ? v.to_str() : v.repr();
        append(py_format_str(s, (left ? "<" : ">") + width + precision));
        break;
      }
      case 'd': case 'i': case 'u': case 'x': case 'X': case 'o': {
        int64_t n;
        if (v.is_float()) n = static_cast<int64_t>(std::trunc(v.as_double()));
        else if (v.is_int() || v.is_bool()) n = v.as_int();
        else throw RuntimeError(std::string("%") + type + " format: a real number is required, not " + v.type_name());
        append(py_format_int(n, full + (type == 'i' || type == 'u' ? 'd' : type)));
        break;
      }
      case 'e': case 'E': case 'f': case 'F': case 'g': case 'G': {
        if (!v.is_number()) throw RuntimeError("must be real number, not " + v.type_name());
        append(py_format_float(v.as_double(), full + precision + type));
        break;
      }
      case 'c': {
        std::string s = v.is_string() ? v.str() : "";
        if (!v.is_string()) utf8_append(s, static_cast<char32_t>(int_arg(v, "%c requires int or char")));
        append(py_format_str(s, (left ? "<" : ">") + width));
        break;
      }
      default:
        throw RuntimeError(std::string("unsupported format character '") + type + "'");
    }
    in.check_size(out.size());
  }
  if (!used_mapping && !mapping && next < positional.size())
    throw RuntimeError("not all arguments converted during string formatting");
  return out;
}

// ---- json.dumps (transformers' tojson: ensure_ascii=False by default)

static void json_string(std::string& out, const std::string& s, bool ensure_ascii) {
  check_grow(out.size(), s.size() + 2);
  out += '"';
  size_t k = 0;
  for (char32_t c : utf8_decode(s)) {
    if ((++k & 1023) == 0) check_grow(out.size(), 12 * 1024);  // escapes grow a char to at most 12 bytes
    switch (c) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      default: break;
    }
    char buf[16];
    if (c < 0x20 || (ensure_ascii && c > 0x7e)) {
      if (c >= 0x10000) {
        char32_t v = c - 0x10000;
        std::snprintf(buf, sizeof(buf), "\\u%04x\\u%04x", static_cast<unsigned>(0xd800 + (v >> 10)),
                      static_cast<unsigned>(0xdc00 + (v & 0x3ff)));
      } else {
        std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(c));
      }
      out += buf;
    } else {
      utf8_append(out, c);
    }
  }
  out += '"';
}

namespace {
struct JsonWriter {
  bool ensure_ascii;
  bool indented;
  std::string indent, item_sep, key_sep;
  bool sort_keys;
  std::string out;

  void newline(int level) {
    check_grow_times(out.size() + 1, indent.size(), static_cast<uint64_t>(level));
    out += '\n';
    for (int i = 0; i < level; ++i) out += indent;
  }

  std::string key_text(const Value& k) {
    if (k.is_string()) return k.str();
    if (k.is_bool()) return k.as_bool() ? "true" : "false";
    if (k.is_int()) return std::to_string(k.as_int());
    if (k.is_float()) return float_text(k.as_double());
    if (k.is_none()) return "null";
    throw RuntimeError("keys must be str, int, float, bool or None, not " + k.type_name());
  }

  static std::string float_text(double d) {
    if (std::isnan(d)) return "NaN";
    if (std::isinf(d)) return d < 0 ? "-Infinity" : "Infinity";
    return py_float_repr(d);
  }

  void write(const Value& v, int level) {
    if (level > static_cast<int>(Value::kMaxNesting)) throw RuntimeError("maximum recursion depth exceeded while encoding a JSON object");
    switch (v.type()) {
      case Value::Type::kNone: out += "null"; return;
      case Value::Type::kBool: out += v.as_bool() ? "true" : "false"; return;
      case Value::Type::kInt: out += std::to_string(v.as_int()); return;
      case Value::Type::kFloat: out += float_text(v.as_double()); return;
      case Value::Type::kString: json_string(out, v.str(), ensure_ascii); return;
      case Value::Type::kList: {
        if (v.list().empty()) {
          out += "[]";
          return;
        }
        out += '[';
        bool first = true;
        for (const auto& e : v.list()) {
          check_grow(out.size(), item_sep.size() + key_sep.size() + 32);
          if (!first) out += item_sep;
          first = false;
          if (indented) newline(level + 1);
          write(e, level + 1);
        }
        if (indented) newline(level);
        out += ']';
        return;
      }
      case Value::Type::kDict: {
        if (v.dict().empty()) {
          out += "{}";
          return;
        }
        std::vector<const std::pair<Value, Value>*> items;
        for (const auto& kv : v.dict().items()) items.push_back(&kv);
        if (sort_keys)
          std::stable_sort(items.begin(), items.end(),
                           [](auto* a, auto* b) { return py_compare(a->first, b->first, "<") < 0; });
        out += '{';
        bool first = true;
        for (const auto* kv : items) {
          check_grow(out.size(), item_sep.size() + key_sep.size() + 32);
          if (!first) out += item_sep;
          first = false;
          if (indented) newline(level + 1);
          json_string(out, key_text(kv->first), ensure_ascii);
          out += key_sep;
          write(kv->second, level + 1);
        }
        if (indented) newline(level);
        out += '}';
        return;
      }
      default:
        throw RuntimeError("Object of type " + v.type_name() + " is not JSON serializable");
    }
  }
};
}  // namespace

std::string json_dumps(const Value& v, bool ensure_ascii, const Value& indent, const Value& separators, bool sort_keys) {
  JsonWriter w;
  w.ensure_ascii = ensure_ascii;
  w.sort_keys = sort_keys;
  w.indented = given_not_none(indent);
  if (w.indented) {
    if (indent.is_string()) w.indent = indent.str();
    else {
      const int64_t width = std::max<int64_t>(0, int_arg(indent, "indent"));
      check_grow(0, static_cast<uint64_t>(width));  // tojson(indent=10**12) fails before allocating
      w.indent = std::string(static_cast<size_t>(width), ' ');
    }
  }
  w.item_sep = w.indented ? "," : ", ";
  w.key_sep = ": ";
  if (given_not_none(separators)) {
    List seps = py_iterate(separators);
    if (seps.size() != 2) throw RuntimeError("separators must be an (item_separator, key_separator) pair");
    w.item_sep = str_arg(seps[0], "separator");
    w.key_sep = str_arg(seps[1], "separator");
  }
  w.write(v, 0);
  return w.out;
}

}  // namespace autolm::jinja
