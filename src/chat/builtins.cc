// Globals (range, dict, namespace, cycler, joiner, raise_exception, strftime_now), the methods of
// str/dict/list values under jinja2's immutable sandbox, json.dumps, '%' and str.format formatting.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "autolm/error.h"
#include "chat/interp.h"
#include "chat/pystr.h"
#include "chat/runtime_error.h"

namespace autolm::jinja {

std::vector<Value> bind_args(const std::string& fname, const CallArgs& args, std::initializer_list<const char*> params) {
  std::vector<Value> out(params.size());
  if (args.args.size() > params.size())
    throw RuntimeError(fname + "() takes at most " + std::to_string(params.size()) + " arguments (" +
                       std::to_string(args.args.size()) + " given)");
  for (size_t i = 0; i < args.args.size(); ++i) out[i] = args.args[i];
  for (const auto& [k, v] : args.kwargs) {
    size_t i = 0;
    for (const char* p : params) {
      if (k == p) break;
      ++i;
    }
    if (i == params.size()) throw RuntimeError(fname + "() got an unexpected keyword argument '" + k + "'");
    if (i < args.args.size()) throw RuntimeError(fname + "() got multiple values for argument '" + k + "'");
    out[i] = v;
  }
  return out;
}

static bool given(const Value& v) { return !v.is_undefined(); }
static bool given_not_none(const Value& v) { return !v.is_undefined() && !v.is_none(); }

static int64_t int_arg(const Value& v, const char* what) {
  if (v.is_int() || v.is_bool()) return v.as_int();
  throw RuntimeError(std::string(what) + ": '" + v.type_name() + "' object cannot be interpreted as an integer");
}

static const std::string& str_arg(const Value& v, const char* what) {
  if (!v.is_string()) throw RuntimeError(std::string(what) + " argument must be str, not " + v.type_name());
  return v.str();
}

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
    size_t name_end = field.find_first_of(".[");
    std::string head = field.substr(0, name_end);
    Value v;
    if (head.empty()) {
      if (auto_index >= args.args.size()) throw RuntimeError("Replacement index " + std::to_string(auto_index) + " out of range for positional args tuple");
      v = args.args[auto_index++];
    } else if (std::all_of(head.begin(), head.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
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
        bool digits = !key.empty() && std::all_of(key.begin(), key.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
        v = in.getitem(v, digits ? Value(static_cast<int64_t>(std::stoll(key))) : Value(key));
        p = q + 1;
      }
    }
    if (conv == "r" || conv == "a") v = Value(v.repr());
    else if (conv == "s") v = Value(v.to_str());
    else if (!conv.empty()) throw RuntimeError("Unknown conversion specifier " + conv);
    out += format_value(v, spec);
    in.check_size(out.size());
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
        out += py_format_str(s, (left ? "<" : ">") + width + precision);
        break;
      }
      case 'd': case 'i': case 'u': case 'x': case 'X': case 'o': {
        int64_t n;
        if (v.is_float()) n = static_cast<int64_t>(std::trunc(v.as_double()));
        else if (v.is_int() || v.is_bool()) n = v.as_int();
        else throw RuntimeError(std::string("%") + type + " format: a real number is required, not " + v.type_name());
        out += py_format_int(n, full + (type == 'i' || type == 'u' ? 'd' : type));
        break;
      }
      case 'e': case 'E': case 'f': case 'F': case 'g': case 'G': {
        if (!v.is_number()) throw RuntimeError("must be real number, not " + v.type_name());
        out += py_format_float(v.as_double(), full + precision + type);
        break;
      }
      case 'c': {
        std::string s = v.is_string() ? v.str() : "";
        if (!v.is_string()) utf8_append(s, static_cast<char32_t>(int_arg(v, "%c requires int or char")));
        out += py_format_str(s, (left ? "<" : ">") + width);
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
  out += '"';
  for (char32_t c : utf8_decode(s)) {
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
    if (level > 200) throw RuntimeError("maximum recursion depth exceeded while encoding a JSON object");
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
    else w.indent = std::string(static_cast<size_t>(std::max<int64_t>(0, int_arg(indent, "indent"))), ' ');
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

// ---- methods of str, dict and list

static Value method(const std::string& name, NativeFn fn) { return Value::function(name, std::move(fn)); }

static std::optional<std::string> opt_str(const Value& v) {
  if (!given_not_none(v)) return std::nullopt;
  return str_arg(v, "strip");
}

// s[start:end] for the optional start/end arguments of find/count/startswith.
static std::string sub_range(const std::string& s, const Value& start, const Value& end) {
  if (!given(start) && !given(end)) return s;
  return py_slice(Value(s), start, given(end) ? end : Value::none(), Value::none()).str();
}

static int64_t code_point_offset(const std::string& s, const Value& start) {
  if (!given_not_none(start)) return 0;
  int64_t n = static_cast<int64_t>(utf8_length(s)), i = int_arg(start, "start");
  if (i < 0) i = std::max<int64_t>(0, i + n);
  return std::min(i, n);
}

static Value str_method(const Value& self, const std::string& name) {
  const std::string s = self.str();
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    bool l = name != "rstrip", r = name != "lstrip";
    return method(name, [s, l, r, name](Interp&, CallArgs& a) {
      auto p = bind_args(name, a, {"chars"});
      return Value(py_strip(s, opt_str(p[0]), l, r));
    });
  }
  if (name == "split" || name == "rsplit") {
    return method(name, [s, name](Interp&, CallArgs& a) {
      auto p = bind_args(name, a, {"sep", "maxsplit"});
      int64_t maxsplit = given(p[1]) ? int_arg(p[1], "maxsplit") : -1;
      auto parts = name == "split" ? py_split(s, opt_str(p[0]), maxsplit) : py_rsplit(s, opt_str(p[0]), maxsplit);
      List out(parts.begin(), parts.end());
      return Value::list(std::move(out));
    });
  }
  if (name == "splitlines") {
    return method(name, [s](Interp&, CallArgs& a) {
      auto p = bind_args("splitlines", a, {"keepends"});
      auto parts = py_splitlines(s, p[0].truthy());
      return Value::list(List(parts.begin(), parts.end()));
    });
  }
  if (name == "startswith" || name == "endswith") {
    bool starts = name == "startswith";
    return method(name, [s, starts, name](Interp&, CallArgs& a) {
      auto p = bind_args(name, a, {"prefix", "start", "end"});
      std::string hay = sub_range(s, p[1], p[2]);
      List options = p[0].is_tuple() ? p[0].list() : List{p[0]};
      for (const auto& o : options) {
        const std::string& x = str_arg(o, name.c_str());
        if (x.size() <= hay.size() &&
            (starts ? hay.compare(0, x.size(), x) == 0 : hay.compare(hay.size() - x.size(), x.size(), x) == 0))
          return Value(true);
      }
      return Value(false);
    });
  }
  if (name == "upper") return method(name, [s](Interp&, CallArgs&) { return Value(py_upper(s)); });
  if (name == "lower" || name == "casefold") return method(name, [s](Interp&, CallArgs&) { return Value(py_lower(s)); });
  if (name == "title") return method(name, [s](Interp&, CallArgs&) { return Value(py_title(s)); });
  if (name == "capitalize") return method(name, [s](Interp&, CallArgs&) { return Value(py_capitalize(s)); });
  if (name == "swapcase") return method(name, [s](Interp&, CallArgs&) { return Value(py_swapcase(s)); });
  if (name == "replace") {
    return method(name, [s](Interp& in, CallArgs& a) {
      auto p = bind_args("replace", a, {"old", "new", "count"});
      std::string r = py_replace(s, str_arg(p[0], "replace"), str_arg(p[1], "replace"),
                                 given(p[2]) ? int_arg(p[2], "count") : -1);
      in.check_size(r.size());
      return Value(std::move(r));
    });
  }
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex") {
    return method(name, [s, name](Interp&, CallArgs& a) {
      auto p = bind_args(name, a, {"sub", "start", "end"});
      const std::string& sub = str_arg(p[0], name.c_str());
      std::string hay = sub_range(s, p[1], p[2]);
      size_t f = name[0] == 'r' ? hay.rfind(sub) : hay.find(sub);
      if (f == std::string::npos) {
        if (name.find("index") != std::string::npos) throw RuntimeError("substring not found");
        return Value(int64_t{-1});
      }
      return Value(static_cast<int64_t>(utf8_index_of_byte(hay, f)) + code_point_offset(s, p[1]));
    });
  }
  if (name == "count") {
    return method(name, [s](Interp&, CallArgs& a) {
      auto p = bind_args("count", a, {"sub", "start", "end"});
      return Value(py_count(sub_range(s, p[1], p[2]), str_arg(p[0], "count")));
    });
  }
  if (name == "join") {
    return method(name, [s](Interp& in, CallArgs& a) {
      auto p = bind_args("join", a, {"iterable"});
      std::string out;
      List items = py_iterate(p[0]);
      for (size_t i = 0; i < items.size(); ++i) {
        if (!items[i].is_string())
          throw RuntimeError("sequence item " + std::to_string(i) + ": expected str instance, " + items[i].type_name() + " found");
        if (i) out += s;
        out += items[i].str();
        in.check_size(out.size());
      }
      return Value(std::move(out));
    });
  }
  if (name == "format") return method(name, [s](Interp& in, CallArgs& a) { return Value(str_format(in, s, a)); });
  if (name == "format_map") {
    return method(name, [s](Interp& in, CallArgs& a) {
      auto p = bind_args("format_map", a, {"mapping"});
      if (!p[0].is_dict()) throw RuntimeError("format_map() argument must be a mapping");
      CallArgs ka;
      for (const auto& [k, v] : p[0].dict().items()) ka.kwargs.emplace_back(k.to_str(), v);
      return Value(str_format(in, s, ka));
    });
  }
  using Pred = bool (*)(char32_t);
  auto char_class = [&](Pred pred) {
    return method(name, [s, pred](Interp&, CallArgs&) {
      std::u32string u = utf8_decode(s);
      return Value(!u.empty() && std::all_of(u.begin(), u.end(), pred));
    });
  };
  if (name == "isdigit" || name == "isdecimal" || name == "isnumeric") return char_class(py_isdigit);
  if (name == "isalpha") return char_class(py_isalpha);
  if (name == "isalnum") return char_class(py_isalnum);
  if (name == "isspace") return char_class(py_isspace);
  if (name == "isupper") return method(name, [s](Interp&, CallArgs&) { return Value(py_isupper(s)); });
  if (name == "islower") return method(name, [s](Interp&, CallArgs&) { return Value(py_islower(s)); });
  if (name == "removeprefix" || name == "removesuffix") {
    bool prefix = name == "removeprefix";
    return method(name, [s, prefix, name](Interp&, CallArgs& a) {
      auto p = bind_args(name, a, {"affix"});
      const std::string& x = str_arg(p[0], name.c_str());
      if (prefix && s.compare(0, x.size(), x) == 0) return Value(s.substr(x.size()));
      if (!prefix && x.size() <= s.size() && s.compare(s.size() - x.size(), x.size(), x) == 0)
        return Value(s.substr(0, s.size() - x.size()));
      return Value(s);
    });
  }
  if (name == "center" || name == "ljust" || name == "rjust" || name == "zfill") {
    return method(name, [s, name](Interp& in, CallArgs& a) {
      auto p = bind_args(name, a, {"width", "fillchar"});
      int64_t width = int_arg(p[0], "width");
      in.check_size(static_cast<size_t>(std::max<int64_t>(0, width)));
      if (name == "zfill") {
        int64_t len = static_cast<int64_t>(utf8_length(s));
        if (width <= len) return Value(s);
        size_t sign = !s.empty() && (s[0] == '-' || s[0] == '+') ? 1 : 0;
        return Value(s.substr(0, sign) + std::string(static_cast<size_t>(width - len), '0') + s.substr(sign));
      }
      std::string fill = given(p[1]) ? str_arg(p[1], "fillchar") : " ";
      if (utf8_length(fill) != 1) throw RuntimeError("The fill character must be exactly one character long");
      char align = name == "center" ? '^' : name == "ljust" ? '<' : '>';
      if (align == '^') {  // str.center puts the odd pad character on the right... unless the width is odd
        int64_t len = static_cast<int64_t>(utf8_length(s)), pad = width - len;
        if (pad <= 0) return Value(s);
        int64_t left = pad / 2 + (pad & width & 1);
        std::string out;
        for (int64_t i = 0; i < left; ++i) out += fill;
        out += s;
        for (int64_t i = 0; i < pad - left; ++i) out += fill;
        return Value(std::move(out));
      }
      return Value(py_format_str(s, fill + std::string(1, align) + std::to_string(std::max<int64_t>(0, width))));
    });
  }
  if (name == "partition" || name == "rpartition") {
    return method(name, [s, name](Interp&, CallArgs& a) {
      auto p = bind_args(name, a, {"sep"});
      const std::string& sep = str_arg(p[0], name.c_str());
      if (sep.empty()) throw RuntimeError("empty separator");
      size_t f = name == "partition" ? s.find(sep) : s.rfind(sep);
      if (f == std::string::npos)
        return name == "partition" ? Value::list({Value(s), Value(""), Value("")}, true)
                                   : Value::list({Value(""), Value(""), Value(s)}, true);
      return Value::list({Value(s.substr(0, f)), Value(sep), Value(s.substr(f + sep.size()))}, true);
    });
  }
  return Value::undefined();
}

static Value unsafe(const Value& self, const std::string& name) {
  return Value::undefined("access to attribute '" + name + "' of '" + self.type_name() + "' object is unsafe.");
}

static Value dict_method(const Value& self, const std::string& name) {
  if (name == "get") {
    return method(name, [self](Interp&, CallArgs& a) {
      auto p = bind_args("get", a, {"key", "default"});
      const Value* v = self.dict().find(p[0]);
      return v ? *v : given(p[1]) ? p[1] : Value::none();
    });
  }
  if (name == "items" || name == "keys" || name == "values") {
    return method(name, [self, name](Interp&, CallArgs&) {
      List out;
      for (const auto& [k, v] : self.dict().items())
        out.push_back(name == "items" ? Value::list({k, v}, true) : name == "keys" ? k : v);
      return Value::list(std::move(out));
    });
  }
  if (name == "copy") return method(name, [self](Interp&, CallArgs&) { return Value::dict(self.dict()); });
  static const char* kMutators[] = {"clear", "pop", "popitem", "setdefault", "update"};
  for (const char* m : kMutators)
    if (name == m) return unsafe(self, name);
  return Value::undefined();
}

static Value list_method(const Value& self, const std::string& name) {
  if (name == "index") {
    return method(name, [self](Interp&, CallArgs& a) {
      auto p = bind_args("index", a, {"value", "start", "stop"});
      const List& l = self.list();
      for (size_t i = 0; i < l.size(); ++i)
        if (py_eq(l[i], p[0])) return Value(static_cast<int64_t>(i));
      throw RuntimeError(p[0].repr() + " is not in list");
    });
  }
  if (name == "count") {
    return method(name, [self](Interp&, CallArgs& a) {
      auto p = bind_args("count", a, {"value"});
      int64_t n = 0;
      for (const auto& e : self.list()) n += py_eq(e, p[0]) ? 1 : 0;
      return Value(n);
    });
  }
  if (name == "copy" && !self.is_tuple()) return method(name, [self](Interp&, CallArgs&) { return Value::list(self.list()); });
  static const char* kMutators[] = {"append", "clear", "extend", "insert", "pop", "remove", "reverse", "sort"};
  if (!self.is_tuple())
    for (const char* m : kMutators)
      if (name == m) return unsafe(self, name);
  return Value::undefined();
}

Value bound_method(const Value& obj, const std::string& name) {
  if (obj.is_string()) return str_method(obj, name);
  if (obj.is_dict()) return dict_method(obj, name);
  if (obj.is_list()) return list_method(obj, name);
  return Value::undefined();
}

// ---- globals

namespace {
class Cycler : public Object {
 public:
  explicit Cycler(List items) : items_(std::move(items)) {}
  std::string type_name() const override { return "Cycler"; }
  Value get_attr(const std::string& name) override {
    if (name == "current") return items_[pos_];
    if (name == "next") {
      return Value::function("next", [this](Interp&, CallArgs&) {
        Value v = items_[pos_];
        pos_ = (pos_ + 1) % items_.size();
        return v;
      });
    }
    if (name == "reset") return Value::function("reset", [this](Interp&, CallArgs&) {
      pos_ = 0;
      return Value::none();
    });
    return Object::get_attr(name);
  }

