#include "io/torch_bin.h"

#include <cstring>
#include <memory>
#include <optional>
#include <variant>
#include <vector>

#include "autolm/error.h"

namespace autolm {

namespace {

Error bad(const std::string& path, const std::string& what) {
  return Error(ErrorKind::kInvalidInput, path + ": invalid PyTorch checkpoint: " + what);
}

uint16_t le16(const unsigned char* p) { return uint16_t(p[0] | p[1] << 8); }
uint32_t le32(const unsigned char* p) { return uint32_t(le16(p)) | uint32_t(le16(p + 2)) << 16; }
uint64_t le64(const unsigned char* p) { return uint64_t(le32(p)) | uint64_t(le32(p + 4)) << 32; }

// ---- zip: the central directory, with ZIP64 sizes/offsets, every field bounds-checked.

struct ZipEntry {
  const unsigned char* data;  // the stored bytes
  uint64_t size;
};

std::map<std::string, ZipEntry> read_zip(const MappedFile& f) {
  const std::string& path = f.path();
  const unsigned char* p = f.data();
  const uint64_t n = f.size();
  if (n < 22 || le32(p) != 0x04034b50)
    throw bad(path, "not a zip archive (a legacy pre-1.6 torch.save pickle, or not a checkpoint); re-save it "
                    "with a current torch or convert it to safetensors");
  // End of central directory: the last 22 bytes plus a comment of up to 65535.
  int64_t eocd = -1;
  for (int64_t i = int64_t(n) - 22; i >= 0 && i >= int64_t(n) - 22 - 65535; --i)
    if (le32(p + i) == 0x06054b50) {
      eocd = i;
      break;
    }
  if (eocd < 0) throw bad(path, "zip end-of-central-directory record not found (truncated file?)");
  uint64_t count = le16(p + eocd + 10), cd_size = le32(p + eocd + 12), cd_off = le32(p + eocd + 16);
  if (count == 0xFFFF || cd_size == 0xFFFFFFFF || cd_off == 0xFFFFFFFF) {  // ZIP64
    if (eocd < 20 || le32(p + eocd - 20) != 0x07064b50) throw bad(path, "zip64 locator missing");
    const uint64_t z64 = le64(p + eocd - 20 + 8);
    if (z64 > n - 56 || le32(p + z64) != 0x06064b50) throw bad(path, "zip64 end record out of bounds");
    count = le64(p + z64 + 32);
    cd_size = le64(p + z64 + 40);
    cd_off = le64(p + z64 + 48);
  }
  if (cd_off > n || cd_size > n - cd_off) throw bad(path, "zip central directory lies outside the file");
  if (count > cd_size / 46) throw bad(path, "zip central directory claims " + std::to_string(count) + " entries");
  std::map<std::string, ZipEntry> entries;
  uint64_t at = cd_off;
  for (uint64_t e = 0; e < count; ++e) {
    if (cd_off + cd_size - at < 46 || le32(p + at) != 0x02014b50) throw bad(path, "corrupt zip central directory");
    const uint16_t method = le16(p + at + 10);
    uint64_t csize = le32(p + at + 20), usize = le32(p + at + 24);
    const uint16_t name_len = le16(p + at + 28), extra_len = le16(p + at + 30), comment_len = le16(p + at + 32);
    uint64_t local = le32(p + at + 42);
    if (cd_off + cd_size - at - 46 < uint64_t(name_len) + extra_len + comment_len) throw bad(path, "corrupt zip central directory");
    std::string name(reinterpret_cast<const char*>(p + at + 46), name_len);
    // ZIP64 extra field: the 0xFFFFFFFF fields, in order usize, csize, local offset.
    for (uint64_t x = at + 46 + name_len; x + 4 <= at + 46 + name_len + extra_len;) {
      const uint16_t id = le16(p + x), len = le16(p + x + 2);
      if (x + 4 + len > at + 46 + name_len + extra_len) break;
      if (id == 0x0001) {
        uint64_t q = x + 4;
        auto take = [&](uint64_t& v) {
          if (v == 0xFFFFFFFF && q + 8 <= x + 4 + len) v = le64(p + q), q += 8;
        };
        take(usize);
        take(csize);
        take(local);
      }
      x += 4 + len;
    }
    at += 46 + uint64_t(name_len) + extra_len + comment_len;
    if (local > n - 30 || le32(p + local) != 0x04034b50) throw bad(path, "zip entry \"" + name + "\": bad local header");
    const uint64_t data = local + 30 + le16(p + local + 26) + le16(p + local + 28);
    if (data > n || csize > n - data) throw bad(path, "zip entry \"" + name + "\" runs past the end of the file");
    if (method != 0 || csize != usize)
      throw bad(path, "zip entry \"" + name + "\" is compressed (method " + std::to_string(method) +
                          "); torch.save stores entries uncompressed");
    entries[name] = {p + data, usize};
  }
  return entries;
}

// ---- the restricted unpickler

struct Storage {
  std::string dtype;  // safetensors spelling: F32, BF16…
  std::string key;    // data/<key> in the archive
  uint64_t numel;
};

struct Value;
using ValuePtr = std::shared_ptr<const Value>;

struct Tensor {
  Storage storage;
  uint64_t offset;  // elements
  std::vector<int64_t> size, stride;
};

struct Value {
  enum Kind { kNone, kBool, kInt, kFloat, kString, kTuple, kList, kDict, kGlobal, kStorage, kTensor } kind = kNone;
  int64_t i = 0;
  double f = 0;
  std::string s;                                     // string, or "module.name" for a global
  std::vector<ValuePtr> items;                        // tuple, list
  std::vector<std::pair<ValuePtr, ValuePtr>> pairs;  // dict
  std::optional<Storage> storage;
  std::optional<Tensor> tensor;
  int depth = 1;  // nesting, bounded so that destruction cannot recurse deeply
};

// The globals torch.load(weights_only=True) allows that a state dict uses.
const std::map<std::string, std::string>& storage_types() {
  static const std::map<std::string, std::string> m = {
      {"torch.FloatStorage", "F32"},   {"torch.HalfStorage", "F16"}, {"torch.BFloat16Storage", "BF16"},
      {"torch.DoubleStorage", "F64"},  {"torch.LongStorage", "I64"}, {"torch.IntStorage", "I32"},
      {"torch.ShortStorage", "I16"},   {"torch.CharStorage", "I8"},  {"torch.ByteStorage", "U8"},
      {"torch.BoolStorage", "BOOL"}};
  return m;
}
bool allowed_global(const std::string& g) {
  return storage_types().count(g) || g == "collections.OrderedDict" || g == "torch._utils._rebuild_tensor_v2" ||
         g == "torch._utils._rebuild_parameter" || g == "torch._utils._rebuild_parameter_with_state" ||
         g == "torch._tensor._rebuild_from_type_v2" || g == "torch.nn.parameter.Parameter" ||
         g == "torch.Tensor" || g == "torch._tensor.Tensor";
}

size_t element_bytes(const std::string& dtype) {
  if (dtype == "F64" || dtype == "I64") return 8;
  if (dtype == "F32" || dtype == "I32") return 4;
  if (dtype == "F16" || dtype == "BF16" || dtype == "I16") return 2;
  return 1;
}

class Unpickler {
 public:
  Unpickler(const std::string& path, const unsigned char* p, uint64_t n) : path_(path), p_(p), n_(n) {}

