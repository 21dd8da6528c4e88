/*
 * Minimal stand-in for <drm/drm.h> so that <linux/kfd_ioctl.h> (linux-libc-dev)
 * compiles: the KFD UAPI only needs the fixed-width types and the _IO* macros.
 * The real header ships with the kernel headers of a DRM development setup,
 * which the emulator does not need.
 */
#ifndef KFDSIM_STUB_DRM_H
#define KFDSIM_STUB_DRM_H

#include <linux/ioctl.h>
#include <linux/types.h>

#endif
