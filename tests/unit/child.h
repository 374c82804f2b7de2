/* Runs a test step in a forked child with its stderr captured: for the
 * cases that must abort with ebbmalloc's one-line message. */
#ifndef EBB_TEST_CHILD_H
#define EBB_TEST_CHILD_H

#include <stddef.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* What the last child printed on stderr. */
static char child_err[4096];

/* Runs fn(arg) in a child with stderr in a pipe (no core file); returns
 * the wait status and leaves what the child printed in child_err. */
static int in_child(void (*fn)(void *), void *arg)
{
	int fd[2];
	assert_int_equal(pipe(fd), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit no_core = { 0, 0 };
		setrlimit(RLIMIT_CORE, &no_core);
		close(fd[0]);
		dup2(fd[1], 2);
		fn(arg);
		_exit(0);
	}
	close(fd[1]);
	size_t len = 0;
	ssize_t r;
	while (len < sizeof(child_err) - 1 && (r = read(fd[0], child_err + len, sizeof(child_err) - 1 - len)) > 0)
		len += (size_t)r;
	child_err[len] = '\0';
	close(fd[0]);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

#endif
