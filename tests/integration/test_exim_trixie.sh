#!/bin/bash
# test_exim_trixie.sh - mailharden against Debian 13's real Exim 4.98 (GnuTLS 3.8), where
# tls_advertise_hosts moved out of Debian's MAIN_TLS_ENABLE block: both layouts, every
# profile checked with exim -bV and gnutls-cli, intermediate live on loopback high ports.
# Needs root; MH_BIN = mailharden binary.  See exim.sh.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
. "$HERE/servers.sh"
. "$HERE/exim.sh"

mh_init trixie-exim
set_ports "${MH_PORT_BASE_EXIM_TRIXIE:-28000}"
ex_setup
ex_layout non-split /usr/sbin/exim4 "exim4-daemon-heavy"
ex_layout split /usr/sbin/exim4 "exim4-daemon-heavy"
