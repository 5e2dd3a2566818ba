#ifndef RUNNEL_APPS_CLICKSTREAM_AGGREGATES_H_
#define RUNNEL_APPS_CLICKSTREAM_AGGREGATES_H_

// The topology's aggregates and how they are written:
//   - in the stores and repartition topics: a compact serde (each int64
//     field 8 bytes big-endian, in declaration order);
//   - on the output topics: small JSON objects, readable with
//     `runnel-kafka consume`, parsed back by the PostgreSQL routes.
// All money is integer cents, so every sum is exact.
//
// Thread-safety: pure functions; serdes are stateless.

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "event.h"
#include "runnel/serde/serde.h"

namespace runnel_apps::clickstream {

// One minute of one user (then of everyone).
struct MinuteTotals {
  int64_t page_views = 0;
  int64_t clicks = 0;
  int64_t purchases = 0;
  int64_t revenue_cents = 0;
  bool operator==(const MinuteTotals&) const = default;
};
MinuteTotals Add(MinuteTotals a, const ClickEvent& e);
MinuteTotals Add(MinuteTotals a, const MinuteTotals& b);
MinuteTotals Subtract(MinuteTotals a, const MinuteTotals& b);
int64_t CountOf(const MinuteTotals& t, EventType type);

// One session of one user.
struct SessionTotals {
  int64_t page_views = 0;
  int64_t events = 0;
  int64_t revenue_cents = 0;
  bool operator==(const SessionTotals&) const = default;
};
SessionTotals Add(SessionTotals a, const ClickEvent& e);
SessionTotals Add(SessionTotals a, const SessionTotals& b);

runnel::SerdePtr<MinuteTotals> MinuteTotalsSerde();
runnel::SerdePtr<SessionTotals> SessionTotalsSerde();

// The output topics' values: {"revenue_cents":1234,"purchases":3} (a
// MinuteTotals' revenue part; its counts read back as 0) and
// {"page_views":4,"events":9,"revenue_cents":0}. Deserializing names the
// field that is missing or not an integer.
runnel::SerdePtr<MinuteTotals> RevenueJsonSerde();
runnel::SerdePtr<SessionTotals> SessionJsonSerde();

}  // namespace runnel_apps::clickstream

#endif  // RUNNEL_APPS_CLICKSTREAM_AGGREGATES_H_
