// Model ids ("org/name", "org/name@revision") resolved through the Hugging Face cache exactly as
// huggingface_hub lays it out, so a model downloaded by Python is used as is:
//   <cache>/models--org--name/refs/<revision>          the commit a branch or tag points to
//   <cache>/models--org--name/snapshots/<commit>/<file> (links into ../../blobs/<etag>)
//   <cache>/models--org--name/.no_exist/<commit>/<file> files known to be absent upstream
// <cache> is HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
// ~/.cache/huggingface/hub. See docs/HUB.md.
#pragma once

#include <optional>
#include <string>

namespace autolm {

struct HubModelId {
  std::string repo_id;   // "org/name"
  std::string revision;  // branch, tag or commit; "main" when not given
};

// "org/name" or "org/name@rev" (the Hub's repo-id rules: [A-Za-z0-9._-], no "--" or ".."
// inside a part, at most 96 characters each); nullopt for anything else (e.g. a path).
std::optional<HubModelId> parse_hub_model_id(const std::string& s);

// A full 40-hex lower-case commit hash (huggingface_hub's REGEX_COMMIT_HASH).
bool is_commit_hash(const std::string& s);

std::string hub_cache_dir();
// <cache>/models--org--name
std::string hub_repo_dir(const std::string& repo_id);

// What every from_pretrained, the CLI and the server call on the name they are given: an
// existing folder is returned unchanged; a model id becomes its snapshot folder in the cache,
// downloading what is missing first (io/hub_download.h) unless HF_HUB_OFFLINE is set. A
// commit revision whose snapshot already holds config.json and complete weights touches no
// network (as hf_hub_download returns a cached commit's file at once); a branch or tag asks the
// Hub for its commit. When the Hub cannot be reached (or refuses: 401/403/5xx) a cached
// snapshot of the revision is used, with a warning on stderr. Errors name the repo, the
// revision and the cache.
std::string resolve_pretrained(const std::string& name_or_dir);

}  // namespace autolm
