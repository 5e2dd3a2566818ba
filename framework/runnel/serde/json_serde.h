#ifndef RUNNEL_SERDE_JSON_SERDE_H_
#define RUNNEL_SERDE_JSON_SERDE_H_

// Schemaless JSON. A JSON document is held as google::protobuf::Value (the
// well-known type that models any JSON value: null, number, string, bool,
// object, list), so Runnel needs no JSON library of its own. Numbers follow
// JSON's rules (IEEE doubles). Parsing is strict: malformed text is
// InvalidArgument with the parser's reason.
//
// For typed JSON, map a JSON object onto a protobuf message with
// ProtobufJson<M>() (protobuf_serde.h).

#include <string>

#include "google/protobuf/struct.pb.h"
#include "runnel/serde/serde.h"

namespace runnel::serdes {

using JsonValue = google::protobuf::Value;

SerdePtr<JsonValue> Json();

// Parses / prints JSON text; the serde's building blocks, also for tools.
// Printing is compact and canonical: an object's keys in byte order, so
// equal documents print to equal bytes (a JSON key chooses a partition and
// a store entry). Invalid UTF-8, NaN, infinity and a value of no kind are
// InvalidArgument.
absl::StatusOr<JsonValue> ParseJson(std::string_view text);
absl::StatusOr<std::string> PrintJson(const JsonValue& value);
// PrintJson, appending to `out` (which holds a prefix on error).
absl::Status AppendJson(const JsonValue& value, std::string& out);

}  // namespace runnel::serdes

#endif  // RUNNEL_SERDE_JSON_SERDE_H_
