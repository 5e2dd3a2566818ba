// The checkpoint file (state/checkpoint.h) as a task reads it at start.
// The file carries an FNV-1a checksum of its body, which random bytes never
// match, so half of the inputs (first byte even) get the right checksum line
// appended: the parser behind the checksum is fuzzed too.
// Properties: a damaged file is DataLoss (never another error, a crash or a
// trusted offset); what reads back writes and reads back the same offsets.

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "absl/strings/str_format.h"
#include "fuzz_check.h"
#include "runnel/state/checkpoint.h"

namespace {

uint64_t Fnv1a64(std::string_view data) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

// One directory per process, in memory when /dev/shm exists; the files are
// rewritten by every input.
const std::string& Dir() {
  static const std::string* dir = [] {
    std::string tmpl = access("/dev/shm", W_OK) == 0 ? "/dev/shm/runnel-fuzz-checkpoint-XXXXXX"
                                                      : "/tmp/runnel-fuzz-checkpoint-XXXXXX";
    FUZZ_CHECK(mkdtemp(tmpl.data()) != nullptr, "mkdtemp");
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(Dir(), ignored);
    });
    return new std::string(tmpl);
  }();
  return *dir;
}

void WriteFile(const std::string& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  FUZZ_CHECK(out.good(), "writing " + path);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) text += absl::StrFormat("fnv1a64 %016x\n", Fnv1a64(text));
  const std::string path = Dir() + "/checkpoint";
  WriteFile(path, text);

  runnel::CheckpointFile file(path);
  auto offsets = file.Read();
  if (!offsets.ok()) {
    FUZZ_CHECK(absl::IsDataLoss(offsets.status()), offsets.status().ToString());
    return 0;
  }
  for (const auto& [tp, offset] : *offsets) {
    FUZZ_CHECK(!tp.topic.empty() && tp.partition.value() >= 0 && offset.value() >= 0, "a bad entry was accepted");
  }
  runnel::CheckpointFile copy(Dir() + "/rewritten");
  absl::Status s = copy.Write(*offsets);
  FUZZ_CHECK(s.ok(), s.ToString());
  auto again = copy.Read();
  FUZZ_CHECK(again.ok() && *again == *offsets, "a checkpoint read back differs from the one written");
  return 0;
}
