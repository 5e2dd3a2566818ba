#include "api.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "boost/json.hpp"
#include "params.h"
#include "runnel/common/strings.h"
#include "runnel/http/json.h"
#include "topology.h"

namespace runnel_apps::dashboard {
namespace {

namespace json = boost::json;
namespace http = runnel::http;
namespace v1 = runnel::query::v1;
using runnel::ToAbsl;

std::string IsoMillis(int64_t ms) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixMillis(ms), absl::UTCTimeZone());
}

json::array SensorArray(const std::vector<SensorStats>& sensors) {
  json::array a;
  a.reserve(sensors.size());
  for (const SensorStats& s : sensors) a.push_back(SensorStatsJson(s));
  return a;
}

double FieldOf(const SensorStats& s, StatField f) {
  switch (f) {
    case StatField::kCount: return static_cast<double>(s.all.count);
    case StatField::kMean: return s.all.mean();
    case StatField::kMin: return s.all.min;
    case StatField::kMax: return s.all.max;
  }
  return 0;
}

}  // namespace

boost::json::object PipelineJson(const PipelineStats& p) {
  json::object o;
  o["instance"] = p.instance;
  o["state"] = p.state;
  o["records_processed_total"] = p.records_processed_total;
  o["records_per_second"] = p.records_per_second;
  return o;
}

http::Response ErrorResponse(const absl::Status& status) {
  if (absl::IsInvalidArgument(status)) {
    json::object o;
    o["error"] = std::string(status.message());
    if (std::string param = BadParameter(status); !param.empty()) o["parameter"] = param;
    return http::JsonResponse(400, o);
  }
  if (absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status)) {
    return http::JsonError(503, absl::StrCat("the statistics are not available right now (",
                                             status.message(), "); retry")).WithHeader("Retry-After", "1");
  }
  return http::JsonError(500, status.ToString());
}

DashboardApi::DashboardApi(runnel::query::Client& client, const runnel::Clock& clock,
                           std::function<PipelineStats()> pipeline)
    : client_(client), clock_(clock), pipeline_(std::move(pipeline)) {}

absl::StatusOr<std::vector<SensorStats>> DashboardApi::AllSensors() {
  v1::AllRequest all;
  all.set_store(kLatestStore);
  auto entries = client_.All(all);
  if (!entries.ok()) return entries.status();
  std::vector<SensorStats> sensors;
  sensors.reserve(entries->size());
  for (const v1::KeyValue& kv : *entries) {
    auto s = ParseSensorStats(kv.value().raw());
    if (!s.ok()) return absl::InternalError(absl::StrCat("store ", kLatestStore, ": ", s.status().message()));
    sensors.push_back(*std::move(s));
  }
  std::sort(sensors.begin(), sensors.end(),
            [](const SensorStats& a, const SensorStats& b) { return a.sensor_id < b.sensor_id; });
  return sensors;
}

absl::StatusOr<std::optional<SensorStats>> DashboardApi::GetSensor(std::string_view id) {
  v1::GetRequest get;
  get.set_store(kLatestStore);
  get.mutable_key()->set_text(std::string(id));
  auto answer = client_.Get(get);
  if (!answer.ok()) return answer.status();
  if (!answer->found()) return std::optional<SensorStats>();
  auto s = ParseSensorStats(answer->value().raw());
  if (!s.ok()) return absl::InternalError(absl::StrCat("store ", kLatestStore, ": ", s.status().message()));
  return std::optional<SensorStats>(*std::move(s));
}

absl::StatusOr<json::array> DashboardApi::FetchWindows(const std::string& store, std::string_view key,
                                                       int64_t from_ms, int64_t to_ms) {
  v1::WindowFetchRequest fetch;
  fetch.set_store(store);
  fetch.mutable_key()->set_text(std::string(key));
  fetch.set_time_from(from_ms);
  fetch.set_time_to(to_ms);
  auto answer = client_.WindowFetch(fetch);
  if (!answer.ok()) return answer.status();
  std::vector<const v1::WindowValue*> sorted;
  for (const v1::WindowValue& w : answer->windows()) sorted.push_back(&w);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->start() < b->start(); });
  json::array windows;
  for (const v1::WindowValue* w : sorted) {
    auto stats = ParseWindowStats(w->value().raw());
    if (!stats.ok()) return absl::InternalError(absl::StrCat("store ", store, ": ", stats.status().message()));
    json::object o = WindowStatsJson(*stats);
    o["start_ms"] = w->start();
    o["end_ms"] = w->end();
    o["start"] = IsoMillis(w->start());
    windows.push_back(std::move(o));
  }
  return windows;
}

