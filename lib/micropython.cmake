# The key's C libraries as MicroPython user C modules, CMake-based ports
# (rp2, esp32): make firmware passes this file as USER_C_MODULES.
#   make -C ports/rp2 BOARD=RPI_PICO USER_C_MODULES=/path/to/repo/lib/micropython.cmake
# (make-based ports and CircuitPython take USER_C_MODULES=/path/to/repo/lib
# and include each lib/*/micropython.mk instead.)
include(${CMAKE_CURRENT_LIST_DIR}/p256/micropython.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/ed25519/micropython.cmake)
