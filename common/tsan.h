/* Hand-offs between threads that ThreadSanitizer cannot see by itself. GLib's GMutex, GCond
 * and GMainContext are built on futexes inside a library that was not compiled with TSan,
 * so a value written under a GMutex on one thread and read under it on another looks like a
 * race to TSan. These wrappers add the acquire/release that the lock means; in every build
 * without TSan they are the plain GLib calls. Use them wherever data crosses threads. */
#pragma once

#include <glib.h>

#if defined(__SANITIZE_THREAD__)
#define CC_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CC_TSAN 1
#endif
#endif

#ifdef CC_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
/* Everything the releasing thread wrote before cc_tsan_release(p) happens before what the
 * acquiring thread does after cc_tsan_acquire(p). */
#define cc_tsan_release(p) __tsan_release((void *)(p))
#define cc_tsan_acquire(p) __tsan_acquire((void *)(p))
#else
#define cc_tsan_release(p) ((void)(p))
#define cc_tsan_acquire(p) ((void)(p))
#endif

static inline void
cc_mutex_lock(GMutex *mutex)
{
    g_mutex_lock(mutex);
    cc_tsan_acquire(mutex);
}

static inline void
cc_mutex_unlock(GMutex *mutex)
{
    cc_tsan_release(mutex);
    g_mutex_unlock(mutex);
}

static inline void
cc_cond_wait(GCond *cond, GMutex *mutex)
{
    cc_tsan_release(mutex);
    g_cond_wait(cond, mutex);
    cc_tsan_acquire(mutex);
}

static inline gboolean
cc_cond_wait_until(GCond *cond, GMutex *mutex, gint64 end_time)
{
    cc_tsan_release(mutex);
    gboolean signalled = g_cond_wait_until(cond, mutex, end_time);
    cc_tsan_acquire(mutex);
    return signalled;
}
