#ifndef RUNNEL_APPS_COMMON_SENSOR_H_
#define RUNNEL_APPS_COMMON_SENSOR_H_

// Sensor readings as the ingest side writes them:
//   key "s-17", value {"sensor": "s-17", "temp_f": 71.2}

#include <optional>

#include "runnel/runnel.h"

namespace runnel_apps {

// The reading's temperature in Celsius, when it is a JSON object with a
// numeric temp_f inside a sensor's physical range (-100 C .. 125 C).
std::optional<double> CelsiusOf(const runnel::serdes::JsonValue& reading);

}  // namespace runnel_apps

#endif  // RUNNEL_APPS_COMMON_SENSOR_H_
