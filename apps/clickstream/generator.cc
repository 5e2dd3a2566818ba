#include "generator.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "runnel/common/strings.h"

namespace runnel_apps::clickstream {
namespace {

constexpr int64_t kSecond = 1000;
constexpr int64_t kMinute = 60 * kSecond;

constexpr const char* kPages[] = {"/", "/search", "/cart", "/checkout", "/account", "/help"};

}  // namespace

absl::Status ValidateGeneratorOptions(const GeneratorOptions& o) {
  if (o.count < 0) return absl::InvalidArgumentError(absl::StrCat("count must be >= 0, got ", o.count));
  if (o.users < 1 || o.users > 10'000'000) {
    return absl::InvalidArgumentError(absl::StrCat("users must be in [1, 10000000], got ", o.users));
  }
  if (!(o.malformed_share >= 0 && o.malformed_share <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("malformed-share must be in [0, 1], got ", o.malformed_share));
  }
  if (o.start_ms < 0) return absl::InvalidArgumentError(absl::StrCat("start time must be >= 0 ms, got ", o.start_ms));
  if (o.max_delay_ms < 0) {
    return absl::InvalidArgumentError(absl::StrCat("max delay must be >= 0 ms, got ", o.max_delay_ms));
  }
  return absl::OkStatus();
}

EventGenerator::EventGenerator(const GeneratorOptions& options)
    : options_(options), rng_(options.seed), users_(static_cast<size_t>(options.users)) {
  for (size_t u = 0; u < users_.size(); ++u) {
    users_[u].next_ms = options_.start_ms + Uniform(0, 10 * kMinute);
    users_[u].left_in_session = Uniform(3, 20);
    due_.emplace(users_[u].next_ms, static_cast<int64_t>(u));
  }
}

// Raw mt19937_64 output (its sequence is fixed by the standard; the
// standard distributions are not), so every platform generates the same.
int64_t EventGenerator::Uniform(int64_t lo, int64_t hi) {
  return lo + static_cast<int64_t>(rng_() % static_cast<uint64_t>(hi - lo + 1));
}

bool EventGenerator::Chance(double p) { return static_cast<double>(rng_() >> 11) * 0x1.0p-53 < p; }

GeneratedEvent EventGenerator::Schedule() {
  const auto [ts, u] = due_.top();
  due_.pop();
  User& user = users_[static_cast<size_t>(u)];
  ClickEvent e;
  e.event_id = absl::StrFormat("e-%d-%07d", options_.seed, scheduled_);
  e.user_id = absl::StrFormat("u-%05d", u);
  e.ts_ms = ts;
  const int64_t kind = Uniform(0, 99);
  e.type = kind < 60 ? EventType::kPageView : kind < 92 ? EventType::kClick : EventType::kPurchase;
  const int64_t page = Uniform(0, 9);
  e.page = page < 6 ? kPages[page] : absl::StrCat("/product/", Uniform(1, 500));
  if (e.type == EventType::kPurchase) e.amount_cents = Uniform(199, 49'999);
  ++scheduled_;

  if (--user.left_in_session > 0) {
    user.next_ms = ts + Uniform(5 * kSecond, 3 * kMinute);
  } else {
    user.next_ms = ts + Uniform(31 * kMinute, 90 * kMinute);
    user.left_in_session = Uniform(3, 20);
  }
  due_.emplace(user.next_ms, u);

  GeneratedEvent out{.key = e.user_id, .value = FormatEvent(e), .timestamp_ms = ts, .event = std::move(e)};
  if (Chance(options_.malformed_share)) out = Corrupt(std::move(out));
  return out;
}

GeneratedEvent EventGenerator::Corrupt(GeneratedEvent g) {
  const ClickEvent& e = *g.event;
  const std::string ts = absl::StrCat(e.ts_ms);
  switch (Uniform(0, 5)) {
    case 0:  // broken JSON: cut short
      g.value = g.value.substr(0, static_cast<size_t>(Uniform(1, static_cast<int64_t>(g.value.size()) - 2)));
      break;
    case 1:  // a required field missing
      g.value = absl::StrFormat(R"({"event_id":"%s","type":"%s","ts":%s,"page":"%s"})", e.event_id,
                                runnel::ToAbsl(EventTypeName(e.type)), ts, e.page);
      break;
    case 2:  // the time as a string
      g.value = absl::StrFormat(R"({"event_id":"%s","user_id":"%s","type":"page_view","ts":"%s","page":"%s"})",
                                e.event_id, e.user_id, ts, e.page);
      break;
    case 3:  // a purchase without an amount
      g.value = absl::StrFormat(R"({"event_id":"%s","user_id":"%s","type":"purchase","ts":%s,"page":"%s"})",
                                e.event_id, e.user_id, ts, e.page);
      break;
    case 4:  // an amount of the wrong type
      g.value = absl::StrFormat(
          R"({"event_id":"%s","user_id":"%s","type":"purchase","ts":%s,"page":"%s","amount":"%s"})", e.event_id,
          e.user_id, ts, e.page, FormatCents(e.amount_cents));
      break;
    default:  // an unknown event type
      g.value = absl::StrFormat(R"({"event_id":"%s","user_id":"%s","type":"scroll","ts":%s,"page":"%s"})",
                                e.event_id, e.user_id, ts, e.page);
      break;
  }
  g.event.reset();
  return g;
}

std::optional<GeneratedEvent> EventGenerator::Next() {
  if (handed_out_ >= options_.count) return std::nullopt;
  // An event waits until no event scheduled later can be due before it: the
  // next scheduled event is at least as late as due_.top().
  while (scheduled_ < options_.count && (pending_.empty() || pending_.top().deliver_ms > due_.top().first)) {
    GeneratedEvent e = Schedule();
    const int64_t deliver = e.timestamp_ms + Uniform(0, options_.max_delay_ms);
    pending_.push(Pending{deliver, scheduled_, std::move(e)});
  }
  GeneratedEvent out = std::move(const_cast<Pending&>(pending_.top()).event);
  pending_.pop();
  ++handed_out_;
  return out;
}

std::vector<GeneratedEvent> GenerateAll(const GeneratorOptions& options) {
  std::vector<GeneratedEvent> events;
  events.reserve(static_cast<size_t>(options.count));
  EventGenerator generator(options);
  while (auto e = generator.Next()) events.push_back(*std::move(e));
  return events;
}

}  // namespace runnel_apps::clickstream
