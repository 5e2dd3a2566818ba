#include "local_state.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace runnel::reset {
namespace {

namespace fs = std::filesystem;

constexpr char kLock[] = ".lock";
constexpr char kProcessId[] = "process.id";

// The directory's flock, held while this object lives. A directory without
// a .lock file is not locked by anyone: `held` is true, nothing is created.
class DirLock {
 public:
  static absl::StatusOr<DirLock> Take(const std::string& dir) {
    const std::string path = absl::StrCat(dir, "/", kLock);
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return DirLock(-1, true);
      return absl::InternalError(absl::StrCat("opening ", path, ": ", std::strerror(errno)));
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      ::close(fd);
      if (err == EWOULDBLOCK) return DirLock(-1, false);
      return absl::InternalError(absl::StrCat("locking ", path, ": ", std::strerror(err)));
    }
    return DirLock(fd, true);
  }
  DirLock(DirLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)), held_(other.held_) {}
  DirLock& operator=(DirLock&&) = delete;
  ~DirLock() {
    if (fd_ >= 0) ::close(fd_);  // releases the flock
  }
  bool held() const { return held_; }

 private:
  DirLock(int fd, bool held) : fd_(fd), held_(held) {}
  int fd_;
  bool held_;
};

}  // namespace

absl::StatusOr<LocalState> InspectLocalState(const std::string& state_dir, const std::string& application_id) {
  LocalState s;
  s.dir = (fs::path(state_dir) / application_id).string();
  std::error_code ec;
  const fs::file_status status = fs::status(s.dir, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return absl::InternalError(absl::StrCat("state directory ", s.dir, ": ", ec.message()));
  }
  if (!fs::exists(status)) return s;
  if (!fs::is_directory(status)) {
    return absl::FailedPreconditionError(absl::StrCat("state directory ", s.dir, " is not a directory"));
  }
  s.exists = true;
  for (fs::directory_iterator it(s.dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name == kLock || name == kProcessId) {
      s.looks_like_state = true;
      continue;
    }
    s.entries.push_back(name);
  }
  if (ec) return absl::InternalError(absl::StrCat("listing ", s.dir, ": ", ec.message()));
  std::sort(s.entries.begin(), s.entries.end());
  auto lock = DirLock::Take(s.dir);
  if (!lock.ok()) return lock.status();
  s.in_use = !lock->held();
  return s;
}

absl::StatusOr<int> WipeLocalState(const LocalState& state, bool force) {
  if (!state.exists) return 0;
  if (!state.looks_like_state && !force) {
    return absl::FailedPreconditionError(absl::StrCat(
        state.dir, " does not look like a Runnel state directory (no .lock or process.id); "
                   "add --force-wipe-state to wipe it anyway"));
  }
  auto lock = DirLock::Take(state.dir);
  if (!lock.ok()) return lock.status();
  if (!lock->held()) {
    return absl::FailedPreconditionError(
        absl::StrCat("state directory ", state.dir, " is locked by a running instance: stop it first"));
  }
  // Listed again under the lock: what is there now, not at inspection.
  int removed = 0;
  std::error_code ec;
  std::vector<fs::path> doomed;
  for (fs::directory_iterator it(state.dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name != kLock && name != kProcessId) doomed.push_back(it->path());
  }
  if (ec) return absl::InternalError(absl::StrCat("listing ", state.dir, ": ", ec.message()));
  for (const fs::path& p : doomed) {
    fs::remove_all(p, ec);
    if (ec) return absl::InternalError(absl::StrCat("removing ", p.string(), ": ", ec.message()));
    ++removed;
  }
  return removed;
}

}  // namespace runnel::reset
