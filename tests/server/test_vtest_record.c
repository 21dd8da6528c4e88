/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Record and replay (§8.3, §10 row 29): a client's input stream is recorded to a
 * per-client file (--record or VTEST_SAVE), fd messages included as markers, and
 * `--replay FILE` runs the same commands again, without a socket.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "server_test.h"

/* A session that uses every kind of input: commands, payloads and an fd. */
static void
client_session(struct test_server *server)
{
   struct vtc c;
   test_client(server, &c, true);
   uint32_t sync, res;
   assert_int_equal(vtc_sync_create(&c, 0, &sync), 0);
   struct hsakmt_ccmd_req nop = { HSAKMT_CCMD_NOP, 16, 9, 0 };
   uint64_t value = 3;
   assert_int_equal(vtc_submit_cmd2(&c, 0, &nop, 4, &sync, &value, 1), 0);
   int fd = memfd_create("ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
   assert_int_equal(ftruncate(fd, 1 << 20), 0);
   assert_int_equal(vtc_guest_ram_add(&c, 1ull << 32, 1 << 20, fd), 0);
   close(fd);
   struct vtest_sg_entry e = { .addr = 1ull << 32, .length = 8192 };
   assert_int_equal(vtc_blob_sg(&c, VCMD_BLOB_TYPE_HOST3D_GUEST, 0, 8192, 1, &e, 1, &res),
                    0);
   assert_int_equal(vtc_unref(&c, res), 0);
   uint64_t now;
   assert_int_equal(vtc_sync_read(&c, sync, &now), 0);
   vtc_close(&c);
}

/* The one recording file in `dir` that starts with `prefix`. */
static void
find_recording(const char *dir, const char *prefix, char *path, size_t size)
{
   DIR *d = opendir(dir);
   assert_non_null(d);
   struct dirent *e;
   int found = 0;
   while ((e = readdir(d))) {
      if (!strncmp(e->d_name, prefix, strlen(prefix))) {
         snprintf(path, size, "%s/%s", dir, e->d_name);
         found++;
      }
   }
   closedir(d);
   assert_int_equal(found, 1);
}

static void
replay(const char *recording, const char *log)
{
   pid_t pid = fork();
   assert_true(pid >= 0);
   if (pid == 0) {
      int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      if (fd >= 0)
         dup2(fd, 2);
      execl(test_server_exe, test_server_exe, "--verbose", "--replay", recording,
            (char *)NULL);
      _exit(127);
   }
   int status;
   assert_int_equal(waitpid(pid, &status, 0), pid);
   assert_true(WIFEXITED(status));
   assert_int_equal(WEXITSTATUS(status), 0);
}

static bool
file_has(const char *path, const char *text)
{
   FILE *f = fopen(path, "re");
   char line[1024];
   bool found = false;
   while (f && !found && fgets(line, sizeof(line), f))
      found = strstr(line, text) != NULL;
   if (f)
      fclose(f);
   return found;
}

static void
record_and_replay(const char *const *options, bool by_env)
{
   char dir[] = "/tmp/vtest-rec-XXXXXX", base[64], recording[512], log[128];
   assert_non_null(mkdtemp(dir));
   snprintf(base, sizeof(base), "%s/rec", dir);
   const char *opts[6] = { NULL };
   int n = 0;
   for (int i = 0; options && options[i]; i++)
      opts[n++] = options[i];
   if (by_env) {
      setenv("VTEST_SAVE", base, 1);
   } else {
      opts[n++] = "--record";
      opts[n++] = base;
   }
   struct test_server server;
   test_server_start(&server, opts);
   unsetenv("VTEST_SAVE");
   client_session(&server);
   test_server_stop(&server);

   find_recording(dir, "rec.", recording, sizeof(recording));
   snprintf(log, sizeof(log), "%s/replay.log", dir);
   replay(recording, log);
   assert_true(file_has(log, "SUBMIT_CMD2"));
   assert_true(file_has(log, "GUEST_RAM_ADD"));
   assert_true(file_has(log, "RESOURCE_CREATE_BLOB_SG"));
   assert_true(file_has(log, "replay of"));
   assert_false(file_has(log, "disconnecting"));
   /* the extension commands answer with a status instead of disconnecting: none
    * of them may have failed, nor anything in the library */
   assert_false(file_has(log, "GUEST_RAM_ADD gpa"));
   assert_false(file_has(log, "RESOURCE_CREATE_BLOB_SG: "));
   assert_false(file_has(log, "virtkfd: error"));
   unlink(recording);
   unlink(log);
   rmdir(dir);
}

static void
test_record_option_fork_mode(void **state)
{
   record_and_replay(NULL, false);
}

static void
test_record_vtest_save_multi_clients(void **state)
{
   static const char *const multi[] = { "--multi-clients", NULL };
   record_and_replay(multi, true);
}

static void
test_replay_rejects_other_files(void **state)
{
   char path[] = "/tmp/vtest-notrec-XXXXXX";
   int fd = mkstemp(path);
   assert_true(fd >= 0);
   assert_int_equal(write(fd, "not a recording", 15), 15);
   close(fd);
   pid_t pid = fork();
   if (pid == 0) {
      int null = open("/dev/null", O_WRONLY);
      dup2(null, 2);
      execl(test_server_exe, test_server_exe, "--replay", path, (char *)NULL);
      _exit(127);
   }
   int status;
   assert_int_equal(waitpid(pid, &status, 0), pid);
   assert_true(WIFEXITED(status));
   assert_int_equal(WEXITSTATUS(status), 1);
   unlink(path);
}

int
main(int argc, char **argv)
{
   test_server_exe = argc > 1 ? argv[1] : "virtkfd_test_server_kfdsim";
   const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_record_option_fork_mode),
      cmocka_unit_test(test_record_vtest_save_multi_clients),
      cmocka_unit_test(test_replay_rejects_other_files),
   };
   return cmocka_run_group_tests(tests, NULL, NULL);
}
