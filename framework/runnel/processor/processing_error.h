#ifndef RUNNEL_PROCESSOR_PROCESSING_ERROR_H_
#define RUNNEL_PROCESSOR_PROCESSING_ERROR_H_

// Processing errors: a record (or a punctuation) that a processor cannot
// handle, as opposed to a failure of the framework under it (a send, a
// store write, a fenced producer). Only processing errors go to the
// processing.exception.handler (skip and count, fail, or dead-letter); every
// other error stops the stream thread. See docs/architecture.md, Errors.
//
// A processing error is an absl::Status carrying a payload that names the
// node it came from. It arises two ways:
//   - a processor (a DSL lambda included) or punctuator throws: the node
//     that runs it catches the exception and turns it into one;
//   - a Processor-API processor returns ProcessingError("why") for a record
//     it rejects.
// The innermost node names itself; nodes upstream pass it on unchanged.

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace runnel {

// For a processor's Process (or a punctuator) to reject the current record
// (or punctuation): the processing.exception.handler decides what happens.
absl::Status ProcessingError(std::string_view message);

bool IsProcessingError(const absl::Status& status);
// The node a processing error came from ("" when not yet attributed or not
// a processing error).
std::string ProcessingErrorNode(const absl::Status& status);

namespace processor::internal {

// Names `node` as the origin of a processing error that names none yet;
// returns every other status unchanged.
absl::Status AttributeProcessingError(absl::Status status, std::string_view node);
// Inside a catch block only: the exception in flight as a processing error
// of `node` ("exception in node 'n': what()").
absl::Status CurrentExceptionAsProcessingError(std::string_view node);
// Inside a catch block only: the exception in flight, described.
std::string DescribeCurrentException();

}  // namespace processor::internal
}  // namespace runnel

#endif  // RUNNEL_PROCESSOR_PROCESSING_ERROR_H_
