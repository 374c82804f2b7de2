/* Start-up happens on the first allocation, which may come from the dynamic
 * loader before libc is initialised: nothing here may allocate, read stdio
 * or call dlsym. */
#include "init.h"

#include <pthread.h>

#include "arena.h"
#include "config.h"
#include "inbox.h"
#include "meta.h"
#include "msg.h"
#include "os.h"
#include "prof.h"
#include "purge.h"
#include "sizeclass.h"
#include "tcache.h"

void pagemap_fork_prepare(void);
void pagemap_fork_parent(void);
void pagemap_fork_child(void);
void ebb_stats_at_exit(void);

int ebb_ready;
int ebb_exiting;
static ebb_lock_t init_lock = EBB_LOCK_INIT;
static int atfork_done;

static void fork_prepare(void)
{
	ebb_lock(&init_lock);
	tcache_fork_prepare();
	prof_fork_prepare();
	arena_fork_prepare();
	inbox_fork_prepare();
	meta_fork_prepare();
	pagemap_fork_prepare();
}

static void fork_parent(void)
{
	pagemap_fork_parent();
	meta_fork_parent();
	inbox_fork_parent();
	arena_fork_parent();
	prof_fork_parent();
	tcache_fork_parent();
	ebb_unlock(&init_lock);
}

static void fork_child(void)
{
	pagemap_fork_child();
	meta_fork_child();
	inbox_fork_child();
	arena_fork_child();
	prof_fork_child();
	tcache_fork_child();
	purge_fork_child();
	ebb_lock_reset(&init_lock);
}

void ebb_init_slow(void)
{
	ebb_lock(&init_lock);
	if (ebb_ready) {
		ebb_unlock(&init_lock);
		return;
	}
	if (os_page_size() > PAGE_SIZE)
		ebb_fatal("pages of %zu bytes are not supported (at most %zu)", os_page_size(), PAGE_SIZE);
	conf_init();
	sizeclass_init(ebb_opt.tcache ? ebb_opt.tcache_max : 0);
	unsigned n = ebb_opt.narenas ? ebb_opt.narenas : os_usable_cpus(ebb_opt.cgroup_root);
	ebb_narenas = n < 1 ? 1 : n > MAX_ARENAS ? MAX_ARENAS : n;
	tcache_init_global();
	prof_init();
	__atomic_store_n(&ebb_ready, 1, __ATOMIC_RELEASE);
	ebb_unlock(&init_lock);
	/* pthread_atfork may allocate: register once we can serve that. */
	if (!__atomic_exchange_n(&atfork_done, 1, __ATOMIC_ACQ_REL))
		pthread_atfork(fork_prepare, fork_parent, fork_child);
}

__attribute__((constructor)) static void ebb_ctor(void)
{
	ebb_ensure_init();
	prof_ctor();
}

__attribute__((destructor)) static void ebb_dtor(void)
{
	/* No new purging thread while the process is being torn down. */
	__atomic_store_n(&ebb_exiting, 1, __ATOMIC_RELAXED);
	if (ebb_ready)
		prof_at_exit();
	if (ebb_ready && ebb_opt.stats_print)
		ebb_stats_at_exit();
}
