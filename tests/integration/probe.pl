#!/usr/bin/perl
# probe.pl - scripted SMTP/IMAP/POP3 dialog for the integration tests (perl-base only).
#
#   probe.pl [--bind ADDR] [--tls plain|implicit|starttls] smtp|imap|pop3 HOST PORT [CMD...]
#
# Prints a transcript: "S: line" for every server line, "C: cmd" for every command.
# plain: a TCP socket (optionally bound to ADDR, e.g. 127.0.0.2: Dovecot treats a
# connection whose source equals its destination address as secure).
# implicit / starttls: the host's "openssl s_client -quiet" does the TLS; with starttls it
# also does the protocol's STARTTLS step, so no greeting is read afterwards.
# "\n" inside a CMD is sent as CRLF (for a DATA body ending in "\n.").
use strict;
use warnings;
use IO::Socket::INET;
use IPC::Open3;
use Symbol 'gensym';

my ($bind, $tls) = ('', 'plain');
while (@ARGV && $ARGV[0] =~ /^--/) {
	my $opt = shift @ARGV;
	if ($opt eq '--bind') { $bind = shift @ARGV; }
	elsif ($opt eq '--tls') { $tls = shift @ARGV; }
	else { die "unknown option $opt\n"; }
}
my ($proto, $host, $port, @cmds) = @ARGV;
die "usage: probe.pl [--bind ADDR] [--tls MODE] smtp|imap|pop3 HOST PORT [CMD...]\n"
	unless defined $port && $proto =~ /^(smtp|imap|pop3)$/;

$SIG{ALRM} = sub { print "TIMEOUT\n"; exit 2; };
alarm 20;
$| = 1;

my ($in, $out, $pid, $err);
if ($tls eq 'plain') {
	my %o = (PeerAddr => $host, PeerPort => $port, Proto => 'tcp', Timeout => 10);
	$o{LocalAddr} = $bind if $bind;
	my $s = IO::Socket::INET->new(%o) or do { print "CONNECT FAILED: $!\n"; exit 3; };
	$s->autoflush(1);
	($in, $out) = ($s, $s);
} else {
	my @cmd = ('openssl', 's_client', '-quiet', '-connect', "$host:$port");
	push @cmd, '-bind', "$bind:0" if $bind;
	push @cmd, '-starttls', $proto if $tls eq 'starttls';
	$err = gensym;
	$pid = open3(my $w, my $r, $err, @cmd);
	$w->autoflush(1);
	($in, $out) = ($r, $w);
}

sub server_line {
	my $l = <$in>;
	if (!defined $l) { print "S: <EOF>\n"; return undef; }
	$l =~ s/\r?\n\z//;
	print "S: $l\n";
	return $l;
}

# One complete response for the protocol; returns 0 on EOF.
sub response {
	my ($cmd) = @_;
	my $l;
	if ($proto eq 'smtp') {
		do { $l = server_line() // return 0 } while ($l =~ /^\d{3}-/);
	} elsif ($proto eq 'imap') {
		my $tag = defined $cmd ? (split / /, $cmd)[0] : '*';
		if (!defined $cmd) { server_line() // return 0; return 1; }
		do { $l = server_line() // return 0 } until ($l =~ /^\Q$tag\E /);
	} else {
		$l = server_line() // return 0;
		my $multi = defined $cmd && $cmd =~ /^(CAPA|UIDL|LIST|RETR|TOP)\b/i
			&& $cmd !~ /^(LIST|UIDL) \S/i;
		if ($multi && $l =~ /^\+OK/) {
			do { $l = server_line() // return 0 } until ($l eq '.');
		}
	}
	return 1;
}

my $alive = ($tls eq 'starttls') ? 1 : response(undef);
for my $c (@cmds) {
	last unless $alive;
	(my $wire = $c) =~ s/\\n/\r\n/g;
	print "C: $c\n";
	print $out "$wire\r\n";
	$alive = response($c);
}
close $out;
if ($pid) {
	waitpid($pid, 0);
	my @e = grep { !/^(depth=|verify (error|return)|DONE|RENEGOTIATING|read R BLOCK|Can't use SSL_get_servername|\d{3}[- ]|[.*] )/ } <$err>;
	print map { "E: $_" } @e;
}
exit 0;
