// jinja2's builtin filters and tests (3.1 signatures), plus transformers' tojson filter.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <unordered_map>

#include "chat/interp.h"
#include "chat/pystr.h"
#include "chat/runtime_error.h"

namespace autolm::jinja {
namespace {

bool given(const Value& v) { return !v.is_undefined(); }

int64_t to_int_arg(const Value& v, const char* what) {
  if (v.is_int() || v.is_bool()) return v.as_int();
  if (v.is_float()) return static_cast<int64_t>(v.as_double());
  throw RuntimeError(std::string(what) + ": '" + v.type_name() + "' object cannot be interpreted as an integer");
}

Value lower_if_str(const Value& v) { return v.is_string() ? Value(py_lower(v.str())) : v; }

// jinja2's make_attrgetter: "a.b.0" looks up each part with getitem (digits become integers).
Value get_attribute(Interp& in, const Value& item, const Value& attribute) {
  if (!given(attribute) || attribute.is_none()) return item;
  if (attribute.is_int()) return in.getitem(item, attribute);
  std::string path = attribute.to_str();
  Value v = item;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    v = in.getitem(v, digits ? Value(static_cast<int64_t>(std::stoll(part))) : Value(part));
    if (dot == std::string::npos) return v;
    start = dot + 1;
  }
}

// Sort key for sort/unique/min/max/dictsort: the attribute(s), lower-cased unless case_sensitive.
Value sort_key(Interp& in, const Value& item, const Value& attribute, bool case_sensitive) {
  if (given(attribute) && attribute.is_string() && attribute.str().find(',') != std::string::npos) {
    List parts;
    std::string s = attribute.str();
    size_t start = 0;
    while (true) {
      size_t comma = s.find(',', start);
      Value k = get_attribute(in, item, Value(s.substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
      parts.push_back(case_sensitive ? k : lower_if_str(k));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    return Value::list(std::move(parts));
  }
  Value k = get_attribute(in, item, attribute);
  return case_sensitive ? k : lower_if_str(k);
}

List sorted_by(Interp& in, List items, const std::vector<Value>& keys, bool reverse) {
  std::vector<size_t> order(items.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return reverse ? py_compare(keys[b], keys[a], "<") < 0 : py_compare(keys[a], keys[b], "<") < 0;
  });
  in.count_steps(static_cast<int64_t>(items.size()));
  List out;
  out.reserve(items.size());
  for (size_t i : order) out.push_back(std::move(items[i]));
  return out;
}

std::string soft_str(const Value& v) { return v.to_str(); }

// ---- filters

Value f_abs(Interp&, const Value& v, CallArgs& a) {
  bind_args("abs", a, {});
  if (v.is_float()) return Value(std::fabs(v.as_double()));
  if (v.is_int() || v.is_bool()) {
    if (v.as_int() == INT64_MIN) throw RuntimeError("integer overflow");
    return Value(v.as_int() < 0 ? -v.as_int() : v.as_int());
  }
  throw RuntimeError("bad operand type for abs(): '" + v.type_name() + "'");
}

Value f_attr(Interp& in, const Value& v, CallArgs& a) {
  auto p = bind_args("attr", a, {"name"});  // Python getattr only: no item fallback
  std::string name = p[0].to_str();
  if (v.is_undefined() || v.is_object()) return in.getattr(v, name);
  Value m = bound_method(v, name);
  if (!m.is_undefined() || !m.undefined_message().empty()) return m;
  return Value::undefined("'" + object_type_repr(v) + "' has no attribute '" + name + "'");
}

Value f_batch(Interp& in, const Value& v, CallArgs& a) {
  auto p = bind_args("batch", a, {"linecount", "fill_with"});
  int64_t n = to_int_arg(p[0], "batch");
  if (n <= 0) throw RuntimeError("batch linecount must be positive");
  List items = py_iterate(v), out, tmp;
  in.count_steps(static_cast<int64_t>(items.size()));
  for (auto& item : items) {
    if (static_cast<int64_t>(tmp.size()) == n) {
      out.push_back(Value::list(std::move(tmp)));
      tmp.clear();
    }
    tmp.push_back(item);
  }
  if (!tmp.empty()) {
    if (given(p[1]) && !p[1].is_none()) {
      in.count_steps(n - static_cast<int64_t>(tmp.size()));  // batch(10**18, 'x') fails before filling
      while (static_cast<int64_t>(tmp.size()) < n) tmp.push_back(p[1]);
    }
    out.push_back(Value::list(std::move(tmp)));
  }
  return Value::list(std::move(out));
}

Value f_capitalize(Interp&, const Value& v, CallArgs& a) {
  bind_args("capitalize", a, {});
  return Value(py_capitalize(soft_str(v)));
}

Value f_center(Interp& in, const Value& v, CallArgs& a) {
  auto p = bind_args("center", a, {"width"});
  CallArgs ca;
  ca.args.push_back(given(p[0]) ? p[0] : Value(80));
  return in.call(in.getattr(Value(soft_str(v)), "center"), ca);
}

Value f_default(Interp&, const Value& v, CallArgs& a) {
  auto p = bind_args("default", a, {"default_value", "boolean"});
  if (v.is_undefined() || (p[1].truthy() && !v.truthy())) return given(p[0]) ? p[0] : Value("");
  return v;
}

Value f_dictsort(Interp& in, const Value& v, CallArgs& a) {
  auto p = bind_args("dictsort", a, {"case_sensitive", "by", "reverse"});
  if (!v.is_dict()) throw RuntimeError("'" + v.type_name() + "' object has no attribute 'items'");
  std::string by = given(p[1]) ? p[1].to_str() : "key";
  if (by != "key" && by != "value") throw RuntimeError("You can only sort by either \"key\" or \"value\"");
  List items;
  std::vector<Value> keys;
  for (const auto& [k, val] : v.dict().items()) {
    items.push_back(Value::list({k, val}, true));
    const Value& key = by == "key" ? k : val;
    keys.push_back(p[0].truthy() ? key : lower_if_str(key));
  }
  return Value::list(sorted_by(in, std::move(items), keys, p[2].truthy()));
}

Value f_escape(Interp&, const Value& v, CallArgs& a) {
  bind_args("escape", a, {});
  const std::string in = soft_str(v);
  size_t grown = 0;  // each escaped char grows to 4-5 bytes: the size is checked first
  for (char c : in) grown += c == '&' || c == '"' || c == '\'' ? 4 : c == '<' || c == '>' ? 3 : 0;
  check_grow(in.size(), grown);
  std::string out;
  out.reserve(in.size() + grown);
  for (char c : in) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return Value(std::move(out));
}

Value f_first(Interp&, const Value& v, CallArgs& a) {
  bind_args("first", a, {});
  List items = py_iterate(v);
  return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();
}

Value f_last(Interp&, const Value& v, CallArgs& a) {
  bind_args("last", a, {});
  List items = py_iterate(v);
  return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
}

std::optional<double> parse_py_float(const std::string& text) {
  std::string s = py_strip(text, std::nullopt, true, true), clean;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_') {
      if (i == 0 || i + 1 == s.size() || !std::isdigit(static_cast<unsigned char>(s[i - 1])) ||
          !std::isdigit(static_cast<unsigned char>(s[i + 1])))
        return std::nullopt;
      continue;
    }
    if (s[i] == 'x' || s[i] == 'X' || s[i] == 'p' || s[i] == 'P') return std::nullopt;
    clean += s[i];
  }
  if (clean.empty()) return std::nullopt;
  char* end = nullptr;
  double d = std::strtod(clean.c_str(), &end);
  if (end != clean.c_str() + clean.size()) return std::nullopt;
  return d;
}

std::optional<int64_t> parse_py_int(const std::string& text, int base) {
  std::string s = py_strip(text, std::nullopt, true, true);
  size_t i = 0;
  bool neg = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
  auto prefix = [&](char c) {
    return i + 1 < s.size() && s[i] == '0' && (s[i + 1] | 0x20) == c;
  };
  if (base == 0) {
    base = prefix('x') ? 16 : prefix('o') ? 8 : prefix('b') ? 2 : 10;
    if (base != 10) i += 2;
  } else if ((base == 16 && prefix('x')) || (base == 8 && prefix('o')) || (base == 2 && prefix('b'))) {
    i += 2;
    if (i < s.size() && s[i] == '_') ++i;
  }
  if (base < 2 || base > 36 || i >= s.size()) return std::nullopt;
  uint64_t v = 0;
  bool last_digit = false;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c == '_') {
      if (!last_digit || i + 1 >= s.size()) return std::nullopt;
      last_digit = false;
      continue;
    }
    int d = c >= '0' && c <= '9' ? c - '0' : (c | 0x20) >= 'a' && (c | 0x20) <= 'z' ? (c | 0x20) - 'a' + 10 : 99;
    if (d >= base) return std::nullopt;
    if (v > (static_cast<uint64_t>(INT64_MAX) + 1 - d) / base) throw RuntimeError("integer overflow");
    v = v * base + d;
    last_digit = true;
  }
  if (!last_digit) return std::nullopt;
  if (!neg && v > static_cast<uint64_t>(INT64_MAX)) throw RuntimeError("integer overflow");
  return neg ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v);
}

