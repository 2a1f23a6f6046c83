#include "io/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <memory>
#include <mutex>

namespace autolm {

namespace {

struct Transfer {
  const HttpBodySink* on_body;
  const HttpHeadersSink* on_headers;
  const HttpOptions* options;
  HttpResponse response;
  size_t header_bytes = 0;
  size_t discarded = 0;
  bool header_overflow = false, aborted = false, headers_seen = false;
};

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t len = size * n;
  t->header_bytes += len;
  if (t->header_bytes > t->options->max_header_bytes) {
    t->header_overflow = true;
    return 0;  // aborts the transfer
  }
  std::string line(data, len);
  if (line.rfind("HTTP/", 0) == 0) {  // a new status line (e.g. after 100 Continue): start over
    t->response.headers.clear();
    const auto sp = line.find(' ');
    t->response.status = sp == std::string::npos ? 0 : std::strtol(line.c_str() + sp + 1, nullptr, 10);
    return len;
  }
  const auto colon = line.find(':');
  if (colon == std::string::npos) return len;
  std::string name = line.substr(0, colon);
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  t->response.headers[trim(name)] = trim(line.substr(colon + 1));
  return len;
}

size_t on_write(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t len = size * n;
  if (t->response.status / 100 != 2) {
    t->discarded += len;
    return t->discarded > (size_t(1) << 20) ? 0 : len;
  }
  if (!t->headers_seen) {
    t->headers_seen = true;
    if (*t->on_headers) (*t->on_headers)(t->response);
  }
  if (!(*t->on_body)(data, len)) {
    t->aborted = true;
    return 0;
  }
  return len;
}

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace

std::string url_for_messages(const std::string& url) { return url.substr(0, url.find_first_of("?#")); }

HttpResponse http_request(const std::string& method, const std::string& url, const std::vector<std::string>& headers,
                          const HttpBodySink& on_body, const HttpOptions& options,
                          const HttpHeadersSink& on_headers) {
  global_init();
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) throw NetworkError("cannot start a transfer (libcurl) for " + url_for_messages(url));
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> list(nullptr, &curl_slist_free_all);
  for (const auto& h : headers) {
    curl_slist* next = curl_slist_append(list.get(), h.c_str());
    if (!next) throw NetworkError("out of memory building the request for " + url_for_messages(url));
    (void)list.release();
    list.reset(next);
  }
  Transfer t{&on_body, &on_headers, &options, {}};
  char error[CURL_ERROR_SIZE] = {0};
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, options.connect_timeout_s);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, options.stall_timeout_s);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list.get());
  curl_easy_setopt(c, CURLOPT_USERAGENT, "autolm");
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &on_write);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  if (method == "HEAD") curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  const CURLcode rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &t.response.status);
  if (t.header_overflow)
    throw NetworkError(url_for_messages(url) + ": response headers larger than " +
                       std::to_string(options.max_header_bytes) + " bytes");
  if (t.aborted) throw NetworkError(url_for_messages(url) + ": transfer aborted");
  if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && t.response.status / 100 != 2)) {
    const std::string why = error[0] ? error : curl_easy_strerror(rc);
    throw NetworkError(method + " " + url_for_messages(url) + " failed: " + why);
  }
  return t.response;
}

}  // namespace autolm
