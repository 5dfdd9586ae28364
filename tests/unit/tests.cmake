# One line per unit test file: interimap_unit_test(<module> <dir-library>...)
# The first library names the directory whose private headers the test sees.
interimap_unit_test(ipc ipc)
interimap_unit_test(logsink priv)
interimap_unit_test(sdnotify priv)
interimap_unit_test(db priv)
interimap_unit_test(priv_db priv)
interimap_unit_test(priv_net priv)
interimap_unit_test(priv_msg priv)
interimap_unit_test(tls net)
interimap_unit_test(stream net)
interimap_unit_test(connect priv)
interimap_unit_test(socks5 net)
# A driver for tests/integration/connect.sh: connect_peer() from the shell,
# then the net's SOCKS5 exchange when there is a proxy.
add_executable(connect_probe unit/connect_probe.c)
target_include_directories(connect_probe PRIVATE ${CMAKE_SOURCE_DIR}/ipc
	${CMAKE_SOURCE_DIR}/priv ${CMAKE_SOURCE_DIR}/net)
target_link_libraries(connect_probe PRIVATE priv net ipc)
interimap_unit_test(cli priv)
interimap_unit_test(conf priv)
target_sources(test_conf PRIVATE ${CMAKE_SOURCE_DIR}/priv/conf_dump.c)
target_compile_definitions(test_conf PRIVATE
	CONF_TEST_DATA="${CMAKE_SOURCE_DIR}/tests/data/config")
interimap_unit_test(imap_parse net)
target_compile_definitions(test_imap_parse PRIVATE
	CORPUS_DIR="${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/imap_parse")
interimap_unit_test(imap_fmt net)
interimap_unit_test(engine_uidset engine)
interimap_unit_test(engine_answer engine)
interimap_unit_test(engine_sync engine priv)
target_include_directories(test_engine_sync PRIVATE ${CMAKE_SOURCE_DIR}/priv)
interimap_unit_test(imap_session net)
interimap_unit_test(scram net)
