# cmake --install: headers, the module libraries, generated protobuf headers
# and a package config, so an outside project can
#   find_package(Runnel CONFIG REQUIRED)
#   target_link_libraries(app PRIVATE runnel::runnel)
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

get_property(module_targets GLOBAL PROPERTY RUNNEL_MODULE_TARGETS)
install(TARGETS ${module_targets} runnel EXPORT RunnelTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# internal/ headers go too: public templates include them (not for users to
# include directly).
install(DIRECTORY ${PROJECT_SOURCE_DIR}/framework/runnel
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h" PATTERN "*_test*" EXCLUDE)
get_property(proto_gen GLOBAL PROPERTY RUNNEL_PROTO_GEN_DIR)
# Not grpc/health/v1/health.pb.h: only the query server's .cc uses it, and
# it must not land in an installed gRPC's include/grpc/.
install(DIRECTORY ${proto_gen}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.pb.h" PATTERN "grpc" EXCLUDE)
install(EXPORT RunnelTargets NAMESPACE runnel::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Runnel)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/RunnelConfig.cmake.in
  ${PROJECT_BINARY_DIR}/RunnelConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Runnel)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/RunnelConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/RunnelConfig.cmake ${PROJECT_BINARY_DIR}/RunnelConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Runnel)

# The apps and command-line tools, for a deployment (deploy/Dockerfile
# installs this tree into its image): every executable into bin/, the
# dashboard's page into share/runnel/sensor-dashboard/web (point `web.dir`
# there: its compiled-in default is the source folder) and the clickstream
# schema into share/runnel/clickstream. runnel-query installs itself
# (tools/runnel-query/CMakeLists.txt). Test and benchmark binaries stay out.
set(runnel_deploy_programs sensor-clean sensor-stats sensor-gateway sensor-dashboard runnel-clickstream
  runnel-kafka runnel-replay runnel-reset)
foreach(program IN LISTS runnel_deploy_programs)
  if(TARGET ${program})
    install(TARGETS ${program} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  endif()
endforeach()
if(TARGET sensor-dashboard)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/apps/sensor-dashboard/web/
    DESTINATION ${CMAKE_INSTALL_DATADIR}/runnel/sensor-dashboard/web)
endif()
if(TARGET runnel-clickstream)
  install(FILES ${PROJECT_SOURCE_DIR}/apps/clickstream/sql/schema.sql
    DESTINATION ${CMAKE_INSTALL_DATADIR}/runnel/clickstream)
endif()
