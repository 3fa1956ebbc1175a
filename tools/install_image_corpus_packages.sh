#!/bin/sh
# Install the Debian packages that tools/build_image_caption_corpus.py reads
# (keep the list in sync with PACKAGES there; a unit test checks it).
set -eu

PACKAGES="openclipart-svg openclipart-png tuxpaint-stamps-default"

# shellcheck disable=SC2086
exec sh "$(dirname "$0")/apt_install.sh" $PACKAGES