http::Response DashboardApi::Sensors() {
  auto sensors = AllSensors();
  if (!sensors.ok()) return ErrorResponse(sensors.status());
  json::object o;
  o["sensors"] = SensorArray(*sensors);
  return http::JsonResponse(200, o);
}

http::Response DashboardApi::Sensor(std::string_view id) {
  auto sensor = GetSensor(id);
  if (!sensor.ok()) return ErrorResponse(sensor.status());
  if (!sensor->has_value()) return http::JsonError(404, absl::StrCat("unknown sensor '", ToAbsl(id), "'"));
  return http::JsonResponse(200, SensorStatsJson(**sensor));
}

http::Response DashboardApi::Windows(std::string_view id, const http::Request& request) {
  auto query = ParseWindowQuery(request, clock_.NowMillis().value());
  if (!query.ok()) return ErrorResponse(query.status());
  auto sensor = GetSensor(id);
  if (!sensor.ok()) return ErrorResponse(sensor.status());
  if (!sensor->has_value()) return http::JsonError(404, absl::StrCat("unknown sensor '", ToAbsl(id), "'"));
  const std::string store = query->window == WindowKind::kOneMinute ? kSensor1mStore : kSensor5mStore;
  auto windows = FetchWindows(store, id, query->from_ms, query->to_ms);
  if (!windows.ok()) return ErrorResponse(windows.status());
  json::object o;
  o["sensor_id"] = std::string(id);
  o["unit"] = (*sensor)->unit;
  o["window"] = WindowKindName(query->window);
  o["from_ms"] = query->from_ms;
  o["to_ms"] = query->to_ms;
  o["windows"] = *std::move(windows);
  return http::JsonResponse(200, o);
}

http::Response DashboardApi::Top(const http::Request& request) {
  auto query = ParseTopQuery(request);
  if (!query.ok()) return ErrorResponse(query.status());
  auto sensors = AllSensors();
  if (!sensors.ok()) return ErrorResponse(sensors.status());
  const StatField by = query->by;
  // Highest first; ties by sensor id.
  std::stable_sort(sensors->begin(), sensors->end(), [by](const SensorStats& a, const SensorStats& b) {
    return FieldOf(a, by) > FieldOf(b, by);
  });
  if (sensors->size() > static_cast<size_t>(query->n)) sensors->resize(query->n);
  json::object o;
  o["by"] = StatFieldName(by);
  o["n"] = query->n;
  o["sensors"] = SensorArray(*sensors);
  return http::JsonResponse(200, o);
}

http::Response DashboardApi::Location(std::string_view location) {
  auto sensors = AllSensors();
  if (!sensors.ok()) return ErrorResponse(sensors.status());
  std::vector<SensorStats> here;
  for (SensorStats& s : *sensors) {
    if (s.location == location) here.push_back(std::move(s));
  }
  const int64_t now = clock_.NowMillis().value();
  json::object o;
  o["location"] = std::string(location);
  o["sensors"] = SensorArray(here);
  bool any_window = false;
  for (auto [store, field] : {std::pair{kLocation1mStore, "latest_1m"}, {kLocation5mStore, "latest_5m"}}) {
    // The newest window that started in the last hour.
    auto windows = FetchWindows(store, location, std::max<int64_t>(0, now - 3'600'000), now);
    if (!windows.ok()) return ErrorResponse(windows.status());
    any_window |= !windows->empty();
    o[field] = windows->empty() ? json::value(nullptr) : windows->back();
  }
  if (here.empty() && !any_window) {
    return http::JsonError(404, absl::StrCat("unknown location '", ToAbsl(location), "'"));
  }
  return http::JsonResponse(200, o);
}

http::Response DashboardApi::Pipeline() { return http::JsonResponse(200, PipelineJson(pipeline_())); }

}  // namespace runnel_apps::dashboard
