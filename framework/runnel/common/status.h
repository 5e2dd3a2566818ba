#ifndef RUNNEL_COMMON_STATUS_H_
#define RUNNEL_COMMON_STATUS_H_

// Status helpers used at every module boundary. Error kinds tell the caller
// what to do (see DESIGN.md section 5.1):
//   kUnavailable      transient, retry
//   kAborted          task migrated (assignment lost, stale generation):
//                     close dirty, rejoin
//   kFailedPrecondition  includes a fenced producer (kafka/errors.cc): a
//                     newer incarnation owns the transactional id
//   kDataLoss         corrupted state: wipe and restore
//   kInvalidArgument  user error: the message names the input

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define RUNNEL_STATUS_CONCAT_INNER_(a, b) a##b
#define RUNNEL_STATUS_CONCAT_(a, b) RUNNEL_STATUS_CONCAT_INNER_(a, b)

// Returns from the enclosing function if `expr` is not OK.
#define RUNNEL_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::absl::Status runnel_status_ = (expr);          \
    if (!runnel_status_.ok()) return runnel_status_; \
  } while (false)

// `RUNNEL_ASSIGN_OR_RETURN(auto x, Foo());` declares x from a StatusOr or
// returns its error.
#define RUNNEL_ASSIGN_OR_RETURN(lhs, expr) \
  RUNNEL_ASSIGN_OR_RETURN_IMPL_(RUNNEL_STATUS_CONCAT_(runnel_statusor_, __LINE__), lhs, expr)
#define RUNNEL_ASSIGN_OR_RETURN_IMPL_(var, lhs, expr) \
  auto var = (expr);                                  \
  if (!var.ok()) return std::move(var).status();      \
  lhs = std::move(var).value()

namespace runnel {

// Prefixes a status message with context, keeping its code and payloads.
absl::Status Annotate(const absl::Status& status, std::string_view context);

}  // namespace runnel

#endif  // RUNNEL_COMMON_STATUS_H_
