/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 */
#include "test_backend.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "virglrenderer.h"

#include "core/vkfd_backend.h"
#include "core/vkfd_context.h"
#include "core/vkfd_renderer.h"
#include "core/vkfd_resource.h"

struct test_object {
   uint32_t res_id;
   const struct iovec *iovecs;
   struct test_object *next;
};

/* A VA blob's memory: the resource owns it from get_blob on and releases it. */
struct test_va_backing {
   struct vkfd_blob_backing base;
   void *va;
   uint64_t size;
};

struct test_pending_fence {
   struct vkfd_fence *fence;
   struct test_pending_fence *next;
};

struct test_context {
   struct vkfd_context base;
   struct test_object *objects;
   struct test_pending_fence *pending; /* FIFO, guarded by state.lock */
};

static struct {
   pthread_mutex_t lock;
   struct test_backend_stats stats;
   bool fail_init;
   bool fail_context;
   pthread_t threads[16];
   int thread_count;
} state = { .lock = PTHREAD_MUTEX_INITIALIZER };

void
test_backend_expected_caps(uint8_t caps[TEST_CAPSET_SIZE])
{
   for (int i = 0; i < TEST_CAPSET_SIZE; i++)
      caps[i] = (uint8_t)(0xa0 + i);
}

static void
test_get_capset_info(uint32_t *max_version, uint32_t *max_size)
{
   *max_version = TEST_CAPSET_VERSION;
   *max_size = TEST_CAPSET_SIZE;
}

static void
test_fill_capset(uint32_t version, void *caps)
{
   test_backend_expected_caps(caps);
}

static int
test_init(const struct vkfd_backend_init_args *args)
{
   pthread_mutex_lock(&state.lock);
   bool fail = state.fail_init;
   state.fail_init = false;
   if (!fail)
      state.stats.inits++;
   pthread_mutex_unlock(&state.lock);
   return fail ? -ENODEV : 0;
}

static void
test_fini(void)
{
   pthread_mutex_lock(&state.lock);
   state.stats.finis++;
   pthread_mutex_unlock(&state.lock);
}

static void
stat_add(int *counter, int delta)
{
   pthread_mutex_lock(&state.lock);
   *counter += delta;
   pthread_mutex_unlock(&state.lock);
}

static struct test_object **
find_object(struct test_context *ctx, uint32_t res_id)
{
   for (struct test_object **it = &ctx->objects; *it; it = &(*it)->next) {
      if ((*it)->res_id == res_id)
         return it;
   }
   return NULL;
}

static void
va_backing_release(struct vkfd_blob_backing *base)
{
   struct test_va_backing *backing = (struct test_va_backing *)base;
   munmap(backing->va, backing->size);
   free(backing);
   stat_add(&state.stats.va_backings, -1);
}

static void
object_free(struct test_object *obj)
{
   if (obj->iovecs)
      stat_add(&state.stats.guest_blobs, -1);
   free(obj);
   stat_add(&state.stats.objects, -1);
}

static void
test_destroy(struct vkfd_context *base)
{
   struct test_context *ctx = (struct test_context *)base;
   while (ctx->objects) {
      struct test_object *obj = ctx->objects;
      ctx->objects = obj->next;
      object_free(obj);
   }
   pthread_mutex_lock(&state.lock);
   while (ctx->pending) {
      struct test_pending_fence *p = ctx->pending;
      ctx->pending = p->next;
      free(p);
   }
   state.stats.contexts--;
   pthread_mutex_unlock(&state.lock);
   free(ctx);
}

static int
test_submit_cmd(struct vkfd_context *base, const void *buffer, size_t size)
{
   if (size >= 4) {
      uint32_t first;
      memcpy(&first, buffer, sizeof(first));
      if (first == TEST_CMD_FAIL)
         return -EINVAL;
   }
   stat_add(&state.stats.submits, 1);
   return 0;
}

