/*
 * The KFD sysfs topology the emulator serves, and what it learns from it.
 *
 * The tree is held in memory as a list of files, whether it was generated
 * (kfdsim_topology_gen.c) or read once from a copy of a real machine's
 * /sys/devices/virtual/kfd/kfd (KFDSIM_SYSFS_KFD). Serving it from memory keeps
 * the emulator hermetic: nothing on the host's sysfs and nothing written to
 * disk. The GPUs to emulate are then parsed back out of the tree, so a captured
 * topology and a generated one go through the same path.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kfdsim_priv.h"

#define CAPTURE_MAX_FILE_SIZE (64 * 1024)
#define CAPTURE_MAX_FILES     100000
#define CAPTURE_MAX_DEPTH     8

int
kfdsim_topology_add_file(struct kfdsim_topology *topo, const char *path,
                         const char *content, size_t size)
{
   struct kfdsim_sysfs_file *file;

   if (topo->file_count == topo->file_capacity) {
      size_t capacity = topo->file_capacity ? topo->file_capacity * 2 : 64;
      void *files = realloc(topo->files, capacity * sizeof(*topo->files));
      if (!files)
         return -ENOMEM;
      topo->files = files;
      topo->file_capacity = capacity;
   }
   file = &topo->files[topo->file_count];
   file->path = strdup(path);
   file->content = malloc(size + 1);
   if (!file->path || !file->content) {
      free(file->path);
      free(file->content);
      return -ENOMEM;
   }
   memcpy(file->content, content, size);
   file->content[size] = '\0';
   file->size = size;
   topo->file_count++;
   return 0;
}

const struct kfdsim_sysfs_file *
kfdsim_topology_find_file(const struct kfdsim_topology *topo, const char *path)
{
   for (size_t i = 0; i < topo->file_count; i++) {
      if (!strcmp(topo->files[i].path, path))
         return &topo->files[i];
   }
   return NULL;
}

bool
kfdsim_topology_is_dir(const struct kfdsim_topology *topo, const char *path)
{
   size_t len = strlen(path);

   if (len == 0)
      return true;
   for (size_t i = 0; i < topo->file_count; i++) {
      const char *p = topo->files[i].path;
      if (!strncmp(p, path, len) && p[len] == '/')
         return true;
   }
   return false;
}

void
kfdsim_topology_fini(struct kfdsim_topology *topo)
{
   for (size_t i = 0; i < topo->file_count; i++) {
      free(topo->files[i].path);
      free(topo->files[i].content);
   }
   free(topo->files);
   memset(topo, 0, sizeof(*topo));
}

/* --- reading a captured tree -------------------------------------------- */

static int
read_small_file(int dir_fd, const char *name, char **content, size_t *size)
{
   char *buf = malloc(CAPTURE_MAX_FILE_SIZE);
   size_t used = 0;
   int fd;

   if (!buf)
      return -ENOMEM;
   fd = kfdsim_real()->openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
   if (fd < 0) {
      free(buf);
      return -errno;
   }
   while (used < CAPTURE_MAX_FILE_SIZE) {
      ssize_t n = read(fd, buf + used, CAPTURE_MAX_FILE_SIZE - used);
      if (n < 0 && errno == EINTR)
         continue;
      if (n <= 0)
         break;
      used += (size_t)n;
   }
   kfdsim_real()->close(fd);
   *content = buf;
   *size = used;
   return 0;
}

