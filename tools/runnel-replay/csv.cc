#include "csv.h"

#include "absl/strings/str_cat.h"

namespace runnel::replay {

void CsvReader::SkipLine() {
  int c;
  while ((c = in_.get()) != EOF) {
    if (c == '\n') {
      ++line_;
      return;
    }
  }
}

absl::StatusOr<bool> CsvReader::Next(CsvRow& row) {
  row.fields.clear();
  row.error.clear();
  // Blank lines (LF or CRLF alone) carry no row.
  while (true) {
    int c = in_.peek();
    if (c == EOF) {
      if (in_.bad()) return absl::DataLossError(absl::StrCat("CSV: read failed at line ", line_));
      return false;
    }
    if (c == '\n') {
      in_.get();
      ++line_;
    } else if (c == '\r') {
      in_.get();
      if (in_.peek() == '\n') continue;
      break;  // a lone CR is data
    } else {
      break;
    }
  }
  row.line = line_;
  std::string field;
  bool quoted = false;       // inside a quoted field
  bool was_quoted = false;   // the current field was quoted and is closed
  while (true) {
    int c = in_.get();
    if (c == EOF) {
      if (in_.bad()) return absl::DataLossError(absl::StrCat("CSV: read failed at line ", line_));
      if (quoted) {
        row.error = absl::StrCat("a quoted field opened on line ", row.line, " is never closed");
        return true;
      }
      row.fields.push_back(std::move(field));
      return true;
    }
    if (quoted) {
      if (c == '"') {
        if (in_.peek() == '"') {
          in_.get();
          field.push_back('"');
        } else {
          quoted = false;
          was_quoted = true;
        }
      } else {
        if (c == '\n') ++line_;
        field.push_back(static_cast<char>(c));
      }
      continue;
    }
    if (c == ',') {
      row.fields.push_back(std::move(field));
      field.clear();
      was_quoted = false;
      continue;
    }
    if (c == '\n' || (c == '\r' && in_.peek() == '\n')) {
      if (c == '\r') in_.get();
      ++line_;
      row.fields.push_back(std::move(field));
      return true;
    }
    if (was_quoted) {
      row.error = absl::StrCat("text after the closing quote of field ", row.fields.size() + 1);
      SkipLine();
      return true;
    }
    if (c == '"') {
      if (!field.empty()) {
        row.error = absl::StrCat("a quote inside unquoted field ", row.fields.size() + 1,
                                 " (quote the whole field and double the quote)");
        SkipLine();
        return true;
      }
      quoted = true;
      continue;
    }
    field.push_back(static_cast<char>(c));
  }
}

}  // namespace runnel::replay
