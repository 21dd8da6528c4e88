/*
 * Generation of a KFD sysfs topology: one CPU node and KFDSIM_GPUS discrete
 * GPUs of the KFDSIM_GFX profile.
 *
 * The values follow what amdkfd reports for the real boards (the profile
 * table), because libhsakmt derives queue sizes, the context-save area and
 * scratch from them. Two deliberate deviations keep libhsakmt hermetic: the CPU
 * node reports one cache (with caches_count 0, as real amdkfd reports,
 * hsaKmtAcquireSystemProperties reads the host's /sys/devices/system cache
 * directories instead), and the memory sizes are fixed rather than read from
 * the host.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "kfdsim_priv.h"

struct gfx_profile {
   const char *target;    /* KFDSIM_GFX value */
   const char *asic_name; /* nodes/N/name, as amdgpu names the ASIC */
   uint32_t gfx_version;  /* gfx_target_version */
   uint32_t device_id;
   uint32_t cu_count; /* active CUs */
   uint32_t simd_per_cu;
   uint32_t shader_engines;
   uint32_t arrays_per_engine;
   uint32_t cu_per_array; /* CUs per shader array, before harvesting */
   uint32_t wave_front_size;
   uint32_t max_waves_per_simd;
   uint32_t num_gws;
   uint32_t sdma_engines;
   uint32_t sdma_xgmi_engines;
   uint32_t sdma_queues_per_engine;
   uint32_t cp_queues;
   uint32_t vram_mb;
   uint32_t mem_width;
   uint32_t mem_clk_mhz;
   uint32_t engine_clk_mhz;
   uint32_t fw_version;
   uint32_t sdma_fw_version;
   uint32_t l2_kb;
   uint32_t l3_mb; /* Infinity Cache, 0 if none */
};

/* Board data from the public specifications of each product. */
static const struct gfx_profile profiles[] = {
   { "gfx1030", "sienna_cichlid",
     100300,    0x73bf,
     72,        2,
     4,         2,
     10,        32,
     16,        64,
     4,         0,
     8,         32,
     16384,     256,
     1000,      2250,
     104,       80,
     4096,      128 },
   { "gfx1100", "gc_11_0_0", 110000, 0x744c, 96,    2,   6,    2,    8,    32, 16,   0,
     2,         0,           8,      32,     24576, 384, 1250, 2500, 1718, 19, 6144, 96 },
   { "gfx90a", "aldebaran", 90010, 0x740f, 104,   4,    8,    1,    13, 64, 8,    64,
     2,        3,           8,     24,     65536, 4096, 1600, 1700, 78, 8,  8192, 0 },
   { "gfx908", "arcturus", 90008, 0x738c, 120,   4,    8,    1,    15, 64, 10,   64,
     2,        6,          8,     24,     32768, 4096, 1200, 1502, 55, 18, 8192, 0 },
   { "gfx906", "vega20", 90006, 0x66af, 60,    4,    4,    1,    16,  64,  10,   64,
     2,        0,        2,     24,     16384, 4096, 1000, 1800, 464, 145, 4096, 0 },
   { "gfx900", "vega10", 90000, 0x687f, 64,   4,    4,   1,    16,  64,  10,   64,
     2,        0,        2,     24,     8192, 2048, 945, 1630, 466, 433, 4096, 0 },
};

#define DEFAULT_TARGET       "gfx1030"
#define DEFAULT_GPU_ID       0xa1b2
#define DEFAULT_RENDER_MINOR 128
#define CPU_MEM_MB           32768ull
#define CPU_CORES            8

/* HSA_CAPABILITY bits amdkfd sets for gfx9+ dGPUs: watch points (4),
 * doorbell type 2, AQL double map, SVM API.
 */
#define GPU_CAPABILITY 0x10006280u

struct text {
   char buf[4096];
   size_t len;
   bool overflow;
};

