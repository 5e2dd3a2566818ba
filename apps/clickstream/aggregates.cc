#include "aggregates.h"

#include <array>
#include <bit>
#include <memory>
#include <type_traits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "boost/json/value.hpp"
#include "runnel/common/strings.h"
#include "runnel/http/json.h"
#include "runnel/serde/serdes.h"

namespace runnel_apps::clickstream {
namespace {

// A struct of int64 fields only, as N big-endian 8-byte words.
template <typename T>
class Int64FieldsSerde final : public runnel::Serde<T> {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) % sizeof(int64_t) == 0);
  static constexpr size_t kFields = sizeof(T) / sizeof(int64_t);
  using Words = std::array<int64_t, kFields>;

 public:
  explicit Int64FieldsSerde(std::string name) : name_(std::move(name)) {}
  absl::Status Serialize(const T& value, std::string& out) const override {
    out.clear();
    for (int64_t w : std::bit_cast<Words>(value)) runnel::serdes::AppendBigEndian64(static_cast<uint64_t>(w), out);
    return absl::OkStatus();
  }
  absl::StatusOr<T> Deserialize(std::optional<std::string_view> data) const override {
    if (!data || data->size() != sizeof(T)) {
      return absl::InvalidArgumentError(absl::StrCat(name_, ": expected ", sizeof(T), " bytes"));
    }
    Words words;
    for (size_t i = 0; i < kFields; ++i) {
      words[i] = static_cast<int64_t>(runnel::serdes::ReadBigEndian64(data->data() + i * sizeof(int64_t)));
    }
    return std::bit_cast<T>(words);
  }
  std::string_view Name() const override { return name_; }

 private:
  std::string name_;
};

template <typename T>
struct JsonField {
  std::string_view name;
  int64_t T::*member;
};

// A flat JSON object of some of T's int64 fields, in the given order.
template <typename T>
class JsonTextSerde final : public runnel::Serde<T> {
 public:
  JsonTextSerde(std::string name, std::vector<JsonField<T>> fields) : name_(std::move(name)), fields_(std::move(fields)) {}
  absl::Status Serialize(const T& value, std::string& out) const override {
    std::string text;
    for (const JsonField<T>& f : fields_) {
      absl::StrAppend(&text, text.empty() ? "{" : ",", "\"", runnel::ToAbsl(f.name), "\":", value.*f.member);
    }
    text += "}";
    out.swap(text);
    return absl::OkStatus();
  }
  absl::StatusOr<T> Deserialize(std::optional<std::string_view> data) const override {
    if (!data) return absl::InvalidArgumentError(absl::StrCat(name_, ": null value"));
    auto json = runnel::http::ParseJson(*data);
    if (!json.ok()) return absl::InvalidArgumentError(absl::StrCat(name_, ": ", json.status().message()));
    T value{};
    for (const JsonField<T>& f : fields_) {
      const boost::json::value* v =
          json->is_object() ? json->as_object().if_contains(boost::json::string_view(f.name.data(), f.name.size()))
                            : nullptr;
      if (v == nullptr || !v->is_int64()) {
        return absl::InvalidArgumentError(
            absl::StrCat(name_, ": field '", runnel::ToAbsl(f.name), "' is missing or not an integer"));
      }
      value.*f.member = v->as_int64();
    }
    return value;
  }
  std::string_view Name() const override { return name_; }

 private:
  std::string name_;
  std::vector<JsonField<T>> fields_;
};

}  // namespace

MinuteTotals Add(MinuteTotals a, const ClickEvent& e) {
  switch (e.type) {
    case EventType::kPageView:
      ++a.page_views;
      break;
    case EventType::kClick:
      ++a.clicks;
      break;
    case EventType::kPurchase:
      ++a.purchases;
      a.revenue_cents += e.amount_cents;
      break;
  }
  return a;
}

MinuteTotals Add(MinuteTotals a, const MinuteTotals& b) {
  return {a.page_views + b.page_views, a.clicks + b.clicks, a.purchases + b.purchases,
          a.revenue_cents + b.revenue_cents};
}

MinuteTotals Subtract(MinuteTotals a, const MinuteTotals& b) {
  return {a.page_views - b.page_views, a.clicks - b.clicks, a.purchases - b.purchases,
          a.revenue_cents - b.revenue_cents};
}

int64_t CountOf(const MinuteTotals& t, EventType type) {
  switch (type) {
    case EventType::kPageView:
      return t.page_views;
    case EventType::kClick:
      return t.clicks;
    case EventType::kPurchase:
      return t.purchases;
  }
  return 0;
}

SessionTotals Add(SessionTotals a, const ClickEvent& e) {
  ++a.events;
  if (e.type == EventType::kPageView) ++a.page_views;
  if (e.type == EventType::kPurchase) a.revenue_cents += e.amount_cents;
  return a;
}

SessionTotals Add(SessionTotals a, const SessionTotals& b) {
  return {a.page_views + b.page_views, a.events + b.events, a.revenue_cents + b.revenue_cents};
}

runnel::SerdePtr<MinuteTotals> MinuteTotalsSerde() {
  static const auto* serde =
      new runnel::SerdePtr<MinuteTotals>(std::make_shared<Int64FieldsSerde<MinuteTotals>>("minute-totals"));
  return *serde;
}

runnel::SerdePtr<SessionTotals> SessionTotalsSerde() {
  static const auto* serde =
      new runnel::SerdePtr<SessionTotals>(std::make_shared<Int64FieldsSerde<SessionTotals>>("session-totals"));
  return *serde;
}

runnel::SerdePtr<MinuteTotals> RevenueJsonSerde() {
  static const auto* serde = new runnel::SerdePtr<MinuteTotals>(std::make_shared<JsonTextSerde<MinuteTotals>>(
      "revenue-json", std::vector<JsonField<MinuteTotals>>{{"revenue_cents", &MinuteTotals::revenue_cents},
                                                           {"purchases", &MinuteTotals::purchases}}));
  return *serde;
}

runnel::SerdePtr<SessionTotals> SessionJsonSerde() {
  static const auto* serde = new runnel::SerdePtr<SessionTotals>(std::make_shared<JsonTextSerde<SessionTotals>>(
      "session-json", std::vector<JsonField<SessionTotals>>{{"page_views", &SessionTotals::page_views},
                                                            {"events", &SessionTotals::events},
                                                            {"revenue_cents", &SessionTotals::revenue_cents}}));
  return *serde;
}

}  // namespace runnel_apps::clickstream
