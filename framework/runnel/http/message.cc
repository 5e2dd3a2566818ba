#include "runnel/http/message.h"

#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "runnel/common/strings.h"

namespace runnel::http {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Method ParseMethod(std::string_view name) {
  if (name == "GET") return Method::kGet;
  if (name == "POST") return Method::kPost;
  if (name == "HEAD") return Method::kHead;
  if (name == "PUT") return Method::kPut;
  if (name == "DELETE") return Method::kDelete;
  if (name == "PATCH") return Method::kPatch;
  if (name == "OPTIONS") return Method::kOptions;
  return Method::kOther;
}

const std::string* FindField(const Fields& fields, std::string_view name, bool case_insensitive) {
  for (const auto& [k, v] : fields) {
    if (case_insensitive ? absl::EqualsIgnoreCase(ToAbsl(k), ToAbsl(name)) : k == name) return &v;
  }
  return nullptr;
}

}  // namespace

std::string_view MethodName(Method method) {
  switch (method) {
    case Method::kGet:
      return "GET";
    case Method::kHead:
      return "HEAD";
    case Method::kPost:
      return "POST";
    case Method::kPut:
      return "PUT";
    case Method::kDelete:
      return "DELETE";
    case Method::kPatch:
      return "PATCH";
    case Method::kOptions:
      return "OPTIONS";
    case Method::kOther:
      break;
  }
  return "OTHER";
}

std::optional<std::string> PercentDecode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int hi = HexValue(text[i + 1]), lo = HexValue(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::optional<Fields> ParseQuery(std::string_view query) {
  Fields out;
  size_t start = 0;
  while (start <= query.size()) {
    size_t end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    std::string_view part = query.substr(start, end - start);
    if (!part.empty()) {
      const size_t eq = part.find('=');
      auto name = PercentDecode(part.substr(0, eq), true);
      auto value = PercentDecode(eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1), true);
      if (!name || !value) return std::nullopt;
      out.emplace_back(*std::move(name), *std::move(value));
    }
    start = end + 1;
  }
  return out;
}

std::optional<Request> Request::Make(std::string_view method_name, std::string target, Fields headers,
                                     std::string body, std::string remote_address) {
  // Absolute-form ("http://host/path", which RFC 9112 3.2.2 says servers
  // must accept) is reduced to its path.
  for (std::string_view scheme : {std::string_view("http://"), std::string_view("https://")}) {
    if (target.size() > scheme.size() && absl::StartsWithIgnoreCase(ToAbsl(target), ToAbsl(scheme))) {
      const size_t slash = target.find_first_of("/?", scheme.size());
      const std::string_view rest =
          slash == std::string::npos ? std::string_view() : std::string_view(target).substr(slash);
      std::string origin_form = absl::StrCat(rest.empty() || rest[0] == '?' ? "/" : "", ToAbsl(rest));
      target.swap(origin_form);
      break;
    }
  }
  if (target.empty() || target[0] != '/') return std::nullopt;
  Request r;
  r.method_ = ParseMethod(method_name);
  r.method_name_ = std::string(method_name);
  const size_t q = target.find('?');
  const std::string_view raw_path = std::string_view(target).substr(0, q);
  auto path = PercentDecode(raw_path, false);
  if (!path) return std::nullopt;
  r.path_ = *std::move(path);
  if (q != std::string::npos) {
    std::string_view query = std::string_view(target).substr(q + 1);
    const size_t hash = query.find('#');
    auto fields = ParseQuery(query.substr(0, hash));
    if (!fields) return std::nullopt;
    r.query_ = *std::move(fields);
  }
  r.target_ = std::move(target);
  r.headers_ = std::move(headers);
  r.body_ = std::move(body);
  r.remote_address_ = std::move(remote_address);
  return r;
}

std::optional<std::string_view> Request::Header(std::string_view name) const {
  const std::string* v = FindField(headers_, name, true);
  if (v == nullptr) return std::nullopt;
  return std::string_view(*v);
}

std::string Request::ContentType() const {
  auto v = Header("Content-Type");
  if (!v) return {};
  std::string_view type = v->substr(0, v->find(';'));
  return absl::AsciiStrToLower(absl::StripAsciiWhitespace(ToAbsl(type)));
}

std::string_view Request::PathParam(std::string_view name) const {
  const std::string* v = FindField(path_params_, name, false);
  return v == nullptr ? std::string_view() : std::string_view(*v);
}

std::optional<std::string_view> Request::Query(std::string_view name) const {
  const std::string* v = FindField(query_, name, false);
  if (v == nullptr) return std::nullopt;
  return std::string_view(*v);
}

Response Response::Text(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

}  // namespace runnel::http
