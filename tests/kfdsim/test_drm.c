/*
 * The emulated render node as libdrm sees it: a character device 226:128 with
 * its /sys/dev/char entry, on which libdrm_amdgpu initialises without a word on
 * stderr and reports the emulated board; and the DRM rules for everything
 * else (auth and master calls refused on a render node, unknown requests,
 * AMDGPU_INFO's argument checks).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <amdgpu.h>
#include <amdgpu_drm.h>
#include <xf86drm.h>

#include "test_util.h"

#define RENDER_NODE "/dev/dri/renderD128"

static int
drm_ioctl(int fd, unsigned long request, void *arg)
{
   return ioctl(fd, request, arg) == 0 ? 0 : errno;
}

static int
open_render(void)
{
   int fd = open(RENDER_NODE, O_RDWR | O_CLOEXEC);
   assert_true(fd >= 0);
   return fd;
}

/* What a function printed on stderr while it ran. */
struct stderr_capture {
   int saved;
   FILE *file;
};

static void
capture_start(struct stderr_capture *c)
{
   fflush(stderr);
   c->file = tmpfile();
   assert_non_null(c->file);
   c->saved = dup(STDERR_FILENO);
   assert_true(c->saved >= 0);
   assert_true(dup2(fileno(c->file), STDERR_FILENO) >= 0);
}

static long
capture_stop(struct stderr_capture *c, char *text, size_t size)
{
   fflush(stderr);
   dup2(c->saved, STDERR_FILENO);
   close(c->saved);
   long length = ftell(c->file);
   rewind(c->file);
   size_t n = fread(text, 1, size - 1, c->file);
   text[n] = '\0';
   fclose(c->file);
   return length;
}

static void
test_render_node_is_a_drm_device(void **state)
{
   int fd = open_render();
   struct stat st;

   assert_int_equal(fstat(fd, &st), 0);
   assert_true(S_ISCHR(st.st_mode));
   assert_int_equal(major(st.st_rdev), 226);
   assert_int_equal(minor(st.st_rdev), 128);
   assert_int_equal(stat(RENDER_NODE, &st), 0);
   assert_true(S_ISCHR(st.st_mode));
   assert_int_equal(drmGetNodeTypeFromFd(fd), DRM_NODE_RENDER);

   /* the primary node of the same GPU, as libdrm finds it to compare devices */
   char *primary = drmGetPrimaryDeviceNameFromFd(fd);
   assert_non_null(primary);
   assert_string_equal(primary, "/dev/dri/card0");
   free(primary);
   assert_int_equal(stat("/sys/dev/char/226:128/device/drm", &st), 0);
   assert_true(S_ISDIR(st.st_mode));

   /* other files keep their own type */
   int other = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
   assert_int_equal(fstat(other, &st), 0);
   assert_true(S_ISREG(st.st_mode));
   close(other);
   close(fd);
}

static void
test_libdrm_amdgpu_initialises(void **state)
{
   int fd = open_render();
   uint32_t major_version = 0, minor_version = 0;
   amdgpu_device_handle dev;
   struct stderr_capture capture;
   char printed[512];

   kfdsim_log_clear();
   capture_start(&capture);
   int ret = amdgpu_device_initialize(fd, &major_version, &minor_version, &dev);
   long length = capture_stop(&capture, printed, sizeof(printed));
   assert_int_equal(ret, 0);
   if (length) {
      fprintf(stderr, "libdrm printed: %s\n", printed);
      fail_msg("amdgpu_device_initialize printed %ld bytes", length);
   }
   assert_int_equal(major_version, 3);
   assert_int_equal(minor_version, 54);

   struct amdgpu_gpu_info info;
   assert_int_equal(amdgpu_query_gpu_info(dev, &info), 0);
   assert_int_equal(info.asic_id, 0x73bf);
   assert_int_equal(info.family_id, AMDGPU_FAMILY_NV);
   assert_int_equal(info.cu_active_number, 72);
   assert_int_equal(info.num_shader_engines, 4);
   assert_int_equal(info.pci_rev_id, 0xc1);
   assert_int_equal(info.gb_addr_cfg, 0x444);
   const char *name = amdgpu_get_marketing_name(dev);
   assert_non_null(name);
   assert_string_equal(name, "AMD Radeon RX 6800 XT");

   /* what it asked: the version twice, then AMDGPU_INFO three times */
   assert_int_equal(kfdsim_drm_ioctl_count(_IOC_NR(DRM_IOCTL_VERSION)), 2);
   assert_int_equal(kfdsim_drm_ioctl_count(_IOC_NR(DRM_IOCTL_AMDGPU_INFO)), 3);
   amdgpu_device_deinitialize(dev);
   close(fd);
}

