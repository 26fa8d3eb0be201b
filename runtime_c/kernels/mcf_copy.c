/* Reshape that could not be planned as an alias: the same bytes, copied. */
#include <string.h>

#include "mcf_kernels.h"

void mcf_copy(const void *in, void *out, int32_t nbytes)
{
    if (in != out) {
        memmove(out, in, (size_t)nbytes);
    }
}
