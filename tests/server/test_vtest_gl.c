/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * The GL options reach the renderer flags: by default the server asks for no GL, so
 * the system virglrenderer (forwarding) offers no GL capset and a capset-2 context is
 * refused; with --use-egl-surfaceless (or upstream's VTEST_USE_EGL_SURFACELESS) the
 * GL capset is there and a capset-2 context is created on llvmpipe; with --use-glx
 * and no X display the library's init fails and capset 8 still works. Options that
 * cannot go together stop the server.
 *
 * usage: test_vtest_gl TEST_SERVER SYSTEM_LIBRARY
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "server_test.h"
#include "virtkfd/vtest_protocol.h"

static const char *system_library;

/*
 * Starts a server whose client processes run GL. Mesa unloads its driver at
 * eglTerminate while memory it allocated is referenced only from the driver's data,
 * which LeakSanitizer then reports as leaked in every client process: leak checks
 * are off for these servers (tests/forward checks the same paths with the drivers
 * pinned).
 */
static void
gl_server_start(struct test_server *server, const char *const *options)
{
   const char *saved = getenv("ASAN_OPTIONS");
   char *restore = saved ? strdup(saved) : NULL;
   char options_env[1024];
   snprintf(options_env, sizeof(options_env), "%s%sdetect_leaks=0", saved ? saved : "",
            saved && *saved ? ":" : "");
   setenv("ASAN_OPTIONS", options_env, 1);
   test_server_start(server, options);
   if (restore) {
      setenv("ASAN_OPTIONS", restore, 1);
      free(restore);
   } else {
      unsetenv("ASAN_OPTIONS");
   }
}

static int
gl_capset_size(struct vtc *c)
{
   static uint8_t caps[4096];
   int size = vtc_get_capset(c, 2, 2, caps, sizeof(caps));
   assert_true(size >= 0);
   return size;
}

static void
expect_rocm_works(struct test_server *server)
{
   struct vtc rocm;
   test_client(server, &rocm, true);
   expect_alive(&rocm);
   vtc_close(&rocm);
}

static void
test_default_offers_no_gl(void **state)
{
   struct test_server server;
   test_server_start(&server, NULL);
   struct vtc c;
   test_client(&server, &c, false);
   assert_int_equal(gl_capset_size(&c), 0);
   assert_int_equal(vtc_context_init(&c, 2), 0);
   expect_dropped(&c, VCMD_CONTEXT_INIT, EINVAL);
   vtc_close(&c);
   expect_rocm_works(&server);
   test_server_stop(&server);
}

static void
gl_context_works(const char *const *options)
{
   struct test_server server;
   gl_server_start(&server, options);
   struct vtc c;
   test_client(&server, &c, false);
   assert_true(gl_capset_size(&c) > 0);
   assert_int_equal(vtc_context_init(&c, 2), 0);
   expect_alive(&c);
   vtc_close(&c);
   expect_rocm_works(&server);
   test_server_stop(&server);
}

static void
test_egl_surfaceless_option(void **state)
{
   static const char *const options[] = { "--use-egl-surfaceless", NULL };
   gl_context_works(options);
}

static void
test_egl_surfaceless_environment(void **state)
{
   setenv("VTEST_USE_EGL_SURFACELESS", "", 1); /* present is enough, like upstream */
   gl_context_works(NULL);
   unsetenv("VTEST_USE_EGL_SURFACELESS");
}

static void
test_no_virgl_wins(void **state)
{
   struct test_server server;
   static const char *const options[] = { "--use-egl-surfaceless", "--no-virgl", NULL };
   test_server_start(&server, options);
   struct vtc c;
   test_client(&server, &c, false);
   assert_int_equal(gl_capset_size(&c), 0);
   vtc_close(&c);
   test_server_stop(&server);
}

static void
test_glx_without_display(void **state)
{
   char *display = getenv("DISPLAY") ? strdup(getenv("DISPLAY")) : NULL;
   unsetenv("DISPLAY");
   setenv("VIRTKFD_LOG_LEVEL", "warning", 1);
   struct test_server server;
   static const char *const options[] = { "--use-glx", NULL };
   gl_server_start(&server, options);
   struct vtc c;
   test_client(&server, &c, false);
   assert_int_equal(gl_capset_size(&c), 0);
   assert_int_equal(vtc_context_init(&c, 2), 0);
   expect_dropped(&c, VCMD_CONTEXT_INIT, EINVAL);
   vtc_close(&c);
   expect_rocm_works(&server);
   assert_true(test_server_log_has(&server, "forwarding off"));
   test_server_stop(&server);
   unsetenv("VIRTKFD_LOG_LEVEL");
   if (display) {
      setenv("DISPLAY", display, 1);
      free(display);
   }
}

static void
test_clashing_options_stop_the_server(void **state)
{
   static const char *const clashes[][3] = {
      { "--use-glx", "--use-egl-surfaceless", NULL },
      { "--use-glx", "--use-gles", NULL },
      { "--compat", "--use-gles", NULL },
   };
   static char out[4096];
   for (size_t i = 0; i < sizeof(clashes) / sizeof(clashes[0]); i++) {
      assert_int_equal(test_run_program(test_server_exe, clashes[i], out, sizeof(out)),
                       1);
      assert_non_null(strstr(out, "cannot be used together"));
   }
}

int
main(int argc, char **argv)
{
   test_server_exe = argc > 1 ? argv[1] : "virtkfd_test_server_kfdsim";
   system_library = argc > 2 ? argv[2] : NULL;
   if (!system_library || access(system_library, R_OK)) {
      printf("skipped: no system virglrenderer at %s (install libvirglrenderer1)\n",
             system_library ? system_library : "(none given)");
      return 77;
   }
   const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_default_offers_no_gl),
      cmocka_unit_test(test_egl_surfaceless_option),
      cmocka_unit_test(test_egl_surfaceless_environment),
      cmocka_unit_test(test_no_virgl_wins),
      cmocka_unit_test(test_glx_without_display),
      cmocka_unit_test(test_clashing_options_stop_the_server),
   };
   return cmocka_run_group_tests(tests, NULL, NULL);
}
