#include "oracle.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "runnel/common/strings.h"

namespace runnel_apps::clickstream {
namespace {

int64_t WindowStart(int64_t ts, int64_t size) { return ts - ts % size; }

std::string Show(const std::pair<int64_t, std::string>& k) { return absl::StrCat(k.first, "/", k.second); }
std::string Show(const std::pair<std::string, int64_t>& k) { return absl::StrCat(k.first, "/", k.second); }
std::string Show(int64_t v) { return absl::StrCat(v); }
std::string Show(const Revenue& r) { return absl::StrCat(FormatCents(r.cents), " in ", r.purchases, " purchases"); }
std::string Show(const Session& s) {
  return absl::StrCat("end ", s.end_ms, ", ", s.page_views, " page views, ", s.events, " events, ",
                      FormatCents(s.revenue_cents));
}

template <typename K, typename V>
void Compare(std::string_view table, const std::map<K, V>& expected, const std::map<K, V>& actual,
             std::vector<std::string>& lines) {
  for (const auto& [k, v] : expected) {
    auto it = actual.find(k);
    if (it == actual.end()) {
      lines.push_back(absl::StrCat(runnel::ToAbsl(table), ": missing ", Show(k), " = ", Show(v)));
    } else if (!(it->second == v)) {
      lines.push_back(
          absl::StrCat(runnel::ToAbsl(table), ": ", Show(k), " is ", Show(it->second), ", expected ", Show(v)));
    }
  }
  for (const auto& [k, v] : actual) {
    if (!expected.contains(k)) lines.push_back(absl::StrCat(runnel::ToAbsl(table), ": extra ", Show(k), " = ", Show(v)));
  }
}

}  // namespace

std::vector<ClickEvent> WellFormed(const std::vector<GeneratedEvent>& generated) {
  std::vector<ClickEvent> out;
  out.reserve(generated.size());
  for (const GeneratedEvent& g : generated) {
    if (g.event) out.push_back(*g.event);
  }
  return out;
}

Tables ComputeOracle(const std::vector<ClickEvent>& events) {
  Tables t;
  std::map<int64_t, std::set<std::string>> users_5m;
  std::map<std::string, std::vector<const ClickEvent*>> by_user;
  for (const ClickEvent& e : events) {
    const int64_t minute = WindowStart(e.ts_ms, kMinuteMs);
    ++t.events_per_minute[{minute, std::string(EventTypeName(e.type))}];
    Revenue& r = t.revenue_per_minute[minute];
    if (e.type == EventType::kPurchase) {
      r.cents += e.amount_cents;
      ++r.purchases;
    }
    users_5m[WindowStart(e.ts_ms, kFiveMinutesMs)].insert(e.user_id);
    by_user[e.user_id].push_back(&e);
  }
  for (const auto& [start, users] : users_5m) t.active_users_5m[start] = static_cast<int64_t>(users.size());
  for (auto& [user, list] : by_user) {
    std::stable_sort(list.begin(), list.end(),
                     [](const ClickEvent* a, const ClickEvent* b) { return a->ts_ms < b->ts_ms; });
    int64_t start = 0;
    Session s;
    for (size_t i = 0; i < list.size(); ++i) {
      const ClickEvent& e = *list[i];
      if (i == 0 || e.ts_ms - s.end_ms > kSessionGapMs) {
        if (i > 0) t.user_sessions[{user, start}] = s;
        start = e.ts_ms;
        s = Session{};
      }
      s.end_ms = e.ts_ms;
      ++s.events;
      if (e.type == EventType::kPageView) ++s.page_views;
      if (e.type == EventType::kPurchase) s.revenue_cents += e.amount_cents;
    }
    if (!list.empty()) t.user_sessions[{user, start}] = s;
  }
  return t;
}

std::string DescribeDifferences(const Tables& expected, const Tables& actual, int max_lines) {
  std::vector<std::string> lines;
  Compare("events_per_minute", expected.events_per_minute, actual.events_per_minute, lines);
  Compare("revenue_per_minute", expected.revenue_per_minute, actual.revenue_per_minute, lines);
  Compare("active_users_5m", expected.active_users_5m, actual.active_users_5m, lines);
  Compare("user_sessions", expected.user_sessions, actual.user_sessions, lines);
  std::string out;
  for (size_t i = 0; i < lines.size() && i < static_cast<size_t>(max_lines); ++i) absl::StrAppend(&out, lines[i], "\n");
  if (lines.size() > static_cast<size_t>(max_lines)) {
    absl::StrAppend(&out, "... and ", lines.size() - static_cast<size_t>(max_lines), " more differences\n");
  }
  return out;
}

}  // namespace runnel_apps::clickstream
