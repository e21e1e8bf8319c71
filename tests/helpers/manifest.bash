# shellcheck shell=bash
# manifest.bash - the one reader of the chapter manifests (chapters/*/CHAPTER),
# sourced by tests/run and by every .bats file through common.bash, so that an
# exercise's file, hint and lesson pointer are written once, in its manifest.
#
# Expects WB_ROOT, the top of the workbook.

# manifest KEY ID: the text of the manifest line "KEY<TAB>ID<TAB>TEXT".
manifest() {
	awk -F'\t' -v k="$1" -v id="$2" '$1 == k && $2 == id { print $3; exit }' \
		"$WB_ROOT"/chapters/*/CHAPTER
}

# hints ID: exercise ID's hints, one per line, from the nudge to the
# near-solution (a manifest holds up to three "hint" lines per exercise).
hints() {
	awk -F'\t' -v id="$1" '$1 == "hint" && $2 == id { print $3 }' \
		"$WB_ROOT"/chapters/*/CHAPTER
}

# exercises: one line per exercise, "ID<TAB>CHAPTER<TAB>FILE<TAB>TITLE".
exercises() {
	awk -F'\t' '$1 == "exercise" { n = split(FILENAME, p, "/");
		print $2 "\t" p[n - 1] "\t" $3 "\t" $4 }' "$WB_ROOT"/chapters/*/CHAPTER
}

# exercise_where ID: "read LESSON; edit the TODO(ID) parts of exercises/CH/FILE".
exercise_where() {
	local id=$1 ch file
	IFS=$'\t' read -r _ ch file _ < <(exercises | awk -F'\t' -v id="$id" '$1 == id')
	[ -n "${file:-}" ] || return 0
	printf 'read %s; edit the TODO(%s) parts of exercises/%s/%s\n' \
		"$(manifest lesson "$id")" "$id" "$ch" "$file"
}
