#ifndef RUNNEL_RUNTIME_STATE_DIRECTORY_H_
#define RUNNEL_RUNTIME_STATE_DIRECTORY_H_

// StateDirectory: an instance's state.dir/<application.id>, and who may use
// it.
//
// - The directory is locked (flock on its .lock file) for the life of the
//   instance: a second process pointed at the same directory fails at
//   start, naming it, instead of opening the same RocksDB stores.
// - Each task's directory is locked in-process (TryLockTask) by the thread
//   that opens its stores, so two stream threads never open one store (a
//   task moving between threads waits for its old owner to close it).
// - The process id (a random id kept in the directory, as Kafka Streams
//   keeps its process UUID) names this instance across restarts: under
//   exactly_once_v2 each thread's transactional.id is
//   <application.id>-<process id>-<thread>, so a restarted instance fences
//   its previous incarnation at once and its open transactions are aborted
//   without waiting for transaction.timeout.ms.
//
// Ownership: KafkaStreams owns it; threads hold a pointer. Thread-safe.

#include <memory>
#include <optional>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "runnel/common/types.h"

namespace runnel {

// A new random process id: 32 hex digits (no '-': it is parsed back out of
// Kafka client ids).
std::string NewProcessId();

// The client.id of a stream thread's Kafka clients (before "-consumer",
// "-producer", ...): <client.id or application.id>-<process id>-StreamThread-<n>,
// or with an application.server endpoint
// <client.id or application.id>@<host:port>-<process id>-StreamThread-<n>.
// Other instances find this instance's members in the group by it, and
// where it serves interactive queries.
std::string ThreadClientId(std::string_view prefix, std::string_view process_id, int thread_index,
                           std::string_view endpoint = {});
// The process id inside a ThreadClientId-based client id, if it is one.
std::optional<std::string> ProcessIdOfClientId(std::string_view client_id);
// The endpoint inside a ThreadClientId-based client id; empty without one.
std::string EndpointOfClientId(std::string_view client_id);

class StateDirectory {
 public:
  static absl::StatusOr<std::unique_ptr<StateDirectory>> Open(const std::string& state_dir,
                                                              const std::string& application_id);
  ~StateDirectory();

  const std::string& app_dir() const { return app_dir_; }
  const std::string& process_id() const { return process_id_; }

  // False while another thread of this process holds the task.
  bool TryLockTask(TaskId task);
  void UnlockTask(TaskId task);
  // Asks whoever holds `task` to let go of it (a standby replica yields to
  // the stream thread that became its active owner).
  void RequestRelease(TaskId task);
  // True once per request for `task`.
  bool TakeReleaseRequest(TaskId task);

 private:
  StateDirectory(std::string app_dir, int lock_fd, std::string process_id)
      : app_dir_(std::move(app_dir)), lock_fd_(lock_fd), process_id_(std::move(process_id)) {}

  std::string app_dir_;
  int lock_fd_;
  std::string process_id_;
  absl::Mutex mu_;
  std::set<TaskId> locked_ ABSL_GUARDED_BY(mu_);
  std::set<TaskId> release_requested_ ABSL_GUARDED_BY(mu_);
};

}  // namespace runnel

#endif  // RUNNEL_RUNTIME_STATE_DIRECTORY_H_