Value f_float(Interp&, const Value& v, CallArgs& a) {
  auto p = bind_args("float", a, {"default"});
  Value dflt = given(p[0]) ? p[0] : Value(0.0);
  if (v.is_number()) return Value(v.as_double());
  if (v.is_string()) {
    auto d = parse_py_float(v.str());
    return d ? Value(*d) : dflt;
  }
  if (v.is_undefined()) throw RuntimeError(v.undefined_message());
  return dflt;
}

Value f_int(Interp&, const Value& v, CallArgs& a) {
  auto p = bind_args("int", a, {"default", "base"});
  Value dflt = given(p[0]) ? p[0] : Value(0);
  int base = given(p[1]) ? static_cast<int>(to_int_arg(p[1], "base")) : 10;
  if (v.is_int() || v.is_bool()) return Value(v.as_int());
  if (v.is_float()) {
    double d = v.as_double();
    if (std::isnan(d) || std::isinf(d) || std::fabs(d) >= 9.2e18) return dflt;
    return Value(static_cast<int64_t>(d));
  }
  if (v.is_string()) {
    if (auto i = parse_py_int(v.str(), base)) return Value(*i);
    auto d = parse_py_float(v.str());
    if (d && std::isfinite(*d) && std::fabs(*d) < 9.2e18) return Value(static_cast<int64_t>(*d));
    return dflt;
  }
  if (v.is_undefined()) throw RuntimeError(v.undefined_message());
  return dflt;
}

