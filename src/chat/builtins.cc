// Globals (range, dict, namespace, cycler, joiner, raise_exception, strftime_now) and the methods of
// str/dict/list values under jinja2's immutable sandbox (mutating methods are "unsafe").
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "autolm/error.h"
#include "chat/args.h"
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



// ---- methods of str, dict and list

static Value method(const std::string& name, NativeFn fn) { return Value::function(name, std::move(fn)); }
// A method holding its receiver nests one level below it (see Value::kMaxNesting).
static Value bound(const Value& self, const std::string& name, NativeFn fn) {
  return Value::function(name, std::move(fn), self.depth());
}

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
        check_grow(out.size(), (i ? s.size() : 0) + items[i].str().size());  // before appending
        if (i) out += s;
        out += items[i].str();
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
      check_grow(0, static_cast<uint64_t>(std::max<int64_t>(0, width)));  // the fill is checked below
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
        check_grow_times(s.size(), fill.size(), static_cast<uint64_t>(pad));
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
    return bound(self, name, [self](Interp&, CallArgs& a) {
      auto p = bind_args("get", a, {"key", "default"});
      const Value* v = self.dict().find(p[0]);
      return v ? *v : given(p[1]) ? p[1] : Value::none();
    });
  }
  if (name == "items" || name == "keys" || name == "values") {
    return bound(self, name, [self, name](Interp&, CallArgs&) {
      List out;
      for (const auto& [k, v] : self.dict().items())
        out.push_back(name == "items" ? Value::list({k, v}, true) : name == "keys" ? k : v);
      return Value::list(std::move(out));
    });
  }
  if (name == "copy") return bound(self, name, [self](Interp&, CallArgs&) { return Value::dict(self.dict()); });
  static const char* kMutators[] = {"clear", "pop", "popitem", "setdefault", "update"};
  for (const char* m : kMutators)
    if (name == m) return unsafe(self, name);
  return Value::undefined();
}

static Value list_method(const Value& self, const std::string& name) {
  if (name == "index") {
    return bound(self, name, [self](Interp&, CallArgs& a) {
      auto p = bind_args("index", a, {"value", "start", "stop"});
      const List& l = self.list();
      for (size_t i = 0; i < l.size(); ++i)
        if (py_eq(l[i], p[0])) return Value(static_cast<int64_t>(i));
      throw RuntimeError(p[0].repr() + " is not in list");
    });
  }
  if (name == "count") {
    return bound(self, name, [self](Interp&, CallArgs& a) {
      auto p = bind_args("count", a, {"value"});
      int64_t n = 0;
      for (const auto& e : self.list()) n += py_eq(e, p[0]) ? 1 : 0;
      return Value(n);
    });
  }
  if (name == "copy" && !self.is_tuple()) return bound(self, name, [self](Interp&, CallArgs&) { return Value::list(self.list()); });
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
class Cycler : public Object, public std::enable_shared_from_this<Cycler> {
 public:
  explicit Cycler(List items) : items_(std::move(items)) {}
  std::string type_name() const override { return "Cycler"; }
  void clear_refs() override { items_.clear(); }
  Value get_attr(const std::string& name) override {
    if (name == "current") return items_.empty() ? Value::undefined("cycler was reset") : items_[pos_];
    if (name == "next") {
      auto self = shared_from_this();  // the bound method may outlive every other reference
      return Value::function("next", [self](Interp&, CallArgs&) {
        if (self->items_.empty()) return Value::undefined("cycler was reset");
        Value v = self->items_[self->pos_];
        self->pos_ = (self->pos_ + 1) % self->items_.size();
        return v;
      });
    }
    if (name == "reset") {
      auto self = shared_from_this();
      return Value::function("reset", [self](Interp&, CallArgs&) {
        self->pos_ = 0;
        return Value::none();
      });
    }
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
    // In 128 bits: range(-2**62, 2**62) must not overflow into a small or negative length.
    const __int128 lo = start, hi = stop, st = step;
    const __int128 len = st > 0 ? (hi > lo ? (hi - lo + st - 1) / st : 0) : (lo > hi ? (lo - hi - st - 1) / -st : 0);
    const int64_t n = len > 100000 ? 100001 : static_cast<int64_t>(len);
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
  g.set(Value("namespace"), Value::function("namespace", [](Interp& in, CallArgs& a) {
    auto ns = std::make_shared<Namespace>();
    in.track(ns);
    if (a.args.size() > 1) throw RuntimeError("namespace expected at most 1 argument");
    if (a.args.size() == 1) {
      if (!a.args[0].is_dict()) throw RuntimeError("namespace() argument must be a mapping");
      for (const auto& [k, v] : a.args[0].dict().items()) ns->set(k.to_str(), v);
    }
    for (const auto& [k, v] : a.kwargs) ns->set(k, v);
    return Value::object(ns);
  }));
  g.set(Value("cycler"), Value::function("cycler", [](Interp& in, CallArgs& a) {
    if (a.args.empty()) throw RuntimeError("at least one item has to be provided");
    auto c = std::make_shared<Cycler>(a.args);
    in.track(c);
    return Value::object(c);
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
