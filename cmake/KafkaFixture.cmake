# A real local Kafka broker for integration tests, as a CTest fixture.
#
#   runnel_add_kafka_test(NAME <test> COMMAND <cmd...> [LABELS ...] [EXCLUSIVE] [TIMEOUT s])
#
# registers a test that requires the fixture "kafka": CTest starts one broker
# (tools/kafka-local, data under <build>/kafka-local) before the first such
# test and stops it, wiping its data, after the last. Tests find it through
#   RUNNEL_KAFKA_DIR    the broker dir; its file `bootstrap` holds host:port
#   RUNNEL_KAFKA_LOCAL  the kafka-local script (to stop/start/kill the broker)
# EXCLUSIVE tests (those that stop or restart the broker) run alone.

set(RUNNEL_KAFKA_LOCAL ${PROJECT_SOURCE_DIR}/tools/kafka-local/kafka-local)
set(RUNNEL_KAFKA_DIR ${PROJECT_BINARY_DIR}/kafka-local)

add_test(NAME kafka_fixture_start COMMAND ${RUNNEL_KAFKA_LOCAL} start --dir ${RUNNEL_KAFKA_DIR})
set_tests_properties(kafka_fixture_start PROPERTIES FIXTURES_SETUP kafka LABELS "integration" TIMEOUT 300)
add_test(NAME kafka_fixture_stop COMMAND ${RUNNEL_KAFKA_LOCAL} stop --wipe --dir ${RUNNEL_KAFKA_DIR})
set_tests_properties(kafka_fixture_stop PROPERTIES FIXTURES_CLEANUP kafka LABELS "integration" TIMEOUT 120)

function(runnel_add_kafka_test)
  cmake_parse_arguments(K "EXCLUSIVE" "NAME;TIMEOUT" "COMMAND;LABELS" ${ARGN})
  if(NOT K_TIMEOUT)
    set(K_TIMEOUT 600)
  endif()
  add_test(NAME ${K_NAME} COMMAND ${K_COMMAND})
  set_tests_properties(${K_NAME} PROPERTIES
    FIXTURES_REQUIRED kafka
    LABELS "integration;${K_LABELS}"
    TIMEOUT ${K_TIMEOUT}
    ENVIRONMENT "RUNNEL_KAFKA_DIR=${RUNNEL_KAFKA_DIR};RUNNEL_KAFKA_LOCAL=${RUNNEL_KAFKA_LOCAL}")
  if(K_EXCLUSIVE)
    set_tests_properties(${K_NAME} PROPERTIES RUN_SERIAL TRUE)
  endif()
endfunction()
