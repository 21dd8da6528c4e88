/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 */
#include "server_harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

const char *test_server_exe;

/*
 * Servers still running: a failed assertion skips test_server_stop, not this.
 * Their directories (socket, log) go with them.
 */
static struct {
   pid_t pid;
   char dir[64];
} running[16];

static void
remove_dir(const char *path)
{
   DIR *dir = opendir(path);
   if (!dir)
      return;
   struct dirent *e;
   while ((e = readdir(dir)))
      if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
         unlinkat(dirfd(dir), e->d_name, 0);
   closedir(dir);
   rmdir(path);
}

static void
kill_running_servers(void)
{
   for (int i = 0; i < 16; i++) {
      if (running[i].pid > 0) {
         kill(running[i].pid, SIGKILL);
         waitpid(running[i].pid, NULL, 0);
         remove_dir(running[i].dir);
         running[i].pid = 0;
      }
   }
}

static void
note_running(pid_t pid, pid_t replace, const char *dir)
{
   static bool registered;
   if (!registered)
      registered = atexit(kill_running_servers) == 0;
   for (int i = 0; i < 16; i++) {
      if (running[i].pid == replace) {
         running[i].pid = pid;
         snprintf(running[i].dir, sizeof(running[i].dir), "%s", dir);
         return;
      }
   }
}

void
test_server_start(struct test_server *server, const char *const *options)
{
   strcpy(server->dir, "/tmp/vtest-XXXXXX");
   assert_non_null(mkdtemp(server->dir));
   snprintf(server->path, sizeof(server->path), "%s/sock", server->dir);
   snprintf(server->log, sizeof(server->log), "%s/log", server->dir);
   test_server_start_at(server, options);
}

void
test_server_kill(struct test_server *server)
{
   assert_int_equal(kill(server->pid, SIGKILL), 0);
   assert_int_equal(waitpid(server->pid, NULL, 0), server->pid);
   note_running(0, server->pid, "");
}

/* Whether a server listens on path; the probe is a client that leaves at once. */
static bool
socket_accepts(const char *path)
{
   struct sockaddr_un addr = { .sun_family = AF_UNIX };
   snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
   int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
   bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0;
   if (fd >= 0)
      close(fd);
   return ok;
}

void
test_server_start_at(struct test_server *server, const char *const *options)
{
   const char *argv[32] = { test_server_exe, "--socket-path", server->path,
                            "--debug-commands" };
   int argc = 4;
   for (int i = 0; options && options[i] && argc < 31; i++)
      argv[argc++] = options[i];
   argv[argc] = NULL;
   /* a stale socket left at the path does not count as the new server's (and its
    * inode number may come back): wait for one that accepts */
   struct stat stale;
   bool had_stale = lstat(server->path, &stale) == 0;
   server->pid = fork();
   assert_true(server->pid >= 0);
   if (server->pid == 0) {
      int log = open(server->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      if (log >= 0)
         dup2(log, 2);
      execv(test_server_exe, (char **)argv);
      _exit(127);
   }
   note_running(server->pid, 0, server->dir);
   /* the socket appears once the server listens */
   for (int i = 0; i < 2000; i++) {
      struct stat st;
      if (lstat(server->path, &st) == 0 && S_ISSOCK(st.st_mode) &&
          (!had_stale || socket_accepts(server->path)))
         return;
      assert_true(test_server_alive(server));
      struct timespec nap = { 0, 5000000 };
      nanosleep(&nap, NULL);
   }
   fail_msg("the server did not create %s", server->path);
}

bool
test_server_alive(struct test_server *server)
{
   return waitpid(server->pid, NULL, WNOHANG) == 0;
}

bool
test_server_log_has(struct test_server *server, const char *text)
{
   FILE *f = fopen(server->log, "re");
   if (!f)
      return false;
   char line[1024];
   bool found = false;
   while (!found && fgets(line, sizeof(line), f))
      found = strstr(line, text) != NULL;
   fclose(f);
   return found;
}

void
test_server_stop(struct test_server *server)
{
   test_server_stop_with(server, SIGTERM);
}

void
test_server_stop_with(struct test_server *server, int sig)
{
   int status = 0;
   assert_int_equal(kill(server->pid, sig), 0);
   assert_int_equal(waitpid(server->pid, &status, 0), server->pid);
   note_running(0, server->pid, "");
   /* in fork mode the clients' work ran in children: their crashes, sanitizer
    * reports and leak checks show as abnormal exits in the server's log */
   bool children_failed = test_server_log_has(server, "client process ");
   if (!WIFEXITED(status) || WEXITSTATUS(status) || children_failed) {
      char cmd[160];
      snprintf(cmd, sizeof(cmd), "cat %s >&2", server->log);
      if (system(cmd) < 0)
         perror("system");
   }
   assert_true(WIFEXITED(status));
   assert_int_equal(WEXITSTATUS(status), 0);
   assert_false(children_failed);
   struct stat st;
   assert_int_equal(stat(server->path, &st), -1); /* the socket is gone */
   unlink(server->log);
   rmdir(server->dir);
}

int
test_pid_fds(pid_t pid)
{
   char path[64];
   snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
   DIR *dir = opendir(path);
   if (!dir)
      return -1;
   int n = 0;
   struct dirent *e;
   while ((e = readdir(dir)))
      n += e->d_name[0] != '.';
   closedir(dir);
   return n;
}

void
test_client(struct test_server *server, struct vtc *c, bool hsakmt)
{
   assert_int_equal(vtc_connect(c, server->path, "test"), 0);
   assert_int_equal(c->version, 4);
   assert_true(c->ext);
   if (hsakmt)
      assert_int_equal(vtc_hsakmt_open(c, 80 * 4096), 0);
}

int
test_run_program(const char *exe, const char *const *args, char *out, size_t out_size)
{
   int pipefd[2];
   assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
   const char *argv[8] = { exe };
   int argc = 1;
   for (int i = 0; args[i] && argc < 7; i++)
      argv[argc++] = args[i];
   argv[argc] = NULL;
   pid_t pid = fork();
   assert_true(pid >= 0);
   if (pid == 0) {
      dup2(pipefd[1], 1);
      dup2(pipefd[1], 2);
      execv(exe, (char **)argv);
      _exit(127);
   }
   close(pipefd[1]);
   size_t used = 0;
   ssize_t n;
   while ((n = read(pipefd[0], out + used, out_size - 1 - used)) > 0)
      used += (size_t)n;
   out[used] = 0;
   close(pipefd[0]);
   int status;
   assert_int_equal(waitpid(pid, &status, 0), pid);
   assert_true(WIFEXITED(status));
   return WEXITSTATUS(status);
}
