/*
 * The libc functions behind the interposed ones.
 *
 * Resolved with dlsym(RTLD_NEXT) on first use rather than in a constructor:
 * the hooks can be called before any constructor of ours ran (by libc's own
 * start-up, or by a library initialised earlier), and LD_PRELOAD'ed code
 * must not depend on constructor order.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "kfdsim_priv.h"

static struct kfdsim_real_libc real_libc;
static pthread_once_t real_libc_once = PTHREAD_ONCE_INIT;

static void *
resolve(const char *name)
{
   void *sym = dlsym(RTLD_NEXT, name);

   if (!sym) {
      /* Without the real function nothing can pass through; there is no
       * sensible way to continue.
       */
      static const char msg[] = "kfdsim: cannot resolve a libc function\n";
      if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
         /* nothing more to report */
      }
      abort();
   }
   return sym;
}

static void
resolve_all(void)
{
   real_libc.open = resolve("open");
   real_libc.openat = resolve("openat");
   real_libc.fopen = resolve("fopen");
   real_libc.opendir = resolve("opendir");
   real_libc.readdir = resolve("readdir");
   real_libc.readdir64 = resolve("readdir64");
   real_libc.closedir = resolve("closedir");
   real_libc.ioctl = resolve("ioctl");
   real_libc.mmap = resolve("mmap");
   real_libc.close = resolve("close");
   real_libc.fstat = resolve("fstat");
   real_libc.stat = resolve("stat");
}

const struct kfdsim_real_libc *
kfdsim_real(void)
{
   pthread_once(&real_libc_once, resolve_all);
   return &real_libc;
}
