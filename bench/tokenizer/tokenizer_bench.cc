// tokenizer_bench <tokenizer.json> <text file> [repeats] [ids.bin]: prints JSON with load and
// encode timings (single-threaded, encode best of `repeats`) for bench_tokenizer.py to compare
// against HF tokenizers; writes the ids as little-endian int32 to ids.bin when given.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include "autolm/error.h"
#include "autolm/tokenizer.h"
#include "io/mmap.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s tokenizer.json text.txt [repeats]\n", argv[0]);
    return 2;
  }
  int repeats = argc > 3 ? std::atoi(argv[3]) : 3;
  try {
    using clock = std::chrono::steady_clock;
    auto t0 = clock::now();
    auto tok = autolm::Tokenizer::from_file(argv[1]);
    double load_s = std::chrono::duration<double>(clock::now() - t0).count();
    std::string text = autolm::read_text_file(argv[2]);
    double best = 1e30;
    std::vector<int32_t> ids;
    for (int r = 0; r < repeats; ++r) {
      auto t1 = clock::now();
      ids = tok->encode(text, false);
      best = std::min(best, std::chrono::duration<double>(clock::now() - t1).count());
    }
    size_t n = ids.size();
    if (argc > 4)
      std::ofstream(argv[4], std::ios::binary).write(reinterpret_cast<const char*>(ids.data()), n * sizeof(int32_t));
    std::printf("{\"load_s\": %.6f, \"encode_s\": %.6f, \"tokens\": %zu, \"bytes\": %zu}\n", load_s, best, n, text.size());
  } catch (const autolm::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
  return 0;
}
