# Warnings for Runnel's own code only (never for generated protobuf code);
# errors only with RUNNEL_WERROR (tools/test and development builds).
set(RUNNEL_WARNINGS -Wall -Wextra -Wno-missing-field-initializers)
if(RUNNEL_WERROR)
  list(APPEND RUNNEL_WARNINGS -Werror)
endif()

# runnel_module(NAME <m> SOURCES ... DEPS ...): one static library per
# framework module, exported as runnel::runnel_<m>; the include root is
# framework/ so code writes #include "runnel/<m>/x.h".
function(runnel_module)
  cmake_parse_arguments(M "" "NAME" "SOURCES;DEPS" ${ARGN})
  set(target runnel_${M_NAME})
  add_library(${target} STATIC ${M_SOURCES})
  add_library(runnel::${target} ALIAS ${target})
  target_include_directories(${target} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/framework>
    $<INSTALL_INTERFACE:include>)
  target_compile_options(${target} PRIVATE ${RUNNEL_WARNINGS})
  target_link_libraries(${target} PUBLIC ${M_DEPS})
  set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE ON EXPORT_NAME ${target})
  set_property(GLOBAL APPEND PROPERTY RUNNEL_MODULE_TARGETS ${target})
endfunction()

# runnel_test(NAME <t> SOURCES ... DEPS ... [LABELS ...]): a GoogleTest binary
# whose tests are registered one by one with CTest.
function(runnel_test)
  if(NOT RUNNEL_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(T "" "NAME" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_compile_options(${T_NAME} PRIVATE ${RUNNEL_WARNINGS})
  target_link_libraries(${T_NAME} PRIVATE ${T_DEPS} GTest::gmock GTest::gtest_main)
  include(GoogleTest)
  gtest_discover_tests(${T_NAME} DISCOVERY_TIMEOUT 60 PROPERTIES LABELS "unit;${T_LABELS}")
endfunction()