Value f_format(Interp& in, const Value& v, CallArgs& a) {
  if (!a.args.empty() && !a.kwargs.empty())
    throw RuntimeError("can't handle positional and keyword arguments at the same time");
  if (!a.kwargs.empty()) {
    Dict d;
    for (const auto& [k, val] : a.kwargs) d.set(Value(k), val);
    return Value(percent_format(in, soft_str(v), Value::dict(std::move(d))));
  }
  return Value(percent_format(in, soft_str(v), Value::list(a.args, true)));
}

Value f_indent(Interp& in, const Value& v, CallArgs& a) {
  auto p = bind_args("indent", a, {"width", "first", "blank"});
  std::string indention;
  if (!given(p[0])) {
    indention = "    ";
  } else if (p[0].is_string()) {
    indention = p[0].str();
  } else {
    const int64_t width = std::max<int64_t>(0, to_int_arg(p[0], "indent"));
    check_grow(0, static_cast<uint64_t>(width));  // indent(10**12) fails before allocating
    indention = std::string(static_cast<size_t>(width), ' ');
  }
  std::string s = soft_str(v) + "\n";
  auto lines = py_splitlines(s, false);
  // Every line grows by the indentation: the size is known, and checked, before building.
  size_t indented = p[1].truthy() ? 1 : 0;
  for (size_t i = 1; i < lines.size(); ++i) indented += p[2].truthy() || !lines[i].empty();
  check_grow_times(s.size(), indention.size(), indented);
  std::string rv;
  if (p[1].truthy()) rv = indention;
  if (p[2].truthy()) {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i) rv += "\n" + indention;
      rv += lines[i];
    }
  } else {
    if (!lines.empty()) rv += lines[0];
    for (size_t i = 1; i < lines.size(); ++i) {
      rv += '\n';
      if (!lines[i].empty()) rv += indention + lines[i];
    }
  }
  return Value(std::move(rv));
}

