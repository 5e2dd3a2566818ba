#include "runnel/runtime/state_directory.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "runnel/common/strings.h"

namespace runnel {
namespace {

}  // namespace

std::string NewProcessId() {
  std::random_device rd;
  return absl::StrFormat("%08x%08x%08x%08x", rd(), rd(), rd(), rd());
}

std::string ThreadClientId(std::string_view prefix, std::string_view process_id, int thread_index,
                           std::string_view endpoint) {
  return absl::StrCat(ToAbsl(prefix), endpoint.empty() ? "" : "@", ToAbsl(endpoint), "-", ToAbsl(process_id),
                      "-StreamThread-", thread_index + 1);
}

std::string EndpointOfClientId(std::string_view client_id) {
  const size_t thread = client_id.find("-StreamThread-");
  if (thread == std::string_view::npos) return {};
  std::string_view head = client_id.substr(0, thread);
  const size_t dash = head.rfind('-');
  if (dash == std::string_view::npos) return {};
  head = head.substr(0, dash);
  const size_t at = head.rfind('@');
  if (at == std::string_view::npos) return {};
  const std::string_view endpoint = head.substr(at + 1);
  // host:port; an '@' in the application id alone is not an endpoint.
  if (endpoint.find(':') == std::string_view::npos) return {};
  return std::string(endpoint);
}

std::optional<std::string> ProcessIdOfClientId(std::string_view client_id) {
  const size_t thread = client_id.find("-StreamThread-");
  if (thread == std::string_view::npos) return std::nullopt;
  const std::string_view head = client_id.substr(0, thread);
  const size_t dash = head.rfind('-');
  if (dash == std::string_view::npos || dash + 1 == head.size()) return std::nullopt;
  return std::string(head.substr(dash + 1));
}

absl::StatusOr<std::unique_ptr<StateDirectory>> StateDirectory::Open(const std::string& state_dir,
                                                                     const std::string& application_id) {
  const std::string app_dir = absl::StrCat(state_dir, "/", application_id);
  std::error_code ec;
  std::filesystem::create_directories(app_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("creating state directory ", app_dir, ": ", ec.message()));
  const std::string lock_path = app_dir + "/.lock";
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return absl::InternalError(absl::StrCat("opening ", lock_path, ": ", std::strerror(errno)));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return absl::FailedPreconditionError(absl::StrCat(
          "state directory ", app_dir, " is in use by another running instance of '", application_id,
          "'; give each instance its own state.dir"));
    }
    return absl::InternalError(absl::StrCat("locking ", lock_path, ": ", std::strerror(err)));
  }
  // The id is written once and never changes; the lock above makes this
  // read-or-create race-free between processes.
  const std::string id_path = app_dir + "/process.id";
  std::string id;
  {
    std::ifstream in(id_path);
    if (in) std::getline(in, id);
  }
  id = std::string(absl::StripAsciiWhitespace(id));
  if (id.empty()) {
    id = NewProcessId();
    const std::string tmp = id_path + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << id << "\n";
      if (!out) {
        ::close(fd);
        return absl::InternalError(absl::StrCat("writing ", tmp));
      }
    }
    std::filesystem::rename(tmp, id_path, ec);
    if (ec) {
      ::close(fd);
      return absl::InternalError(absl::StrCat("renaming ", tmp, ": ", ec.message()));
    }
  }
  return std::unique_ptr<StateDirectory>(new StateDirectory(app_dir, fd, std::move(id)));
}

StateDirectory::~StateDirectory() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

bool StateDirectory::TryLockTask(TaskId task) {
  absl::MutexLock lock(&mu_);
  return locked_.insert(task).second;
}

void StateDirectory::UnlockTask(TaskId task) {
  absl::MutexLock lock(&mu_);
  locked_.erase(task);
  release_requested_.erase(task);
}

void StateDirectory::RequestRelease(TaskId task) {
  absl::MutexLock lock(&mu_);
  if (locked_.contains(task)) release_requested_.insert(task);
}

bool StateDirectory::TakeReleaseRequest(TaskId task) {
  absl::MutexLock lock(&mu_);
  return release_requested_.erase(task) > 0;
}

}  // namespace runnel
