/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * What the host libhsakmt under test can do, for tests whose expectation depends on
 * it. The library is the one virtkfd loads (VIRTKFD_HSAKMT_LIBRARY, else
 * libhsakmt.so.1); the test command runs the suites on Debian 12's 5.2.3 and on
 * Debian trixie's 6.2.4. Facts are told by the entry points the library exports, as
 * virtkfd itself tells them.
 */
#ifndef TEST_HSAKMT_LIBRARY_H
#define TEST_HSAKMT_LIBRARY_H

#include <stdbool.h>

/* Places FixedAddress allocations in its default mode (ROCm 5.7 and later) and the
 * environment does not ask for the reserved aperture (HSA_RESERVE_SVM): virtkfd's
 * "native" VA mode. Debian's 5.2.3 needs the reserved SVM aperture. */
bool test_hsakmt_native_fixed_va(void);

/* Has hsaKmtExportDMABufHandle, hsaKmtAvailableMemory, hsaKmtGetRuntimeCapabilities. */
bool test_hsakmt_has_dmabuf_export(void);
bool test_hsakmt_has_available_memory(void);
bool test_hsakmt_has_runtime_caps(void);

/* "libhsakmt 5.2.3 (reserved SVM)" or "libhsakmt 6.x (native)", for messages. */
const char *test_hsakmt_library_name(void);

#endif /* TEST_HSAKMT_LIBRARY_H */
