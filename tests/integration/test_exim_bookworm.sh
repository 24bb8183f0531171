#!/bin/bash
# test_exim_bookworm.sh - mailharden against Debian 12's real Exim 4.96 (GnuTLS):
# every profile checked with exim -bV (heavy and light) and gnutls-cli on the non-split
# layout, the same blocks on the split layout; intermediate live on both (heavy daemon
# non-split, light daemon split) on the real ports of a private network namespace;
# detect on a fresh install; bad input changes nothing; a hand-written exim4.conf.
# Needs root; MH_BIN = mailharden binary.  See exim.sh.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
. "$HERE/servers.sh"
. "$HERE/exim.sh"

private_net bookworm-exim "$@"
mh_init bookworm-exim
EX_T0=$SECONDS
ex_setup
ex_detect
ex_phase "setup and detect"
ex_bad_input
ex_phase "bad input"
ex_layout non-split full heavy
ex_layout split same light
ex_handwritten
ex_phase "hand-written"
