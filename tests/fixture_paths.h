// Test helpers: paths to the parity fixtures and readers for the reference files.
//
// Two roots:
//  - tests/data/fixtures (in the repository, AUTOLM_FIXTURES): tiny random checkpoints, the
//    tokenizers whose licences allow committing them, and references made by
//    tests/data/make_fixtures.py from transformers 5.24 — a clone alone passes its tests;
//  - ../shared/fixtures (AUTOLM_SHARED_FIXTURES, optional): the project's shared fixtures
//    (references from transformers 5.17, and vendor tokenizers whose licences keep them out of
//    the repository). Tests that need it skip, saying so, when it is absent.
// A name prefixed "shared:" (e.g. "shared:llama-tiny") reads the shared copy: the parity suites
// run once against each root, the shared one as a cross-check.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace autolm::test {

inline std::string fixtures() { return AUTOLM_FIXTURES; }
inline std::string shared_fixtures() { return AUTOLM_SHARED_FIXTURES; }
inline bool has_shared_fixtures() { return std::filesystem::is_directory(shared_fixtures()); }

// `rel` (e.g. "tokenizers/gemma3") in the repository's fixtures, else in ../shared/fixtures;
// "" when neither has it.
inline std::string fixture_path(const std::string& rel) {
  for (const std::string& root : {fixtures(), shared_fixtures()})
    if (std::filesystem::exists(root + "/" + rel)) return root + "/" + rel;
  return "";
}

}  // namespace autolm::test

// Skips the current test when fixture `rel` is in neither root (vendor files kept out of the
// repository by their licence).
#define AUTOLM_SKIP_WITHOUT_FIXTURE(rel)                                                              \
  do {                                                                                                \
    if (::autolm::test::fixture_path(rel).empty())                                                    \
      GTEST_SKIP() << (rel) << " is not in the repository (its licence) and ../shared/fixtures is absent"; \
  } while (0)
