#include "options.h"

#include <cctype>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "row_mapper.h"

namespace runnel::reset {

const char kUsage[] =
    "usage: runnel-reset --application-id ID --bootstrap HOST:PORT [--command-config client.properties]\n"
    "         [--input-topics T1,T2] [--internal-topics ID-...-changelog,...]\n"
    "         [--to-earliest | --to-latest | --to-datetime 2026-03-02T06:00:00Z |\n"
    "          --by-duration P1DT2H | --to-offset N]\n"
    "         [--state-dir DIR [--force-wipe-state]] [--execute]\n"
    "Resets an application to process its input again: sets the consumer group's\n"
    "committed offsets of the input topics, deletes the application's internal\n"
    "topics (<ID>-...-changelog, <ID>-...-repartition, <ID>-topology) and wipes\n"
    "<DIR>/<ID>. Without --execute it only prints what it would do.\n"
    "Exit codes: 0 done (or dry run), 1 refused or failed, 2 usage error.\n";

namespace {

absl::Status Bad(absl::string_view flag, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(flag, ": ", why));
}

absl::StatusOr<std::vector<std::string>> TopicList(absl::string_view flag, absl::string_view value) {
  std::vector<std::string> out;
  for (absl::string_view t : absl::StrSplit(value, ',')) {
    t = absl::StripAsciiWhitespace(t);
    if (t.empty()) return Bad(flag, absl::StrCat("an empty topic name in '", value, "'"));
    out.emplace_back(t);
  }
  return out;
}

}  // namespace

absl::StatusOr<int64_t> ParseIsoDuration(absl::string_view text) {
  const std::string upper = absl::AsciiStrToUpper(text);
  absl::string_view rest = upper;
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not an ISO-8601 duration like P1DT2H30M (", why, ")"));
  };
  if (!absl::ConsumePrefix(&rest, "P")) return bad("it starts with P");
  bool in_time = false, any = false;
  double total_ms = 0;
  while (!rest.empty()) {
    if (rest.front() == 'T') {
      if (in_time) return bad("T appears twice");
      in_time = true;
      rest.remove_prefix(1);
      continue;
    }
    size_t n = 0;
    while (n < rest.size() && (std::isdigit(static_cast<unsigned char>(rest[n])) || rest[n] == '.')) ++n;
    if (n == 0 || n == rest.size()) return bad("each number is followed by its unit");
    double value = 0;
    if (!absl::SimpleAtod(rest.substr(0, n), &value) || value < 0) {
      return bad(absl::StrCat("'", rest.substr(0, n), "' is not a number"));
    }
    const char unit = rest[n];
    rest.remove_prefix(n + 1);
    double unit_ms = 0;
    if (!in_time && unit == 'W') unit_ms = 7 * 86400e3;
    else if (!in_time && unit == 'D') unit_ms = 86400e3;
    else if (in_time && unit == 'H') unit_ms = 3600e3;
    else if (in_time && unit == 'M') unit_ms = 60e3;
    else if (in_time && unit == 'S') unit_ms = 1e3;
    else if (!in_time && (unit == 'Y' || unit == 'M')) return bad("years and months vary in length: use days");
    else return bad(absl::StrCat("unit '", std::string(1, unit), "' is not W, D, H, M or S in its place"));
    if (unit != 'S' && std::floor(value) != value) return bad("only seconds may have a fraction");
    total_ms += value * unit_ms;
    any = true;
  }
  if (!any) return bad("no amount");
  if (total_ms > 1e15) return bad("too long");
  return static_cast<int64_t>(std::llround(total_ms));
}

absl::StatusOr<int64_t> ParseDateTime(absl::string_view text) {
  return replay::ParseTime(text, replay::TimeFormat::kIso);
}

std::string FormatMillis(int64_t millis) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixMillis(millis), absl::UTCTimeZone());
}

