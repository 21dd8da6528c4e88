/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * The server as a user starts it: --help, unknown options, shutdown on SIGINT
 * with clients connected in each server mode, and the installed binary itself
 * (not the test build linked with the emulator) re-running on the KFD emulator
 * when /dev/kfd is absent and saying so at start-up.
 *
 * usage: test_vtest_cli TEST_SERVER [SERVER KFD_EMULATOR_LIB [GUEST_CLIENT]]
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "server_test.h"

static const char *installed_server, *kfd_emulator, *guest_client;

static void
test_help_lists_the_modes(void **state)
{
   static char out[8192];
   static const char *const help[] = { "--help", NULL };
   assert_int_equal(test_run_program(test_server_exe, help, out, sizeof(out)), 0);
   static const char *const options[] = { "--socket-path",   "--no-fork",
                                          "--multi-clients", "--kfd-emulator",
                                          "--replay",        "--max-length" };
   for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++)
      if (!strstr(out, options[i]))
         fail_msg("--help does not mention %s:\n%s", options[i], out);
}

static void
test_unknown_option_fails(void **state)
{
   static char out[8192];
   static const char *const bogus[] = { "--frobnicate", NULL };
   assert_int_not_equal(test_run_program(test_server_exe, bogus, out, sizeof(out)), 0);
   assert_non_null(strstr(out, "unknown option --frobnicate"));
   static const char *const bad_value[] = { "--max-length", "12abc", NULL };
   assert_int_not_equal(test_run_program(test_server_exe, bad_value, out, sizeof(out)),
                        0);
   assert_non_null(strstr(out, "bad value for --max-length"));
   /* §10 row 32: a stray argument is not a file to replay */
   static const char *const stray[] = { "-h", NULL };
   assert_int_not_equal(test_run_program(test_server_exe, stray, out, sizeof(out)), 0);
   assert_non_null(strstr(out, "unexpected argument -h"));
}

/* §10 row 31: the socket path never replaces a user's file or a live server. */
static void
test_socket_path_is_never_stolen(void **state)
{
   static char out[8192];
   struct test_server first;
   test_server_start(&first, NULL);

   /* a live server's socket: refused, and the first server still serves */
   const char *const same[] = { "--socket-path", first.path, NULL };
   assert_int_not_equal(test_run_program(test_server_exe, same, out, sizeof(out)), 0);
   assert_non_null(strstr(out, "another server listens on"));
   struct vtc c;
   test_client(&first, &c, false);
   expect_alive(&c);
   vtc_close(&c);

   /* a regular file: refused and left as it was */
   char file[128];
   snprintf(file, sizeof(file), "%s/notes", first.dir);
   int fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
   assert_true(fd >= 0);
   assert_int_equal(write(fd, "keep", 4), 4);
   close(fd);
   const char *const onto_file[] = { "--socket-path", file, NULL };
   assert_int_not_equal(test_run_program(test_server_exe, onto_file, out, sizeof(out)),
                        0);
   assert_non_null(strstr(out, "is not a socket"));
   struct stat st;
   assert_int_equal(stat(file, &st), 0);
   assert_true(S_ISREG(st.st_mode) && st.st_size == 4);
   unlink(file);

   /* a stale socket, left by a server that was killed, is taken over */
   test_server_kill(&first);
   assert_int_equal(lstat(first.path, &st), 0);
   struct test_server second = first;
   test_server_start_at(&second, NULL);
   test_client(&second, &c, false);
   expect_alive(&c);
   vtc_close(&c);
   test_server_stop(&second);
}

/* --no-loop-or-fork: one client, then the server exits by itself. */
static void
test_one_client_then_exit(void **state)
{
   static const char *const once[] = { "--no-loop-or-fork", NULL };
   struct test_server server;
   test_server_start(&server, once);
   struct vtc c;
   test_client(&server, &c, true);
   expect_alive(&c);
   vtc_close(&c);
   /* exited without a signal; WNOWAIT leaves the reaping to test_server_stop */
   siginfo_t info = { 0 };
   for (int i = 0; i < 500 && !info.si_pid; i++) {
      assert_int_equal(
         waitid(P_PID, (id_t)server.pid, &info, WEXITED | WNOHANG | WNOWAIT), 0);
      if (!info.si_pid)
         usleep(10000);
   }
   assert_int_equal(info.si_pid, server.pid);
   assert_int_equal(info.si_code, CLD_EXITED);
   assert_int_equal(info.si_status, 0);
   test_server_stop(&server); /* checks the socket is gone */
}

