/* See unwind_chains.h. The empty asm statements keep each call a real call
 * with work after it (no tail calls) and the arrays in memory. */
#include "unwind_chains.h"

#include <alloca.h>
#include <string.h>

__attribute__((noinline, noclone)) int chain_nofp(int depth)
{
	volatile char pad[32];
	pad[depth & 31] = (char)depth;
	pad[0] = 1;
	int r = depth ? chain_nofp(depth - 1) : unwind_chains_leaf();
	return r + pad[0];
}

__attribute__((noinline, noclone)) int chain_vla(int depth, int n)
{
	char vla[n];
	char *a = alloca((size_t)n * 3 + (size_t)depth);
	memset(vla, depth, sizeof(vla));
	a[0] = vla[n - 1];
	__asm__ __volatile__("" : : "r"(a), "r"(vla) : "memory");
	int r = depth ? chain_vla(depth - 1, n + 17) : unwind_chains_leaf();
	__asm__ __volatile__("" : : "r"(a) : "memory");
	return r + a[0];
}

__attribute__((noinline, noclone)) int chain_mixed(int depth)
{
	volatile char pad[40];
	pad[0] = 1;
	int r = depth ? chain_mixed(depth - 1) : chain_vla(5, 9);
	return r + pad[0];
}