  ValuePtr run() {
    for (;;) {
      const unsigned char op = byte();
      switch (op) {
        case 0x80: byte(); break;                         // PROTO
        case 0x95: take(8); break;                        // FRAME
        case '.': return pop();                           // STOP
        case '(': marks_.push_back(stack_.size()); break; // MARK
        case 'N': push(make(Value::kNone)); break;
        case 0x88: push(boolean(true)); break;            // NEWTRUE
        case 0x89: push(boolean(false)); break;           // NEWFALSE
        case 'K': push(integer(byte())); break;           // BININT1
        case 'M': push(integer(le16(take(2)))); break;    // BININT2
        case 'J': push(integer(int32_t(le32(take(4))))); break;  // BININT
        case 0x8a: {                                      // LONG1
          const unsigned len = byte();
          if (len > 8) fail("integer of " + std::to_string(len) + " bytes");
          const unsigned char* b = take(len);
          int64_t v = 0;
          for (unsigned k = 0; k < len; ++k) v |= int64_t(b[k]) << (8 * k);
          if (len > 0 && len < 8 && (b[len - 1] & 0x80)) v -= int64_t(1) << (8 * len);
          push(integer(v));
          break;
        }
        case 'G': {                                       // BINFLOAT (big-endian double)
          const unsigned char* b = take(8);
          uint64_t bits = 0;
          for (int k = 0; k < 8; ++k) bits = bits << 8 | b[k];
          auto v = std::make_shared<Value>();
          v->kind = Value::kFloat;
          std::memcpy(&v->f, &bits, 8);
          push(v);
          break;
        }
        case 'X': push(string(le32(take(4)))); break;     // BINUNICODE
        case 0x8c: push(string(byte())); break;           // SHORT_BINUNICODE
        case 0x8d: push(string(le64(take(8)))); break;    // BINUNICODE8
        case 'U': push(string(byte())); break;            // SHORT_BINSTRING
        case 'T': push(string(le32(take(4)))); break;     // BINSTRING
        case 'c': {                                       // GLOBAL "module\nname\n"
          std::string module = line(), name = line();
          push(global(module + "." + name));
          break;
        }
        case 0x93: {                                      // STACK_GLOBAL
          ValuePtr name = pop(), module = pop();
          if (module->kind != Value::kString || name->kind != Value::kString) fail("STACK_GLOBAL of non-strings");
          push(global(module->s + "." + name->s));
          break;
        }
        case ')': push(make(Value::kTuple)); break;       // EMPTY_TUPLE
        case ']': push(make(Value::kList)); break;        // EMPTY_LIST
        case '}': push(make(Value::kDict)); break;        // EMPTY_DICT
        case 't': push(sequence(Value::kTuple, pop_mark())); break;
        case 'l': push(sequence(Value::kList, pop_mark())); break;
        case 0x85: push(sequence(Value::kTuple, pop_n(1))); break;  // TUPLE1
        case 0x86: push(sequence(Value::kTuple, pop_n(2))); break;  // TUPLE2
        case 0x87: push(sequence(Value::kTuple, pop_n(3))); break;  // TUPLE3
        case 'd': push(dict_of(make(Value::kDict), pop_mark())); break;  // DICT
        case 'a': {                                       // APPEND
          ValuePtr v = pop();
          push(appended(pop(), {v}));
          break;
        }
        case 'e': {                                       // APPENDS
          auto items = pop_mark();
          push(appended(pop(), items));
          break;
        }
        case 's': {                                       // SETITEM
          ValuePtr v = pop(), k = pop();
          push(dict_of(pop(), {k, v}));
          break;
        }
        case 'u': {                                       // SETITEMS
          auto items = pop_mark();
          push(dict_of(pop(), items));
          break;
        }
        case 'q': memo(byte()); break;                    // BINPUT
        case 'r': memo(le32(take(4))); break;             // LONG_BINPUT
        case 0x94: memo(memo_.size()); break;             // MEMOIZE
        case 'h': push(recall(byte())); break;            // BINGET
        case 'j': push(recall(le32(take(4)))); break;     // LONG_BINGET
        case 'Q': push(persistent(pop())); break;         // BINPERSID
        case 'R': {                                       // REDUCE
          ValuePtr args = pop(), fn = pop();
          push(reduce(fn, args));
          break;
        }
        case 'b': {                                       // BUILD: OrderedDict._metadata, Parameter state
          pop();
          break;
        }
        default: {
          char hex[8];
          std::snprintf(hex, sizeof hex, "0x%02x", op);
          fail(std::string("pickle opcode ") + hex + " is not allowed (weights_only loading accepts tensors, "
                                                     "storages, OrderedDict and primitive containers only)");
        }
      }
    }
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw bad(path_, "data.pkl at byte " + std::to_string(pos_) + ": " + what);
  }
  unsigned char byte() { return *take(1); }
  const unsigned char* take(uint64_t k) {
    if (k > n_ - pos_) fail("unexpected end of the pickle");
    const unsigned char* b = p_ + pos_;
    pos_ += k;
    return b;
  }
  std::string line() {
    std::string s;
    for (;;) {
      const char c = char(byte());
      if (c == '\n') return s;
      if (s.size() > 256) fail("global name too long");
      s += c;
    }
  }
  void push(ValuePtr v) {
    if (stack_.size() >= kMaxStack) fail("pickle stack over " + std::to_string(kMaxStack) + " entries");
    stack_.push_back(std::move(v));
  }
  ValuePtr pop() {
    if (stack_.size() <= (marks_.empty() ? 0 : marks_.back())) fail("pickle stack underflow");
    ValuePtr v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  std::vector<ValuePtr> pop_n(size_t k) {
    std::vector<ValuePtr> out(k);
    for (size_t i = k; i-- > 0;) out[i] = pop();
    return out;
  }
  std::vector<ValuePtr> pop_mark() {
    if (marks_.empty()) fail("pickle MARK missing");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<ValuePtr> out(stack_.begin() + m, stack_.end());
    stack_.resize(m);
    return out;
  }
  void memo(uint64_t k) {
    if (stack_.empty()) fail("memo of an empty stack");
    if (memo_.size() >= kMaxMemo && !memo_.count(k)) fail("over " + std::to_string(kMaxMemo) + " memo entries");
    memo_[k] = stack_.back();
  }
  ValuePtr recall(uint64_t k) {
    auto it = memo_.find(k);
    if (it == memo_.end()) fail("memo index " + std::to_string(k) + " was never stored");
    return it->second;
  }
  static std::shared_ptr<Value> make(Value::Kind k) {  // NOLINT: values are built then frozen
    auto v = std::make_shared<Value>();
    v->kind = k;
    return v;
  }
  static ValuePtr boolean(bool b) {
    auto v = make(Value::kBool);
    v->i = b;
    return v;
  }
  static ValuePtr integer(int64_t i) {
    auto v = make(Value::kInt);
    v->i = i;
    return v;
  }
  ValuePtr string(uint64_t len) {
    auto v = make(Value::kString);
    const unsigned char* b = take(len);
    v->s.assign(reinterpret_cast<const char*>(b), len);
    return v;
  }
  ValuePtr global(const std::string& name) {
    if (!allowed_global(name))
      fail("global \"" + name + "\" is not allowed (only what torch.load(weights_only=True) accepts for a state "
                                "dict); the file was not loaded and nothing in it was run");
    auto v = make(Value::kGlobal);
    v->s = name;
    return v;
  }
  int depth_of(const std::vector<ValuePtr>& items) {
    int d = 0;
    for (const auto& i : items) d = std::max(d, i->depth);
    if (d + 1 > kMaxDepth) fail("containers nested deeper than " + std::to_string(kMaxDepth));
    return d + 1;
  }
  ValuePtr sequence(Value::Kind k, std::vector<ValuePtr> items) {
    auto v = make(k);
    v->depth = depth_of(items);
    v->items = std::move(items);
    return v;
  }
  // Containers are immutable values; APPEND/SETITEMS build a new one. That keeps nesting depth
  // exact and cycles impossible; the copying is bounded by a work budget (a state dict's
  // SETITEMS come in batches of 1,000, far below it).
  void spend(uint64_t n) {
    work_ += n;
    if (work_ > kMaxWork) fail("pickle builds containers too inefficiently (work limit)");
  }
  ValuePtr appended(const ValuePtr& list, const std::vector<ValuePtr>& items) {
    if (list->kind != Value::kList) fail("APPEND to a non-list");
    spend(list->items.size() + items.size());
    auto v = std::make_shared<Value>(*list);
    v->items.insert(v->items.end(), items.begin(), items.end());
    v->depth = std::max(list->depth, depth_of(items));
    return v;
  }
  ValuePtr dict_of(const ValuePtr& dict, const std::vector<ValuePtr>& kv) {
    if (dict->kind != Value::kDict) fail("SETITEM on a non-dict");
    if (kv.size() % 2) fail("SETITEMS with an odd number of items");
    spend(dict->pairs.size() + kv.size());
    auto v = std::make_shared<Value>(*dict);
    for (size_t i = 0; i < kv.size(); i += 2) v->pairs.emplace_back(kv[i], kv[i + 1]);
    v->depth = std::max(dict->depth, depth_of(kv));
    return v;
  }
  // ('storage', <storage type>, key, location, numel)
  ValuePtr persistent(const ValuePtr& pid) {
    const auto& t = pid->items;
    if (pid->kind != Value::kTuple || t.size() != 5 || t[0]->kind != Value::kString || t[0]->s != "storage" ||
        t[1]->kind != Value::kGlobal || !storage_types().count(t[1]->s) || t[2]->kind != Value::kString ||
        t[4]->kind != Value::kInt || t[4]->i < 0)
      fail("persistent id is not a ('storage', type, key, location, numel) tuple");
    auto v = make(Value::kStorage);
    v->storage = Storage{storage_types().at(t[1]->s), t[2]->s, uint64_t(t[4]->i)};
    return v;
  }
  std::vector<int64_t> ints(const ValuePtr& v, const char* what) {
    if (v->kind != Value::kTuple && v->kind != Value::kList) fail(std::string(what) + " is not a tuple");
    if (v->items.size() > 8) fail(std::string(what) + " has more than 8 dimensions");
    std::vector<int64_t> out;
    for (const auto& i : v->items) {
      if (i->kind != Value::kInt || i->i < 0) fail(std::string(what) + " holds a non-integer or negative value");
      out.push_back(i->i);
    }
    return out;
  }
  ValuePtr reduce(const ValuePtr& fn, const ValuePtr& args) {
    if (fn->kind != Value::kGlobal || args->kind != Value::kTuple) fail("REDUCE of a non-global");
    const auto& a = args->items;
    if (fn->s == "collections.OrderedDict") {
      if (!a.empty()) fail("OrderedDict with arguments");
      return make(Value::kDict);
    }
    if (fn->s == "torch._utils._rebuild_tensor_v2") {
      // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
      if (a.size() < 4 || a[0]->kind != Value::kStorage || a[1]->kind != Value::kInt || a[1]->i < 0)
        fail("_rebuild_tensor_v2 with unexpected arguments");
      auto v = make(Value::kTensor);
      v->tensor = Tensor{*a[0]->storage, uint64_t(a[1]->i), ints(a[2], "tensor size"), ints(a[3], "tensor stride")};
      return v;
    }
    if (fn->s == "torch._utils._rebuild_parameter" || fn->s == "torch._utils._rebuild_parameter_with_state") {
      if (a.empty() || a[0]->kind != Value::kTensor) fail("_rebuild_parameter of a non-tensor");
      return a[0];
    }
    if (fn->s == "torch._tensor._rebuild_from_type_v2") {  // (func, type, args, state)
      if (a.size() < 3) fail("_rebuild_from_type_v2 with unexpected arguments");
      return reduce(a[0], a[2]);
    }
    fail("\"" + fn->s + "\" cannot be called while loading");
  }

  static constexpr size_t kMaxStack = size_t(1) << 20, kMaxMemo = size_t(1) << 20;
  static constexpr int kMaxDepth = 64;
  static constexpr uint64_t kMaxWork = uint64_t(1) << 28;
  uint64_t work_ = 0;
  const std::string& path_;
  const unsigned char* p_;
  uint64_t n_, pos_ = 0;
  std::vector<ValuePtr> stack_;
  std::vector<size_t> marks_;
  std::map<uint64_t, ValuePtr> memo_;
};

}  // namespace

TorchBinFile::TorchBinFile(const std::string& path) : map_(path) {
  const auto entries = read_zip(map_);
  // Entries are "<archive>/data.pkl", "<archive>/data/<key>", "<archive>/byteorder".
  std::string prefix;
  for (const auto& [name, e] : entries)
    if (name.size() >= 8 && name.compare(name.size() - 8, 8, "data.pkl") == 0 &&
        (name.size() == 8 || name[name.size() - 9] == '/')) {
      prefix = name.substr(0, name.size() - 8);
      break;
    }
  if (!entries.count(prefix + "data.pkl")) throw bad(path, "no data.pkl in the archive");
  if (auto bo = entries.find(prefix + "byteorder"); bo != entries.end()) {
    const std::string order(reinterpret_cast<const char*>(bo->second.data), bo->second.size);
    if (order != "little") throw bad(path, "byteorder \"" + order + "\" (only little-endian checkpoints are supported)");
  }
  const ZipEntry& pkl = entries.at(prefix + "data.pkl");
  ValuePtr root = Unpickler(path, pkl.data, pkl.size).run();
  if (root->kind != Value::kDict) throw bad(path, "data.pkl is not a state dict (a dict of tensors)");
  for (const auto& [k, v] : root->pairs) {
    if (k->kind != Value::kString) throw bad(path, "state dict key is not a string");
    if (v->kind != Value::kTensor) continue;  // non-tensor entries (e.g. _metadata) are not weights
    const Tensor& t = *v->tensor;
    if (t.size.size() != t.stride.size()) throw bad(path, "tensor \"" + k->s + "\": size and stride differ in rank");
    const std::string entry = prefix + "data/" + t.storage.key;
    auto it = entries.find(entry);
    if (it == entries.end()) throw bad(path, "tensor \"" + k->s + "\": storage \"" + entry + "\" is not in the archive");
    const uint64_t esize = element_bytes(t.storage.dtype);
    // Contiguous, row-major (what a state dict holds), overflow-checked.
    uint64_t numel = 1, expect_stride = 1;
    for (size_t d = t.size.size(); d-- > 0;) {
      if (t.size[d] != 1 && uint64_t(t.stride[d]) != expect_stride)
        throw bad(path, "tensor \"" + k->s + "\" is not contiguous (a view); save a contiguous copy");
      if (t.size[d] != 0 && expect_stride > UINT64_MAX / uint64_t(t.size[d])) throw bad(path, "tensor \"" + k->s + "\" is too large");
      expect_stride *= uint64_t(t.size[d]);
    }
    numel = expect_stride;
    const uint64_t storage_bytes = it->second.size;
    if (t.storage.numel > storage_bytes / esize || t.offset > t.storage.numel || numel > t.storage.numel - t.offset)
      throw bad(path, "tensor \"" + k->s + "\" (offset " + std::to_string(t.offset) + ", " + std::to_string(numel) +
                          " elements) runs past its storage \"" + entry + "\" (" + std::to_string(storage_bytes) + " bytes)");
    TensorInfo info;
    info.dtype = t.storage.dtype;
    info.shape.assign(t.size.begin(), t.size.end());
    info.ptr = it->second.data + t.offset * esize;
    info.nbytes = numel * esize;
    info.file = &map_.path();
    info.mapping = &map_;
    tensors_[k->s] = std::move(info);
  }
}

}  // namespace autolm
