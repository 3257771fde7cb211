# lib/ed25519 as a MicroPython user C module, CMake-based ports (rp2, esp32);
# lib/micropython.cmake includes it with lib/p256's.
add_library(usermod_ed25519 INTERFACE)

target_sources(usermod_ed25519 INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}/ed25519_mpy.c
    ${CMAKE_CURRENT_LIST_DIR}/ed25519.c
)

target_include_directories(usermod_ed25519 INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}
)

target_link_libraries(usermod INTERFACE usermod_ed25519)
