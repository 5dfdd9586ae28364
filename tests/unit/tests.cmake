# One line per unit test file: interimap_unit_test(<module> <dir-library>...)
# The first library names the directory whose private headers the test sees.
interimap_unit_test(ipc ipc)
interimap_unit_test(logsink priv)
