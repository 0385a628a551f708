# Integration tests: a real mosquitto with the built plugin, real clients.
find_package(eclipse-paho-mqtt-c CONFIG REQUIRED)
find_program(MOSQUITTO_BIN mosquitto PATHS /usr/sbin REQUIRED)
set(TSDB_PYTHON /usr/bin/python3 CACHE FILEPATH "Python that sees Debian's python3-* packages")

add_executable(tsdb_pub5 tools/tsdb_pub5.c)
target_link_libraries(tsdb_pub5 PRIVATE eclipse-paho-mqtt-c::paho-mqtt3c)
tsdb_target_defaults(tsdb_pub5)

# serve/src/auth on the command line, beside the real mosquitto_passwd and broker.
add_executable(tsdb_authcheck tools/tsdb_authcheck.c)
target_link_libraries(tsdb_authcheck PRIVATE tsdb_auth)
tsdb_target_defaults(tsdb_authcheck)

function(tsdb_add_integration_test file)
  get_filename_component(name ${file} NAME_WE)
  add_test(NAME integration.${name}
           COMMAND ${TSDB_PYTHON} -m pytest -q -p no:cacheprovider -rfE
                   ${CMAKE_CURRENT_SOURCE_DIR}/integration/${file}
           WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/integration)
  set_tests_properties(integration.${name} PROPERTIES
    LABELS integration
    TIMEOUT 600
    ENVIRONMENT "TSDB_PLUGIN=$<TARGET_FILE:mosquitto_tsdb>;TSDB_PUB5=$<TARGET_FILE:tsdb_pub5>;TSDB_AUTHCHECK=$<TARGET_FILE:tsdb_authcheck>;TSDB_SOURCE_DIR=${PROJECT_SOURCE_DIR};MOSQUITTO=${MOSQUITTO_BIN};PYTHONDONTWRITEBYTECODE=1")
endfunction()

tsdb_add_integration_test(test_e2e.py)
tsdb_add_integration_test(test_feedback.py)
tsdb_add_integration_test(test_serving.py)
tsdb_add_integration_test(test_acl.py)
tsdb_add_integration_test(test_faults.py)
tsdb_add_integration_test(test_attacks.py)
tsdb_add_integration_test(test_broker_facts.py)
tsdb_add_integration_test(test_auth_files.py)
