#include "runnel/sink/internal/sql.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "runnel/common/strings.h"

namespace runnel::sink::internal {
namespace {

constexpr size_t kMaxNameBytes = 63;

std::vector<const SqlColumn*> AllColumns(const TableMapping& m) {
  std::vector<const SqlColumn*> out;
  for (const auto& c : m.key_columns) out.push_back(&c);
  for (const auto& c : m.value_columns) out.push_back(&c);
  return out;
}

std::string ColumnList(const std::vector<SqlColumn>& columns) {
  return absl::StrJoin(columns, ", ",
                       [](std::string* out, const SqlColumn& c) { absl::StrAppend(out, QuoteName(c.name)); });
}

// "($1, $2), ($3, $4)": `rows` groups of `per_row` parameters, each cast to
// its column's type when `casts` holds one.
std::string ParamGroups(size_t rows, const std::vector<const SqlColumn*>& columns, bool casts) {
  std::string out;
  size_t n = 1;
  for (size_t r = 0; r < rows; ++r) {
    if (r > 0) out += ", ";
    out += "(";
    for (size_t c = 0; c < columns.size(); ++c) {
      if (c > 0) out += ", ";
      absl::StrAppend(&out, "$", n++);
      if (casts && !columns[c]->type.empty()) absl::StrAppend(&out, "::", columns[c]->type);
    }
    out += ")";
  }
  return out;
}

}  // namespace

absl::Status ValidateName(std::string_view name, std::string_view field) {
  if (name.empty()) return absl::InvalidArgumentError(absl::StrCat(ToAbsl(field), ": empty name"));
  if (name.size() > kMaxNameBytes) {
    return absl::InvalidArgumentError(absl::StrCat(ToAbsl(field), ": '", ToAbsl(name), "' is longer than ",
                                                   kMaxNameBytes, " bytes (PostgreSQL would truncate it)"));
  }
  if (name.find('\0') != std::string_view::npos || name.find('.') != std::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(ToAbsl(field), ": '", ToAbsl(name), "' may not contain '.' or NUL"));
  }
  return absl::OkStatus();
}

absl::Status ValidateTableName(std::string_view table, std::string_view field) {
  std::vector<absl::string_view> parts = absl::StrSplit(ToAbsl(table), '.');
  if (parts.size() > 2) {
    return absl::InvalidArgumentError(
        absl::StrCat(ToAbsl(field), ": '", ToAbsl(table), "' is not \"table\" or \"schema.table\""));
  }
  for (absl::string_view part : parts) {
    if (absl::Status s = ValidateName(ToStd(part), field); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(s.message(), " (in '", ToAbsl(table), "')"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateSqlType(std::string_view type, std::string_view field) {
  if (type.empty()) return absl::InvalidArgumentError(absl::StrCat(ToAbsl(field), ": empty SQL type"));
  for (std::string_view bad : {";", "--", "/*", "'"}) {
    if (absl::StrContains(ToAbsl(type), ToAbsl(bad))) {
      return absl::InvalidArgumentError(
          absl::StrCat(ToAbsl(field), ": SQL type '", ToAbsl(type), "' may not contain \"", ToAbsl(bad), "\""));
    }
  }
  return absl::OkStatus();
}

std::string QuoteName(std::string_view name) {
  return absl::StrCat("\"", absl::StrReplaceAll(ToAbsl(name), {{"\"", "\"\""}}), "\"");
}

std::string QuoteTableName(std::string_view table) {
  std::vector<absl::string_view> parts = absl::StrSplit(ToAbsl(table), '.');
  return absl::StrJoin(parts, ".",
                       [](std::string* out, absl::string_view p) { absl::StrAppend(out, QuoteName(ToStd(p))); });
}

std::string CreateTableSql(const TableMapping& m) {
  std::string out;
  if (size_t dot = m.table.find('.'); dot != std::string::npos) {
    absl::StrAppend(&out, "CREATE SCHEMA IF NOT EXISTS ", QuoteName(std::string_view(m.table).substr(0, dot)),
                    "; ");
  }
  absl::StrAppend(&out, "CREATE TABLE IF NOT EXISTS ", QuoteTableName(m.table), " (");
  for (const SqlColumn* c : AllColumns(m)) absl::StrAppend(&out, QuoteName(c->name), " ", c->type, ", ");
  absl::StrAppend(&out, "PRIMARY KEY (", ColumnList(m.key_columns), "))");
  return out;
}

std::string UpsertSql(const TableMapping& m, size_t rows) {
  std::string out = absl::StrCat("INSERT INTO ", QuoteTableName(m.table), " (", ColumnList(m.key_columns));
  if (!m.value_columns.empty()) absl::StrAppend(&out, ", ", ColumnList(m.value_columns));
  absl::StrAppend(&out, ") VALUES ", ParamGroups(rows, AllColumns(m), /*casts=*/false), " ON CONFLICT (",
                  ColumnList(m.key_columns), ") DO ");
  if (m.value_columns.empty()) {
    out += "NOTHING";
    return out;
  }
  out += "UPDATE SET ";
  for (size_t i = 0; i < m.value_columns.size(); ++i) {
    const std::string name = QuoteName(m.value_columns[i].name);
    absl::StrAppend(&out, i > 0 ? ", " : "", name, " = EXCLUDED.", name);
  }
  return out;
}

std::string DeleteSql(const TableMapping& m, size_t rows) {
  std::vector<const SqlColumn*> keys;
  for (const auto& c : m.key_columns) keys.push_back(&c);
  return absl::StrCat("DELETE FROM ", QuoteTableName(m.table), " WHERE (", ColumnList(m.key_columns), ") IN (",
                      ParamGroups(rows, keys, /*casts=*/true), ")");
}

size_t RowsPerStatement(size_t params_per_row) {
  return std::max<size_t>(1, std::min(kMaxRowsPerStatement, kMaxStatementParams / std::max<size_t>(1, params_per_row)));
}

}  // namespace runnel::sink::internal
