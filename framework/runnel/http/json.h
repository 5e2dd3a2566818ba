#ifndef RUNNEL_HTTP_JSON_H_
#define RUNNEL_HTTP_JSON_H_

// JSON bodies with Boost.JSON (see README.md for why Boost.JSON): parsing
// with errors a client can act on, compact serialization with numbers as
// people write them (Boost's own serializer writes 25.3 as 2.53E1), and JSON
// responses.
//
// Thread-safety: free functions on values; no shared state.

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "boost/json/value.hpp"
#include "runnel/http/message.h"

namespace runnel::http {

// Parses one JSON text. InvalidArgument "invalid JSON at byte N: <reason>"
// (also for trailing garbage or nesting deeper than 64).
absl::StatusOr<boost::json::value> ParseJson(std::string_view text);

// Compact JSON: no spaces; doubles in their shortest form that reads back
// to the same value ("25.3", "1e+21", integral doubles as "3.0"); strings
// escaped as RFC 8259 requires. A non-finite double (which JSON cannot
// hold) is written as null.
std::string SerializeJson(const boost::json::value& value);
void AppendJson(const boost::json::value& value, std::string& out);
// Appends `text` as a JSON string literal, quotes included.
void AppendJsonString(std::string_view text, std::string& out);
// Appends a double as SerializeJson does.
void AppendJsonNumber(double value, std::string& out);

// A response with Content-Type application/json.
Response JsonResponse(int status, const boost::json::value& body);
// {"error": message} with the given status.
Response JsonError(int status, std::string_view message);

}  // namespace runnel::http

#endif  // RUNNEL_HTTP_JSON_H_
