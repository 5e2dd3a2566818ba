#include "runnel/processor/processing_error.h"

#include <cxxabi.h>

#include <cstdlib>
#include <exception>
#include <memory>
#include <typeinfo>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "runnel/common/strings.h"

namespace runnel {
namespace {

// The payload's value is the origin node's name ("" until attributed).
constexpr std::string_view kPayloadUrl = "type.runnel.dev/runnel.ProcessingError";

}  // namespace

absl::Status ProcessingError(std::string_view message) {
  absl::Status s = absl::InvalidArgumentError(ToAbsl(message));
  s.SetPayload(ToAbsl(kPayloadUrl), absl::Cord(""));
  return s;
}

bool IsProcessingError(const absl::Status& status) {
  return !status.ok() && status.GetPayload(ToAbsl(kPayloadUrl)).has_value();
}

std::string ProcessingErrorNode(const absl::Status& status) {
  if (status.ok()) return "";
  auto payload = status.GetPayload(ToAbsl(kPayloadUrl));
  return payload ? std::string(*payload) : std::string();
}

namespace processor::internal {

absl::Status AttributeProcessingError(absl::Status status, std::string_view node) {
  if (status.ok()) return status;
  auto payload = status.GetPayload(ToAbsl(kPayloadUrl));
  if (payload && payload->empty()) status.SetPayload(ToAbsl(kPayloadUrl), absl::Cord(ToAbsl(node)));
  return status;
}

std::string DescribeCurrentException() {
  try {
    throw;
  } catch (const std::exception& e) {
    int status = 0;
    std::unique_ptr<char, void (*)(void*)> type(abi::__cxa_demangle(typeid(e).name(), nullptr, nullptr, &status),
                                                std::free);
    return absl::StrCat(type != nullptr ? type.get() : typeid(e).name(), ": ", e.what());
  } catch (...) {
    return "an exception not derived from std::exception";
  }
}

absl::Status CurrentExceptionAsProcessingError(std::string_view node) {
  absl::Status s = absl::UnknownError(
      absl::StrCat("exception in node '", ToAbsl(node), "': ", DescribeCurrentException()));
  s.SetPayload(ToAbsl(kPayloadUrl), absl::Cord(ToAbsl(node)));
  return s;
}

}  // namespace processor::internal
}  // namespace runnel
