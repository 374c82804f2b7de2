/* tight: single-thread malloc/free loops per size.
 *
 * usage: tight PAIRS_PER_SIZE BATCH_ROUNDS_PER_SIZE
 *
 * For each size of 16, 64, 256, 1024, 4096 and 32768 bytes:
 *  - PAIRS_PER_SIZE times malloc, write one byte, free (the tightest loop);
 *  - BATCH_ROUNDS_PER_SIZE times allocate 1000 objects (one byte written
 *    in each) and then free the 1000 in allocation order.
 * Objects of the batches are checked before they are freed.
 */
#include "common.h"

#define BATCH 1000

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: tight PAIRS_PER_SIZE BATCH_ROUNDS_PER_SIZE\n");
		return 2;
	}
	static const size_t sizes[] = { 16, 64, 256, 1024, 4096, 32768 };
	size_t pairs = arg_num(argc, argv, 1, 1);
	size_t rounds = arg_num(argc, argv, 2, 1);
	static void *batch[BATCH];

	for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
		size_t n = sizes[k];
		for (size_t i = 0; i < pairs; i++) {
			char *p = must_malloc(n);
			*(volatile char *)p = (char)i;
			escape(p);
			free(p);
		}
		for (size_t r = 0; r < rounds; r++) {
			for (size_t i = 0; i < BATCH; i++) {
				batch[i] = must_malloc(n);
				obj_init(batch[i], n);
			}
			for (size_t i = 0; i < BATCH; i++) {
				obj_check(batch[i]);
				free(batch[i]);
			}
		}
	}
	printf("tight: pairs/size=%zu batch-rounds/size=%zu\n", pairs, rounds);
	return 0;
}
