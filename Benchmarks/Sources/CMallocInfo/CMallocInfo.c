#include <malloc.h>
#include "CMallocInfo.h"
size_t hv_heap_in_use(void) { struct mallinfo2 m = mallinfo2(); return m.uordblks + m.hblkhd; }
void hv_malloc_trim(void) { malloc_trim(0); }