static int
capture_dir(struct kfdsim_topology *topo, int dir_fd, const char *prefix, int depth,
            char *why, size_t why_size)
{
   DIR *dir;
   struct dirent *entry;
   int ret = 0;

   if (depth > CAPTURE_MAX_DEPTH) {
      kfdsim_real()->close(dir_fd);
      snprintf(why, why_size, "%s is nested too deeply", prefix);
      return -ELOOP;
   }
   dir = fdopendir(dir_fd);
   if (!dir) {
      ret = -errno;
      kfdsim_real()->close(dir_fd);
      snprintf(why, why_size, "cannot list %s: %s", prefix, strerror(-ret));
      return ret;
   }
   while (!ret && (entry = kfdsim_real()->readdir(dir))) {
      char path[512];
      struct stat st;

      if (!strcmp(entry->d_name, ".") || !strcmp(entry->d_name, ".."))
         continue;
      if (snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "/" : "",
                   entry->d_name) >= (int)sizeof(path))
         continue;
      if (fstatat(dirfd(dir), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
         continue;
      if (S_ISDIR(st.st_mode)) {
         int sub = kfdsim_real()->openat(dirfd(dir), entry->d_name,
                                         O_RDONLY | O_DIRECTORY | O_CLOEXEC);
         if (sub >= 0)
            ret = capture_dir(topo, sub, path, depth + 1, why, why_size);
      } else if (S_ISREG(st.st_mode)) {
         char *content = NULL;
         size_t size = 0;

         if (topo->file_count >= CAPTURE_MAX_FILES) {
            snprintf(why, why_size, "more than %d files", CAPTURE_MAX_FILES);
            ret = -E2BIG;
         } else if (!read_small_file(dirfd(dir), entry->d_name, &content, &size)) {
            ret = kfdsim_topology_add_file(topo, path, content, size);
            free(content);
         }
      }
   }
   kfdsim_real()->closedir(dir);
   return ret;
}

/* KFDSIM_SYSFS_KFD names a copy of /sys/devices/virtual/kfd/kfd (holding
 * topology/), or of its topology/ directory itself.
 */
static int
capture_tree(struct kfdsim_topology *topo, const char *root, char *why, size_t why_size)
{
   struct stat st;
   char path[4096];
   const char *prefix = "";
   int fd;

   snprintf(path, sizeof(path), "%s/topology", root);
   if (kfdsim_real()->stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
      snprintf(path, sizeof(path), "%s/nodes", root);
      if (kfdsim_real()->stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
         snprintf(why, why_size,
                  "KFDSIM_SYSFS_KFD=%s has neither topology/ nor nodes/ in it", root);
         return -ENOENT;
      }
      prefix = "topology";
   }
   fd = kfdsim_real()->open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
   if (fd < 0) {
      snprintf(why, why_size, "cannot open KFDSIM_SYSFS_KFD=%s: %s", root,
               strerror(errno));
      return -errno;
   }
   return capture_dir(topo, fd, prefix, 0, why, why_size);
}

/* --- parsing the GPUs back out ------------------------------------------ */

/* Value of "key value" line in a properties file; false if absent. */
static bool
property_u64(const char *content, const char *key, uint64_t *value)
{
   size_t len = strlen(key);

   for (const char *line = content; line && *line;) {
      if (!strncmp(line, key, len) && line[len] == ' ') {
         *value = strtoull(line + len + 1, NULL, 0);
         return true;
      }
      line = strchr(line, '\n');
      if (line)
         line++;
   }
   return false;
}

static const char *
node_file(const struct kfdsim_topology *topo, unsigned int node, const char *name)
{
   char path[128];
   const struct kfdsim_sysfs_file *file;

   snprintf(path, sizeof(path), "topology/nodes/%u/%s", node, name);
   file = kfdsim_topology_find_file(topo, path);
   return file ? file->content : NULL;
}

static void
parse_gpu_memory(const struct kfdsim_topology *topo, unsigned int node,
                 struct kfdsim_gpu_props *gpu, uint64_t banks)
{
   for (uint64_t bank = 0; bank < banks && bank < 64; bank++) {
      char name[64];
      const char *props;
      uint64_t heap = 0, size = 0;

      snprintf(name, sizeof(name), "mem_banks/%" PRIu64 "/properties", bank);
      props = node_file(topo, node, name);
      if (!props || !property_u64(props, "heap_type", &heap) ||
          !property_u64(props, "size_in_bytes", &size))
         continue;
      /* HSA_HEAPTYPE_FRAME_BUFFER_PUBLIC (1) / _PRIVATE (2) */
      if (heap == 1 || heap == 2) {
         uint64_t v = 0;
         gpu->vram_size += size;
         if (property_u64(props, "width", &v))
            gpu->mem_width = (uint32_t)v;
         if (property_u64(props, "mem_clk_max", &v))
            gpu->mem_clk_mhz = (uint32_t)v;
      }
      if (heap == 1)
         gpu->large_bar = true;
   }
}

/* PCI revisions that make libdrm's amdgpu.ids name the boards of the profiles. */
static uint32_t
pci_revision(uint32_t device_id)
{
   static const struct {
      uint32_t device_id, rev;
   } revisions[] = {
      { 0x73bf, 0xc1 }, { 0x744c, 0xc8 }, { 0x740f, 0x02 },
      { 0x738c, 0x01 }, { 0x66af, 0xc1 }, { 0x687f, 0xc1 },
   };
   for (size_t i = 0; i < sizeof(revisions) / sizeof(revisions[0]); i++) {
      if (revisions[i].device_id == device_id)
         return revisions[i].rev;
   }
   return 0;
}

/* What the render node reports about the GPU, derived from its KFD properties. */
static void
parse_render_facts(const char *props, struct kfdsim_gpu_props *gpu)
{
   uint64_t simds = 0, simd_per_cu = 0, arrays = 0, arrays_per_engine = 0, v = 0;

   property_u64(props, "simd_count", &simds);
   property_u64(props, "simd_per_cu", &simd_per_cu);
   property_u64(props, "array_count", &arrays);
   property_u64(props, "simd_arrays_per_engine", &arrays_per_engine);
   gpu->cu_count = simd_per_cu ? (uint32_t)(simds / simd_per_cu) : 0;
   gpu->arrays_per_engine = (uint32_t)arrays_per_engine;
   gpu->shader_engines = arrays_per_engine ? (uint32_t)(arrays / arrays_per_engine) : 0;
   if (property_u64(props, "wave_front_size", &v))
      gpu->wave_front_size = (uint32_t)v;
   if (property_u64(props, "max_engine_clk_fcompute", &v))
      gpu->engine_clk_mhz = (uint32_t)v;
   gpu->pci_rev = pci_revision(gpu->device_id);
}

static int
parse_gpus(struct kfdsim_topology *topo, char *why, size_t why_size)
{
   topo->node_count = 0;
   topo->gpu_count = 0;

   for (unsigned int node = 0; node < 256; node++) {
      const char *props = node_file(topo, node, "properties");
      const char *gpu_id_text = node_file(topo, node, "gpu_id");
      struct kfdsim_gpu_props *gpu;
      uint64_t v = 0;

      if (!props)
         break;
      topo->node_count++;
      if (!gpu_id_text || !strtoul(gpu_id_text, NULL, 0))
         continue;
      if (topo->gpu_count == KFDSIM_MAX_GPUS) {
         snprintf(why, why_size, "more than %d GPU nodes", KFDSIM_MAX_GPUS);
         return -E2BIG;
      }
      gpu = &topo->gpus[topo->gpu_count++];
      memset(gpu, 0, sizeof(*gpu));
      gpu->node_id = node;
      gpu->gpu_id = (uint32_t)strtoul(gpu_id_text, NULL, 0);
      if (gpu->gpu_id > 0xffff) {
         /* The mmap offset encoding has 16 bits for it. */
         snprintf(why, why_size, "node %u: gpu_id %u does not fit 16 bits", node,
                  gpu->gpu_id);
         return -EINVAL;
      }
      if (property_u64(props, "drm_render_minor", &v))
         gpu->render_minor = (uint32_t)v;
      if (property_u64(props, "gfx_target_version", &v))
         gpu->gfx_version = (uint32_t)v;
      if (property_u64(props, "device_id", &v))
         gpu->device_id = (uint32_t)v;
      if (property_u64(props, "num_gws", &v))
         gpu->num_gws = (uint32_t)v;
      if (property_u64(props, "num_sdma_engines", &v))
         gpu->num_sdma_engines = (uint32_t)v;
      if (property_u64(props, "num_sdma_xgmi_engines", &v))
         gpu->num_sdma_xgmi_engines = (uint32_t)v;
      if (property_u64(props, "num_sdma_queues_per_engine", &v))
         gpu->num_sdma_queues_per_engine = (uint32_t)v;
      if (property_u64(props, "num_cp_queues", &v))
         gpu->num_cp_queues = (uint32_t)v;
      if (property_u64(props, "mem_banks_count", &v))
         parse_gpu_memory(topo, node, gpu, v);
      parse_render_facts(props, gpu);
      if (gpu->gfx_version && gpu->gfx_version < 90000) {
         /* gfx8 and older use another aperture and doorbell model. */
         snprintf(why, why_size, "node %u: gfx_target_version %u is older than gfx9",
                  node, gpu->gfx_version);
         return -ENOTSUP;
      }
   }
   if (topo->node_count == 0) {
      snprintf(why, why_size, "no topology/nodes/0/properties");
      return -ENOENT;
   }
   return 0;
}

int
kfdsim_topology_init(struct kfdsim_topology *topo, uint32_t kfd_minor, char *why,
                     size_t why_size)
{
   const char *captured = getenv("KFDSIM_SYSFS_KFD");
   int ret;

   memset(topo, 0, sizeof(*topo));
   if (captured && *captured)
      ret = capture_tree(topo, captured, why, why_size);
   else
      ret = kfdsim_topology_generate(topo, kfd_minor, why, why_size);
   if (!ret)
      ret = parse_gpus(topo, why, why_size);
   if (ret)
      kfdsim_topology_fini(topo);
   return ret;
}
