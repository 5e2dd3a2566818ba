#ifndef RUNNEL_TESTS_INTEGRATION_TLS_CERTS_H_
#define RUNNEL_TESTS_INTEGRATION_TLS_CERTS_H_

// Certificates for the TLS tests, made by tls_make_certs.sh (openssl) in a
// fresh directory: see that script for what each file is. Helpers to read a
// file and to run a command (curl, grpcurl) capturing its output.

#include <stdlib.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

namespace runnel::tls_test {

struct Certs {
  std::string dir;
  std::string Path(const std::string& name) const { return dir + "/" + name; }
};

// Makes the certificates in a new directory under the temporary directory
// (a test failure if openssl fails).
inline Certs MakeCerts() {
  std::string dir = (std::filesystem::temp_directory_path() / "runnel-tls-XXXXXX").string();
  EXPECT_NE(mkdtemp(dir.data()), nullptr) << dir;
  Certs certs{dir};
  const std::string command = std::string(RUNNEL_TLS_MAKE_CERTS) + " " + certs.dir;
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
  return certs;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

inline CommandResult RunCommand(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer;
  size_t n = 0;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.output.append(buffer.data(), n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace runnel::tls_test

#endif  // RUNNEL_TESTS_INTEGRATION_TLS_CERTS_H_
