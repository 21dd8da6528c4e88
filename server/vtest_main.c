/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * virtkfd_test_server: options, server modes (§8.1, §11.3), the renderer and its
 * fence callbacks, and the poll() loop. The renderer is initialised without
 * ASYNC_FENCE_CB, so every callback runs on this thread inside
 * virgl_renderer_poll(), which the loop calls whenever the library's poll fd
 * (or anything else) wakes it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "virglrenderer.h"
#include "vtest_server.h"

struct vtest_options vtest_opts = {
   .mode = VTEST_MODE_FORK,
   .socket_path = VTEST_DEFAULT_SOCKET_NAME,
   .max_length = VTEST_DEFAULT_MAX_LENGTH,
   .max_blob_size = VTEST_DEFAULT_MAX_BLOB_SIZE,
   .max_sg_entries = VTEST_MAX_SG_ENTRIES,
   .max_ram_regions = VTEST_MAX_RAM_REGIONS,
   .max_guest_ram = VTEST_MAX_GUEST_RAM,
};

struct vtest_client *vtest_find_client_by_serial(unsigned serial);

/* Process-wide state of this server process: the renderer and its id spaces. */
static struct {
   bool renderer_ready;
   bool res_wrapped;
   int drm_fd;
   int poll_fd; /* the library's eventfd for retired fences, or -1 */
   uint32_t next_ctx_id, next_res_id, next_sync_id, next_fence_id;
   /* implicit ctx0 fences in creation order: which client made each */
   struct implicit_fence {
      uint32_t fence_id;
      unsigned serial;
   } * implicit;
   size_t implicit_head, implicit_count, implicit_cap;
   volatile sig_atomic_t stop;
} server = { .drm_fd = -1 };

void
vtest_log(const char *fmt, ...)
{
   char line[512];
   va_list ap;
   va_start(ap, fmt);
   vsnprintf(line, sizeof(line), fmt, ap);
   va_end(ap);
   fprintf(stderr, "virtkfd_test_server[%ld]: %s\n", (long)getpid(), line);
}