Value f_items(Interp&, const Value& v, CallArgs& a) {
  bind_args("items", a, {});
  if (v.is_undefined()) return Value::list({});
  if (!v.is_dict()) throw RuntimeError("Can only get item pairs from a mapping.");
  List out;
  for (const auto& [k, val] : v.dict().items()) out.push_back(Value::list({k, val}, true));
  return Value::list(std::move(out));
}

Value f_join(Interp& in, const Value& v, CallArgs& a) {
  auto p = bind_args("join", a, {"d", "attribute"});
  std::string sep = given(p[0]) ? soft_str(p[0]) : "";
  std::string out;
  bool first = true;
  for (const auto& item : py_iterate(v)) {
    const Value x = given(p[1]) && !p[1].is_none() ? get_attribute(in, item, p[1]) : item;
    const std::string text = x.is_string() ? std::string() : soft_str(x);
    const std::string& piece = x.is_string() ? x.str() : text;
    check_grow(out.size(), (first ? 0 : sep.size()) + piece.size());  // before appending
    if (!first) out += sep;
    first = false;
    out += piece;
  }
  return Value(std::move(out));
}

Value f_length(Interp&, const Value& v, CallArgs& a) {
  bind_args("length", a, {});
  return Value(py_len(v));
}

Value f_list(Interp&, const Value& v, CallArgs& a) {
  bind_args("list", a, {});
  return Value::list(py_iterate(v));
}

Value f_lower(Interp&, const Value& v, CallArgs& a) {
  bind_args("lower", a, {});
  return Value(py_lower(soft_str(v)));
}

Value f_upper(Interp&, const Value& v, CallArgs& a) {
  bind_args("upper", a, {});
  return Value(py_upper(soft_str(v)));
}

Value f_map(Interp& in, const Value& v, CallArgs& a) {
  List out;
  if (!v.truthy()) return Value::list({});
  List items = py_iterate(v);
  in.count_steps(static_cast<int64_t>(items.size()));
  if (a.args.empty()) {
    Value attribute, dflt;
    for (const auto& [k, val] : a.kwargs) {
      if (k == "attribute") attribute = val;
      else if (k == "default") dflt = val;
      else throw RuntimeError("Unexpected keyword argument '" + k + "'");
    }
    if (!given(attribute)) throw RuntimeError("map requires a filter argument");
    for (const auto& item : items) {
      Value r = get_attribute(in, item, attribute);
      out.push_back(r.is_undefined() && given(dflt) && !dflt.is_none() ? dflt : r);
    }
    return Value::list(std::move(out));
  }
  std::string name = a.args[0].to_str();
  CallArgs rest;
  rest.args.assign(a.args.begin() + 1, a.args.end());
  rest.kwargs = a.kwargs;
  for (const auto& item : items) {
    CallArgs copy = rest;
    out.push_back(in.apply_filter(name, item, copy));
  }
  return Value::list(std::move(out));
}

Value min_or_max(Interp& in, const Value& v, CallArgs& a, bool want_max, const char* fname) {
  auto p = bind_args(fname, a, {"case_sensitive", "attribute"});
  List items = py_iterate(v);
  if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  size_t best = 0;
  Value best_key = sort_key(in, items[0], p[1], p[0].truthy());
  for (size_t i = 1; i < items.size(); ++i) {
    Value k = sort_key(in, items[i], p[1], p[0].truthy());
    int c = py_compare(k, best_key, want_max ? ">" : "<");
    if (want_max ? c > 0 : c < 0) {
      best = i;
      best_key = k;
    }
  }
  return items[best];
}
Value f_max(Interp& in, const Value& v, CallArgs& a) { return min_or_max(in, v, a, true, "max"); }
Value f_min(Interp& in, const Value& v, CallArgs& a) { return min_or_max(in, v, a, false, "min"); }