static void
text_add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
text_add(struct text *t, const char *fmt, ...)
{
   va_list ap;
   int n;

   va_start(ap, fmt);
   n = vsnprintf(t->buf + t->len, sizeof(t->buf) - t->len, fmt, ap);
   va_end(ap);
   if (n < 0 || (size_t)n >= sizeof(t->buf) - t->len)
      t->overflow = true;
   else
      t->len += (size_t)n;
}

static int add_text_file(struct kfdsim_topology *topo, struct text *t, const char *fmt,
                         ...) __attribute__((format(printf, 3, 4)));

static int
add_text_file(struct kfdsim_topology *topo, struct text *t, const char *fmt, ...)
{
   char path[256];
   va_list ap;

   va_start(ap, fmt);
   vsnprintf(path, sizeof(path), fmt, ap);
   va_end(ap);
   if (t->overflow)
      return -E2BIG;
   return kfdsim_topology_add_file(topo, path, t->buf, t->len);
}

/* Parse an unsigned environment variable; false (with a message) if it is set
 * but not a number within [min, max].
 */
static bool
env_u64(const char *name, uint64_t min, uint64_t max, uint64_t *value, char *why,
        size_t why_size)
{
   const char *text = getenv(name);
   char *end;
   unsigned long long v;

   if (!text || !*text)
      return true;
   errno = 0;
   v = strtoull(text, &end, 0);
   if (errno || *end || v < min || v > max) {
      snprintf(why, why_size, "%s=%s is not a number in [%" PRIu64 ", %" PRIu64 "]", name,
               text, min, max);
      return false;
   }
   *value = v;
   return true;
}

static int
add_cpu_node(struct kfdsim_topology *topo, unsigned int gpu_count)
{
   struct text t = { 0 };
   int ret;

   text_add(&t,
            "cpu_cores_count %u\nsimd_count 0\nmem_banks_count 1\ncaches_count 1\n"
            "io_links_count %u\ncpu_core_id_base 0\nsimd_id_base 0\n"
            "max_waves_per_simd 0\nlds_size_in_kb 0\ngds_size_in_kb 0\nnum_gws 0\n"
            "wave_front_size 0\narray_count 0\nsimd_arrays_per_engine 0\n"
            "cu_per_simd_array 0\nsimd_per_cu 0\nmax_slots_scratch_cu 0\n"
            "gfx_target_version 0\nvendor_id 0\ndevice_id 0\nlocation_id 0\n"
            "domain 0\ndrm_render_minor 0\nhive_id 0\nnum_sdma_engines 0\n"
            "num_sdma_xgmi_engines 0\nnum_sdma_queues_per_engine 0\n"
            "num_cp_queues 0\nmax_engine_clk_fcompute 0\nlocal_mem_size 0\n"
            "fw_version 0\ncapability 0\ndebug_prop 0\nsdma_fw_version 0\n"
            "unique_id 0\nmax_engine_clk_ccompute 3400\n",
            CPU_CORES, gpu_count);
   if ((ret = add_text_file(topo, &t, "topology/nodes/0/properties")))
      return ret;

   t = (struct text){ 0 };
   text_add(&t, "0\n");
   if ((ret = add_text_file(topo, &t, "topology/nodes/0/gpu_id")))
      return ret;
   t = (struct text){ 0 };
   text_add(&t, "\n");
   if ((ret = add_text_file(topo, &t, "topology/nodes/0/name")))
      return ret;

   t = (struct text){ 0 };
   text_add(&t, "heap_type 0\nsize_in_bytes %llu\nflags 0\nwidth 64\nmem_clk_max 3200\n",
            CPU_MEM_MB << 20);
   if ((ret = add_text_file(topo, &t, "topology/nodes/0/mem_banks/0/properties")))
      return ret;

   /* One L2 shared by all cores: enough for libhsakmt, and it keeps it off
    * the host's cache directories.
    */
   t = (struct text){ 0 };
   text_add(&t, "processor_id_low 0\nlevel 2\nsize 512\ncache_line_size 64\n"
                "cache_lines_per_tag 1\nassociation 8\nlatency 0\ntype 5\nsibling_map ");
   for (unsigned int i = 0; i < CPU_CORES; i++)
      text_add(&t, "%s1", i ? "," : "");
   text_add(&t, "\n");
   if ((ret = add_text_file(topo, &t, "topology/nodes/0/caches/0/properties")))
      return ret;

   for (unsigned int i = 0; i < gpu_count; i++) {
      t = (struct text){ 0 };
      text_add(&t,
               "type 2\nversion_major 0\nversion_minor 0\nnode_from 0\nnode_to %u\n"
               "weight 20\nmin_latency 0\nmax_latency 0\nmin_bandwidth 312\n"
               "max_bandwidth 31508\nrecommended_transfer_size 0\nflags 1\n",
               i + 1);
      if ((ret = add_text_file(topo, &t, "topology/nodes/0/io_links/%u/properties", i)))
         return ret;
   }
   return 0;
}

