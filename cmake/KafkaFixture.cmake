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

# A three-broker cluster (tools/kafka-local start --brokers 3: internal
# topics of the brokers with replication 3, min ISR 2), as the fixture
# "kafka3", for the tests that need replication or a broker to kill:
#
#   runnel_add_kafka3_test(NAME <test> COMMAND <cmd...> [LABELS ...] [EXCLUSIVE] [TIMEOUT s])
#
# CTest starts it (data under <build>/kafka-local-3) before the first test
# that requires it (with -R, only when such a test is selected: CTest adds the
# fixture's setup itself) and stops it, wiping its data, after the last. Tests find it
# through RUNNEL_KAFKA3_DIR (its file `bootstrap` holds the three host:port)
# and RUNNEL_KAFKA_LOCAL (kill --node N, start-node N, leader, coordinator).
# Every such test holds the RESOURCE_LOCK kafka3, so one runs at a time on
# the cluster (a test that kills a broker is not seen by another); they run
# beside the tests of the one-broker fixture. EXCLUSIVE: alone altogether.
# The fixture's start and stop carry the label release_only like every test
# that uses it outside the slow ones, so that tools/test's sanitizer pass
# (-LE 'slow|release_only') starts no cluster; a selected test that requires
# the fixture still brings its start and stop along (CTest adds them).
set(RUNNEL_KAFKA3_DIR ${PROJECT_BINARY_DIR}/kafka-local-3)

add_test(NAME kafka3_fixture_start COMMAND ${RUNNEL_KAFKA_LOCAL} start --brokers 3 --dir ${RUNNEL_KAFKA3_DIR})
set_tests_properties(kafka3_fixture_start PROPERTIES FIXTURES_SETUP kafka3 LABELS "integration;cluster;release_only" TIMEOUT 300)
add_test(NAME kafka3_fixture_stop COMMAND ${RUNNEL_KAFKA_LOCAL} stop --wipe --dir ${RUNNEL_KAFKA3_DIR})
set_tests_properties(kafka3_fixture_stop PROPERTIES FIXTURES_CLEANUP kafka3 LABELS "integration;cluster;release_only" TIMEOUT 120)

function(runnel_add_kafka3_test)
  cmake_parse_arguments(K "EXCLUSIVE" "NAME;TIMEOUT" "COMMAND;LABELS" ${ARGN})
  if(NOT K_TIMEOUT)
    set(K_TIMEOUT 600)
  endif()
  add_test(NAME ${K_NAME} COMMAND ${K_COMMAND})
  set_tests_properties(${K_NAME} PROPERTIES
    FIXTURES_REQUIRED kafka3
    LABELS "integration;cluster;${K_LABELS}"
    TIMEOUT ${K_TIMEOUT}
    RESOURCE_LOCK kafka3
    ENVIRONMENT "RUNNEL_KAFKA3_DIR=${RUNNEL_KAFKA3_DIR};RUNNEL_KAFKA_LOCAL=${RUNNEL_KAFKA_LOCAL}")
  if(K_EXCLUSIVE)
    set_tests_properties(${K_NAME} PROPERTIES RUN_SERIAL TRUE)
  endif()
endfunction()

# Secure brokers (tools/kafka-local start --secure): beside PLAINTEXT, an SSL
# listener that requires a client certificate and a SASL_SSL listener with
# SCRAM-SHA-512 and PLAIN, on a CA made for the broker's dir. Two fixtures:
#   kafka_secure  Kafka 4.1.1 (pom.xml's), dir <build>/kafka-local-secure
#   kafka_scram   Kafka 3.9.1, dir <build>/kafka-local-scram: librdkafka
#                 2.0.2 cannot log in with SCRAM to Kafka 4.x (fixed in
#                 librdkafka 2.6.1, #4895), so SCRAM end to end runs there
#
#   runnel_add_kafka_secure_test(NAME <test> COMMAND <cmd...> [SCRAM] [TIMEOUT s])
#
# Tests find the broker through RUNNEL_KAFKA_SECURE_DIR (files
# bootstrap-ssl, bootstrap-sasl-ssl, and client-ssl.properties,
# client-sasl-ssl-scram.properties, client-sasl-ssl-plain.properties with
# the librdkafka settings of each listener) and RUNNEL_KAFKA_DIR (the same
# dir: its PLAINTEXT listener, for the fixtures' helpers that check results).
set(RUNNEL_KAFKA_SECURE_DIR ${PROJECT_BINARY_DIR}/kafka-local-secure)
set(RUNNEL_KAFKA_SCRAM_DIR ${PROJECT_BINARY_DIR}/kafka-local-scram)
add_test(NAME kafka_secure_fixture_start COMMAND ${RUNNEL_KAFKA_LOCAL} start --secure --dir ${RUNNEL_KAFKA_SECURE_DIR})
set_tests_properties(kafka_secure_fixture_start PROPERTIES FIXTURES_SETUP kafka_secure LABELS "integration;security;release_only"
  TIMEOUT 300)
add_test(NAME kafka_secure_fixture_stop COMMAND ${RUNNEL_KAFKA_LOCAL} stop --wipe --dir ${RUNNEL_KAFKA_SECURE_DIR})
set_tests_properties(kafka_secure_fixture_stop PROPERTIES FIXTURES_CLEANUP kafka_secure LABELS "integration;security;release_only"
  TIMEOUT 120)
add_test(NAME kafka_scram_fixture_start
  COMMAND ${RUNNEL_KAFKA_LOCAL} start --secure --kafka-version 3.9.1 --dir ${RUNNEL_KAFKA_SCRAM_DIR})
set_tests_properties(kafka_scram_fixture_start PROPERTIES FIXTURES_SETUP kafka_scram LABELS "integration;security;release_only"
  TIMEOUT 600)
add_test(NAME kafka_scram_fixture_stop COMMAND ${RUNNEL_KAFKA_LOCAL} stop --wipe --dir ${RUNNEL_KAFKA_SCRAM_DIR})
set_tests_properties(kafka_scram_fixture_stop PROPERTIES FIXTURES_CLEANUP kafka_scram LABELS "integration;security;release_only"
  TIMEOUT 120)

function(runnel_add_kafka_secure_test)
  cmake_parse_arguments(K "SCRAM" "NAME;TIMEOUT" "COMMAND" ${ARGN})
  if(NOT K_TIMEOUT)
    set(K_TIMEOUT 600)
  endif()
  set(fixture kafka_secure)
  set(dir ${RUNNEL_KAFKA_SECURE_DIR})
  if(K_SCRAM)
    set(fixture kafka_scram)
    set(dir ${RUNNEL_KAFKA_SCRAM_DIR})
  endif()
  add_test(NAME ${K_NAME} COMMAND ${K_COMMAND})
  set_tests_properties(${K_NAME} PROPERTIES
    FIXTURES_REQUIRED ${fixture}
    LABELS "integration;security;release_only"
    TIMEOUT ${K_TIMEOUT}
    ENVIRONMENT "RUNNEL_KAFKA_SECURE_DIR=${dir};RUNNEL_KAFKA_DIR=${dir};RUNNEL_KAFKA_LOCAL=${RUNNEL_KAFKA_LOCAL}")
endfunction()