Value select_impl(Interp& in, const Value& v, CallArgs& a, bool lookup_attr, bool keep_when) {
  size_t off = lookup_attr ? 1 : 0;
  if (lookup_attr && a.args.empty()) throw RuntimeError("Missing parameter for attribute name");
  List out;
  List items = py_iterate(v);
  in.count_steps(static_cast<int64_t>(items.size()));
  for (const auto& item : items) {
    Value x = lookup_attr ? get_attribute(in, item, a.args[0]) : item;
    bool r;
    if (a.args.size() > off) {
      CallArgs targs;
      targs.args.assign(a.args.begin() + off + 1, a.args.end());
      targs.kwargs = a.kwargs;
      r = in.apply_test(a.args[off].to_str(), x, targs);
    } else {
      r = x.truthy();
    }
    if (r == keep_when) out.push_back(item);
  }
  return Value::list(std::move(out));
}
Value f_select(Interp& in, const Value& v, CallArgs& a) { return select_impl(in, v, a, false, true); }
Value f_reject(Interp& in, const Value& v, CallArgs& a) { return select_impl(in, v, a, false, false); }
Value f_selectattr(Interp& in, const Value& v, CallArgs& a) { return select_impl(in, v, a, true, true); }
Value f_rejectattr(Interp& in, const Value& v, CallArgs& a) { return select_impl(in, v, a, true, false); }

Value f_replace(Interp& in, const Value& v, CallArgs& a) {
  auto p = bind_args("replace", a, {"old", "new", "count"});
  int64_t count = given(p[2]) && !p[2].is_none() ? to_int_arg(p[2], "count") : -1;
  std::string r = py_replace(soft_str(v), soft_str(p[0]), soft_str(p[1]), count);
  in.check_size(r.size());
  return Value(std::move(r));
}

Value f_reverse(Interp&, const Value& v, CallArgs& a) {
  bind_args("reverse", a, {});
  if (v.is_string()) return py_slice(v, Value::none(), Value::none(), Value(-1));
  List items = py_iterate(v);
  std::reverse(items.begin(), items.end());
  return Value::list(std::move(items));
}

// Python's round(x, n): correctly rounded, ties to even on the exact binary value.
double py_round(double x, int64_t n) {
  if (!std::isfinite(x) || x == 0) return x;
  if (n >= 0) {
    if (n > 330) return x;
    std::vector<char> buf(static_cast<size_t>(n) + 400);
    std::snprintf(buf.data(), buf.size(), "%.*f", static_cast<int>(n), x);
    return std::strtod(buf.data(), nullptr);
  }
  if (n < -330) return std::copysign(0.0, x);
  double p = std::pow(10.0, static_cast<double>(-n));
  return std::nearbyint(x / p) * p;
}

Value f_round(Interp&, const Value& v, CallArgs& a) {
  auto p = bind_args("round", a, {"precision", "method"});
  int64_t precision = given(p[0]) ? to_int_arg(p[0], "round") : 0;
  std::string method = given(p[1]) ? p[1].to_str() : "common";
  if (method != "common" && method != "ceil" && method != "floor")
    throw RuntimeError("method must be common, ceil or floor");
  if (!v.is_number()) throw RuntimeError("type " + v.type_name() + " doesn't define __round__ method");
  if (method == "common") {
    if (!v.is_float()) {
      if (precision >= 0) return Value(v.as_int());
      double r = py_round(static_cast<double>(v.as_int()), precision);
      return Value(static_cast<int64_t>(r));
    }
    return Value(py_round(v.as_double(), precision));
  }
  double scale = std::pow(10.0, static_cast<double>(precision));
  double x = v.as_double() * scale;
  return Value((method == "ceil" ? std::ceil(x) : std::floor(x)) / scale);
}

Value f_safe(Interp&, const Value& v, CallArgs& a) {
  bind_args("safe", a, {});
  return Value(soft_str(v));
}