static int
add_gpu_node(struct kfdsim_topology *topo, const struct gfx_profile *p, unsigned int node,
             uint32_t gpu_id, uint32_t render_minor, uint64_t vram_bytes, bool small_bar,
             uint32_t capability)
{
   static const struct {
      uint32_t level, type;
   } caches[] = { { 1, 5 }, { 2, 5 }, { 3, 5 } };
   unsigned int cache_count = p->l3_mb ? 3 : 2;
   struct text t = { 0 };
   int ret;

   text_add(
      &t,
      "cpu_cores_count 0\nsimd_count %u\nmem_banks_count 1\ncaches_count %u\n"
      "io_links_count 1\ncpu_core_id_base 0\nsimd_id_base %u\n"
      "max_waves_per_simd %u\nlds_size_in_kb 64\ngds_size_in_kb 0\n"
      "num_gws %u\nwave_front_size %u\narray_count %u\n"
      "simd_arrays_per_engine %u\ncu_per_simd_array %u\nsimd_per_cu %u\n"
      "max_slots_scratch_cu 32\ngfx_target_version %u\nvendor_id 4098\n"
      "device_id %u\nlocation_id %u\ndomain 0\ndrm_render_minor %u\n"
      "hive_id 0\nnum_sdma_engines %u\nnum_sdma_xgmi_engines %u\n"
      "num_sdma_queues_per_engine %u\nnum_cp_queues %u\n"
      "max_engine_clk_fcompute %u\nlocal_mem_size %" PRIu64 "\n"
      "fw_version %u\ncapability %u\ndebug_prop 1495\nsdma_fw_version %u\n"
      "unique_id %" PRIu64 "\nmax_engine_clk_ccompute 3400\nfamily_id %u\n",
      p->cu_count * p->simd_per_cu, cache_count, 0x80001000u + 0x1000u * node,
      p->max_waves_per_simd, p->num_gws, p->wave_front_size,
      p->shader_engines * p->arrays_per_engine, p->arrays_per_engine, p->cu_per_array,
      p->simd_per_cu, p->gfx_version, p->device_id, (0x0cu + node) << 8, render_minor,
      p->sdma_engines, p->sdma_xgmi_engines, p->sdma_queues_per_engine, p->cp_queues,
      p->engine_clk_mhz, vram_bytes, p->fw_version, capability, p->sdma_fw_version,
      (uint64_t)0x2730a9e8c4d1f200ull + gpu_id, kfdsim_amdgpu_family(p->gfx_version));
   if ((ret = add_text_file(topo, &t, "topology/nodes/%u/properties", node)))
      return ret;

   t = (struct text){ 0 };
   text_add(&t, "%u\n", gpu_id);
   if ((ret = add_text_file(topo, &t, "topology/nodes/%u/gpu_id", node)))
      return ret;
   t = (struct text){ 0 };
   text_add(&t, "%s\n", p->asic_name);
   if ((ret = add_text_file(topo, &t, "topology/nodes/%u/name", node)))
      return ret;

   t = (struct text){ 0 };
   text_add(
      &t, "heap_type %u\nsize_in_bytes %" PRIu64 "\nflags 0\nwidth %u\nmem_clk_max %u\n",
      small_bar ? 2 : 1, vram_bytes, p->mem_width, p->mem_clk_mhz);
   if ((ret = add_text_file(topo, &t, "topology/nodes/%u/mem_banks/0/properties", node)))
      return ret;

   for (unsigned int i = 0; i < cache_count; i++) {
      uint32_t size_kb = i == 0 ? 16 : i == 1 ? p->l2_kb : p->l3_mb * 1024;
      t = (struct text){ 0 };
      text_add(&t,
               "processor_id_low %u\nlevel %u\nsize %u\ncache_line_size %u\n"
               "cache_lines_per_tag 1\nassociation 16\nlatency 0\ntype %u\n"
               "sibling_map 1\n",
               0x80001000u + 0x1000u * node, caches[i].level, size_kb, i == 0 ? 64 : 128,
               caches[i].type);
      if ((ret =
              add_text_file(topo, &t, "topology/nodes/%u/caches/%u/properties", node, i)))
         return ret;
   }

   t = (struct text){ 0 };
   text_add(&t,
            "type 2\nversion_major 0\nversion_minor 0\nnode_from %u\nnode_to 0\n"
            "weight 20\nmin_latency 0\nmax_latency 0\nmin_bandwidth 312\n"
            "max_bandwidth 31508\nrecommended_transfer_size 0\nflags 1\n",
            node);
   return add_text_file(topo, &t, "topology/nodes/%u/io_links/0/properties", node);
}

