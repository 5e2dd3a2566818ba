# A real local PostgreSQL server for integration tests, as a CTest fixture.
#
# CTest starts one server (tools/pg-local, cluster under <build>/pg-local,
# initdb + pg_ctl on a free loopback port) before the first test that
# requires the fixture "postgres", and stops it, wiping its data, after the
# last. Tests find it through
#   RUNNEL_PG_DIR    the server dir; its file `conninfo` holds the libpq
#                    connection string
#   RUNNEL_PG_LOCAL  the pg-local script (to stop/start the server)
# Tests registered otherwise add the fixture and RUNNEL_PG_ENVIRONMENT
# themselves (FIXTURES_REQUIRED "kafka;postgres", ENVIRONMENT); GoogleTest
# binaries use runnel_postgres_integration_test (tests/integration).

set(RUNNEL_PG_LOCAL ${PROJECT_SOURCE_DIR}/tools/pg-local/pg-local)
set(RUNNEL_PG_DIR ${PROJECT_BINARY_DIR}/pg-local)

add_test(NAME postgres_fixture_start COMMAND ${RUNNEL_PG_LOCAL} start --dir ${RUNNEL_PG_DIR})
set_tests_properties(postgres_fixture_start PROPERTIES FIXTURES_SETUP postgres LABELS "integration" TIMEOUT 120)
add_test(NAME postgres_fixture_stop COMMAND ${RUNNEL_PG_LOCAL} stop --wipe --dir ${RUNNEL_PG_DIR})
set_tests_properties(postgres_fixture_stop PROPERTIES FIXTURES_CLEANUP postgres LABELS "integration" TIMEOUT 120)

set(RUNNEL_PG_ENVIRONMENT "RUNNEL_PG_DIR=${RUNNEL_PG_DIR};RUNNEL_PG_LOCAL=${RUNNEL_PG_LOCAL}")
