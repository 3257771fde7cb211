# lib/p256 as a MicroPython user C module, CMake-based ports (rp2, esp32):
#   make -C ports/rp2 BOARD=RPI_PICO USER_C_MODULES=/path/to/repo/lib/p256/micropython.cmake
# (to add more modules, include this file from a top-level micropython.cmake)
add_library(usermod_p256 INTERFACE)

target_sources(usermod_p256 INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}/p256_mpy.c
    ${CMAKE_CURRENT_LIST_DIR}/p256.c
)

target_include_directories(usermod_p256 INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}
)

target_link_libraries(usermod INTERFACE usermod_p256)