 private:
  List items_;
  size_t pos_ = 0;
};
}  // namespace

Dict make_globals() {
  Dict g;
  g.set(Value("range"), Value::function("range", [](Interp& in, CallArgs& a) {
    if (!a.kwargs.empty()) throw RuntimeError("range() takes no keyword arguments");
    if (a.args.empty() || a.args.size() > 3) throw RuntimeError("range expected at most 3 arguments, got " + std::to_string(a.args.size()));
    int64_t start = 0, stop, step = 1;
    if (a.args.size() == 1) {
      stop = int_arg(a.args[0], "range");
    } else {
      start = int_arg(a.args[0], "range");
      stop = int_arg(a.args[1], "range");
      if (a.args.size() == 3) step = int_arg(a.args[2], "range");
    }
    if (step == 0) throw RuntimeError("range() arg 3 must not be zero");
    int64_t n = step > 0 ? (stop > start ? (stop - start + step - 1) / step : 0)
                         : (start > stop ? (start - stop - step - 1) / -step : 0);
    if (n > 100000) throw RuntimeError("Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
    in.count_steps(n);
    List out;
    for (int64_t i = 0; i < n; ++i) out.emplace_back(start + i * step);
    return Value::list(std::move(out));
  }));
  g.set(Value("dict"), Value::function("dict", [](Interp&, CallArgs& a) {
    Dict d;
    if (a.args.size() > 1) throw RuntimeError("dict expected at most 1 argument, got " + std::to_string(a.args.size()));
    if (a.args.size() == 1) {
      if (a.args[0].is_dict()) {
        d = a.args[0].dict();
      } else {
        for (const auto& pair : py_iterate(a.args[0])) {
          List kv = py_iterate(pair);
          if (kv.size() != 2) throw RuntimeError("dictionary update sequence element has length " + std::to_string(kv.size()) + "; 2 is required");
          d.set(kv[0], kv[1]);
        }
      }
    }
    for (const auto& [k, v] : a.kwargs) d.set(Value(k), v);
    return Value::dict(std::move(d));
  }));
  g.set(Value("namespace"), Value::function("namespace", [](Interp&, CallArgs& a) {
    auto ns = std::make_shared<Namespace>();
    if (a.args.size() > 1) throw RuntimeError("namespace expected at most 1 argument");
    if (a.args.size() == 1) {
      if (!a.args[0].is_dict()) throw RuntimeError("namespace() argument must be a mapping");
      for (const auto& [k, v] : a.args[0].dict().items()) ns->set(k.to_str(), v);
    }
    for (const auto& [k, v] : a.kwargs) ns->set(k, v);
    return Value::object(ns);
  }));
  g.set(Value("cycler"), Value::function("cycler", [](Interp&, CallArgs& a) {
    if (a.args.empty()) throw RuntimeError("at least one item has to be provided");
    return Value::object(std::make_shared<Cycler>(a.args));
  }));
  g.set(Value("joiner"), Value::function("joiner", [](Interp&, CallArgs& a) {
    auto p = bind_args("joiner", a, {"sep"});
    std::string sep = given(p[0]) ? p[0].to_str() : ", ";
    auto used = std::make_shared<bool>(false);
    return Value::function("joiner", [sep, used](Interp&, CallArgs&) {
      if (!*used) {
        *used = true;
        return Value("");
      }
      return Value(sep);
    });
  }));
  g.set(Value("raise_exception"), Value::function("raise_exception", [](Interp&, CallArgs& a) -> Value {
    auto p = bind_args("raise_exception", a, {"message"});
    throw Error(ErrorKind::kInvalidInput, p[0].to_str());
  }));
  g.set(Value("strftime_now"), Value::function("strftime_now", [](Interp& in, CallArgs& a) {
    auto p = bind_args("strftime_now", a, {"format"});
    const std::string& fmt = str_arg(p[0], "strftime_now");
    std::time_t t = in.now();
    std::tm tm{};
    localtime_r(&t, &tm);
    if (fmt.empty()) return Value("");
    std::vector<char> buf(fmt.size() * 4 + 64);
    for (int tries = 0; tries < 8; ++tries) {
      size_t n = std::strftime(buf.data(), buf.size(), fmt.c_str(), &tm);
      if (n > 0) return Value(std::string(buf.data(), n));
      buf.resize(buf.size() * 4);
    }
    return Value("");
  }));
  return g;
}

}  // namespace autolm::jinja