Value f_slice(Interp& in, const Value& v, CallArgs& a) {
  auto p = bind_args("slice", a, {"slices", "fill_with"});
  int64_t slices = to_int_arg(p[0], "slice");
  if (slices <= 0) throw RuntimeError("slices must be positive");
  in.count_steps(slices);  // slice(10**18) fails before looping
  List seq = py_iterate(v), out;
  in.count_steps(static_cast<int64_t>(seq.size()));
  int64_t length = static_cast<int64_t>(seq.size()), per = length / slices, extra = length % slices, offset = 0;
  for (int64_t n = 0; n < slices; ++n) {
    int64_t start = offset + n * per;
    if (n < extra) ++offset;
    int64_t end = offset + (n + 1) * per;
    List tmp(seq.begin() + start, seq.begin() + end);
    if (given(p[1]) && !p[1].is_none() && n >= extra) tmp.push_back(p[1]);
    out.push_back(Value::list(std::move(tmp)));
  }
  return Value::list(std::move(out));
}

Value f_sort(Interp& in, const Value& v, CallArgs& a) {
  auto p = bind_args("sort", a, {"reverse", "case_sensitive", "attribute"});
  List items = py_iterate(v);
  std::vector<Value> keys;
  for (const auto& item : items) keys.push_back(sort_key(in, item, p[2], p[1].truthy()));
  return Value::list(sorted_by(in, std::move(items), keys, p[0].truthy()));
}

Value f_string(Interp&, const Value& v, CallArgs& a) {
  bind_args("string", a, {});
  return Value(soft_str(v));
}

Value f_sum(Interp& in, const Value& v, CallArgs& a) {
  auto p = bind_args("sum", a, {"attribute", "start"});
  Value total = given(p[1]) ? p[1] : Value(0);
  for (const auto& item : py_iterate(v)) {
    Value x = given(p[0]) && !p[0].is_none() ? get_attribute(in, item, p[0]) : item;
    if (!total.is_number() || !x.is_number())
      throw RuntimeError("unsupported operand type(s) for +: '" + total.type_name() + "' and '" + x.type_name() + "'");
    if (total.is_float() || x.is_float()) {
      total = Value(total.as_double() + x.as_double());
    } else {
      int64_t r;
      if (__builtin_add_overflow(total.as_int(), x.as_int(), &r)) throw RuntimeError("integer overflow");
      total = Value(r);
    }
  }
  return total;
}

Value f_title(Interp&, const Value& v, CallArgs& a) {
  bind_args("title", a, {});
  // jinja2: capitalize each chunk after a run of [-\s({\[<]
  std::string out;
  bool at_start = true;
  for (char32_t c : utf8_decode(soft_str(v))) {
    bool sep = c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || py_isspace(c);
    std::string ch;
    utf8_append(ch, c);
    if (sep) {
      out += ch;
      at_start = true;
    } else {
      out += at_start ? py_upper(ch) : py_lower(ch);
      at_start = false;
    }
  }
  return Value(std::move(out));
}

Value f_tojson(Interp&, const Value& v, CallArgs& a) {
  auto p = bind_args("tojson", a, {"ensure_ascii", "indent", "separators", "sort_keys"});
  return Value(json_dumps(v, p[0].truthy(), p[1], p[2], p[3].truthy()));
}

Value f_trim(Interp&, const Value& v, CallArgs& a) {
  auto p = bind_args("trim", a, {"chars"});
  std::optional<std::string> chars;
  if (given(p[0]) && !p[0].is_none()) chars = soft_str(p[0]);
  return Value(py_strip(soft_str(v), chars, true, true));
}

Value f_truncate(Interp&, const Value& v, CallArgs& a) {
  auto p = bind_args("truncate", a, {"length", "killwords", "end", "leeway"});
  int64_t length = given(p[0]) ? to_int_arg(p[0], "truncate") : 255;
  std::string end = given(p[2]) ? soft_str(p[2]) : "...";
  int64_t leeway = given(p[3]) && !p[3].is_none() ? to_int_arg(p[3], "truncate") : 5;
  std::u32string s = utf8_decode(soft_str(v));
  int64_t end_len = static_cast<int64_t>(utf8_length(end));
  if (length < end_len) throw RuntimeError("expected length >= " + std::to_string(end_len) + ", got " + std::to_string(length));
  if (static_cast<int64_t>(s.size()) <= length + leeway) return Value(utf8_encode(s));
  std::u32string cut = s.substr(0, static_cast<size_t>(length - end_len));
  if (p[1].truthy()) return Value(utf8_encode(cut) + end);
  size_t sp = cut.rfind(U' ');
  if (sp != std::u32string::npos) cut = cut.substr(0, sp);
  return Value(utf8_encode(cut) + end);
}