static void
test_render_node_refusals(void **state)
{
   int fd = open_render();
   struct drm_auth auth = { 0 };
   struct drm_client client = { 0 };
   struct drm_set_version version = { 0 };

   /* auth, magic, clients and masters belong to primary nodes */
   assert_int_equal(drm_ioctl(fd, DRM_IOCTL_GET_MAGIC, &auth), EACCES);
   assert_int_equal(drm_ioctl(fd, DRM_IOCTL_AUTH_MAGIC, &auth), EACCES);
   assert_int_equal(drm_ioctl(fd, DRM_IOCTL_GET_CLIENT, &client), EACCES);
   assert_int_equal(drm_ioctl(fd, DRM_IOCTL_SET_VERSION, &version), EACCES);
   assert_int_equal(drm_ioctl(fd, DRM_IOCTL_SET_MASTER, NULL), EACCES);
   /* not a DRM request, no such core or driver request */
   assert_int_equal(drm_ioctl(fd, _IOWR('K', 0x01, uint64_t), &auth), ENOTTY);
   assert_int_equal(drm_ioctl(fd, _IOWR('d', 0x0e, uint64_t), &auth), EINVAL);
   assert_int_equal(drm_ioctl(fd, _IOWR('d', 0x60, uint64_t), &auth), EINVAL);
   assert_int_equal(drm_ioctl(fd, _IOWR('d', 0xe0, uint64_t), &auth), EINVAL);
   /* a GEM handle the node never gave out */
   struct drm_gem_close gem_close = { .handle = 1 };
   assert_int_equal(drm_ioctl(fd, DRM_IOCTL_GEM_CLOSE, &gem_close), EINVAL);
   /* requests amdgpu serves but the emulator has no model for */
   union drm_amdgpu_gem_create create = { .in.bo_size = 4096 };
   assert_int_equal(drm_ioctl(fd, DRM_IOCTL_AMDGPU_GEM_CREATE, &create), EOPNOTSUPP);

   /* DRM_IOCTL_VERSION with short buffers: lengths in full, bytes as room allows */
   char name[4] = "xxx";
   struct drm_version v = { .name = name, .name_len = 3 };
   assert_int_equal(drm_ioctl(fd, DRM_IOCTL_VERSION, &v), 0);
   assert_int_equal(v.name_len, 6);
   assert_memory_equal(name, "amd", 3);
   assert_int_equal(v.date_len, 8);
   v.name = (char *)8; /* unmapped */
   v.name_len = 6;
   assert_int_equal(drm_ioctl(fd, DRM_IOCTL_VERSION, &v), EFAULT);
   close(fd);
}

static int
amdgpu_info(int fd, uint32_t query, void *out, uint32_t size, uint32_t offset,
            uint32_t count, uint32_t instance)
{
   struct drm_amdgpu_info info = {
      .return_pointer = (uintptr_t)out,
      .return_size = size,
      .query = query,
      .read_mmr_reg = { .dword_offset = offset, .count = count, .instance = instance },
   };
   return drm_ioctl(fd, DRM_IOCTL_AMDGPU_INFO, &info);
}

static void
test_amdgpu_info_checks(void **state)
{
   int fd = open_render();
   uint32_t value = 0;
   uint8_t buffer[sizeof(struct drm_amdgpu_info_device) + 8];

   assert_int_equal(amdgpu_info(fd, AMDGPU_INFO_ACCEL_WORKING, &value, 4, 0, 0, 0), 0);
   assert_int_equal(value, 1);
   assert_int_equal(amdgpu_info(fd, AMDGPU_INFO_ACCEL_WORKING, &value, 0, 0, 0, 0),
                    EINVAL);
   assert_int_equal(amdgpu_info(fd, AMDGPU_INFO_ACCEL_WORKING, NULL, 4, 0, 0, 0), EINVAL);
   assert_int_equal(amdgpu_info(fd, AMDGPU_INFO_ACCEL_WORKING, (void *)8, 4, 0, 0, 0),
                    EFAULT);
   assert_int_equal(amdgpu_info(fd, 0x7f, &value, 4, 0, 0, 0), EINVAL);
   assert_int_equal(amdgpu_info(fd, AMDGPU_INFO_HW_IP_INFO, buffer, 32, 0, 0, 0),
                    EOPNOTSUPP);

   /* DEV_INFO copies at most return_size bytes */
   memset(buffer, 0xa5, sizeof(buffer));
   assert_int_equal(amdgpu_info(fd, AMDGPU_INFO_DEV_INFO, buffer, 8, 0, 0, 0), 0);
   assert_int_equal(((uint32_t *)buffer)[0], 0x73bf);
   assert_int_equal(buffer[8], 0xa5);
   assert_int_equal(
      amdgpu_info(fd, AMDGPU_INFO_DEV_INFO, buffer, sizeof(buffer), 0, 0, 0), 0);
   const struct drm_amdgpu_info_device *dev_info = (const void *)buffer;
   assert_int_equal(dev_info->family, AMDGPU_FAMILY_NV);
   assert_int_equal(buffer[sizeof(*dev_info)], 0xa5);

   /* registers: GB_ADDR_CONFIG is on amdgpu's whitelist, its neighbour is not */
   assert_int_equal(
      amdgpu_info(fd, AMDGPU_INFO_READ_MMR_REG, &value, 4, 0x263e, 1, 0xffffffff), 0);
   assert_int_equal(value, 0x444);
   assert_int_equal(
      amdgpu_info(fd, AMDGPU_INFO_READ_MMR_REG, &value, 4, 0x263f, 1, 0xffffffff),
      EFAULT);
   assert_int_equal(
      amdgpu_info(fd, AMDGPU_INFO_READ_MMR_REG, buffer, 4, 0x263e, 129, 0xffffffff),
      EINVAL);
   assert_int_equal(amdgpu_info(fd, AMDGPU_INFO_READ_MMR_REG, &value, 4, 0x263e, 1, 9),
                    EINVAL);

   /* an argument shorter than drm_amdgpu_info is zero extended: no return size */
   uint64_t short_arg = (uintptr_t)&value;
   assert_int_equal(drm_ioctl(fd, _IOW('d', 0x45, uint64_t), &short_arg), EINVAL);
   close(fd);
}

int
main(void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_render_node_is_a_drm_device),
      cmocka_unit_test(test_libdrm_amdgpu_initialises),
      cmocka_unit_test(test_render_node_refusals),
      cmocka_unit_test(test_amdgpu_info_checks),
   };
   return cmocka_run_group_tests_name("kfdsim-drm", tests, NULL, NULL);
}
