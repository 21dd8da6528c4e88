/*
 * Helpers shared by the emulator's own tests.
 */
#ifndef KFDSIM_TEST_UTIL_H
#define KFDSIM_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>

#include <cmocka.h>
#include <hsakmt.h>
#include <linux/kfd_ioctl.h>

#include "kfdsim.h"

/* KFD_IOC_ALLOC_MEM_FLAGS_WRITABLE is (1 << 31), an int overflow UBSan
 * reports; spell the bit as unsigned.
 */
#define TEST_ALLOC_WRITABLE 0x80000000u

#define TEST_PAGE_SIZE      4096u

/* Exit 77 (skipped, in meson's convention) saying why on stdout. */
void test_skip(const char *why) __attribute__((noreturn));

/* True when built with AddressSanitizer. */
bool test_built_with_asan(void);

/* The libhsakmt these tests run on is 6.x (it has hsaKmtAllocMemoryAlign), not
 * Debian 12's 5.2.3. The test command runs the emulator's suite on both; where they
 * differ, the tests say how. Measured with 6.2.4: hsaKmtOpenKFD only asks for the
 * version; the apertures, ACQUIRE_VM and the MMIO page come with the first
 * hsaKmtAcquireSystemProperties and go with hsaKmtReleaseSystemProperties, and
 * hsaKmtCloseKFD leaves /dev/kfd open.
 */
bool test_libhsakmt_6(void);

/* /dev/kfd fds libhsakmt keeps after its last hsaKmtCloseKFD: 5.2.3 closes its fd,
 * 6.x keeps it for the process lifetime (and reuses it when it opens again).
 */
unsigned int test_kfd_fds_after_close(void);

/* hsaKmtOpenKFD + hsaKmtAcquireSystemProperties; returns the node id of the
 * first GPU node.
 */
uint32_t test_open_kfd(void);

/* The node id of the index-th GPU node; needs the system properties
 * acquired (test_open_kfd does it).
 */
uint32_t test_gpu_node(unsigned int index);

/* The last logged ioctl with this nr, its argument bytes before/after. */
void test_last_ioctl(unsigned int nr, struct kfdsim_ioctl_record *rec);

/* Number of logged calls of nr that failed with err. */
unsigned int test_count_failures(unsigned int nr, int err);

#endif
