/* libFuzzer target: safetensors bytes as a user may hand them to us; opens
 * the only tensor or the tensor "emb", and reads every row of what opens. */
#include "array_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_array(data, size, "fuzz.st", size % 2 ? "emb" : NULL);
}
