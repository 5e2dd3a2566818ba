# The eight dependencies, all from Debian's packages (tools/setup installs them).
# Kept in one place so RunnelConfig.cmake can find the same ones for users.
find_package(PkgConfig REQUIRED)
pkg_check_modules(RDKAFKA REQUIRED IMPORTED_TARGET GLOBAL rdkafka)
if(NOT TARGET rdkafka::rdkafka)
  add_library(rdkafka::rdkafka ALIAS PkgConfig::RDKAFKA)
endif()
# libpq (Debian's libpq-dev) for the PostgreSQL sink: used directly, not
# libpqxx, whose errors are exceptions where our boundaries are Status.
pkg_check_modules(PQ REQUIRED IMPORTED_TARGET GLOBAL libpq)
if(NOT TARGET PostgreSQL::pq)
  add_library(PostgreSQL::pq ALIAS PkgConfig::PQ)
endif()
find_package(RocksDB CONFIG REQUIRED)
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
find_package(absl CONFIG REQUIRED)
find_package(spdlog CONFIG REQUIRED)
if(RUNNEL_BUILD_TESTS)
  find_package(GTest CONFIG REQUIRED)
endif()
if(RUNNEL_BUILD_BENCH OR RUNNEL_BUILD_TESTS)
  find_package(benchmark CONFIG REQUIRED)
endif()
# Boost 1.81 (Debian's libboost1.81-dev, libboost-json1.81-dev) for the http
# module: Beast/Asio are header-only, and runnel_http compiles Boost.JSON's
# sources itself (boost/json/src.hpp), so no Boost library is linked and the
# installed package needs no Boost targets. The json component is still
# required here so a missing libboost-json-dev fails at configure time.
find_package(Boost 1.81 REQUIRED COMPONENTS json)
find_package(Threads REQUIRED)
# OpenSSL (libssl-dev) for HTTPS in the http module (boost::asio::ssl).
find_package(OpenSSL REQUIRED)
