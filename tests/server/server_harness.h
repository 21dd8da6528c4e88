/*
 * Copyright 2026 The virtkfd Authors
 * SPDX-License-Identifier: MIT
 *
 * Starting and stopping a virtkfd_test_server for a test: a private socket
 * directory, the server as a child process (the test build is linked with the
 * KFD emulator), and its fd count through /proc/<pid>/fd. Every server a test
 * starts is stopped (SIGTERM, waitpid) and must exit 0 and remove its socket.
 */
#ifndef SERVER_HARNESS_H
#define SERVER_HARNESS_H

#include <stdbool.h>
#include <sys/types.h>

#include "vtest_client.h"

struct test_server {
   pid_t pid;
   char dir[64];
   char path[96];
   char log[96];
};

/* argv[1] of the test: the server executable. */
extern const char *test_server_exe;

/* Starts the server with extra options (NULL-terminated), waits for its socket. */
void test_server_start(struct test_server *server, const char *const *options);
/* The same in the directory and on the socket path `server` names already. */
void test_server_start_at(struct test_server *server, const char *const *options);
/* SIGKILL, waitpid: the socket and the directory stay behind. */
void test_server_kill(struct test_server *server);
/* SIGTERM, waitpid; asserts a clean exit and a removed socket. */
void test_server_stop(struct test_server *server);
/* The same with another signal (SIGINT). */
void test_server_stop_with(struct test_server *server, int sig);
/* Whether the server process still runs. */
bool test_server_alive(struct test_server *server);
/* Open fds of a process. */
int test_pid_fds(pid_t pid);
/* Whether the server's log contains `text`. */
bool test_server_log_has(struct test_server *server, const char *text);

/*
 * Runs `exe args...` (up to 6 arguments) to its end; returns its exit status, with its
 * stdout and stderr in `out` (NUL-terminated).
 */
int
test_run_program(const char *exe, const char *const *args, char *out, size_t out_size);

/* Connects and negotiates (asserts); with `hsakmt`, also opens the ROCm context. */
void test_client(struct test_server *server, struct vtc *c, bool hsakmt);

#endif /* SERVER_HARNESS_H */
