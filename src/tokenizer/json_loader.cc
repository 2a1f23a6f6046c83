// tokenizer.json loading: nlohmann's SAX parser builds the JSON DOM for everything except
// "model"."vocab" and "model"."merges", which are streamed into ModelTables (in gemma3 these
// are 262k vocab entries and 515k merges that would otherwise become std::map nodes and
// small strings, then be copied once more into the model and destroyed).
#include "autolm/error.h"
#include "io/limits.h"
#include "tokenizer/components.h"

namespace autolm::tokenizer_detail {
namespace {

class Loader : public nlohmann::json_sax<json> {
 public:
  Loader(ModelTables& t, const std::string& source, size_t text_size)
      : t_(t), source_(source), text_size_(text_size) {}

  json root;

  bool null() override { return mode_ == kDom ? place(nullptr) : bad(); }
  bool boolean(bool v) override { return mode_ == kDom ? place(v) : bad(); }
  bool number_integer(number_integer_t v) override {
    if (mode_ == kDom) return place(v);
    if (mode_ == kVocabObject && v < 0 && depth_ == 1 && have_key_)
      throw Error(ErrorKind::kInvalidInput, source_ + ": negative token id for \"" + key_ + "\"");
    return number(static_cast<double>(v));
  }
  bool number_unsigned(number_unsigned_t v) override {
    if (mode_ == kDom) return place(v);
    if (mode_ == kVocabObject && depth_ == 1 && have_key_) {
      if (v > static_cast<uint64_t>(INT32_MAX))
        throw Error(ErrorKind::kInvalidInput, source_ + ": token id of \"" + key_ + "\" is out of range");
      t_.ids.push_back(static_cast<int32_t>(v));
      have_key_ = false;
      ++entry_;
      return true;
    }
    return number(static_cast<double>(v));
  }
  bool number_float(number_float_t v, const string_t&) override { return mode_ == kDom ? place(v) : number(v); }
  bool string(string_t& s) override {
    if (mode_ == kDom) return place(s);
    if (mode_ == kMerges && depth_ == 1) {  // "a b"
      size_t sp = s.find(' ');
      if (sp == std::string::npos)
        throw Error(ErrorKind::kInvalidInput, source_ + ": BPE merge \"" + s + "\" is not \"a b\"");
      std::string_view v(s);
      t_.merges.add(v.substr(0, sp));
      t_.merges.add(v.substr(sp + 1));
      ++entry_;
      return true;
    }
    if (depth_ != 2 || mode_ == kVocabObject) return bad();
    if (field_ == 0) {  // [piece, score] or [a, b]
      (mode_ == kVocabArray ? t_.tokens : t_.merges).add(s);
      field_ = 1;
      return true;
    }
    if (field_ == 1 && mode_ == kMerges) {
      t_.merges.add(s);
      field_ = 2;
      return true;
    }
    return bad();
  }
  bool binary(binary_t&) override { return bad(); }
  bool key(string_t& s) override {
    if (mode_ == kDom) {
      key_ = s;
      return true;
    }
    if (mode_ != kVocabObject || depth_ != 1 || have_key_) return bad();
    t_.tokens.add(s);
    key_ = s;
    have_key_ = true;
    return true;
  }
  bool start_object(std::size_t) override {
    if (mode_ != kDom) return bad();
    if (start_stream(kVocabObject)) return true;
    check_depth();
    bool is_model = stack_.size() == 1 && stack_[0]->is_object() && key_ == "model";
    json* p = slot(json::object());
    stack_.push_back(p);
    if (is_model) model_ = p;
    return true;
  }
  bool start_array(std::size_t) override {
    if (mode_ != kDom) {
      if (++depth_ != 2 || mode_ == kVocabObject) return bad();
      field_ = 0;
      return true;
    }
    if (start_stream(key_ == "vocab" ? kVocabArray : kMerges)) return true;
    check_depth();
    stack_.push_back(slot(json::array()));
    return true;
  }
  bool end_object() override { return end(); }
  bool end_array() override { return end(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    throw Error(ErrorKind::kInvalidInput, source_ + ": malformed JSON: " + e.what());
  }

 private:
  enum Mode { kDom, kVocabObject, kVocabArray, kMerges };

  // The DOM part nests at most InputLimits::json_max_depth deep, as parse_json allows: a
  // "Sequence" nested thousands deep would otherwise overflow the stack here or later.
  void check_depth() const {
    const int max_depth = input_limits().json_max_depth;
    if (stack_.size() >= static_cast<size_t>(max_depth))
      throw Error(ErrorKind::kInvalidInput, source_ + ": JSON nested deeper than " + std::to_string(max_depth) +
                                                " levels (limit AUTOLM_MAX_JSON_DEPTH)");
  }

  json* slot(json&& v) {
    if (stack_.empty()) {
      root = std::move(v);
      return &root;
    }
    json& top = *stack_.back();
    if (top.is_array()) {
      top.push_back(std::move(v));
      return &top.back();
    }
    json& s = top[key_];
    s = std::move(v);
    return &s;
  }
  bool place(json&& v) {
    slot(std::move(v));
    return true;
  }
  // A container opening as the value of model.vocab / model.merges starts streaming.
  bool start_stream(Mode m) {
    if (stack_.size() != 2 || stack_.back() != model_ || (key_ != "vocab" && key_ != "merges")) return false;
    if (key_ == "merges") {
      if (m == kVocabObject) return false;  // not a list: left in the DOM for the model to refuse
      m = kMerges;
      t_.has_merges = true;
      t_.merges = StringTable();
      t_.merges.reserve(text_size_ / 8, text_size_ / 2);  // address space only: untouched pages cost nothing
    } else {
      t_.vocab = m == kVocabObject ? ModelTables::Vocab::kObject : ModelTables::Vocab::kArray;
      t_.tokens = StringTable();
      t_.tokens.reserve(text_size_ / 16, text_size_ / 4);
      t_.ids.clear();
      t_.scores.clear();
    }
    mode_ = m;
    depth_ = 1;
    entry_ = 0;
    have_key_ = false;
    return true;
  }
  bool number(double v) {
    if (mode_ != kVocabArray || depth_ != 2 || field_ != 1) return bad();
    t_.scores.push_back(v);
    field_ = 2;
    return true;
  }
  bool end() {
    if (mode_ == kDom) {
      stack_.pop_back();
      return true;
    }
    if (--depth_ == 0) {
      if (have_key_) return bad();
      mode_ = kDom;
      return true;
    }
    if (field_ != 2) return bad();
    ++entry_;
    return true;
  }
  [[noreturn]] bool bad() {
    std::string n = std::to_string(entry_);
    if (mode_ == kVocabObject)
      throw Error(ErrorKind::kInvalidInput, source_ + ": vocab id of \"" + key_ + "\" is not an integer");
    if (mode_ == kVocabArray)
      throw Error(ErrorKind::kInvalidInput, source_ + ": Unigram vocab entry " + n + " is not [piece, score]");
    throw Error(ErrorKind::kInvalidInput, source_ + ": BPE merge " + n + " is not a pair of strings");
  }

  ModelTables& t_;
  const std::string& source_;
  size_t text_size_;
  std::vector<json*> stack_;
  json* model_ = nullptr;
  std::string key_;
  Mode mode_ = kDom;
  int depth_ = 0;      // open containers inside the streamed value (1 = the value itself)
  int field_ = 0;      // strings/numbers seen in the current [piece, score] / [a, b]
  size_t entry_ = 0;   // entries streamed so far, for error messages
  bool have_key_ = false;
};

}  // namespace

json parse_tokenizer_json(std::string_view text, ModelTables& tables, const std::string& source) {
  Loader h(tables, source, text.size());
  if (!json::sax_parse(text.data(), text.data() + text.size(), &h))
    throw Error(ErrorKind::kInvalidInput, source + ": malformed JSON");
  return std::move(h.root);
}

}  // namespace autolm::tokenizer_detail