Value f_unique(Interp& in, const Value& v, CallArgs& a) {
  auto p = bind_args("unique", a, {"case_sensitive", "attribute"});
  List out;
  std::vector<Value> seen;
  for (const auto& item : py_iterate(v)) {
    Value k = sort_key(in, item, p[1], p[0].truthy());
    if ((k.is_list() && !k.is_tuple()) || k.is_dict()) throw RuntimeError("unhashable type: '" + k.type_name() + "'");
    bool dup = false;
    for (const auto& s : seen) dup |= py_eq(s, k);
    in.count_steps(static_cast<int64_t>(seen.size()) + 1);
    if (!dup) {
      seen.push_back(k);
      out.push_back(item);
    }
  }
  return Value::list(std::move(out));
}

Value f_wordcount(Interp&, const Value& v, CallArgs& a) {
  bind_args("wordcount", a, {});
  int64_t n = 0;
  bool in_word = false;
  for (char32_t c : utf8_decode(soft_str(v))) {
    bool w = c == '_' || py_isalnum(c);
    if (w && !in_word) ++n;
    in_word = w;
  }
  return Value(n);
}

// ---- tests

bool t_defined(Interp&, const Value& v, CallArgs&) { return !v.is_undefined(); }
bool t_undefined(Interp&, const Value& v, CallArgs&) { return v.is_undefined(); }
bool t_none(Interp&, const Value& v, CallArgs&) { return v.is_none(); }
bool t_boolean(Interp&, const Value& v, CallArgs&) { return v.is_bool(); }
bool t_false(Interp&, const Value& v, CallArgs&) { return v.is_bool() && !v.as_bool(); }
bool t_true(Interp&, const Value& v, CallArgs&) { return v.is_bool() && v.as_bool(); }
bool t_integer(Interp&, const Value& v, CallArgs&) { return v.is_int(); }
bool t_float(Interp&, const Value& v, CallArgs&) { return v.is_float(); }
bool t_number(Interp&, const Value& v, CallArgs&) { return v.is_number(); }
bool t_string(Interp&, const Value& v, CallArgs&) { return v.is_string(); }
bool t_mapping(Interp&, const Value& v, CallArgs&) { return v.is_dict(); }
bool t_iterable(Interp&, const Value& v, CallArgs&) {
  return v.is_undefined() || v.is_string() || v.is_list() || v.is_dict();
}
bool t_callable(Interp&, const Value& v, CallArgs&) { return v.is_function(); }
bool t_escaped(Interp&, const Value&, CallArgs&) { return false; }

const Value& test_arg(CallArgs& a, const char* name) {
  if (a.args.empty()) throw RuntimeError(std::string(name) + "() missing 1 required positional argument");
  return a.args[0];
}
bool t_sameas(Interp&, const Value& v, CallArgs& a) { return v.same_object(test_arg(a, "sameas")); }
bool t_in(Interp&, const Value& v, CallArgs& a) { return py_contains(test_arg(a, "in"), v); }
bool t_eq(Interp&, const Value& v, CallArgs& a) { return py_eq(v, test_arg(a, "eq")); }
bool t_ne(Interp&, const Value& v, CallArgs& a) { return !py_eq(v, test_arg(a, "ne")); }
bool t_lt(Interp&, const Value& v, CallArgs& a) { return py_compare(v, test_arg(a, "lt"), "<") < 0; }
bool t_le(Interp&, const Value& v, CallArgs& a) { return py_compare(v, test_arg(a, "le"), "<=") <= 0; }
bool t_gt(Interp&, const Value& v, CallArgs& a) { return py_compare(v, test_arg(a, "gt"), ">") > 0; }
bool t_ge(Interp&, const Value& v, CallArgs& a) { return py_compare(v, test_arg(a, "ge"), ">=") >= 0; }