static int
test_get_blob(struct vkfd_context *base, const struct vkfd_blob_request *request,
              struct vkfd_blob *blob)
{
   struct test_context *ctx = (struct test_context *)base;
   struct test_object *obj = calloc(1, sizeof(*obj));
   if (!obj)
      return -ENOMEM;
   obj->res_id = request->res_id;

   if (request->blob_mem == VIRGL_RENDERER_BLOB_MEM_HOST3D_GUEST) {
      obj->iovecs = request->iovecs;
      blob->kind = VKFD_BLOB_NONE;
      stat_add(&state.stats.guest_blobs, 1);
   } else if (request->blob_id == TEST_BLOB_SHM) {
      int fd = memfd_create("test-blob", MFD_CLOEXEC);
      if (fd < 0 || ftruncate(fd, (off_t)request->size)) {
         if (fd >= 0)
            close(fd);
         free(obj);
         return -ENOMEM;
      }
      blob->kind = VKFD_BLOB_FD;
      blob->fd = fd;
      blob->fd_type = VIRGL_RENDERER_BLOB_FD_TYPE_SHM;
      blob->map_info = VIRGL_RENDERER_MAP_CACHE_CACHED;
   } else if (request->blob_id == TEST_BLOB_VA) {
      struct test_va_backing *backing = calloc(1, sizeof(*backing));
      void *va = mmap(NULL, request->size, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (!backing || va == MAP_FAILED) {
         if (va != MAP_FAILED)
            munmap(va, request->size);
         free(backing);
         free(obj);
         return -ENOMEM;
      }
      backing->base.release = va_backing_release;
      backing->va = va;
      backing->size = request->size;
      stat_add(&state.stats.va_backings, 1);
      blob->kind = VKFD_BLOB_VA;
      blob->va = va;
      blob->backing = &backing->base;
      blob->map_info = VIRGL_RENDERER_MAP_CACHE_WC;
   } else if (request->blob_id == TEST_BLOB_OPAQUE) {
      blob->kind = VKFD_BLOB_NONE;
   } else {
      free(obj);
      return -EINVAL;
   }
   obj->next = ctx->objects;
   ctx->objects = obj;
   stat_add(&state.stats.objects, 1);
   return 0;
}

static void
test_attach_resource(struct vkfd_context *base, struct vkfd_resource *res)
{
   stat_add(&state.stats.attaches, 1);
}

static void
test_detach_resource(struct vkfd_context *base, struct vkfd_resource *res)
{
   struct test_context *ctx = (struct test_context *)base;
   stat_add(&state.stats.detaches, 1);
   struct test_object **link = find_object(ctx, res->id);
   if (link) {
      struct test_object *obj = *link;
      *link = obj->next;
      object_free(obj);
   }
}

static void
test_release_iovecs(struct vkfd_context *base, struct vkfd_resource *res)
{
   struct test_context *ctx = (struct test_context *)base;
   stat_add(&state.stats.iovec_releases, 1);
   struct test_object **link = find_object(ctx, res->id);
   if (link && (*link)->iovecs) {
      (*link)->iovecs = NULL;
      stat_add(&state.stats.guest_blobs, -1);
   }
}

static int
test_submit_fence(struct vkfd_context *base, uint32_t ring_idx, struct vkfd_fence *fence)
{
   struct test_context *ctx = (struct test_context *)base;
   if (ring_idx != TEST_ASYNC_RING)
      return 1;
   struct test_pending_fence *p = calloc(1, sizeof(*p));
   if (!p)
      return -ENOMEM;
   p->fence = fence;
   pthread_mutex_lock(&state.lock);
   struct test_pending_fence **tail = &ctx->pending;
   while (*tail)
      tail = &(*tail)->next;
   *tail = p;
   pthread_mutex_unlock(&state.lock);
   return 0;
}

static const struct vkfd_context_ops test_context_ops = {
   .destroy = test_destroy,
   .submit_cmd = test_submit_cmd,
   .get_blob = test_get_blob,
   .attach_resource = test_attach_resource,
   .detach_resource = test_detach_resource,
   .release_iovecs = test_release_iovecs,
   .submit_fence = test_submit_fence,
};

static int
test_context_create(uint32_t ctx_id, const char *name, struct vkfd_context **out)
{
   pthread_mutex_lock(&state.lock);
   bool fail = state.fail_context;
   state.fail_context = false;
   pthread_mutex_unlock(&state.lock);
   if (fail)
      return -ENOMEM;

   struct test_context *ctx = calloc(1, sizeof(*ctx));
   if (!ctx)
      return -ENOMEM;
   vkfd_context_base_init(&ctx->base, &test_context_ops, VKFD_MAX_RINGS);
   stat_add(&state.stats.contexts, 1);
   *out = &ctx->base;
   return 0;
}

static const struct vkfd_backend test_backend = {
   .capset_id = TEST_CAPSET_ID,
   .name = "test",
   .get_capset_info = test_get_capset_info,
   .fill_capset = test_fill_capset,
   .init = test_init,
   .fini = test_fini,
   .context_create = test_context_create,
};

void
test_backend_register(void)
{
   vkfd_backend_register(&test_backend);
}

void
test_backend_unregister(void)
{
   vkfd_backend_unregister(&test_backend);
}

void
test_backend_fail_next_init(void)
{
   pthread_mutex_lock(&state.lock);
   state.fail_init = true;
   pthread_mutex_unlock(&state.lock);
}

void
test_backend_fail_next_context(void)
{
   pthread_mutex_lock(&state.lock);
   state.fail_context = true;
   pthread_mutex_unlock(&state.lock);
}

struct test_backend_stats
test_backend_stats(void)
{
   pthread_mutex_lock(&state.lock);
   struct test_backend_stats stats = state.stats;
   pthread_mutex_unlock(&state.lock);
   return stats;
}

bool
test_backend_complete(uint32_t ctx_id)
{
   /* the API lock keeps the context alive while its fence is signalled */
   struct vkfd_renderer *renderer = vkfd_renderer_get();
   pthread_mutex_lock(&renderer->lock);
   struct test_context *ctx =
      (struct test_context *)vkfd_context_lookup(renderer, ctx_id);
   struct test_pending_fence *p = NULL;
   if (ctx) {
      pthread_mutex_lock(&state.lock);
      p = ctx->pending;
      if (p)
         ctx->pending = p->next;
      pthread_mutex_unlock(&state.lock);
   }
   if (p)
      vkfd_context_signal_fence(&ctx->base, TEST_ASYNC_RING, p->fence);
   pthread_mutex_unlock(&renderer->lock);
   free(p);
   return p != NULL;
}

struct complete_job {
   uint32_t ctx_id;
   unsigned delay_ms;
};

static void *
complete_thread(void *arg)
{
   struct complete_job job = *(struct complete_job *)arg;
   free(arg);
   usleep(job.delay_ms * 1000u);
   test_backend_complete(job.ctx_id);
   return NULL;
}

void
test_backend_complete_async(uint32_t ctx_id, unsigned delay_ms)
{
   struct complete_job *job = malloc(sizeof(*job));
   if (!job)
      abort();
   job->ctx_id = ctx_id;
   job->delay_ms = delay_ms;
   pthread_mutex_lock(&state.lock);
   if (state.thread_count == 16 ||
       pthread_create(&state.threads[state.thread_count], NULL, complete_thread, job))
      abort();
   state.thread_count++;
   pthread_mutex_unlock(&state.lock);
}

void
test_backend_join(void)
{
   pthread_mutex_lock(&state.lock);
   int count = state.thread_count;
   state.thread_count = 0;
   pthread_mutex_unlock(&state.lock);
   for (int i = 0; i < count; i++)
      pthread_join(state.threads[i], NULL);
}
