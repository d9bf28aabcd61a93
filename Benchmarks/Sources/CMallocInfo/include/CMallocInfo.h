#include <stddef.h>
/// Bytes the C allocator has handed out and not yet freed (mallinfo2: uordblks + hblkhd).
size_t hv_heap_in_use(void);
/// Returns free memory at the top of the heap to the system (malloc_trim(0)).
void hv_malloc_trim(void);
