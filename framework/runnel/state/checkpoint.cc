#include "runnel/state/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace runnel {
namespace {

constexpr char kHeader[] = "runnel-checkpoint 1";

uint64_t Fnv1a64(std::string_view data) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

absl::Status Errno(std::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat(absl::string_view(what.data(), what.size()), " ", path, ": ",
                                          std::strerror(errno)));
}

absl::Status SyncPath(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags);
  if (fd < 0) return Errno("opening", path);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Errno("fsync of", path);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::map<TopicPartition, Offset>> CheckpointFile::Read() const {
  std::ifstream in(path_, std::ios::binary);
  if (!in) {
    if (!std::filesystem::exists(path_)) return absl::NotFoundError(absl::StrCat("no checkpoint at ", path_));
    return absl::InternalError(absl::StrCat("cannot read checkpoint ", path_));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  auto corrupt = [&](std::string_view why) {
    return absl::DataLossError(
        absl::StrCat("checkpoint ", path_, " is corrupt (", absl::string_view(why.data(), why.size()), ")"));
  };
  // The checksum line is the last one; it covers every byte before it.
  if (text.empty() || text.back() != '\n') return corrupt("truncated");
  size_t last = text.rfind('\n', text.size() - 2);
  if (last == std::string::npos) return corrupt("no checksum line");
  const std::string body = text.substr(0, last + 1);
  const std::string checksum_line = text.substr(last + 1, text.size() - last - 2);
  if (checksum_line != absl::StrFormat("fnv1a64 %016x", Fnv1a64(body))) return corrupt("checksum mismatch");

  std::vector<std::string> lines = absl::StrSplit(body, '\n', absl::SkipEmpty());
  if (lines.empty() || lines[0] != kHeader) return corrupt("unknown header");
  int64_t count = 0;
  if (lines.size() < 2 || !absl::SimpleAtoi(lines[1], &count) || count < 0 ||
      static_cast<size_t>(count) != lines.size() - 2) {
    return corrupt("entry count");
  }
  std::map<TopicPartition, Offset> out;
  for (size_t i = 2; i < lines.size(); ++i) {
    std::vector<std::string> f = absl::StrSplit(lines[i], ' ');
    int32_t partition = 0;
    int64_t offset = 0;
    if (f.size() != 3 || f[0].empty() || !absl::SimpleAtoi(f[1], &partition) ||
        !absl::SimpleAtoi(f[2], &offset) || partition < 0 || offset < 0) {
      return corrupt(absl::StrCat("line ", i + 1));
    }
    out[TopicPartition{f[0], Partition(partition)}] = Offset(offset);
  }
  return out;
}

absl::Status CheckpointFile::Write(const std::map<TopicPartition, Offset>& offsets) const {
  std::string body = absl::StrCat(kHeader, "\n", offsets.size(), "\n");
  for (const auto& [tp, offset] : offsets) {
    absl::StrAppend(&body, tp.topic, " ", tp.partition.value(), " ", offset.value(), "\n");
  }
  const std::string text = absl::StrCat(body, absl::StrFormat("fnv1a64 %016x\n", Fnv1a64(body)));
  const std::string tmp = path_ + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", tmp));
    out << text;
    out.flush();
    if (!out) return absl::InternalError(absl::StrCat("writing ", tmp, " failed"));
  }
  if (absl::Status s = SyncPath(tmp, O_RDONLY); !s.ok()) return s;
  if (::rename(tmp.c_str(), path_.c_str()) != 0) return Errno("renaming to", path_);
  std::string dir = std::filesystem::path(path_).parent_path().string();
  return SyncPath(dir.empty() ? "." : dir, O_RDONLY | O_DIRECTORY);
}

}  // namespace runnel
