#!/usr/bin/env bats
# The chapter manifests (chapters/*/CHAPTER): every exercise has its file,
# its lesson pointer and one to three hints, and every lesson section they
# name exists, so no pointer sends a learner to a heading that is not there.

load helpers/common

# The "quoted" section names in TEXT, one per line.
sections_named() {
	printf '%s\n' "$1" | grep -o '"[^"]*"' | tr -d '"'
}

# The README the TEXT points at (chapters/NN-name/README.md), or none.
readme_named() {
	printf '%s\n' "$1" | grep -o 'chapters/[0-9][0-9]-[a-z0-9-]*/README\.md' | head -n 1
}

@test "manifest: every exercise has a skeleton, a solution, a lesson pointer and one to three hints" {
	local id ch file title n
	while IFS=$'\t' read -r id ch file title; do
		[ -f "$WB_ROOT/solutions/$ch/$file" ] || flunk "$id: no solutions/$ch/$file"
		[ -f "$WB_ROOT/exercises/$ch/$file" ] || flunk "$id: no exercises/$ch/$file"
		[ -n "$title" ] || flunk "$id: no title"
		[ -n "$(manifest lesson "$id")" ] || flunk "$id: no lesson line"
		n=$(hints "$id" | grep -c .)
		[ "$n" -ge 1 ] && [ "$n" -le 3 ] || flunk "$id: $n hints; a learner gets one to three"
	done < <(exercises)
}

@test "manifest: every lesson section a hint or a lesson line names is a heading of that README" {
	local id text readme section checked=0
	while IFS=$'\t' read -r id _; do
		while IFS= read -r text; do
			readme=$(readme_named "$text")
			[ -n "$readme" ] || continue
			[ -f "$WB_ROOT/$readme" ] || flunk "$id points at $readme, which does not exist"
			while IFS= read -r section; do
				[ -n "$section" ] || continue
				grep -qxF "## $section" "$WB_ROOT/$readme" ||
					flunk "$id names the section \"$section\", which $readme does not have"
				checked=$((checked + 1))
			done < <(sections_named "$text")
		done < <(manifest lesson "$id"; hints "$id")
	done < <(exercises)
	[ "$checked" -gt 0 ] || flunk "no section was named at all: the check read nothing"
}

# The .bats files marked "# tsan: no threads" are left out of the suite under
# ThreadSanitizer (tests/run).  The mark must stay true: no program such a
# file names may start a thread itself (pthread_create) or through a
# library call that does (chapter 01's executor, run_in_executor).
@test "tsan: a file marked 'no threads' names no program whose source starts a thread" {
	local f word src bad=()
	for f in "$WB_ROOT"/tests/*.bats; do
		grep -q '^# tsan: no threads' "$f" || continue
		for word in $(grep -v '^#' "$f" | grep -o '[a-z_][a-z0-9_]*' | sort -u); do
			for src in "$WB_ROOT"/chapters/*/"$word".c "$WB_ROOT"/tests/progs/*/"$word".c \
				"$WB_ROOT"/tests/fixtures/"$word".c; do
				[ -f "$src" ] || continue
				if grep -qE 'pthread_create|executor_new|co_run_in_executor' "$src"; then
					bad+=("${f##*/}: ${src#"$WB_ROOT"/}")
				fi
			done
		done
	done
	[ ${#bad[@]} -eq 0 ] || flunk "marked '# tsan: no threads' but runs a program that starts threads:" "${bad[@]}"
}
