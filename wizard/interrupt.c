/*
 * interrupt.c - Ctrl-C while the wizard runs.  The default action would
 * leave the terminal in curses mode with the screen half drawn and say
 * nothing; here the front end gives the terminal back, the user is told
 * whether anything was written, and the program exits 128 + signal.
 *
 * While a transaction writes, the signals are blocked (fe_interrupt_hold)
 * and arrive once it is complete, with the note already saying what was
 * written and how to undo it.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "frontend.h"

void (*fe_interrupt_restore)(void);

static char note_buf[2048];
static const int signals[] = {SIGINT, SIGTERM, SIGHUP};

static void say(const char *s)
{
	size_t len = strlen(s);

	while (len > 0) {
		ssize_t n = write(STDERR_FILENO, s, len);

		if (n <= 0)
			return;
		s += n;
		len -= (size_t)n;
	}
}

static void on_signal(int sig)
{
	if (fe_interrupt_restore)
		fe_interrupt_restore();
	say("\n");
	say(note_buf);
	say("\n");
	_exit(128 + sig);
}

static void block(bool on, sigset_t *old)
{
	sigset_t set;

	sigemptyset(&set);
	for (size_t i = 0; i < ARRAY_LEN(signals); i++)
		sigaddset(&set, signals[i]);
	sigprocmask(on ? SIG_BLOCK : SIG_SETMASK, on ? &set : old, on ? old : NULL);
}

void fe_interrupt_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigfillset(&sa.sa_mask);
	for (size_t i = 0; i < ARRAY_LEN(signals); i++)
		sigaction(signals[i], &sa, NULL);
}

void fe_interrupt_note(const char *note)
{
	sigset_t old;

	block(true, &old);
	snprintf(note_buf, sizeof(note_buf), "%s", note ? note : "");
	block(false, &old);
}

void fe_interrupt_hold(bool hold)
{
	static sigset_t before;
	static bool held;

	if (hold && !held) {
		block(true, &before);
		held = true;
	} else if (!hold && held) {
		held = false;
		block(false, &before); /* a signal that came meanwhile arrives now */
	}
}
