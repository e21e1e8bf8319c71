#!/usr/bin/env bash
# skels.sh - the maintainers' `make skels`: copy the skeletons generated from
# solutions/ (build/skel-src/, made by mkskel.awk) into exercises/, without
# ever destroying a learner's work.
#
#   tests/helpers/skels.sh [--force]
#
# An exercise file is overwritten only when it is missing, already the new
# skeleton, or still byte for byte the skeleton that was shipped: its
# checksum is the one tests/skeletons.sha256 records.  Any other file holds
# someone's edits; it is left as it is, named on one line, and the run fails
# at the end.  --force (FORCE=1 make skels) overwrites those too.
#
# The record is then rewritten from the new skeletons, so that it always
# describes what exercises/ ships; tests/run sync proves it is current.
set -u
cd "$(dirname "$0")/../.." || exit 2

RECORD=tests/skeletons.sha256
force=0
case ${1:-} in
"") ;;
--force) force=1 ;;
*)
	echo "usage: tests/helpers/skels.sh [--force]" >&2
	exit 2
	;;
esac
[ $# -le 1 ] || {
	echo "usage: tests/helpers/skels.sh [--force]" >&2
	exit 2
}

export WB_ROOT=$PWD	# manifest.bash reads the manifests from here
# shellcheck source=tests/helpers/manifest.bash
. tests/helpers/manifest.bash

# recorded PATH: the checksum the record holds for exercises/PATH, if any.
recorded() {
	[ -f "$RECORD" ] || return 0
	awk -v p="exercises/$1" '$2 == p { print $1; exit }' "$RECORD"
}

checksum() {
	sha256sum <"$1" | cut -d' ' -f1
}

# The exercise whose file is CH/FILE, for the message that points at reset.
exercise_of() {
	exercises | awk -F'\t' -v f="$1" '$2 "/" $3 == f { print $1; exit }'
}

kept=0
updated=0
for sol in solutions/*/*.c; do
	[ -e "$sol" ] || continue
	rel=${sol#solutions/}
	skel=build/skel-src/$rel
	ex=exercises/$rel
	if [ ! -f "$skel" ]; then
		echo "make skels: $skel was not generated (run it as make skels)" >&2
		exit 1
	fi
	if [ -e "$ex" ]; then
		cmp -s "$ex" "$skel" && continue
		if [ "$force" -eq 0 ] && [ "$(checksum "$ex")" != "$(recorded "$rel")" ]; then
			id=$(exercise_of "$rel")
			echo "make skels: $ex holds your edits; left as it is${id:+" (build/workbook reset $id restores its skeleton and keeps your version)"}"
			kept=$((kept + 1))
			continue
		fi
	fi
	mkdir -p "$(dirname "$ex")" && cp "$skel" "$ex" || exit 1
	updated=$((updated + 1))
done

# The record names the exercise path each skeleton ships as, so that
# `sha256sum -c tests/skeletons.sha256` also tells which files are pristine.
tmp=$(mktemp "$RECORD.XXXXXX") || exit 1
trap 'rm -f "$tmp"' EXIT
for skel in build/skel-src/*/*.c; do
	rel=${skel#build/skel-src/}
	[ -e "solutions/$rel" ] || continue
	printf '%s  exercises/%s\n' "$(checksum "$skel")" "$rel"
done | LC_ALL=C sort -k2 >"$tmp" || exit 1
if cmp -s "$tmp" "$RECORD"; then
	rm -f "$tmp"
else
	chmod 644 "$tmp" && mv "$tmp" "$RECORD" || exit 1
	echo "make skels: $RECORD records the new skeletons"
fi

if [ "$kept" -gt 0 ]; then
	echo "make skels: $updated exercise file(s) written; $kept with edits left as they are"
	exit 1
fi
echo "make skels: $updated exercise file(s) written from solutions/"
