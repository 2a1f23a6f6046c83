// A Hub-shaped HTTP server on loopback for the download tests (no test touches the real Hub):
// the routes huggingface_hub uses, with the Hub's headers and error codes —
//   GET  /api/models/{org}/{name}/revision/{rev}     {"sha", "siblings": [{"rfilename", "size"}]}
//   HEAD|GET /{org}/{name}/resolve/{rev}/{file}       X-Repo-Commit, ETag (git blob id) for small
//        files; LFS files answer 302 to a second server (the "CDN", another origin) with
//        X-Linked-Etag (sha256) and X-Linked-Size; 401/403 GatedRepo, 404 EntryNotFound /
//        RevisionNotFound / RepoNotFound; a renamed repository answers 307 with a relative Location
//   GET  /blob/{org}/{name}/{sha256} on the CDN, Range honoured; can cut the first transfer half-way.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "io/sha256.h"

namespace autolm::test {

class FakeHub {
 public:
  struct File {
    File(std::string c = "", bool l = false, std::string s = "", bool only_listed = false, std::string e = "")
        : content(std::move(c)), lfs(l), served(std::move(s)), listed_only(only_listed), etag(std::move(e)) {}
    std::string content;
    bool lfs;
    std::string served;  // what the CDN sends instead of `content` when non-empty (a corrupt blob)
    bool listed_only;    // in the file list, but resolve answers 404 EntryNotFound
    std::string etag;          // the ETag header instead of the git blob id (a hostile server)
  };
  struct Repo {
    std::string commit;
    std::map<std::string, File> files;
    std::string gated_token;  // non-empty: a gated repository readable with this token only
  };
  struct Seen {
    std::string method, path, authorization, range;
    bool cdn;
  };

  FakeHub() {
    setup_hub();
    cdn_.Get(R"(/blob/([^/]+/[^/]+)/([0-9a-f]{64}))", [this](const httplib::Request& req, httplib::Response& res) {
      record(req, true);
      const std::string id = req.matches[1], sha = req.matches[2];
      std::string body;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (auto it = repos_.find(id); it != repos_.end())
          for (auto& [name, f] : it->second.files)
            if (f.lfs && Sha256Of(f.content) == sha) body = f.served.empty() ? f.content : f.served;
      }
      if (body.empty()) {
        res.status = 404;
        return;
      }
      if (cut_next_ > 0 && req.ranges.empty()) {  // send half, then drop the connection
        --cut_next_;
        const size_t half = body.size() / 2;
        res.set_content_provider(body.size(), "application/octet-stream",
                                 [body, half](size_t offset, size_t, httplib::DataSink& sink) {
                                   if (offset >= half) return false;
                                   sink.write(body.data() + offset, half - offset);
                                   return true;
                                 });
        return;
      }
      res.set_content(body, "application/octet-stream");
    });
    hub_port_ = hub_.bind_to_any_port("127.0.0.1");
    cdn_port_ = cdn_.bind_to_any_port("127.0.0.1");
    hub_thread_ = std::thread([this] { hub_.listen_after_bind(); });
    cdn_thread_ = std::thread([this] { cdn_.listen_after_bind(); });
    // The sockets already listen (bind_to_any_port); wait for the accept loops so stop() works.
    while (!hub_.is_running() || !cdn_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FakeHub() {
    hub_.stop();
    cdn_.stop();
    hub_thread_.join();
    cdn_thread_.join();
  }

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(hub_port_); }
  void add_repo(const std::string& id, Repo repo) {
    std::lock_guard<std::mutex> lock(mu_);
    repos_[id] = std::move(repo);
  }
  // `old_id`'s URLs answer 307 with a relative Location into `new_id` (a renamed repository).
  void rename(const std::string& old_id, const std::string& new_id) {
    std::lock_guard<std::mutex> lock(mu_);
    renamed_[old_id] = new_id;
  }
  void cut_next_transfers(int n) { cut_next_ = n; }
  std::vector<Seen> seen() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }
  void clear_seen() {
    std::lock_guard<std::mutex> lock(mu_);
    seen_.clear();
  }

