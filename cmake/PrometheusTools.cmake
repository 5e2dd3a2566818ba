# Prometheus' promtool and server for the metrics integration tests
# (tests/integration/metrics_test.cc), from Debian's prometheus package
# (tools/setup installs it).
#
#   runnel_use_prometheus_tools(<target>)
#
# defines RUNNEL_PROMTOOL and RUNNEL_PROMETHEUS (absolute paths) for the
# target. A tool that is missing is passed as its *-NOTFOUND path, so the
# tests that need it fail saying so instead of being skipped.

find_program(RUNNEL_PROMTOOL_PROGRAM promtool)
find_program(RUNNEL_PROMETHEUS_PROGRAM prometheus)
if(NOT RUNNEL_PROMTOOL_PROGRAM OR NOT RUNNEL_PROMETHEUS_PROGRAM)
  message(STATUS "promtool or prometheus not found: the metrics integration tests will fail (run tools/setup)")
endif()

function(runnel_use_prometheus_tools target)
  target_compile_definitions(${target} PRIVATE
    RUNNEL_PROMTOOL="${RUNNEL_PROMTOOL_PROGRAM}"
    RUNNEL_PROMETHEUS="${RUNNEL_PROMETHEUS_PROGRAM}")
endfunction()
