#!/bin/sh
# Install the Debian packages that tools/build_demo_corpus.py reads
# (keep the list in sync with PACKAGES there; a unit test checks it).
set -eu

PACKAGES="python3-doc debian-handbook fortunes fortunes-min fortunes-de fortunes-es fortunes-it fortunes-pl fortunes-ru libpython3-stdlib"

# shellcheck disable=SC2086
exec sh "$(dirname "$0")/apt_install.sh" $PACKAGES
