// Downloads from the Hugging Face Hub (or HF_ENDPOINT) into the cache, written exactly as
// huggingface_hub writes it (file_download.py: hf_hub_download, snapshot_download), so either
// side reuses what the other downloaded:
//   GET  {endpoint}/api/models/{repo}/revision/{rev}?blobs=true   commit sha + file list + sizes
//   HEAD {endpoint}/{repo}/resolve/{commit}/{file}                X-Repo-Commit, X-Linked-Etag /
//        ETag, X-Linked-Size / Content-Length, Location (Hub-host redirects followed; a redirect
//        to another host — the CDN — is where the GET goes, without the token)
//   GET  that location (Range: bytes=N- to resume) → blobs/<etag>.incomplete → blobs/<etag>
//   snapshots/<commit>/<file> → ../../blobs/<etag>, refs/<revision>, .no_exist/<commit>/<file>
// Only the files autolm reads are fetched (see hub_files_to_download). docs/HUB.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/hub_cache.h"
#include "io/http_client.h"

namespace autolm {

// What the environment says, read as huggingface_hub reads it.
struct HubSettings {
  std::string endpoint = "https://huggingface.co";  // HF_ENDPOINT, trailing '/' removed
  std::string token;             // HF_TOKEN, HUGGING_FACE_HUB_TOKEN, else the token file; "" = none
  std::string token_source;      // where the token came from (for messages; never the token)
  std::string token_path;        // HF_TOKEN_PATH, else $HF_HOME/token
  bool offline = false;          // HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE (1, ON, YES, TRUE)
  int max_workers = 8;           // files at once (snapshot_download's max_workers); AUTOLM_DOWNLOAD_WORKERS, 1..64
  HttpOptions http;              // HF_HUB_ETAG_TIMEOUT (connect), HF_HUB_DOWNLOAD_TIMEOUT (stall)
  static HubSettings from_environment();
};

// An HTTP answer of the Hub that names the problem (gated, not found, no access). `fallback`:
// whether a cached copy may be used instead, as huggingface_hub does (401/403/5xx, not 404
// of a revision or file).
class HubError : public Error {
 public:
  HubError(ErrorKind kind, const std::string& message, bool fallback) : Error(kind, message), fallback_(fallback) {}
  bool fallback() const { return fallback_; }

 private:
  bool fallback_;
};

// The files of a repository (its file list, `siblings`) that autolm reads: config.json,
// generation_config.json, tokenizer and chat-template files, and one weights layout in
// transformers' order — model.safetensors, model.safetensors.index.json, pytorch_model.bin,
// pytorch_model.bin.index.json (shards come from the index once it is downloaded). Never
// TF/Flax/ONNX/GGUF files or subfolders other than additional_chat_templates/.
std::vector<std::string> hub_files_to_download(const std::vector<std::string>& siblings);
// The optional files autolm looks for: absent upstream, they get a .no_exist marker.
const std::vector<std::string>& hub_optional_files();

struct HubDownloadReport {
  std::string snapshot_dir;
  std::string commit;
  int files_downloaded = 0;
  uint64_t bytes_downloaded = 0;
};

// Brings what autolm needs of `id` into the cache and returns its snapshot folder. Throws
// NetworkError (no connection, timeouts), HubError (HTTP answers), Error (a bad answer, a wrong
// size or sha256, disk full) — messages name the URL without the token.
HubDownloadReport hub_download(const HubModelId& id, const HubSettings& settings);

// The snapshot folder of `id` in the cache, or "" (refs/<revision> resolved; no network).
std::string hub_cached_snapshot(const HubModelId& id);

}  // namespace autolm
