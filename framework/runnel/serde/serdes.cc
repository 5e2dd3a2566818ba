#include "runnel/serde/serdes.h"

#include <bit>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "runnel/common/strings.h"

namespace runnel::serdes {

void AppendBigEndian64(uint64_t value, std::string& out) {
  char buf[8];
  for (int i = 7; i >= 0; --i) {
    buf[i] = static_cast<char>(value & 0xff);
    value >>= 8;
  }
  out.append(buf, 8);
}

void AppendBigEndian32(uint32_t value, std::string& out) {
  char buf[4];
  for (int i = 3; i >= 0; --i) {
    buf[i] = static_cast<char>(value & 0xff);
    value >>= 8;
  }
  out.append(buf, 4);
}

uint64_t ReadBigEndian64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

uint32_t ReadBigEndian32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

namespace {

absl::Status WrongSize(std::string_view serde, size_t want, size_t got) {
  return absl::InvalidArgumentError(
      absl::StrCat(ToAbsl(serde), " serde: expected ", want, " bytes, got ", got));
}

absl::Status NullFor(std::string_view serde) {
  return absl::InvalidArgumentError(
      absl::StrCat(ToAbsl(serde), " serde: null payload (use serdes::Nullable for nullable values)"));
}

class StringSerde final : public Serde<std::string> {
 public:
  explicit StringSerde(std::string_view name) : name_(name) {}
  absl::Status Serialize(const std::string& value, std::string& out) const override {
    out.assign(value);
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> Deserialize(std::optional<std::string_view> data) const override {
    return data ? std::string(*data) : std::string();
  }
  std::string_view Name() const override { return name_; }

 private:
  std::string_view name_;
};

class Int64Serde final : public Serde<int64_t> {
 public:
  absl::Status Serialize(const int64_t& value, std::string& out) const override {
    out.clear();
    AppendBigEndian64(static_cast<uint64_t>(value), out);
    return absl::OkStatus();
  }
  absl::StatusOr<int64_t> Deserialize(std::optional<std::string_view> data) const override {
    if (!data) return NullFor(Name());
    if (data->size() != 8) return WrongSize(Name(), 8, data->size());
    return static_cast<int64_t>(ReadBigEndian64(data->data()));
  }
  std::string_view Name() const override { return "int64"; }
};

class Int32Serde final : public Serde<int32_t> {
 public:
  absl::Status Serialize(const int32_t& value, std::string& out) const override {
    out.clear();
    AppendBigEndian32(static_cast<uint32_t>(value), out);
    return absl::OkStatus();
  }
  absl::StatusOr<int32_t> Deserialize(std::optional<std::string_view> data) const override {
    if (!data) return NullFor(Name());
    if (data->size() != 4) return WrongSize(Name(), 4, data->size());
    return static_cast<int32_t>(ReadBigEndian32(data->data()));
  }
  std::string_view Name() const override { return "int32"; }
};

class DoubleSerde final : public Serde<double> {
 public:
  absl::Status Serialize(const double& value, std::string& out) const override {
    out.clear();
    AppendBigEndian64(std::bit_cast<uint64_t>(value), out);
    return absl::OkStatus();
  }
  absl::StatusOr<double> Deserialize(std::optional<std::string_view> data) const override {
    if (!data) return NullFor(Name());
    if (data->size() != 8) return WrongSize(Name(), 8, data->size());
    return std::bit_cast<double>(ReadBigEndian64(data->data()));
  }
  std::string_view Name() const override { return "double"; }
};

}  // namespace

SerdePtr<std::string> String() {
  static const auto* serde = new SerdePtr<std::string>(std::make_shared<StringSerde>("string"));
  return *serde;
}
SerdePtr<std::string> Bytes() {
  static const auto* serde = new SerdePtr<std::string>(std::make_shared<StringSerde>("bytes"));
  return *serde;
}
SerdePtr<int64_t> Int64() {
  static const auto* serde = new SerdePtr<int64_t>(std::make_shared<Int64Serde>());
  return *serde;
}
SerdePtr<int32_t> Int32() {
  static const auto* serde = new SerdePtr<int32_t>(std::make_shared<Int32Serde>());
  return *serde;
}
SerdePtr<double> Double() {
  static const auto* serde = new SerdePtr<double>(std::make_shared<DoubleSerde>());
  return *serde;
}

}  // namespace runnel::serdes
