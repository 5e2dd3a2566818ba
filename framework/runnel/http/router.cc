#include "runnel/http/router.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "runnel/common/check.h"
#include "runnel/common/strings.h"
#include "runnel/http/json.h"

namespace runnel::http {
namespace {

// Splits "/a/b" into {"a", "b"}; "/" into {""}.
std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> out;
  size_t start = 1;
  while (true) {
    const size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      out.push_back(path.substr(start));
      return out;
    }
    out.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
}

}  // namespace

Router& Router::Handle(Method method, std::string_view pattern, Handler handler) {
  RUNNEL_CHECK(!pattern.empty() && pattern[0] == '/') << "route pattern must start with '/': " << pattern;
  RUNNEL_CHECK(handler != nullptr) << "null handler for " << pattern;
  Route route{.method = method, .pattern = std::string(pattern), .segments = {}, .handler = std::move(handler)};
  std::set<std::string, std::less<>> names;
  for (std::string_view part : SplitPath(pattern)) {
    Segment segment;
    if (!part.empty() && part.front() == '{') {
      RUNNEL_CHECK(part.size() > 2 && part.back() == '}') << "bad parameter '" << part << "' in " << pattern;
      segment.text = std::string(part.substr(1, part.size() - 2));
      segment.is_param = true;
      RUNNEL_CHECK(segment.text.find_first_of("{}") == std::string::npos) << "bad parameter in " << pattern;
      RUNNEL_CHECK(names.insert(segment.text).second) << "parameter '" << segment.text << "' twice in " << pattern;
    } else {
      RUNNEL_CHECK(part.find_first_of("{}") == std::string_view::npos) << "bad segment '" << part << "' in " << pattern;
      segment.text = std::string(part);
    }
    route.segments.push_back(std::move(segment));
  }
  for (const Route& r : routes_) {
    bool same = r.method == method && r.segments.size() == route.segments.size();
    for (size_t i = 0; same && i < r.segments.size(); ++i) {
      same = r.segments[i].is_param == route.segments[i].is_param &&
             (r.segments[i].is_param || r.segments[i].text == route.segments[i].text);
    }
    RUNNEL_CHECK(!same) << "route " << MethodName(method) << " " << pattern << " registered twice (as " << r.pattern
                        << ")";
  }
  routes_.push_back(std::move(route));
  return *this;
}

Router::Match Router::Find(Method method, std::string_view raw_path) const {
  Match match;
  if (raw_path.empty() || raw_path[0] != '/') return match;
  std::vector<std::string> segments;
  for (std::string_view part : SplitPath(raw_path)) {
    auto decoded = PercentDecode(part, false);
    if (!decoded) return match;
    segments.push_back(*std::move(decoded));
  }
  // The best route for the method; the set of methods of routes whose
  // pattern matches the path (for 405's Allow).
  const Route* best = nullptr;
  std::set<std::string_view> allowed;
  // Specificity: a bitmask-like comparison, literal beats parameter at the
  // first segment where two matching routes differ.
  auto more_specific = [](const Route& a, const Route& b) {
    for (size_t i = 0; i < a.segments.size(); ++i) {
      if (a.segments[i].is_param != b.segments[i].is_param) return !a.segments[i].is_param;
    }
    return false;
  };
  for (const Route& route : routes_) {
    if (route.segments.size() != segments.size()) continue;
    bool ok = true;
    for (size_t i = 0; ok && i < segments.size(); ++i) {
      const Segment& s = route.segments[i];
      ok = s.is_param ? !segments[i].empty() : s.text == segments[i];
    }
    if (!ok) continue;
    allowed.insert(MethodName(route.method));
    if (route.method == method && (best == nullptr || more_specific(route, *best))) best = &route;
  }
  if (best == nullptr) {
    for (std::string_view m : allowed) {
      if (!match.allow.empty()) match.allow += ", ";
      match.allow += m;
    }
    return match;
  }
  match.handler = &best->handler;
  for (size_t i = 0; i < segments.size(); ++i) {
    if (best->segments[i].is_param) match.params.emplace_back(best->segments[i].text, std::move(segments[i]));
  }
  return match;
}

void Router::Dispatch(Request request, Responder responder) const {
  std::string_view target = request.target();
  Match match = Find(request.method(), target.substr(0, target.find('?')));
  if (match.handler == nullptr) {
    if (match.allow.empty()) {
      std::move(responder).Respond(JsonError(404, absl::StrCat("no route for ", ToAbsl(request.path()))));
    } else {
      Response r = JsonError(405, absl::StrCat(ToAbsl(request.method_name()), " not allowed on ",
                                               ToAbsl(request.path()), "; allowed: ", match.allow));
      r.WithHeader("Allow", match.allow);
      std::move(responder).Respond(std::move(r));
    }
    return;
  }
  request.SetPathParams(std::move(match.params));
  (*match.handler)(std::move(request), std::move(responder));
}

}  // namespace runnel::http