int
kfdsim_topology_generate(struct kfdsim_topology *topo, uint32_t kfd_minor, char *why,
                         size_t why_size)
{
   const char *target = getenv("KFDSIM_GFX");
   const struct gfx_profile *profile = NULL;
   uint64_t gpus = 1, vram_mb = 0, gpu_id = DEFAULT_GPU_ID;
   uint64_t minor = DEFAULT_RENDER_MINOR, small_bar = 0;
   struct text t = { 0 };
   int ret;

   if (!target || !*target)
      target = DEFAULT_TARGET;
   for (size_t i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++) {
      if (!strcmp(profiles[i].target, target))
         profile = &profiles[i];
   }
   if (!profile) {
      snprintf(why, why_size,
               "KFDSIM_GFX=%s is not one of gfx1030 gfx1100 gfx90a gfx908 gfx906 gfx900",
               target);
      return -EINVAL;
   }
   vram_mb = profile->vram_mb;
   if (!env_u64("KFDSIM_GPUS", 1, KFDSIM_MAX_GPUS, &gpus, why, why_size) ||
       !env_u64("KFDSIM_VRAM_MB", 64, 1 << 20, &vram_mb, why, why_size) ||
       !env_u64("KFDSIM_GPU_ID", 1, 0xffff - KFDSIM_MAX_GPUS, &gpu_id, why, why_size) ||
       !env_u64("KFDSIM_RENDER_MINOR", 128, 255 - KFDSIM_MAX_GPUS, &minor, why,
                why_size) ||
       !env_u64("KFDSIM_SMALL_BAR", 0, 1, &small_bar, why, why_size))
      return -EINVAL;

   /* a kernel with the debugger interface (1.13) reports firmware that supports it */
   uint32_t capability =
      GPU_CAPABILITY | (kfd_minor >= 13 ? KFDSIM_CAP_DEBUG_FIRMWARE : 0);

   text_add(&t, "platform_oem 0\nplatform_id 0\nplatform_rev 0\n");
   if ((ret = add_text_file(topo, &t, "topology/system_properties")))
      return ret;
   t = (struct text){ 0 };
   text_add(&t, "1\n");
   if ((ret = add_text_file(topo, &t, "topology/generation_id")))
      return ret;

   if ((ret = add_cpu_node(topo, (unsigned int)gpus)))
      return ret;
   for (unsigned int i = 0; i < gpus; i++) {
      ret = add_gpu_node(topo, profile, i + 1, (uint32_t)gpu_id + i, (uint32_t)minor + i,
                         vram_mb << 20, small_bar != 0, capability);
      if (ret)
         return ret;
   }
   return 0;
}
