#include "runnel/http/event_stream.h"

#include "absl/strings/str_cat.h"
#include "runnel/common/strings.h"

namespace runnel::http {
namespace {

// "name: value\n" for each line of `value` (a field cannot hold a newline).
void AppendField(std::string_view name, std::string_view value, std::string& out) {
  size_t start = 0;
  while (true) {
    size_t end = value.find('\n', start);
    std::string_view line = value.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    absl::StrAppend(&out, ToAbsl(name), ": ", ToAbsl(line), "\n");
    if (end == std::string_view::npos) return;
    start = end + 1;
  }
}

}  // namespace

std::string FormatEvent(const Event& event) {
  std::string out;
  out.reserve(event.data.size() + event.event.size() + 32);
  if (!event.id.empty()) AppendField("id", event.id, out);
  if (!event.event.empty()) AppendField("event", event.event, out);
  if (event.retry_ms > 0) absl::StrAppend(&out, "retry: ", event.retry_ms, "\n");
  AppendField("data", event.data, out);
  out += "\n";
  return out;
}

void EventBroadcaster::Add(std::shared_ptr<EventStream> stream) {
  if (stream == nullptr || stream->closed()) return;
  std::lock_guard<std::mutex> lock(mu_);
  streams_.push_back(std::move(stream));
}

size_t EventBroadcaster::Publish(const Event& event) {
  const std::string formatted = FormatEvent(event);
  std::vector<std::shared_ptr<EventStream>> streams;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::erase_if(streams_, [](const auto& s) { return s->closed(); });
    streams = streams_;
  }
  size_t sent = 0;
  for (const auto& s : streams) sent += s->SendFormatted(formatted) ? 1 : 0;
  return sent;
}

size_t EventBroadcaster::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return streams_.size();
}

void EventBroadcaster::CloseAll() {
  std::vector<std::shared_ptr<EventStream>> streams;
  {
    std::lock_guard<std::mutex> lock(mu_);
    streams.swap(streams_);
  }
  for (const auto& s : streams) s->Close();
}

}  // namespace runnel::http
