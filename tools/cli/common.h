// Helpers shared by the CLI commands: id-list parsing, loading with an optional forced class.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "autolm/auto.h"

namespace autolm::cli {

// The CLI's exit code for an Error: 2 for anything the user can fix, 1 for internal failures.
inline int exit_code_for(ErrorKind kind) { return kind == ErrorKind::kInternal ? 1 : 2; }

// "1,2,3" → {1, 2, 3}; throws Error naming the flag and the item on anything else: empty items,
// garbage, negative ids or ids beyond int32. At most kMaxCliIds ids.
inline constexpr size_t kMaxCliIds = size_t(1) << 20;
std::vector<int32_t> parse_ids(const std::string& text, const std::string& flag);
// Refuses ids outside [0, vocab_size) (when the size is known), naming the flag and the id.
void check_vocab(const std::vector<int32_t>& ids, int64_t vocab_size, const std::string& flag);
// An integer flag in 64 bits, in [lo, hi]: errors name the flag and the text as given.
int64_t parse_int(const std::string& text, const std::string& flag, int64_t lo, int64_t hi);
// An unsigned 64-bit flag (a seed): no sign, no wrap-around.
uint64_t parse_u64(const std::string& text, const std::string& flag);

// Loads `dir` with the class named by --class ("" = pick from config.json) and the weight
// format named by --dtype (auto | float32 | int8 | int4 | int4-g64); `no_cache` (--no-cache)
// turns the cache of quantized weights off (LoadOptions::weight_cache).
std::shared_ptr<const Model> load_with_class(const std::string& dir, const std::string& cls,
                                             const std::string& dtype = "auto", bool no_cache = false);

// The positional model argument: a folder, or a Hugging Face model id ("org/name[@revision]")
// resolved to its snapshot folder, downloaded on first use (io/hub_cache.h). When `given_id`
// is set, it receives the repository id ("org/name", without @revision; "" for a folder).
CLI::Validator model_dir_or_id(std::string* given_id = nullptr);

// Declares --class, --dtype and --no-cache on a command (the same meaning everywhere).
void add_load_options(CLI::App* cmd, std::string& cls, std::string& dtype, bool& no_cache);

// Registers each command on the app; each returns the callback's exit code through `rc`.
void add_model_commands(CLI::App& app, int& rc);     // info, logits
void add_generate_command(CLI::App& app, int& rc);   // generate
void add_tokenizer_commands(CLI::App& app, int& rc); // tokenize, detokenize
void add_chat_command(CLI::App& app, int& rc);       // chat
void add_serve_command(CLI::App& app, int& rc);      // serve (when built with src/server)
void add_download_command(CLI::App& app, int& rc);   // download

}  // namespace autolm::cli
