// libFuzzer's entry point for programs that have a main of their own (LLVM 11 and later).
// SwiftPM links every executable with its own main, so the fuzz targets start libFuzzer's driver
// from there instead of linking libFuzzer's main.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