absl::StatusOr<ResetOptions> ParseArgs(const std::vector<std::string>& args) {
  ResetOptions o;
  int targets = 0;
  std::string first_target;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i];
    std::optional<std::string> inline_value;
    if (const size_t eq = flag.find('='); absl::StartsWith(flag, "--") && eq != std::string::npos) {
      inline_value = flag.substr(eq + 1);
      flag.resize(eq);
    }
    auto no_value = [&]() -> absl::Status {
      if (inline_value) return Bad(flag, "takes no value");
      return absl::OkStatus();
    };
    auto value = [&]() -> absl::StatusOr<std::string> {
      if (inline_value) return *inline_value;
      if (i + 1 >= args.size() || absl::StartsWith(args[i + 1], "--")) return Bad(flag, "needs a value");
      return args[++i];
    };
    auto target = [&](OffsetTarget::Kind kind) -> absl::Status {
      if (++targets > 1) {
        return Bad(flag, absl::StrCat("conflicts with ", first_target,
                                      " (give one of --to-earliest, --to-latest, --to-datetime, --by-duration, "
                                      "--to-offset)"));
      }
      first_target = flag;
      o.target.kind = kind;
      o.target.describe = flag;
      return absl::OkStatus();
    };
    if (flag == "--help" || flag == "-h") {
      o.help = true;
      return o;
    }
    if (flag == "--execute" || flag == "--force-wipe-state" || flag == "--to-earliest" || flag == "--to-latest") {
      if (absl::Status s = no_value(); !s.ok()) return s;
      if (flag == "--execute") o.execute = true;
      if (flag == "--force-wipe-state") o.force_wipe_state = true;
      if (flag == "--to-earliest") {
        if (absl::Status s = target(OffsetTarget::Kind::kEarliest); !s.ok()) return s;
      }
      if (flag == "--to-latest") {
        if (absl::Status s = target(OffsetTarget::Kind::kLatest); !s.ok()) return s;
      }
      continue;
    }
    if (flag != "--application-id" && flag != "--bootstrap" && flag != "--command-config" && flag != "--input-topics" &&
        flag != "--internal-topics" && flag != "--state-dir" && flag != "--to-datetime" &&
        flag != "--by-duration" && flag != "--to-offset") {
      return Bad(flag, "unknown flag");
    }
    absl::StatusOr<std::string> v = value();
    if (!v.ok()) return v.status();
    if (v->empty()) return Bad(flag, "the value is empty");
    if (flag == "--application-id") {
      o.application_id = *v;
    } else if (flag == "--bootstrap") {
      o.bootstrap = *v;
    } else if (flag == "--command-config") {
      o.command_config = *v;
    } else if (flag == "--state-dir") {
      o.state_dir = *v;
    } else if (flag == "--input-topics" || flag == "--internal-topics") {
      auto topics = TopicList(flag, *v);
      if (!topics.ok()) return topics.status();
      (flag == "--input-topics" ? o.input_topics : o.internal_topics) = *std::move(topics);
    } else if (flag == "--to-datetime") {
      if (absl::Status s = target(OffsetTarget::Kind::kTime); !s.ok()) return s;
      auto millis = ParseDateTime(*v);
      if (!millis.ok()) return Bad(flag, millis.status().message());
      o.target.millis = *millis;
      o.target.describe = absl::StrCat(flag, " ", *v);
    } else if (flag == "--by-duration") {
      if (absl::Status s = target(OffsetTarget::Kind::kDuration); !s.ok()) return s;
      auto millis = ParseIsoDuration(*v);
      if (!millis.ok()) return Bad(flag, millis.status().message());
      o.target.millis = *millis;
      o.target.describe = absl::StrCat(flag, " ", *v);
    } else if (flag == "--to-offset") {
      if (absl::Status s = target(OffsetTarget::Kind::kOffset); !s.ok()) return s;
      if (!absl::SimpleAtoi(*v, &o.target.offset) || o.target.offset < 0) {
        return Bad(flag, absl::StrCat("'", *v, "' is not an offset (an integer >= 0)"));
      }
      o.target.describe = absl::StrCat(flag, " ", *v);
    }
  }
  if (o.application_id.empty()) return Bad("--application-id", "is required");
  if (o.bootstrap.empty()) return Bad("--bootstrap", "is required");
  if (o.force_wipe_state && o.state_dir.empty()) return Bad("--force-wipe-state", "needs --state-dir");
  // Deleting a topic is for good: only the application's own (prefixed) ones.
  for (const std::string& t : o.internal_topics) {
    if (!absl::StartsWith(t, o.application_id + "-")) {
      return Bad("--internal-topics", absl::StrCat("'", t, "' is not an internal topic of '", o.application_id,
                                                   "' (their names start with '", o.application_id, "-')"));
    }
  }
  return o;
}

}  // namespace runnel::reset
