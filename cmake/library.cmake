# libautolm: the one library consumers link (autolm::autolm), and its installation.
#
# The layers stay separate static libraries inside the build (their one-way dependencies are a
# design rule, docs/ARCHITECTURE.md); `autolm` is their sum, built from the same object files:
# static libautolm.a by default, one shared libautolm.so (SONAME libautolm.so.MAJOR.MINOR, only
# AUTOLM_API symbols exported) with -DBUILD_SHARED_LIBS=ON. The server layer is not part of it
# (no public header reaches it; the CLI links it).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(autolm_layers autolm_core autolm_io autolm_cpu autolm_ops autolm_nn autolm_chat autolm_tokenizer
    autolm_models autolm_generate)
set(autolm_objects "")
foreach(layer ${autolm_layers})
  if(NOT TARGET ${layer})
    message(FATAL_ERROR "libautolm needs the ${layer} layer (check AUTOLM_EXCLUDE)")
  endif()
  list(APPEND autolm_objects $<TARGET_OBJECTS:${layer}>)
endforeach()

add_library(autolm ${autolm_objects})
add_library(autolm::autolm ALIAS autolm)
set_target_properties(autolm PROPERTIES
  LINKER_LANGUAGE CXX
  VERSION ${PROJECT_VERSION}
  # 0.x: every minor release may break the ABI (CHANGELOG.md).
  SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR}
  EXPORT_NAME autolm)
target_compile_features(autolm PUBLIC cxx_std_20)
target_include_directories(autolm PUBLIC
  $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
  $<BUILD_INTERFACE:${AUTOLM_GENERATED_INCLUDE}>
  $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
# Public: the headers use nlohmann::json. Private (link-only for a static library): the rest.
target_link_libraries(autolm
  PUBLIC nlohmann_json::nlohmann_json
  PRIVATE Threads::Threads BLAS::BLAS PkgConfig::CURL PkgConfig::ONIG PkgConfig::UTF8PROC PkgConfig::SENTENCEPIECE)

option(AUTOLM_INSTALL "Generate the install rules (library, headers, CLI, CMake package, pkg-config)"
       ${PROJECT_IS_TOP_LEVEL})
if(NOT AUTOLM_INSTALL)
  return()
endif()

install(TARGETS autolm EXPORT autolmTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT autolm_development
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT autolm_runtime NAMELINK_COMPONENT autolm_development
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT autolm_runtime)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/autolm ${AUTOLM_GENERATED_INCLUDE}/autolm
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT autolm_development FILES_MATCHING PATTERN "*.h")
if(TARGET autolm_cli)
  install(TARGETS autolm_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT autolm_runtime)
endif()

set(autolm_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/autolm)
install(EXPORT autolmTargets NAMESPACE autolm:: DESTINATION ${autolm_cmake_dir} COMPONENT autolm_development)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/autolmConfig.cmake.in
  ${PROJECT_BINARY_DIR}/autolmConfig.cmake INSTALL_DESTINATION ${autolm_cmake_dir})
# 0.x: only the same minor version is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/autolmConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/autolmConfig.cmake ${PROJECT_BINARY_DIR}/autolmConfigVersion.cmake
        DESTINATION ${autolm_cmake_dir} COMPONENT autolm_development)

# autolm.pc: relocatable (prefix found from the file's own place); `pkg-config --cflags --libs
# autolm` links either kind. The libraries libautolm uses are needed to link a static
# libautolm.a, so they are in Requires / Libs there; a shared libautolm.so already links them,
# so they are private there (for a fully static link only). They are not private for the static
# library because `pkg-config --static` would also ask for the private libraries of libcurl's
# own static build (nghttp2, ldap, ...), which a system with shared libcurl need not have.
file(RELATIVE_PATH autolm_pc_up /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
set(AUTOLM_PC_PREFIX "\${pcfiledir}/${autolm_pc_up}")
string(REGEX REPLACE "/$" "" AUTOLM_PC_PREFIX "${AUTOLM_PC_PREFIX}")
set(autolm_pc_modules "libcurl oniguruma libutf8proc sentencepiece")
set(autolm_pc_libs "")
foreach(lib ${BLAS_LIBRARIES} ${BLAS_LINKER_FLAGS})
  string(APPEND autolm_pc_libs " ${lib}")
endforeach()
string(APPEND autolm_pc_libs " -pthread")
string(STRIP "${autolm_pc_libs}" autolm_pc_libs)
if(BUILD_SHARED_LIBS)
  set(AUTOLM_PC_REQUIRES "")
  set(AUTOLM_PC_REQUIRES_PRIVATE "${autolm_pc_modules}")
  set(AUTOLM_PC_LIBS "")
  set(AUTOLM_PC_LIBS_PRIVATE "${autolm_pc_libs}")
else()
  set(AUTOLM_PC_REQUIRES "${autolm_pc_modules}")
  set(AUTOLM_PC_REQUIRES_PRIVATE "")
  set(AUTOLM_PC_LIBS "${autolm_pc_libs}")
  set(AUTOLM_PC_LIBS_PRIVATE "")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/autolm.pc.in ${PROJECT_BINARY_DIR}/autolm.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/autolm.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig
        COMPONENT autolm_development)