double py_mod(const Value& v, const Value& m) {
  if (!v.is_number() || !m.is_number())
    throw RuntimeError("unsupported operand type(s) for %: '" + v.type_name() + "' and '" + m.type_name() + "'");
  double x = v.as_double(), y = m.as_double();
  if (y == 0) throw RuntimeError("integer division or modulo by zero");
  double r = std::fmod(x, y);
  if (r != 0 && ((r < 0) != (y < 0))) r += y;
  return r;
}
bool t_odd(Interp&, const Value& v, CallArgs&) { return py_mod(v, Value(2)) == 1; }
bool t_even(Interp&, const Value& v, CallArgs&) { return py_mod(v, Value(2)) == 0; }
bool t_divisibleby(Interp&, const Value& v, CallArgs& a) { return py_mod(v, test_arg(a, "divisibleby")) == 0; }
bool t_lower(Interp&, const Value& v, CallArgs&) { return py_islower(v.to_str()); }
bool t_upper(Interp&, const Value& v, CallArgs&) { return py_isupper(v.to_str()); }
bool t_sequence(Interp&, const Value& v, CallArgs&) {
  return v.is_undefined() || v.is_string() || v.is_list() || v.is_dict();
}
bool t_filter(Interp&, const Value& v, CallArgs&) { return v.is_string() && find_filter(v.str()) != nullptr; }
bool t_test(Interp&, const Value& v, CallArgs&) { return v.is_string() && find_test(v.str()) != nullptr; }

}  // namespace

FilterFn find_filter(const std::string& name) {
  static const std::unordered_map<std::string, FilterFn> kFilters = {
      {"abs", f_abs}, {"attr", f_attr}, {"batch", f_batch}, {"capitalize", f_capitalize},
      {"center", f_center}, {"count", f_length}, {"d", f_default}, {"default", f_default},
      {"dictsort", f_dictsort}, {"e", f_escape}, {"escape", f_escape}, {"forceescape", f_escape},
      {"first", f_first}, {"float", f_float}, {"format", f_format}, {"indent", f_indent}, {"int", f_int},
      {"items", f_items}, {"join", f_join}, {"last", f_last}, {"length", f_length}, {"list", f_list},
      {"lower", f_lower}, {"map", f_map}, {"max", f_max}, {"min", f_min}, {"reject", f_reject},
      {"rejectattr", f_rejectattr}, {"replace", f_replace}, {"reverse", f_reverse}, {"round", f_round},
      {"safe", f_safe}, {"select", f_select}, {"selectattr", f_selectattr}, {"slice", f_slice},
      {"sort", f_sort}, {"string", f_string}, {"sum", f_sum}, {"title", f_title}, {"tojson", f_tojson},
      {"trim", f_trim}, {"truncate", f_truncate}, {"unique", f_unique}, {"upper", f_upper},
      {"wordcount", f_wordcount},
  };
  auto it = kFilters.find(name);
  return it == kFilters.end() ? nullptr : it->second;
}

TestFn find_test(const std::string& name) {
  static const std::unordered_map<std::string, TestFn> kTests = {
      {"defined", t_defined}, {"undefined", t_undefined}, {"none", t_none}, {"boolean", t_boolean},
      {"false", t_false}, {"true", t_true}, {"integer", t_integer}, {"float", t_float}, {"number", t_number},
      {"string", t_string}, {"mapping", t_mapping}, {"iterable", t_iterable}, {"sequence", t_sequence},
      {"callable", t_callable}, {"escaped", t_escaped}, {"sameas", t_sameas}, {"in", t_in},
      {"eq", t_eq}, {"equalto", t_eq}, {"==", t_eq}, {"ne", t_ne}, {"!=", t_ne}, {"lt", t_lt},
      {"lessthan", t_lt}, {"<", t_lt}, {"le", t_le}, {"<=", t_le}, {"gt", t_gt}, {"greaterthan", t_gt},
      {">", t_gt}, {"ge", t_ge}, {">=", t_ge}, {"odd", t_odd}, {"even", t_even},
      {"divisibleby", t_divisibleby}, {"lower", t_lower}, {"upper", t_upper}, {"filter", t_filter},
      {"test", t_test},
  };
  auto it = kTests.find(name);
  return it == kTests.end() ? nullptr : it->second;
}

}  // namespace autolm::jinja
