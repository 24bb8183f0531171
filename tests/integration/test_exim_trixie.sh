#!/bin/bash
# test_exim_trixie.sh - mailharden against Debian 13's real Exim 4.98 (GnuTLS 3.8), where
# tls_advertise_hosts moved out of Debian's MAIN_TLS_ENABLE block: every profile checked
# with exim -bV and gnutls-cli on the split layout, the same blocks on the non-split one,
# intermediate live on both on the real ports of a private network namespace.
# Needs root; MH_BIN = mailharden binary.  See exim.sh.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/lib.sh"
. "$HERE/servers.sh"
. "$HERE/exim.sh"

private_net trixie-exim "$@"
mh_init trixie-exim
EX_T0=$SECONDS
ex_setup
ex_layout split full heavy
ex_layout non-split same heavy