/* The README's main job: the guest-like client's whole flow, every step ok. */
static void
test_guest_client_program(void **state)
{
   if (!guest_client)
      skip();
   struct test_server server;
   test_server_start(&server, NULL);
   static char out[16384];
   const char *const args[] = { "--socket-path", server.path, NULL };
   int status = test_run_program(guest_client, args, out, sizeof(out));
   if (status || !strstr(out, "all steps passed") || strstr(out, "FAIL"))
      fail_msg("virtkfd_vtest_client exited %d:\n%s", status, out);
   /* the emulator lets it check the GPU's view too, not only the server's */
   assert_non_null(strstr(out, "GPU view (KFD emulator)"));
   /* and compute: the doorbell rung through its mapping reached the emulated GPU
    * (not under ASan, whose server has no fixed-address window for KFD memory) */
#if !defined(__SANITIZE_ADDRESS__)
   assert_non_null(strstr(out, "the emulated GPU saw doorbell 1, took 2 packet(s)"));
   assert_non_null(strstr(out, "(signalled by the GPU)"));
#endif
   test_server_stop(&server);
}

/* SIGINT with a ROCm client connected: a clean exit that removes the socket. */
static void
sigint_with_a_client(const char *const *options)
{
   struct test_server server;
   test_server_start(&server, options);
   struct vtc c;
   test_client(&server, &c, true);
   expect_alive(&c);
   test_server_stop_with(&server, SIGINT);
   /* the session went away with the server */
   assert_true(vtc_server_closed(&c, 5000));
   vtc_close(&c);
}

static void
test_sigint_fork_per_client(void **state)
{
   sigint_with_a_client(NULL);
}

static void
test_sigint_multi_clients(void **state)
{
   static const char *const multi[] = { "--multi-clients", NULL };
   sigint_with_a_client(multi);
}

static void
test_installed_server_on_the_emulator(void **state)
{
#if defined(__SANITIZE_ADDRESS__)
   /* the emulator would be LD_PRELOADed ahead of the ASan runtime */
   skip();
#endif
   if (!installed_server || !kfd_emulator)
      skip();
   if (access("/dev/kfd", F_OK) == 0)
      skip(); /* a real KFD: nothing is emulated */
   const char *test_build = test_server_exe;
   test_server_exe = installed_server;
   struct test_server server;
   const char *const options[] = { "--kfd-emulator", kfd_emulator, NULL };
   test_server_start(&server, options);
   struct vtc c;
   test_client(&server, &c, true); /* OpenKFD and the shmem, on the emulator */
   struct hsakmt_ccmd_req nop = { .cmd = HSAKMT_CCMD_NOP };
   assert_non_null(vtc_hsakmt_call(&c, &nop, sizeof(nop), 0));
   vtc_close(&c);
   assert_true(test_server_log_has(&server, "no /dev/kfd: running on the KFD emulator"));
   test_server_stop_with(&server, SIGINT);
   test_server_exe = test_build;
}

int
main(int argc, char **argv)
{
   test_server_exe = argc > 1 ? argv[1] : "virtkfd_test_server_kfdsim";
   installed_server = argc > 3 ? argv[2] : NULL;
   kfd_emulator = argc > 3 ? argv[3] : NULL;
   guest_client = argc > 4 ? argv[4] : NULL;
   const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_help_lists_the_modes),
      cmocka_unit_test(test_unknown_option_fails),
      cmocka_unit_test(test_socket_path_is_never_stolen),
      cmocka_unit_test(test_one_client_then_exit),
      cmocka_unit_test(test_guest_client_program),
      cmocka_unit_test(test_sigint_fork_per_client),
      cmocka_unit_test(test_sigint_multi_clients),
      cmocka_unit_test(test_installed_server_on_the_emulator),
   };
   return cmocka_run_group_tests(tests, NULL, NULL);
}
