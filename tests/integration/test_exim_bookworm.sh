#!/bin/bash
# test_exim_bookworm.sh - mailharden against Debian 12's real Exim 4.96 (GnuTLS):
# exim4-daemon-heavy on the non-split layout, exim4-daemon-light (unpacked beside it) on
# the split layout; every profile checked with exim -bV and gnutls-cli, intermediate live
# on loopback high ports; detect on a fresh install; bad input changes nothing.
# Needs root; MH_BIN = mailharden binary.  See exim.sh.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
. "$HERE/servers.sh"
. "$HERE/exim.sh"

mh_init bookworm-exim
set_ports "${MH_PORT_BASE_EXIM_BOOKWORM:-30000}"
ex_setup
ex_detect
ex_bad_input
ex_layout non-split /usr/sbin/exim4 "exim4-daemon-heavy"
ex_layout split "$EXIM_LIGHT" "exim4-daemon-light"
ex_handwritten
