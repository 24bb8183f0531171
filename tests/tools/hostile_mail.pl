#!/usr/bin/perl
# hostile_mail.pl MODE PORT - a deliberately broken SMTP server on 127.0.0.1:PORT for the
# selftest tests (perl-base only).  Serves connections until killed.
#
#   421       greets with "421 4.7.0 too many connections" and closes (rate limit)
#   tarpit    accepts and never says anything
#   garbage   sends binary garbage without a line end, then waits
#   longline  sends a 1 MB line, then waits
#   endless   sends "250-" continuation lines forever after EHLO
#   slow      sends the greeting one byte per second (a trickling tarpit)
#   alert     normal dialogue up to STARTTLS, then answers the ClientHello with a
#             fatal TLS alert (handshake_failure) mid-handshake
#   notls     normal dialogue, no STARTTLS advertised
use strict;
use warnings;
use IO::Socket::INET;

my ($mode, $port) = @ARGV;
die "usage: hostile_mail.pl MODE PORT\n" unless defined $port;
$SIG{PIPE} = 'IGNORE';
my %kids;
$SIG{CHLD} = sub { while ((my $k = waitpid(-1, 1)) > 0) { delete $kids{$k}; } };
# the children are ours: stop them with us
$SIG{TERM} = $SIG{INT} = sub { kill 'TERM', keys %kids; exit 0; };
my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port, Listen => 64,
	ReuseAddr => 1, Proto => 'tcp') or die "listen: $!\n";
$| = 1;
print "ready\n";

sub readline_crlf {
	my ($c) = @_;
	my $line = '';
	while (1) {
		my $n = sysread($c, my $ch, 1);
		return undef unless $n;
		$line .= $ch;
		return $line if $ch eq "\n";
		return $line if length($line) > 4096;
	}
}

sub dialogue {
	my ($c, $starttls) = @_;
	syswrite($c, "220 hostile.test ESMTP\r\n");
	while (defined(my $l = readline_crlf($c))) {
		if ($l =~ /^EHLO/i) {
			if ($mode eq 'endless') {
				syswrite($c, "250-hostile.test\r\n");
				while (1) { syswrite($c, "250-PIPELINING " . ('x' x 60) . "\r\n") or return; }
			}
			syswrite($c, "250-hostile.test\r\n" . ($starttls ? "250-STARTTLS\r\n" : "") . "250 8BITMIME\r\n");
		} elsif ($l =~ /^STARTTLS/i) {
			syswrite($c, "220 2.0.0 go ahead\r\n");
			my $n = sysread($c, my $hello, 16384);
			# record: alert(21), TLS 1.2, length 2, fatal(2), handshake_failure(40)
			syswrite($c, "\x15\x03\x03\x00\x02\x02\x28") if $n;
			return;
		} elsif ($l =~ /^QUIT/i) {
			syswrite($c, "221 bye\r\n");
			return;
		} else {
			syswrite($c, "250 ok\r\n");
		}
	}
}

while (1) {
	my $c = $srv->accept or next;
	my $pid = fork;
	next if !defined $pid;
	if ($pid) { $kids{$pid} = 1; close $c; next; }
	$SIG{TERM} = 'DEFAULT';
	close $srv;
	if ($mode eq '421') {
		syswrite($c, "421 4.7.0 hostile.test too many connections, try later\r\n");
	} elsif ($mode eq 'tarpit') {
		sleep 3600;
	} elsif ($mode eq 'garbage') {
		syswrite($c, join('', map { chr(int(rand(256))) } 1 .. 20000)) while 1;
	} elsif ($mode eq 'longline') {
		syswrite($c, '220 ' . ('A' x (1024 * 1024)) . "\r\n");
		sleep 3600;
	} elsif ($mode eq 'slow') {
		for my $ch (split //, "220 hostile.test slowly\r\n") { syswrite($c, $ch) or last; sleep 1; }
		sleep 3600;
	} elsif ($mode eq 'alert' || $mode eq 'endless') {
		dialogue($c, 1);
	} elsif ($mode eq 'notls') {
		dialogue($c, 0);
	}
	exit 0;
}