int64_t
vtest_now_ns(void)
{
   struct timespec ts;
   clock_gettime(CLOCK_MONOTONIC, &ts);
   return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- ids: monotonic, never 0, never a live one after a wrap (§10 row 19) ------- */

uint32_t
vtest_alloc_ctx_id(void)
{
   if (!++server.next_ctx_id)
      server.next_ctx_id = 1;
   return server.next_ctx_id;
}

uint32_t
vtest_alloc_res_id(void)
{
   /* ids below the counter may be live only once it has wrapped */
   struct virgl_renderer_resource_info info;
   do {
      if (!++server.next_res_id) {
         server.next_res_id = 1;
         server.res_wrapped = true;
      }
   } while (server.res_wrapped &&
            virgl_renderer_resource_get_info((int)server.next_res_id, &info) == 0);
   return server.next_res_id;
}

uint32_t
vtest_alloc_sync_id(struct vtest_client *client)
{
   do {
      if (!++server.next_sync_id)
         server.next_sync_id = 1;
   } while (vtest_sync_find(client, server.next_sync_id));
   return server.next_sync_id;
}

int
vtest_note_implicit_fence(struct vtest_client *client, uint32_t *fence_id)
{
   if (server.implicit_count == server.implicit_cap) {
      size_t cap = server.implicit_cap ? server.implicit_cap * 2 : 64;
      struct implicit_fence *ring = malloc(cap * sizeof(*ring));
      if (!ring)
         return -ENOMEM;
      for (size_t i = 0; i < server.implicit_count; i++)
         ring[i] = server.implicit[(server.implicit_head + i) % server.implicit_cap];
      free(server.implicit);
      server.implicit = ring;
      server.implicit_head = 0;
      server.implicit_cap = cap;
   }
   *fence_id = ++server.next_fence_id;
   size_t at = (server.implicit_head + server.implicit_count) % server.implicit_cap;
   server.implicit[at].fence_id = *fence_id;
   server.implicit[at].serial = client->serial;
   server.implicit_count++;
   client->implicit_created++;
   return 0;
}

/* ---- the renderer ---------------------------------------------------------- */

static void
cb_write_fence(void *cookie, uint32_t fence)
{
   /* ctx0 fences retire in creation order: everything up to `fence` is done */
   while (server.implicit_count) {
      struct implicit_fence *f = &server.implicit[server.implicit_head];
      if ((int32_t)(f->fence_id - fence) > 0)
         break;
      struct vtest_client *client = vtest_find_client_by_serial(f->serial);
      if (client)
         client->implicit_retired++;
      server.implicit_head = (server.implicit_head + 1) % server.implicit_cap;
      server.implicit_count--;
   }
}

static void
cb_write_context_fence(void *cookie, uint32_t ctx_id, uint32_t ring_idx,
                       uint64_t fence_id)
{
   struct vtest_client *client = vtest_find_client_by_ctx(ctx_id);
   if (client)
      vtest_timeline_retire(client, ring_idx, fence_id);
}

static int
cb_get_drm_fd(void *cookie)
{
   if (!vtest_opts.rendernode)
      return -1;
   return open(vtest_opts.rendernode, O_RDWR | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
}

static struct virgl_renderer_callbacks callbacks = {
   .version = 4,
   .write_fence = cb_write_fence,
   .get_drm_fd = cb_get_drm_fd,
   .write_context_fence = cb_write_context_fence,
};

/*
 * The renderer flags, as upstream's server derives them from its options, except that
 * GL stays off (NO_VIRGL) until a GL option asks for it: capset 8 needs none, and this
 * server does not serve the GL capsets (1, 2) itself.
 */
static int
vtest_renderer_flags(void)
{
   int flags = VIRGL_RENDERER_USE_ROCM | VIRGL_RENDERER_THREAD_SYNC |
               VIRGL_RENDERER_USE_EXTERNAL_BLOB;
   if (vtest_opts.drm)
      flags |= VIRGL_RENDERER_DRM;
   bool gl = vtest_opts.use_glx || vtest_opts.use_egl_surfaceless ||
             vtest_opts.use_gles || vtest_opts.compat_profile;
   if (!gl || vtest_opts.no_virgl)
      return flags | VIRGL_RENDERER_NO_VIRGL;
   flags |= vtest_opts.use_glx ? VIRGL_RENDERER_USE_GLX : VIRGL_RENDERER_USE_EGL;
   if (vtest_opts.use_egl_surfaceless)
      flags |= VIRGL_RENDERER_USE_SURFACELESS;
   if (vtest_opts.use_gles)
      flags |= VIRGL_RENDERER_USE_GLES;
   if (vtest_opts.compat_profile)
      flags |= VIRGL_RENDERER_COMPAT_PROFILE;
   return flags;
}

int
vtest_renderer_init(void)
{
   int flags = vtest_renderer_flags();
   if (!(flags & VIRGL_RENDERER_NO_VIRGL))
      vtest_debug("renderer flags 0x%x (GL for the system virglrenderer)", flags);
   int ret = virgl_renderer_init(&server, flags, &callbacks);
   if (ret) {
      vtest_log("virgl_renderer_init failed (%d)", ret);
      return ret < 0 ? ret : -ret;
   }
   server.renderer_ready = true;
   server.poll_fd = virgl_renderer_get_poll_fd();
   return 0;
}

void
vtest_renderer_fini(void)
{
   if (!server.renderer_ready)
      return;
   virgl_renderer_poll();
   virgl_renderer_cleanup(&server);
   server.renderer_ready = false;
   free(server.implicit);
   server.implicit = NULL;
   server.implicit_head = server.implicit_count = server.implicit_cap = 0;
}

/*
 * The libFuzzer harness (tests/server/fuzz_vtest_parser.c) drives clients itself and
 * brings its own main: it needs nothing below.
 */
#ifndef VTEST_FUZZER

/* ---- the loop ---------------------------------------------------------------- */

static int
signal_fd_create(bool with_chld)
{
   sigset_t set;
   sigemptyset(&set);
   sigaddset(&set, SIGTERM);
   sigaddset(&set, SIGINT);
   if (with_chld)
      sigaddset(&set, SIGCHLD);
   sigprocmask(SIG_BLOCK, &set, NULL);
   return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* Returns true on SIGTERM/SIGINT. */
static bool
signal_fd_read(int sfd)
{
   struct signalfd_siginfo si;
   bool stop = false;
   while (read(sfd, &si, sizeof(si)) == sizeof(si))
      stop |= si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT;
   if (stop)
      server.stop = true;
   return stop;
}

static struct vtest_client *loop_clients[1024];
static unsigned loop_nclients;

static void
loop_drop(unsigned i)
{
   struct vtest_client *client = loop_clients[i];
   vtest_tx_flush(&client->tx, client->sock); /* the error notice, if any */
   vtest_client_destroy(client);
   loop_clients[i] = loop_clients[--loop_nclients];
}

/*
 * accept() failing for want of fds leaves the connection queued and the listening
 * socket readable: without a pause, poll() would spin. Returns when to listen again.
 */
static int64_t
accept_failed(int err)
{
   if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM)
      return 0;
   static int64_t last_log;
   int64_t now = vtest_now_ns();
   if (now - last_log > 1000000000) {
      vtest_log("cannot accept a client: %s; not listening for 100 ms", strerror(err));
      last_log = now;
   }
   return now + 100000000;
}

/* The fork and sequential modes: wait out the pause, still hearing signals. */
static void
pause_listening(int64_t until, int sfd)
{
   if (until) {
      struct pollfd sig = { sfd, POLLIN, 0 };
      poll(&sig, 1, 100);
   }
}

static int64_t listen_paused_until;

static void
loop_accept(int listen_fd)
{
   for (;;) {
      int sock = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (sock < 0) {
         listen_paused_until = accept_failed(errno);
         return;
      }
      struct vtest_client *client =
         loop_nclients < 1024 ? vtest_client_create(sock) : NULL;
      if (!client) {
         vtest_log("too many clients: refusing one");
         close(sock);
         continue;
      }
      client->revents = POLLIN;
      loop_clients[loop_nclients++] = client;
      vtest_debug("client %u connected", client->serial);
   }
}

/*
 * Serves loop_clients (and new ones from listen_fd when >= 0) until a signal, or
 * until the last client is gone when there is no listening socket.
 */
static void
serve(int listen_fd, int sfd)
{
   struct pollfd *pfds = calloc(1024 + 3, sizeof(*pfds));
   if (!pfds)
      return;
   while (!server.stop) {
      unsigned n = 0;
      pfds[n++] = (struct pollfd){ sfd, POLLIN, 0 };
      int poll_fd = server.renderer_ready ? server.poll_fd : -1;
      pfds[n++] = (struct pollfd){ poll_fd, POLLIN, 0 };
      bool listen_paused = listen_paused_until && vtest_now_ns() < listen_paused_until;
      pfds[n++] = (struct pollfd){ listen_paused ? -1 : listen_fd, POLLIN, 0 };
      bool timed = listen_paused, busy = false;
      for (unsigned i = 0; i < loop_nclients; i++) {
         struct vtest_client *c = loop_clients[i];
         short events = vtest_client_wants_input(c) ? POLLIN : 0;
         if (c->tx.queued)
            events |= POLLOUT;
         pfds[n++] = (struct pollfd){ c->sock, events, 0 };
         timed |= c->waits != NULL || c->busy_wait_pending || c->closing;
         /* whole commands buffered while it was paused: no need to sleep */
         busy |= events & POLLIN && vtest_rx_avail(&c->rx) >= 8;
      }
      int ret = poll(pfds, n, busy ? 0 : timed ? 100 : 1000);
      if (ret < 0 && errno != EINTR)
         break;
      for (unsigned i = 3; i < n; i++)
         loop_clients[i - 3]->revents = pfds[i].revents;
      if (pfds[0].revents && signal_fd_read(sfd))
         break;
      /* fence callbacks run here, on this thread */
      if (server.renderer_ready && (poll_fd < 0 || pfds[1].revents))
         virgl_renderer_poll();
      if (listen_fd >= 0 && !listen_paused && (pfds[2].revents & POLLIN))
         loop_accept(listen_fd);
      for (unsigned i = 0; i < loop_nclients;) {
         struct vtest_client *c = loop_clients[i];
         /* read only what poll() reported, or what is buffered already */
         bool work = c->revents || vtest_rx_avail(&c->rx) >= 8;
         bool alive;
         if (vtest_client_wants_input(c))
            alive = !work || vtest_client_process(c);
         else /* paused: a hang-up is reported without being asked for, again and
               * again, so it ends the session rather than spin the loop */
            alive = !(c->revents & (POLLHUP | POLLERR));
         if (alive) {
            /* retired fences may release a deferred reply, and with it the input */
            bool paused = !vtest_client_wants_input(c);
            vtest_client_progress(c);
            if (paused && vtest_client_wants_input(c))
               alive = vtest_client_process(c);
         }
         short revents = c->revents;
         c->revents = 0;
         if (c->closing && !c->rx.eof && !(revents & (POLLHUP | POLLERR))) {
            /* a session that ends for a bad command still gets what was queued
             * before it and the error notice, for a second at most */
            int64_t now = vtest_now_ns();
            if (!c->linger_until_ns)
               c->linger_until_ns = now + 1000000000;
            alive = vtest_tx_flush(&c->tx, c->sock) == 0 && c->tx.queued &&
                    now < c->linger_until_ns;
         } else {
            alive = alive && !c->closing;
            if (alive && vtest_tx_flush(&c->tx, c->sock) < 0)
               alive = false;
         }
         if (!alive)
            loop_drop(i);
         else
            i++;
      }
      if (listen_fd < 0 && !loop_nclients)
         break;
   }
   free(pfds);
}

static void
drop_all_clients(void)
{
   while (loop_nclients)
      loop_drop(loop_nclients - 1);
}

/* ---- modes ------------------------------------------------------------------- */

#if defined(__SANITIZE_ADDRESS__)
#define VTEST_HAVE_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VTEST_HAVE_LSAN 1
#endif
#endif
#ifdef VTEST_HAVE_LSAN
#include <sanitizer/lsan_interface.h>
#endif

/* In sanitizer builds, a leak in a client process fails it like one in the parent. */
static void
check_leaks_before_exit(void)
{
#ifdef VTEST_HAVE_LSAN
   __lsan_do_leak_check();
#endif
}

static pid_t children[1024];
static unsigned nchildren;

static void
reap_children(bool wait_all)
{
   for (unsigned i = 0; i < nchildren;) {
      int status;
      if (waitpid(children[i], &status, wait_all ? 0 : WNOHANG) != children[i]) {
         i++;
         continue;
      }
      /* a crashed or failing client process must not go unnoticed */
      if (WIFSIGNALED(status))
         vtest_log("client process %d: killed by signal %d (%s)", (int)children[i],
                   WTERMSIG(status), strsignal(WTERMSIG(status)));
      else if (WIFEXITED(status) && WEXITSTATUS(status))
         vtest_log("client process %d: exited with status %d", (int)children[i],
                   WEXITSTATUS(status));
      children[i] = children[--nchildren];
   }
}

static int
serve_one_process(int sock)
{
   if (vtest_renderer_init() < 0) {
      close(sock);
      return 1;
   }
   struct vtest_client *client = vtest_client_create(sock);
   if (!client) {
      close(sock);
      vtest_renderer_fini();
      return 1;
   }
   client->revents = POLLIN;
   loop_clients[loop_nclients++] = client;
   return 0;
}

static int
run_fork(int listen_fd, int sfd)
{
   while (!server.stop) {
      struct pollfd pfds[2] = { { sfd, POLLIN, 0 }, { listen_fd, POLLIN, 0 } };
      if (poll(pfds, 2, -1) < 0 && errno != EINTR)
         return 1;
      if (pfds[0].revents && signal_fd_read(sfd))
         break;
      reap_children(false);
      if (!(pfds[1].revents & POLLIN))
         continue;
      int sock = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (sock < 0) {
         pause_listening(accept_failed(errno), sfd);
         continue;
      }
      if (nchildren == 1024) {
         vtest_log("too many clients: refusing one");
         close(sock);
         continue;
      }
      pid_t pid = fork();
      if (pid == 0) {
         /* the child: its own renderer, after the fork (§8.1) */
         close(listen_fd);
         close(sfd);
         sigset_t chld;
         sigemptyset(&chld);
         sigaddset(&chld, SIGCHLD);
         sigprocmask(SIG_UNBLOCK, &chld, NULL);
         int child_sfd = signal_fd_create(false);
         nchildren = 0;
         int status = serve_one_process(sock);
         if (!status) {
            serve(-1, child_sfd);
            drop_all_clients();
            vtest_renderer_fini();
         }
         close(child_sfd);
         /* _exit: the parent's atexit work is not the child's; so leak-check here */
         check_leaks_before_exit();
         _exit(status);
      }
      if (pid < 0)
         vtest_log("fork failed: %s", strerror(errno));
      else
         children[nchildren++] = pid;
      close(sock);
   }
   for (unsigned i = 0; i < nchildren; i++)
      kill(children[i], SIGTERM);
   reap_children(true);
   return 0;
}

static int
run_sequential(int listen_fd, int sfd, bool once)
{
   while (!server.stop) {
      struct pollfd pfds[2] = { { sfd, POLLIN, 0 }, { listen_fd, POLLIN, 0 } };
      if (poll(pfds, 2, -1) < 0 && errno != EINTR)
         return 1;
      if (pfds[0].revents && signal_fd_read(sfd))
         break;
      if (!(pfds[1].revents & POLLIN))
         continue;
      int sock = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (sock < 0) {
         pause_listening(accept_failed(errno), sfd);
         continue;
      }
      if (serve_one_process(sock))
         continue;
      serve(-1, sfd);
      drop_all_clients();
      vtest_renderer_fini();
      if (once)
         break;
   }
   return 0;
}

/* ---- options ----------------------------------------------------------------- */

static void
usage(FILE *out)
{
   fprintf(out,
           "usage: virtkfd_test_server [options] [--replay FILE]\n"
           "  --socket-path PATH     listen on PATH (default %s)\n"
           "  --no-fork              serve one client at a time in this process\n"
           "  --no-loop-or-fork      serve one client, then exit\n"
           "  --multi-clients        serve every client in this process (they must "
           "trust each other)\n"
           "  --replay FILE          replay a recording made with --record/VTEST_SAVE\n"
           "  --record BASE          record each client's input to BASE.<pid>.<n>\n"
           "  --max-length DWORDS    largest message (default %u)\n"
           "  --max-blob-size BYTES  largest blob (default %llu)\n"
           "  --max-sg-entries N     --max-ram-regions N  --max-guest-ram BYTES\n"
           "  --rendernode DEV       the DRM device for get_drm_fd\n"
           "  --use-egl-surfaceless  --use-gles  --use-glx  --compat\n"
           "                         GL for the system virglrenderer's contexts (off by\n"
           "                         default: capset 8 needs none)\n"
           "  --no-virgl             no GL, whatever the options above say\n"
           "  --drm                  DRM native contexts of the system virglrenderer\n"
           "  --kfd-emulator LIB     with no /dev/kfd, re-run under LD_PRELOAD=LIB\n"
           "  --dump-sg              log translated scatter lists\n"
           "  --debug-commands       TEST ONLY: enable VCMD_VIRTKFD_DEBUG_* (server "
           "state, guest RAM and emulated GPU reads)\n"
           "  --verbose              log every command\n"
           "  --help                 this text\n"
           "Environment: VTEST_SAVE=BASE records like --record; VTEST_USE_GLX,\n"
           "VTEST_USE_EGL_SURFACELESS, VTEST_USE_GLES, VTEST_USE_COMPATIBILITY_PROFILE\n"
           "switch the GL option on.\n",
           VTEST_DEFAULT_SOCKET_NAME, VTEST_DEFAULT_MAX_LENGTH,
           (unsigned long long)VTEST_DEFAULT_MAX_BLOB_SIZE);
}

static bool
parse_u64(const char *s, uint64_t *out)
{
   char *end;
   errno = 0;
   unsigned long long v = strtoull(s, &end, 0);
   if (errno || end == s || *end || s[0] == '-')
      return false;
   *out = v;
   return true;
}

static const char *kfd_emulator;

/* Options that take no value: the server mode, or a flag. */
static const struct {
   const char *name;
   enum vtest_mode mode; /* VTEST_MODE_FORK: not a mode option */
   bool *flag;
} switch_options[] = {
   { "--no-fork", VTEST_MODE_NOFORK, NULL },
   { "--no-loop-or-fork", VTEST_MODE_SINGLE, NULL },
   { "--multi-clients", VTEST_MODE_MULTI, NULL },
   { "--debug-commands", VTEST_MODE_FORK, &vtest_opts.debug_commands },
   { "--dump-sg", VTEST_MODE_FORK, &vtest_opts.dump_sg },
   { "--verbose", VTEST_MODE_FORK, &vtest_opts.verbose },
   { "--use-glx", VTEST_MODE_FORK, &vtest_opts.use_glx },
   { "--use-egl-surfaceless", VTEST_MODE_FORK, &vtest_opts.use_egl_surfaceless },
   { "--use-gles", VTEST_MODE_FORK, &vtest_opts.use_gles },
   { "--compat", VTEST_MODE_FORK, &vtest_opts.compat_profile },
   { "--no-virgl", VTEST_MODE_FORK, &vtest_opts.no_virgl },
   { "--drm", VTEST_MODE_FORK, &vtest_opts.drm },
};

/* Upstream's environment switches, read before the options: present means on. */
static const struct {
   const char *name;
   bool *flag;
} environment_switches[] = {
   { "VTEST_USE_GLX", &vtest_opts.use_glx },
   { "VTEST_USE_EGL_SURFACELESS", &vtest_opts.use_egl_surfaceless },
   { "VTEST_USE_GLES", &vtest_opts.use_gles },
   { "VTEST_USE_COMPATIBILITY_PROFILE", &vtest_opts.compat_profile },
};

/* Options that take a string. */
static const struct {
   const char *name;
   const char **value;
} string_options[] = {
   { "--socket-path", &vtest_opts.socket_path },
   { "--replay", &vtest_opts.replay_path },
   { "--record", &vtest_opts.record_path },
   { "--rendernode", &vtest_opts.rendernode },
   { "--kfd-emulator", &kfd_emulator },
};

/* Options that take a number in [1, max], stored in a 32- or 64-bit field. */
static const struct {
   const char *name;
   void *field;
   size_t size;
   uint64_t max;
} number_options[] = {
   { "--max-length", &vtest_opts.max_length, 4, UINT32_MAX },
   { "--max-blob-size", &vtest_opts.max_blob_size, 8, UINT64_MAX },
   { "--max-sg-entries", &vtest_opts.max_sg_entries, 4, VTEST_MAX_SG_ENTRIES },
   { "--max-ram-regions", &vtest_opts.max_ram_regions, 4, VTEST_MAX_RAM_REGIONS },
   { "--max-guest-ram", &vtest_opts.max_guest_ram, 8, UINT64_MAX },
   /* test hook: start res ids near the wrap-around (§12.1 item 8) */
   { "--first-res-id", &server.next_res_id, 4, UINT32_MAX },
};

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

/* The value of option `name` (argv[i] is "--name=value" or "--name" "value"). */
static const char *
option_value(const char *name, const char *eq, int argc, char **argv, int *i)
{
   const char *value = eq ? eq + 1 : (*i + 1 < argc ? argv[++*i] : NULL);
   if (!value)
      fprintf(stderr, "virtkfd_test_server: %s needs a value\n", name);
   return value;
}

/* 1: handled, 0: not one of ours, -1: a bad value (reported). */
static int
parse_known_option(const char *name, const char *eq, int argc, char **argv, int *i)
{
   for (size_t k = 0; k < COUNT(switch_options); k++) {
      if (strcmp(name, switch_options[k].name))
         continue;
      if (switch_options[k].flag)
         *switch_options[k].flag = true;
      else
         vtest_opts.mode = switch_options[k].mode;
      return 1;
   }
   for (size_t k = 0; k < COUNT(string_options); k++) {
      if (strcmp(name, string_options[k].name))
         continue;
      const char *value = option_value(name, eq, argc, argv, i);
      if (!value)
         return -1;
      *string_options[k].value = value;
      return 1;
   }
   for (size_t k = 0; k < COUNT(number_options); k++) {
      if (strcmp(name, number_options[k].name))
         continue;
      const char *value = option_value(name, eq, argc, argv, i);
      uint64_t v = 0;
      if (!value)
         return -1;
      if (!parse_u64(value, &v) || !v || v > number_options[k].max) {
         fprintf(stderr, "virtkfd_test_server: bad value for %s: %s\n", name, value);
         return -1;
      }
      if (number_options[k].size == 4)
         *(uint32_t *)number_options[k].field = (uint32_t)v;
      else
         *(uint64_t *)number_options[k].field = v;
      return 1;
   }
   return 0;
}

/* The GL options that cannot go together (fatal upstream too). */
static int
check_gl_options(void)
{
   const char *clash = NULL;
   if (vtest_opts.use_glx && vtest_opts.use_egl_surfaceless)
      clash = "--use-glx and --use-egl-surfaceless";
   else if (vtest_opts.use_glx && vtest_opts.use_gles)
      clash = "--use-glx and --use-gles";
   else if (vtest_opts.compat_profile && vtest_opts.use_gles)
      clash = "--compat and --use-gles";
   if (!clash)
      return 0;
   fprintf(stderr, "virtkfd_test_server: %s cannot be used together\n", clash);
   return -1;
}

static int
parse_options(int argc, char **argv)
{
   for (size_t k = 0; k < COUNT(environment_switches); k++) {
      if (getenv(environment_switches[k].name))
         *environment_switches[k].flag = true;
   }
   for (int i = 1; i < argc; i++) {
      const char *arg = argv[i];
      if (strncmp(arg, "--", 2)) {
         /* §10 row 32: a stray argument never starts a replay; --replay does */
         fprintf(stderr,
                 "virtkfd_test_server: unexpected argument %s (to replay a "
                 "recording, use --replay FILE)\n",
                 arg);
         usage(stderr);
         return -1;
      }
      char name[64];
      const char *eq = strchr(arg, '=');
      size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);
      if (nlen >= sizeof(name)) {
         fprintf(stderr, "virtkfd_test_server: unknown option %s\n", arg);
         return -1;
      }
      memcpy(name, arg, nlen);
      name[nlen] = 0;
      if (!strcmp(name, "--help")) {
         usage(stdout);
         exit(0);
      }
      int known = parse_known_option(name, eq, argc, argv, &i);
      if (known < 0)
         return -1;
      if (known)
         continue;
      if (!strcmp(name, "--venus"))
         fprintf(stderr, "virtkfd_test_server: --venus: this server does not serve Venus "
                         "(a VMM gets capset 4 from the system virglrenderer)\n");
      else
         fprintf(stderr, "virtkfd_test_server: unknown option %s\n", arg);
      usage(stderr);
      return -1;
   }
   if (check_gl_options() < 0)
      return -1;
   if (server.next_res_id)
      server.next_res_id--; /* the next allocation returns the requested id */
   if (vtest_opts.replay_path)
      vtest_opts.mode = VTEST_MODE_REPLAY;
   const char *save = getenv("VTEST_SAVE");
   if (save && *save && !vtest_opts.record_path)
      vtest_opts.record_path = save;
   return 0;
}

/*
 * §"Runs on the KFD emulator when /dev/kfd is absent": the emulator must come
 * before libc in symbol lookup, so with --kfd-emulator and no /dev/kfd the server
 * re-executes itself under LD_PRELOAD once.
 */
/*
 * Without --kfd-emulator, a server run from its build tree finds the emulator built
 * beside it (tests/kfdsim); an installed server has none and says so.
 */
static const char *
build_tree_emulator(void)
{
   static char path[PATH_MAX];
   char exe[PATH_MAX];
   ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
   if (n <= 0)
      return NULL;
   exe[n] = 0;
   char *slash = strrchr(exe, '/');
   if (!slash)
      return NULL;
   *slash = 0;
   if ((size_t)snprintf(path, sizeof(path), "%s/../tests/kfdsim/libkfdsim.so", exe) >=
          sizeof(path) ||
       access(path, R_OK) != 0)
      return NULL;
   return path;
}

static void
kfd_setup(char **argv)
{
   bool have_kfd = access("/dev/kfd", F_OK) == 0;
   if (!have_kfd && !kfd_emulator && !vtest_kfd_emulated())
      kfd_emulator = build_tree_emulator();
   if (!have_kfd && kfd_emulator && !vtest_kfd_emulated() &&
       !getenv("VIRTKFD_SERVER_REEXEC")) {
      char preload[PATH_MAX + 512];
      const char *old = getenv("LD_PRELOAD");
      snprintf(preload, sizeof(preload), "%s%s%s", kfd_emulator, old ? ":" : "",
               old ? old : "");
      setenv("LD_PRELOAD", preload, 1);
      setenv("VIRTKFD_SERVER_REEXEC", "1", 1);
      execv("/proc/self/exe", argv);
      vtest_log("cannot re-run under %s: %s", kfd_emulator, strerror(errno));
   }
   unsetenv("VIRTKFD_SERVER_REEXEC");
   if (vtest_kfd_emulated())
      vtest_log("no /dev/kfd: running on the KFD emulator (libkfdsim); the GPU is "
                "emulated");
   else if (have_kfd)
      vtest_log("using /dev/kfd");
   else
      vtest_log("no /dev/kfd and no KFD emulator (--kfd-emulator LIB): ROCm contexts "
                "(capset 8) will fail");
}

int
main(int argc, char **argv)
{
   if (parse_options(argc, argv) < 0)
      return 1;
   kfd_setup(argv);
   signal(SIGPIPE, SIG_IGN);

   if (vtest_opts.mode == VTEST_MODE_REPLAY) {
      if (vtest_renderer_init() < 0)
         return 1;
      int ret = vtest_replay(vtest_opts.replay_path);
      vtest_renderer_fini();
      return ret < 0 ? 1 : 0;
   }

   if (vtest_opts.mode == VTEST_MODE_FORK) {
      /*
       * Asking for a forwarded capset loads the system virglrenderer (src/forward)
       * here, once, before the socket exists, rather than in every client process;
       * each child still initialises it.
       */
      uint32_t version, size;
      virgl_renderer_get_cap_set(2, &version, &size);
   }
   int sfd = signal_fd_create(vtest_opts.mode == VTEST_MODE_FORK);
   int listen_fd = vtest_socket_listen(vtest_opts.socket_path);
   if (sfd < 0 || listen_fd < 0)
      return 1;
   static const char *const names[] = { "fork per client", "no fork", "single client",
                                        "multi-clients", "replay" };
   vtest_log("listening on %s (%s)", vtest_opts.socket_path, names[vtest_opts.mode]);
   if (vtest_opts.debug_commands)
      vtest_log("--debug-commands: test-only commands are enabled");

   int status = 0;
   switch (vtest_opts.mode) {
   case VTEST_MODE_FORK:
      status = run_fork(listen_fd, sfd);
      break;
   case VTEST_MODE_NOFORK:
   case VTEST_MODE_SINGLE:
      status = run_sequential(listen_fd, sfd, vtest_opts.mode == VTEST_MODE_SINGLE);
      break;
   case VTEST_MODE_MULTI:
      vtest_log("--multi-clients: all clients share one process; they must trust each "
                "other");
      if (vtest_renderer_init() < 0) {
         status = 1;
         break;
      }
      serve(listen_fd, sfd);
      drop_all_clients();
      vtest_renderer_fini();
      break;
   default:
      break;
   }
   close(listen_fd);
   vtest_socket_remove(vtest_opts.socket_path);
   close(sfd);
   vtest_log("shut down");
   return status;
}
#endif /* VTEST_FUZZER */
