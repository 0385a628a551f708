# One line per unit-test file. Each file's TEST(name) cases become CTest tests.
# (Guards below are temporary while files are being written in parallel.)
if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_codec.c)
  tsdb_add_unit_test(test_codec SOURCES unit/test_codec.c LIBS tsdb_core INCLUDES ${PROJECT_SOURCE_DIR}/engine/src)
endif()
if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_jsonschema.c)
  tsdb_add_unit_test(test_jsonschema SOURCES unit/test_jsonschema.c LIBS tsdb_jsonschema INCLUDES ${PROJECT_SOURCE_DIR}/ingest/src)
endif()
tsdb_add_unit_test(test_engine SOURCES unit/test_engine.c LIBS tsdb_engine INCLUDES ${PROJECT_SOURCE_DIR}/engine/src TIMEOUT 300)
