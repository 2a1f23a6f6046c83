// The library as consumers link it (autolm::autolm, the umbrella header): version macros, the
// library's own version, Dtype names.
#include <gtest/gtest.h>

#include <string>

#include "autolm/autolm.h"

namespace autolm {
namespace {

TEST(Library, VersionMacrosMatchTheLibrary) {
  const std::string from_macros = std::to_string(AUTOLM_VERSION_MAJOR) + "." + std::to_string(AUTOLM_VERSION_MINOR) +
                                  "." + std::to_string(AUTOLM_VERSION_PATCH);
  EXPECT_EQ(from_macros, AUTOLM_VERSION_STRING);
  EXPECT_EQ(std::string(version()), AUTOLM_VERSION_STRING);
}

TEST(Library, DtypeNamesRoundTrip) {
  for (Dtype d : {Dtype::kAuto, Dtype::kFloat32, Dtype::kInt8, Dtype::kInt4, Dtype::kInt4G64}) EXPECT_EQ(parse_dtype(dtype_name(d)), d);
  try {
    parse_dtype("bfloat16", "dtype");
    FAIL() << "bfloat16 was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
    EXPECT_EQ(std::string(e.what()), "dtype: unknown value \"bfloat16\" (auto, float32, int8, int4 or int4-g64)");
  }
}

TEST(Library, ModelConfigIntValue) {
  ModelConfig c;
  EXPECT_EQ(c.int_value("max_position_embeddings"), std::nullopt);  // raw is null
  c.raw = Json::parse(R"({"max_position_embeddings": 512, "rope_theta": 10000.0, "name": "x"})");
  EXPECT_EQ(c.int_value("max_position_embeddings"), 512);
  EXPECT_EQ(c.int_value("rope_theta"), std::nullopt);  // a float
  EXPECT_EQ(c.int_value("name"), std::nullopt);
  EXPECT_EQ(c.int_value("absent"), std::nullopt);
}

}  // namespace
}  // namespace autolm
