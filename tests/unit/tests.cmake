# One line per unit-test file. Each file's TEST(name) cases become CTest tests.
tsdb_add_unit_test(test_codec SOURCES unit/test_codec.c LIBS tsdb_core tsdb_engine_internals)
tsdb_add_unit_test(test_jsonschema SOURCES unit/test_jsonschema.c LIBS tsdb_jsonschema INCLUDES ${PROJECT_SOURCE_DIR}/ingest/src)
tsdb_add_unit_test(test_engine_events SOURCES unit/test_engine_events.c unit/test_engine_helpers.c
                   LIBS tsdb_serve tsdb_engine tsdb_engine_internals TIMEOUT 120)
# Engine: one executable per module, each with the shared helpers of test_engine.h.
foreach(m core store writer read catalog maint control)
  tsdb_add_unit_test(test_engine_${m} SOURCES unit/test_engine_${m}.c unit/test_engine_helpers.c
                     LIBS tsdb_serve tsdb_engine tsdb_engine_internals TIMEOUT 300)
endforeach()
# What the engine reads back from disk, hostile: the cases the fuzzers found.
tsdb_add_unit_test(test_engine_hostile SOURCES unit/test_engine_hostile.c
                   LIBS tsdb_serve tsdb_engine tsdb_engine_internals
                   INCLUDES ${PROJECT_SOURCE_DIR}/serve/src)
# $CONTROL requests and their answers, from tests/control-corpus/.
tsdb_add_unit_test(test_control_corpus SOURCES unit/test_control_corpus.c LIBS tsdb_serve tsdb_engine cjson)
target_compile_definitions(test_control_corpus PRIVATE TSDB_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
# The HTTP API's authentication: the broker's password_file and acl_file.
tsdb_add_unit_test(test_auth SOURCES unit/test_auth.c LIBS tsdb_auth)
tsdb_add_unit_test(test_schemas SOURCES unit/test_schemas.c LIBS tsdb_ingest)
target_compile_definitions(test_schemas PRIVATE TSDB_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
if(TSDB_BUILD_PLUGIN)
  tsdb_add_unit_test(test_config SOURCES unit/test_config.c LIBS tsdb_plugin_config tsdb_serve tsdb_engine)
  target_compile_definitions(test_config PRIVATE TSDB_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
endif()
# Ingest: decoders, x-tsdb mapping, error records, hostile payloads.
foreach(t test_decode_senml test_decode_ttn_v3 test_decode_sensor_community test_mapping
          test_error_record test_ingest_hostile)
  tsdb_add_unit_test(${t} SOURCES unit/${t}.c LIBS tsdb_ingest)
  target_compile_definitions(${t} PRIVATE TSDB_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
endforeach()
# Strict JSON: y_/n_ texts and a differential run against jansson, the
# oracle (a test dependency only: scripts/deps.sh test installs it).
pkg_check_modules(JANSSON QUIET IMPORTED_TARGET jansson)
if(JANSSON_FOUND)
  tsdb_add_unit_test(test_json_strict SOURCES unit/test_json_strict.c
                     LIBS tsdb_ingest PkgConfig::JANSSON INCLUDES ${PROJECT_SOURCE_DIR}/ingest/src)
else()
  message(WARNING "libjansson-dev is missing: test_json_strict is not built (scripts/deps.sh test)")
endif()
set_tests_properties(test_ingest_hostile.mutated_shipped_examples test_ingest_hostile.random_bytes
                     PROPERTIES TIMEOUT 600)
if(TSDB_FUZZ)
  add_subdirectory(fuzz)
endif()
# The PromQL front end: parser, subset check, printer, regex matchers.
tsdb_add_unit_test(test_promql SOURCES unit/test_promql.c LIBS tsdb_promql)
