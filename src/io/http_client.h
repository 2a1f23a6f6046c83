// One HTTP(S) request through libcurl, without following redirects (the Hub protocol decides
// which redirects to follow and where the token may go: io/hub_download.cc). Bounded: response
// headers, error bodies, connect and stall timeouts; only http and https.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "autolm/error.h"

namespace autolm {

struct HttpOptions {
  long connect_timeout_s = 10;  // HF_HUB_ETAG_TIMEOUT's default
  long stall_timeout_s = 10;    // no byte for this long aborts (HF_HUB_DOWNLOAD_TIMEOUT's default)
  size_t max_header_bytes = size_t(64) << 10;
};

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased; a repeated header keeps its last value
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// A transfer that failed below HTTP (no connection, DNS, TLS, timeout, connection cut): the
// Hub code retries it or falls back to the cache. The message names the URL (no query string).
class NetworkError : public Error {
 public:
  explicit NetworkError(const std::string& message) : Error(ErrorKind::kNotFound, message) {}
};

// `method` is "GET" or "HEAD"; `headers` are "Name: value" lines. The body of a 2xx response is
// passed to `on_body` as it arrives (returning false aborts the transfer with NetworkError),
// after `on_headers` (when given) has seen the status and headers once; other bodies are
// discarded (at most 1 MiB read). Throws NetworkError.
using HttpBodySink = std::function<bool(const char*, size_t)>;
using HttpHeadersSink = std::function<void(const struct HttpResponse&)>;
HttpResponse http_request(const std::string& method, const std::string& url, const std::vector<std::string>& headers,
                          const HttpBodySink& on_body, const HttpOptions& options = {},
                          const HttpHeadersSink& on_headers = nullptr);

// `url` without its query string and fragment (signed CDN urls carry credentials there).
std::string url_for_messages(const std::string& url);

}  // namespace autolm