  static std::string Sha256Of(const std::string& s) {
    Sha256 h;
    h.update(s.data(), s.size());
    return h.hex_digest();
  }

 private:
  void record(const httplib::Request& req, bool cdn) {
    std::lock_guard<std::mutex> lock(mu_);
    seen_.push_back({req.method, req.path, req.get_header_value("Authorization"), req.get_header_value("Range"), cdn});
  }

  void setup_hub() {
    hub_.Get(R"(/api/models/([^/]+/[^/]+)/revision/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
      record(req, false);
      std::lock_guard<std::mutex> lock(mu_);
      if (auto r = renamed_.find(req.matches[1]); r != renamed_.end()) {
        res.status = 307;
        res.set_header("Location", "/api/models/" + r->second + "/revision/" + std::string(req.matches[2]));
        return;
      }
      auto it = repos_.find(req.matches[1]);
      if (it == repos_.end()) {
        res.status = 401;
        res.set_header("X-Error-Code", "RepoNotFound");
        return;
      }
      const std::string rev = req.matches[2];
      if (rev != "main" && rev != it->second.commit) {
        res.status = 404;
        res.set_header("X-Error-Code", "RevisionNotFound");
        return;
      }
      nlohmann::json j = {{"id", it->first}, {"sha", it->second.commit}, {"siblings", nlohmann::json::array()}};
      for (auto& [name, f] : it->second.files) j["siblings"].push_back({{"rfilename", name}, {"size", f.content.size()}});
      res.set_content(j.dump(), "application/json");
    });
    hub_.Get(R"(/([^/]+/[^/]+)/resolve/([^/]+)/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
      record(req, false);
      std::lock_guard<std::mutex> lock(mu_);
      const std::string id = req.matches[1], rev = req.matches[2], file = req.matches[3];
      if (auto r = renamed_.find(id); r != renamed_.end()) {
        res.status = 307;
        res.set_header("Location", "/" + r->second + "/resolve/" + rev + "/" + file);
        return;
      }
      auto it = repos_.find(id);
      if (it == repos_.end()) {
        res.status = 401;
        res.set_header("X-Error-Code", "RepoNotFound");
        return;
      }
      const Repo& repo = it->second;
      if (rev != "main" && rev != repo.commit) {
        res.status = 404;
        res.set_header("X-Error-Code", "RevisionNotFound");
        return;
      }
      if (!repo.gated_token.empty() && req.get_header_value("Authorization") != "Bearer " + repo.gated_token) {
        res.status = req.has_header("Authorization") ? 403 : 401;
        res.set_header("X-Error-Code", "GatedRepo");
        return;
      }
      res.set_header("X-Repo-Commit", repo.commit);
      auto f = repo.files.find(file);
      if (f == repo.files.end() || f->second.listed_only) {
        res.status = 404;
        res.set_header("X-Error-Code", "EntryNotFound");
        return;
      }
      if (f->second.lfs) {
        const std::string sha = Sha256Of(f->second.content);
        res.status = 302;
        res.set_header("Location", "http://127.0.0.1:" + std::to_string(cdn_port_) + "/blob/" + id + "/" + sha);
        res.set_header("X-Linked-Etag", "\"" + sha + "\"");
        res.set_header("X-Linked-Size", std::to_string(f->second.content.size()));
        res.set_header("ETag", "\"lfs-pointer-" + sha.substr(0, 8) + "\"");
        return;
      }
      res.set_header("ETag", f->second.etag.empty() ? "\"" + Sha256Of("blob " + f->second.content).substr(0, 40) + "\""
                                                    : f->second.etag);
      res.set_content(f->second.content, "application/octet-stream");
    });
  }

  httplib::Server hub_, cdn_;
  int hub_port_ = 0, cdn_port_ = 0;
  std::thread hub_thread_, cdn_thread_;
  std::mutex mu_;
  std::map<std::string, Repo> repos_;
  std::map<std::string, std::string> renamed_;
  std::vector<Seen> seen_;
  std::atomic<int> cut_next_{0};
};

}  // namespace autolm::test
