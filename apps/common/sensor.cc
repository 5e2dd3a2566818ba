#include "common/sensor.h"

namespace runnel_apps {

std::optional<double> CelsiusOf(const runnel::serdes::JsonValue& reading) {
  using runnel::serdes::JsonValue;
  if (reading.kind_case() != JsonValue::kStructValue) return std::nullopt;
  const auto& f = reading.struct_value().fields();
  auto temp = f.find("temp_f");
  if (temp == f.end() || temp->second.kind_case() != JsonValue::kNumberValue) return std::nullopt;
  const double t = temp->second.number_value();
  if (!(t > -148.0 && t < 257.0)) return std::nullopt;
  return (t - 32.0) * 5.0 / 9.0;
}

}  // namespace runnel_apps
