#ifndef RUNNEL_TOOLS_REPLAY_CSV_H_
#define RUNNEL_TOOLS_REPLAY_CSV_H_

// An RFC 4180 CSV reader: comma-separated fields, fields quoted with '"'
// may hold commas, newlines (LF or CRLF) and doubled quotes; rows end in LF
// or CRLF. A malformed row (a stray quote in an unquoted field, text after a
// closing quote, a quote left open at the end of the file) comes back with
// `error` set and the reader resumes at the next line, so a caller can skip
// it and count it.
//
// Ownership: reads from a stream the caller owns and keeps open. One thread.

#include <istream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace runnel::replay {

struct CsvRow {
  // 1-based line of the file where the row starts (a quoted newline makes a
  // row span several lines).
  int64_t line = 0;
  std::vector<std::string> fields;
  // Empty for a well-formed row; else why it is malformed (fields are then
  // incomplete).
  std::string error;
};

class CsvReader {
 public:
  explicit CsvReader(std::istream& in) : in_(in) {}

  // Reads the next row into `row`; false at the end of the input. Blank
  // lines are skipped. kDataLoss only when the stream itself fails.
  absl::StatusOr<bool> Next(CsvRow& row);

 private:
  // Skips to just after the next line end (resynchronising after an error).
  void SkipLine();
  std::istream& in_;
  int64_t line_ = 1;  // line of the next character
};

}  // namespace runnel::replay

#endif  // RUNNEL_TOOLS_REPLAY_CSV_H_
