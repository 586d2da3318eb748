/* libFuzzer target: .npy bytes as a user may hand them to us; opens them
 * and, when they open, reads every row as float32, float64 and labels. */
#include "array_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_array(data, size, "fuzz.npy", NULL);
}
