// Replays inputs through a fuzz target without libFuzzer: `fuzz_<target>_replay DIR|FILE...`
// runs LLVMFuzzerTestOneInput on every file (directories recursively). Built with the test
// suite (ctest FuzzReplay.<target>) so that the committed corpus and every regression input
// (fuzz/regressions/) run on each build, under the sanitizers too (scripts/sanitize.sh); a
// finding aborts, as under libFuzzer.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) __attribute__((weak));

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  namespace fs = std::filesystem;
  size_t count = 0;
  auto run = [&](const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::fprintf(stderr, "replay %s (%zu bytes)\n", p.c_str(), bytes.size());
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    ++count;
  };
  for (int i = 1; i < argc; ++i) {
    const fs::path arg(argv[i]);
    if (fs::is_directory(arg)) {
      for (const auto& e : fs::recursive_directory_iterator(arg))
        if (e.is_regular_file() && e.path().filename() != "README.md") run(e.path());
    } else if (fs::exists(arg)) {
      run(arg);
    }
  }
  std::printf("%zu inputs replayed\n", count);
  return 0;
}
