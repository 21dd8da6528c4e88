/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 */
#include "test_hsakmt_library.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool
library_has(const char *symbol)
{
   const char *name = getenv("VIRTKFD_HSAKMT_LIBRARY");
   if (!name || !*name)
      name = "libhsakmt.so.1";
   void *handle = dlopen(name, RTLD_LAZY | RTLD_LOCAL);
   if (!handle) {
      fprintf(stderr, "test: cannot load %s: %s\n", name, dlerror());
      abort();
   }
   bool found = dlsym(handle, symbol) != NULL;
   dlclose(handle);
   return found;
}

bool
test_hsakmt_native_fixed_va(void)
{
   /* the entry point virtkfd's VA-mode choice goes by (src/kfd/vkfd_kfd_device.c);
    * given HSA_RESERVE_SVM, even such a library reserves its aperture */
   const char *reserve = getenv("HSA_RESERVE_SVM");
   return library_has("hsaKmtAllocMemoryAlign") && !(reserve && strcmp(reserve, "0"));
}

bool
test_hsakmt_has_dmabuf_export(void)
{
   return library_has("hsaKmtExportDMABufHandle");
}

bool
test_hsakmt_has_available_memory(void)
{
   return library_has("hsaKmtAvailableMemory");
}

bool
test_hsakmt_has_runtime_caps(void)
{
   return library_has("hsaKmtGetRuntimeCapabilities");
}

const char *
test_hsakmt_library_name(void)
{
   if (!library_has("hsaKmtAllocMemoryAlign"))
      return "libhsakmt 5.2.3 (reserved SVM aperture)";
   return test_hsakmt_native_fixed_va() ? "libhsakmt 6.x (native fixed addresses)"
                                        : "libhsakmt 6.x (HSA_RESERVE_SVM: reserved)";
}
